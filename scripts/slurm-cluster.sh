#!/usr/bin/env bash
# A single-node Slurm cluster for tests and demos: Debian's slurmctld, slurmd and munge on
# loopback, on free ports, everything (config, munge key and socket, state, spool, pids, logs)
# in one folder.
#
#   scripts/slurm-cluster.sh start [FOLDER]   # prints SLURM_CONF=FOLDER/slurm.conf on stdout
#   scripts/slurm-cluster.sh stop FOLDER      # stops slurmd, slurmctld and munged by their PIDs
#
# start creates FOLDER (a new temporary folder when not given), a munge key of its own, and
# FOLDER/slurm.conf with one node `localhost` (127.0.0.1, all CPUs, most of the memory) in one
# partition `debug`; starts munged, slurmctld and slurmd in the background (PIDs in FOLDER/*.pid,
# output in FOLDER/log/), waits for the node to be idle and runs one warm-up job (the first job
# after start waits ~3 s). Clients find the cluster through SLURM_CONF:
#
#   eval "$(scripts/slurm-cluster.sh start /tmp/slurm)"; export SLURM_CONF
#   sbatch --parsable --wrap 'echo hi'; squeue -h -t all -o '%i %T'
#
# Slurm and munge are installed with apt-get when missing (as root, or with `sudo -n`); if that is
# impossible start exits 3, so a test can skip. The daemons run as root (SlurmUser=root), so start
# needs root or `sudo -n`; it adds `127.0.1.1 <hostname>` to /etc/hosts when the host name does
# not resolve (srun needs it). stop cancels no job: a job still running keeps its slurmstepd.
set -euo pipefail

say() { printf 'slurm-cluster: %s\n' "$*" >&2; }
die() { printf 'slurm-cluster: error: %s\n' "$1" >&2; exit "${2:-1}"; }

# The path of a program, also when /usr/sbin is not on PATH (a non-root shell).
bin() { command -v "$1" 2>/dev/null || { [[ -x "/usr/sbin/$1" ]] && echo "/usr/sbin/$1"; } || true; }

PROGRAMS=(munged slurmctld slurmd sbatch sinfo squeue scontrol)
PACKAGES=(munge slurmctld slurmd slurm-client)

missing() { local p; for p in "${PROGRAMS[@]}"; do [[ -n "$(bin "$p")" ]] || return 0; done; return 1; }

as_root() {
  if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

ensure_slurm() {
  missing || return 0
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || die "Slurm is not installed and cannot be (not root, no sudo)" 3
    sudo -n true 2>/dev/null || die "Slurm is not installed and cannot be (sudo -n refused)" 3
  fi
  say "installing ${PACKAGES[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  { as_root apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" </dev/null >/dev/null 2>&1 ||
    { as_root apt-get update -qq </dev/null >/dev/null 2>&1 &&
      as_root apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" </dev/null >/dev/null 2>&1; }; } ||
    die "Slurm is not installed and apt-get could not install it" 3
  ! missing || die "Slurm is not installed and apt-get could not install it" 3
}

free_port() {
  # A port no socket is bound to now and not already chosen ($1: ports to avoid).
  local port used
  used="$(awk 'NR>1 {split($2, a, ":"); print strtonum("0x" a[2])}' /proc/net/tcp /proc/net/tcp6 2>/dev/null | sort -u)"
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 40000))
    grep -qx "$port" <<<"$used" && continue
    [[ " ${1:-} " == *" $port "* ]] && continue
    echo "$port"
    return 0
  done
  die "no free port found"
}

