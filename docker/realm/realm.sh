#!/usr/bin/env bash
# The aurora-krb test realm: an MIT Kerberos KDC and a PostgreSQL server configured like
# Amazon Aurora PostgreSQL behind AWS Managed Microsoft AD.
#
# This one script is the realm's only definition. The Rust crate aurora-krb-realm embeds it
# and runs it for the tests and for `aurora-krb realm`; the docker images copy it and run
# it in their containers. Keep the realm's logic here, not in a second place.
#
# Usage: realm.sh COMMAND          (settings come from the environment, see below)
#   init        provision everything: KDC database, principals, keytabs, CA and server
#               certificate, PostgreSQL cluster and roles (init-kdc, init-tls, init-pg)
#   init-kdc | init-tls | init-pg   one part of init (the containers split the work)
#   start-kdc | stop-kdc | start-pg | stop-pg   run a service in the background / stop it
#   run-kdc | run-pg                run a service in the foreground (container entry points)
#   down        stop both services
#   status      print which services run
#   env         print the client environment (export lines), also kept in realm.env
#   failover [N]   as Aurora fails over: stop the writer, promote reader instance N (the first
#               running reader when not given), point the other readers at it, and bring
#               the old writer back as a reader (pg_rewind, else a new base backup)
#   start-instance N | stop-instance N   start or stop one PostgreSQL instance (1 = the first)
#   instances   print each instance: number, host name, port, role, running or stopped
#
# Settings:
#   REALM_DIR        the realm's folder (required); everything the realm has lives there
#   REALM            Kerberos realm (CORP.EXAMPLE.COM)
#   DB_HOST          the database host name: the service principal is postgres/DB_HOST and
#                    the server certificate is issued for it (db.example.test)
#   KDC_LISTEN, KDC_PORT   where the KDC listens (127.0.0.1, 8800)
#   PG_LISTEN, PG_PORT     where PostgreSQL listens (127.0.0.1, 5432)
#   CLIENT_KDC       host:port that clients use for the KDC (KDC_LISTEN:KDC_PORT)
#   CLIENT_PG_ADDR, CLIENT_PG_PORT   address and port clients dial (PG_LISTEN, PG_PORT)
#   TICKET_LIFETIME, RENEW_LIFETIME  ticket lifetimes in krb5 duration syntax (10h, 7d)
#   PG_OS_USER       the account PostgreSQL runs as (postgres when run as root; PostgreSQL
#                    refuses to run as root), otherwise the current user
#   CERT_NAMES       space-separated DNS names of the server certificate (DB_HOST)
#   PG_GSS_OPTIONS   options of the pg_hba.conf gss lines (include_realm=1 krb_realm=REALM);
#                    the trust flavour drops krb_realm, which admits one realm only
#   REPLICAS         readers beside the writer (0): hot standbys streaming from it, as the
#                    reader instances of an Aurora cluster. With readers, every instance has
#                    a host name of its own under DB_HOST's domain (for db.example.test:
#                    db-instance-1.example.test, the first writer, then db-instance-2...),
#                    with its service principal in postgres.keytab and its name in the
#                    certificate; realm.env lists them, writer first. MIT flavour only
#   PG_REPLICA_PORTS the readers' ports, space-separated (instance 2 on the first...)
#   FLAVOR           mit (the default), ad or trust: ad hands every command to realm-ad.sh
#                    beside this file, the same realm with a Samba AD domain controller as its
#                    KDC; trust hands it to realm-trust.sh, the same realm plus a second
#                    (on-premises) realm whose users log in across a one-way trust
#   IAM              1: members of rds_iam log in the way Aurora's IAM database
#                    authentication checks them. A `pam` pg_hba line for +rds_iam (before
#                    the gss lines; without TLS they are rejected) names a PAM service of
#                    this realm, /etc/pam.d/aurora-krb-iam-<hash of REALM_DIR> (written at
#                    start, removed at stop: needs root), whose pam_exec verifier checks the
#                    SigV4 token against the realm's test key (secrets/iam.credentials, a
#                    fixed fake key pair): signature, date and expiry, host:port, DBUser and
#                    region. Roles: iam_user (rds_iam), iam_and_ad (rds_iam and rds_ad, which
#                    Aurora forbids: the realm cannot refuse the GRANT, and IAM wins). PAM
#                    passes at most 511 bytes of a password: tokens signed with long-term
#                    keys fit, tokens with a session token (temporary credentials) do not.
#                    MIT flavour; needs python3, libpam-modules (pam_exec) and a PostgreSQL
#                    built with PAM (Debian's is)
#   IAM_REGION       the region tokens must be signed for (us-east-1)
set -euo pipefail

