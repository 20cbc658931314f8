#!/usr/bin/env python3
"""Plumb vs DVC 3 benchmark driver (stdlib only). Called by bench/run.sh.

Generates workloads A-E under bench/work/, runs each case for both tools alternately
(one warm-up, then --runs timed runs each), measures wall time and peak RSS of the
process tree (os.wait4's ru_maxrss: the largest single process among the command and
the children it waited for), prints a table and writes bench/RESULTS.md.
"""
import argparse
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WORK = os.path.join(HERE, "work")
PLUMB = os.path.join(ROOT, ".build", "release", "plumb")
DVC = os.path.join(HERE, ".venv", "bin", "dvc")
TITANIC_CANDIDATES = [os.path.join(ROOT, "..", "shared", "data", "titanic.csv"),
                      os.path.join(ROOT, "spec", "data", "titanic.csv")]

ENV = dict(os.environ, DVC_NO_ANALYTICS="1", NO_COLOR="1", GIT_TERMINAL_PROMPT="0",
           GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@example.com",
           GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@example.com")


# ---------------------------------------------------------------- helpers

def sh(cmd, cwd=None, check=True, quiet=True):
    r = subprocess.run(cmd, cwd=cwd, env=ENV, shell=isinstance(cmd, str),
                       stdout=subprocess.DEVNULL if quiet else None,
                       stderr=subprocess.PIPE if quiet else None)
    if check and r.returncode != 0:
        raise SystemExit(f"command failed ({r.returncode}) in {cwd}: {cmd}\n{(r.stderr or b'').decode()[-3000:]}")
    return r.returncode


def out(cmd, cwd=None):
    return subprocess.run(cmd, cwd=cwd, env=ENV, shell=isinstance(cmd, str), capture_output=True,
                          text=True).stdout.strip()


def measure(cmd, cwd, ok_codes=(0, 2)):
    """Wall seconds and peak RSS (MiB) of one command, output discarded."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    err = p.stderr.read().decode(errors="replace")
    p.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    p.returncode = code
    if code not in ok_codes:
        raise SystemExit(f"benchmarked command failed ({code}) in {cwd}: {' '.join(cmd)}\n{err[-3000:]}")
    return wall, ru.ru_maxrss / 1024.0


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def titanic():
    for c in TITANIC_CANDIDATES:
        if os.path.isfile(c):
            with open(c) as f:
                return f.read()
    # Fallback: a generated CSV of the same shape (891 passengers).
    lines = ["PassengerId,Survived,Pclass,Sex,Age,Fare"]
    for i in range(1, 892):
        lines.append(f"{i},{i % 3 == 0:d},{1 + i % 3},{'male' if i % 2 else 'female'},{18 + i % 60},{7.25 + (i % 50) * 1.5:.2f}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- workloads

def four_stage(extra_dep=None):
    """preprocess -> train -> evaluate -> deploy, as (plumb yaml, dvc yaml)."""
    pre_deps = ["spec/data/titanic.csv"] + ([extra_dep] if extra_dep else [])
    count = f" && find {extra_dep} -type f | wc -l >> build/train.csv" if extra_dep else ""
    stages = [
        ("preprocess", f"mkdir -p build && head -n 600 spec/data/titanic.csv > build/train.csv"
                       f" && tail -n 291 spec/data/titanic.csv > build/test.csv{count}",
         pre_deps, ["split"], ["build/train.csv", "build/test.csv"], []),
        ("train", "grep -A3 '^train:' spec/params.yaml > build/model.txt && wc -l < build/train.csv >> build/model.txt",
         ["build/train.csv"], ["train"], ["build/model.txt"], []),
        ("evaluate", "echo \"{\\\"accuracy\\\": 0.$(cksum < build/model.txt | cut -c1-4)}\" > build/metrics.json",
         ["build/model.txt", "build/test.csv"], [], [], ["build/metrics.json"]),
        ("deploy", "cp build/model.txt build/deployed.txt", ["build/model.txt"], [], ["build/deployed.txt"], []),
    ]
    return render(stages)


def render(stages):
    """stages: (name, cmd, deps, params, outs, metrics) -> (spec/pipeline.yaml, dvc.yaml)."""
    def q(s):
        return "'" + s.replace("'", "''") + "'"
    p = ["version: 1", "stages:"]
    d = ["stages:"]
    for name, cmd, deps, params, outs, metrics in stages:
        p += [f"  {name}:", f"    cmd: {q(cmd)}"]
        d += [f"  {name}:", f"    cmd: {q(cmd)}"]
        if deps:
            p.append("    deps: [" + ", ".join(deps) + "]")
            d.append("    deps: [" + ", ".join(deps) + "]")
        if params:
            p.append("    params: [" + ", ".join(params) + "]")
            d += ["    params:", "      - spec/params.yaml:"] + [f"        - {k}" for k in params]
        if outs:
            p.append("    outs: [" + ", ".join(outs) + "]")
            d.append("    outs: [" + ", ".join(outs) + "]")
        if metrics:
            p.append("    metrics: [" + ", ".join(metrics) + "]")
            d += ["    metrics:"] + [f"      - {m}:\n          cache: false" for m in metrics]
    return "\n".join(p) + "\n", "\n".join(d) + "\n"


PARAMS = "split:\n  test_size: 0.2\n  seed: 42\ntrain:\n  lr: 0.001\n  max_depth: 4\n"


def init_repo(path, pipeline, dvc_yaml, params=PARAMS, ignore=(), files=None):
    if os.path.exists(path):
        shutil.rmtree(path)
    os.makedirs(path)
    write(os.path.join(path, "spec/pipeline.yaml"), pipeline)
    write(os.path.join(path, "dvc.yaml"), dvc_yaml)
    write(os.path.join(path, "spec/params.yaml"), params)
    write(os.path.join(path, "spec/data/titanic.csv"), titanic())
    for rel, text in (files or {}).items():
        write(os.path.join(path, rel), text)
    write(os.path.join(path, ".gitignore"), "\n".join([".plumb/", "/build/", "/.dvc/site/"] + list(ignore)) + "\n")
    sh(["git", "init", "-q", "-b", "main"], path)
    sh(["git", "config", "user.name", "bench"], path)
    sh(["git", "config", "user.email", "bench@example.com"], path)
    sh([DVC, "init", "-q"], path)
    # Keep DVC's hash database (state) inside the repository, so "empty cache" is well defined.
    sh([DVC, "config", "--local", "core.site_cache_dir", os.path.join(path, ".dvc", "site")], path)
    sh([DVC, "config", "core.analytics", "false"], path)
    sh(["git", "add", "-A"], path)
    sh(["git", "commit", "-q", "-m", "workload"], path)


def first_runs(path, jobs=2):
    """Run both tools once so that state is recorded; commit DVC's lock so git is clean."""
    sh([PLUMB, "reconcile", "--quiet", "--jobs", str(jobs)], path)
    sh([DVC, "repro", "-q"], path)
    sh(["git", "add", "-A"], path)
    sh(["git", "commit", "-q", "-m", "dvc lock", "--allow-empty"], path)
    sh([PLUMB, "reconcile", "--quiet", "--jobs", str(jobs)], path)  # nothing to do; proves it
    sh([DVC, "status", "-q"], path)


def gen_a():
    path = os.path.join(WORK, "A")
    init_repo(path, *four_stage())
    first_runs(path)
    return path


def gen_b():
    path = os.path.join(WORK, "B")
    init_repo(path, *four_stage("data"), ignore=["/data/"])
    block = os.urandom(1024 * 100)
    for d in range(100):
        os.makedirs(os.path.join(path, "data", f"d{d:02d}"))
        for f in range(100):
            i = d * 100 + f
            with open(os.path.join(path, "data", f"d{d:02d}", f"f{i:05d}.bin"), "wb") as fh:
                fh.write(i.to_bytes(4, "little") + block[f * 1024 + 4:(f + 1) * 1024])
    time.sleep(2.1)  # past the stat cache's racy window, so first runs record trusted entries
    first_runs(path)
    return path


def big_file():
    """The 1 GiB file, generated once and reused (hard-linked into workloads)."""
    big = os.path.join(WORK, "big-1GiB.bin")
    if not os.path.exists(big) or os.path.getsize(big) != 1 << 30:
        tmp = big + ".tmp"
        with open(tmp, "wb") as f:
            chunk = os.urandom(1 << 20)
            for i in range(1024):
                f.write(i.to_bytes(8, "little") + chunk[8:])
        os.rename(tmp, big)
    return big


def gen_c():
    path = os.path.join(WORK, "C")
    init_repo(path, *four_stage("data/big.bin"), ignore=["/data/"])
    os.makedirs(os.path.join(path, "data"))
    os.link(big_file(), os.path.join(path, "data", "big.bin"))
    first_runs(path)
    return path


def gen_d():
    path = os.path.join(WORK, "D")
    stages = [(n, f"sleep 2 && mkdir -p build && echo {n} > build/{n}.txt", [f"spec/{n}.sh"], [], [f"build/{n}.txt"], [])
              for n in ("a", "b")]
    init_repo(path, *render(stages), files={"spec/a.sh": "a\n", "spec/b.sh": "b\n"})
    first_runs(path)
    return path


def e_stages(n, width=None):
    """A wide and deep graph: layers of `width` stages; each stage reads its own tracked code file
    and the outputs of two stages of the layer before."""
    width = width or max(10, int(round(n ** 0.5)))
    stages, files = [], {}
    for i in range(n):
        layer, col = divmod(i, width)
        code = f"spec/stages/s{i:05d}.sh"
        files[code] = f"echo {i}\n"
        deps = [code]
        if layer > 0:
            a = (layer - 1) * width + col
            b = (layer - 1) * width + (col + 1) % width
            deps += [f"build/s{a:05d}.txt"] + ([f"build/s{b:05d}.txt"] if b != a else [])
        stages.append((f"s{i:05d}", f"mkdir -p build && sh {code} > build/s{i:05d}.txt", deps,
                       ["train"] if i % 50 == 0 else [], [f"build/s{i:05d}.txt"], []))
    return stages, files


def gen_e(n, with_dvc):
    path = os.path.join(WORK, f"E{n}")
    stages, files = e_stages(n)
    init_repo(path, *render(stages), files=files)
    sh([PLUMB, "reconcile", "--quiet", "--jobs", "2"], path)
    if with_dvc:
        # `dvc repro` of 1,000 stages runs for more than 30 minutes here (it had done 483 after 12 minutes),
        # so DVC's record is made the way `dvc commit` documents: run the very same commands, then
        # `dvc commit -f` hashes deps and outs and writes dvc.lock and the cache as repro would have.
        for name, cmd, *_ in stages:
            sh(cmd, path)
        sh([DVC, "commit", "-f", "-q"], path)
        sh([DVC, "status", "-q"], path)  # exits non-zero if anything is out of date
        sh(["git", "add", "-A"], path)
        sh(["git", "commit", "-q", "-m", "dvc lock"], path)
        sh([PLUMB, "reconcile", "--quiet"], path)
    return path


def ensure(name, gen, *args):
    """Generate a workload once; a stamp marks it complete (delete bench/work to start over)."""
    stamp = os.path.join(WORK, f".{name}.done")
    path = os.path.join(WORK, name)
    if os.path.exists(stamp) and os.path.isdir(path):
        return path
    print(f"  generating workload {name} ...", flush=True)
    t = time.time()
    path = gen(*args)
    write(stamp, "ok\n")
    print(f"  workload {name} ready in {time.time() - t:.1f} s", flush=True)
    return path


# ---------------------------------------------------------------- cases

class Case:
    def __init__(self, key, title, path, plumb, dvc, setup=None, plumb_label=None, dvc_label=None,
                 target=None, absolute=None):
        self.key, self.title, self.path = key, title, path
        self.plumb, self.dvc, self.setup = plumb, dvc, setup
        self.plumb_label = plumb_label or " ".join(plumb)
        self.dvc_label = dvc_label or (" ".join(dvc) if dvc else "-")
        self.target, self.absolute = target, absolute
        self.results = {}


def run_case(case, runs, baseline=None):
    """Warm-up once, then `runs` timed rounds; tools alternate and swap order each round.
    With `baseline` (another plumb binary), Plumb is compared with that build instead of DVC."""
    tools = [("plumb", [PLUMB] + case.plumb)]
    if baseline:
        tools.append(("dvc", [baseline] + case.plumb))
    elif case.dvc:
        tools.append(("dvc", [DVC] + case.dvc))
    samples = {t: [] for t, _ in tools}
    for r in range(runs + 1):
        order = tools if r % 2 == 0 else list(reversed(tools))
        for tool, cmd in order:
            if case.setup:
                case.setup(tool)
            w, m = measure(cmd, case.path)
            if r > 0:
                samples[tool].append((w, m))
    for tool, s in samples.items():
        walls = [w for w, _ in s]
        case.results[tool] = dict(median=statistics.median(walls), min=min(walls), max=max(walls),
                                  rss=max(m for _, m in s))
    return case


def bump_param(path):
    counter = [0]

    def setup(tool):
        # A new value each time, never seen before (no run cache can answer it), committed for Plumb.
        counter[0] += 1
        p = os.path.join(path, "spec/params.yaml")
        text = open(p).read()
        text = re.sub(r"lr: [0-9.e-]+", f"lr: {0.001 + counter[0] * 1e-5:.5f}", text)
        write(p, text)
        sh(["git", "commit", "-q", "-am", f"lr {counter[0]}"], path)
    return setup


def touch_one_file(path):
    counter = [0]

    def setup(tool):
        counter[0] += 1
        f = os.path.join(path, "data", "d42", "f04217.bin")
        with open(f, "r+b") as fh:
            fh.write(counter[0].to_bytes(8, "little"))
    return setup


def openat_count(path, cmd, under):
    """How many files under `under` the command opens (strace), and whether it opened any."""
    if not shutil.which("strace"):
        return None
    log = os.path.join(WORK, "strace.log")
    subprocess.run(["strace", "-f", "-qq", "-e", "trace=openat", "-o", log] + cmd, cwd=path, env=ENV,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    opened = set()
    for line in open(log):
        m = re.search(r'openat\([^"]*"([^"]+)"', line)
        if m and under in m.group(1) and "= -1" not in line and "O_DIRECTORY" not in line:
            opened.add(m.group(1))
    os.remove(log)
    return sorted(opened)


def git_floor(b):
    """A repository tracking B's 10,000 files: `git status` there is the floor the issue names."""
    path = os.path.join(WORK, "gitfloor")
    if not os.path.exists(os.path.join(path, ".git")):
        shutil.rmtree(path, ignore_errors=True)
        shutil.copytree(os.path.join(b, "data"), os.path.join(path, "data"))
        sh(["git", "init", "-q"], path)
        sh(["git", "add", "-A"], path)
        sh(["git", "commit", "-q", "-m", "10,000 files"], path)
        sh(["git", "status", "--porcelain"], path)
    return path


def timed_shell(cmd, runs):
    walls = []
    for r in range(runs + 1):
        w, m = measure(cmd, WORK)
        if r:
            walls.append(w)
    return dict(median=statistics.median(walls), min=min(walls), max=max(walls), rss=m)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--cases", default="A,B,C,D,E")
    ap.add_argument("--scaling", default="250,500,1000,2000")
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--baseline", help="another plumb binary: print before/after for Plumb's cases instead")
    args = ap.parse_args()
    if args.baseline:
        return before_after(args)
    wanted = set(args.cases.split(","))
    os.makedirs(WORK, exist_ok=True)
    runs = args.runs
    cases, notes = [], []

    if "A" in wanted:
        a = ensure("A", gen_a)
        cases.append(Case("A1", "A small data, nothing changed", a, ["plan"], ["status"], target=15))
        cases.append(Case("A2", "A small data, one param changed", a, ["reconcile", "--quiet"], ["repro", "-q"],
                          setup=bump_param(a)))
    if "B" in wanted:
        b = ensure("B", gen_b)
        cases.append(Case("B1", "B 10,000 files, nothing changed", b, ["plan"], ["status"], target=15))
        cases.append(Case("B2", "B 10,000 files, one param changed", b, ["reconcile", "--quiet"], ["repro", "-q"],
                          setup=bump_param(b)))
        cases.append(Case("B3", "B 10,000 files, one file changed", b, ["reconcile", "--quiet"], ["repro", "-q"],
                          setup=touch_one_file(b), target=10))
    if "C" in wanted:
        c = ensure("C", gen_c)

        def forget_hashes(tool):
            if tool == "plumb":
                try:
                    os.remove(os.path.join(c, ".plumb", "statcache"))
                except FileNotFoundError:
                    pass
            else:
                shutil.rmtree(os.path.join(c, ".dvc", "site"), ignore_errors=True)
                shutil.rmtree(os.path.join(c, ".dvc", "tmp"), ignore_errors=True)
        cases.append(Case("C1", "C 1 GiB file, first hashing (empty hash caches)", c, ["plan"], ["status"],
                          setup=forget_hashes, target=2.5))
        cases.append(Case("C2", "C 1 GiB file, nothing changed", c, ["plan"], ["status"]))
    if "D" in wanted:
        d = ensure("D", gen_d)
        cases.append(Case("D", "D two independent 2 s stages, forced", d,
                          ["reconcile", "--quiet", "--jobs", "2", "--force", "a", "--force", "b"], ["repro", "-f", "-q"],
                          absolute=2.3))
    if "E" in wanted:
        e = ensure("E1000", gen_e, 1000, True)
        cases.append(Case("E", "E 1,000 stages, nothing changed", e, ["plan"], ["status"], absolute=0.3))

    for case in cases:
        print(f"running {case.key}: {case.title} ...", flush=True)
        run_case(case, runs)

    extra = {}
    if "C" in wanted:
        print("running openssl dgst -sha256 on the 1 GiB file ...", flush=True)
        extra["openssl"] = timed_shell(["openssl", "dgst", "-sha256", big_file()], runs)
        extra["sha256sum"] = timed_shell(["sha256sum", big_file()], max(1, runs // 2))
        # No byte read when nothing changed.
        opened = openat_count(c, [PLUMB, "plan"], "data/big.bin")
        extra["c_opened"] = opened
    if "B" in wanted:
        touch_one_file(b)("plumb")
        extra["b_opened"] = openat_count(b, [PLUMB, "reconcile", "--quiet"], "/data/d")
        sh([DVC, "repro", "-q"], b)
        # The changed file was hashed within the stat cache's 2 s racy window, so one more plan re-reads it
        # (by design); once settled, a plan opens none of the 10,000 files.
        time.sleep(2.1)
        sh([PLUMB, "plan"], b)
        extra["b_plan_opened"] = openat_count(b, [PLUMB, "plan"], "/data/d")
        extra["git_status"] = timed_shell(["git", "-C", git_floor(b), "status", "--porcelain"], runs)
    scaling = []
    if "E" in wanted and args.scaling:
        for n in [int(x) for x in args.scaling.split(",")]:
            p = ensure(f"E{n}", gen_e, n, n == 1000)
            print(f"running E scaling at {n} stages ...", flush=True)
            cs = Case(f"E{n}", f"E {n}", p, ["plan"], None)
            run_case(cs, runs)
            scaling.append((n, cs.results["plumb"]))

    report(cases, extra, scaling, runs, args.out)


def before_after(args):
    """Plumb before (--baseline) vs after (this build) on the existing workloads; no DVC."""
    base = os.path.abspath(args.baseline)
    rows = []
    specs = [("A", "A1 plan, nothing changed", ["plan"], None),
             ("A", "A2 reconcile, one param changed", ["reconcile", "--quiet"], "param"),
             ("B", "B1 plan, nothing changed", ["plan"], None),
             ("B", "B2 reconcile, one param changed", ["reconcile", "--quiet"], "param"),
             ("B", "B3 reconcile, one file changed", ["reconcile", "--quiet"], "file"),
             ("C", "C2 plan, nothing changed", ["plan"], None),
             ("E250", "E 250 stages plan", ["plan"], None),
             ("E500", "E 500 stages plan", ["plan"], None),
             ("E1000", "E 1,000 stages plan", ["plan"], None),
             ("E2000", "E 2,000 stages plan", ["plan"], None)]
    for w, title, cmd, mutate in specs:
        path = os.path.join(WORK, w)
        if not os.path.isdir(path):
            continue
        setup = bump_param(path) if mutate == "param" else touch_one_file(path) if mutate == "file" else None
        c = Case(w, title, path, cmd, None, setup=setup)
        print(f"before/after {title} ...", flush=True)
        run_case(c, args.runs, baseline=base)
        b, a = c.results["dvc"], c.results["plumb"]
        rows.append(f"| {title} | {fmt(b['median'])} ({fmt(b['min'])}–{fmt(b['max'])}) | {fmt(a['median'])} "
                    f"({fmt(a['min'])}–{fmt(a['max'])}) | {b['median'] / a['median']:.1f}× | {b['rss']:.1f} → {a['rss']:.1f} |")
    text = "\n".join(["| case | before: median s (min–max) | after: median s (min–max) | speed-up | peak RSS MiB |",
                      "|---|---|---|---|---|"] + rows) + "\n"
    print(text)
    write(os.path.join(HERE, "work", "before-after.md"), text)


def fmt(s):
    return f"{s:.3f}"


def report(cases, extra, scaling, runs, path):
    rows = ["| case | Plumb command | Plumb median s (min–max) | Plumb peak RSS MiB | DVC command | DVC median s (min–max) "
            "| DVC peak RSS MiB | DVC/Plumb | target | met |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for c in cases:
        p = c.results["plumb"]
        d = c.results.get("dvc")
        ratio = d["median"] / p["median"] if d else None
        target, met = "", ""
        if c.target:
            target = f"≥{c.target:g}×"
            met = "yes" if ratio >= c.target else "NO"
        if c.absolute:
            target += f" ≤{c.absolute:g} s"
            met = "yes" if p["median"] <= c.absolute else "NO"
        if d and p["rss"] >= d["rss"]:
            met += " (RSS NO)"
        rows.append(f"| {c.title} | `plumb {c.plumb_label}` | {fmt(p['median'])} ({fmt(p['min'])}–{fmt(p['max'])}) | "
                    f"{p['rss']:.1f} | " + (f"`dvc {c.dvc_label}` | {fmt(d['median'])} ({fmt(d['min'])}–{fmt(d['max'])}) | "
                                             f"{d['rss']:.1f} | {ratio:.1f}× |" if d else "- | - | - | - |")
                    + f" {target} | {met} |")
    lines = ["## Results", "", *rows, ""]
    if "openssl" in extra:
        o = extra["openssl"]
        c1 = next(c for c in cases if c.key == "C1")
        lines += [f"- C reference: `openssl dgst -sha256` on the 1 GiB file: median {fmt(o['median'])} s "
                  f"({fmt(o['min'])}–{fmt(o['max'])}); `sha256sum`: median {fmt(extra['sha256sum']['median'])} s. "
                  f"Plumb first hashing / openssl = {c1.results['plumb']['median'] / o['median']:.2f}× (target ≤1.2×).",
                  f"- C nothing changed: files under data/big.bin opened by `plumb plan` (strace openat): "
                  f"{len(extra['c_opened']) if extra['c_opened'] is not None else 'strace unavailable'}."]
    if "b_opened" in extra:
        lines += [f"- B one file changed: files of data/ opened by `plumb reconcile` (strace openat): "
                  f"{extra['b_opened'] if extra['b_opened'] is not None else 'strace unavailable'}; "
                  f"by `plumb plan` with nothing changed: {len(extra['b_plan_opened'] or [])}.",
                  f"- B floor: `git status --porcelain` in a repository tracking the same 10,000 files: "
                  f"median {fmt(extra['git_status']['median'])} s."]
    if scaling:
        lines += ["", "### E scaling: `plumb plan`, nothing changed", "",
                  "| stages (= tracked code files) | median s (min–max) | peak RSS MiB | s per 1,000 stages |",
                  "|---|---|---|---|"]
        for n, r in scaling:
            lines.append(f"| {n} | {fmt(r['median'])} ({fmt(r['min'])}–{fmt(r['max'])}) | {r['rss']:.1f} | "
                         f"{r['median'] / n * 1000:.3f} |")
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    machine = machine_info(runs)
    write(os.path.join(WORK, "results-table.md"), text)
    # RESULTS.md = machine block + table + the hand-written notes kept in RESULTS.notes.md
    # + the section bench/store.sh wrote (RESULTS.store.md).
    notes_path = os.path.join(HERE, "RESULTS.notes.md")
    notes = open(notes_path).read() if os.path.exists(notes_path) else ""
    # bench/walk.py's last results (cases E2 and H), one section per dataset size, stay too.
    for name in sorted(f for f in os.listdir(HERE) if f.startswith("RESULTS.walk-") and f.endswith(".md")):
        files = name[len("RESULTS.walk-"):-len(".md")]
        notes += f"\n<!-- walk.py {files} -->\n" + open(os.path.join(HERE, name)).read() + f"<!-- /walk.py {files} -->\n"
    # bench/workspace.py --write's last table (case F) stays too.
    workspace_path = os.path.join(HERE, "RESULTS.workspace.md")
    notes += ("\n<!-- workspace.py -->\n" + open(workspace_path).read() + "<!-- /workspace.py -->\n") if os.path.exists(workspace_path) else ""
    # bench/store.sh's last results (shared store vs curl) stay at the end.
    store_path = os.path.join(HERE, "RESULTS.store.md")
    notes += ("\n" + open(store_path).read()) if os.path.exists(store_path) else ""
    write(path, "# Plumb vs DVC: benchmark results\n\n" + machine + "\n" + text + "\n" + notes)
    print(f"wrote {path}")


def machine_info(runs):
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    load = open("/proc/loadavg").read().split()[:3]
    return "\n".join([
        "Reproduce: `bench/run.sh` (from the repository root; `BENCH_RUNS=N` for more runs).", "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        f"- machine: {os.cpu_count()} cores (nproc {out(['nproc'])}), CPU: {cpu}, {platform.system()} {platform.release()}",
        f"- load average at the end: {' '.join(load)} (2 cores shared with other engineers building concurrently: "
        "figures are medians, min–max shown)",
        f"- plumb: {out([PLUMB, '--version']) or '?'} (release build, commit {out(['git', '-C', ROOT, 'rev-parse', '--short', 'HEAD'])})",
        f"- dvc: {out([DVC, '--version'])}",
        f"- git: {out(['git', '--version'])}; python: {platform.python_version()}; {out(['openssl', 'version'])}",
        f"- runs: 1 warm-up + {runs} timed per tool and case, tools alternating (order swapped each round); "
        "peak RSS is the largest single process of the command's tree (wait4 ru_maxrss)",
        ""])


if __name__ == "__main__":
    main()
