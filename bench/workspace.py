#!/usr/bin/env python3
"""Case F: reconcile cost against the size of the tracked repository (stdlib only).

    bench/workspace.py                       # 1,000 and 10,000 tracked files, 5 runs each
    bench/workspace.py --sizes 1000,10000,100000 --runs 3
    bench/workspace.py --plumb /tmp/plumb-old
    bench/workspace.py --paired /tmp/plumb-old,.build/release/plumb --runs 11   # updates only, same rounds

For each size, a repository tracking N files of 100 bytes (1,000 per folder) and one tiny stage that
reads a param. Each round commits a new param value and times, in the same round:
  - `plumb reconcile` with the workspace the last reconcile left (updated in place);
  - `plumb reconcile` after removing the workspace's stamp (.git/plumb-workspace), which is exactly
    the path every reconcile took before: remove the workspace, check the whole commit out afresh;
  - `git checkout --detach` of the same change in a linked worktree that follows the same commits
    (the floor), and the stage's command alone in that worktree.
Prints medians, the ratio of the workspace update alone (as PLUMB_TRACE=1 reports it) to the
`git checkout`, the ratio reconcile / (git checkout + stage), and the 1-minute load average before and
after the size's rounds (the machine is shared: wall times move with it, the ratios less). Needs the release plumb (bench/run.sh
builds it) unless --plumb names one. Writes nothing but bench/work/F-*.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")
ENV = dict(os.environ, NO_COLOR="1", GIT_TERMINAL_PROMPT="0",
           GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
           GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")
STAGE = "mkdir -p build && grep lr spec/params.yaml > build/tiny.txt"
DVC = os.path.join(HERE, ".venv", "bin", "dvc")


def sh(cmd, cwd):
    r = subprocess.run(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}) in {cwd}: {cmd}\n{r.stderr.decode()[-3000:]}")


def timed(cmd, cwd):
    t0 = time.perf_counter()
    sh(cmd, cwd)
    return time.perf_counter() - t0


def traced(cmd, cwd, phase):
    """Wall time of cmd, and the seconds PLUMB_TRACE=1 reports for `phase` (None when absent)."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=dict(ENV, PLUMB_TRACE="1"), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}) in {cwd}: {cmd}\n{r.stderr.decode()[-3000:]}")
    for line in r.stderr.decode().splitlines():
        if line.startswith(f"plumb: trace: {phase} "):
            return wall, float(line.split()[-2])
    return wall, None


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def generate(n, plumb, dvc=False):
    """bench/work/F-<n>: n tracked files, one stage, reconciled once (and with `dvc`, the same stage in
    dvc.yaml, reproduced once and its lock committed); and its floor worktree."""
    path = os.path.join(WORK, f"F-{n}")
    floor = path + "-git"
    if os.path.isdir(floor):
        subprocess.run(["chmod", "-R", "u+w", floor])
    shutil.rmtree(floor, ignore_errors=True)
    if os.path.isdir(path):
        subprocess.run(["chmod", "-R", "u+w", path])
    shutil.rmtree(path, ignore_errors=True)
    line = "x" * 99 + "\n"
    for i in range(n):
        write(os.path.join(path, "data", f"d{i // 1000:03d}", f"f{i:06d}.txt"), line)
    write(os.path.join(path, "spec/pipeline.yaml"),
          f"version: 1\nstages:\n  tiny:\n    cmd: '{STAGE}'\n    params: [train]\n    outs: [build/tiny.txt]\n")
    write(os.path.join(path, "spec/params.yaml"), "train:\n  lr: 0.00000\n")
    write(os.path.join(path, ".gitignore"), ".plumb/\n/build/\n")
    sh(["git", "init", "-q", "-b", "main"], path)
    sh(["git", "add", "-A"], path)
    sh(["git", "commit", "-q", "-m", f"{n} files"], path)
    if dvc:
        write(os.path.join(path, "dvc.yaml"), f"stages:\n  tiny:\n    cmd: '{STAGE}'\n    params:\n      - spec/params.yaml:\n"
              "        - train\n    outs: [build/tiny.txt]\n")
        sh([DVC, "init", "-q"], path)
        sh([DVC, "config", "--local", "core.site_cache_dir", os.path.join(path, ".dvc", "site")], path)
        sh([DVC, "config", "core.analytics", "false"], path)
        sh([DVC, "repro", "-q"], path)
        sh(["git", "add", "-A"], path)
        sh(["git", "commit", "-q", "-m", "dvc"], path)
    sh([plumb, "reconcile", "--quiet"], path)
    sh(["git", "worktree", "add", "-q", "--detach", floor, "HEAD"], path)
    return path, floor


def case(n, runs, plumb, dvc):
    path, floor = generate(n, plumb, dvc)
    stamp = os.path.join(path, ".plumb", "work", "default", ".git", "plumb-workspace")
    counter = [0]

    def bump():
        counter[0] += 1
        write(os.path.join(path, "spec/params.yaml"), f"train:\n  lr: {counter[0] * 1e-5:.5f}\n")
        sh(["git", "commit", "-q", "-am", f"lr {counter[0]}"], path)

    def floor_to_head():
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True).stdout.strip()
        return timed(["git", "checkout", "-q", "--detach", head], floor)

    got = {"incremental": [], "update": [], "fresh": [], "git": [], "stage": [], "dvc": []}
    for r in range(runs + 1):  # the first round warms caches up and is not counted
        bump()
        incremental, update = traced([plumb, "reconcile", "--quiet"], path, "workspace updated in place")
        if update is None:
            raise SystemExit(f"{path}: the reconcile did not update its workspace in place")
        if not os.path.exists(stamp):
            raise SystemExit(f"{path}: the reconcile left no workspace stamp")
        git = floor_to_head()
        stage = timed(["sh", "-c", STAGE], floor)
        # DVC's repro of the same change (the param it reads is what this round's commit changed).
        repro = timed([DVC, "repro", "-q"], path) if dvc else None
        bump()
        os.remove(stamp)
        fresh = timed([plumb, "reconcile", "--quiet"], path)
        floor_to_head()
        if r:
            for k, v in (("incremental", incremental), ("update", update), ("fresh", fresh), ("git", git), ("stage", stage), ("dvc", repro)):
                if v is not None:
                    got[k].append(v)
    return {k: statistics.median(v) if v else None for k, v in got.items()}


