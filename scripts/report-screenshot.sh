#!/usr/bin/env bash
# Regenerates docs/report.png, the screenshot of `plumb report --html` the README shows, from the
# example pipeline as docs/report.md describes it: scripts/example.sh (dev), a param change
# reconciled, `plumb promote dev staging` and staging's reconcile, then the page of dev.
#
#   scripts/report-screenshot.sh [PNG]      # default: docs/report.png of this repository
#
# Everything runs in a scratch clone of HEAD in a temporary folder, removed afterwards: the runs
# and the promotion are committed there, never to this repository's branch. The clone shares this
# repository's .venv (scripts/setup.sh builds it) and gets the plumb binary built here: release, as
# scripts/example.sh builds it, unless PLUMB names another binary. Chromium comes from
# scripts/chromium.sh (installed when missing).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
png="${1:-$repo/docs/report.png}"
say() { printf 'report-screenshot: %s\n' "$*"; }
die() { printf 'report-screenshot: error: %s\n' "$*" >&2; exit 1; }

"$repo/scripts/setup.sh"
[[ -d /opt/swift/usr/bin ]] && export PATH="/opt/swift/usr/bin:$PATH"
plumb="${PLUMB:-}"
if [[ -z "$plumb" ]]; then
  plumb="$repo/.build/release/plumb"
  if [[ ! -x "$plumb" ]] || [[ -n "$(cd "$repo" && find Sources Package.swift -newer "$plumb" -print -quit)" ]]; then
    say "building plumb (release)…"
    (cd "$repo" && swift build -c release --product plumb --static-swift-stdlib >/dev/null) || die "the build failed"
  fi
fi
[[ -x "$plumb" ]] || die "no plumb binary at $plumb"

work="$(mktemp -d "${TMPDIR:-/tmp}/plumb-screenshot.XXXXXX")"
trap 'rm -rf "$work"' EXIT
example="$work/example"
git clone --quiet --no-hardlinks "$repo" "$example"
git -C "$example" config user.name "Plumb example"
git -C "$example" config user.email "example@plumb.invalid"
ln -s "$repo/.venv" "$example/.venv"
# scripts/example.sh builds plumb unless its binary is newer than the sources: this one is.
mkdir -p "$example/.build/release"
cp "$plumb" "$example/.build/release/plumb"
touch "$example/.build/release/plumb"

cd "$example"
say "the example in dev (scripts/example.sh)"
scripts/example.sh dev >/dev/null
say "a param change: train.forest.max_depth 6 -> 4"
sed -i 's/^    max_depth: 6 /    max_depth: 4 /' spec/params.yaml
grep -q '^    max_depth: 4 ' spec/params.yaml || die "spec/params.yaml has no 'max_depth: 6' to change"
git commit --quiet -am "train: shallower trees"
.build/release/plumb reconcile --env dev -q >/dev/null
say "promote dev to staging, and deploy it"
.build/release/plumb promote dev staging -q >/dev/null
.build/release/plumb reconcile --env staging -q >/dev/null
.build/release/plumb report --html --env dev -q
"$repo/scripts/chromium.sh" screenshot .plumb/report/index.html "$png" 1280,1400
say "wrote $png"
