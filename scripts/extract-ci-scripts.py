"""Writes every shell script of a CI template to its own file, for shellcheck.

    extract-ci-scripts.py OUT_DIR TEMPLATE...      # prints the files written, one a line

A template is a GitHub workflow (`jobs.<job>.steps[].run`) or a GitLab CI file (`before_script`,
`script` and `after_script` of each job), told apart by its `jobs:` key. Each script becomes
OUT_DIR/<template>@<job>[.<step>].sh, with the shell and `set` options the forge runs it with,
and its lines at the line numbers they have in the template (blank lines pad the file), so
shellcheck's "line N" points into the YAML.

GitHub's `${{ … }}` expressions are replaced by a placeholder word: the forge pastes their value
in before the shell sees the script, and shellcheck cannot parse them. (An expression spanning
lines becomes one word on one line, so the lines after it are numbered that many lines early.)

Reads YAML with ruamel.yaml (check-jsonschema's own YAML library, pinned in
scripts/requirements-dev.txt): its round-trip loader keeps line numbers and GitLab's `!reference`.
"""

import pathlib
import re
import sys

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
PLACEHOLDER = "GITHUB_EXPRESSION"

# Top-level GitLab keys that are not jobs (https://docs.gitlab.com/ci/yaml/).
GITLAB_GLOBALS = {"default", "include", "stages", "variables", "workflow", "image", "services",
                  "cache", "before_script", "after_script", "spec"}


class Fragment:
    """A piece of a script and the 1-based template line its first line is on."""

    def __init__(self, text, line):
        self.text, self.line = str(text), line


def value_line(node, key):
    """The line of `node[key]`'s text: a block scalar's (`|`, `>`) starts below its indicator."""
    line = node.lc.value(key)[0] + 1
    return line + 1 if isinstance(node[key], (LiteralScalarString, FoldedScalarString)) else line


def item_line(seq, index):
    line = seq.lc.item(index)[0] + 1
    return line + 1 if isinstance(seq[index], (LiteralScalarString, FoldedScalarString)) else line


def render(shebang, options, fragments):
    """The script file: shebang and `set` line, then each fragment at its template line."""
    lines = [shebang, options]
    for fragment in fragments:
        # Pad up to the fragment's line; a fragment from earlier in the file (default's
        # before_script below a job) just follows.
        lines += [""] * max(0, fragment.line - 1 - len(lines))
        lines += fragment.text.rstrip("\n").split("\n")
    return "\n".join(lines) + "\n"


def slug(text):
    return re.sub(r"[^A-Za-z0-9]+", "-", str(text)).strip("-")[:40] or "step"


def github(doc):
    """(name, shebang, options, fragments) for every `run:` of a workflow."""
    def default_shell(level):
        return ((level.get("defaults") or {}).get("run") or {}).get("shell")

    for job_name, job in (doc.get("jobs") or {}).items():
        for index, step in enumerate(job.get("steps") or []):
            if "run" not in step:
                continue
            shell = step.get("shell") or default_shell(job) or default_shell(doc)
            program = str(shell).split()[0] if shell else "bash"
            if program not in ("bash", "sh"):
                continue  # pwsh, python, …: not shell
            # What GitHub runs: unset `shell` is `bash -e {0}`; `shell: bash` adds pipefail; `sh -e {0}`.
            options = {None: "set -e", "bash": "set -eo pipefail"}.get(shell, "set -e")
            text = EXPRESSION.sub(PLACEHOLDER, str(step["run"]))
            name = f"{job_name}.{index + 1}-{slug(step.get('name') or step.get('id') or 'run')}"
            yield name, f"#!/usr/bin/env {program}", options, [Fragment(text, value_line(step, "run"))]


def gitlab(doc):
    """(name, shebang, options, fragments) for each job: before_script and script (one shell), after_script (another)."""
    def resolve(node):
        # Flattens nested lists and `!reference [job, key, …]` into (text, line) fragments.
        out = []
        if node is None:
            return out
        if isinstance(node, str):
            return [Fragment(node, 0)]
        tag = getattr(getattr(node, "tag", None), "value", None)
        if tag == "!reference":
            target = doc
            for part in node:
                target = target[part]
            return resolve(target)
        for index, item in enumerate(node):
            if isinstance(item, str):
                out.append(Fragment(item, item_line(node, index)))
            else:
                out += resolve(item)
        return out

    def keyword(job, key, seen=()):
        # The job's own key, else what it extends, else default's.
        if key in job:
            return resolve(job[key]) if not isinstance(job[key], str) else [Fragment(job[key], value_line(job, key))]
        parents = job.get("extends") or []
        for parent in [parents] if isinstance(parents, str) else parents:
            if parent in doc and parent not in seen:
                found = keyword(doc[parent], key, seen + (parent,))
                if found:
                    return found
        return []

    default = doc.get("default") or {}
    for name, job in doc.items():
        if name in GITLAB_GLOBALS or not hasattr(job, "get"):
            continue
        before = keyword(job, "before_script") or keyword(default, "before_script") or keyword(doc, "before_script")
        script = keyword(job, "script")
        if script:
            yield name, "#!/usr/bin/env bash", "set -eo pipefail", before + script
        after = keyword(job, "after_script") or keyword(default, "after_script")
        if after:
            yield name + ".after_script", "#!/usr/bin/env bash", "set -eo pipefail", after


def main(out_dir, templates):
    out_dir = pathlib.Path(out_dir)
    yaml = YAML()  # round-trip: keeps line numbers and tags
    for template in templates:
        doc = yaml.load(pathlib.Path(template))
        scripts = github(doc) if "jobs" in doc else gitlab(doc)
        for name, shebang, options, fragments in scripts:
            path = out_dir / f"{template}@{name}.sh"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render(shebang, options, fragments))
            print(path.relative_to(out_dir))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: extract-ci-scripts.py OUT_DIR TEMPLATE...")
    main(sys.argv[1], sys.argv[2:])
