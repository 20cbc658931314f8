import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb report --md`: a pull-request comment; `plumb report --html`: a page to browse.
struct ReportCommand: PlumbCommand {
    package static let name = "report"
    package static let abstract = "Write a Markdown pull-request comment, or (--html) a static page of the pipeline."
    package static let discussion = """
    --md (the default): for environment E (--env, default dev) and the target T that promotes from it
    (--target, default the environment whose `from` is E): E's plan at HEAD, the metrics diff from T
    (what it runs now) to E, and T's gate table evaluated on E's recorded metrics. Writes nothing;
    exit 0, or 3 when T's gates would fail (so a CI step can mark the pull request).

    --html: writes DIR/index.html (--out, default .plumb/report): one self-contained page (no
    script, no network) with E's stage graph (status glyph and word, duration), each stage's
    latest run (why it ran, exit code, duration, its log from this machine's cache), the
    environments (pin, model digest, recorded drift), each metric over the runs with promotions
    and rollbacks marked, and E's pending plan. Every number comes from history/; runs nothing.
    `plumb reconcile --report DIR` rewrites it after every recorded run (docs/report.md).
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        .option("--target", value: "ENV", help: "The environment E would be promoted to."),
        .flag("--md", help: "Markdown for a pull request (the default; accepted for clarity in CI files)."),
        .flag("--html", help: "Write a static HTML page of the pipeline instead (DIR/index.html)."),
        .option("--out", value: "DIR", help: "With --html: the folder to write index.html to (default .plumb/report)."),
    ]

    var global: GlobalOptions
    var target: String?
    /// With --html: the folder the page goes to.
    var htmlFolder: String?

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        if global.json {
            throw UsageError("report writes Markdown for people; machines read `plan --json`, `metrics diff --json` and `promote --dry-run --json`",
                             command: Self.name)
        }
        target = parsed.option("--target")
        let html = parsed.flag("--html")
        if html && parsed.flag("--md") { throw UsageError("--md and --html are different outputs; pick one", command: Self.name) }
        if parsed.option("--out") != nil && !html { throw UsageError("--out only applies to --html", command: Self.name) }
        if html && target != nil { throw UsageError("--target applies to the Markdown report; the page shows every environment", command: Self.name) }
        htmlFolder = html ? (parsed.option("--out") ?? "") : nil
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        if let htmlFolder {
            let path = try ReportPage.write(project: project, environment: global.env, folder: htmlFolder)
            if !global.quiet { terminal.print("Wrote \(path)") }
            return PlumbCLI.ExitCode.ok
        }
        let (snapshot, plan) = try Reconciler(project: project).plan(ref: nil, environment: global.env)
        let env = snapshot.environment.name
        let targetName = target ?? snapshot.spec.environments.values.filter { $0.from == env }.map(\.name).sorted().first
        var out = "## Plumb: \(env)" + (targetName.map { " → \($0)" } ?? "") + "\n\n"
        out += "### Plan of \(env) at `\(snapshot.commit.short)`\n\n"
        // The plan's values are escaped by the renderer (one line per reason); the fence outgrows any backticks in them.
        out += Escape.markdownCodeBlock(PlanRenderer(terminal: Terminal(noColour: true, environment: ["NO_COLOR": "1"])).render(plan)) + "\n"
        var code = PlumbCLI.ExitCode.ok
        if let targetName {
            let target = try Snapshot.read(project, ref: nil, environment: targetName)
            let source = snapshot.recorded?.metrics ?? [:]
            let baseline = Promotion.baseline(recorded: target.recorded, pin: target.pin)
            out += "\n### Metrics: \(targetName) (now) → \(env)\n\n"
            out += MetricsDiff(a: targetName, baseline ?? [:], b: env, source).markdown() + "\n"
            let gates = Promotion.evaluate(gates: target.environment.gates, source: source, baseline: baseline)
            out += "\n### Gates of \(targetName)\n\n" + GateTable.markdown(gates) + "\n"
            if !Promotion.passed(gates) {
                code = PlumbCLI.ExitCode.gateFailed
                out += "\n**\(gates.filter { !$0.passed }.count) gate(s) fail: `plumb promote \(env) \(targetName)` would refuse.**\n"
            } else if snapshot.recorded == nil {
                out += "\n\(env) has no recorded run yet.\n"
            }
        }
        terminal.print(out.trimmingCharacters(in: .newlines))
        return code
    }
}
