#!/usr/bin/env bash
# The main job, from a fresh clone: installs what is missing, builds aurora-krb, starts the
# local test realm (an MIT KDC and a PostgreSQL configured like Aurora) and runs
# `aurora-krb check` against it as alice.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
cargo build -p aurora-krb
bin=${CARGO_TARGET_DIR:-target}/debug/aurora-krb

dir=${AURORA_KRB_REALM_DIR:-}
"$bin" realm up ${dir:+--dir "$dir"}
# The realm's own client environment: its krb5.conf, never the machine's.
eval "$("$bin" realm env ${dir:+--dir "$dir"})"
realm_dir=$(dirname "$KRB5_CONFIG")
kinit "$PGUSER" < "$realm_dir/secrets/alice.password" >/dev/null
echo
echo "\$ aurora-krb check    # as $PGUSER, against $PGHOST (dialled at $PGHOSTADDR:$PGPORT)"
exec "$bin" check
