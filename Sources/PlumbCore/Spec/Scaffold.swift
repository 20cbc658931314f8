import Foundation

/// The starting files `plumb init` writes into a team's repository: a small runnable pipeline
/// with every key explained, three environments, and the ignore entries Plumb needs.
package enum Scaffold {
    /// Files by path, in the order they are written.
    package static let files: [(path: String, content: String)] = [
        (SpecPaths.pipeline, pipeline),
        (SpecPaths.params, params),
        ("spec/data/raw.csv", "id,value\n1,3\n2,5\n3,8\n"),
        (SpecPaths.environment("dev"), dev),
        (SpecPaths.environment("staging"), staging),
        (SpecPaths.environment("prod"), prod),
        ("history/README.md", "# history/\n\nWritten by Plumb: `history/<env>/state.json` and `history/<env>/runs/<run>.json`.\nDo not edit by hand; `git revert` a run's commit instead.\n"),
    ]

    /// Lines `.gitignore` must hold.
    package static let ignored = [".plumb/", "build/", "deployments/"]

    static let pipeline = """
    # The pipeline: stages, and the files that pass between them.
    # Plumb runs a stage when its fingerprint changes: its cmd, env, the params it declares,
    # or the content of a dep. Edit, commit, then `plumb plan` and `plumb reconcile`.
    # Editor support: `plumb schema --output .plumb-schema` writes JSON Schemas (see the README).
    version: 1

    stages:
      prepare:
        cmd: mkdir -p build && tail -n +2 spec/data/raw.csv > build/clean.csv   # a shell line, run in a workspace checkout
        deps: [spec/data/raw.csv]        # files it reads; tracked files are identified by git, not read
        outs: [build/clean.csv]          # files it writes; cached and passed to the stages that need them

      train:
        # PLUMB_PARAMS names a JSON file holding the params this stage declares.
        cmd: mkdir -p build && { cat "$PLUMB_PARAMS"; wc -l < build/clean.csv; } > build/model.txt
        deps: [build/clean.csv]          # another stage's output: train runs after prepare
        params: [train]                  # a subtree of spec/params.yaml; a changed value reruns train
        outs: [build/model.txt]
        timeout: 600                     # seconds before its processes are killed
        retries: 0                       # extra attempts after a failure, with backoff

      evaluate:
        cmd: >-                          # a folded block: no quoting needed for JSON in the command
          mkdir -p build &&
          printf '{"accuracy": 0.9, "rows": %s}\\n' "$(wc -l < build/clean.csv)" > build/metrics.json
        deps: [build/model.txt, build/clean.csv]
        metrics: [build/metrics.json]    # JSON numbers, recorded as evaluate.accuracy, evaluate.rows

      deploy:
        # PLUMB_REPO is the repository's directory: a deployment outside the workspace.
        cmd: mkdir -p "$PLUMB_REPO/$DEPLOY_TARGET" && cp build/model.txt "$PLUMB_REPO/$DEPLOY_TARGET/model.txt"
        deps: [build/model.txt]
        env: {DEPLOY_TARGET: deployments/local}   # environments/<env>.yaml can override it
        check: cmp -s build/model.txt "$PLUMB_REPO/$DEPLOY_TARGET/model.txt"   # drift probe: exit 0 = in sync

    """

    static let params = """
    # Parameters. A stage sees the subtrees it lists under `params:`; environments may override
    # any value under their own `params:` key.
    train:
      depth: 4
      rate: 0.1

    """

    static let dev = """
    # dev: runs every stage on every change.
    env:
      DEPLOY_TARGET: deployments/dev

    """

    static let staging = """
    # staging: runs only deploy, on the artifacts that `plumb promote dev staging` pinned in
    # environments/staging.pin.json (never retrained on the way).
    from: dev
    runs: [deploy]
    env:
      DEPLOY_TARGET: deployments/staging
    gates:
      - metric: evaluate.accuracy
        min: 0.8                  # the promoted model's accuracy is at least 0.8
      - metric: evaluate.accuracy
        max_drop: 0.02            # and at most 0.02 below what staging runs now

    """

    static let prod = """
    # prod: promoted from staging, typically through a reviewed pull request
    # (`plumb promote staging prod --branch promote/prod`).
    from: staging
    runs: [deploy]
    env:
      DEPLOY_TARGET: deployments/prod
    gates:
      - metric: evaluate.accuracy
        min: 0.85

    """
}
