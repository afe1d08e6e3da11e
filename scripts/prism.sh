#!/usr/bin/env bash
# Starts a Prism mock server for an OpenAPI spec on loopback, or only installs Prism.
#
#   scripts/prism.sh SPEC PORT
#   scripts/prism.sh --install-only
#
# Installs @stoplight/prism-cli@5 with npm into a local folder when it is missing
# (PRISM_DIR, default target/prism), then runs `prism mock -h 127.0.0.1 -p PORT SPEC`
# in the foreground. With --install-only it installs, checks that the binary runs and
# prints its path on stdout (progress goes to stderr). Point THRONG_PRISM at
# "$PRISM_DIR/node_modules/.bin/prism" to enable tests/openapi_prism.rs.
set -euo pipefail

install_only=false
if [ "$#" -eq 1 ] && [ "$1" = "--install-only" ]; then
  install_only=true
elif [ "$#" -ne 2 ]; then
  echo "usage: $0 SPEC PORT | $0 --install-only" >&2
  exit 2
fi
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${PRISM_DIR:-$root/target/prism}
prism=$dir/node_modules/.bin/prism

if ! $install_only && [ ! -f "$1" ]; then
  echo "$0: no such spec: $1" >&2
  exit 2
fi
if [ ! -x "$prism" ]; then
  command -v npm >/dev/null || { echo "$0: npm is required to install Prism" >&2; exit 1; }
  mkdir -p "$dir"
  echo "installing @stoplight/prism-cli@5 into $dir" >&2
  npm install --no-save --no-audit --no-fund --prefix "$dir" @stoplight/prism-cli@5 >&2
fi
if $install_only; then
  version=$("$prism" --version) || { echo "$0: $prism does not run" >&2; exit 1; }
  echo "prism $version at $prism" >&2
  echo "$prism"
  exit 0
fi
exec "$prism" mock -h 127.0.0.1 -p "$2" "$1"
