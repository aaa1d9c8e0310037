#!/usr/bin/env bash
# The aurora-krb test realm, trust flavour: the realm of realm.sh (CORP.EXAMPLE.COM, playing
# AWS Managed Microsoft AD, with the PostgreSQL server shaped like Aurora) plus a second MIT
# realm, ONPREM.EXAMPLE.COM, playing the on-premises Active Directory whose users log in to
# Aurora across a one-way forest trust (the AWS directory trusts the on-premises one).
#
# The trust is the cross-realm key krbtgt/CORP.EXAMPLE.COM@ONPREM.EXAMPLE.COM, made on both
# KDCs from one password with AES keys only: the on-premises KDC issues users a ticket for
# the AWS realm with it, the AWS KDC accepts that ticket and issues the service ticket for
# postgres/DB_HOST. No krbtgt/ONPREM@CORP exists: the trust is one-way.
#
# It reuses realm.sh (beside this file, or $REALM_SH) for the AWS realm's KDC, the CA and
# server certificate, and the PostgreSQL cluster: there is one definition of PostgreSQL
# shaped like Aurora. What differs from realm.sh:
#   - the client krb5.conf ($REALM_DIR/krb5.conf) is an on-premises user's: default_realm is
#     the user realm, both realms are in [realms], [domain_realm] maps the database's domain
#     to the AWS realm, and no [capaths] for ONPREM (a direct trust needs none: MIT asks the
#     user realm's KDC for krbtgt/CORP@ONPREM first);
#   - pg_hba.conf's gss lines have no krb_realm (which admits one realm only): Aurora admits
#     users of trusted realms, whose roles carry their own realm;
#   - realm.env is the on-premises user's (PGUSER=dave@ONPREM.EXAMPLE.COM).
#
# Users of the user realm: dave (a person, password in secrets/dave.password) and onprem-svc
# (a service account, client keytab onprem-svc.keytab), both with roles
# "dave@ONPREM.EXAMPLE.COM" and "onprem-svc@ONPREM.EXAMPLE.COM" granted rds_ad. The AWS
# realm keeps realm.sh's users (alice, app-svc, bob, carol).
#
# A third realm, BRANCH.EXAMPLE.NET, plays a second domain tree of the on-premises forest: its
# user erin (password in secrets/erin.password, role "erin@BRANCH.EXAMPLE.NET") reaches the
# AWS realm only through ONPREM (key krbtgt/ONPREM@BRANCH on the BRANCH and ONPREM KDCs). The
# names share no suffix, so MIT cannot guess the path: the client krb5.conf's [capaths] names
# it (BRANCH = { CORP = ONPREM }), and the AWS KDC's own [capaths] accepts the transited
# realm. ONPREM's users need no [capaths].
#
# Usage: realm-trust.sh COMMAND          (settings come from the environment, see below)
#    or: FLAVOR=trust realm.sh COMMAND
#   init        provision everything: the KDCs, the trusts, keytabs, CA and server
#               certificate, PostgreSQL cluster and roles
#   init-kdc | init-tls | init-pg   one part of init (the containers split the work):
#               the three KDCs with the trusts; the CA and certificate; PostgreSQL with
#               the roles of both realms (left stopped)
#   run-kdc | run-user-kdc | run-branch-kdc   one KDC in the foreground, with its own
#               krb5.conf (container entry points: each KDC is a service of its own)
#   start-kdc | stop-kdc     start / stop the three KDCs
#   start-user-kdc | stop-user-kdc   only the user realm's (on-premises) KDC
#   start-pg | stop-pg | run-pg   as realm.sh
#   down        stop everything
#   status      print which services run
#   env         print the client environment (export lines), also kept in realm.env
#   fault NAME  inject a trust fault; heal NAME undoes it. fault prints the krb5.conf a
#               client must use to meet the fault: the realm's own for the faults of the
#               KDCs and the server, a variant written to faults/NAME.krb5.conf for the
#               faults of a client's krb5.conf (the realm's own stays healthy). NAME is one of
#     key-missing        no cross-realm key on either KDC (the trust was never created)
#     reverse-only       only krbtgt/ONPREM@CORP exists, on both KDCs (trust made the wrong way)
#     aws-side-missing   the key exists on the on-premises KDC only (trust made on one side)
#     key-differs        the two KDCs hold the key from different passwords (same kvno)
#     kvno-differs       the AWS KDC's key was re-set with the same password: kvno 2 vs 1
#     rc4-aws-side       the AWS KDC's copy of the key is RC4 only, the on-premises one AES
#     rc4-aws-refuses-rc4     the key is RC4 only on both KDCs and the AWS KDC permits AES only
#                             (a directory whose crypto policy refuses RC4; KDC restarted)
#     rc4-onprem-refuses-rc4  the same with the on-premises KDC permitting AES only
#     rc4-client-aes-only     the key is RC4 only on both KDCs, and the client's krb5.conf
#                        permits AES only (a client whose crypto policy dropped RC4) [client
#                        conf]. No fault with MIT: the login works, since a client only
#                        handles session keys, which stay AES; kept to show it is not a cause
#     domain-realm-user  [domain_realm] maps the database host to the user realm [client conf]
#     realm-missing      the AWS realm is missing from [realms] [client conf]
#     role-wrong-realm   the role is "dave@CORP.EXAMPLE.COM" instead of "dave@ONPREM.EXAMPLE.COM"
#     user-kdc-down      the on-premises KDC does not answer; the AWS KDC does
#     capaths-missing    the client's krb5.conf has no [capaths]: erin's path through ONPREM
#                        is unknown (dave needs none) [client conf]
#     transit-refused    the AWS KDC's krb5.conf has no [capaths]: it refuses tickets that
#                        transited ONPREM from BRANCH (KDC restarted)
#   Tickets already in a client's cache stay there: use a fresh cache after fault and heal.
#   Each KDC reads a krb5.conf of its own (kdc/, onprem/, branch/krb5.conf), not the
#   client's: the on-premises KDC refers to the AWS realm only hosts under the AWS domain's
#   DNS suffix (.corp.example.com), as a forest trust's name suffix routing does.
#
# Settings (besides realm.sh's REALM_DIR, REALM, DB_HOST, KDC_*, PG_*, CLIENT_*,
# TICKET_LIFETIME, RENEW_LIFETIME, CERT_NAMES):
#   USER_REALM        the on-premises realm (ONPREM.EXAMPLE.COM)
#   USER_KDC_LISTEN, USER_KDC_PORT   where its KDC listens (KDC_LISTEN, 8801)
#   CLIENT_USER_KDC   host:port that clients use for it (USER_KDC_LISTEN:USER_KDC_PORT)
#   BRANCH_REALM      the on-premises forest's second tree (BRANCH.EXAMPLE.NET)
#   BRANCH_KDC_PORT   where its KDC listens, on USER_KDC_LISTEN (8802)
#   CLIENT_BRANCH_KDC host:port that clients use for it
set -euo pipefail

