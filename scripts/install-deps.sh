#!/usr/bin/env bash
# Installs what aurora-krb needs to build and to run its test realm, where it is missing:
# Debian's packages (apt-get) and moto for the AWS API tests (pip). Safe to run again.
set -euo pipefail

# Build: libgssapi-sys runs bindgen against MIT krb5's headers.
BUILD_PKGS="pkg-config libkrb5-dev libclang-dev clang"
# The test realm: an MIT KDC, its admin tools and client tools, PostgreSQL, openssl.
REALM_PKGS="krb5-kdc krb5-admin-server krb5-user postgresql postgresql-client openssl util-linux iproute2 procps"
# The clock-skew fault of the check tests runs a client under a shifted clock; the CLI's
# completion scripts are loaded in each shell, and its manual page rendered by man.
# The fenced-writer test drops a writer's packets with iptables; the IAM realm's PAM verifier
# is a python3 script run by pam_exec (libpam-modules).
TEST_PKGS="faketime zsh fish man-db iptables python3 libpam-modules"
# The Active Directory flavour of the realm.
AD_PKGS="${AURORA_KRB_AD_PKGS-samba samba-ad-dc samba-ad-provision winbind}"
# Making the docker base image without a registry.
DOCKER_PKGS="${AURORA_KRB_DOCKER_PKGS-mmdebstrap}"

sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Compose for the docker realm. The compose file is for v2 (`docker compose`) and 1.29
# (`docker-compose`), and the tests run it with each one installed: bookworm packages 1.29;
# v2 is Debian's too, from trixie (its docker-compose 2.x needs only libc6 >= 2.34). Its
# package would replace 1.29, so its plugin binary is unpacked beside it instead.
if command -v docker >/dev/null 2>&1; then
    DOCKER_PKGS+=" docker-compose"
fi
install_compose_v2() {
    command -v docker >/dev/null 2>&1 || return 0
    docker compose version >/dev/null 2>&1 && return 0
    [ "${AURORA_KRB_COMPOSE_V2-1}" = 1 ] || return 0
    echo "installing compose v2 (docker compose) from Debian trixie's docker-compose package"
    local t
    t=$(mktemp -d)
    mkdir -p "$t/lists/partial" "$t/cache/archives/partial"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian trixie main" >"$t/sources.list"
    local apt_opts=(-o "Dir::Etc::SourceList=$t/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$t/lists" -o "Dir::Cache=$t/cache" -o APT::Sandbox::User=root)
    if (cd "$t" && apt-get "${apt_opts[@]}" update -qq && apt-get "${apt_opts[@]}" download -qq docker-compose) \
        && dpkg-deb -x "$t"/docker-compose_2*.deb "$t/root"; then
        sudo_ install -D -m 0755 "$t/root/usr/libexec/docker/cli-plugins/docker-compose" \
            /usr/local/lib/docker/cli-plugins/docker-compose
    else
        echo "compose v2 could not be installed; the docker tests run with docker-compose 1.29 only" >&2
    fi
    rm -rf "$t"
}

missing=""
for p in $BUILD_PKGS $REALM_PKGS $TEST_PKGS $AD_PKGS $DOCKER_PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=" $p"
done
if [ -n "$missing" ]; then
    echo "installing:$missing"
    sudo_ apt-get update -qq
    # The machine's own services must not start: the realm runs its own, on its own ports.
    sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

install_compose_v2

if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install Rust 1.94 or newer with rustup (https://rustup.rs), then run this again" >&2
    exit 1
fi

if ! command -v moto_server >/dev/null 2>&1; then
    echo "installing moto[server] (AWS API server for the domain tests)"
    python3 -m pip install -q "moto[server]" || sudo_ python3 -m pip install -q "moto[server]"
fi
# The Prometheus output of `check` is parsed with the official client's parser.
if ! python3 -c "import prometheus_client" >/dev/null 2>&1; then
    echo "installing prometheus-client (parses the check's Prometheus output in the tests)"
    python3 -m pip install -q prometheus-client || sudo_ python3 -m pip install -q prometheus-client
fi
