#!/usr/bin/env bash
# Entry point of the realm's containers (docker/compose.yaml): the KDC (kdc, or dc in the ad
# profile, or kdc-trust in the trust profile) and PostgreSQL (postgres, postgres-ad or
# postgres-trust); in the trust profile also the KDCs of the user realms (kdc-onprem,
# kdc-branch).
#
# The realm's logic is all in realm.sh (and realm-ad.sh for the Active Directory flavour,
# realm-trust.sh for the trust flavour); this script only does what containers add to it:
#   - it runs realm.sh with the realm folder at the path the HOST sees it under, so that the
#     krb5.conf, realm.env and keytab paths written into the shared folder work on the host;
#   - it provisions once per realm folder (init-kdc + init-tls in the kdc container, init-pg
#     in the postgres container) and skips that when the folder is already provisioned; in
#     the trust flavour the kdc container provisions all three KDCs and the trusts, and the
#     user-kdc and branch-kdc containers only run theirs;
#   - in the ad flavour, it binds the domain controller to the container's own address (the
#     one its published port leads to) and moves it there when the container is new;
#   - it hands the files a client needs to the host user who owns the compose file;
#   - it runs the service in the foreground (run-kdc, run-pg; run-user-kdc, run-branch-kdc).
#
# Usage: realm-container.sh kdc|postgres|user-kdc|branch-kdc
# Environment (set by compose.yaml):
#   KDC_HOST_PORT, PG_HOST_PORT  the ports published on the host's 127.0.0.1
#   USER_KDC_HOST_PORT, BRANCH_KDC_HOST_PORT  the same for the trust flavour's KDCs of
#                ONPREM.EXAMPLE.COM and BRANCH.EXAMPLE.NET
#   REALM_DATA   the realm folder on the host, as given to compose (absolute, or relative to
#                the compose file; ./realm-data when empty)
#   HOST_PWD     the directory compose was started from, to place a relative REALM_DATA
#   REALM_OWNER  uid:gid to hand the client files to (default: the compose file's owner)
#   REALM_FLAVOR mit (the default: MIT Kerberos KDC), ad (Samba AD domain controller) or
#                trust (three MIT realms: the database's, and the users' across a trust)
set -euo pipefail

role=${1:-}
flavor=${REALM_FLAVOR:-mit}
MOUNT=/realm
OWNER_REFERENCE=/etc/aurora-krb/compose.yaml
KDC_READY=.docker-kdc-ready
PG_READY=.docker-pg-ready

log() { echo "realm-container.sh ($role): $*" >&2; }
die() { log "$*"; exit 1; }

case "$role" in
    kdc | postgres | user-kdc | branch-kdc) ;;
    *) echo "usage: realm-container.sh kdc|postgres|user-kdc|branch-kdc" >&2; exit 2 ;;
esac
case "$flavor" in
    mit | ad | trust) ;;
    *) die "REALM_FLAVOR=$flavor: the flavours are mit (the default), ad and trust" ;;
esac
case "$flavor:$role" in
    trust:* | *:kdc | *:postgres) ;;
    *) die "the $role service belongs to the trust flavour (REALM_FLAVOR=trust)" ;;
esac
mountpoint -q "$MOUNT" || die "$MOUNT is not a mount: bind-mount the realm folder there (see docker/compose.yaml)"
: "${KDC_HOST_PORT:?KDC_HOST_PORT must name the KDC port published on the host}"
: "${PG_HOST_PORT:?PG_HOST_PORT must name the PostgreSQL port published on the host}"

