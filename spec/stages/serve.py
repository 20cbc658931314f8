"""The prediction API: serves an environment's deployed model over HTTP on loopback.

  .venv/bin/python spec/stages/serve.py --env dev [--port 8080] [--repo DIR] [--target DIR]

It loads DIR/deployments/<env>/model.pkl (or --target/model.pkl), written there by the deploy
stage, and reloads it by itself when a new deployment replaces it: reconciling after a
promotion changes what a running server answers, with no restart. It registers where it listens
in <parent>/.<env>.live.json, next to the target, so that the drift probe (deploy.py --check)
compares what is live with what was recorded.

  GET  /health   {"status": "ok", "env": "dev", "model": "forest", "model_sha256": "..."}
  POST /predict  {"pclass": 3, "sex": "male", "age": 22, "sibsp": 1, "parch": 0,
                  "fare": 7.25, "embarked": "S"}
             ->  {"survival_probability": 0.1234, "survived": false, "model_sha256": "..."}
                 age and embarked may be null or left out (unknown): they are imputed the way
                 the training data was.

Errors are JSON too: 400 {"error": ..., "detail": [{"field": "age", "message": ...}]} for a bad
body (every bad field is named), 404 for an unknown path, 405 for a wrong method, 413 for a
body over 64 KiB. --port 0 picks a free port; the first line on stdout says where it listens.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import features  # noqa: E402
import stageio  # noqa: E402

MAX_BODY = 64 * 1024
ROUTES = {"/health": "GET", "/predict": "POST"}


class Deployment:
    """The model in a deployment directory; reloaded when the directory is replaced."""

    def __init__(self, target: str, env: str):
        self.target = target
        self.env = env
        self._lock = threading.Lock()
        self._resolved = None
        self.bundle = None
        self.sha256 = None
        self.reload()

    def reload(self) -> None:
        path = os.path.join(self.target, "model.pkl")
        resolved = os.path.realpath(path)
        with self._lock:
            if resolved == self._resolved:
                return
            if not os.path.exists(resolved):
                raise FileNotFoundError(
                    f"no model at {path}; deploy one first (plumb reconcile --env {self.env})"
                )
            bundle = stageio.read_pickle(resolved)
            if bundle.get("features") != features.FEATURES:
                raise ValueError(f"{path} expects other features than spec/stages/features.py")
            self.bundle, self.sha256 = bundle, stageio.sha256_file(resolved)
            self._resolved = resolved

    def predict(self, passenger: dict) -> float:
        try:
            self.reload()  # a deploy swaps the directory (a symlink) atomically
        except (OSError, ValueError) as e:
            print(f"serve: keeping the loaded model: {e}", file=sys.stderr)
        with self._lock:
            bundle = self.bundle
        row = features.encode(passenger, bundle["imputation"])
        return float(bundle["model"].predict_proba([row])[0][1])


def make_handler(deployment: Deployment, log: bool = True):
    class Handler(BaseHTTPRequestHandler):
        server_version = "plumb-example-serve"
        protocol_version = "HTTP/1.1"

        def _send(self, status: int, body: dict, headers: dict | None = None) -> None:
            data = (json.dumps(body, sort_keys=True) + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: HTTPStatus, message: str, detail=None, headers=None) -> None:
            body = {"error": message}
            if detail is not None:
                body["detail"] = detail
            self._send(status, body, headers)

        def _route(self, method: str) -> None:
            path = self.path.split("?", 1)[0]
            if path not in ROUTES:
                return self._error(
                    HTTPStatus.NOT_FOUND,
                    f"no such path {path}; try GET /health or POST /predict",
                )
            if ROUTES[path] != method:
                # Drain a body we will not read, so the connection stays usable.
                self._read_body(limit_only=True)
                return self._error(
                    HTTPStatus.METHOD_NOT_ALLOWED,
                    f"{path} accepts {ROUTES[path]}, not {method}",
                    headers={"Allow": ROUTES[path]},
                )
            if path == "/health":
                return self._health()
            return self._predict()

        def _read_body(self, limit_only: bool = False):
            length = self.headers.get("Content-Length")
            try:
                n = int(length) if length is not None else 0
            except ValueError:
                n = -1
            if n < 0 or n > MAX_BODY:
                self.close_connection = True
                return None if limit_only else n
            return self.rfile.read(n) if n else b""

        def _health(self) -> None:
            try:
                deployment.reload()
            except (OSError, ValueError) as e:
                return self._error(HTTPStatus.SERVICE_UNAVAILABLE, str(e))
            self._send(
                HTTPStatus.OK,
                {
                    "status": "ok",
                    "env": deployment.env,
                    "model": deployment.bundle["name"],
                    "model_sha256": deployment.sha256,
                },
            )

        def _predict(self) -> None:
            body = self._read_body()
            if isinstance(body, int):
                if body > MAX_BODY:
                    return self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body over {MAX_BODY} bytes")
                return self._error(HTTPStatus.BAD_REQUEST, "invalid Content-Length")
            try:
                obj = json.loads(body.decode("utf-8")) if body else None
            except (UnicodeDecodeError, ValueError) as e:
                return self._error(HTTPStatus.BAD_REQUEST, f"body is not valid JSON: {e}")
            if obj is None:
                return self._error(
                    HTTPStatus.BAD_REQUEST,
                    "empty body; send a JSON object with the passenger's fields",
                    [{"field": name, "message": what} for name, (_, what) in features.FIELDS.items()],
                )
            passenger, errors = features.parse_passenger(obj)
            if errors:
                fields = ", ".join(e["field"] for e in errors if e["field"]) or "body"
                return self._error(HTTPStatus.BAD_REQUEST, f"invalid passenger: {fields}", errors)
            p = deployment.predict(passenger)
            self._send(
                HTTPStatus.OK,
                {
                    "survival_probability": round(p, 4),
                    "survived": p >= 0.5,
                    "model_sha256": deployment.sha256,
                },
            )

        def do_GET(self):  # noqa: N802 (http.server's naming)
            self._route("GET")

        def do_POST(self):  # noqa: N802
            self._route("POST")

        def do_PUT(self):  # noqa: N802
            self._route("PUT")

        def do_DELETE(self):  # noqa: N802
            self._route("DELETE")

        def do_PATCH(self):  # noqa: N802
            self._route("PATCH")

        def log_message(self, fmt, *args):
            if log:
                sys.stderr.write(f"serve: {self.address_string()} {fmt % args}\n")

    return Handler


def make_server(deployment: Deployment, host: str = "127.0.0.1", port: int = 0,
                log: bool = True) -> ThreadingHTTPServer:
    """A server for `deployment`; port 0 picks a free one (see server.server_address)."""
    server = ThreadingHTTPServer((host, port), make_handler(deployment, log))
    server.daemon_threads = True
    return server


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Serve an environment's deployed Titanic model.")
    ap.add_argument("--env", default=os.environ.get("PLUMB_ENV", "dev"), help="environment (default: dev)")
    ap.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 = any free port)")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback)")
    ap.add_argument("--repo", default=os.environ.get("PLUMB_REPO") or os.getcwd(),
                    help="repository directory holding deployments/ (default: $PLUMB_REPO or .)")
    ap.add_argument("--target", help="deployment directory (default: REPO/deployments/ENV)")
    ap.add_argument("--no-register", action="store_true",
                    help="do not register as the target's live API (the deploy's smoke test)")
    args = ap.parse_args(argv)

    target = args.target or os.path.join(args.repo, "deployments", args.env)
    try:
        deployment = Deployment(target, args.env)
    except (OSError, ValueError) as e:
        print(f"serve: error: {e}", file=sys.stderr)
        return 1
    try:
        server = make_server(deployment, args.host, args.port)
    except OSError as e:
        print(f"serve: error: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}"
    # Registered next to the target, so deploy.py --check compares what is live with the record.
    registration = None if args.no_register else stageio.live_file(target)
    if registration:
        stageio.write_json(registration, {"env": args.env, "pid": os.getpid(), "url": url})
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(
        f"serve: {args.env}: {deployment.bundle['name']} model {deployment.sha256[:12]} "
        f"from {target}; listening on {url}",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if registration and (stageio.read_live(target) or {}).get("pid") == os.getpid():
            os.unlink(registration)
    return 0


if __name__ == "__main__":
    sys.exit(main())
