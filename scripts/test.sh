#!/usr/bin/env bash
# The whole test suite: install what is missing, then Plumb's Swift tests (unit, golden,
# robustness, end-to-end on scratch git repositories, the example pipeline end to end)
# and the example stages' Python tests.
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
swift test 2>&1 | grep -vE "^(◇|↳)|started\.$" | tail -n 60
exit "${PIPESTATUS[0]}"
