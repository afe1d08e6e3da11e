#!/usr/bin/env bash
# Installs Debian's Chromium and playwright-core (which ships and downloads no browser) for the
# browser tests. Prints the folder whose node_modules holds playwright-core.
set -euo pipefail
dir=${THRONG_PLAYWRIGHT_DIR:-${TMPDIR:-/tmp}/throng-playwright}
if [ ! -x /usr/bin/chromium ]; then
  apt-get update -qq >&2 && apt-get install -y -qq chromium >&2
fi
command -v node >/dev/null || { apt-get update -qq >&2 && apt-get install -y -qq nodejs npm >&2; }
if [ ! -d "$dir/node_modules/playwright-core" ]; then
  mkdir -p "$dir"
  (cd "$dir" && npm install --no-save --no-audit --no-fund --loglevel=error playwright-core >&2)
fi
echo "$dir"
