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
#   FLAVOR           mit (the default), ad or trust: ad hands every command to realm-ad.sh
#                    beside this file, the same realm with a Samba AD domain controller as its
#                    KDC; trust hands it to realm-trust.sh, the same realm plus a second
#                    (on-premises) realm whose users log in across a one-way trust
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
    cmds+="modprinc -maxlife $TICKET_LIFETIME -maxrenewlife $RENEW_LIFETIME krbtgt/$REALM"$'\n'
    # kadmin.local echoes its input; the passwords must not reach the output.
    printf '%s' "$cmds" | kadmin.local -r "$REALM" >"$KDC_DIR/provision.log" 2>&1 \
        || { grep -v -- '-pw' "$KDC_DIR/provision.log" >&2; die "kadmin.local failed"; }
    sed -i 's/-pw [^ ]*/-pw ********/' "$KDC_DIR/provision.log"
    chmod 600 "$D/app-svc.keytab" "$D/postgres.keytab"
}

init_tls() {
    need openssl "Debian's openssl"
    local names="" n i=1
    for n in $CERT_NAMES; do names+="${names:+,}DNS:$n"; done
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
EOF
    # Aurora's rule: members of rds_ad log in with Kerberos; everyone else falls through to
    # password authentication (scram), which is what a role outside rds_ad meets on Aurora.
    cat > "$PGDATA/pg_hba.conf" <<EOF
# The realm's administrator, over the realm's private socket only.
local     all  postgres  trust
hostssl   all  +rds_ad   all  gss $PG_GSS_OPTIONS
hostgssenc all +rds_ad   all  gss $PG_GSS_OPTIONS
host      all  all       all  scram-sha-256
EOF
    start_pg
    as_pg "$bin/psql" -X -q -v ON_ERROR_STOP=1 -h "$D/run" -p "$PG_PORT" -U postgres -d postgres <<EOF
CREATE ROLE rds_ad NOLOGIN;
CREATE ROLE rds_iam NOLOGIN;
CREATE ROLE rds_superuser NOLOGIN;
CREATE ROLE "alice@$REALM" LOGIN IN ROLE rds_ad;
CREATE ROLE "app-svc@$REALM" LOGIN IN ROLE rds_ad;
CREATE ROLE "carol@$REALM" LOGIN;
EOF
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

start_pg() {
    local bin
    bin=$(pg_bin)
    [ -f "$PGDATA/PG_VERSION" ] || die "the realm in $D has no PostgreSQL cluster: run init first"
    as_pg "$bin/pg_ctl" status -D "$PGDATA" >/dev/null 2>&1 && return 0
    as_pg "$bin/pg_ctl" start -D "$PGDATA" -l "$D/pg.log" -w -t 30 -s >/dev/null \
        || die "PostgreSQL did not start: see $D/pg.log"
}

stop_pg() {
    local bin
    bin=$(pg_bin)
    [ -f "$PGDATA/postmaster.pid" ] || return 0
    as_pg "$bin/pg_ctl" stop -D "$PGDATA" -m fast -w -t 30 -s >/dev/null 2>&1 \
        || as_pg "$bin/pg_ctl" stop -D "$PGDATA" -m immediate -w -s >/dev/null 2>&1 || true
}

print_env() {
    cat <<EOF
export KRB5_CONFIG=$D/krb5.conf
export KRB5CCNAME=FILE:$D/ccache
export PGHOST=$DB_HOST
export PGHOSTADDR=$CLIENT_PG_ADDR
export PGPORT=$CLIENT_PG_PORT
export PGUSER=alice@$REALM
export PGDATABASE=postgres
export PGSSLMODE=verify-full
export PGSSLROOTCERT=$D/ca.crt
export PGGSSENCMODE=disable
export PGKRBSRVNAME=postgres
EOF
}

status() {
    local pid kdc=stopped pg=stopped
    if pid=$(kdc_pid) && kill -0 "$pid" 2>/dev/null; then kdc="running (pid $pid)"; fi
    if [ -f "$PGDATA/postmaster.pid" ] && kill -0 "$(head -1 "$PGDATA/postmaster.pid")" 2>/dev/null; then
        pg="running (pid $(head -1 "$PGDATA/postmaster.pid"))"
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
        if [ "$(id -u)" = 0 ] && [ "$PG_OS_USER" != root ]; then
            exec setpriv --reuid="$PG_OS_USER" --regid="$PG_OS_USER" --init-groups -- "$bin/postgres" -D "$PGDATA"
        fi
        exec "$bin/postgres" -D "$PGDATA" ;;
    down)      stop_pg; stop_kdc ;;
    status)    status ;;
    env)       print_env ;;
    *)         die "unknown command '${cmd}': see the usage at the top of this script" ;;
esac
