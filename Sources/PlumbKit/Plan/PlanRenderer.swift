import Foundation

/// Renders a plan for people: a glyph per action, the reasons, one summary line.
public struct PlanRenderer {
    public var terminal: Terminal

    public init(terminal: Terminal) { self.terminal = terminal }

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
    public func render(_ plan: Plan) -> String {
        var lines: [String] = []
        let branch = plan.branch.map { " (\($0))" } ?? ""
        lines.append(terminal.styled("Plan for \(plan.environment) at \(plan.commit.short)\(branch)", .bold))
        if let pin = plan.pin { lines.append("Deploys the promotion of \(pin.source) run \(pin.run) (commit \(pin.commit.short)).") }
        lines.append("")
        let width = max(12, (plan.stages.map(\.name.count) + plan.dropped.map(\.count)).max() ?? 0) + 2
        for stage in plan.stages {
            let head = terminal.styled("\(stage.action.glyph) \(stage.name.padding(toLength: width, withPad: " ", startingAt: 0))",
                                       Self.style(for: stage.action))
            let reasons = stage.action == .unchanged ? ["unchanged"] : stage.reasons.map(\.description)
            lines.append(head + (reasons.first ?? ""))
            for more in reasons.dropFirst() { lines.append(String(repeating: " ", count: width + 2) + more) }
        }
        for name in plan.dropped {
            lines.append(terminal.styled("- \(name.padding(toLength: width, withPad: " ", startingAt: 0))", .red)
                         + "left the spec; dropped from the recorded state")
        }
        lines.append("")
        if !plan.uncommittedEdits.isEmpty {
            let files = plan.uncommittedEdits.prefix(5).joined(separator: ", ") + (plan.uncommittedEdits.count > 5 ? ", …" : "")
            lines.append(terminal.styled("note:", .yellow) + " uncommitted edits to \(files) are not part of this plan; commit them to include them.")
        }
        for error in plan.errors { lines.append(terminal.styled("error:", .red) + " \(error)") }
        if !plan.errors.isEmpty {
            lines.append(terminal.styled("Plan has \(plan.errors.count) error\(plan.errors.count == 1 ? "" : "s"); nothing can run until \(plan.errors.count == 1 ? "it is" : "they are") fixed.", .bold))
        } else {
            lines.append(terminal.styled(plan.hasChanges ? plan.summary : plan.summary + " Nothing to do.", .bold))
        }
        return lines.joined(separator: "\n")
    }
}
