#!/usr/bin/env bash
# Records a real browser session against the bundled shop's storefront into a
# HAR file (default fixtures/har/shop-checkout.har) using system Chromium
# driven by playwright-core. Never downloads a browser build.
#
# Usage: scripts/record-storefront-har.sh [OUTPUT.har]
# Env:   THRONG_SHOP_CMD  command that serves the shop and prints
#                         "listening on http://ADDR" first (default: the
#                         throng-shop `serve` example, or `throng shop` once it exists)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/fixtures/har/shop-checkout.har}
PW_DIR=${THRONG_PLAYWRIGHT_DIR:-${TMPDIR:-/tmp}/throng-playwright}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}

need_apt_update=1
apt_install() {
  if [ "$need_apt_update" = 1 ]; then apt-get update -qq; need_apt_update=0; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
[ -x "$CHROMIUM" ] || apt_install chromium
command -v node >/dev/null && command -v npm >/dev/null || apt_install nodejs npm
if [ ! -d "$PW_DIR/node_modules/playwright-core" ]; then
  mkdir -p "$PW_DIR"
  # playwright-core ships no browser and downloads none.
  (cd "$PW_DIR" && npm install --no-save --no-audit --no-fund --loglevel=error playwright-core >/dev/null)
fi

WORK=$(mktemp -d)
SHOP_PID=
cleanup() {
  if [ -n "$SHOP_PID" ]; then kill "$SHOP_PID" 2>/dev/null || true; wait "$SHOP_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ -n "${THRONG_SHOP_CMD:-}" ]; then
  read -r -a SHOP_CMD <<<"$THRONG_SHOP_CMD"
elif "$ROOT/target/debug/throng" shop --help >/dev/null 2>&1; then
  SHOP_CMD=("$ROOT/target/debug/throng" shop --addr 127.0.0.1:0)
else
  (cd "$ROOT" && cargo build -q -p throng-shop --example serve)
  SHOP_CMD=("$ROOT/target/debug/examples/serve" 127.0.0.1:0)
fi
"${SHOP_CMD[@]}" >"$WORK/shop.log" 2>&1 &
SHOP_PID=$!
BASE=
for _ in $(seq 1 100); do
  BASE=$(sed -n 's/^listening on \(http:\/\/[^ ]*\).*/\1/p' "$WORK/shop.log" | head -n1)
  [ -n "$BASE" ] && break
  kill -0 "$SHOP_PID" 2>/dev/null || { cat "$WORK/shop.log" >&2; echo "shop exited early" >&2; exit 1; }
  sleep 0.1
done
[ -n "$BASE" ] || { echo "shop did not report its address" >&2; exit 1; }
case "$BASE" in http://127.*) ;; *) echo "refusing non-loopback shop address $BASE" >&2; exit 1 ;; esac
echo "shop at $BASE"

mkdir -p "$(dirname "$OUT")"
PLAYWRIGHT_DIR="$PW_DIR" CHROMIUM="$CHROMIUM" SHOP_URL="$BASE" HAR_OUT="$WORK/out.har" \
  USER_DATA_DIR="$WORK/profile" node "$ROOT/scripts/record-storefront.mjs"

# Tidy the HAR so the fixture is small and stable to diff: drop timing-only
# noise fields and pretty-print.
node -e '
const fs = require("fs");
const har = JSON.parse(fs.readFileSync(process.argv[1], "utf8"));
for (const e of har.log.entries) { delete e._frameref; delete e._monotonicTime; delete e.response?._transferSize; }
fs.writeFileSync(process.argv[2], JSON.stringify(har, null, 1) + "\n");
' "$WORK/out.har" "$OUT"

node -e '
const har = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
const es = har.log.entries;
const has = (m, re, pred = () => true) => es.some(e => e.request.method === m && re.test(new URL(e.request.url).pathname) && pred(e));
const auth = e => e.request.headers.some(h => h.name.toLowerCase() === "authorization" && /^Bearer \S+\.\S+\.\S+$/.test(h.value));
const checks = {
  "POST /auth/register": has("POST", /^\/auth\/register$/, e => e.response.status === 201),
  "POST /cart/items x2 with bearer token": es.filter(e => e.request.method === "POST" && /^\/cart\/items$/.test(new URL(e.request.url).pathname) && auth(e) && e.response.status === 201).length >= 2,
  "PUT /cart/items/{id}": has("PUT", /^\/cart\/items\/item-\d+$/, auth),
  "POST /checkout": has("POST", /^\/checkout$/, e => auth(e) && e.response.status === 201),
  "GET /orders/{id}": has("GET", /^\/orders\/order-\d+$/, e => auth(e) && e.response.status === 200),
};
let ok = true;
for (const [k, v] of Object.entries(checks)) { console.log((v ? "ok   " : "FAIL ") + k); ok = ok && v; }
console.log(es.length + " entries");
process.exit(ok ? 0 : 1);
' "$OUT"
echo "wrote $OUT ($(wc -c <"$OUT") bytes)"
