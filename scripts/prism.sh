#!/usr/bin/env bash
# Starts a Prism mock server for an OpenAPI spec on loopback.
#
#   scripts/prism.sh SPEC PORT
#
# Installs @stoplight/prism-cli@5 with npm into a local folder when it is missing
# (PRISM_DIR, default target/prism), then runs `prism mock -h 127.0.0.1 -p PORT SPEC`
# in the foreground. Point THRONG_PRISM at "$PRISM_DIR/node_modules/.bin/prism" to
# enable tests/openapi_prism.rs.
set -euo pipefail

if [ "$#" -ne 2 ]; then
  echo "usage: $0 SPEC PORT" >&2
  exit 2
fi
spec=$1
port=$2
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${PRISM_DIR:-$root/target/prism}
prism=$dir/node_modules/.bin/prism

if [ ! -f "$spec" ]; then
  echo "$0: no such spec: $spec" >&2
  exit 2
fi
if [ ! -x "$prism" ]; then
  command -v npm >/dev/null || { echo "$0: npm is required to install Prism" >&2; exit 1; }
  mkdir -p "$dir"
  echo "installing @stoplight/prism-cli@5 into $dir" >&2
  npm install --no-save --no-audit --no-fund --prefix "$dir" @stoplight/prism-cli@5 >&2
fi
exec "$prism" mock -h 127.0.0.1 -p "$port" "$spec"
