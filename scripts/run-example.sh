#!/usr/bin/env bash
# Runs the example pipeline's stages by hand, without Plumb: to debug a stage or try an edit.
#
#   scripts/run-example.sh [ENV [STAGE...]]     default: dev, then every stage in order
#   scripts/run-example.sh dev train evaluate   only these (earlier outputs stay in build/)
#
# Like Plumb it runs in a scratch directory, .plumb/manual/<env>/ (ignored by git), holding a
# copy of spec/ from the working tree (uncommitted edits included) and a build/ that persists
# between calls. It sets the variables Plumb sets: PLUMB_PARAMS (spec/params.yaml with the
# environment's `params` laid over it, as JSON), PLUMB_ENV, PLUMB_STAGE, PLUMB_RUN_ID,
# PLUMB_REPO, and the environment's `env` and `stages.<stage>.env` (deploy's DEPLOY_TARGET). Deploys go to the real
# deployments/<env>/ of this repository, as Plumb's do.
# Needs scripts/setup.sh to have run, and PyYAML for the system python3 (to read the YAML).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
env="${1:-dev}"
shift || true
stages=("$@")
((${#stages[@]})) || stages=(preprocess train evaluate deploy)

[[ -x "$repo/.venv/bin/python" ]] || { echo "run-example: error: no .venv; run scripts/setup.sh" >&2; exit 1; }
[[ -f "$repo/environments/$env.yaml" ]] || { echo "run-example: error: no environments/$env.yaml" >&2; exit 1; }
python3 -c 'import yaml' 2>/dev/null || {
  echo "run-example: error: the system python3 lacks PyYAML (apt-get install python3-yaml or pip install pyyaml)" >&2; exit 1; }

work="$repo/.plumb/manual/$env"
mkdir -p "$work"
rm -rf "$work/spec"
cp -R "$repo/spec" "$work/spec"

# Effective params and variables of the environment, from the YAML files.
python3 - "$repo" "$env" "$work" <<'PY'
import json, shlex, sys, yaml
repo, env, work = sys.argv[1:]
def merge(base, over):
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for k, v in over.items():
            out[k] = merge(base.get(k), v)
        return out
    return over
params = yaml.safe_load(open(f"{repo}/spec/params.yaml")) or {}
spec = yaml.safe_load(open(f"{repo}/environments/{env}.yaml")) or {}
with open(f"{work}/params.json", "w") as f:
    json.dump(merge(params, spec.get("params") or {}), f, indent=2, sort_keys=True)
with open(f"{work}/env.sh", "w") as f:
    for k, v in sorted((spec.get("env") or {}).items()):
        f.write(f"export {k}={shlex.quote(str(v))}\n")
# `stages: {deploy: {env: …}}`: variables the environment gives one stage only.
for stage, settings in (spec.get("stages") or {}).items():
    with open(f"{work}/env.{stage}.sh", "w") as f:
        for k, v in sorted(((settings or {}).get("env") or {}).items()):
            f.write(f"export {k}={shlex.quote(str(v))}\n")
PY

cd "$work"
# shellcheck disable=SC1091
source ./env.sh
export PLUMB_PARAMS="$work/params.json" PLUMB_ENV="$env" PLUMB_REPO="$repo"
export PLUMB_RUN_ID="${PLUMB_RUN_ID:-manual-$(date -u +%Y%m%dT%H%M%SZ)}"
for stage in "${stages[@]}"; do
  [[ -f "spec/stages/$stage.py" ]] || { echo "run-example: error: no stage spec/stages/$stage.py" >&2; exit 1; }
  echo "--- $stage"
  (
    # shellcheck disable=SC1090
    if [[ -f "env.$stage.sh" ]]; then source "./env.$stage.sh"; fi
    PLUMB_STAGE="$stage" exec "$repo/.venv/bin/python" "spec/stages/$stage.py"
  )
done
for f in build/train_metrics.json build/metrics.json; do
  if [[ -f "$f" ]]; then echo "--- $f"; cat "$f"; fi
done