TRUST_REALM_SH_HOME=$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)
REALM_SH=${REALM_SH:-$TRUST_REALM_SH_HOME/realm.sh}
[ -f "$REALM_SH" ] || { echo "realm-trust.sh: realm.sh not found at $REALM_SH: keep both scripts in one folder or set REALM_SH" >&2; exit 1; }
# Users of trusted realms log in too: no krb_realm on the gss lines.
PG_GSS_OPTIONS=${PG_GSS_OPTIONS:-include_realm=1}
REALM_SH_LIBRARY=1
# shellcheck source=realm.sh
. "$REALM_SH"

die() { echo "realm-trust.sh: $*" >&2; exit 1; }

USER_REALM=${USER_REALM:-ONPREM.EXAMPLE.COM}
USER_KDC_LISTEN=${USER_KDC_LISTEN:-$KDC_LISTEN}
USER_KDC_PORT=${USER_KDC_PORT:-8801}
CLIENT_USER_KDC=${CLIENT_USER_KDC:-$USER_KDC_LISTEN:$USER_KDC_PORT}
USER_DOMAIN=$(printf '%s' "$USER_REALM" | tr '[:upper:]' '[:lower:]')
U_DIR=$D/onprem
# A second domain tree of the on-premises forest, whose users reach the AWS realm only
# through ONPREM: a transitive path, which needs [capaths].
BRANCH_REALM=${BRANCH_REALM:-BRANCH.EXAMPLE.NET}
BRANCH_KDC_PORT=${BRANCH_KDC_PORT:-8802}
CLIENT_BRANCH_KDC=${CLIENT_BRANCH_KDC:-$USER_KDC_LISTEN:$BRANCH_KDC_PORT}
BRANCH_DOMAIN=$(printf '%s' "$BRANCH_REALM" | tr '[:upper:]' '[:lower:]')
B_DIR=$D/branch
FAULT_DIR=$D/faults
# The trust's key: krbtgt/AWS@ONPREM (one-way: the AWS realm trusts the on-premises one).
TRUST=krbtgt/$REALM@$USER_REALM
REVERSE=krbtgt/$USER_REALM@$REALM
# Inside the on-premises forest: BRANCH's users get tickets for ONPREM with this key.
HUB=krbtgt/$USER_REALM@$BRANCH_REALM
TRUST_ENCTYPES=aes256-cts-hmac-sha1-96:normal,aes128-cts-hmac-sha1-96:normal
RC4_ENCTYPES=arcfour-hmac:normal

