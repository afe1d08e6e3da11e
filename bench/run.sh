#!/usr/bin/env bash
# Side-by-side benchmarks of throng against peers measured in the same run, on loopback only.
# Prints a table of ratios (throng / peer) with raw figures and PASS/FAIL per target of issue 8.
#
#   bench/run.sh            # all comparisons (about 5 minutes after the builds)
#   RUNS=5 bench/run.sh     # more repetitions per tool (medians are reported)
#
# Method: nginx (1 worker, keep-alive, access log off) serves a 50-byte file on 127.0.0.1 pinned to
# CPU 1; every load generator is pinned to CPU 0 (taskset). CPU time (user + sys) comes from
# /usr/bin/time; the figure of merit is the generator's CPU microseconds per request.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUNS=${RUNS:-3}
N=${N:-100000}
CONNS=50
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; rm -rf "$work"' EXIT

need() { command -v "$1" >/dev/null 2>&1; }
echo "== installing peers if missing"
if ! need wrk || ! need nginx || [ ! -x /usr/bin/time ]; then
  apt-get update -qq && apt-get install -y -qq wrk nginx-light time >/dev/null
fi
need oha || cargo install oha --locked --quiet
python3 -c 'import locust' 2>/dev/null || python3 -m pip install --quiet locust
ulimit -n 65536 || true

echo "== building throng (release)"
cargo build --release --quiet --bin throng
THRONG=$ROOT/target/release/throng

# --- nginx on a free port, pinned to CPU 1 ---
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/www" "$work/logs"
printf '%050d' 0 > "$work/www/health"
cat > "$work/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 65536;
pid $work/nginx.pid;
error_log $work/logs/error.log;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 100000000;
  client_body_temp_path $work/tmp; proxy_temp_path $work/tmp; fastcgi_temp_path $work/tmp; uwsgi_temp_path $work/tmp; scgi_temp_path $work/tmp;
  server { listen 127.0.0.1:$port; location / { root $work/www; default_type application/json; } }
}
CONF
mkdir -p "$work/tmp"
taskset -c 1 nginx -c "$work/nginx.conf" -p "$work"
TARGET=http://127.0.0.1:$port
for _ in $(seq 50); do curl -sf "$TARGET/health" >/dev/null && break; sleep 0.1; done

# timed CMD...: runs pinned to CPU 0; prints "cpu_seconds max_rss_kb wall_seconds" to $work/time
timed() { /usr/bin/time -o "$work/time" -f "%U %S %M %e" taskset -c 0 "$@"; }
cpu_s() { awk '{print $1 + $2}' "$work/time"; }
rss_kb() { awk '{print $3}' "$work/time"; }
wall_s() { awk '{print $4}' "$work/time"; }
median() { python3 -c 'import sys,statistics; print(statistics.median(float(x) for x in sys.argv[1:]))' "$@"; }
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$1" "$2"; }

declare -A CPU RPS
for tool in wrk oha throng; do CPU[$tool]=""; RPS[$tool]=""; done
echo "== one-step GET, $CONNS connections, $N requests, $RUNS runs each (interleaved)"
for run in $(seq "$RUNS"); do
  timed wrk -t1 -c$CONNS -d3s "$TARGET/health" > "$work/wrk.out"
  reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  CPU[wrk]+=" $(python3 -c "print($(cpu_s) * 1e6 / $reqs)")"; RPS[wrk]+=" $(awk '/Requests\/sec/ {print $2}' "$work/wrk.out")"
  sleep 1
  timed oha -n "$N" -c $CONNS --no-tui --output-format json "$TARGET/health" > "$work/oha.json"
  ok=$(jget "$work/oha.json" 'sum(v for k, v in d["statusCodeDistribution"].items() if k.startswith("2"))')
  CPU[oha]+=" $(python3 -c "print($(cpu_s) * 1e6 / $ok)")"; RPS[oha]+=" $(jget "$work/oha.json" 'd["summary"]["requestsPerSec"]')"
  sleep 1
  timed "$THRONG" run bench/one-step.yaml --base-url "$TARGET" --vus $CONNS --iterations "$N" --no-think --quiet --out "$work/t.json" >/dev/null
  reqs=$(jget "$work/t.json" 'd["totals"]["requests"] - d["totals"]["failed_requests"]')
  CPU[throng]+=" $(python3 -c "print($(cpu_s) * 1e6 / $reqs)")"; RPS[throng]+=" $(jget "$work/t.json" 'd["totals"]["rps"]')"
  sleep 1
done
declare -A CPUM RPSM
for tool in wrk oha throng; do CPUM[$tool]=$(median ${CPU[$tool]}); RPSM[$tool]=$(median ${RPS[$tool]}); done

