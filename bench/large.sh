#!/usr/bin/env bash
# Case G: one large output stored in the cache and restored, Plumb vs DVC vs the floors (issue 18, item 5).
#
#   bench/large.sh                        # a 2 GiB output, best of 3, in bench/work/ (the repository's file system)
#   BENCH_SIZE_MIB=256 bench/large.sh     # a quick run
#   BENCH_DIR=/mnt/xfs bench/large.sh     # on another file system (XFS or btrfs: reflinks)
#   BENCH_USER=nobody bench/large.sh      # Plumb and DVC as an unprivileged user (root gets no hard links)
#   BENCH_PLUMB=/tmp/plumb-old bench/large.sh   # another binary (the "before" figures); BENCH_NO_BUILD=1 skips the build
#   BENCH_OUT=file bench/large.sh         # also append the table (markdown) to file
#   BENCH_NO_DVC=1 bench/large.sh         # Plumb and the floors only
#
# A scratch git repository (deleted at exit) has three stages: `produce` moves a prepared file into
# place as its output model.bin (a rename: the stage itself costs nothing; it runs when the untracked
# trigger.txt changes), `consume` reads it (always_run, so `plumb reconcile consume` stages it from the
# cache into the workspace), `tick` does nothing (always_run: the fixed cost of a reconcile). Each round, timed:
#   store new      `plumb reconcile produce`, the output's bytes new to the cache   | `dvc add` | floors
#   re-store same  the same again with identical bytes (a fresh file: no stat cache)  | `dvc add` of a fresh identical file
#   to workspace   `plumb reconcile consume` (the output staged read-only as an input) | —
#   checkout       `plumb checkout model.bin` after removing it from the working tree | `dvc checkout`
# DVC runs once per `cache.type` it offers (reflink,copy — its default —, hardlink, copy), each in a
# repository of its own. Floors, same file, same run: `openssl dgst -sha256`, `cp --reflink=never`,
# `cp --reflink=never` + fsync, `cp --reflink=auto`, `ln`. Before every timed command the page cache
# is written back (`sync`), so every tool starts from the same clean, cached file. The best of
# BENCH_RUNS rounds counts; ratios are to `openssl dgst` (stores) and to `cp --reflink=auto` (restores).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${BENCH_RUNS:-3}
mib=${BENCH_SIZE_MIB:-2048}

command -v swift >/dev/null 2>&1 || { [[ -x /opt/swift/usr/bin/swift ]] && export PATH=/opt/swift/usr/bin:$PATH; }
if [[ -z "${BENCH_NO_BUILD:-}" && -z "${BENCH_PLUMB:-}" ]]; then
    echo "building plumb (release, Swift runtime linked statically: see docs/decisions.md) ..."
    swift build -c release --product plumb --static-swift-stdlib 2>&1 | tail -1
fi
plumb=${BENCH_PLUMB:-$root/.build/release/plumb}
[[ -x $plumb ]] || { echo "bench/large.sh: no $plumb" >&2; exit 1; }
if [[ -z "${BENCH_NO_DVC:-}" && ! -x bench/.venv/bin/dvc ]]; then
    echo "installing DVC 3 into bench/.venv ..."
    python3 -m venv bench/.venv
    bench/.venv/bin/pip install -q 'dvc>=3,<4'
fi
dvc=$root/bench/.venv/bin/dvc