[ "$USER_REALM" != "$REALM" ] || die "USER_REALM and REALM are both $REALM: a trust needs two realms"
[ "$BRANCH_REALM" != "$REALM" ] && [ "$BRANCH_REALM" != "$USER_REALM" ] \
    || die "BRANCH_REALM must differ from REALM and USER_REALM"

# The path of BRANCH's users to the AWS realm, for [capaths]: through ONPREM.
capaths() {
    cat <<EOF
[capaths]
    $BRANCH_REALM = {
        $REALM = $USER_REALM
    }
EOF
}

# The client krb5.conf of an on-premises user, as AWS's sample has it: both realms, the
# database's domain mapped to the AWS realm, and no [capaths] for ONPREM (a direct trust needs
# none). BRANCH's users need one: their path to the AWS realm is through ONPREM. A variant
# name writes a faulty one.
write_trust_conf() {
    local variant=${1:-healthy} db_realm=$REALM permitted="" aws_realm paths
    [ "$variant" = domain-realm-user ] && db_realm=$USER_REALM
    [ "$variant" = rc4-client-aes-only ] \
        && permitted="    permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96"$'\n'
    aws_realm="    $REALM = {
        kdc = $CLIENT_KDC
    }
"
    [ "$variant" = realm-missing ] && aws_realm=""
    paths=$(capaths)
    [ "$variant" = capaths-missing ] && paths=""
    cat <<EOF
[libdefaults]
    default_realm = $USER_REALM
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    ticket_lifetime = $TICKET_LIFETIME
    renew_lifetime = $RENEW_LIFETIME
    udp_preference_limit = 1
    default_ccache_name = FILE:$D/ccache
$permitted
[realms]
    $USER_REALM = {
        kdc = $CLIENT_USER_KDC
    }
    $BRANCH_REALM = {
        kdc = $CLIENT_BRANCH_KDC
    }
$aws_realm
[domain_realm]
    .${DB_HOST#*.} = $db_realm
    $DB_HOST = $db_realm
    .$REALM_DOMAIN = $REALM
    .$USER_DOMAIN = $USER_REALM
    .$BRANCH_DOMAIN = $BRANCH_REALM

$paths
EOF
}

# The KDCs' own krb5.conf (KRB5_CONFIG of each krb5kdc): the on-premises KDC routes only the
# AWS forest's DNS suffix (.REALM_DOMAIN) to the AWS realm, as a forest trust's name suffix
# routing does, so a client that asks it for a host outside that suffix gets no referral.
# The AWS KDC accepts tickets that transited ONPREM from BRANCH ([capaths]); the BRANCH KDC
# knows no path (it refers no one: its users' clients need [capaths]).
# SIDE aws, onprem or branch; a second argument "aes-only" drops RC4 from the KDC's
# permitted_enctypes (a directory whose crypto policy refuses RC4), "no-capaths" drops the AWS
# KDC's [capaths] (it refuses the transited path).
write_kdc_krb5_conf() {
    local side=$1 file default permitted="" extra="" paths=""
    case "$side" in
        aws)    file=$KDC_DIR/krb5.conf; default=$REALM
                extra="    .${DB_HOST#*.} = $REALM
    $DB_HOST = $REALM"
                [ "${2:-}" = no-capaths ] || paths=$(capaths) ;;
        onprem) file=$U_DIR/krb5.conf; default=$USER_REALM ;;
        branch) file=$B_DIR/krb5.conf; default=$BRANCH_REALM ;;
    esac
    [ "${2:-}" = aes-only ] \
        && permitted="    permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96"
    cat > "$file" <<EOF
