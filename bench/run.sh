#!/usr/bin/env bash
# Side-by-side benchmarks of throng against peers measured in the same run, on loopback only
# (issue 8). Prints a table: target | throng | peer | ratio | limit | PASS/FAIL, with raw figures.
#
#   bench/run.sh               # every comparison, about 4 minutes after the build
#   QUICK=1 bench/run.sh       # shorter runs, one repetition: about 2 minutes after the build
#   RUNS=7 J_RUNS=5 bench/run.sh   # more repetitions of the one-step / journey comparisons (medians)
#   SKIP_BUILD=1 THRONG=path bench/run.sh   # use an existing binary
#
# Method: nginx (1 worker, keep-alive, access_log off) serves a 50-byte file on 127.0.0.1 pinned
# to CPU 1 (`taskset`); every load generator is pinned to CPU 0. CPU time (user + sys) comes from
# /usr/bin/time; the figure of merit is the generator's CPU microseconds per request. The server's
# own CPU use during each run is read from /proc, so "server-limited" is visible in the output.
# Everything it starts listens on 127.0.0.1 only and is stopped on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$HOME/.cargo/bin:$PATH"

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  RUNS=${RUNS:-1}; N=${N:-60000}; WRK_D=${WRK_D:-2}; J_ITER=${J_ITER:-3000}; L_TIME=${L_TIME:-10}
  O_DUR=${O_DUR:-10}; M_DUR=${M_DUR:-10}; S_DUR=${S_DUR:-30}
else
  RUNS=${RUNS:-5}; N=${N:-150000}; WRK_D=${WRK_D:-3}; J_ITER=${J_ITER:-10000}; L_TIME=${L_TIME:-20}
  O_DUR=${O_DUR:-20}; M_DUR=${M_DUR:-20}; S_DUR=${S_DUR:-60}
fi
J_RUNS=${J_RUNS:-$(( RUNS < 3 ? RUNS : 3 ))}
CONNS=50
RATE=${RATE:-20000}
IDLE_VUS=${IDLE_VUS:-10000}
CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target/bench-release}
OUT=${OUT:-$ROOT/bench/out}
mkdir -p "$OUT"

work=$(mktemp -d)
chmod 755 "$work" # nginx workers run as `nobody` and must read the document root
NGINX_PID=""; SHOP_PID=""; BG_PID=""
cleanup() {
  [ -n "$BG_PID" ] && kill "$BG_PID" 2>/dev/null || true
  [ -n "$SHOP_PID" ] && kill "$SHOP_PID" 2>/dev/null || true
  if [ -f "$work/nginx.pid" ]; then kill "$(cat "$work/nginx.pid")" 2>/dev/null || true; fi
  sleep 0.2
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

need() { command -v "$1" >/dev/null 2>&1; }
echo "== peers (installed if missing)"
if ! need wrk || ! need nginx || [ ! -x /usr/bin/time ] || ! need taskset; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk nginx-light time util-linux >/dev/null
fi
need oha || cargo install oha --locked --quiet
python3 -c 'import locust' 2>/dev/null || python3 -m pip install --quiet locust
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge $((IDLE_VUS + 1000)) ] || echo "warning: open-file limit $(ulimit -n) is below $IDLE_VUS VUs"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  echo "== building throng (release, CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  CARGO_TARGET_DIR=$CARGO_TARGET_DIR cargo build --release --quiet --bin throng
fi
THRONG=${THRONG:-$CARGO_TARGET_DIR/release/throng}

# --- nginx on a free port, pinned to CPU 1 (bench/lib.sh) ---
. bench/lib.sh
start_nginx "$work"
HZ=$(getconf CLK_TCK)