: "${REALM_DIR:?REALM_DIR must name the realm folder}"
REALM=${REALM:-CORP.EXAMPLE.COM}
DB_HOST=${DB_HOST:-db.example.test}
KDC_LISTEN=${KDC_LISTEN:-127.0.0.1}
KDC_PORT=${KDC_PORT:-8800}
PG_LISTEN=${PG_LISTEN:-127.0.0.1}
PG_PORT=${PG_PORT:-5432}
CLIENT_KDC=${CLIENT_KDC:-$KDC_LISTEN:$KDC_PORT}
CLIENT_PG_ADDR=${CLIENT_PG_ADDR:-$PG_LISTEN}
CLIENT_PG_PORT=${CLIENT_PG_PORT:-$PG_PORT}
TICKET_LIFETIME=${TICKET_LIFETIME:-10h}
RENEW_LIFETIME=${RENEW_LIFETIME:-7d}
CERT_NAMES=${CERT_NAMES:-$DB_HOST}
PG_GSS_OPTIONS=${PG_GSS_OPTIONS:-include_realm=1 krb_realm=$REALM}
if [ "$(id -u)" = 0 ]; then PG_OS_USER=${PG_OS_USER:-postgres}; else PG_OS_USER=$(id -un); fi
REPLICAS=${REPLICAS:-0}
PG_REPLICA_PORTS=${PG_REPLICA_PORTS:-}
IAM=${IAM:-0}
IAM_REGION=${IAM_REGION:-us-east-1}
# The realm's IAM test key: AWS's documentation example pair, fake and public on purpose.
IAM_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
IAM_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

D=$REALM_DIR
KDC_DIR=$D/kdc
PGDATA=$D/pgdata
REALM_DOMAIN=$(printf '%s' "$REALM" | tr '[:upper:]' '[:lower:]')
# Users of the realm: name and what they stand for on Aurora.
#   alice    an AD user with a database role granted rds_ad (logs in with a password)
#   app-svc  a service account that logs in with a client keytab
#   bob      an AD user without a database role
#   carol    an AD user whose database role is not granted rds_ad
USERS="alice app-svc bob carol"

# The realm never reads the machine's krb5.conf: it names real KDCs on the internet.
export KRB5_CONFIG=$D/krb5.conf
export KRB5_KDC_PROFILE=$KDC_DIR/kdc.conf

die() { echo "realm.sh: $*" >&2; exit 1; }

# The PostgreSQL instances: 1 is the first writer, 2.. the readers it was made with. Which one
# writes now is kept in $D/writer (Aurora's roles move; its instances do not).
instance_count() { echo $((REPLICAS + 1)); }
instance_dir() { if [ "$1" = 1 ]; then echo "$PGDATA"; else echo "$D/pgdata-$1"; fi; }
instance_log() { if [ "$1" = 1 ]; then echo "$D/pg.log"; else echo "$D/pg-$1.log"; fi; }
instance_port() {
    if [ "$1" = 1 ]; then echo "$PG_PORT"; return; fi
    local ports
    read -r -a ports <<< "$PG_REPLICA_PORTS"
    [ -n "${ports[$(($1 - 2))]:-}" ] || die "no port for instance $1: PG_REPLICA_PORTS has ${#ports[@]} for $REPLICAS readers"
    echo "${ports[$(($1 - 2))]}"
}
# An instance's host name: its own with readers (Aurora's instance endpoints), else DB_HOST.
instance_host() {
    if [ "$REPLICAS" = 0 ]; then echo "$DB_HOST"; return; fi
    case "$DB_HOST" in
        *.*) echo "${DB_HOST%%.*}-instance-$1.${DB_HOST#*.}" ;;
        *)   echo "$DB_HOST-instance-$1" ;;
    esac
}
instance_hosts() { local i; for i in $(seq "$(instance_count)"); do instance_host "$i"; done; }
writer() { if [ -s "$D/writer" ]; then cat "$D/writer"; else echo 1; fi; }

