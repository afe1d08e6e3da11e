# Shared by bench/run.sh and bench/profile.sh (source it).

# free_port: a free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_nginx WORKDIR: nginx (1 worker, keep-alive, access_log off) serving a 50-byte file at
# /health on 127.0.0.1 only, pinned to CPU 1, everything under WORKDIR (which must be readable
# by `nobody`, the worker's user). Sets TARGET, NGINX_PORT and NGINX_WORKER (the worker's pid);
# the master's pid is in WORKDIR/nginx.pid (kill it to stop).
start_nginx() {
  local w=$1
  chmod 755 "$w"
  mkdir -p "$w/www" "$w/logs" "$w/tmp"
  printf '%050d' 0 > "$w/www/health"
  chmod -R a+rX "$w/www"
  NGINX_PORT=$(free_port)
  cat > "$w/nginx.conf" <<CONF
worker_processes 1;
worker_rlimit_nofile 65536;
pid $w/nginx.pid;
error_log $w/logs/error.log;
events { worker_connections 20000; }
http {
  access_log off;
  keepalive_timeout 300s;
  keepalive_requests 100000000;
  client_body_temp_path $w/tmp; proxy_temp_path $w/tmp; fastcgi_temp_path $w/tmp;
  uwsgi_temp_path $w/tmp; scgi_temp_path $w/tmp;
  server {
    listen 127.0.0.1:$NGINX_PORT backlog=16384;
    location / { root $w/www; default_type application/json; }
  }
}
CONF
  taskset -c 1 nginx -e "$w/logs/error.log" -p "$w" -c "$w/nginx.conf"
  TARGET=http://127.0.0.1:$NGINX_PORT
  for _ in $(seq 50); do curl -sf "$TARGET/health" >/dev/null && break; sleep 0.1; done
  curl -sf "$TARGET/health" >/dev/null || { echo "nginx did not start" >&2; cat "$w/logs/error.log" >&2; return 1; }
  NGINX_WORKER=$(pgrep -P "$(cat "$w/nginx.pid")" | head -1)
}
