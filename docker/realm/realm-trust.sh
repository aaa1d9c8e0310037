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
#     to the AWS realm, and there is no [capaths] (a direct trust needs none: MIT asks the
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
# Usage: realm-trust.sh COMMAND          (settings come from the environment, see below)
#    or: FLAVOR=trust realm.sh COMMAND
#   init        provision everything: both KDCs, the trust, keytabs, CA and server
#               certificate, PostgreSQL cluster and roles
#   start-kdc | stop-kdc     start / stop both KDCs
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
#   Tickets already in a client's cache stay there: use a fresh cache after fault and heal.
#   Each KDC reads a krb5.conf of its own (kdc/krb5.conf, onprem/krb5.conf), not the
#   client's: the on-premises KDC refers to the AWS realm only hosts under the AWS domain's
#   DNS suffix (.corp.example.com), as a forest trust's name suffix routing does.
#
# Settings (besides realm.sh's REALM_DIR, REALM, DB_HOST, KDC_*, PG_*, CLIENT_*,
# TICKET_LIFETIME, RENEW_LIFETIME, CERT_NAMES):
#   USER_REALM        the on-premises realm (ONPREM.EXAMPLE.COM)
#   USER_KDC_LISTEN, USER_KDC_PORT   where its KDC listens (KDC_LISTEN, 8801)
#   CLIENT_USER_KDC   host:port that clients use for it (USER_KDC_LISTEN:USER_KDC_PORT)
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
FAULT_DIR=$D/faults
# The trust's key: krbtgt/AWS@ONPREM (one-way: the AWS realm trusts the on-premises one).
TRUST=krbtgt/$REALM@$USER_REALM
REVERSE=krbtgt/$USER_REALM@$REALM
TRUST_ENCTYPES=aes256-cts-hmac-sha1-96:normal,aes128-cts-hmac-sha1-96:normal
RC4_ENCTYPES=arcfour-hmac:normal

[ "$USER_REALM" != "$REALM" ] || die "USER_REALM and REALM are both $REALM: a trust needs two realms"

# The client krb5.conf of an on-premises user, as AWS's sample has it: both realms, the
# database's domain mapped to the AWS realm, no [capaths]. A variant name writes a faulty one.
write_trust_conf() {
    local variant=${1:-healthy} db_realm=$REALM permitted="" aws_realm
    [ "$variant" = domain-realm-user ] && db_realm=$USER_REALM
    [ "$variant" = rc4-client-aes-only ] \
        && permitted="    permitted_enctypes = aes256-cts-hmac-sha1-96 aes128-cts-hmac-sha1-96"$'\n'
    aws_realm="    $REALM = {
        kdc = $CLIENT_KDC
    }
"
    [ "$variant" = realm-missing ] && aws_realm=""
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
$aws_realm
[domain_realm]
    .${DB_HOST#*.} = $db_realm
    $DB_HOST = $db_realm
    .$REALM_DOMAIN = $REALM
    .$USER_DOMAIN = $USER_REALM
EOF
}

# The KDCs' own krb5.conf (KRB5_CONFIG of each krb5kdc): the on-premises KDC routes only the
# AWS forest's DNS suffix (.REALM_DOMAIN) to the AWS realm, as a forest trust's name suffix
# routing does, so a client that asks it for a host outside that suffix gets no referral.
# SIDE aws or onprem; a second argument "aes-only" drops RC4 from the KDC's permitted_enctypes
# (a directory whose crypto policy refuses RC4).
write_kdc_krb5_conf() {
    local side=$1 file default permitted="" extra=""
    case "$side" in
        aws)    file=$KDC_DIR/krb5.conf; default=$REALM
                extra="    .${DB_HOST#*.} = $REALM
    $DB_HOST = $REALM" ;;
        onprem) file=$U_DIR/krb5.conf; default=$USER_REALM ;;
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
    $REALM = {
        kdc = $CLIENT_KDC
    }

[domain_realm]
    .$REALM_DOMAIN = $REALM
    .$USER_DOMAIN = $USER_REALM
$extra
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
    case "$1" in
        aws)    kadmin.local -r "$REALM" -q "getprinc $2" 2>/dev/null | grep -q '^Principal: ' ;;
        onprem) KRB5_KDC_PROFILE=$U_DIR/kdc.conf kadmin.local -r "$USER_REALM" -q "getprinc $2" 2>/dev/null \
                    | grep -q '^Principal: ' ;;
    esac
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