pg_bin() {
    local b
    for b in /usr/lib/postgresql/*/bin; do [ -x "$b/postgres" ] && { echo "$b"; return; }; done
    die "PostgreSQL server binaries not found: install Debian's postgresql package"
}

# Runs a command as the account PostgreSQL runs as.
as_pg() {
    if [ "$(id -u)" = 0 ] && [ "$PG_OS_USER" != root ]; then
        setpriv --reuid="$PG_OS_USER" --regid="$PG_OS_USER" --init-groups -- "$@"
    else
        "$@"
    fi
}

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found: install $2"; }

write_krb5_conf() {
    # DNS lookups, canonicalization and reverse lookups off: nothing leaves loopback, and
    # the service principal is formed from the host exactly as the client typed it.
    cat > "$D/krb5.conf" <<EOF
[libdefaults]
    default_realm = $REALM
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    ticket_lifetime = $TICKET_LIFETIME
    renew_lifetime = $RENEW_LIFETIME
    udp_preference_limit = 1
    default_ccache_name = FILE:$D/ccache

[realms]
    $REALM = {
        kdc = $CLIENT_KDC
    }

[domain_realm]
    .${DB_HOST#*.} = $REALM
    $DB_HOST = $REALM
    .$REALM_DOMAIN = $REALM
EOF
}

init_kdc() {
    need kdb5_util "Debian's krb5-kdc and krb5-admin-server"
    need kadmin.local "Debian's krb5-admin-server"
    mkdir -p "$KDC_DIR"
    write_krb5_conf
    cat > "$KDC_DIR/kdc.conf" <<EOF
[kdcdefaults]
    kdc_ports = $KDC_PORT
    kdc_tcp_ports = $KDC_PORT

[realms]
    $REALM = {
        database_name = $KDC_DIR/principal
        key_stash_file = $KDC_DIR/stash
        acl_file = $KDC_DIR/kadm5.acl
        kdc_listen = $KDC_LISTEN:$KDC_PORT
        kdc_tcp_listen = $KDC_LISTEN:$KDC_PORT
        max_life = $TICKET_LIFETIME
        max_renewable_life = $RENEW_LIFETIME
    }

[logging]
    kdc = FILE:$KDC_DIR/kdc.log
    admin_server = FILE:$KDC_DIR/kadmin.log
    default = FILE:$KDC_DIR/krb5lib.log
EOF
    : > "$KDC_DIR/kadm5.acl"
    # The master key protects the database at rest; this realm is throw-away, so a random
    # one kept only in the stash file is enough.
    kdb5_util create -s -W -r "$REALM" -P "$(openssl rand -hex 16)" >/dev/null
    mkdir -p "$D/secrets"
    chmod 700 "$D/secrets"
    local cmds="" u
    for u in alice bob carol; do
        openssl rand -hex 12 > "$D/secrets/$u.password"
        chmod 600 "$D/secrets/$u.password"
        cmds+="addprinc -maxlife $TICKET_LIFETIME -maxrenewlife $RENEW_LIFETIME -pw $(cat "$D/secrets/$u.password") $u"$'\n'
    done
    cmds+="addprinc -maxlife $TICKET_LIFETIME -maxrenewlife $RENEW_LIFETIME -randkey app-svc"$'\n'
    cmds+="ktadd -k $D/app-svc.keytab app-svc"$'\n'
    cmds+="addprinc -randkey postgres/$DB_HOST"$'\n'
    cmds+="ktadd -k $D/postgres.keytab postgres/$DB_HOST"$'\n'
    # With readers, each instance has its own name (and principal), in the one keytab that
    # all instances read.
    if [ "$REPLICAS" != 0 ]; then
        local h
        for h in $(instance_hosts); do
            cmds+="addprinc -randkey postgres/$h"$'\n'
            cmds+="ktadd -k $D/postgres.keytab postgres/$h"$'\n'
        done
    fi
    cmds+="modprinc -maxlife $TICKET_LIFETIME -maxrenewlife $RENEW_LIFETIME krbtgt/$REALM"$'\n'
    # kadmin.local echoes its input; the passwords must not reach the output.
    printf '%s' "$cmds" | kadmin.local -r "$REALM" >"$KDC_DIR/provision.log" 2>&1 \
        || { grep -v -- '-pw' "$KDC_DIR/provision.log" >&2; die "kadmin.local failed"; }
    sed -i 's/-pw [^ ]*/-pw ********/' "$KDC_DIR/provision.log"
    chmod 600 "$D/app-svc.keytab" "$D/postgres.keytab"
}

init_tls() {
    need openssl "Debian's openssl"
    local names="" n i=1 all=$CERT_NAMES
    # One certificate for every instance, as Aurora's covers all its endpoints.
    [ "$REPLICAS" = 0 ] || all+=" $(instance_hosts | tr '\n' ' ')"
    for n in $all; do names+="${names:+,}DNS:$n"; done
    openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
        -subj "/O=aurora-krb test realm/CN=aurora-krb test CA" \
        -keyout "$D/secrets/ca.key" -out "$D/ca.crt" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=${CERT_NAMES%% *}" -keyout "$D/server.key" -out "$D/server.csr" 2>/dev/null
    printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$names" \
        > "$D/server.ext"
    openssl x509 -req -in "$D/server.csr" -CA "$D/ca.crt" -CAkey "$D/secrets/ca.key" \
        -CAcreateserial -days 825 -extfile "$D/server.ext" -out "$D/server.crt" 2>/dev/null
    rm -f "$D/server.csr" "$D/server.ext" "$D/ca.srl"
    chmod 600 "$D/server.key" "$D/secrets/ca.key"
    : "$i"
}

