#!/usr/bin/env bash
# Shared-store throughput: `plumb push` / `plumb pull` against `curl` to the same nginx store.
#
#   bench/store.sh                  # 16 files of 64 MiB (1 GiB), best of 3 runs per tool and case
#   BENCH_RUNS=5 bench/store.sh     # best of 5
#   BENCH_NO_BUILD=1 bench/store.sh # use the plumb already in .build/release
#   BENCH_PLUMB=/tmp/plumb-old BENCH_WRITE=0 bench/store.sh   # another binary; print only, write no results
#
# Builds plumb in release mode as bench/run.sh does, creates a scratch git repository (in a temporary
# folder, deleted at exit) whose one stage writes 16 random files of 64 MiB into out/, reconciles it
# with --no-upload, starts scripts/store-server.sh (nginx, WebDAV PUT, Basic auth, 127.0.0.1) and times
#   upload:   `plumb push`                                 vs  curl -T of the same 16 objects to <url>/cas/<sha256>
#   download: `plumb pull` in a fresh clone, empty cache   vs  curl GET of the same 16 objects into a folder
# curl runs with --parallel --parallel-max 8 (Plumb's transfer width). The store's data folder is
# emptied before every upload run, the clone's .plumb and curl's folder before every download run.
# After one untimed warm-up per tool and case, tools alternate, the order swapped each round; the best
# (shortest) wall time of the runs counts.
# Prints the table and writes bench/RESULTS.store.md, which is also put at the end of bench/RESULTS.md
# (bench/bench.py appends it when it rewrites RESULTS.md). The server is stopped by its PID at exit.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${BENCH_RUNS:-3}
count=16
mib=64

command -v swift >/dev/null 2>&1 || { [[ -x /opt/swift/usr/bin/swift ]] && export PATH=/opt/swift/usr/bin:$PATH; }
if [[ -z "${BENCH_NO_BUILD:-}" && -z "${BENCH_PLUMB:-}" ]]; then
    echo "building plumb (release, Swift runtime linked statically: see docs/decisions.md) ..."
    swift build -c release --product plumb --static-swift-stdlib 2>&1 | tail -1
fi
plumb=${BENCH_PLUMB:-$root/.build/release/plumb}
[[ -x $plumb ]] || { echo "bench/store.sh: no $plumb" >&2; exit 1; }
command -v curl >/dev/null || { echo "bench/store.sh: curl is needed" >&2; exit 1; }

