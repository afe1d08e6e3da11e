#!/usr/bin/env bash
# Where does throng's CPU per request go? Profiles the one-step run against nginx (same setup as
# bench/run.sh: nginx on CPU 1, the generator on CPU 0, loopback only) and writes to bench/out/:
#   profile-perf.txt     perf record (cpu-clock, DWARF call graphs): top self / inclusive symbols
#   profile-stat.txt     perf stat of throng, oha and wrk on the same request count
#   profile-syscalls.txt strace -c: syscalls per request of throng, oha and wrk
#   profile-allocs.txt   valgrind DHAT: heap allocations per request (difference of two runs)
#   profile-idle.txt     valgrind DHAT: heap bytes per idle VU (difference of two idle runs)
#
#   bench/profile.sh                 # uses target/bench-profile (release + line tables)
#   THRONG=path bench/profile.sh     # an existing binary
# Needs perf (apt-get install linux-perf), strace, valgrind; cpu-clock works where hardware
# counters are not exposed (VMs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$HOME/.cargo/bin:$PATH"
N=${N:-100000}
OUT=${OUT:-$ROOT/bench/out}
mkdir -p "$OUT"
for t in perf strace valgrind; do
  command -v $t >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf strace valgrind >/dev/null; break; }
done
if [ -z "${THRONG:-}" ]; then
  CARGO_PROFILE_RELEASE_DEBUG=line-tables-only CARGO_TARGET_DIR=$ROOT/target/bench-profile \
    cargo build --release --quiet --bin throng
  THRONG=$ROOT/target/bench-profile/release/throng
fi
work=$(mktemp -d)
trap '[ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null; rm -rf "$work"' EXIT
. bench/lib.sh
start_nginx "$work"

echo "== perf stat (throng, oha, wrk)"
: > "$OUT/profile-stat.txt"
for tool in throng oha wrk; do
  case $tool in
    throng) cmd=(taskset -c 0 "$THRONG" run bench/one-step.yaml --base-url "$TARGET" --vus 50 --iterations "$N" --no-think --quiet) ;;
    oha) cmd=(taskset -c 0 oha -n "$N" -c 50 --no-tui --output-format json "$TARGET/health") ;;
    wrk) cmd=(taskset -c 0 wrk -t1 -c50 -d3s "$TARGET/health") ;;
  esac
  perf stat -e task-clock,context-switches,page-faults -o "$work/stat.$tool" -- "${cmd[@]}" > "$work/out.$tool" 2>&1
  reqs=$N; [ $tool = wrk ] && reqs=$(awk '/requests in/ {print $1}' "$work/out.$tool")
  { echo "== $tool ($reqs requests)"; grep -E "task-clock|context|faults|user|sys" "$work/stat.$tool"; } >> "$OUT/profile-stat.txt"
  python3 - "$work/stat.$tool" "$reqs" "$tool" <<'PY' | tee -a "$OUT/profile-stat.txt"
import re, sys
t = open(sys.argv[1]).read(); n = float(sys.argv[2])
u = float(re.search(r"([\d.]+) seconds user", t).group(1)); s = float(re.search(r"([\d.]+) seconds sys", t).group(1))
print(f"{sys.argv[3]}: {(u + s) * 1e6 / n:.2f} us/request (user {u * 1e6 / n:.2f}, sys {s * 1e6 / n:.2f})")
PY
done

echo "== strace -c (syscalls per request)"
: > "$OUT/profile-syscalls.txt"
strace -c -f -o "$work/st.throng" taskset -c 0 "$THRONG" run bench/one-step.yaml --base-url "$TARGET" --vus 50 --iterations 20000 --no-think --quiet >/dev/null 2>&1
strace -c -f -o "$work/st.oha" taskset -c 0 oha -n 20000 -c 50 --no-tui --output-format json "$TARGET/health" >/dev/null 2>&1
strace -c -f -o "$work/st.wrk" taskset -c 0 wrk -t1 -c50 -d1s "$TARGET/health" > "$work/wrk1" 2>&1
for t in throng oha wrk; do { echo "== $t"; head -12 "$work/st.$t"; } >> "$OUT/profile-syscalls.txt"; done
echo "(wrk: $(awk '/requests in/ {print $1}' "$work/wrk1") requests; throng and oha: 20000)" >> "$OUT/profile-syscalls.txt"

