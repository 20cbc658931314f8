#!/usr/bin/env bash
# The main job: install what is missing, build Plumb (release), reconcile the example
# pipeline in spec/ for an environment (default dev), and say where the model went.
#
#   scripts/example.sh [ENV]
#
# It commits the run to history/ on the current branch, as `plumb reconcile` always does.
# Running it again reports nothing to do.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
env="${1:-dev}"
cd "$repo"

scripts/setup.sh
export PATH="/opt/swift/usr/bin:$PATH"
if [[ ! -x .build/release/plumb ]] || [[ -n "$(find Sources Package.swift -newer .build/release/plumb -print -quit)" ]]; then
  echo "example: building plumb (release)…"
  swift build -c release --product plumb --static-swift-stdlib 2>&1 | grep -E "error|warning: unre|Compiling plumb|Build complete" | grep -v "^$" || true
  [[ -x .build/release/plumb ]] || { echo "example: error: the build failed" >&2; exit 1; }
fi

status=0
.build/release/plumb reconcile --env "$env" || status=$?
if [[ -f "deployments/$env/manifest.json" ]]; then
  echo
  echo "Deployed: $repo/deployments/$env -> $(readlink "deployments/$env" 2>/dev/null || echo "deployments/$env")"
  echo "Query it: .venv/bin/python spec/stages/serve.py --env $env --port 8080 &"
  echo "          curl -s localhost:8080/predict -d '{\"pclass\": 1, \"sex\": \"female\", \"age\": 29, \"sibsp\": 0, \"parch\": 0, \"fare\": 80, \"embarked\": \"S\"}'"
fi
exit $status