[libdefaults]
    default_realm = $default
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
$permitted

[realms]
    $USER_REALM = {
        kdc = $CLIENT_USER_KDC
    }
    $BRANCH_REALM = {
        kdc = $CLIENT_BRANCH_KDC
    }
    $REALM = {
        kdc = $CLIENT_KDC
    }

[domain_realm]
    .$REALM_DOMAIN = $REALM
    .$USER_DOMAIN = $USER_REALM
    .$BRANCH_DOMAIN = $BRANCH_REALM
$extra

$paths
EOF
}

# realm.sh's init_kdc writes the client krb5.conf through this: the trust's is written instead.
write_krb5_conf() { write_trust_conf > "$D/krb5.conf"; }

# kadm SIDE: runs the kadmin.local queries on stdin against SIDE's database (aws or onprem).
# Passwords never reach a command line or the log.
kadm() {
    local prof realm out rc=0
    case "$1" in
        aws)    prof=$KDC_DIR/kdc.conf; realm=$REALM ;;
        onprem) prof=$U_DIR/kdc.conf; realm=$USER_REALM ;;
        branch) prof=$B_DIR/kdc.conf; realm=$BRANCH_REALM ;;
        *)      die "kadm: no side $1" ;;
    esac
    out=$(KRB5_KDC_PROFILE=$prof kadmin.local -r "$realm" 2>&1) || rc=$?
    out=$(printf '%s\n' "$out" | sed 's/-pw [^ ]*/-pw ********/g')
    printf '%s\n' "$out" >> "$D/trust.log"
    # kadmin.local exits 0 even when a query fails; it says so with "while ...".
    if [ "$rc" != 0 ] || printf '%s\n' "$out" | grep -q ' while '; then
        printf '%s\n' "$out" | grep ' while ' >&2 || true
        die "kadmin.local for $realm failed: see $D/trust.log"
    fi
}

# has SIDE PRINCIPAL: whether SIDE's database holds the principal.
has() {
    local prof realm
    case "$1" in
        aws)    prof=$KDC_DIR/kdc.conf; realm=$REALM ;;
        onprem) prof=$U_DIR/kdc.conf; realm=$USER_REALM ;;
        branch) prof=$B_DIR/kdc.conf; realm=$BRANCH_REALM ;;
    esac
    KRB5_KDC_PROFILE=$prof kadmin.local -r "$realm" -q "getprinc $2" 2>/dev/null | grep -q '^Principal: '
}

# set_key SIDE PRINCIPAL PASSWORD_FILE ENCTYPES: (re)creates a cross-realm principal with kvno 1.
set_key() {
    local q=""
    has "$1" "$2" && q+="delprinc -force $2"$'\n'
    q+="addprinc -pw $(cat "$3") -e $4 $2"$'\n'
    printf '%s' "$q" | kadm "$1"
}

del_key() { if has "$1" "$2"; then printf 'delprinc -force %s\n' "$2" | kadm "$1"; fi; }

# The healthy trust: krbtgt/AWS@ONPREM on both KDCs, one password, AES, kvno 1; no reverse key.
make_trust() {
    set_key onprem "$TRUST" "$D/secrets/trust.password" "$TRUST_ENCTYPES"
    set_key aws "$TRUST" "$D/secrets/trust.password" "$TRUST_ENCTYPES"
    del_key onprem "$REVERSE"
    del_key aws "$REVERSE"
}