# cpu_ticks PID: user + system clock ticks of a process so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# measure NAME SERVER_PID CMD...: runs CMD pinned to CPU 0 under /usr/bin/time. Writes
# NAME.time ("user sys maxrss_kb wall_s rc") and NAME.srv (server CPU busy fraction).
measure() {
  local name=$1 spid=$2; shift 2
  local t0 rc=0; t0=$(cpu_ticks "$spid")
  /usr/bin/time -o "$work/$name.time.raw" -f "%U %S %M %e %x" taskset -c 0 "$@" > "$work/$name.out" 2> "$work/$name.err" || rc=$?
  local t1; t1=$(cpu_ticks "$spid")
  cp "$work/$name.time.raw" "$work/$name.time"
  python3 -c "import sys; w=float(open('$work/$name.time').read().split()[3]); print(($t1-$t0)/$HZ/max(w,1e-3))" > "$work/$name.srv"
  return 0
}
cpu_s() { awk '{print $1 + $2}' "$work/$1.time"; }
field() { awk -v i="$2" '{print $i}' "$work/$1.time"; }
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2], {}, {"d": d}))' "$1" "$2"; }
res() { echo "$1=$2" >> "$work/results.env"; }
: > "$work/results.env"
res commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
res dirty "$(git status --short crates 2>/dev/null | wc -l)"; res quick "$QUICK"; res runs "$RUNS"; res j_runs "$J_RUNS"; res n "$N"; res rate "$RATE"; res odur "$O_DUR"; res vus "$IDLE_VUS"; res load_start "$(cut -d' ' -f1-3 /proc/loadavg)"

echo "== one-step GET against nginx: $CONNS connections, $RUNS run(s) each, interleaved"
one_wrk() {
  measure wrk "$NGINX_WORKER" wrk -t1 -c$CONNS -d${WRK_D}s "$TARGET/health"
  reqs=$(awk '/requests in/ {print $1}' "$work/wrk.out")
  res "wrk.$1" "$(cpu_s wrk) $reqs $(awk '/Requests\/sec/ {print $2}' "$work/wrk.out") $(cat "$work/wrk.srv") $(field wrk 3)"
}
one_oha() {
  measure oha "$NGINX_WORKER" oha -n "$N" -c $CONNS --no-tui --output-format json "$TARGET/health"
  ok=$(jget "$work/oha.out" 'sum(v for k, v in d["statusCodeDistribution"].items() if k.startswith("2"))')
  res "oha.$1" "$(cpu_s oha) $ok $(jget "$work/oha.out" 'd["summary"]["requestsPerSec"]') $(cat "$work/oha.srv") $(field oha 3)"
}
one_throng() {
  measure throng "$NGINX_WORKER" "$THRONG" run bench/one-step.yaml --base-url "$TARGET" --vus $CONNS \
    --iterations "$N" --no-think --quiet --out "$work/t.json"
  ok=$(jget "$work/t.json" 'd["totals"]["requests"] - d["totals"]["failed_requests"]')
  res "throng.$1" "$(cpu_s throng) $ok $(jget "$work/t.json" 'd["totals"]["rps"]') $(cat "$work/throng.srv") $(field throng 3)"
}
tools=(wrk oha throng)
for run in $(seq "$RUNS"); do
  # The order rotates from run to run, so no tool always follows the same one.
  for i in 0 1 2; do
    "one_${tools[$(( (i + run - 1) % 3 ))]}" "$run"
    sleep 0.5
  done
  echo "   run $run: wrk $(awk '/Requests\/sec/ {print $2}' "$work/wrk.out") req/s, oha $(jget "$work/oha.out" 'round(d["summary"]["requestsPerSec"])') req/s, throng $(jget "$work/t.json" 'round(d["totals"]["rps"])') req/s"
done