init_pg() {
    local bin
    bin=$(pg_bin)
    [ -f "$D/postgres.keytab" ] || die "postgres.keytab missing: run init-kdc first"
    [ -f "$D/server.crt" ] || die "server.crt missing: run init-tls first"
    mkdir -p "$D/run"
    if [ "$(id -u)" = 0 ] && [ "$PG_OS_USER" != root ]; then
        # PostgreSQL runs as its own account: it must reach its files and nothing else.
        chmod 755 "$D"
        chown "$PG_OS_USER:" "$D/run" "$D/server.key" "$D/postgres.keytab"
        touch "$D/pg.log" && chown "$PG_OS_USER:" "$D/pg.log"
        install -d -o "$PG_OS_USER" -m 700 "$PGDATA"
    fi
    as_pg "$bin/initdb" -D "$PGDATA" -U postgres -A trust -E UTF8 --locale=C --no-sync >/dev/null
    cat >> "$PGDATA/postgresql.conf" <<EOF
# aurora-krb test realm: shaped like Aurora PostgreSQL behind AWS Managed Microsoft AD
listen_addresses = '$PG_LISTEN'
port = $PG_PORT
unix_socket_directories = '$D/run'
ssl = on
ssl_cert_file = '$D/server.crt'
ssl_key_file = '$D/server.key'
krb_server_keyfile = 'FILE:$D/postgres.keytab'
password_encryption = scram-sha-256
max_connections = 200
shared_buffers = 32MB
fsync = off
synchronous_commit = off
full_page_writes = off
log_connections = on
log_line_prefix = '%m [%p] %q%u@%d '
# Failovers: pg_rewind needs hint bits in the WAL.
wal_log_hints = on
EOF
    # ... and full page writes on the writer it rewinds from.
    [ "$REPLICAS" = 0 ] || echo "full_page_writes = on" >> "$PGDATA/postgresql.conf"
    # PostgreSQL 16 and later keep the credentials a client delegates (libpq's
    # gssdelegation=1) only when told to; the realm takes them, so that delegation shows.
    [ "$(cat "$PGDATA/PG_VERSION")" -lt 16 ] || echo "gss_accept_delegation = on" >> "$PGDATA/postgresql.conf"
    # What differs between instances (port, the writer to stream from) lives in each data
    # folder's instance.conf; pg_basebackup and pg_rewind copy the writer's, so it is written
    # after them.
    echo "include_if_exists = 'instance.conf'" >> "$PGDATA/postgresql.conf"
    write_instance_conf 1 ""
    local iam_hba=""
    if iam_on; then
        init_iam
        # Aurora's IAM rule comes first: a role in rds_iam logs in with a token, over TLS only.
        iam_hba="hostssl   all  +rds_iam  all  pam pamservice=$(iam_pam_service)
hostnossl all  +rds_iam  all  reject"
    fi
    # Aurora's rule: members of rds_ad log in with Kerberos; everyone else falls through to
    # password authentication (scram), which is what a role outside rds_ad meets on Aurora.
    cat > "$PGDATA/pg_hba.conf" <<EOF
# The realm's administrator, over the realm's private socket only; readers stream from the
# writer there too.
local     all  postgres  trust
local     replication  postgres  trust
${iam_hba}
hostssl   all  +rds_ad   all  gss $PG_GSS_OPTIONS
hostgssenc all +rds_ad   all  gss $PG_GSS_OPTIONS
host      all  all       all  scram-sha-256
EOF
    start_instance 1
    as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$D/run" -p "$PG_PORT" -U postgres -d postgres <<EOF
CREATE ROLE rds_ad NOLOGIN;
CREATE ROLE rds_iam NOLOGIN;
CREATE ROLE rds_superuser NOLOGIN;
CREATE ROLE "alice@$REALM" LOGIN IN ROLE rds_ad;
CREATE ROLE "app-svc@$REALM" LOGIN IN ROLE rds_ad;
CREATE ROLE "carol@$REALM" LOGIN;
EOF
    if iam_on; then
        as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$D/run" -p "$PG_PORT" -U postgres -d postgres <<EOF
CREATE ROLE iam_user LOGIN IN ROLE rds_iam;
CREATE ROLE iam_and_ad LOGIN IN ROLE rds_iam, rds_ad;
EOF
    fi
    echo 1 > "$D/writer"
    local i
    for i in $(seq 2 "$(instance_count)"); do init_reader "$i"; done
}

