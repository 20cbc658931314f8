#!/usr/bin/env bash
# A shared artifact store for tests and demos: Debian's nginx with WebDAV PUT and Basic auth,
# listening on 127.0.0.1 on a free port, everything (config, data, logs, pid) in one folder.
#
#   scripts/store-server.sh start [FOLDER]   # prints the base URL on stdout, the folder on stderr
#   scripts/store-server.sh stop FOLDER      # stops the nginx whose PID is FOLDER/nginx.pid
#
# start creates FOLDER (a new temporary folder when not given), writes FOLDER/nginx.conf and
# FOLDER/htpasswd (the password hashed with `openssl passwd -apr1`), and starts nginx with it.
# Objects land in FOLDER/data/, so the store speaks Bazel's HTTP cache protocol: GET, HEAD and PUT
# of <url>/cas/<sha256> and <url>/ac/<key> (nginx's PUT writes a temporary file and renames it),
# plus DELETE and a JSON index of <url>/cas/ and <url>/ac/ for `plumb gc --remote`.
# STORE_TLS=1 serves https with a self-signed certificate for 127.0.0.1 (FOLDER/cert.pem).
# Variables: STORE_USER (default plumb) and STORE_PASSWORD (default: FOLDER/password when a
# restart finds one, else random, printed nowhere; read it from FOLDER/password) set the account. nginx is installed with apt-get when missing
# (as root, or with `sudo -n`); if that is impossible start exits 3, so a test can skip.
set -euo pipefail

say() { printf 'store-server: %s\n' "$*" >&2; }
die() { printf 'store-server: error: %s\n' "$*" >&2; exit "${2:-1}"; }

nginx_bin() { command -v nginx 2>/dev/null || { [[ -x /usr/sbin/nginx ]] && echo /usr/sbin/nginx; } || true; }

ensure_nginx() {
  [[ -n "$(nginx_bin)" ]] && return 0
  local apt_get=(apt-get)
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "nginx is not installed and cannot be (not root, no sudo)" 3
    apt_get=(sudo -n apt-get)
  fi
  say "installing nginx (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  { "${apt_get[@]}" install -y -qq --no-install-recommends nginx </dev/null >/dev/null 2>&1 ||
    { "${apt_get[@]}" update -qq </dev/null >/dev/null 2>&1 &&
      "${apt_get[@]}" install -y -qq --no-install-recommends nginx </dev/null >/dev/null 2>&1; }; } ||
    die "nginx is not installed and apt-get could not install it" 3
  [[ -n "$(nginx_bin)" ]] || die "nginx is not installed and apt-get could not install it" 3
}

write_config() {
  local prefix="$1" port="$2"
  local user_line="" tls_listen=";"
  if [[ -n "${STORE_TLS:-}" ]]; then
    tls_listen=" ssl; ssl_certificate $prefix/cert.pem; ssl_certificate_key $prefix/key.pem;"
  fi
  # As root nginx's workers would run as nobody, who cannot enter a 0700 temporary folder.
  [[ $(id -u) -eq 0 ]] && user_line="user root root;"
  cat >"$prefix/nginx.conf" <<EOF
$user_line
daemon on;
worker_processes 2;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 512; }
http {
  access_log $prefix/access.log;
  default_type application/octet-stream;
  client_body_temp_path $prefix/tmp/body;
  proxy_temp_path $prefix/tmp/proxy;
  fastcgi_temp_path $prefix/tmp/fastcgi;
  uwsgi_temp_path $prefix/tmp/uwsgi;
  scgi_temp_path $prefix/tmp/scgi;
  client_max_body_size 0;
  sendfile on;
  server {
    listen 127.0.0.1:$port$tls_listen
    root $prefix/data;
    location / {
      auth_basic "plumb store";
      auth_basic_user_file $prefix/htpasswd;
      dav_methods PUT DELETE;
      # A JSON index of cas/ and ac/, which plumb gc --remote reads (Bazel's protocol has none).
      autoindex on;
      autoindex_format json;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
    }
  }
}
EOF
}

