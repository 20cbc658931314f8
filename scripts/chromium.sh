#!/usr/bin/env bash
# Headless Chromium for tests and docs: Debian's chromium-headless-shell (or chromium), run with a
# temporary profile that is removed afterwards and with no network (every host name resolves to
# nothing, no background requests), so a page it renders can only show what it holds itself.
#
#   scripts/chromium.sh path                          # installs when missing; prints the binary
#   scripts/chromium.sh dump-dom PAGE                 # the DOM after the page's scripts ran, on stdout
#   scripts/chromium.sh screenshot PAGE PNG [W,H]     # a PNG of the page (default 1280,900)
#
# PAGE is a file path. The package is installed with apt-get when missing (as root, or with
# `sudo -n`); if that is impossible the script exits 3, so a test can skip. As root Chromium
# refuses to start without --no-sandbox, so it is added then, and only then.
set -euo pipefail

say() { printf 'chromium: %s\n' "$*" >&2; }
die() { printf 'chromium: error: %s\n' "$1" >&2; exit "${2:-1}"; }

binary() {
  local candidate
  for candidate in chromium-headless-shell /usr/lib/chromium/chromium-headless-shell chromium /usr/lib/chromium/chromium; do
    if command -v "$candidate" >/dev/null 2>&1; then command -v "$candidate"; return 0; fi
  done
  return 1
}

as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi; }

ensure_chromium() {
  binary >/dev/null && return 0
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "Chromium is not installed and cannot be (not root, no sudo)" 3
    sudo -n true 2>/dev/null || die "Chromium is not installed and cannot be (sudo -n refused)" 3
  fi
  say "installing chromium-headless-shell (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  { as_root apt-get install -y -qq --no-install-recommends chromium-headless-shell fonts-dejavu-core </dev/null >/dev/null 2>&1 ||
    { as_root apt-get update -qq </dev/null >/dev/null 2>&1 &&
      as_root apt-get install -y -qq --no-install-recommends chromium-headless-shell fonts-dejavu-core </dev/null >/dev/null 2>&1; }; } ||
    die "Chromium is not installed and apt-get could not install it" 3
  binary >/dev/null || die "Chromium is not installed and apt-get could not install it" 3
}

# Runs the browser on a file with a profile of its own; the arguments after the page's URL.
run() {
  local page="$1"; shift
  [[ -f "$page" ]] || die "no page at $page"
  local url profile chromium
  url="file://$(cd "$(dirname "$page")" && pwd)/$(basename "$page")"
  profile="$(mktemp -d "${TMPDIR:-/tmp}/plumb-chromium.XXXXXX")"
  # shellcheck disable=SC2064
  trap "rm -rf '$profile'" EXIT
  chromium="$(binary)"
  local flags=(--headless --disable-gpu --user-data-dir="$profile" --no-first-run --no-default-browser-check
    --disable-background-networking --disable-component-update --disable-sync --disable-default-apps
    --disable-extensions --mute-audio --hide-scrollbars --disable-dev-shm-usage
    --host-resolver-rules="MAP * ~NOTFOUND" --proxy-server="127.0.0.1:9" --proxy-bypass-list="<-loopback>"
    --virtual-time-budget=5000)
  [[ $(id -u) -eq 0 ]] && flags+=(--no-sandbox)
  # Chromium's own chatter (dbus, GPU) goes to stderr; only a failure to start matters.
  "$chromium" "${flags[@]}" "$@" "$url" 2>"$profile/stderr" || {
    local status=$?
    tail -n 5 "$profile/stderr" >&2
    exit "$status"
  }
}

case "${1:-}" in
  path) ensure_chromium; binary ;;
  dump-dom)
    [[ $# -eq 2 ]] || die "usage: chromium.sh dump-dom PAGE" 64
    ensure_chromium; run "$2" --dump-dom ;;
  screenshot)
    [[ $# -ge 3 ]] || die "usage: chromium.sh screenshot PAGE PNG [W,H]" 64
    ensure_chromium
    png="$(cd "$(dirname "$3")" && pwd)/$(basename "$3")"
    run "$2" --screenshot="$png" --window-size="${4:-1280,900}" ;;
  *) die "usage: chromium.sh path | dump-dom PAGE | screenshot PAGE PNG [W,H]" 64 ;;
esac
