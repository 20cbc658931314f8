#!/usr/bin/env python3
"""Cases E2 and H (issue 18, items 1-3): planning over a large untracked dataset (stdlib only).

    bench/walk.py                             # 1,000 stages over 1,000,000 files of 100 bytes in 1,000 folders
    bench/walk.py --files 100000 --runs 3     # a short run (100 files per folder)
    bench/walk.py --plumb /tmp/plumb-before   # another binary (before/after), same workload

The workload (bench/work/E2-<files>/, generated once, reused): a git repository whose pipeline is bench.py's
case E graph (1,000 stages in layers, each reading its own tracked script and two outputs of the layer
before) where every stage of the first layer also reads `data/`, an untracked folder of --files files of
100 bytes in --folders folders. A git repository with its own git dir (E2-<files>.git) tracks the very
same files through --work-tree, for the `git status` floor.

Measured in the same run, alternating, after one warm-up each:
  floor   the 2-thread lstat walk of data/ (bench/floor_walk.c) and `git status` over the same files;
  E2a     `plumb plan`, nothing changed;
  E2b     `plumb plan`, one file of the million rewritten (same size) before each run, given its bytes
          back after the round;
  E2c     `plumb reconcile`, nothing changed.
and DVC beside them on the same pipeline (dvc.yaml in the same repository; `--no-dvc` leaves it out):
`dvc status` where Plumb plans, `dvc repro` where it reconciles.
Wall time (median, min-max) and peak RSS (ru_maxrss from wait4), ratios to the floors. Writes
bench/RESULTS.walk-<files>.md, which bench.py keeps in RESULTS.md.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")
sys.path.insert(0, HERE)
import bench  # noqa: E402  (the case E graph, init_repo, measure)

FLOOR = os.path.join(WORK, "floor-walk")


def generate(files, folders, stages):
    path = os.path.join(WORK, f"E2-{files}")
    stamp = os.path.join(WORK, f".E2-{files}.done")
    gitdir = path + ".git"
    if os.path.exists(stamp):
        return path, gitdir
    print(f"  generating E2 with {files:,} files (once) ...", flush=True)
    t = time.time()
    subprocess.run(["rm", "-rf", path, gitdir], check=True)
    graph, code = e2_graph(stages)
    pipeline, _ = bench.render(graph)
    os.makedirs(path)
    bench.write(os.path.join(path, "spec/pipeline.yaml"), pipeline)
    bench.write(os.path.join(path, "spec/params.yaml"), bench.PARAMS)
    for rel, text in code.items():
        bench.write(os.path.join(path, rel), text)
    bench.write(os.path.join(path, ".gitignore"), ".plumb/\n/build/\n/data/\n")
    bench.sh(["git", "init", "-q", "-b", "main"], path)
    bench.sh(["git", "add", "-A"], path)
    bench.sh(["git", "commit", "-q", "-m", "workload"], path)
    data = os.path.join(path, "data")
    per = files // folders
    payload = b"x" * 91
    for f in range(folders):
        d = os.path.join(data, f"part-{f:04d}")
        os.makedirs(d)
        for i in range(per):
            with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as out:
                out.write(b"%08d\n" % i + payload)
    print(f"  data written in {time.time() - t:.0f} s; git floor ...", flush=True)
    git_floor = ["git", f"--git-dir={gitdir}", f"--work-tree={data}"]
    bench.sh(["git", "init", "-q", "--bare", gitdir], WORK)
    bench.sh(git_floor + ["config", "core.bare", "false"], WORK)
    bench.sh(git_floor + ["add", "-A"], WORK)
    bench.sh(git_floor + ["commit", "-q", "-m", "dataset"], WORK)
    print(f"  first reconcile ({stages} stages) ...", flush=True)
    bench.sh([bench.PLUMB, "reconcile", "--quiet", "--jobs", "2"], path)
    bench.write(stamp, "ok\n")
    print(f"  E2 ready in {time.time() - t:.0f} s", flush=True)
    return path, gitdir


def e2_graph(stages):
    """bench.py's case E graph, with every stage of the first layer also reading data/."""
    graph, code = bench.e_stages(stages)
    width = max(10, int(round(stages ** 0.5)))
    return [(n, cmd, deps + (["data"] if i < width else []), params, outs, metrics)
            for i, (n, cmd, deps, params, outs, metrics) in enumerate(graph)], code