# side_of SIDE: sets K_DIR, K_REALM, K_LISTEN (host:port) and K_CLIENT for a KDC of the
# on-premises forest (onprem or branch).
side_of() {
    case "$1" in
        onprem) K_DIR=$U_DIR; K_REALM=$USER_REALM; K_LISTEN=$USER_KDC_LISTEN:$USER_KDC_PORT
                K_CLIENT=$CLIENT_USER_KDC ;;
        branch) K_DIR=$B_DIR; K_REALM=$BRANCH_REALM; K_LISTEN=$USER_KDC_LISTEN:$BRANCH_KDC_PORT
                K_CLIENT=$CLIENT_BRANCH_KDC ;;
        *)      die "no KDC side $1" ;;
    esac
}

# init_side_kdc SIDE: the KDC database and configuration of an on-premises realm.
init_side_kdc() {
    side_of "$1"
    mkdir -p "$K_DIR"
    cat > "$K_DIR/kdc.conf" <<EOF
[kdcdefaults]
    kdc_ports = ${K_LISTEN##*:}
    kdc_tcp_ports = ${K_LISTEN##*:}

[realms]
    $K_REALM = {
        database_name = $K_DIR/principal
        key_stash_file = $K_DIR/stash
        acl_file = $K_DIR/kadm5.acl
        kdc_listen = $K_LISTEN
        kdc_tcp_listen = $K_LISTEN
        max_life = $TICKET_LIFETIME
        max_renewable_life = $RENEW_LIFETIME
    }

[logging]
    kdc = FILE:$K_DIR/kdc.log
    admin_server = FILE:$K_DIR/kadmin.log
    default = FILE:$K_DIR/krb5lib.log
EOF
    : > "$K_DIR/kadm5.acl"
    write_kdc_krb5_conf "$1"
    KRB5_KDC_PROFILE=$K_DIR/kdc.conf kdb5_util create -s -W -r "$K_REALM" -P "$(openssl rand -hex 16)" >/dev/null
}

init_user_kdcs() {
    mkdir -p "$D/secrets"
    chmod 700 "$D/secrets"
    write_kdc_krb5_conf aws
    init_side_kdc onprem
    init_side_kdc branch
    local f
    for f in dave erin; do openssl rand -hex 12 > "$D/secrets/$f.password"; done
    for f in trust trust-other hub; do openssl rand -hex 16 > "$D/secrets/$f.password"; done
    chmod 600 "$D/secrets/"*.password
    local life="-maxlife $TICKET_LIFETIME -maxrenewlife $RENEW_LIFETIME"
    printf '%s\n' \
        "addprinc $life -pw $(cat "$D/secrets/dave.password") dave" \
        "addprinc $life -randkey onprem-svc" \
        "ktadd -k $D/onprem-svc.keytab onprem-svc" \
        "modprinc $life krbtgt/$USER_REALM" | kadm onprem
    printf '%s\n' \
        "addprinc $life -pw $(cat "$D/secrets/erin.password") erin" \
        "modprinc $life krbtgt/$BRANCH_REALM" | kadm branch
    chmod 600 "$D/onprem-svc.keytab"
    set_key branch "$HUB" "$D/secrets/hub.password" "$TRUST_ENCTYPES"
    set_key onprem "$HUB" "$D/secrets/hub.password" "$TRUST_ENCTYPES"
    make_trust
}

# The roles of the on-premises users carry their own realm.
init_trust_roles() {
    pg_admin <<EOF
CREATE ROLE "dave@$USER_REALM" LOGIN IN ROLE rds_ad;
CREATE ROLE "onprem-svc@$USER_REALM" LOGIN IN ROLE rds_ad;
CREATE ROLE "erin@$BRANCH_REALM" LOGIN IN ROLE rds_ad;
EOF
}

pg_admin() {
    as_pg env -u PGHOST -u PGHOSTADDR -u PGPORT -u PGUSER -u PGDATABASE -u PGSERVICE -u PGSSLMODE \
        -u PGSSLROOTCERT -u PGGSSENCMODE -u PGKRBSRVNAME "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$D/run" -p "$PG_PORT" -U postgres -d postgres
}

side_pid() { side_of "$1"; [ -f "$K_DIR/kdc.pid" ] && cat "$K_DIR/kdc.pid"; }

start_side_kdc() {
    side_of "$1"
    [ -f "$K_DIR/kdc.conf" ] || die "the realm in $D is not initialised: run init first"
    local pid
    if pid=$(side_pid "$1") && kill -0 "$pid" 2>/dev/null; then return 0; fi
    KRB5_CONFIG=$K_DIR/krb5.conf KRB5_KDC_PROFILE=$K_DIR/kdc.conf krb5kdc -r "$K_REALM" -P "$K_DIR/kdc.pid"
    for _ in $(seq 100); do [ -s "$K_DIR/kdc.pid" ] && break; sleep 0.05; done
    wait_port "${K_CLIENT%:*}" "${K_CLIENT##*:}" || die "the $K_REALM KDC did not start: see $K_DIR/kdc.log"
}

stop_side_kdc() {
    local pid
    side_of "$1"
    pid=$(side_pid "$1") || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$K_DIR/kdc.pid"
}

start_user_kdc() { start_side_kdc onprem; }
stop_user_kdc() { stop_side_kdc onprem; }

start_all_kdcs() { start_aws_kdc; start_side_kdc onprem; start_side_kdc branch; }
stop_all_kdcs() { stop_side_kdc branch; stop_side_kdc onprem; stop_kdc; }

start_aws_kdc() {
    KRB5_CONFIG=$KDC_DIR/krb5.conf start_kdc
    wait_port "${CLIENT_KDC%:*}" "${CLIENT_KDC##*:}" || die "the $REALM KDC did not start: see $KDC_DIR/kdc.log"
}

# wait_port HOST PORT: true once a TCP connection to it succeeds (5 s at most).
wait_port() {
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

print_trust_env() { print_env | sed "s|^export PGUSER=.*|export PGUSER=dave@$USER_REALM|"; }

status_trust() {
    local pid side word
    status
    for side in onprem branch; do
        word=stopped
        if pid=$(side_pid $side) && kill -0 "$pid" 2>/dev/null; then word="running (pid $pid)"; fi
        case $side in onprem) echo "user-kdc: $word" ;; branch) echo "branch-kdc: $word" ;; esac
    done
}

FAULTS="key-missing, reverse-only, aws-side-missing, key-differs, kvno-differs, rc4-aws-side, rc4-aws-refuses-rc4, rc4-onprem-refuses-rc4, rc4-client-aes-only, domain-realm-user, realm-missing, role-wrong-realm, user-kdc-down, capaths-missing, transit-refused"

# restart_kdc SIDE [aes-only|no-capaths]: rewrites SIDE's KDC krb5.conf and restarts that KDC.
restart_kdc() {
    write_kdc_krb5_conf "$1" "${2:-}"
    case "$1" in
        aws)    stop_kdc; start_aws_kdc ;;
        onprem) stop_user_kdc; start_user_kdc ;;
    esac
}