write_config() {
  local prefix="$1" ctld_port="$2" slurmd_port="$3"
  local cpus mem_mb host
  cpus="$(nproc)"
  mem_mb=$(($(awk '/^MemTotal:/ {print $2}' /proc/meminfo) / 1024))
  # Leave a margin for the system: a tenth of the memory, at least 256 MB.
  local margin=$((mem_mb / 10 > 256 ? mem_mb / 10 : 256))
  mem_mb=$((mem_mb > margin + 64 ? mem_mb - margin : 64))
  host="$(hostname -s)"
  cat >"$prefix/slurm.conf" <<EOF
# Written by scripts/slurm-cluster.sh: a single-node cluster on loopback, all paths under $prefix.
ClusterName=plumb
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$prefix/munge/munge.socket
StateSaveLocation=$prefix/state
SlurmdSpoolDir=$prefix/spool
SlurmctldPidFile=$prefix/run/slurmctld.pid
SlurmdPidFile=$prefix/run/slurmd.pid
SlurmctldLogFile=$prefix/log/slurmctld.log
SlurmdLogFile=$prefix/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
# No mail from this cluster (Debian's default mail program is missing).
MailProg=/bin/true
ReturnToService=2
SchedulerParameters=batch_sched_delay=0
EnforcePartLimits=ALL
# Finished jobs stay visible to squeue and scontrol for 5 minutes (a lower value lost exit codes).
MinJobAge=300
NodeName=localhost NodeAddr=127.0.0.1 NodeHostname=localhost CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

# Starts a daemon in the background with only stdin (from /dev/null), stdout and stderr (its log
# file): a daemon that inherited the caller's other descriptors would hold them open for its whole
# life, and a caller waiting for end of file on one (a pipe, or the socket Foundation's Process
# watches) would hang. Writes its PID to FOLDER/NAME.pid.
launch() {
  local name="$1"; shift
  (
    for fd in "/proc/$BASHPID/fd/"*; do
      fd="${fd##*/}"
      if [[ "$fd" -gt 2 && "$fd" -ne 255 ]]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec "$@" </dev/null >>"$prefix/log/$name.out" 2>&1
  ) &
  printf '%s\n' "$!" >"$prefix/$name.pid"
}

since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }

alive() { [[ -s "$prefix/$1.pid" ]] && kill -0 "$(cat "$prefix/$1.pid")" 2>/dev/null; }