# write_instance_conf N WRITER: instance N's own settings; with WRITER, N is a reader that
# streams from instance WRITER as a hot standby.
write_instance_conf() {
    local dir conf
    dir=$(instance_dir "$1")
    conf="port = $(instance_port "$1")"
    if [ -n "$2" ]; then
        conf+=$'\n'"primary_conninfo = 'host=$D/run port=$(instance_port "$2") user=postgres application_name=$(instance_host "$1")'"
        as_pg touch "$dir/standby.signal"
    else
        rm -f "$dir/standby.signal"
    fi
    printf '%s\n' "$conf" | as_pg tee "$dir/instance.conf" >/dev/null
}

# init_reader N: instance N anew, from a base backup of the writer, started as its hot standby.
init_reader() {
    local bin dir w
    bin=$(pg_bin)
    dir=$(instance_dir "$1")
    w=$(writer)
    rm -rf "$dir"
    if [ "$(id -u)" = 0 ] && [ "$PG_OS_USER" != root ]; then
        install -d -o "$PG_OS_USER" -m 700 "$dir"
        touch "$(instance_log "$1")" && chown "$PG_OS_USER:" "$(instance_log "$1")"
    fi
    as_pg "$bin/pg_basebackup" -h "$D/run" -p "$(instance_port "$w")" -U postgres -D "$dir" \
        -X stream -c fast --no-sync >/dev/null \
        || die "the base backup of instance $1 failed"
    write_instance_conf "$1" "$w"
    start_instance "$1"
}

# IAM database authentication (IAM=1), as Aurora does it: PostgreSQL hands the token to PAM.
# The PAM service is this realm's own (several realms run at once), and is in /etc/pam.d
# only while PostgreSQL runs.
iam_on() { [ "$IAM" = 1 ]; }
iam_pam_service() { echo "aurora-krb-iam-$(printf '%s' "$D" | sha256sum | cut -c1-12)"; }

# Every host:port a token may be signed for: the database host, and each instance's name.
iam_hosts() {
    local hosts="$DB_HOST:$CLIENT_PG_PORT" i
    if [ "$REPLICAS" != 0 ]; then
        for i in $(seq "$(instance_count)"); do hosts+=" $(instance_host "$i"):$(instance_port "$i")"; done
    fi
    echo "$hosts"
}

init_iam() {
    [ "$(id -u)" = 0 ] || die "IAM=1 writes a PAM service to /etc/pam.d: run as root (or without IAM)"
    [ -x /usr/bin/python3 ] || die "IAM=1 needs /usr/bin/python3 for its token verifier: install Debian's python3"
    ls /lib/*/security/pam_exec.so /usr/lib/*/security/pam_exec.so >/dev/null 2>&1 \
        || die "IAM=1 needs pam_exec.so: install Debian's libpam-modules"
    ldd "$(pg_bin)/postgres" | grep -q libpam \
        || die "this PostgreSQL is built without PAM: IAM=1 needs one with it (Debian's is)"
    mkdir -p "$D/secrets" "$D/iam"
    # The client's side: an AWS shared credentials file with the test key.
    printf '[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n' \
        "$IAM_ACCESS_KEY_ID" "$IAM_SECRET_ACCESS_KEY" > "$D/secrets/iam.credentials"
    printf '[default]\nregion = %s\n' "$IAM_REGION" > "$D/iam/aws-config"
    chmod 600 "$D/secrets/iam.credentials"
    # The server's side: the verifier and what it checks, readable by PostgreSQL's account
    # only (pam_exec runs the verifier as the backend's user). Its refusals go to pam.log.
    write_iam_verifier > "$D/iam/verify.py"
    printf 'access_key_id=%s\nsecret_access_key=%s\nregion=%s\nhosts=%s\n' \
        "$IAM_ACCESS_KEY_ID" "$IAM_SECRET_ACCESS_KEY" "$IAM_REGION" "$(iam_hosts)" > "$D/iam/verifier.conf"
    touch "$D/iam/pam.log"
    chmod 600 "$D/iam/verifier.conf"
    chmod 644 "$D/iam/verify.py" "$D/iam/aws-config"
    if [ "$PG_OS_USER" != root ]; then chown "$PG_OS_USER:" "$D/iam/verifier.conf" "$D/iam/pam.log"; fi
}

install_iam_pam() {
    iam_on || return 0
    [ -f "$D/iam/verifier.conf" ] || die "the realm in $D was made without IAM: make it again with IAM=1"
    [ "$(id -u)" = 0 ] || die "IAM=1 writes a PAM service to /etc/pam.d: run as root"
    cat > "/etc/pam.d/$(iam_pam_service)" <<EOF
# aurora-krb test realm in $D: IAM database authentication tokens, checked as Aurora does.
auth     required  pam_exec.so expose_authtok quiet log=$D/iam/pam.log /usr/bin/python3 $D/iam/verify.py $D/iam/verifier.conf
account  required  pam_permit.so
EOF
}