set +o pipefail # `perf report | head` ends with SIGPIPE
echo "== perf record (throng, $N requests)"
perf record -e cpu-clock -F 4000 --call-graph dwarf,16384 -o "$work/perf.data" -- \
  taskset -c 0 "$THRONG" run bench/one-step.yaml --base-url "$TARGET" --vus 50 --iterations "$N" --no-think --quiet >/dev/null 2>&1
{
  echo "== by DSO"; perf report -i "$work/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -8
  echo "== self (top 50)"; perf report -i "$work/perf.data" --no-children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -50
  echo "== inclusive, user space (top 80)"; perf report -i "$work/perf.data" --children --sort sym --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | grep -v '\[k\]' | head -80
} > "$OUT/profile-perf.txt"

echo "== DHAT: allocations per request (runs of 2000 and 6000 iterations)"
for n in 2000 6000; do
  valgrind --tool=dhat --dhat-out-file="$work/dhat.$n.json" "$THRONG" run bench/one-step.yaml --base-url "$TARGET" \
    --vus 50 --iterations $n --no-think --quiet >/dev/null 2>"$work/dhat.$n.err"
done
echo "== DHAT: heap per idle VU (200 and 1200 idle VUs)"
for n in 200 1200; do
  valgrind --tool=dhat --dhat-out-file="$work/idle.$n.json" "$THRONG" run bench/idle-vus.yaml --base-url "$TARGET" \
    --vus $n --duration 6s --grace 0s --quiet >/dev/null 2>"$work/idle.$n.err"
done
python3 - "$work" "$OUT" <<'PY'
import json, re, sys
w, out = sys.argv[1], sys.argv[2]
SKIP = ("alloc::alloc", "__rust", "malloc", "realloc", "calloc", "memalign", "raw_vec", "RawVec", "::alloc::",
        "exchange_malloc", "do_reserve", "grow_one", "finish_grow", "alloc_impl")
def key(d, pp):
    names = []
    for i in pp["fs"]:
        m = re.search(r": (.*?) \(", d["ftbl"][i]); name = m.group(1) if m else d["ftbl"][i]
        if any(s in name for s in SKIP): continue
        names.append(name[:110])
        if len(names) >= 3: break
    return " <- ".join(names)
def diff(a, b, per, count_key, bytes_key, title, path):
    A, B = json.load(open(a)), json.load(open(b))
    def agg(d):
        m = {}
        for pp in d["pps"]:
            t = m.setdefault(key(d, pp), [0, 0]); t[0] += pp.get(count_key, 0); t[1] += pp.get(bytes_key, 0)
        return m
    ma, mb = agg(A), agg(B)
    rows = sorted(((mb.get(k, [0, 0])[0] - ma.get(k, [0, 0])[0]) / per, (mb.get(k, [0, 0])[1] - ma.get(k, [0, 0])[1]) / per, k)
                  for k in set(ma) | set(mb))
    rows.reverse()
    lines = [title, f"{'blocks':>7} {'bytes':>8}  site (innermost first)"]
    lines += [f"{c:7.2f} {b:8.0f}  {k}" for c, b, k in rows[:25] if abs(c) >= 0.01 or abs(b) >= 1]
    lines.append(f"total: {sum(r[0] for r in rows):.1f} blocks, {sum(r[1] for r in rows):.0f} bytes")
    open(path, "w").write("\n".join(lines) + "\n"); print("\n".join(lines))
diff(f"{w}/dhat.2000.json", f"{w}/dhat.6000.json", 4000, "tbk", "tb", "heap allocations per request (one-step)", f"{out}/profile-allocs.txt")
diff(f"{w}/idle.200.json", f"{w}/idle.1200.json", 1000, "gbk", "gb", "heap per idle VU at the heap peak", f"{out}/profile-idle.txt")
PY
echo "written: $OUT/profile-*.txt"
