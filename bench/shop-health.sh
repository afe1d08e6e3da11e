#!/usr/bin/env bash
# Compares the shop's GET /health throughput with nginx serving a static 50-byte
# file, both on loopback, using wrk. PASS when shop >= 0.5 x nginx.
#
# Usage: bench/shop-health.sh            (env: DURATION=5s CONNECTIONS=50 THREADS=1)
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DURATION=${DURATION:-5s}
CONNECTIONS=${CONNECTIONS:-50}
THREADS=${THREADS:-1}
NGINX_PORT=${NGINX_PORT:-18480}

need_apt_update=1
apt_install() {
  if [ "$need_apt_update" = 1 ]; then apt-get update -qq; need_apt_update=0; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
}
command -v wrk >/dev/null || apt_install wrk
if ! command -v nginx >/dev/null && [ ! -x /usr/sbin/nginx ]; then
  apt_install nginx-light || apt_install nginx
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

WORK=$(mktemp -d)
NGINX_STARTED=
SHOP_PID=
cleanup() {
  if [ -n "$SHOP_PID" ]; then kill "$SHOP_PID" 2>/dev/null || true; wait "$SHOP_PID" 2>/dev/null || true; fi
  if [ -n "$NGINX_STARTED" ]; then "$NGINX" -p "$WORK/" -c "$WORK/nginx.conf" -s quit 2>/dev/null || true; sleep 0.3; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# nginx: one worker, keep-alive, no access log, everything under $WORK.
mkdir -p "$WORK/html" "$WORK/logs"
# nginx workers drop privileges when started as root, so they must be able to read the docroot.
chmod 755 "$WORK" "$WORK/html"
printf '{"status":"healthy","note":"static-file-baseline"}' | head -c 50 >"$WORK/html/health"
chmod 644 "$WORK/html/health"
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
daemon on;
pid $WORK/nginx.pid;
error_log $WORK/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  client_body_temp_path $WORK/tmp_body;
  proxy_temp_path $WORK/tmp_proxy;
  fastcgi_temp_path $WORK/tmp_fastcgi;
  uwsgi_temp_path $WORK/tmp_uwsgi;
  scgi_temp_path $WORK/tmp_scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $WORK/html;
    default_type application/json;
    location / { try_files \$uri =404; }
  }
}
CONF
"$NGINX" -p "$WORK/" -c "$WORK/nginx.conf"
NGINX_STARTED=1

(cd "$ROOT" && cargo build -q --release -p throng-shop --example serve)
"$ROOT/target/release/examples/serve" 127.0.0.1:0 >"$WORK/shop.log" 2>&1 &
SHOP_PID=$!
SHOP=
for _ in $(seq 1 100); do
  SHOP=$(sed -n 's/^listening on \(http:\/\/[^ ]*\).*/\1/p' "$WORK/shop.log" | head -n1)
  [ -n "$SHOP" ] && break
  sleep 0.1
done
[ -n "$SHOP" ] || { cat "$WORK/shop.log" >&2; echo "shop did not start" >&2; exit 1; }

NGINX_URL="http://127.0.0.1:$NGINX_PORT/health"
SHOP_URL="$SHOP/health"
curl -fsS "$NGINX_URL" >/dev/null 2>&1 || wrk -t1 -c1 -d1s "$NGINX_URL" >/dev/null
bench() { # url -> requests/sec
  wrk -t1 -c10 -d1s "$1" >/dev/null # warm-up
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" "$1" | tee "$WORK/wrk.out" >&2
  grep -q 'Non-2xx' "$WORK/wrk.out" && { echo "non-2xx responses from $1" >&2; exit 1; }
  awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.out"
}
echo "== nginx $NGINX_URL" >&2
NGINX_RPS=$(bench "$NGINX_URL")
echo "== shop $SHOP_URL" >&2
SHOP_RPS=$(bench "$SHOP_URL")
RATIO=$(awk -v s="$SHOP_RPS" -v n="$NGINX_RPS" 'BEGIN { printf "%.2f", s / n }')
echo "nginx req/s: $NGINX_RPS"
echo "shop  req/s: $SHOP_RPS"
echo "ratio shop/nginx: $RATIO"
if awk -v r="$RATIO" 'BEGIN { exit !(r >= 0.5) }'; then echo PASS; else echo FAIL; exit 1; fi
