#!/bin/sh
# One command: bench/run.sh [--runs N] [--cases A,B,C,D,E] [--scaling 250,500,1000,2000]
#              bench/run.sh walk [--files 1000000] [--runs N] [--no-dvc]   (cases E2 and H: bench/walk.py)
# Generates the workloads into bench/work/, installs DVC 3 into bench/.venv when missing,
# builds plumb in release mode, runs Plumb and DVC alternately and writes bench/RESULTS.md.
set -eu
cd "$(dirname "$0")/.."
root=$(pwd)

# Tools the harness needs from Debian (only installed when missing, and only where apt exists).
missing=""
command -v git >/dev/null 2>&1 || missing="$missing git"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v strace >/dev/null 2>&1 || missing="$missing strace"
[ -x /usr/bin/time ] || missing="$missing time"
if [ -n "$missing" ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing:$missing"
    (apt-get install -y -qq $missing >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq $missing; }) || \
        echo "warning: could not install$missing (strace only verifies which files are read)"
fi

if [ ! -x bench/.venv/bin/dvc ]; then
    echo "installing DVC 3 into bench/.venv ..."
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install -q 'dvc>=3,<4'
fi

echo "building plumb (release, Swift runtime linked statically: see docs/decisions.md) ..."
swift build -c release --product plumb --static-swift-stdlib 2>&1 | tail -1

runs=${BENCH_RUNS:-5}
if [ "${1:-}" = walk ]; then
    shift
    # BENCH_WALK_FILES=100000 bench/run.sh walk: the short run (a million files take minutes to generate).
    exec python3 bench/walk.py --runs "$runs" "$@"
fi
exec python3 bench/bench.py --runs "$runs" "$@"