remove_iam_pam() { if iam_on; then rm -f "/etc/pam.d/$(iam_pam_service)"; fi; }

# The verifier: the test peer, not product code (Python's standard library only).
write_iam_verifier() {
    cat <<'PYEOF'
"""Checks an RDS IAM authentication token as Aurora's PAM module would (the test peer).

pam_exec runs it with expose_authtok: the token arrives on stdin (cut at 512 bytes by PAM,
with a trailing NUL), the database role in PAM_USER. Exit 0 admits the login. The reason of
a refusal goes to stdout, which pam_exec appends to its log; the token never does.
"""
import calendar
import hashlib
import hmac
import os
import sys
import time
import urllib.parse

MAX_SKEW = 300  # seconds a token may be dated ahead of this clock (SigV4's 5 minutes)


def refuse(reason):
    print("iam-verify: refused for %s: %s" % (os.environ.get("PAM_USER", "?"), reason))
    sys.exit(1)


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def check(token, user, conf, now):
    hostport, sep, query = token.partition("/?")
    if not sep or ":" not in hostport:
        refuse("not an IAM token (no host:port/?query)")
    params = {}
    for part in query.split("&"):
        k, eq, v = part.partition("=")
        k, v = urllib.parse.unquote_plus(k), urllib.parse.unquote_plus(v)
        if not eq or k in params:
            refuse("malformed token query")
        params[k] = v
    need = ["Action", "DBUser", "X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
            "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"]
    missing = [n for n in need if n not in params]
    if missing:
        refuse("token lacks " + ", ".join(missing) + " (cut short? PAM passes at most 511 bytes)")
    if params["Action"] != "connect":
        refuse("Action is not connect")
    if params["DBUser"] != user:
        refuse("signed for DBUser %s, not this role" % params["DBUser"])
    if hostport not in conf["hosts"].split():
        refuse("signed for %s, this server is %s" % (hostport, conf["hosts"]))
    if params["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256":
        refuse("algorithm is not AWS4-HMAC-SHA256")
    scope = params["X-Amz-Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        refuse("malformed credential scope")
    akid, day, region, service = scope[:4]
    if akid != conf["access_key_id"]:
        refuse("unknown access key id")
    if region != conf["region"]:
        refuse("signed for region %s, the cluster is in %s" % (region, conf["region"]))
    if service != "rds-db":
        refuse("signed for service %s, not rds-db" % service)
    amz_date = params["X-Amz-Date"]
    try:
        signed = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        refuse("malformed X-Amz-Date or X-Amz-Expires")
    if day != amz_date[:8]:
        refuse("credential scope date differs from X-Amz-Date")
    if not 0 < expires <= 900:
        refuse("X-Amz-Expires %d is outside 1..900" % expires)
    if now > signed + expires:
        refuse("expired %d s ago (signed %s, valid %d s)" % (now - signed - expires, amz_date, expires))
    if signed > now + MAX_SKEW:
        refuse("signed %d s in the future (%s): the client's clock is ahead" % (signed - now, amz_date))
    if params["X-Amz-SignedHeaders"] != "host":
        refuse("signed headers are not exactly host")
    enc = lambda s: urllib.parse.quote(s, safe="-_.~")
    canonical_query = "&".join(
        "%s=%s" % (enc(k), enc(v)) for k, v in sorted(params.items()) if k != "X-Amz-Signature")
    canonical = "\n".join(["GET", "/", canonical_query, "host:" + hostport, "", "host",
                           hashlib.sha256(b"").hexdigest()])
    string_to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, "/".join(scope[1:]),
                                hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + conf["secret_access_key"]).encode()
    for part in (day, region, service, "aws4_request"):
        key = sign(key, part)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, params["X-Amz-Signature"]):
        refuse("signature does not match (another secret key, or the token was altered)")


def main():
    conf = {}
    with open(sys.argv[1]) as f:
        for line in f:
            k, eq, v = line.strip().partition("=")
            if eq:
                conf[k] = v
    raw = sys.stdin.buffer.read(65536).split(b"\0", 1)[0]
    token = raw.decode("utf-8", "replace").strip()
    check(token, os.environ.get("PAM_USER", ""), conf, int(time.time()))
    print("iam-verify: admitted %s" % os.environ.get("PAM_USER", "?"))


if __name__ == "__main__":
    main()
PYEOF
}

kdc_pid() { [ -f "$KDC_DIR/kdc.pid" ] && cat "$KDC_DIR/kdc.pid"; }