def add_dvc(path, files, stages):
    """The same pipeline as dvc.yaml in the same repository, its state recorded once (a stamp marks it).
    As in bench.py's case E, the stages' commands are run and `dvc commit -f` records them, since
    `dvc repro` of 1,000 stages takes more than half an hour here."""
    stamp = os.path.join(WORK, f".E2-{files}.dvc.done")
    if os.path.exists(stamp):
        return
    print("  recording DVC's state (dvc commit -f hashes the whole dataset once) ...", flush=True)
    t = time.time()
    graph, _ = e2_graph(stages)
    _, dvc_yaml = bench.render(graph)
    bench.write(os.path.join(path, "dvc.yaml"), dvc_yaml)
    if not os.path.isdir(os.path.join(path, ".dvc")):
        bench.sh([bench.DVC, "init", "-q"], path)
    bench.sh([bench.DVC, "config", "--local", "core.site_cache_dir", os.path.join(path, ".dvc", "site")], path)
    bench.sh([bench.DVC, "config", "core.analytics", "false"], path)
    for _, cmd, *_ in graph:
        bench.sh(cmd, path)
    bench.sh([bench.DVC, "commit", "-f", "-q"], path)
    bench.sh([bench.DVC, "status", "-q"], path)  # exits non-zero if anything is out of date
    bench.sh(["git", "add", "-A"], path)
    bench.sh(["git", "commit", "-q", "-m", "dvc lock"], path)
    bench.sh([bench.PLUMB, "reconcile", "--quiet"], path)
    bench.write(stamp, "ok\n")
    print(f"  DVC ready in {time.time() - t:.0f} s", flush=True)