free_port() {
  # A port no socket is bound to now; nginx failing to bind (a race) makes start try another.
  local port used
  used="$(awk 'NR>1 {split($2, a, ":"); print strtonum("0x" a[2])}' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)"
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    grep -qx "$port" <<<"$used" || { echo "$port"; return 0; }
  done
  die "no free port found"
}

# Runs the daemon with only stdin (from /dev/null), stdout and stderr (the error log): a daemon that
# inherited the caller's other descriptors would hold them open for its whole life, and a caller
# waiting for end of file on one (a pipe, or the socket Foundation's Process watches) would hang.
launch() {
  (
    for fd in "/proc/$BASHPID/fd/"*; do
      fd="${fd##*/}"
      if [[ "$fd" -gt 2 && "$fd" -ne 255 ]]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec "$@" </dev/null >>"$prefix/error.log" 2>&1
  )
}

start() {
  ensure_nginx
  local prefix="${1:-}"
  if [[ -z "$prefix" ]]; then prefix="$(mktemp -d "${TMPDIR:-/tmp}/plumb-store.XXXXXX")"; fi
  mkdir -p "$prefix/data" "$prefix/tmp"
  prefix="$(cd "$prefix" && pwd)"
  local user="${STORE_USER:-plumb}"
  # A restart on the same folder keeps its password, as it keeps its objects.
  local password="${STORE_PASSWORD:-}"
  [[ -z "$password" && -s "$prefix/password" ]] && password="$(cat "$prefix/password")"
  [[ -n "$password" ]] || password="$(openssl rand -hex 16)"
  printf '%s\n' "$password" >"$prefix/password"
  chmod 600 "$prefix/password"
  printf '%s:%s\n' "$user" "$(openssl passwd -apr1 "$password")" >"$prefix/htpasswd"
  local nginx port scheme=http
  nginx="$(nginx_bin)"
  if [[ -n "${STORE_TLS:-}" ]]; then
    # A certificate of its own for 127.0.0.1, which clients must be told to trust (cert.pem).
    scheme=https
    [[ -s "$prefix/cert.pem" ]] || openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
      -addext "subjectAltName=IP:127.0.0.1" -keyout "$prefix/key.pem" -out "$prefix/cert.pem" >/dev/null 2>&1 ||
      die "openssl could not make a certificate"
  fi
  for _ in 1 2 3 4 5; do
    port="$(free_port)"
    write_config "$prefix" "$port"
    rm -f "$prefix/nginx.pid"
    if launch "$nginx" -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"; then
      for _ in $(seq 50); do [[ -s "$prefix/nginx.pid" ]] && break; sleep 0.1; done
      [[ -s "$prefix/nginx.pid" ]] || die "nginx started but wrote no pid file (see $prefix/error.log)"
      printf '%s://127.0.0.1:%s\n' "$scheme" "$port" >"$prefix/url"
      say "serving $prefix/data (pid $(cat "$prefix/nginx.pid"))"
      printf '%s\n' "$prefix" >&2
      printf '%s://127.0.0.1:%s\n' "$scheme" "$port"
      return 0
    fi
    grep -q 'Address already in use' "$prefix/error.log" || break
  done
  die "nginx did not start (see $prefix/error.log): $(tail -n 3 "$prefix/error.log" | tr '\n' ' ')"
}

stop() {
  local prefix="${1:?usage: store-server.sh stop FOLDER}"
  local pidfile="$prefix/nginx.pid" pid
  [[ -s "$pidfile" ]] || { say "no $pidfile: not running"; return 0; }
  pid="$(cat "$pidfile")"
  [[ "$pid" =~ ^[0-9]+$ ]] || die "$pidfile does not hold a process id"
  kill -TERM "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$pidfile"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) die "usage: store-server.sh start [FOLDER] | stop FOLDER" 64 ;;
esac