echo "== ten-step shop journey: throng vs Locust FastHttpUser (shop pinned to CPU 1)"
taskset -c 1 "$THRONG" shop --addr 127.0.0.1:0 > "$work/shop.log" 2>&1 &
SHOP_PID=$!
for _ in $(seq 100); do grep -q listening "$work/shop.log" 2>/dev/null && break; sleep 0.1; done
SHOP=$(sed -n 's/^listening on //p' "$work/shop.log" | head -1)
[ -n "$SHOP" ] || { echo "the shop did not start"; cat "$work/shop.log"; exit 1; }
# Interleaved, J_RUNS times each; throng's J_ITER is sized to about the request count Locust
# reaches in L_TIME, so both spread their start-up over a similar amount of work.
j_throng() {
  measure journey "$SHOP_PID" "$THRONG" run fixtures/scenarios/shop-journey.yaml --base-url "$SHOP" --vus 20 \
    --iterations "$J_ITER" --no-think --quiet --out "$work/j.json"
  res "journey.$1" "$(cpu_s journey) $(jget "$work/j.json" 'd["totals"]["requests"]') $(jget "$work/j.json" 'd["totals"]["failed_requests"]') $(jget "$work/j.json" 'd["totals"]["rps"]') $(cat "$work/journey.srv")"
}
j_locust() {
  measure locust "$SHOP_PID" locust -f bench/locustfile.py --headless -u 20 -r 20 --run-time "${L_TIME}s" \
    --host "$SHOP" --only-summary --csv "$work/locust" --loglevel WARNING
  l_row=$(python3 - "$work/locust_stats.csv" <<'PY'
import csv, sys
r = [r for r in csv.DictReader(open(sys.argv[1])) if r["Name"] == "Aggregated"][0]
print(r["Request Count"], r["Failure Count"], r["Requests/s"])
PY
)
  res "locust.$1" "$(cpu_s locust) $l_row $(cat "$work/locust.srv")"
}
for run in $(seq "$J_RUNS"); do
  # Alternating which goes first.
  if [ $((run % 2)) = 1 ]; then j_throng "$run"; sleep 0.5; j_locust "$run"; else j_locust "$run"; sleep 0.5; j_throng "$run"; fi
  echo "   run $run: throng $(jget "$work/j.json" 'round(d["totals"]["rps"])') req/s, locust $(echo "$l_row" | awk '{printf "%d", $3}') req/s"
  sleep 0.5
done
kill "$SHOP_PID" 2>/dev/null || true; wait "$SHOP_PID" 2>/dev/null || true; SHOP_PID=""

echo "== open model: --rate $RATE/s for ${O_DUR}s against nginx"
measure open "$NGINX_WORKER" "$THRONG" run bench/one-step.yaml --base-url "$TARGET" --rate "$RATE/s" \
  --duration "${O_DUR}s" --max-vus 2000 --quiet --out "$work/o.json"
res open "$(cpu_s open) $(jget "$work/o.json" 'd["totals"]["iterations"] + d["totals"]["interrupted_iterations"]') $(jget "$work/o.json" 'd["totals"]["dropped_iterations"]') $(jget "$work/o.json" 'd["totals"]["failed_requests"]') $(jget "$work/o.json" 'd["totals"]["latency_ms"]["p99"]')"

echo "== memory: $IDLE_VUS VUs holding keep-alive connections in a think time (${M_DUR}s), and 100 as a baseline"
idle_run() { # idle_run NAME VUS
  measure "$1" "$NGINX_WORKER" "$THRONG" run bench/idle-vus.yaml --base-url "$TARGET" --vus "$2" \
    --duration "${M_DUR}s" --grace 0s --quiet --out "$work/$1.json" &
  local mpid=$!
  sleep $((M_DUR - 2))
  local est; est=$(ss -Htn state established "( dport = :$NGINX_PORT )" 2>/dev/null | wc -l || echo '?')
  wait $mpid
  res "$1" "$(field "$1" 3) $(jget "$work/$1.json" 'd["totals"]["requests"]') $(jget "$work/$1.json" 'd["connections"]["opened"]') $est $(cpu_s "$1")"
}
idle_run idle100 100
idle_run idle "$IDLE_VUS"