start_kdc() {
    [ -f "$KDC_DIR/kdc.conf" ] || die "the realm in $D is not initialised: run init first"
    local pid
    if pid=$(kdc_pid) && kill -0 "$pid" 2>/dev/null; then return 0; fi
    krb5kdc -r "$REALM" -P "$KDC_DIR/kdc.pid"
    for _ in $(seq 100); do [ -s "$KDC_DIR/kdc.pid" ] && return 0; sleep 0.05; done
    die "the KDC did not start: see $KDC_DIR/kdc.log"
}

stop_kdc() {
    local pid
    pid=$(kdc_pid) || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$KDC_DIR/kdc.pid"
}

start_instance() {
    local bin dir log
    bin=$(pg_bin)
    dir=$(instance_dir "$1")
    log=$(instance_log "$1")
    [ -f "$dir/PG_VERSION" ] || die "the realm in $D has no PostgreSQL instance $1: run init first"
    install_iam_pam
    as_pg "$bin/pg_ctl" status -D "$dir" >/dev/null 2>&1 && return 0
    # -w: a hot standby counts as started once it accepts (read-only) connections.
    as_pg "$bin/pg_ctl" start -D "$dir" -l "$log" -w -t 30 -s >/dev/null \
        || die "PostgreSQL (instance $1) did not start: see $log"
}

stop_instance() {
    local bin dir
    bin=$(pg_bin)
    dir=$(instance_dir "$1")
    [ -f "$dir/postmaster.pid" ] || return 0
    as_pg "$bin/pg_ctl" stop -D "$dir" -m fast -w -t 30 -s >/dev/null 2>&1 \
        || as_pg "$bin/pg_ctl" stop -D "$dir" -m immediate -w -s >/dev/null 2>&1 || true
}

instance_running() {
    local dir
    dir=$(instance_dir "$1")
    [ -f "$dir/postmaster.pid" ] && kill -0 "$(head -1 "$dir/postmaster.pid")" 2>/dev/null
}

# Every instance, the writer first.
start_pg() {
    local i w
    w=$(writer)
    start_instance "$w"
    for i in $(seq "$(instance_count)"); do [ "$i" = "$w" ] || start_instance "$i"; done
}

stop_pg() {
    local i
    for i in $(seq "$(instance_count)" -1 1); do stop_instance "$i"; done
    remove_iam_pam
}

# failover [N]: Aurora's failover. The writer stops (Aurora fences it), reader N is promoted,
# the other readers follow it, and the old writer comes back as a reader of the new one.
failover() {
    local bin old new i
    bin=$(pg_bin)
    [ "$REPLICAS" != 0 ] || die "failover needs readers: make the realm with REPLICAS=1 or more"
    old=$(writer)
    new=${1:-}
    if [ -z "$new" ]; then
        for i in $(seq "$(instance_count)"); do
            if [ "$i" != "$old" ] && instance_running "$i"; then new=$i; break; fi
        done
        [ -n "$new" ] || die "no reader runs: start one (start-instance N) to fail over to"
    fi
    [ "$new" != "$old" ] || die "instance $new is already the writer"
    [ "$new" -ge 1 ] && [ "$new" -le "$(instance_count)" ] || die "no instance $new"
    instance_running "$new" || die "instance $new does not run: it cannot be promoted"
    stop_instance "$old"
    as_pg "$bin/pg_ctl" promote -D "$(instance_dir "$new")" -w -t 60 -s >/dev/null \
        || die "promoting instance $new failed: see $(instance_log "$new")"
    echo "$new" > "$D/writer"
    write_instance_conf "$new" ""
    # pg_rewind reads the new writer's timeline from its control file, which a promotion
    # updates only at its next checkpoint.
    as_pg "$bin/psql" -X -q -h "$D/run" -p "$(instance_port "$new")" -U postgres -d postgres \
        -c CHECKPOINT >/dev/null || die "CHECKPOINT on the new writer (instance $new) failed"
    for i in $(seq "$(instance_count)"); do
        [ "$i" != "$new" ] && [ "$i" != "$old" ] || continue
        write_instance_conf "$i" "$new"
        # primary_conninfo is reloadable: the reader reconnects to the new writer and
        # follows its timeline (recovery_target_timeline is latest).
        if instance_running "$i"; then as_pg "$bin/pg_ctl" reload -D "$(instance_dir "$i")" -s >/dev/null; fi
    done
    # The old writer's last transactions may never have reached the new one: rewind it to
    # the new writer's history, or copy it anew when that cannot be done.
    if as_pg "$bin/pg_rewind" -D "$(instance_dir "$old")" \
            --source-server="host=$D/run port=$(instance_port "$new") user=postgres dbname=postgres" \
            >>"$D/rewind.log" 2>&1; then
        write_instance_conf "$old" "$new"
        start_instance "$old"
    else
        echo "pg_rewind of instance $old failed: a new base backup" >>"$D/rewind.log"
        init_reader "$old"
    fi
    print_env > "$D/realm.env"
}