# Where the host sees the realm folder. Compose resolves a relative bind-mount source itself
# but tells the container nothing about it; the mount's own record (/proc/self/mountinfo)
# holds the source path as seen from its file system, which confirms one of the candidates.
host_dir() {
    local rel=${REALM_DATA:-./realm-data} root cand
    case "$rel" in /*) printf '%s\n' "${rel%/}"; return ;; esac
    root=$(awk -v m="$MOUNT" '$5 == m { print $4 }' /proc/self/mountinfo | tail -1)
    root=$(printf '%b' "$root")
    rel=${rel#./}
    rel=${rel%/}
    if [ -n "${HOST_PWD:-}" ]; then
        for cand in "$HOST_PWD/docker/$rel" "$HOST_PWD/$rel"; do
            # Either path may be the longer one: a separate /home file system shortens the
            # mount's record, Docker Desktop's VM lengthens it.
            case "$cand" in *"$root") printf '%s\n' "$cand"; return ;; esac
            case "$root" in *"$cand") printf '%s\n' "$cand"; return ;; esac
        done
    fi
    log "warning: cannot tell where the host keeps the realm folder; assuming $root." \
        "If the host's kinit or psql cannot find the files realm.env names, set REALM_DATA" \
        "to the folder's absolute path"
    printf '%s\n' "$root"
}

H=$(host_dir)
if [ -z "$H" ] || [ "$H" = / ]; then
    die "could not place the realm folder: set REALM_DATA to an absolute path"
fi
if [ "$H" != "$MOUNT" ]; then
    # realm.sh writes absolute paths into its files; through this link they are the same in
    # the container as on the host.
    if [ -e "$H" ] && [ ! -L "$H" ]; then
        die "the host path $H of the realm folder exists inside the image: choose another REALM_DATA"
    fi
    mkdir -p "$(dirname "$H")"
    ln -sfn "$MOUNT" "$H"
fi

export REALM_DIR=$H
export KDC_LISTEN=0.0.0.0 KDC_PORT=88 PG_LISTEN=0.0.0.0 PG_PORT=5432
export CLIENT_KDC=127.0.0.1:$KDC_HOST_PORT CLIENT_PG_ADDR=127.0.0.1 CLIENT_PG_PORT=$PG_HOST_PORT
realm() { /usr/local/bin/realm.sh "$@"; }
# What the folder was provisioned for: its host path and KDC address are written into it.
stamp="REALM_DIR=$H CLIENT_KDC=$CLIENT_KDC"
if [ "$flavor" = ad ]; then
    stamp+=" FLAVOR=ad"
    export FLAVOR=ad
    if [ "$role" = kdc ]; then
        # Samba binds the addresses it is given and nothing else: the container's own, where
        # Docker sends the published port (0.0.0.0 is not an interface to it). From the
        # interfaces, not from DNS.
        AD_ADDR=$(hostname -I | tr ' ' '\n' | grep -m1 -E '^[0-9]+(\.[0-9]+){3}$') \
            || die "the container has no IPv4 address for the domain controller to bind"
        export AD_CONTAINER=1 AD_ADDR
    fi
elif [ "$flavor" = trust ]; then
    # The user realms' KDCs run in containers of their own, each on port 88 there; the
    # clients (and the exported krb5.conf) reach them at their published ports.
    : "${USER_KDC_HOST_PORT:?USER_KDC_HOST_PORT must name the user realm KDC's port published on the host}"
    : "${BRANCH_KDC_HOST_PORT:?BRANCH_KDC_HOST_PORT must name the branch realm KDC's port published on the host}"
    export FLAVOR=trust USER_KDC_LISTEN=0.0.0.0 USER_KDC_PORT=88 BRANCH_KDC_PORT=88
    export CLIENT_USER_KDC=127.0.0.1:$USER_KDC_HOST_PORT CLIENT_BRANCH_KDC=127.0.0.1:$BRANCH_KDC_HOST_PORT
    stamp+=" FLAVOR=trust CLIENT_USER_KDC=$CLIENT_USER_KDC CLIENT_BRANCH_KDC=$CLIENT_BRANCH_KDC"
fi

owner() {
    if [ -n "${REALM_OWNER:-}" ]; then
        printf '%s\n' "$REALM_OWNER"
    elif [ -e "$OWNER_REFERENCE" ]; then
        stat -c %u:%g "$OWNER_REFERENCE"
    fi
}

# The host user runs kinit (which writes its ccache into the folder) and reads the keytab
# and passwords; the KDC's database and PostgreSQL's files stay with their own accounts.
hand_over() {
    local o
    o=$(owner)
    [ -n "$o" ] && [ "$o" != 0:0 ] || return 0
    chown "$o" "$MOUNT" "$MOUNT/app-svc.keytab" "$MOUNT/onprem-svc.keytab" "$MOUNT/realm.env" 2>/dev/null || true
    chown -R "$o" "$MOUNT/secrets"
}

provision_kdc() {
    if [ -f "$MOUNT/$KDC_READY" ]; then
        local was
        was=$(cat "$MOUNT/$KDC_READY")
        [ "$was" = "$stamp" ] || die "the realm folder was provisioned for $was," \
            "not for $stamp: start with the same REALM_DATA and KDC_HOST_PORT" \
            "and the same flavour (FLAVOR=ad: the ad profile's services dc and postgres-ad;" \
            "FLAVOR=trust: the trust profile's, with the same USER_KDC_HOST_PORT and BRANCH_KDC_HOST_PORT)," \
            "or delete the folder (as root: its files belong to the containers' accounts)"
        log "the realm folder is provisioned already: skipping init"
        # A container created anew may have another address than the one provisioned.
        if [ "$flavor" = ad ]; then realm readdress; fi
        return
    fi
    if [ -n "$(ls -A "$MOUNT")" ]; then
        # A run that stopped half-way: start again from nothing, but never wipe a folder
        # that is not a realm's.
        [ -e "$MOUNT/kdc" ] || [ -e "$MOUNT/samba" ] || [ -e "$MOUNT/krb5.conf" ] \
            || die "the realm folder $H is not empty and holds no realm: choose an empty folder"
        # A complete realm made outside docker (realm.sh init, aurora-krb realm up) has a
        # realm.env; a half-made docker one never has.
        [ ! -e "$MOUNT/realm.env" ] \
            || die "the realm folder $H holds a realm made outside docker: choose an empty folder"
        log "the realm folder holds a half-made realm: starting again"
        find "$MOUNT" -mindepth 1 -delete
    fi
    realm init-kdc
    realm init-tls
    printf '%s\n' "$stamp" > "$MOUNT/$KDC_READY"
}

# Waits for the kdc container's provisioning of the folder, for this container's settings.
wait_provisioned() {
    local i
    # compose starts this container once the KDC is healthy; the wait covers plain docker run.
    for i in $(seq 600); do
        [ -f "$MOUNT/$KDC_READY" ] && break
        [ "$i" = 600 ] && die "the kdc container did not provision the realm folder within 120 s"
        sleep 0.2
    done
    [ "$(cat "$MOUNT/$KDC_READY")" = "$stamp" ] \
        || die "the kdc container provisioned the folder for $(cat "$MOUNT/$KDC_READY"), not for $stamp"
}

provision_pg() {
    wait_provisioned
    if [ -f "$MOUNT/$PG_READY" ]; then
        log "PostgreSQL is provisioned already: skipping init"
    else
        rm -rf "$MOUNT/pgdata" "$MOUNT/run"
        realm init-pg
        : > "$MOUNT/$PG_READY"
    fi
    # Rewritten on every start: the published port may have changed.
    realm env > "$MOUNT/realm.env.tmp"
    mv "$MOUNT/realm.env.tmp" "$MOUNT/realm.env"
    chmod 644 "$MOUNT/realm.env"
}

case "$role" in
    kdc)
        provision_kdc
        hand_over
        if [ "$flavor" = ad ]; then
            log "Samba AD domain controller on $AD_ADDR for the realm in $H; clients reach its KDC at $CLIENT_KDC"
        else
            log "KDC for the realm in $H; clients reach it at $CLIENT_KDC"
        fi
        exec /usr/local/bin/realm.sh run-kdc
        ;;
    postgres)
        provision_pg
        hand_over
        log "PostgreSQL for the realm in $H; clients reach it at $CLIENT_PG_ADDR:$CLIENT_PG_PORT"
        exec /usr/local/bin/realm.sh run-pg
        ;;
    user-kdc | branch-kdc)
        # The kdc container made this realm's database and the trusts with the others.
        wait_provisioned
        log "KDC of the ${role%-kdc} realm in $H; clients reach it at" \
            "$(if [ "$role" = user-kdc ]; then echo "$CLIENT_USER_KDC"; else echo "$CLIENT_BRANCH_KDC"; fi)"
        exec /usr/local/bin/realm.sh "run-$role"
        ;;
esac
