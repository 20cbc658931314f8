#!/usr/bin/env bash
# The whole test suite: install what is missing, then Plumb's Swift tests (unit, golden,
# robustness, end-to-end on scratch git repositories, the example pipeline end to end)
# and the example stages' Python tests; then a short libFuzzer run over the spec loader and every
# record decoder (scripts/fuzz.sh 60; longer runs: scripts/fuzz.sh 3600); and the CI templates in
# docs/ci/ against the forges' schemas and shellcheck (scripts/check-ci-templates.sh).
#
#   scripts/test.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

scripts/setup.sh
export PATH="/opt/swift/usr/bin:$PATH"

echo "== example stages (python -m unittest)"
.venv/bin/python -m unittest discover -s spec/tests 2>&1 | tail -n 3

echo "== plumb (swift test)"
swift build --build-tests 2>&1 | grep -E "error:|Compiling|Build complete" | grep -v "^$" | tail -n 5
set +e
# The whole output is kept: a failure early in a long run must not scroll out of the tail.
log=.build/swift-test.log
swift test 2>&1 | grep -vE "^(◇|↳)|started\.$" >"$log"
tests=${PIPESTATUS[0]}
tail -n 40 "$log"
if ((tests != 0)); then
    echo "== failed tests and their issues (whole output: $log)"
    grep -E "✘|error:|Fatal error|Crash" "$log" | head -n 60
fi

# Still under `set +e`: a failed section is reported, and the next one runs all the same.
echo "== fuzzing (scripts/fuzz.sh 60)"
scripts/fuzz.sh 60 2>&1 | tail -n 15
fuzz=${PIPESTATUS[0]}

echo "== CI templates (check-jsonschema, shellcheck)"
scripts/check-ci-templates.sh 2>&1
templates=$?
set -e

((tests == 0)) || exit "$tests"
((fuzz == 0)) || exit "$fuzz"
exit "$templates"
