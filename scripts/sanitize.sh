#!/usr/bin/env bash
# The Swift test suite under AddressSanitizer and ThreadSanitizer, each in its own build folder
# (.build-asan, .build-tsan), so the ordinary .build stays as it is.
#
#   scripts/sanitize.sh                 # both, the whole suite
#   scripts/sanitize.sh thread          # one sanitizer
#   scripts/sanitize.sh address Engine  # one sanitizer, tests whose name matches a filter
#
# Exits non-zero when a test fails or a sanitizer reports anything: TSan and ASan are set to halt
# on the first report, so a report cannot scroll by inside a passing run. The figures (tests run,
# reports seen, seconds) are printed at the end of each run. Leak checking is off: the Swift
# runtime keeps metadata for the life of the process, which LeakSanitizer reports as leaks.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
scripts/setup.sh
export PATH="/opt/swift/usr/bin:$PATH"

sanitizers=(address thread)
if (($#)); then sanitizers=("$1"); shift; fi
filter=("$@")

export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export ASAN_OPTIONS="halt_on_error=1 detect_leaks=0 ${ASAN_OPTIONS:-}"

status=0
for sanitizer in "${sanitizers[@]}"; do
  case "$sanitizer" in
    address) scratch=.build-asan ;;
    thread) scratch=.build-tsan ;;
    *) echo "sanitize: unknown sanitizer '$sanitizer' (address or thread)" >&2; exit 64 ;;
  esac
  # Tests that measure memory skip that bound under a sanitizer, whose allocator holds freed memory.
  export PLUMB_SANITIZER="$sanitizer"
  log="$scratch/sanitize.log"
  mkdir -p "$scratch"
  echo "== swift test --sanitize=$sanitizer (log: $log)"
  started=$SECONDS
  args=(--scratch-path "$scratch" --sanitize="$sanitizer")
  ((${#filter[@]})) && args+=(--filter "${filter[@]}")
  set +e
  swift test "${args[@]}" >"$log" 2>&1
  rc=$?
  set -e
  reports=$(grep -cE "WARNING: ThreadSanitizer|ERROR: AddressSanitizer" "$log" || true)
  grep -E "Test run with .* (passed|failed)|tests? failed|error:" "$log" | tail -n 5 || true
  echo "$sanitizer: exit $rc, $reports sanitizer reports, $((SECONDS - started)) s"
  if ((reports)); then
    grep -E "SUMMARY: (Thread|Address)Sanitizer" "$log" | sort | uniq -c
  fi
  ((rc == 0 && reports == 0)) || status=1
done
exit "$status"
