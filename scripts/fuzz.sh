#!/usr/bin/env bash
# Fuzzes the spec loader and every record decoder with libFuzzer (from the Swift toolchain; nothing
# is installed), each for its share of SECONDS (default 600 in all).
#
#   scripts/fuzz.sh [SECONDS] [DECODER...]     decoders: pipeline params environment state run pin
#                                              manifest fingerprint stat-cache metrics plot (default: all)
#
# Builds Sources/PlumbFuzz with -sanitize=fuzzer,address into .build-fuzz/ (ignored by git; plain
# `swift build` never sees these flags). Each decoder starts from its seed corpus in
# Tests/Fuzz/corpus/<decoder>/ (read only) and grows a working corpus in .build-fuzz/corpus/<decoder>/.
# A crash, a hang (over 10 s for one input) or running out of memory (2 GB) stops that decoder: the
# input is kept in .build-fuzz/crashes/<decoder>/ and the script exits 1 after the others ran.
# Replay a kept input with the plain build: .build/debug/plumb-fuzz <decoder> FILE
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"

total="${1:-600}"
[[ "$total" =~ ^[0-9]+$ && "$total" -gt 0 ]] || { echo "fuzz: error: SECONDS must be a positive number, not '$total'" >&2; exit 64; }
shift || true
all=(pipeline params environment state run pin manifest fingerprint stat-cache metrics plot)
decoders=("$@")
((${#decoders[@]})) || decoders=("${all[@]}")
for d in "${decoders[@]}"; do
  [[ " ${all[*]} " == *" $d "* ]] || { echo "fuzz: error: unknown decoder '$d' (decoders: ${all[*]})" >&2; exit 64; }
done
each=$(( total / ${#decoders[@]} ))
((each > 0)) || each=1

scratch=.build-fuzz
mkdir -p "$scratch"
echo "fuzz: building plumb-fuzz with libFuzzer and AddressSanitizer in $scratch/…"
if ! swift build --scratch-path "$scratch" --product plumb-fuzz \
     -Xswiftc -sanitize=fuzzer,address -Xswiftc -DPLUMB_LIBFUZZER >"$scratch/build.log" 2>&1; then
  grep -E "error" "$scratch/build.log" >&2 || tail -20 "$scratch/build.log" >&2
  echo "fuzz: error: the fuzz build failed (full log: $scratch/build.log)" >&2
  exit 1
fi
binary="$scratch/debug/plumb-fuzz"

failed=()
for d in "${decoders[@]}"; do
  corpus="$scratch/corpus/$d" crashes="$scratch/crashes/$d"
  mkdir -p "$corpus" "$crashes"
  log="$scratch/fuzz-$d.log"
  # The Swift runtime's backtracer would take the trap before libFuzzer could save the input.
  status=0
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0:handle_abort=1 PLUMB_FUZZ_DECODER="$d" \
    "$binary" -max_total_time="$each" -timeout=10 -rss_limit_mb=2048 -detect_leaks=0 \
      -artifact_prefix="$crashes/" -print_final_stats=1 "$corpus" "Tests/Fuzz/corpus/$d" >"$log" 2>&1 || status=$?
  runs=$(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$" || echo "?")
  coverage=$(grep -oE "cov: [0-9]+" "$log" | tail -1 || true)
  if ((status == 0)); then
    printf "fuzz: %-12s ok      %8s inputs in %ss, %s\n" "$d" "$runs" "$each" "${coverage:-cov: ?}"
  else
    input=$(grep -oE "Test unit written to [^ ]+" "$log" | tail -1 | sed 's/Test unit written to //' || true)
    printf "fuzz: %-12s FAILED  (exit %s) after %s inputs; log: %s\n" "$d" "$status" "$runs" "$log"
    grep -E "Fatal error|ERROR: (libFuzzer|AddressSanitizer)|SUMMARY" "$log" | head -3 | sed 's/^/      /' || true
    [[ -n "$input" ]] && echo "      input kept: $input   replay: swift build && .build/debug/plumb-fuzz $d $input"
    failed+=("$d")
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: error: ${#failed[@]} decoder(s) failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: no crash, hang or memory blow-up in ${#decoders[@]} decoder(s)."