parent=${BENCH_DIR:-$root/bench/work}
mkdir -p "$parent"
free_mib=$(( $(stat -f -c '%a * %S' "$parent") / 1048576 ))
need=$(( mib * 12 ))
(( free_mib > need )) || { echo "bench/large.sh: $parent has $free_mib MiB free; up to $need MiB are needed" >&2; exit 1; }
(( free_mib - need > 20480 )) || echo "bench/large.sh: warning: less than 20 GiB of $parent would stay free"
scratch=$(mktemp -d "$parent/plumb-bench-large.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
trap 'exit 130' INT TERM
log=$scratch/log

# As BENCH_USER (setpriv: no shell, no PAM), with a home of its own in the scratch folder.
as=()
if [[ -n "${BENCH_USER:-}" ]]; then
    uid=$(id -u "$BENCH_USER"); gid=$(id -g "$BENCH_USER")
    chown "$uid:$gid" "$scratch"
    as=(setpriv --reuid="$uid" --regid="$gid" --clear-groups)
fi
run() { "${as[@]}" env HOME="$scratch/home" DVC_SITE_CACHE_DIR="$scratch/dvc-site" DVC_NO_ANALYTICS=1 NO_COLOR=1 \
    GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com "$@"; }
run mkdir -p "$scratch/home" "$scratch/pool"

# Milliseconds of one command (after writing back the page cache); its output goes to the log.
timed() {
    sync
    local start end
    start=$(date +%s%N)
    if ! "$@" >>"$log" 2>&1; then echo "bench/large.sh: failed: $*" >&2; tail -20 "$log" >&2; exit 1; fi
    end=$(date +%s%N)
    echo $(( (end - start) / 1000000 ))
}

echo "workload: $mib MiB of random bytes in $scratch ($(stat -f -c %T "$scratch"))"
seed=$scratch/seed.bin
run head -c $((mib * 1048576)) /dev/urandom >"$seed.tmp"
mv "$seed.tmp" "$seed"; [[ -z "${BENCH_USER:-}" ]] || chown "$uid:$gid" "$seed"
# A file with the seed's bytes except its first 16 (the round number), so each round's output is new.
prepare() { # prepare <destination> <round>
    run cp --reflink=never "$seed" "$1"
    printf '%016d' "$2" | run dd of="$1" bs=16 count=1 conv=notrunc status=none
}

# ------------------------------------------------------------------ Plumb
repo=$scratch/repo
run mkdir -p "$repo/spec"
run tee "$repo/spec/pipeline.yaml" >/dev/null <<EOF
version: 1
stages:
  produce:
    cmd: mv "$scratch/pool/next.bin" model.bin
    deps: [trigger.txt]
    outs: [model.bin]
  consume:
    cmd: test -s model.bin
    deps: [model.bin]
    always_run: true
  tick:
    cmd: "true"
    always_run: true
EOF
printf '.plumb/\n/model.bin\n/trigger.txt\n' | run tee "$repo/.gitignore" >/dev/null
echo 0 | run tee "$repo/trigger.txt" >/dev/null
run git -C "$repo" init -q -b main
run git -C "$repo" add .gitignore spec/pipeline.yaml
run git -C "$repo" commit -q -m "large output benchmark"
run "$plumb" reconcile --quiet --repo "$repo" tick >>"$log" 2>&1   # warm-up: workspace, locks

declare -A best
keep() { # keep <name> <ms>: the smallest counts
    local old=${best[$1]:-}
    if [[ -z $old || $2 -lt $old ]]; then best[$1]=$2; fi
    times[$1]="${times[$1]:-}$2 "
}
declare -A times

for round in $(seq 1 "$runs"); do
    echo "round $round of $runs ..."
    # Floors, on a prepared file of the same size.
    prepare "$scratch/pool/floor.bin" "$round"
    keep "openssl" "$(timed run openssl dgst -sha256 "$scratch/pool/floor.bin")"
    keep "cp" "$(timed run cp --reflink=never "$scratch/pool/floor.bin" "$scratch/pool/floor.cp")"
    run rm -f "$scratch/pool/floor.cp"
    keep "cp+fsync" "$(timed run sh -c 'cp --reflink=never "$1" "$2" && sync "$2"' - "$scratch/pool/floor.bin" "$scratch/pool/floor.cp")"
    run rm -f "$scratch/pool/floor.cp"
    keep "cp-auto" "$(timed run cp --reflink=auto "$scratch/pool/floor.bin" "$scratch/pool/floor.cp")"
    run rm -f "$scratch/pool/floor.cp"
    keep "ln" "$(timed run ln "$scratch/pool/floor.bin" "$scratch/pool/floor.ln")"
    run rm -f "$scratch/pool/floor.ln" "$scratch/pool/floor.bin"

    keep "plumb-tick" "$(timed run "$plumb" reconcile --quiet --repo "$repo" tick)"
    prepare "$scratch/pool/next.bin" "$round"
    echo "new $round" | run tee "$repo/trigger.txt" >/dev/null
    keep "plumb-new" "$(timed run "$plumb" reconcile --quiet --repo "$repo" produce)"
    prepare "$scratch/pool/next.bin" "$round"
    echo "same $round" | run tee "$repo/trigger.txt" >/dev/null
    keep "plumb-same" "$(timed run "$plumb" reconcile --quiet --repo "$repo" produce)"
    keep "plumb-input" "$(timed run "$plumb" reconcile --quiet --repo "$repo" consume)"
    run rm -f "$repo/model.bin"
    keep "plumb-checkout" "$(timed run "$plumb" checkout --quiet --repo "$repo" model.bin)"
    cmp -s "$repo/model.bin" <(cat "$seed" | { printf '%016d' "$round"; tail -c +17; }) || { echo "bench/large.sh: plumb checkout gave other bytes" >&2; exit 1; }

    # BENCH_NO_DVC=1: Plumb and the floors only (DVC's venv may not be readable by BENCH_USER).
    for type in $([[ -n "${BENCH_NO_DVC:-}" ]] || echo reflink,copy hardlink copy); do
        d=$scratch/dvc-$type
        if [[ ! -d $d ]]; then
            run mkdir -p "$d"
            run git -C "$d" init -q -b main
            (cd "$d" && run "$dvc" init -q && run "$dvc" config cache.type "$type" && run "$dvc" config core.autostage false)
        fi
        run rm -f "$d/model.bin"
        prepare "$d/model.bin" "$round"
        keep "dvc-$type-new" "$(cd "$d" && timed run "$dvc" add -q model.bin)"
        run rm -f "$d/model.bin"
        prepare "$d/model.bin" "$round"
        keep "dvc-$type-same" "$(cd "$d" && timed run "$dvc" add -q model.bin)"
        run rm -f "$d/model.bin"
        keep "dvc-$type-checkout" "$(cd "$d" && timed run "$dvc" checkout -q model.bin.dvc)"
    done
    run rm -rf "$scratch"/dvc-*/.dvc/cache
done

# How Plumb stored and restored (the cache's own count, from the last reconcile of each kind).
prepare "$scratch/pool/next.bin" $((runs + 1))
echo "last" | run tee "$repo/trigger.txt" >/dev/null
ways_new=$(run "$plumb" reconcile --json --repo "$repo" produce 2>/dev/null | tail -1 | python3 -c 'import json,sys; c=json.load(sys.stdin).get("cache",{}); print(",".join(sorted(k for k in c.get("stored",{}))) or "?")' || echo "?")
ways_input=$(run "$plumb" reconcile --json --repo "$repo" consume 2>/dev/null | tail -1 | python3 -c 'import json,sys; c=json.load(sys.stdin).get("cache",{}); print(",".join(sorted(k for k in c.get("materialized",{}))) or "?")' || echo "?")
held=$(run "$plumb" gc --dry-run --repo "$repo" 2>/dev/null | tail -1 || true)

s() { if [[ -z ${1:-} ]]; then printf —; else awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; fi; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f×", a / b; else printf "—" }'; }
mibs() { awk -v ms="$1" -v mib="$mib" 'BEGIN { if (ms > 0) printf "%.0f", mib * 1000 / ms; else printf "—" }'; }

fs=$(stat -f -c %T "$scratch")
who=${BENCH_USER:-$(id -un)}
table=$(cat <<EOF
### $mib MiB on $fs as $who — $("$plumb" --version) ($(basename "$plumb"))

- date: $(date -u '+%Y-%m-%d %H:%M UTC'); machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), Linux $(uname -r); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)
- file system of the scratch folder: \`$(df -T "$scratch" | tail -1 | awk '{print $2}')\` (\`stat -f\`: $fs); DVC $("$dvc" --version 2>/dev/null || echo "not run"); OpenSSL $(openssl version | cut -d' ' -f2)
- Plumb stored the new output by: ${ways_new:-?}; staged it into the workspace by: ${ways_input:-?}; \`plumb gc --dry-run\`: ${held:-?}
- best of $runs rounds; every timed run (ms): $(for k in "${!times[@]}"; do printf '%s: %s; ' "$k" "${times[$k]}"; done | sed 's/ ;/;/g')

| operation | Plumb s | MiB/s | Plumb / floor | DVC reflink,copy s | DVC hardlink s | DVC copy s | floors s (same run) |
|---|---|---|---|---|---|---|---|
| store a new output (reconcile with the stage's output new to the cache) | $(s ${best[plumb-new]:-}) | $(mibs ${best[plumb-new]:-}) | $(ratio ${best[plumb-new]:-} ${best[openssl]:-}) of openssl | $(s ${best[dvc-reflink,copy-new]:-}) | $(s ${best[dvc-hardlink-new]:-}) | $(s ${best[dvc-copy-new]:-}) | openssl $(s ${best[openssl]:-}); cp $(s ${best[cp]:-}); cp+fsync $(s ${best[cp+fsync]:-}); cp --reflink=auto $(s ${best[cp-auto]:-}) |
| re-store identical bytes (a fresh file) | $(s ${best[plumb-same]:-}) | $(mibs ${best[plumb-same]:-}) | $(ratio ${best[plumb-same]:-} ${best[openssl]:-}) of openssl | $(s ${best[dvc-reflink,copy-same]:-}) | $(s ${best[dvc-hardlink-same]:-}) | $(s ${best[dvc-copy-same]:-}) | openssl $(s ${best[openssl]:-}) |
| into a workspace, read-only (\`reconcile consume\`) | $(s ${best[plumb-input]:-}) | $(mibs ${best[plumb-input]:-}) | $(ratio ${best[plumb-input]:-} ${best[cp-auto]:-}) of cp --reflink=auto | — | — | — | ln $(s ${best[ln]:-}); cp --reflink=auto $(s ${best[cp-auto]:-}) |
| checkout into the working tree, writable | $(s ${best[plumb-checkout]:-}) | $(mibs ${best[plumb-checkout]:-}) | $(ratio ${best[plumb-checkout]:-} ${best[cp-auto]:-}) of cp --reflink=auto | $(s ${best[dvc-reflink,copy-checkout]:-}) | $(s ${best[dvc-hardlink-checkout]:-}) | $(s ${best[dvc-copy-checkout]:-}) | cp --reflink=auto $(s ${best[cp-auto]:-}); cp $(s ${best[cp]:-}) |
| a reconcile's fixed cost (\`reconcile tick\`: no output) | $(s ${best[plumb-tick]:-}) | — | — | — | — | — | — |
EOF
)
echo
echo "$table"
if [[ -n "${BENCH_OUT:-}" ]]; then printf '\n%s\n' "$table" >>"$BENCH_OUT"; fi