scratch=$(mktemp -d "${TMPDIR:-/tmp}/plumb-bench-store.XXXXXX")
store=$scratch/store
cleanup() {
    # Stop nginx by the PID in its pid file (store-server.sh stop), then free the ~4 GiB of data.
    if [[ -s $store/nginx.pid ]]; then scripts/store-server.sh stop "$store" || true; fi
    rm -rf "$scratch"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export GIT_AUTHOR_NAME=bench GIT_AUTHOR_EMAIL=bench@example.com GIT_COMMITTER_NAME=bench GIT_COMMITTER_EMAIL=bench@example.com
export GIT_TERMINAL_PROMPT=0 NO_COLOR=1

# ---------------------------------------------------------------- the store
url=$(scripts/store-server.sh start "$store" 2>/dev/null)
password=$(cat "$store/password")
export PLUMB_CACHE_URL=$url PLUMB_CACHE_USER=plumb PLUMB_CACHE_PASSWORD=$password
# curl reads the credentials from a netrc file (mode 600), so they are on no command line.
netrc=$scratch/netrc
(umask 077; printf 'machine 127.0.0.1 login plumb password %s\n' "$password" >"$netrc")
echo "store: $url (nginx pid $(cat "$store/nginx.pid"))"

# ---------------------------------------------------------------- the workload
repo=$scratch/repo
mkdir -p "$repo/spec"
cat >"$repo/spec/pipeline.yaml" <<EOF
version: 1
stages:
  generate:
    cmd: 'mkdir -p out && for i in \$(seq -w 1 $count); do head -c $((mib * 1024 * 1024)) /dev/urandom > out/\$i.bin; done'
    outs: [out]
EOF
printf '.plumb/\n/out/\n' >"$repo/.gitignore"
git -C "$repo" init -q -b main
git -C "$repo" add .gitignore spec/pipeline.yaml
git -C "$repo" commit -q -m "store benchmark workload"
echo "generating $count files of $mib MiB (plumb reconcile --no-upload) ..."
"$plumb" reconcile --quiet --no-upload --repo "$repo"
git -C "$repo" status --porcelain | grep -q . && { echo "bench/store.sh: reconcile left the repository unclean" >&2; exit 1; }

# The 16 objects: their paths in Plumb's cache (objects/<2 hex>/<62 hex>) and their names (sha256).
mapfile -t objects < <(find "$repo/.plumb/cache" -type f -size "$((mib * 1024))k" | sort)
[[ ${#objects[@]} -eq $count ]] || { echo "bench/store.sh: expected $count objects of $mib MiB in the cache, found ${#objects[@]}" >&2; exit 1; }
names=()
for o in "${objects[@]}"; do names+=("$(basename "$(dirname "$o")")$(basename "$o")"); done
total_mib=$((count * mib))

clone=$scratch/clone
git clone -q "$repo" "$clone"
down=$scratch/curl-download

# ---------------------------------------------------------------- timing
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

empty_store() { rm -rf "${store:?}/data/"*; }

curl_put() {
    local args=()
    for i in "${!objects[@]}"; do args+=(-T "${objects[$i]}" "$url/cas/${names[$i]}"); done
    curl -sS --no-progress-meter --fail --netrc-file "$netrc" --parallel --parallel-max 8 "${args[@]}" >/dev/null
}

curl_get() {
    local args=()
    for n in "${names[@]}"; do args+=(-o "$down/$n" "$url/cas/$n"); done
    curl -sS --no-progress-meter --fail --netrc-file "$netrc" --parallel --parallel-max 8 "${args[@]}" >/dev/null
}

# One timed run: prints the wall seconds. $1 = case (up|down), $2 = tool (plumb|curl).
run_once() {
    local t0 t1
    case $1-$2 in
        up-plumb) empty_store; sync; t0=$(now); "$plumb" push --quiet --repo "$repo" >/dev/null; t1=$(now) ;;
        up-curl) empty_store; sync; t0=$(now); curl_put; t1=$(now) ;;
        down-plumb) rm -rf "$clone/.plumb"; sync; t0=$(now); "$plumb" pull --quiet --repo "$clone" >/dev/null; t1=$(now) ;;
        down-curl) rm -rf "$down"; mkdir -p "$down"; sync; t0=$(now); curl_get; t1=$(now) ;;
    esac
    elapsed "$t0" "$t1"
}

declare -A best all
measure_case() {
    local c=$1 round tool s order
    # One warm-up per tool, untimed (as bench/bench.py does): the first transfer after the workload
    # was written pays for its writeback and the server's first connections.
    for tool in plumb curl; do echo "  $c $tool warm-up: $(run_once "$c" "$tool") s"; done
    for round in $(seq 1 "$runs"); do
        if ((round % 2)); then order="plumb curl"; else order="curl plumb"; fi
        for tool in $order; do
            s=$(run_once "$c" "$tool")
            all[$c-$tool]="${all[$c-$tool]:-}${all[$c-$tool]:+ }$s"
            if [[ -z ${best[$c-$tool]:-} ]] || awk -v a="$s" -v b="${best[$c-$tool]}" 'BEGIN { exit !(a < b) }'; then
                best[$c-$tool]=$s
            fi
            echo "  $c $tool run $round: $s s"
        done
    done
}

echo "upload: $count x $mib MiB, best of $runs"
measure_case up
# The store must hold everything for the downloads (and push must have been complete).
empty_store
"$plumb" push --quiet --repo "$repo" >/dev/null
stored=$(find "$store/data/cas" -type f | wc -l)
[[ $stored -ge $count ]] || { echo "bench/store.sh: the store holds $stored objects after push" >&2; exit 1; }

echo "download: $count x $mib MiB, best of $runs"
measure_case down

