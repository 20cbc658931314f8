"""Tests of the example pipeline's stages and prediction API (standard library unittest only).

  .venv/bin/python -m unittest discover -s spec/tests -v      # from the repository root

The stage tests run the real scripts as Plumb does: a subprocess in a scratch directory holding a
copy of spec/, with PLUMB_* variables set.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STAGES = os.path.join(ROOT, "spec", "stages")
sys.path.insert(0, STAGES)

import features  # noqa: E402
import serve  # noqa: E402
import stageio  # noqa: E402

PARAMS = {
    "split": {"seed": 42, "test_size": 0.2},
    "train": {
        "validation_size": 0.25,
        "seed": 42,
        "logistic": {"C": 1.0, "max_iter": 1000},
        "forest": {"n_estimators": 50, "max_depth": 6, "min_samples_leaf": 2},
    },
}
BRAUND = {"pclass": 3, "sex": "male", "age": 22, "sibsp": 1, "parch": 0, "fare": 7.25, "embarked": "S"}
IMPUTATION = {
    "age_by_class_sex": {f"{c}/{s}": 20.0 + c + (5 if s == "female" else 0) for c in (1, 2, 3) for s in ("female", "male")},
    "fare_by_class": {"1": 60.0, "2": 15.0, "3": 8.0},
    "embarked_mode": "S",
}


def sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


class Workspace:
    """A scratch directory with a copy of spec/, where stages run as Plumb runs them."""

    def __init__(self, params=PARAMS, env="dev"):
        self.dir = tempfile.mkdtemp(prefix="plumb-example-")
        shutil.copytree(os.path.join(ROOT, "spec"), os.path.join(self.dir, "spec"),
                        ignore=shutil.ignore_patterns("__pycache__", "tests"))
        self.params = os.path.join(self.dir, "params.json")
        with open(self.params, "w") as f:
            json.dump(params, f)
        self.env = env

    def run(self, stage: str, *args: str, extra_env=None) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env.update(PLUMB_PARAMS=self.params, PLUMB_ENV=self.env, PLUMB_STAGE=stage,
                   PLUMB_RUN_ID="test-run", PLUMB_REPO=self.dir)
        env.pop("DEPLOY_TARGET", None)
        env.pop("PLUMB_EXPECTED_MODEL", None)
        env.update(extra_env or {})
        return subprocess.run([sys.executable, f"spec/stages/{stage}.py", *args], cwd=self.dir, env=env,
                              capture_output=True, text=True, timeout=300)

    def ok(self, test: unittest.TestCase, stage: str, *args: str, **kw) -> str:
        r = self.run(stage, *args, **kw)
        test.assertEqual(r.returncode, 0, f"{stage} failed:\n{r.stdout}\n{r.stderr}")
        return r.stdout

    def path(self, *parts: str) -> str:
        return os.path.join(self.dir, *parts)

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


class FeatureEncodingTest(unittest.TestCase):
    def test_encodes_a_complete_passenger(self):
        self.assertEqual(features.encode(BRAUND, IMPUTATION), [3.0, 0.0, 22.0, 1.0, 0.0, 7.25, 0.0, 0.0, 1.0])
        self.assertEqual(len(features.encode(BRAUND, IMPUTATION)), len(features.FEATURES))

    def test_one_hot_port_and_sex(self):
        cases = [  # (name, changes, feature, want)
            ("female", {"sex": "female"}, "sex_female", 1.0),
            ("cherbourg", {"embarked": "C"}, "embarked_C", 1.0),
            ("queenstown", {"embarked": "Q"}, "embarked_Q", 1.0),
            ("queenstown not S", {"embarked": "Q"}, "embarked_S", 0.0),
        ]
        for name, changes, feature, want in cases:
            with self.subTest(name):
                row = features.encode({**BRAUND, **changes}, IMPUTATION)
                self.assertEqual(row[features.FEATURES.index(feature)], want)

    def test_imputes_missing_values_from_the_training_split(self):
        row = features.encode({**BRAUND, "sex": "female", "age": None, "fare": None, "embarked": None}, IMPUTATION)
        self.assertEqual(row[features.FEATURES.index("age")], IMPUTATION["age_by_class_sex"]["3/female"])
        self.assertEqual(row[features.FEATURES.index("fare")], 8.0)
        self.assertEqual(row[features.FEATURES.index("embarked_S")], 1.0)

    def test_fit_imputation_medians_and_mode(self):
        people = [
            {**BRAUND, "age": 20.0, "embarked": "C"},
            {**BRAUND, "age": 30.0, "embarked": "C"},
            {**BRAUND, "age": None, "embarked": "S"},
            {**BRAUND, "pclass": 1, "sex": "female", "age": 50.0, "fare": 80.0, "embarked": None},
        ]
        imp = features.fit_imputation(people)
        self.assertEqual(imp["age_by_class_sex"]["3/male"], 25.0)
        self.assertEqual(imp["age_by_class_sex"]["1/female"], 50.0)
        self.assertEqual(imp["age_by_class_sex"]["2/male"], 30.0)  # empty group: overall median
        self.assertEqual(imp["fare_by_class"]["1"], 80.0)
        self.assertEqual(imp["embarked_mode"], "C")

    def test_raw_row_drops_free_text(self):
        passengers, labels = features.read_raw(os.path.join(ROOT, "spec", "data", "titanic.csv"))
        self.assertEqual(len(passengers), 891)
        self.assertEqual(passengers[0], {**BRAUND, "age": 22.0, "fare": 7.25})
        self.assertEqual(labels[:2], [0, 1])
        self.assertEqual(set(passengers[0]), set(features.FIELDS))

    def test_number_format_is_stable(self):
        self.assertEqual([features.format_number(x) for x in (3.0, 7.25, 0.1, 71.2833)],
                         ["3", "7.25", "0.1", "71.2833"])


class PassengerValidationTest(unittest.TestCase):
    def errors(self, body):
        passenger, errors = features.parse_passenger(body)
        self.assertIsNone(passenger)
        return {e["field"]: e["message"] for e in errors}

    def test_valid_passenger_is_normalised(self):
        passenger, errors = features.parse_passenger({**BRAUND, "sex": " Male", "embarked": "s", "pclass": 3.0})
        self.assertEqual(errors, [])
        self.assertEqual(passenger, {**BRAUND, "sex": "male", "embarked": "S"})

    def test_age_and_port_may_be_unknown(self):
        body = {k: v for k, v in BRAUND.items() if k not in ("age", "embarked")}
        passenger, errors = features.parse_passenger(body)
        self.assertEqual(errors, [])
        self.assertIsNone(passenger["age"])
        self.assertIsNone(passenger["embarked"])

    def test_each_bad_field_is_named(self):
        cases = [  # (name, body, field, words in the message)
            ("missing sex", {k: v for k, v in BRAUND.items() if k != "sex"}, "sex", "missing"),
            ("null fare", {**BRAUND, "fare": None}, "fare", "null"),
            ("class 4", {**BRAUND, "pclass": 4}, "pclass", "got 4"),
            ("class as text", {**BRAUND, "pclass": "3"}, "pclass", "1, 2 or 3"),
            ("bad sex", {**BRAUND, "sex": "m"}, "sex", "'male' or 'female'"),
            ("negative age", {**BRAUND, "age": -1}, "age", "got -1"),
            ("age as text", {**BRAUND, "age": "22"}, "age", "number"),
            ("bool sibsp", {**BRAUND, "sibsp": True}, "sibsp", "integer"),
            ("fractional parch", {**BRAUND, "parch": 0.5}, "parch", "integer"),
            ("bad port", {**BRAUND, "embarked": "X"}, "embarked", "'C', 'Q' or 'S'"),
            ("unknown field", {**BRAUND, "Age": 3}, "Age", "unknown field"),
            ("infinite fare", {**BRAUND, "fare": float("inf")}, "fare", "number"),
        ]
        for name, body, field, words in cases:
            with self.subTest(name):
                errors = self.errors(body)
                self.assertEqual(list(errors), [field])
                self.assertIn(words, errors[field])

    def test_all_errors_at_once(self):
        self.assertEqual(set(self.errors({"pclass": 0})), {"pclass", "sex", "sibsp", "parch", "fare"})

    def test_body_must_be_an_object(self):
        for body in ([BRAUND], "x", 3, None):
            with self.subTest(repr(body)):
                self.assertIn("", self.errors(body))


class PredictionAPITest(unittest.TestCase):
    """The HTTP API, in-process, against a small model deployed to a temporary directory."""

    @classmethod
    def setUpClass(cls):
        from sklearn.linear_model import LogisticRegression

        passengers, labels = features.read_raw(os.path.join(ROOT, "spec", "data", "titanic.csv"))
        imputation = features.fit_imputation(passengers)
        X = [features.encode(p, imputation) for p in passengers]
        model = LogisticRegression(max_iter=1000).fit(X, labels)
        cls.target = tempfile.mkdtemp(prefix="plumb-serve-")
        stageio.write_pickle(os.path.join(cls.target, "model.pkl"), {
            "name": "logistic", "model": model, "features": features.FEATURES, "imputation": imputation})
        cls.server = serve.make_server(serve.Deployment(cls.target, "test"), log=False)
        cls.base = "http://127.0.0.1:%d" % cls.server.server_address[1]
        cls.thread = threading.Thread(target=cls.server.serve_forever, daemon=True)
        cls.thread.start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        shutil.rmtree(cls.target, ignore_errors=True)

    def call(self, method, path, body=None, raw=None):
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)

    def test_health(self):
        status, body = self.call("GET", "/health")
        self.assertEqual(status, 200)
        self.assertEqual(body["status"], "ok")
        self.assertEqual(body["env"], "test")
        self.assertEqual(body["model_sha256"], sha256(os.path.join(self.target, "model.pkl")))

    def test_predict_known_passengers(self):
        status, man = self.call("POST", "/predict", BRAUND)
        self.assertEqual(status, 200)
        self.assertTrue(0 <= man["survival_probability"] <= 1)
        self.assertIs(man["survived"], man["survival_probability"] >= 0.5)
        woman = {"pclass": 1, "sex": "female", "age": 38, "sibsp": 1, "parch": 0, "fare": 71.28, "embarked": "C"}
        _, her = self.call("POST", "/predict", woman)
        self.assertGreater(her["survival_probability"], man["survival_probability"])

    def test_bad_fields_are_a_400_naming_them(self):
        status, body = self.call("POST", "/predict", {**BRAUND, "sex": "x", "age": "old"})
        self.assertEqual(status, 400)
        self.assertEqual(sorted(d["field"] for d in body["detail"]), ["age", "sex"])
        self.assertIn("sex", body["error"])

    def test_bad_json_and_empty_body(self):
        status, body = self.call("POST", "/predict", raw=b"{not json")
        self.assertEqual(status, 400)
        self.assertIn("not valid JSON", body["error"])
        status, body = self.call("POST", "/predict", raw=b"")
        self.assertEqual(status, 400)
        self.assertIn("empty body", body["error"])

    def test_unknown_path_and_wrong_method(self):
        self.assertEqual(self.call("GET", "/nope")[0], 404)
        self.assertEqual(self.call("GET", "/predict")[0], 405)
        self.assertEqual(self.call("POST", "/health", {})[0], 405)
        self.assertEqual(self.call("DELETE", "/predict")[0], 405)


class StagesTest(unittest.TestCase):
    """The real stage scripts, end to end, as Plumb runs them."""

    def test_preprocess_is_deterministic_and_stratified(self):
        a, b = Workspace(), Workspace()
        try:
            a.ok(self, "preprocess")
            b.ok(self, "preprocess")
            for out in ("train.csv", "test.csv", "features.json"):
                self.assertEqual(sha256(a.path("build", out)), sha256(b.path("build", out)), out)
            with open(a.path("build", "test.csv")) as f:
                lines = f.read().splitlines()
            self.assertEqual(lines[0], ",".join(features.FEATURES + ["survived"]))
            self.assertEqual(len(lines) - 1, 179)
            share = sum(line.endswith(",1") for line in lines[1:]) / 179
            self.assertAlmostEqual(share, 342 / 891, delta=0.01)  # stratified on Survived
        finally:
            a.close()
            b.close()

    def test_another_seed_gives_another_split(self):
        a, b = Workspace(), Workspace({**PARAMS, "split": {"seed": 1, "test_size": 0.2}})
        try:
            a.ok(self, "preprocess")
            b.ok(self, "preprocess")
            self.assertNotEqual(sha256(a.path("build", "test.csv")), sha256(b.path("build", "test.csv")))
        finally:
            a.close()
            b.close()

    def test_missing_params_are_a_clear_error(self):
        w = Workspace({"train": PARAMS["train"]})
        try:
            r = w.run("preprocess")
            self.assertEqual(r.returncode, 1)
            self.assertIn("no 'split' object", r.stderr)
            self.assertNotIn("Traceback", r.stderr)
        finally:
            w.close()

    def test_pipeline_end_to_end(self):
        w = Workspace()
        try:
            for stage in ("preprocess", "train", "evaluate"):
                w.ok(self, stage)
            with open(w.path("build", "metrics.json")) as f:
                metrics = json.load(f)
            self.assertEqual(set(metrics), {"accuracy", "precision", "recall", "f1", "roc_auc", "test_rows"})
            self.assertGreaterEqual(metrics["accuracy"], 0.75)
            with open(w.path("build", "train_metrics.json")) as f:
                train_metrics = json.load(f)
            self.assertTrue(all(isinstance(v, (int, float)) for v in train_metrics.values()))
            model_sha = sha256(w.path("build", "model.pkl"))

            # Training again gives the same bytes.
            w.ok(self, "train")
            self.assertEqual(sha256(w.path("build", "model.pkl")), model_sha)

            out = w.ok(self, "deploy")
            self.assertIn("smoke test ok", out)
            with open(w.path("build", "deploy.json")) as f:
                self.assertEqual(json.load(f), {"env": "dev", "model": "forest" if train_metrics["chosen_is_forest"] else "logistic",
                                                "model_sha256": model_sha, "target": "deployments/dev"})
            with open(w.path("deployments", "dev", "manifest.json")) as f:
                manifest = json.load(f)
            self.assertEqual((manifest["model_sha256"], manifest["run_id"]), (model_sha, "test-run"))
            self.assertTrue(os.path.islink(w.path("deployments", "dev")))

            self.assertEqual(w.run("deploy", "--check").returncode, 0)
            r = w.run("deploy", "--check", extra_env={"PLUMB_EXPECTED_MODEL": "0" * 64})
            self.assertEqual(r.returncode, 1)
            self.assertIn("expected 000000000000", r.stdout)
            r = w.run("deploy", "--check", extra_env={"PLUMB_ENV": "prod"})
            self.assertEqual((r.returncode, "no deployment" in r.stdout), (1, True))
            with open(w.path("deployments", "dev", "model.pkl"), "ab") as f:
                f.write(b"tampered")
            r = w.run("deploy", "--check")
            self.assertEqual(r.returncode, 1)
            self.assertIn("changed outside Plumb", r.stdout)

            # A new deploy repairs the drift; DEPLOY_TARGET moves the target.
            w.ok(self, "deploy")
            self.assertEqual(w.run("deploy", "--check").returncode, 0)
            self.check_live_api(w, model_sha)
            w.ok(self, "deploy", extra_env={"DEPLOY_TARGET": "elsewhere/dev"})
            self.assertEqual(sha256(w.path("elsewhere", "dev", "model.pkl")), model_sha)
        finally:
            w.close()

    def check_live_api(self, w: Workspace, model_sha: str) -> None:
        """The drift probe asks the API registered for the target what it serves."""
        live = stageio.live_file(w.path("deployments", "dev"))

        class WrongModel(serve.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                data = json.dumps({"status": "ok", "model_sha256": "f" * 64}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        stale = serve.ThreadingHTTPServer(("127.0.0.1", 0), WrongModel)
        threading.Thread(target=stale.serve_forever, daemon=True).start()
        try:
            url = "http://127.0.0.1:%d" % stale.server_address[1]
            stageio.write_json(live, {"env": "dev", "pid": os.getpid(), "url": url})
            r = w.run("deploy", "--check")
            self.assertEqual(r.returncode, 1, r.stdout)
            self.assertIn(f"the API at {url} serves model ffffffffffff", r.stdout)
        finally:
            stale.shutdown()
            stale.server_close()
        r = w.run("deploy", "--check")
        self.assertEqual(r.returncode, 1, "a registered API that does not answer has drifted")
        self.assertIn("does not serve", r.stdout)

        # The real API registers itself, serves the deployed model, and unregisters on SIGTERM.
        env = dict(os.environ, PLUMB_REPO=w.dir)
        api = subprocess.Popen([sys.executable, "spec/stages/serve.py", "--env", "dev", "--port", "0"], cwd=w.dir,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            self.assertIn("listening on", api.stdout.readline())
            r = w.run("deploy", "--check")
            self.assertEqual(r.returncode, 0, r.stdout)
            self.assertIn("; the API at http://127.0.0.1:", r.stdout)
            self.assertIn(model_sha[:12], r.stdout)
        finally:
            api.terminate()
            api.wait(timeout=10)
            api.stdout.close()
        self.assertFalse(os.path.exists(live), "the API removed its registration")


if __name__ == "__main__":
    unittest.main()
