#!/usr/bin/env bash
# Creates the local image debian:bookworm-slim (or debian:trixie-slim, SUITE=trixie) when
# the Docker engine does not have it.
#
# On a normal machine `docker compose build` pulls debian:bookworm-slim from Docker Hub and
# this script is not needed. Where no image registry is reachable (CI, sandboxes) it builds
# an equivalent image from Debian's own package mirror: a minbase root filesystem made by
# mmdebstrap, with documentation left out and no recommended packages, as the official slim
# image is, and `docker import`ed under the same name. The packages the realm's Dockerfiles
# install are already in it, so building them needs no network: for bookworm those of kdc,
# postgres and the Samba AD DC of the ad profile; for trixie (Debian 13, the first with
# PostgreSQL 17) those of postgres17, the pg17 profile's server.
#
# An image this script made earlier with another package list (its comment names the list)
# is made again; an image it did not make (Docker Hub's) is left alone.
#
# Usage: docker/make-base-image.sh [--force]
#        SUITE=trixie docker/make-base-image.sh
#   --force   build and import again even when the image exists (the tarball cache is
#             still used; delete the cache folder to fetch the packages anew)
#
# Settings (environment):
#   SUITE                   Debian's release: bookworm (the default) or trixie
#   BASE_IMAGE              the image to create (debian:SUITE-slim)
#   DEBIAN_MIRROR           Debian's mirror (http://deb.debian.org/debian)
#   DEBIAN_SECURITY_MIRROR  the security mirror (http://deb.debian.org/debian-security)
#   AURORA_KRB_CACHE        where the root filesystem tarball is kept between runs
#                           (${XDG_CACHE_HOME:-~/.cache}/aurora-krb)
set -euo pipefail

SUITE=${SUITE:-bookworm}
IMAGE=${BASE_IMAGE:-debian:$SUITE-slim}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
CACHE=${AURORA_KRB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/aurora-krb}

die() { echo "make-base-image.sh: $*" >&2; exit 1; }

case "$SUITE" in
    bookworm)
        # What docker/kdc/Dockerfile, docker/postgres/Dockerfile and docker/dc/Dockerfile
        # install; keep the lists in step.
        PACKAGES="krb5-kdc krb5-admin-server krb5-user openssl postgresql util-linux"
        PACKAGES+=" samba samba-ad-dc samba-ad-provision winbind iproute2 procps"
        ;;
    trixie)
        # What docker/postgres17/Dockerfile installs (PostgreSQL 17 is trixie's postgresql);
        # the pg17 profile's KDC is the bookworm one.
        PACKAGES="openssl postgresql util-linux"
        ;;
    *) die "SUITE=$SUITE: the suites are bookworm (the default) and trixie" ;;
esac
MESSAGE="aurora-krb: Debian $SUITE minbase with $PACKAGES"

force=0
case "${1:-}" in
    "") ;;
    --force) force=1 ;;
    *) die "unknown argument '$1': the only option is --force" ;;
esac

command -v docker >/dev/null 2>&1 || die "docker not found: install Docker Engine (Debian: apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "the Docker daemon does not answer: start it (systemctl start docker) or check your access to its socket"

# 0 when the image is present and current: made elsewhere (Docker Hub's: the Dockerfiles
# install what they need), or made here with the current package list.
current() {
    local comment
    comment=$(docker image inspect -f '{{.Comment}}' "$IMAGE" 2>/dev/null) || return 1
    case "$comment" in
        "$MESSAGE") return 0 ;;
        aurora-krb:*) echo "make-base-image.sh: $IMAGE was made with another package list: making it again"; return 1 ;;
        *) return 0 ;;
    esac
}

if [ "$force" = 0 ] && current; then
    echo "make-base-image.sh: $IMAGE is already present"
    exit 0
fi

mkdir -p "$CACHE"
# Two test runs may ask for the image at once: one builds it, the other waits and reuses it.
exec 9>"$CACHE/make-base-image.lock"
flock 9
if [ "$force" = 0 ] && current >/dev/null; then
    echo "make-base-image.sh: $IMAGE is already present"
    exit 0
fi

SOURCES=(
    "deb $MIRROR $SUITE main"
    "deb $MIRROR $SUITE-updates main"
    "deb $SECURITY_MIRROR $SUITE-security main"
)
# The tarball's name carries what went into it, so a changed package list builds anew.
key=$(printf '%s\n' "$PACKAGES" "${SOURCES[@]}" | sha256sum | cut -c1-12)
tarball=$CACHE/$SUITE-slim-$key.tar

if [ ! -s "$tarball" ]; then
    if ! command -v mmdebstrap >/dev/null 2>&1; then
        [ "$(id -u)" = 0 ] || die "mmdebstrap not found: install it (sudo apt-get install --no-install-recommends mmdebstrap)"
        echo "make-base-image.sh: installing mmdebstrap"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap >/dev/null \
            || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap >/dev/null; } \
            || die "could not install mmdebstrap with apt-get"
    fi
    echo "make-base-image.sh: building a Debian $SUITE root filesystem with: $PACKAGES"
    start=$(date +%s)
    rm -f "$tarball.tmp"
    # The dpkg and apt options stay in the image (as in the official slim image), so that
    # anything installed later also comes without documentation and recommends.
    # postgresql-common would create and keep a "main" cluster; the realm makes its own.
    # shellcheck disable=SC2016 # the hook's shell expands $1 (the new root), not this one
    mmdebstrap --variant=minbase --format=tar --quiet \
        --include="$(printf '%s' "$PACKAGES" | tr ' ' ',')" \
        --aptopt='APT::Install-Recommends "false"' \
        --aptopt='APT::Install-Suggests "false"' \
        --dpkgopt='path-exclude=/usr/share/doc/*' \
        --dpkgopt='path-include=/usr/share/doc/*/copyright' \
        --dpkgopt='path-exclude=/usr/share/man/*' \
        --dpkgopt='path-exclude=/usr/share/info/*' \
        --dpkgopt='path-exclude=/usr/share/locale/*' \
        --dpkgopt='path-exclude=/usr/share/lintian/*' \
        --essential-hook='mkdir -p "$1/etc/postgresql-common/createcluster.d" && echo "create_main_cluster = false" > "$1/etc/postgresql-common/createcluster.d/aurora-krb.conf"' \
        "$SUITE" "$tarball.tmp" "${SOURCES[@]}" \
        || { rm -f "$tarball.tmp"; die "mmdebstrap failed: is Debian's mirror ($MIRROR) reachable?"; }
    mv "$tarball.tmp" "$tarball"
    echo "make-base-image.sh: root filesystem ready in $(( $(date +%s) - start ))s ($(du -h "$tarball" | cut -f1))"
    # Older tarballs of other package lists are of no further use.
    find "$CACHE" -maxdepth 1 -name "$SUITE-slim-*.tar" ! -name "${tarball##*/}" -delete
fi

echo "make-base-image.sh: importing $tarball as $IMAGE"
docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --message "$MESSAGE" \
    "$tarball" "$IMAGE" >/dev/null
echo "make-base-image.sh: $IMAGE created"
