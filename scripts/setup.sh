#!/usr/bin/env bash
# Installs what Plumb and its example pipeline need, and nothing that is already there.
#
#   scripts/setup.sh            # from anywhere; works on the repository that holds it
#
# - Debian packages to build Plumb (libgit2, libyaml, OpenSSL and libcurl headers, pkg-config) and
#   nginx (the shared store the tests start, scripts/store-server.sh), installed
#   with apt-get only when `dpkg -s` says they are missing (apt-get update runs once, first,
#   and only then). The Swift toolchain is expected at /opt/swift or on PATH: not installed here.
# - python3-venv only when `python3 -m venv` cannot work.
# - .venv/ with spec/requirements.txt installed, (re)built when missing or when
#   requirements.txt changed (its sha256 is kept in .venv/.requirements.sha256).
# - The test suite's own tools, for scripts/check-ci-templates.sh: shellcheck (Debian), and
#   scripts/requirements-dev.txt (check-jsonschema) installed into .venv/ when it changed
#   (.venv/.requirements-dev.sha256).
#
# Quiet when everything is in place; otherwise one line per thing it installs.
# Variables: PYTHON (default python3) picks the interpreter of the virtual environment.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
export DEBIAN_FRONTEND=noninteractive

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# --- Debian packages -------------------------------------------------------
# `dpkg -s` succeeds for a removed package whose configuration files remain: read its Status.
installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'; }

missing=()
for pkg in libgit2-dev libyaml-dev libssl-dev libcurl4-openssl-dev nginx pkg-config; do
  installed "$pkg" || missing+=("$pkg")
done
installed shellcheck || missing+=(shellcheck)   # the test suite's, not the build's
# The test suite checks `plumb completion zsh|fish` with these shells (it skips them when absent).
for pkg in zsh fish; do installed "$pkg" || missing+=("$pkg"); done

command -v "$python" >/dev/null 2>&1 || die "no '$python' on PATH (set PYTHON to a Python 3.9+ interpreter)"
# `python3 -m venv` needs the venv and ensurepip modules; Debian's own python3 ships them in
# python3-venv. A pyenv or other non-Debian python has them built in.
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  installed python3-venv || missing+=(python3-venv)
fi

if ((${#missing[@]})); then
  apt_get=(apt-get)
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "missing packages ${missing[*]}: run as root or install sudo"
    apt_get=(sudo -n apt-get)
  fi
  say "apt-get update"
  "${apt_get[@]}" update -qq </dev/null >/dev/null
  for pkg in "${missing[@]}"; do
    say "installing $pkg (apt-get)"
  done
  "${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi

# --- Python virtual environment for the example pipeline ------------------
venv="$repo/.venv"
req="$repo/spec/requirements.txt"
stamp="$venv/.requirements.sha256"
if [[ -f "$req" ]]; then
  want="$(sha256sum "$req" | cut -d' ' -f1)"
  have="$(cat "$stamp" 2>/dev/null || true)"
  if [[ ! -x "$venv/bin/python" ]]; then
    say "creating .venv ($("$python" --version 2>&1))"
    "$python" -m venv "$venv" </dev/null >/dev/null
    have=""
  fi
  if [[ "$want" != "$have" ]]; then
    say "installing spec/requirements.txt into .venv"
    rm -f "$stamp"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
      -r "$req" </dev/null
    printf '%s\n' "$want" >"$stamp"
  fi
fi

# --- The test suite's Python tools, beside the pipeline's -----------------
# A file of their own: spec/requirements.txt is the example pipeline's, pinned for its models.
dev_req="$repo/scripts/requirements-dev.txt"
dev_stamp="$venv/.requirements-dev.sha256"
if [[ -f "$dev_req" ]]; then
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv" </dev/null >/dev/null
  want="$(sha256sum "$dev_req" | cut -d' ' -f1)"
  if [[ "$want" != "$(cat "$dev_stamp" 2>/dev/null || true)" ]]; then
    say "installing scripts/requirements-dev.txt into .venv"
    rm -f "$dev_stamp"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \
      -r "$dev_req" </dev/null
    printf '%s\n' "$want" >"$dev_stamp"
  fi
fi