def paired(n, runs, plumbs):
    """Each round commits a change and, for each binary in turn, times its update (PLUMB_TRACE) and then
    `git checkout` of the same commit: the binaries share whatever load the machine has that minute."""
    path, floor = generate(n, plumbs[0])
    counter = [0]
    got = {p: ([], []) for p in plumbs}
    for r in range(runs + 1):  # the first round warms caches up and is not counted
        for plumb in plumbs:
            counter[0] += 1
            write(os.path.join(path, "spec/params.yaml"), f"train:\n  lr: {counter[0] * 1e-5:.5f}\n")
            sh(["git", "commit", "-q", "-am", f"lr {counter[0]}"], path)
            _, update = traced([plumb, "reconcile", "--quiet"], path, "workspace updated in place")
            if update is None:
                raise SystemExit(f"{path}: {plumb} did not update its workspace in place")
            head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=path, capture_output=True, text=True).stdout.strip()
            git = timed(["git", "checkout", "-q", "--detach", head], floor)
            if r:
                got[plumb][0].append(update)
                got[plumb][1].append(git)
    return {p: (statistics.median(u), statistics.median(g)) for p, (u, g) in got.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000", help="tracked files per repository (100000 takes minutes to set up)")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--plumb", default=os.path.join(ROOT, ".build", "release", "plumb"))
    ap.add_argument("--no-dvc", action="store_true", help="leave out `dvc repro` of the same change")
    ap.add_argument("--write", action="store_true", help="also put the table into bench/RESULTS.md")
    ap.add_argument("--paired", help="comma-separated plumb binaries: only the update, each against git checkout in the same rounds")
    args = ap.parse_args()
    if args.paired:
        plumbs = args.paired.split(",")
        print(f"F update vs git checkout, paired rounds, median of {args.runs} (ms)")
        print("| tracked files | " + " | ".join(f"{os.path.basename(p)}: update / checkout" for p in plumbs) + " | load average |")
        print("|---:|" + "---:|" * len(plumbs) + "---:|")
        for n in (int(s) for s in args.sizes.split(",")):
            load = os.getloadavg()[0]
            m = paired(n, args.runs, plumbs)
            cells = " | ".join(f"{u * 1e3:.1f} / {g * 1e3:.1f} = {u / g:.2f}×" for u, g in (m[p] for p in plumbs))
            print(f"| {n:,} | {cells} | {load:.1f}–{os.getloadavg()[0]:.1f} |")
            sys.stdout.flush()
        return
    if not os.access(args.plumb, os.X_OK):
        raise SystemExit(f"no plumb at {args.plumb}: run `swift build -c release --product plumb` or pass --plumb")
    dvc = not args.no_dvc and os.access(DVC, os.X_OK)
    lines = [f"F reconcile vs tracked-repo size, one param changed, one tiny stage; median of {args.runs} runs (s)"
             + ("; `dvc repro` of the same change in the same rounds" if dvc else ""),
             "",
             "| tracked files | reconcile, workspace updated | of which the update (PLUMB_TRACE) | reconcile, fresh checkout (before) "
             "| `git checkout` of the change | stage alone | update / checkout | reconcile / (checkout + stage) | `dvc repro` | DVC / Plumb | load average |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    print("\n".join(lines))
    for n in (int(s) for s in args.sizes.split(",")):
        load = os.getloadavg()[0]
        m = case(n, args.runs, args.plumb, dvc)
        ratio = m["incremental"] / (m["git"] + m["stage"])
        repro = f"{m['dvc']:.3f} | {m['dvc'] / m['incremental']:.1f}×" if m["dvc"] is not None else "— | —"
        lines.append(f"| {n:,} | {m['incremental']:.3f} | {m['update']:.3f} | {m['fresh']:.3f} | {m['git']:.3f} | {m['stage']:.3f} "
                     f"| {m['update'] / m['git']:.2f}× | {ratio:.1f}× | {repro} | {load:.1f}–{os.getloadavg()[0]:.1f} |")
        print(lines[-1])
        sys.stdout.flush()
    if args.write:
        # Into RESULTS.md between markers, replacing the last run's table (bench.py keeps RESULTS.workspace.md).
        text = "## F: reconcile against the tracked repository's size (bench/workspace.py)\n\n" + "\n".join(lines) + "\n"
        write(os.path.join(HERE, "RESULTS.workspace.md"), text)
        results = os.path.join(HERE, "RESULTS.md")
        old = open(results).read()
        opening, closing = "<!-- workspace.py -->\n", "<!-- /workspace.py -->\n"
        start, end = old.find(opening), old.find(closing)
        block = opening + text + closing
        new = old[:start] + block + old[end + len(closing):] if start >= 0 and end > start else old.rstrip("\n") + "\n\n" + block
        write(results, new)

if __name__ == "__main__":
    main()
