import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb plan`: what a reconcile would do, and why. Writes nothing.
struct PlanCommand: PlumbCommand {
    package static let name = "plan"
    package static let abstract = "Show what reconcile would run, and why (a dry run; writes nothing)."
    package static let discussion = """
    Plans the environment at a commit (default: HEAD) against the state recorded in history/<env>/
    of that same commit. Each stage gets a glyph:
      ~ run   + new stage   ? may run (if upstream outputs change)   < restore from cache
      @ pinned by a promotion   (blank) unchanged   - dropped from the record
    Uncommitted edits are never part of a plan; the plan says when the working tree has some.
    A plan runs nothing from the repository; --refresh first runs the drift probes (`check`) of the
    stages that deployed something, as reconcile does, and plans those that drifted to run again.
    --json prints the plan in the versioned shape documented in docs/plan-json.md. Ctrl-C during
    --refresh stops the probes and exits 130.
    Naming stages (`plumb plan train`) plans those and what they need; --downstream adds every
    stage that depends on them. The others are left out of the plan and keep their records.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        TargetOptions.stages,
        TargetOptions.downstreamFlag,
        .option("--ref", value: "REV", help: "Plan this commit instead of HEAD."),
        .option("--force", value: "STAGE", help: "Plan STAGE to run whatever its state (repeatable)."),
        .flag("--detailed-exitcode", help: "Exit 0 when there is nothing to do, 2 when changes are pending, 1 on error."),
        .flag("--refresh", help: "Run the drift probes (repository code) first, as reconcile does; drifted stages plan to run."),
    ]

    var global: GlobalOptions
    var targets: TargetOptions
    var ref: String?
    var forced: Set<String>
    var detailedExitCode: Bool
    var refresh: Bool

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        targets = try TargetOptions(parsed, command: Self.name)
        ref = parsed.option("--ref")
        forced = Set(parsed.options("--force"))
        detailedExitCode = parsed.flag("--detailed-exitcode")
        refresh = parsed.flag("--refresh")
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        Project.keepUntilExit(project)
        // The probes run in their own process groups: without this, Ctrl-C would end plumb and leave them running.
        if refresh { SignalHandling.install(stopping: "the drift probes") }
        var reconciler = Reconciler(project: project)
        targets.apply(to: &reconciler)
        let (_, plan) = try reconciler.plan(ref: ref, environment: global.env, forced: forced, refresh: refresh)
        if Interruption.requested { throw PlumbError("interrupted; the drift probes were stopped", kind: .interrupted) }
        if let failure = project.sharedStore?.failure {
            // On stderr, so that --json stays one document; the plan is still right for this machine.
            terminal.error("\(terminal.styled("warning:", .yellow)) \(Escape.terminal(failure.message)); planned as if the shared store held nothing")
        }
        try Self.print(plan, json: global.json, terminal: terminal)
        return Self.exitCode(for: plan, detailed: detailedExitCode)
    }

    static func print(_ plan: Plan, json: Bool, terminal: Terminal) throws {
        if json {
            try terminal.printJSON(plan)
        } else {
            terminal.print(PlanRenderer(terminal: terminal).render(plan))
        }
    }

    static func exitCode(for plan: Plan, detailed: Bool) -> Int32 {
        if !plan.errors.isEmpty { return PlumbCLI.ExitCode.failure }
        return detailed && plan.hasChanges ? PlumbCLI.ExitCode.changesPending : PlumbCLI.ExitCode.ok
    }
}
