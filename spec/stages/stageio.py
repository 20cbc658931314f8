"""What every stage does the same way: read its params, write JSON and pickles reproducibly.

Plumb runs a stage with these variables set:
  PLUMB_PARAMS  path of a JSON file holding the stage's effective params, e.g. {"train": {...}}
  PLUMB_ENV     the environment (dev, staging, prod)
  PLUMB_STAGE   the stage's name
  PLUMB_RUN_ID  the reconcile's run id
  PLUMB_REPO    the repository's directory (the stage itself runs in a workspace checkout)
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import sys
from typing import Any

# Fixed so that a model written by one Python/pickle default reads back the same bytes.
PICKLE_PROTOCOL = 4


def fail(message: str, code: int = 1) -> "NoReturn":  # noqa: F821
    print(f"{os.environ.get('PLUMB_STAGE') or os.path.basename(sys.argv[0])}: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def params(section: str) -> dict[str, Any]:
    """The params subtree `section` from PLUMB_PARAMS."""
    path = os.environ.get("PLUMB_PARAMS")
    if not path:
        fail(
            "PLUMB_PARAMS is not set. Plumb sets it; to run a stage by hand use "
            "scripts/run-example.sh, or write the params as JSON and export PLUMB_PARAMS=<file>"
        )
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"cannot read params {path}: {e}")
    if section not in data or not isinstance(data[section], dict):
        fail(f"params {path} have no '{section}' object (declare `params: [{section}]` in spec/pipeline.yaml)")
    return data[section]


def require(p: dict[str, Any], key: str, kind: type | tuple, where: str) -> Any:
    """A param, checked: a clear message instead of a KeyError deep inside scikit-learn."""
    if key not in p:
        fail(f"missing param {where}.{key}")
    value = p[key]
    if isinstance(value, bool) or not isinstance(value, kind):
        fail(f"param {where}.{key} has the wrong type: {value!r}")
    return value


def dumps_json(obj: Any) -> str:
    """Canonical JSON text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(obj, indent=2, sort_keys=True) + "\n"


def write_text(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path: str, obj: Any) -> None:
    write_text(path, dumps_json(obj))


def write_pickle(path: str, obj: Any) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "wb") as f:
        pickle.dump(obj, f, protocol=PICKLE_PROTOCOL)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_pickle(path: str) -> Any:
    with open(path, "rb") as f:
        return pickle.load(f)


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --- the live API's registration --------------------------------------------------


def live_file(target: str) -> str:
    """Where the API serving `target` says where it listens: <parent>/.<name>.live.json, next to
    the target (a symlink the deploy switches), so the drift probe can ask what is live."""
    parent, base = os.path.split(os.path.abspath(target))
    return os.path.join(parent, f".{base}.live.json")


def read_live(target: str) -> dict | None:
    """The registration of a running API for `target`, or None (none, unreadable, or its process is gone)."""
    try:
        with open(live_file(target), encoding="utf-8") as f:
            live = json.load(f)
        pid, url = int(live["pid"]), str(live["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not url.startswith("http://127.0.0.1:") and not url.startswith("http://localhost:"):
        return None  # only ever ask loopback: the file is data on disk, not an instruction
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's
    return {"pid": pid, "url": url}
