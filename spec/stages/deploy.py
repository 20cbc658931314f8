"""Stage deploy: install build/model.pkl into the environment's target, atomically, and smoke-test it.

  in:   build/model.pkl
  env:  PLUMB_ENV, PLUMB_REPO, PLUMB_RUN_ID; DEPLOY_TARGET (optional, relative to PLUMB_REPO;
        default deployments/<env>)
  out:  build/deploy.json  {env, target, model, model_sha256}: no times or run ids, so the same
        model gives the same bytes (and Plumb's early cutoff works)

How: the model and a manifest.json {env, model, model_sha256, run_id, deployed_at} are written
to a new release directory next to the target (<parent>/.releases/<name>-<digest>-<run>). The
prediction API (serve.py) is started against that release on a free loopback port, asked for
/health and two /predict answers; only if they are right does the target, a symbolic link,
switch to the release, with one rename (atomic: a reader sees the old model or the new one,
never half of either). The previous release is kept for a quick manual rollback; older ones
are removed. A failed smoke test leaves the running deployment as it was.

  deploy.py --check
Drift probe (Plumb's `check`): exit 0 when the target's model.pkl has the digest its manifest
records, that digest is the expected one ($PLUMB_EXPECTED_MODEL if set, else the digest of
build/model.pkl when it exists), and a running API registered for the target (serve.py) answers
/health with it. Otherwise exit 1 and say what drifted.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.request

import stageio

SMOKE_PASSENGERS = [
    # Mr. Owen Harris Braund, 3rd class, did not survive.
    {"pclass": 3, "sex": "male", "age": 22, "sibsp": 1, "parch": 0, "fare": 7.25, "embarked": "S"},
    # Mrs. John Bradley Cumings, 1st class, survived.
    {"pclass": 1, "sex": "female", "age": 38, "sibsp": 1, "parch": 0, "fare": 71.2833, "embarked": "C"},
]


def locate() -> tuple[str, str, str]:
    """(env, repo, absolute target)."""
    env = os.environ.get("PLUMB_ENV")
    if not env:
        stageio.fail("PLUMB_ENV is not set: which environment should be deployed?")
    if not re.fullmatch(r"[A-Za-z0-9._-]+", env):
        stageio.fail(f"PLUMB_ENV {env!r} is not a plain name")
    repo = os.path.abspath(os.environ.get("PLUMB_REPO") or os.getcwd())
    target = os.environ.get("DEPLOY_TARGET") or os.path.join("deployments", env)
    return env, repo, os.path.normpath(os.path.join(repo, target))


def show(path: str, repo: str) -> str:
    rel = os.path.relpath(path, repo)
    return path if rel.startswith("..") else rel


# --- smoke test -------------------------------------------------------------


def request(base: str, path: str, body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


def smoke_test(release: str, env: str, sha: str) -> list[float]:
    """Starts serve.py against `release`; raises RuntimeError unless it answers right."""
    serve = os.path.join(os.path.dirname(os.path.abspath(__file__)), "serve.py")
    proc = subprocess.Popen(
        [sys.executable, serve, "--env", env, "--target", release, "--port", "0", "--no-register"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline()
        m = re.search(r"listening on (http://\S+)", line)
        if not m:
            proc.kill()
            _, err = proc.communicate(timeout=10)
            raise RuntimeError(f"the API did not start: {(line + err).strip()[-2000:]}")
        base = m.group(1)
        health = request(base, "/health")
        if health.get("status") != "ok" or health.get("model_sha256") != sha:
            raise RuntimeError(f"/health answered {health}, expected model {sha}")
        probabilities = []
        for passenger in SMOKE_PASSENGERS:
            answer = request(base, "/predict", passenger)
            p = answer.get("survival_probability")
            if not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise RuntimeError(f"/predict answered {answer} for {passenger}")
            probabilities.append(p)
        return probabilities
    except (OSError, urllib.error.URLError, ValueError) as e:
        raise RuntimeError(f"the API failed: {e}") from e
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for stream in (proc.stdout, proc.stderr):
            stream.close()


# --- install ------------------------------------------------------------------


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def deploy() -> None:
    env, repo, target = locate()
    model = "build/model.pkl"
    if not os.path.exists(model):
        stageio.fail(f"{model} is missing; train must run first")
    sha = stageio.sha256_file(model)
    name = stageio.read_pickle(model).get("name", "model")
    run_id = os.environ.get("PLUMB_RUN_ID") or f"manual-{os.getpid()}"

    parent, base = os.path.split(target)
    releases = os.path.join(parent, ".releases")
    os.makedirs(releases, exist_ok=True)
    release = os.path.join(releases, f"{base}-{sha[:12]}-{re.sub(r'[^A-Za-z0-9._-]', '_', run_id)}")
    staging = release + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    shutil.rmtree(release, ignore_errors=True)
    os.makedirs(staging)
    shutil.copyfile(model, os.path.join(staging, "model.pkl"))
    with open(os.path.join(staging, "model.pkl"), "rb+") as f:
        os.fsync(f.fileno())
    manifest = {
        "env": env,
        "model": name,
        "model_sha256": sha,
        "run_id": run_id,
        "deployed_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    stageio.write_json(os.path.join(staging, "manifest.json"), manifest)
    fsync_dir(staging)
    os.rename(staging, release)

    try:
        probabilities = smoke_test(release, env, sha)
    except RuntimeError as e:
        shutil.rmtree(release, ignore_errors=True)
        stageio.fail(f"smoke test failed, {show(target, repo)} left as it was: {e}")

    previous = os.path.realpath(target) if os.path.islink(target) else None
    if os.path.isdir(target) and not os.path.islink(target):
        # A plain directory from an older install or a hand copy: keep it aside as a release.
        os.rename(target, os.path.join(releases, f"{base}-unmanaged-{os.getpid()}"))
    link = os.path.join(parent, f".{base}.link-{os.getpid()}")
    os.symlink(os.path.relpath(release, parent), link)
    os.replace(link, target)  # the atomic switch
    fsync_dir(parent)

    # Keep the new release and the one before it; remove older releases of this target.
    keep = {os.path.realpath(release), previous}
    for entry in sorted(os.listdir(releases)):
        path = os.path.join(releases, entry)
        if entry.startswith(base + "-") and os.path.realpath(path) not in keep:
            shutil.rmtree(path, ignore_errors=True)

    stageio.write_json(
        "build/deploy.json",
        {"env": env, "model": name, "model_sha256": sha, "target": show(target, repo)},
    )
    print(
        f"deploy: {name} model {sha[:12]} -> {show(target, repo)} (run {run_id}); smoke test ok: "
        f"survival probability {probabilities[0]:.3f} for a 3rd-class man, "
        f"{probabilities[1]:.3f} for a 1st-class woman"
    )
    print(f"deploy: query it with: .venv/bin/python spec/stages/serve.py --env {env}"
          + ("" if target == os.path.join(repo, "deployments", env) else f" --target {show(target, repo)}"))


# --- drift check ----------------------------------------------------------------


def check() -> int:
    env, repo, target = locate()
    where = show(target, repo)
    manifest_path = os.path.join(target, "manifest.json")
    model_path = os.path.join(target, "model.pkl")
    try:
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        print(f"drift: {where} has no deployment (no manifest.json)")
        return 1
    except (OSError, ValueError) as e:
        print(f"drift: {where}/manifest.json is unreadable: {e}")
        return 1
    recorded = manifest.get("model_sha256")
    if not os.path.exists(model_path):
        print(f"drift: {where}/model.pkl is missing (manifest records {str(recorded)[:12]})")
        return 1
    actual = stageio.sha256_file(model_path)
    if actual != recorded:
        print(f"drift: {where}/model.pkl was changed outside Plumb: sha256 {actual[:12]}, "
              f"its manifest records {str(recorded)[:12]}")
        return 1
    if manifest.get("env") != env:
        print(f"drift: {where} holds a deployment of environment {manifest.get('env')!r}, not {env!r}")
        return 1
    expected = os.environ.get("PLUMB_EXPECTED_MODEL")
    source = "PLUMB_EXPECTED_MODEL"
    if not expected and os.path.exists("build/model.pkl"):
        expected, source = stageio.sha256_file("build/model.pkl"), "build/model.pkl"
    if expected and expected != recorded:
        print(f"drift: {where} serves model {recorded[:12]} (run {manifest.get('run_id')}), "
              f"expected {expected[:12]} ({source})")
        return 1
    # What is live: a running API registered for this target must serve the recorded model too
    # (its /health reloads first, so an API that cannot load the new release says so here).
    live, serving = stageio.read_live(target), ""
    if live:
        try:
            health = request(live["url"], "/health")
        except (OSError, urllib.error.URLError, ValueError) as e:
            print(f"drift: the API for {where} at {live['url']} (pid {live['pid']}) does not serve: {e}")
            return 1
        if health.get("model_sha256") != recorded:
            print(f"drift: the API at {live['url']} serves model {str(health.get('model_sha256'))[:12]}, "
                  f"{where} holds {recorded[:12]} (run {manifest.get('run_id')})")
            return 1
        serving = f"; the API at {live['url']} serves it"
    print(f"in sync: {where} serves model {recorded[:12]} (run {manifest.get('run_id')}){serving}")
    return 0


def main() -> None:
    args = sys.argv[1:]
    if args == ["--check"]:
        sys.exit(check())
    if args:
        stageio.fail(f"unknown arguments {args}; usage: deploy.py [--check]", code=64)
    deploy()


if __name__ == "__main__":
    main()