echo "== memory stability: ${S_DUR}s at full speed, RSS every 10 s"
taskset -c 0 "$THRONG" run bench/one-step.yaml --base-url "$TARGET" --vus $CONNS --duration "${S_DUR}s" \
  --no-think --quiet --out "$work/s.json" >/dev/null 2>&1 &
BG_PID=$!
series=""
for t in $(seq 10 10 "$S_DUR"); do
  if [ "$t" -ge "$S_DUR" ]; then sleep 9; else sleep 10; fi
  series+="$(awk '/VmRSS/ {print $2}' "/proc/$BG_PID/status" 2>/dev/null || echo 0),"
done
wait "$BG_PID" || true; BG_PID=""
res stability "$series"
res load_end "$(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$work/results.env" "$OUT" <<'PY'
import json, statistics, sys, time
env = {}
for line in open(sys.argv[1]):
    k, _, v = line.rstrip("\n").partition("=")
    env[k] = v
runs = int(env["runs"])
def one_step(tool):
    cpu_us, rps, srv, rss = [], [], [], []
    for r in range(1, runs + 1):
        c, n, rate, s, m = env[f"{tool}.{r}"].split()
        cpu_us.append(float(c) * 1e6 / float(n)); rps.append(float(rate)); srv.append(float(s)); rss.append(int(m))
    return statistics.median(cpu_us), statistics.median(rps), statistics.median(srv), max(rss), cpu_us