def watch_cycle(path, seconds):
    """Case H: `plumb reconcile --watch --interval 50ms` for `seconds`. An idle cycle's cost is what
    `PLUMB_TRACE=1` says the cycle itself took ("watch cycle"), from Plumb's own clock; the gap between two
    "no change" lines less the 50 ms wait is printed beside it as an upper bound (it also counts the wait's
    ±10% jitter and the sleep's overshoot). The first cycles (the walk that arms the marks) are left out."""
    env = dict(bench.ENV, PLUMB_TRACE="1")
    p = subprocess.Popen([bench.PLUMB, "reconcile", "--watch", "--interval", "50ms"], cwd=path, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen, costs, gaps, start, traced = [], [], [], time.perf_counter(), None
    try:
        for line in p.stdout:
            now = time.perf_counter()
            if line.startswith("plumb: trace: watch cycle "):
                traced = float(line.split()[4])
                continue
            if " no change at " not in line and " reconciled " not in line:
                continue
            if len(seen) >= 3 and " no change at " in line:
                gaps.append(now - seen[-1] - 0.050)
                if traced is not None:
                    costs.append(traced)
            seen.append(now)
            traced = None
            if now - start > seconds and len(costs) >= 5:
                break
    finally:
        p.terminate()
        _, status, ru = os.wait4(p.pid, 0)
    if not costs:
        raise SystemExit("case H: no idle watch cycle seen")
    return dict(median=statistics.median(costs), min=min(costs), max=max(costs), rss=f"{ru.ru_maxrss / 1024:.0f}",
                gap=statistics.median(gaps), cycles=len(costs))


def summary(samples):
    walls = [w for w, _ in samples]
    return dict(median=statistics.median(walls), min=min(walls), max=max(walls), rss=max(m for _, m in samples))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=int(os.environ.get("BENCH_WALK_FILES", 1_000_000)))
    ap.add_argument("--folders", type=int, default=1000)
    ap.add_argument("--stages", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--plumb", default=bench.PLUMB)
    ap.add_argument("--label", default="")
    ap.add_argument("--watch-seconds", type=float, default=15)
    ap.add_argument("--no-write", action="store_true", help="print only (before/after runs)")
    ap.add_argument("--no-dvc", action="store_true", help="leave DVC out (it takes minutes per round at a million files)")
    args = ap.parse_args()
    bench.PLUMB = os.path.abspath(args.plumb)
    os.makedirs(WORK, exist_ok=True)
    bench.sh(["cc", "-O2", "-pthread", os.path.join(HERE, "floor_walk.c"), "-o", FLOOR], HERE)
    path, gitdir = generate(args.files, args.folders, args.stages)
    dvc = not args.no_dvc and os.path.exists(bench.DVC)
    if dvc:
        add_dvc(path, args.files, args.stages)
    data = os.path.join(path, "data")
    victim = os.path.join(data, "part-0000", "f00000.bin")
    counter = [0]

    def change_one():
        counter[0] += 1
        with open(victim, "r+b") as f:
            f.write(b"%08d" % (counter[0] % 10**8))

    cases = {
        "walk": ([FLOOR, data, "2"], None),
        "git status": (["git", f"--git-dir={gitdir}", f"--work-tree={data}", "status", "--porcelain"], None),
        "E2a": ([bench.PLUMB, "plan"], None),
        "E2c": ([bench.PLUMB, "reconcile", "--quiet"], None),
        "E2b": ([bench.PLUMB, "plan"], change_one),
    }
    if dvc:
        # DVC's figures beside Plumb's: `dvc status` where Plumb plans, `dvc repro` where it reconciles.
        cases = {k: cases[k] for k in ("walk", "git status", "E2a")} | {
            "dvc status": ([bench.DVC, "status", "-q"], None),
            "E2c": cases["E2c"], "dvc repro": ([bench.DVC, "repro", "-q"], None),
            "E2b": cases["E2b"], "dvc status, one changed": ([bench.DVC, "status", "-q"], None)}
    samples = {k: [] for k in cases}
    for r in range(args.runs + 1):
        for key, (cmd, setup) in cases.items():
            if setup:
                setup()
            # `dvc status -q` exits 1 when something changed (E2b's file): that is its answer, not a failure.
            sample = bench.measure(cmd, path, ok_codes=(0, 1, 2) if cmd[0] == bench.DVC else (0, 2))
            if r:
                samples[key].append(sample)
        # E2b leaves a changed file planned: it gets its bytes back (with a new mtime), so the next round's
        # plan and reconcile are no-ops again, each rehashing that one file and finding it as recorded.
        # (Reconciling instead would time the first layer's 32 stages, a case of its own.)
        with open(victim, "r+b") as f:
            f.write(b"%08d" % 0)
    s = {k: summary(v) for k, v in samples.items()}
    idle = watch_cycle(path, seconds=args.watch_seconds)
    walk, git = s["walk"], s["git status"]

    def row(key, title, ratio_to, target):
        v = s[key]
        ratio = v["median"] / s[ratio_to]["median"] if ratio_to in s else v["median"] / ratio_to
        return (f"| {key} | {title} | {v['median']:.3f} ({v['min']:.3f}–{v['max']:.3f}) | {v['rss']:.0f} "
                f"| {ratio:.2f}× | {target} |")

    def dvc_row(key, title, plumb):
        v = s[key]
        return (f"| DVC | {title} | {v['median']:.3f} ({v['min']:.3f}–{v['max']:.3f}) | {v['rss']:.0f} "
                f"| {v['median'] / s[plumb]['median']:.1f}× Plumb | |")

    lines = [
        f"## E2: {args.stages:,} stages over {args.files:,} untracked files of 100 bytes in {args.folders:,} folders"
        + (f" ({args.label})" if args.label else ""),
        "",
        f"{args.runs} runs after a warm-up, medians (min–max) in seconds, peak RSS in MiB; floors measured in the same run. "
        f"Load average at the end: {os.getloadavg()[0]:.2f}.",
        "",
        "| case | what | seconds | peak RSS | ratio | target |",
        "|---|---|---|---|---|---|",
        f"| floor | 2-thread lstat walk of data/ | {walk['median']:.3f} ({walk['min']:.3f}–{walk['max']:.3f}) | {walk['rss']:.0f} | 1 | |",
        f"| floor | `git status` tracking the same files | {git['median']:.3f} ({git['min']:.3f}–{git['max']:.3f}) | {git['rss']:.0f} | {git['median'] / walk['median']:.2f}× walk | |",
        row("E2a", "no-op `plumb plan` / walk", "walk", "≤ 1.5×"),
        row("E2b", "one file changed, `plumb plan` / E2a", "E2a", "≤ 2×"),
        row("E2c", "no-op `plumb reconcile` / walk", "walk", "≤ 1.5×"),
    ] + ([
        dvc_row("dvc status", "no-op `dvc status` / E2a", "E2a"),
        dvc_row("dvc status, one changed", "one file changed, `dvc status` / E2b", "E2b"),
        dvc_row("dvc repro", "no-op `dvc repro` / E2c", "E2c"),
    ] if dvc else []) + [
        f"| H | `plumb reconcile --watch`, idle cycle (inotify marks, no walk; {idle['cycles']} cycles; line gap less the wait {idle['gap']:.4f}) | {idle['median']:.4f} ({idle['min']:.4f}–{idle['max']:.4f}) | {idle['rss']} | {idle['median'] / walk['median']:.3f}× walk | ≤ 0.050 s |",
        "",
        f"Peak RSS of the no-op plan / `git status`: {s['E2a']['rss'] / git['rss']:.2f}× (target ≤ 1.3×). "
        + (f"DVC {subprocess.run([bench.DVC, '--version'], capture_output=True, text=True).stdout.strip()}, same workload "
         "(the same pipeline as dvc.yaml in the same repository, state recorded with `dvc commit -f`), alternating with Plumb."
         if dvc else "DVC left out of this run (`--no-dvc`, or bench/.venv has no DVC)."),
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        # One section per dataset size (the million-file run and a shorter one with DVC, say), each in
        # RESULTS.walk-<files>.md and in RESULTS.md, replacing that size's last run (bench.py keeps them).
        bench.write(os.path.join(HERE, f"RESULTS.walk-{args.files}.md"), text)
        results = os.path.join(HERE, "RESULTS.md")
        old = open(results).read() if os.path.exists(results) else "# Plumb vs DVC: benchmark results\n"
        opening, closing = f"<!-- walk.py {args.files} -->\n", f"<!-- /walk.py {args.files} -->\n"
        start, end = old.find(opening), old.find(closing)
        block = opening + text + closing
        if start >= 0 and end > start:
            new = old[:start] + block + old[end + len(closing):]
        else:
            store = old.find("\n## Shared store")
            new = (old[:store + 1] + block + old[store + 1:]) if store >= 0 else old.rstrip("\n") + "\n\n" + block
        bench.write(results, new)


if __name__ == "__main__":
    main()