echo "== ten-step shop journey vs Locust FastHttpUser"
shop_log="$work/shop.log"
taskset -c 1 "$THRONG" shop --addr 127.0.0.1:0 > "$shop_log" &
for _ in $(seq 50); do grep -q listening "$shop_log" 2>/dev/null && break; sleep 0.1; done
SHOP=$(head -1 "$shop_log" | sed 's/listening on //')
timed "$THRONG" run fixtures/scenarios/shop-journey.yaml --base-url "$SHOP" --vus 20 --iterations 2000 --no-think --quiet --out "$work/j.json" >/dev/null
j_reqs=$(jget "$work/j.json" 'd["totals"]["requests"]')
j_failed=$(jget "$work/j.json" 'd["totals"]["failed_requests"]')
J_CPU=$(python3 -c "print($(cpu_s) * 1e6 / $j_reqs)")
timed locust -f bench/locustfile.py --headless -u 20 -r 20 --run-time 20s --host "$SHOP" --only-summary --csv "$work/locust" >/dev/null 2>&1 || true
l_reqs=$(python3 -c "import csv; print([r for r in csv.DictReader(open('$work/locust_stats.csv')) if r['Name']=='Aggregated'][0]['Request Count'])")
L_CPU=$(python3 -c "print($(cpu_s) * 1e6 / $l_reqs)")

echo "== open model: --rate 20000/s for 20 s against nginx"
timed "$THRONG" run bench/one-step.yaml --base-url "$TARGET" --rate 20000/s --duration 20s --max-vus 2000 --quiet --out "$work/o.json" >/dev/null
O_RPS=$(jget "$work/o.json" 'd["totals"]["iterations"] / 20.0')
O_DROP=$(jget "$work/o.json" 'd["totals"]["dropped_iterations"]')

echo "== memory: 10,000 VUs holding keep-alive connections in a think time"
timed "$THRONG" run bench/idle-vus.yaml --base-url "$TARGET" --vus 10000 --duration 20s --grace 0s --quiet --out "$work/m.json" >/dev/null
M_RSS=$(rss_kb)
M_REQS=$(jget "$work/m.json" 'd["totals"]["requests"]')

echo "== memory stability: 60 s at full speed, RSS at 10 s vs at the end"
taskset -c 0 "$THRONG" run bench/one-step.yaml --base-url "$TARGET" --vus $CONNS --duration 60s --no-think --quiet --out "$work/s.json" >/dev/null &
spid=$!
sleep 10; RSS10=$(awk '/VmRSS/ {print $2}' /proc/$spid/status)
sleep 49; RSS59=$(awk '/VmRSS/ {print $2}' /proc/$spid/status)
wait $spid || true

python3 - "$work" <<PY
w = "${CPUM[wrk]}"; o = "${CPUM[oha]}"; t = "${CPUM[throng]}"
wrk, oha, thr = float(w), float(o), float(t)
rw, rt = float("${RPSM[wrk]}"), float("${RPSM[throng]}")
jc, lc = float("$J_CPU"), float("$L_CPU")
orps, odrop = float("$O_RPS"), int(float("$O_DROP"))
mrss, mreqs = int("$M_RSS"), int(float("$M_REQS"))
r10, r59 = int("$RSS10"), int("$RSS59")
rows = [
  ("one-step CPU/req vs oha", f"{thr:.2f} / {oha:.2f} us", thr / oha, thr / oha <= 1.0),
  ("one-step CPU/req vs wrk", f"{thr:.2f} / {wrk:.2f} us", thr / wrk, thr / wrk <= 1.2),
  ("one-step throughput vs wrk", f"{rt:,.0f} / {rw:,.0f} req/s", rt / rw, rt / rw >= 0.9),
  ("journey CPU/req vs Locust FastHttpUser", f"{jc:.2f} / {lc:.2f} us", jc / lc, jc / lc <= 0.1),
  ("journey CPU/req vs throng one-step", f"{jc:.2f} / {thr:.2f} us", jc / thr, jc / thr <= 2.0),
  ("open model 20000/s achieved", f"{orps:,.0f}/s, {odrop} dropped", orps / 20000, abs(orps / 20000 - 1) <= 0.01 and odrop == 0),
  ("10,000 idle VUs RSS (limit 500 MB)", f"{mrss/1024:.0f} MiB, {mreqs} requests", mrss / 1024 / 500, mrss / 1024 <= 500 and mreqs >= 10000),
  ("RSS at 60 s vs at 10 s", f"{r59/1024:.1f} / {r10/1024:.1f} MiB", r59 / r10, r59 / r10 <= 1.10),
]
print()
print(f"{'target':42} {'raw (throng / peer)':32} {'ratio':>7}  result")
for name, raw, ratio, ok in rows:
    print(f"{name:42} {raw:32} {ratio:7.3f}  {'PASS' if ok else 'FAIL'}")
print(f"\njourney: $j_reqs requests, $j_failed failed; medians of $RUNS runs for the one-step rows")
PY
