import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// Renders a plan for people: a glyph per action, the reasons, one summary line.
package struct PlanRenderer {
    package var terminal: Terminal

    package init(terminal: Terminal) { self.terminal = terminal }

    static func style(for action: StageAction) -> Terminal.Style? {
        switch action {
        case .unchanged: return .dim
        case .create: return .green
        case .run: return .yellow
        case .restore: return .blue
        case .mayRun: return .cyan
        case .pinned: return .magenta
        }
    }

    /// The whole plan as lines (no trailing newline).
    ///
    /// Every value that comes from the spec, a record or the disk (reasons quote params and paths,
    /// dropped names come from the recorded state) is escaped with `Escape.terminal`, so each stage
    /// is exactly one line per reason and no value can style, move or forge output. `report --md`
    /// puts this text in a code block and relies on that.
    package func render(_ plan: Plan) -> String {
        func v(_ text: String) -> String { Escape.terminal(text) }
        var lines: [String] = []
        let branch = plan.branch.map { " (\(v($0)))" } ?? ""
        lines.append(terminal.styled("Plan for \(v(plan.environment)) at \(plan.commit.short)\(branch)", .bold))
        if plan.offBranch, let follows = plan.follows, let branch = plan.branch {
            lines.append(terminal.styled("note:", .yellow) + " \(v(plan.environment)) follows \(v(follows)): this plan from \(v(Snapshot.shortBranch(branch))) is for reading; `plumb reconcile` refuses it.")
        }
        if let pin = plan.pin { lines.append("Deploys the promotion of \(v(pin.source)) run \(v(pin.run)) (commit \(pin.commit.short)).") }
        lines.append("")
        let names = plan.stages.map { v($0.name) }, dropped = plan.dropped.map { v($0) }
        let width = max(12, (names.map(\.count) + dropped.map(\.count)).max() ?? 0) + 2
        for (stage, name) in zip(plan.stages, names) {
            let head = terminal.styled("\(stage.action.glyph) \(name.padding(toLength: width, withPad: " ", startingAt: 0))",
                                       Self.style(for: stage.action))
            let reasons = stage.action == .unchanged ? ["unchanged"] : stage.reasons.map { v($0.description) }
            lines.append(head + (reasons.first ?? ""))
            for more in reasons.dropFirst() { lines.append(String(repeating: " ", count: width + 2) + more) }
        }
        for name in dropped {
            lines.append(terminal.styled("- \(name.padding(toLength: width, withPad: " ", startingAt: 0))", .red)
                         + "left the spec; dropped from the recorded state")
        }
        lines.append("")
        if let untargeted = plan.untargeted, !untargeted.isEmpty {
            let names = untargeted.prefix(8).map { v($0) }.joined(separator: ", ") + (untargeted.count > 8 ? " and \(untargeted.count - 8) more" : "")
            lines.append(terminal.styled("note:", .yellow) + " not targeted, kept as recorded: \(names).")
        }
        if !plan.uncommittedEdits.isEmpty {
            let files = plan.uncommittedEdits.prefix(5).map { v($0) }.joined(separator: ", ") + (plan.uncommittedEdits.count > 5 ? ", …" : "")
            lines.append(terminal.styled("note:", .yellow) + " uncommitted edits to \(files) are not part of this plan; commit them to include them.")
        }
        for error in plan.diagnostics {
            let place = error.location.map { "\(v($0.file)):\($0.line):\($0.column): " } ?? ""
            lines.append(place + terminal.styled("error:", .red) + " \(v(error.message))")
            if let hint = error.hint { lines.append("  hint: \(v(hint))") }
        }
        if !plan.errors.isEmpty {
            lines.append(terminal.styled("Plan has \(plan.errors.count) error\(plan.errors.count == 1 ? "" : "s"); nothing can run until \(plan.errors.count == 1 ? "it is" : "they are") fixed.", .bold))
        } else {
            lines.append(terminal.styled(plan.hasChanges ? plan.summary : plan.summary + " Nothing to do.", .bold))
        }
        return lines.joined(separator: "\n")
    }
}