# fault NAME / heal NAME (see the top of this file).
fault() {
    local mode=$1 name=$2 conf=$D/krb5.conf
    [ -f "$B_DIR/kdc.conf" ] || die "the realm in $D is not initialised (or by an older realm-trust.sh): run init first"
    case "$mode:$name" in
        fault:key-missing)       del_key onprem "$TRUST"; del_key aws "$TRUST" ;;
        fault:reverse-only)      del_key onprem "$TRUST"; del_key aws "$TRUST"
                                 set_key onprem "$REVERSE" "$D/secrets/trust.password" "$TRUST_ENCTYPES"
                                 set_key aws "$REVERSE" "$D/secrets/trust.password" "$TRUST_ENCTYPES" ;;
        fault:aws-side-missing)  del_key aws "$TRUST" ;;
        fault:key-differs)       set_key aws "$TRUST" "$D/secrets/trust-other.password" "$TRUST_ENCTYPES" ;;
        fault:kvno-differs)      printf 'cpw -pw %s -e %s %s\n' "$(cat "$D/secrets/trust.password")" \
                                     "$TRUST_ENCTYPES" "$TRUST" | kadm aws ;;
        fault:rc4-aws-side)      set_key aws "$TRUST" "$D/secrets/trust.password" "$RC4_ENCTYPES" ;;
        fault:rc4-aws-refuses-rc4|fault:rc4-onprem-refuses-rc4|fault:rc4-client-aes-only)
                                 set_key onprem "$TRUST" "$D/secrets/trust.password" "$RC4_ENCTYPES"
                                 set_key aws "$TRUST" "$D/secrets/trust.password" "$RC4_ENCTYPES"
                                 case "$name" in
                                     rc4-aws-refuses-rc4)    restart_kdc aws aes-only ;;
                                     rc4-onprem-refuses-rc4) restart_kdc onprem aes-only ;;
                                 esac ;;
        heal:key-missing|heal:reverse-only|heal:aws-side-missing|heal:key-differs|heal:kvno-differs|heal:rc4-aws-side|heal:rc4-client-aes-only)
                                 make_trust ;;
        heal:rc4-aws-refuses-rc4)    make_trust; restart_kdc aws ;;
        heal:rc4-onprem-refuses-rc4) make_trust; restart_kdc onprem ;;
        fault:domain-realm-user|fault:realm-missing|heal:domain-realm-user|heal:realm-missing) ;;
        fault:capaths-missing|heal:capaths-missing) ;;
        fault:transit-refused)   restart_kdc aws no-capaths ;;
        heal:transit-refused)    restart_kdc aws ;;
        fault:role-wrong-realm)  echo "ALTER ROLE \"dave@$USER_REALM\" RENAME TO \"dave@$REALM\";" | pg_admin ;;
        heal:role-wrong-realm)   echo "ALTER ROLE \"dave@$REALM\" RENAME TO \"dave@$USER_REALM\";" | pg_admin ;;
        fault:user-kdc-down)     stop_user_kdc ;;
        heal:user-kdc-down)      start_user_kdc ;;
        *) die "unknown fault '$name': one of $FAULTS" ;;
    esac
    case "$name" in
        domain-realm-user|realm-missing|rc4-client-aes-only|capaths-missing)
            conf=$FAULT_DIR/$name.krb5.conf
            if [ "$mode" = fault ]; then
                mkdir -p "$FAULT_DIR"
                write_trust_conf "$name" > "$conf"
            else
                rm -f "$conf"
            fi ;;
    esac
    [ "$mode" = fault ] && echo "$conf"
    return 0
}