tails() {
  local f
  for f in "$prefix"/log/*; do
    [[ -s "$f" ]] || continue
    printf -- '--- %s\n' "$f" >&2
    tail -n 8 "$f" >&2
  done
}

fail() {
  say "error: $*"
  tails
  stop "$prefix" >/dev/null 2>&1 || true
  exit 1
}

ensure_hostname() {
  local host
  host="$(hostname)"
  getent hosts "$host" >/dev/null 2>&1 && return 0
  say "adding '127.0.1.1 $host' to /etc/hosts (srun needs the host name to resolve)"
  printf '127.0.1.1 %s\n' "$host" | as_root tee -a /etc/hosts >/dev/null ||
    say "warning: could not add $host to /etc/hosts; srun may fail"
}

start() {
  ensure_slurm
  prefix="${1:-}"
  if [[ -z "$prefix" ]]; then prefix="$(mktemp -d "${TMPDIR:-/tmp}/plumb-slurm.XXXXXX")"; fi
  mkdir -p "$prefix"
  prefix="$(cd "$prefix" && pwd)"
  local name
  for name in munged slurmctld slurmd; do
    ! alive "$name" || die "$name of $prefix is running already (pid $(cat "$prefix/$name.pid")); stop it first"
  done
  [[ $(id -u) -eq 0 ]] || die "the daemons run as root (SlurmUser=root): run start as root"
  mkdir -p "$prefix/state" "$prefix/spool" "$prefix/run" "$prefix/log" "$prefix/munge"
  # munged refuses a socket in a folder others cannot enter, up to /: mktemp's 0700 becomes 0711.
  chmod go+x "$prefix"
  chmod 0755 "$prefix/munge"
  if [[ ! -s "$prefix/munge/munge.key" ]]; then
    dd if=/dev/urandom of="$prefix/munge/munge.key" bs=1 count=1024 status=none
  fi
  chmod 0400 "$prefix/munge/munge.key"
  rm -f "$prefix/munge/munge.socket" "$prefix/munge/munge.socket.lock"
  ensure_hostname

  local ctld_port slurmd_port
  ctld_port="$(free_port)"
  slurmd_port="$(free_port "$ctld_port")"
  write_config "$prefix" "$ctld_port" "$slurmd_port"
  export SLURM_CONF="$prefix/slurm.conf"
  local t0="$EPOCHREALTIME" idle_after

  launch munged "$(bin munged)" --foreground --socket="$prefix/munge/munge.socket" \
    --key-file="$prefix/munge/munge.key" --pid-file="$prefix/run/munged.pid" \
    --log-file="$prefix/log/munged.log" --seed-file="$prefix/munge/munged.seed"
  for _ in $(seq 100); do [[ -S "$prefix/munge/munge.socket" ]] && break; alive munged || break; sleep 0.05; done
  [[ -S "$prefix/munge/munge.socket" ]] || fail "munged did not create its socket"

  launch slurmctld "$(bin slurmctld)" -D -i -f "$SLURM_CONF"
  launch slurmd "$(bin slurmd)" -D -N localhost -f "$SLURM_CONF"

  local state="" deadline=$((SECONDS + 20))
  while ((SECONDS < deadline)); do
    alive slurmctld || fail "slurmctld exited"
    alive slurmd || fail "slurmd exited"
    state="$("$(bin sinfo)" -h -N -n localhost -o '%t' 2>/dev/null || true)"
    [[ "$state" == idle ]] && break
    sleep 0.1
  done
  [[ "$state" == idle ]] || fail "the node was not idle after 20 s (sinfo: '${state:-no answer}')"
  idle_after="$(since "$t0")"

  # The first job after start waits ~3 s; a warm-up job spares the caller's first job.
  local job
  job="$("$(bin sbatch)" --parsable --job-name=warm-up --chdir="$prefix" --output=/dev/null --wrap true 2>&1)" ||
    fail "sbatch of the warm-up job failed: $job"
  job="${job%%;*}"
  deadline=$((SECONDS + 30))
  while ((SECONDS < deadline)); do
    state="$("$(bin squeue)" -h -t all -j "$job" -o %T 2>/dev/null || true)"
    case "$state" in
      COMPLETED) break ;;
      PENDING | CONFIGURING | RUNNING | COMPLETING | "") sleep 0.1 ;;
      *) fail "the warm-up job $job ended $state" ;;
    esac
  done
  [[ "$state" == COMPLETED ]] || fail "the warm-up job $job did not complete in 30 s (state '${state:-unknown}')"

  say "ready in $(since "$t0") s (node idle after $idle_after s, then the warm-up job $job)"
  say "node localhost idle; slurmctld on port $ctld_port (pid $(cat "$prefix/slurmctld.pid")), slurmd on $slurmd_port (pid $(cat "$prefix/slurmd.pid")), munged pid $(cat "$prefix/munged.pid")"
  printf '%s\n' "$prefix" >&2
  printf 'SLURM_CONF=%s\n' "$SLURM_CONF"
}

# Sends TERM to the named daemons of FOLDER at once, waits up to 10 s for all of them (slurmctld
# saves its state on TERM), KILLs any left, and removes their PID files.
stop_daemons() {
  local folder="$1" name pid left; shift
  local -a pids=() names=()
  for name in "$@"; do
    [[ -s "$folder/$name.pid" ]] || continue
    pid="$(cat "$folder/$name.pid")"
    [[ "$pid" =~ ^[0-9]+$ ]] || die "$folder/$name.pid does not hold a process id"
    if kill -TERM "$pid" 2>/dev/null; then pids+=("$pid"); names+=("$name"); fi
  done
  for _ in $(seq 100); do
    left=0
    for pid in "${pids[@]}"; do if kill -0 "$pid" 2>/dev/null; then left=1; fi; done
    ((left)) || break
    sleep 0.1
  done
  local i
  for i in "${!pids[@]}"; do
    if kill -0 "${pids[$i]}" 2>/dev/null; then
      say "${names[$i]} (pid ${pids[$i]}) did not stop on TERM: KILL"
      kill -KILL "${pids[$i]}" 2>/dev/null || true
    fi
  done
  for name in "$@"; do rm -f "$folder/$name.pid"; done
}

stop() {
  local folder="${1:?usage: slurm-cluster.sh stop FOLDER}"
  local jobs=""
  # stop cancels nothing, but says so when jobs are left: their slurmstepd outlives slurmd.
  if [[ -s "$folder/slurmctld.pid" && -s "$folder/slurm.conf" ]] && kill -0 "$(cat "$folder/slurmctld.pid")" 2>/dev/null; then
    jobs="$(SLURM_CONF="$folder/slurm.conf" timeout 5 "$(bin squeue)" -h -t PENDING,RUNNING,COMPLETING,SUSPENDED -o %i 2>/dev/null | tr '\n' ' ' || true)"
    [[ -z "${jobs// /}" ]] || say "warning: jobs not finished: ${jobs% }; stop cancels none (scancel them first), a running one keeps its slurmstepd"
  fi
  # munged last: both Slurm daemons authenticate through it until they are gone.
  stop_daemons "$folder" slurmd slurmctld
  stop_daemons "$folder" munged
}

prefix=""
case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; stop "$@" ;;
  *) die "usage: slurm-cluster.sh start [FOLDER] | stop FOLDER" 64 ;;
esac
