#!/usr/bin/env bash
# User-space instructions per request of throng builds, counted by callgrind: the figure to
# trust for a change to the request path on a noisy machine (deterministic to about ±3 %,
# whatever else runs). For each binary, two runs of different lengths are counted and the
# difference divided by the difference in requests, so start-up and shutdown cancel out.
#
#   bench/instructions.sh                       # the working tree's release build
#   bench/instructions.sh REV [REV...]          # each git revision, built in a worktree
#   THRONG=path bench/instructions.sh           # an existing binary
#
# Rows: `one-step` (one GET with a status check against nginx, bench/one-step.yaml) and
# `journey` (the ten-step shop journey, fixtures/scenarios/shop-journey.yaml, against the
# shop of the same build). Needs valgrind and nginx (installed here when missing). Loopback
# only; every run is bounded by its iteration count.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
export PATH="$HOME/.cargo/bin:$PATH"
SHORT=${SHORT:-2000}
LONG=${LONG:-12000}
for t in valgrind nginx curl; do
  command -v $t >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind nginx-light curl >/dev/null; break; }
done
work=$(mktemp -d)
cleanup() {
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
  [ -n "${SHOP_PID:-}" ] && kill "$SHOP_PID" 2>/dev/null
  for wt in "$work"/wt-*; do [ -d "$wt" ] && git worktree remove --force "$wt" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT
. bench/lib.sh
start_nginx "$work"

# build REV: prints the path of a release binary of REV (the working tree for "worktree").
build() {
  local rev=$1
  if [ "$rev" = worktree ]; then
    CARGO_TARGET_DIR=$ROOT/target/bench-instructions cargo build --release --quiet --bin throng
    echo "$ROOT/target/bench-instructions/release/throng"
    return
  fi
  local wt=$work/wt-$rev
  git worktree add --detach "$wt" "$rev" >/dev/null 2>&1
  (cd "$wt" && CARGO_TARGET_DIR=$ROOT/target/bench-instructions-rev cargo build --release --quiet --bin throng)
  cp "$ROOT/target/bench-instructions-rev/release/throng" "$work/throng-$rev"
  echo "$work/throng-$rev"
}

# count OUT ARGS...: callgrind's total instruction count (Ir) of one command.
count() {
  local out=$1; shift
  valgrind --tool=callgrind --callgrind-out-file="$out" "$@" >/dev/null 2>&1
  sed -n 's/^summary: //p; s/^totals: //p' "$out" | head -1 | awk '{print $1}'
}

# per_request BIN NAME ARGS...: instructions per request between a SHORT and a LONG run.
per_request() {
  local bin=$1 name=$2; shift 2
  local a b
  a=$(count "$work/cg.$name.short" "$bin" run "$@" --iterations "$SHORT" --no-think --quiet)
  b=$(count "$work/cg.$name.long" "$bin" run "$@" --iterations "$LONG" --no-think --quiet)
  echo "$a $b" | awk -v s="$SHORT" -v l="$LONG" -v steps="${STEPS:-1}" \
    '{printf "%.0f", ($2 - $1) / ((l - s) * steps)}'
}

revs=("$@")
[ ${#revs[@]} -eq 0 ] && revs=(worktree)
printf '%-14s %14s %14s\n' build one-step journey
for rev in "${revs[@]}"; do
  if [ -n "${THRONG:-}" ]; then bin=$THRONG; else bin=$(build "$rev"); fi
  taskset -c 1 "$bin" shop --addr 127.0.0.1:0 > "$work/shop.log" 2>&1 &
  SHOP_PID=$!
  for _ in $(seq 100); do grep -q listening "$work/shop.log" 2>/dev/null && break; sleep 0.1; done
  shop=$(sed -n 's/^listening on //p' "$work/shop.log" | head -1)
  [ -n "$shop" ] || { echo "the shop did not start" >&2; cat "$work/shop.log" >&2; exit 1; }
  one=$(per_request "$bin" one "bench/one-step.yaml" --base-url "$TARGET" --vus 10)
  # The journey makes ten requests per iteration.
  journey=$(STEPS=10 per_request "$bin" journey fixtures/scenarios/shop-journey.yaml --base-url "$shop" --vus 10)
  kill "$SHOP_PID" 2>/dev/null; wait "$SHOP_PID" 2>/dev/null || true; SHOP_PID=
  printf '%-14s %14s %14s\n' "${rev:0:14}" "$one" "$journey"
  if [ -n "${THRONG:-}" ]; then break; fi
done