init_user_kdc() {
    mkdir -p "$U_DIR" "$D/secrets"
    chmod 700 "$D/secrets"
    cat > "$U_DIR/kdc.conf" <<EOF
[kdcdefaults]
    kdc_ports = $USER_KDC_PORT
    kdc_tcp_ports = $USER_KDC_PORT

[realms]
    $USER_REALM = {
        database_name = $U_DIR/principal
        key_stash_file = $U_DIR/stash
        acl_file = $U_DIR/kadm5.acl
        kdc_listen = $USER_KDC_LISTEN:$USER_KDC_PORT
        kdc_tcp_listen = $USER_KDC_LISTEN:$USER_KDC_PORT
        max_life = $TICKET_LIFETIME
        max_renewable_life = $RENEW_LIFETIME
    }

[logging]
    kdc = FILE:$U_DIR/kdc.log
    admin_server = FILE:$U_DIR/kadmin.log
    default = FILE:$U_DIR/krb5lib.log
EOF
    : > "$U_DIR/kadm5.acl"
    write_kdc_krb5_conf onprem
    write_kdc_krb5_conf aws
    KRB5_KDC_PROFILE=$U_DIR/kdc.conf kdb5_util create -s -W -r "$USER_REALM" -P "$(openssl rand -hex 16)" >/dev/null
    openssl rand -hex 12 > "$D/secrets/dave.password"
    openssl rand -hex 16 > "$D/secrets/trust.password"
    openssl rand -hex 16 > "$D/secrets/trust-other.password"
    chmod 600 "$D/secrets/dave.password" "$D/secrets/trust.password" "$D/secrets/trust-other.password"
    local life="-maxlife $TICKET_LIFETIME -maxrenewlife $RENEW_LIFETIME"
    printf '%s\n' \
        "addprinc $life -pw $(cat "$D/secrets/dave.password") dave" \
        "addprinc $life -randkey onprem-svc" \
        "ktadd -k $D/onprem-svc.keytab onprem-svc" \
        "modprinc $life krbtgt/$USER_REALM" | kadm onprem
    chmod 600 "$D/onprem-svc.keytab"
    make_trust
}

# The roles of the on-premises users carry their own realm.
init_trust_roles() {
    pg_admin <<EOF
CREATE ROLE "dave@$USER_REALM" LOGIN IN ROLE rds_ad;
CREATE ROLE "onprem-svc@$USER_REALM" LOGIN IN ROLE rds_ad;
EOF
}

pg_admin() {
    as_pg env -u PGHOST -u PGHOSTADDR -u PGPORT -u PGUSER -u PGDATABASE -u PGSERVICE -u PGSSLMODE \
        -u PGSSLROOTCERT -u PGGSSENCMODE -u PGKRBSRVNAME "$(pg_bin)/psql" -X -q -v ON_ERROR_STOP=1 -h "$D/run" -p "$PG_PORT" -U postgres -d postgres
}

user_kdc_pid() { [ -f "$U_DIR/kdc.pid" ] && cat "$U_DIR/kdc.pid"; }

start_user_kdc() {
    [ -f "$U_DIR/kdc.conf" ] || die "the realm in $D is not initialised: run init first"
    local pid
    if pid=$(user_kdc_pid) && kill -0 "$pid" 2>/dev/null; then return 0; fi
    KRB5_CONFIG=$U_DIR/krb5.conf KRB5_KDC_PROFILE=$U_DIR/kdc.conf krb5kdc -r "$USER_REALM" -P "$U_DIR/kdc.pid"
    for _ in $(seq 100); do [ -s "$U_DIR/kdc.pid" ] && break; sleep 0.05; done
    wait_port "${CLIENT_USER_KDC%:*}" "${CLIENT_USER_KDC##*:}" || die "the $USER_REALM KDC did not start: see $U_DIR/kdc.log"
}

stop_user_kdc() {
    local pid
    pid=$(user_kdc_pid) || return 0
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$U_DIR/kdc.pid"
}

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
    local pid user=stopped
    status
    if pid=$(user_kdc_pid) && kill -0 "$pid" 2>/dev/null; then user="running (pid $pid)"; fi
    echo "user-kdc: $user"
}

FAULTS="key-missing, reverse-only, aws-side-missing, key-differs, kvno-differs, rc4-aws-side, rc4-aws-refuses-rc4, rc4-onprem-refuses-rc4, rc4-client-aes-only, domain-realm-user, realm-missing, role-wrong-realm, user-kdc-down"

# restart_kdc SIDE [aes-only]: rewrites SIDE's KDC krb5.conf and restarts that KDC.
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
    [ -f "$U_DIR/kdc.conf" ] || die "the realm in $D is not initialised: run init first"
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
        fault:role-wrong-realm)  echo "ALTER ROLE \"dave@$USER_REALM\" RENAME TO \"dave@$REALM\";" | pg_admin ;;
        heal:role-wrong-realm)   echo "ALTER ROLE \"dave@$REALM\" RENAME TO \"dave@$USER_REALM\";" | pg_admin ;;
        fault:user-kdc-down)     stop_user_kdc ;;
        heal:user-kdc-down)      start_user_kdc ;;
        *) die "unknown fault '$name': one of $FAULTS" ;;
    esac
    case "$name" in
        domain-realm-user|realm-missing|rc4-client-aes-only)
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
    init)      mkdir -p "$D"; init_kdc; init_user_kdc; init_tls; init_pg; init_trust_roles
               print_trust_env > "$D/realm.env" ;;
    start-kdc) start_aws_kdc; start_user_kdc ;;
    stop-kdc)  stop_user_kdc; stop_kdc ;;
    start-user-kdc) start_user_kdc ;;
    stop-user-kdc)  stop_user_kdc ;;
    start-pg)  start_pg ;;
    stop-pg)   stop_pg ;;
    run-pg)    FLAVOR=mit REALM_SH_LIBRARY=0 exec bash "$REALM_SH" run-pg ;;
    down)      stop_pg; stop_user_kdc; stop_kdc ;;
    status)    status_trust ;;
    env)       print_trust_env ;;
    fault|heal) fault "$cmd" "${2:-}" ;;
    *)         die "unknown command '${cmd}': see the usage at the top of this script" ;;
esac