wrk, oha, thr = one_step("wrk"), one_step("oha"), one_step("throng")
j_runs = int(env["j_runs"])
def journey(tool):
    runs_ = [env[f"{tool}.{r}"].split() for r in range(1, j_runs + 1)]
    us = [float(r[0]) * 1e6 / max(float(r[1]), 1) for r in runs_]
    # The run whose CPU per request is the median, for its raw figures.
    mid = sorted(range(j_runs), key=lambda i: us[i])[j_runs // 2]
    return statistics.median(us), runs_[mid], us
j_us, (jc, jn, jf, jr, jsrv), j_all = journey("journey")
l_us, (lc, ln, lf, lr, lsrv), l_all = journey("locust")
ocpu, ostarted, odrop, ofail, op99 = env["open"].split()
quick = env["quick"] == "1"
odur = int(env["odur"])
rate = int(env["rate"])
achieved = float(ostarted) / odur
m_rss, m_reqs, m_conns, m_est, m_cpu = env["idle"].split()
b_rss, *_ = env["idle100"].split()
vus = int(env["vus"])
per_vu_kb = (int(m_rss) - int(b_rss)) / (vus - 100)
series = [int(x) for x in env["stability"].strip(",").split(",") if x]
r10, rend = series[0], series[-1]

rows = []
def row(target, throng, peer, ratio, limit, ok):
    rows.append((target, throng, peer, f"{ratio:.3f}" if ratio is not None else "-", limit, "PASS" if ok else "FAIL"))
row("one-step CPU/req vs oha", f"{thr[0]:.2f} us", f"{oha[0]:.2f} us", thr[0] / oha[0], "<= 1.0", thr[0] <= oha[0])
row("one-step CPU/req vs wrk", f"{thr[0]:.2f} us", f"{wrk[0]:.2f} us", thr[0] / wrk[0], "<= 1.2", thr[0] / wrk[0] <= 1.2)
row("one-step throughput vs wrk", f"{thr[1]:,.0f}/s (nginx {thr[2]:.0%})", f"{wrk[1]:,.0f}/s (nginx {wrk[2]:.0%})",
    thr[1] / wrk[1], ">= 0.9", thr[1] / wrk[1] >= 0.9)
row("journey CPU/req vs Locust FastHttpUser", f"{j_us:.2f} us", f"{l_us:.2f} us", j_us / l_us, "<= 0.1", j_us / l_us <= 0.1)
row("journey CPU/req vs throng one-step", f"{j_us:.2f} us", f"{thr[0]:.2f} us", j_us / thr[0], "<= 2.0", j_us / thr[0] <= 2.0)
row(f"open model {rate}/s for {odur}s", f"{achieved:,.0f}/s, {odrop} dropped", f"{rate:,}/s", achieved / rate,
    "+-1%, 0 dropped", abs(achieved / rate - 1) <= 0.01 and int(odrop) == 0)
row(f"{vus:,} idle VUs: max RSS", f"{int(m_rss)/1024:.0f} MiB ({m_conns} conns)", "500 MiB", int(m_rss) / 1024 / 500,
    "<= 1.0", int(m_rss) / 1024 <= 500 and int(m_reqs) >= vus)
row(f"RSS at end vs at 10 s ({len(series)*10}s run)", f"{rend/1024:.1f} MiB", f"{r10/1024:.1f} MiB", rend / r10, "<= 1.10", rend / r10 <= 1.10)

hdr = ("target", "throng", "peer / reference", "ratio", "limit", "result")
w = [max(len(str(r[i])) for r in rows + [hdr]) for i in range(6)]
lines = ["| " + " | ".join(str(c).ljust(w[i]) for i, c in enumerate(hdr)) + " |",
         "|" + "|".join("-" * (x + 2) for x in w) + "|"]
lines += ["| " + " | ".join(str(c).ljust(w[i]) for i, c in enumerate(r)) + " |" for r in rows]
raw = [
    "",
    f"commit {env['commit']}, {'QUICK' if quick else 'full'} mode, load average at start {env['load_start']}, at end {env['load_end']}",
    f"one-step (median of {runs}; all runs us/req): wrk {', '.join(f'{x:.2f}' for x in wrk[4])} | oha {', '.join(f'{x:.2f}' for x in oha[4])} | throng {', '.join(f'{x:.2f}' for x in thr[4])}",
    f"one-step req/s: wrk {wrk[1]:,.0f}, oha {oha[1]:,.0f}, throng {thr[1]:,.0f}; nginx worker busy: wrk {wrk[2]:.0%}, oha {oha[2]:.0%}, throng {thr[2]:.0%}; max RSS: wrk {wrk[3]/1024:.1f} MiB, oha {oha[3]/1024:.1f} MiB, throng {thr[3]/1024:.1f} MiB",
    f"journey (median of {j_runs}; all runs us/req): throng {', '.join(f'{x:.2f}' for x in j_all)} | locust {', '.join(f'{x:.2f}' for x in l_all)}",
    f"journey, median runs: throng {jn} requests ({jf} failed) in {float(jc):.2f} s CPU, {float(jr):,.0f} req/s, shop busy {float(jsrv):.0%}; "
    f"locust {ln} requests ({lf} failed) in {float(lc):.2f} s CPU, {float(lr):,.0f} req/s, shop busy {float(lsrv):.0%}",
    f"open model: {ostarted} iterations started, {odrop} dropped, {ofail} failed, p99 {op99} ms, CPU {float(ocpu):.2f} s",
    f"idle VUs: {m_reqs} requests, {m_conns} connections opened, {m_est} established near the end; max RSS {int(m_rss)/1024:.1f} MiB "
    f"(100 VUs: {int(b_rss)/1024:.1f} MiB) => {per_vu_kb:.1f} KiB per idle VU",
    f"RSS every 10 s of the full-speed run (MiB): {', '.join(f'{x/1024:.1f}' for x in series)}",
]
text = "\n".join(lines + raw)
print()
print(text)
stamp = time.strftime("%Y%m%d-%H%M%S")
open(f"{sys.argv[2]}/run-{stamp}.md", "w").write(text + "\n")
json.dump(env, open(f"{sys.argv[2]}/run-{stamp}.env.json", "w"), indent=1)
print(f"\n(saved as {sys.argv[2]}/run-{stamp}.md)")
PY
