import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb report --md`: a pull-request comment.
struct ReportCommand: PlumbCommand {
    package static let name = "report"
    package static let abstract = "Write a Markdown pull-request comment: the plan, the metrics diff and the gates."
    package static let discussion = """
    For environment E (--env, default dev) and the target T that promotes from it (--target, default the
    environment whose `from` is E): E's plan at HEAD, the metrics diff from T (what it runs now) to E,
    and T's gate table evaluated on E's recorded metrics. Writes nothing; exit 0, or 3 when T's gates
    would fail (so a CI step can mark the pull request).
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        .option("--target", value: "ENV", help: "The environment E would be promoted to."),
        .flag("--md", help: "Markdown (the only format; accepted for clarity in CI files)."),
    ]

    var global: GlobalOptions
    var target: String?

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        if global.json {
            throw UsageError("report writes Markdown for people; machines read `plan --json`, `metrics diff --json` and `promote --dry-run --json`",
                             command: Self.name)
        }
        target = parsed.option("--target")
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
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