print_instances() {
    local i w role state
    w=$(writer)
    for i in $(seq "$(instance_count)"); do
        role=reader; [ "$i" = "$w" ] && role=writer
        state=stopped; instance_running "$i" && state=running
        echo "$i $(instance_host "$i") $(instance_port "$i") $role $state"
    done
}

print_env() {
    local hosts=$DB_HOST addrs=$CLIENT_PG_ADDR ports=$CLIENT_PG_PORT i w
    if [ "$REPLICAS" != 0 ]; then
        # Every instance, the writer first (libpq tries them in this order).
        w=$(writer)
        hosts=$(instance_host "$w"); ports=$(instance_port "$w")
        for i in $(seq "$(instance_count)"); do
            [ "$i" != "$w" ] || continue
            hosts+=",$(instance_host "$i")"; addrs+=",$CLIENT_PG_ADDR"; ports+=",$(instance_port "$i")"
        done
    fi
    cat <<EOF
export KRB5_CONFIG=$D/krb5.conf
export KRB5CCNAME=FILE:$D/ccache
export PGHOST=$hosts
export PGHOSTADDR=$addrs
export PGPORT=$ports
export PGUSER=alice@$REALM
export PGDATABASE=postgres
export PGSSLMODE=verify-full
export PGSSLROOTCERT=$D/ca.crt
export PGGSSENCMODE=disable
export PGKRBSRVNAME=postgres
EOF
    # IAM: the test key as the default profile of the SDK's credential chain, and the
    # region; like the PG* and KRB5* lines, they replace the shell's own AWS identity.
    if iam_on; then
        cat <<EOF
export AWS_SHARED_CREDENTIALS_FILE=$D/secrets/iam.credentials
export AWS_CONFIG_FILE=$D/iam/aws-config
export AWS_REGION=$IAM_REGION
export AWS_EC2_METADATA_DISABLED=true
EOF
    fi
}

status() {
    local pid kdc=stopped pg=stopped i all=1
    if pid=$(kdc_pid) && kill -0 "$pid" 2>/dev/null; then kdc="running (pid $pid)"; fi
    # With readers: running when every instance runs.
    for i in $(seq "$(instance_count)"); do instance_running "$i" || all=0; done
    if [ "$all" = 1 ]; then
        pg="running (pid $(head -1 "$(instance_dir "$(writer)")/postmaster.pid"))"
    fi
    echo "kdc: $kdc"
    echo "postgres: $pg"
}

# The Active Directory and trust flavours (realm-ad.sh, realm-trust.sh) source this file for
# its functions and settings.
[ "${REALM_SH_LIBRARY:-}" = 1 ] && return 0
case "${FLAVOR:-mit}" in
    mit) ;;
    ad)  exec bash "$(dirname "${BASH_SOURCE[0]:-$0}")/realm-ad.sh" "$@" ;;
    trust) exec bash "$(dirname "${BASH_SOURCE[0]:-$0}")/realm-trust.sh" "$@" ;;
    *)   die "FLAVOR=$FLAVOR: the flavours are mit (the default), ad and trust" ;;
esac

cmd=${1:-}
case "$cmd" in
    init)      mkdir -p "$D"; init_kdc; init_tls; init_pg; print_env > "$D/realm.env" ;;
    init-kdc)  mkdir -p "$D"; init_kdc ;;
    init-tls)  mkdir -p "$D"; mkdir -p "$D/secrets"; init_tls ;;
    init-pg)   init_pg; stop_pg ;;
    start-kdc) start_kdc ;;
    stop-kdc)  stop_kdc ;;
    start-pg)  start_pg ;;
    stop-pg)   stop_pg ;;
    run-kdc)   exec krb5kdc -n -r "$REALM" ;;
    run-pg)
        bin=$(pg_bin)
        install_iam_pam
        if [ "$(id -u)" = 0 ] && [ "$PG_OS_USER" != root ]; then
            exec setpriv --reuid="$PG_OS_USER" --regid="$PG_OS_USER" --init-groups -- "$bin/postgres" -D "$PGDATA"
        fi
        exec "$bin/postgres" -D "$PGDATA" ;;
    down)      stop_pg; stop_kdc ;;
    status)    status ;;
    env)       print_env ;;
    failover)  failover "${2:-}" ;;
    start-instance) start_instance "${2:?start-instance needs an instance number}" ;;
    stop-instance)  stop_instance "${2:?stop-instance needs an instance number}" ;;
    instances) print_instances ;;
    *)         die "unknown command '${cmd}': see the usage at the top of this script" ;;
esac
