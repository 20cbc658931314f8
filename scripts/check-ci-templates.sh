#!/usr/bin/env bash
# Checks the CI templates in docs/ci/ as the forges would read them, in seconds and offline:
#  - each against its forge's published schema, with check-jsonschema's vendored copies
#    (--builtin-schema: no download), so a file GitLab or GitHub would reject fails here;
#  - every shell script in them (GitHub `run:`, GitLab `before_script:`/`script:`/`after_script:`)
#    with shellcheck, extracted by scripts/extract-ci-scripts.py at their template line numbers.
#
#   scripts/check-ci-templates.sh
#
# Exits non-zero when any check fails; runs all of them first. scripts/test.sh runs it.
# Installs its tools through scripts/setup.sh when they are missing.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
python=.venv/bin/python

if [[ ! -x .venv/bin/check-jsonschema ]] || ! command -v shellcheck >/dev/null 2>&1; then
  scripts/setup.sh
fi

status=0
fail() { printf 'check-ci-templates: FAIL: %s\n' "$*" >&2; status=1; }

# --- schemas ---------------------------------------------------------------
check_schema() {  # SCHEMA TEMPLATE
  .venv/bin/check-jsonschema --builtin-schema "$1" "$2" || fail "$2 does not match the schema $1"
}
check_schema vendor.github-workflows docs/ci/github-actions.yml
check_schema vendor.gitlab-ci docs/ci/gitlab-ci.yml

# --- shell scripts ---------------------------------------------------------
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
if "$python" scripts/extract-ci-scripts.py "$scratch" docs/ci/github-actions.yml docs/ci/gitlab-ci.yml >"$scratch/list"; then
  mapfile -t scripts <"$scratch/list"
  # A template whose scripts all vanished would pass shellcheck trivially.
  ((${#scripts[@]} > 0)) || fail "no shell scripts found in docs/ci/"
  # Run from the scratch folder so shellcheck names each script docs/ci/<template>@<job>….sh.
  if ((${#scripts[@]} > 0)) && (cd "$scratch" && shellcheck --format=tty "${scripts[@]}"); then
    echo "ok -- shellcheck: ${#scripts[@]} scripts"
  else
    fail "shellcheck found problems in the templates' scripts (line numbers are the template's)"
  fi
else
  fail "cannot extract the templates' scripts"
fi

exit "$status"