cmd=${1:-}
case "$cmd" in
    init)      mkdir -p "$D"; init_kdc; init_user_kdcs; init_tls; init_pg; init_trust_roles
               print_trust_env > "$D/realm.env" ;;
    init-kdc)  mkdir -p "$D"; init_kdc; init_user_kdcs ;;
    init-tls)  mkdir -p "$D/secrets"; init_tls ;;
    init-pg)   init_pg; init_trust_roles; stop_pg ;;
    # Each KDC reads its own krb5.conf (its [capaths], its name suffix routing), never the
    # client's.
    run-kdc)   KRB5_CONFIG=$KDC_DIR/krb5.conf exec krb5kdc -n -r "$REALM" ;;
    run-user-kdc|run-branch-kdc)
               if [ "$cmd" = run-user-kdc ]; then side_of onprem; else side_of branch; fi
               [ -f "$K_DIR/kdc.conf" ] || die "the realm in $D is not initialised: run init-kdc first"
               KRB5_CONFIG=$K_DIR/krb5.conf KRB5_KDC_PROFILE=$K_DIR/kdc.conf exec krb5kdc -n -r "$K_REALM" ;;
    start-kdc) start_all_kdcs ;;
    stop-kdc)  stop_all_kdcs ;;
    start-user-kdc) start_user_kdc ;;
    stop-user-kdc)  stop_user_kdc ;;
    start-pg)  start_pg ;;
    stop-pg)   stop_pg ;;
    run-pg)    FLAVOR=mit REALM_SH_LIBRARY=0 exec bash "$REALM_SH" run-pg ;;
    down)      stop_pg; stop_all_kdcs ;;
    status)    status_trust ;;
    env)       print_trust_env ;;
    fault|heal) fault "$cmd" "${2:-}" ;;
    *)         die "unknown command '${cmd}': see the usage at the top of this script" ;;
esac