# Check that both tools moved the right bytes (not timed): curl's folder by sha256, Plumb's cache
# (already verified by pull) by count.
rm -rf "$down"; mkdir -p "$down"; curl_get
bad=0
for n in "${names[@]}"; do [[ $(sha256sum "$down/$n" | cut -d' ' -f1) == "$n" ]] || bad=$((bad + 1)); done
[[ $bad -eq 0 ]] || { echo "bench/store.sh: $bad of curl's downloads have the wrong bytes" >&2; exit 1; }
rm -rf "$down"
pulled=$(find "$clone/.plumb/cache" -type f -size "$((mib * 1024))k" | wc -l)
[[ $pulled -eq $count ]] || { echo "bench/store.sh: plumb pull left $pulled of $count objects" >&2; exit 1; }

# ---------------------------------------------------------------- report
mibs() { awk -v m="$total_mib" -v s="$1" 'BEGIN { printf "%.0f", m / s }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
row() {
    local c=$1 label=$2 p=${best[$1-plumb]} k=${best[$1-curl]}
    printf '| %s | %s | %s | %s | %s | %s× |\n' "$label" "$p" "$k" "$(mibs "$p")" "$(mibs "$k")" "$(ratio "$p" "$k")"
}
table=$(
    echo "| case | plumb s (best of $runs) | curl s (best of $runs) | plumb MiB/s | curl MiB/s | plumb/curl |"
    echo "|---|---|---|---|---|---|"
    row up "upload 1 GiB ($count × $mib MiB): \`plumb push\` vs \`curl -T\`"
    row down "download 1 GiB ($count × $mib MiB): \`plumb pull\` (fresh clone) vs \`curl\` GET"
)
echo
echo "$table"

cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
section="<!-- bench/store.sh: this section is rewritten by it -->
## Shared store throughput: Plumb vs curl (issue 14)

Reproduce: \`bench/store.sh\` (\`BENCH_RUNS=N\` for best of N).

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- machine: $(nproc) cores (nproc $(nproc)), CPU: ${cpu:-?}, $(uname -sr); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)
- plumb: $("$plumb" --version) (release build, commit $(git rev-parse --short HEAD)); $(curl --version | head -1 | cut -d' ' -f1-2); $(/usr/sbin/nginx -v 2>&1 || nginx -v 2>&1)
- store: \`scripts/store-server.sh\` (nginx, WebDAV PUT, Basic auth, 127.0.0.1, 2 workers, data on the same disk); $count random files of $mib MiB; curl with \`--parallel --parallel-max 8\`, the same names (\`cas/<sha256>\`) and credentials
- upload: the store's data folder emptied before each run; \`plumb push\` also sends the folder manifest and the run's small action entry and log, and asks \`HEAD\` first for each object
- download: a fresh clone's \`plumb pull\` into an empty \`.plumb\` (each object verified by SHA-256 and fsync'ed before it is renamed into the cache) vs \`curl\` writing the 16 objects into an empty folder (no hashing, no fsync)
- runs: 1 warm-up + $runs timed per tool and case, alternating (order swapped each round), best counts (the machine is shared: load above); timed runs (s): push ${all[up-plumb]}; curl -T ${all[up-curl]}; pull ${all[down-plumb]}; curl GET ${all[down-curl]}

$table
"
if [[ ${BENCH_WRITE:-1} == 0 ]]; then exit 0; fi
if [[ -f bench/RESULTS.store.notes.md ]]; then section+="
$(cat bench/RESULTS.store.notes.md)
"; fi
printf '%s' "$section" >bench/RESULTS.store.md
# RESULTS.md: drop an earlier section of this script (it is always last), append this one.
if [[ -f bench/RESULTS.md ]]; then
    awk '/^<!-- bench\/store.sh/ { exit } /^$/ { blank = blank "\n"; next } { printf "%s%s\n", blank, $0; blank = "" }' bench/RESULTS.md >"$scratch/results.md"
    { cat "$scratch/results.md"; echo; printf '%s' "$section"; } >bench/RESULTS.md
fi
echo "wrote bench/RESULTS.store.md and its section of bench/RESULTS.md"
