/// Words people bring from other tools (Terraform, Argo CD, DVC, git) for what a Plumb command does.
///
/// They are hints, not aliases (docs/decisions.md, "Other tools' words are hints"): `plumb diff`
/// would sit beside `params diff` and `metrics diff` meaning something else, and one name per
/// command keeps help, completion and the man page short.
enum CommandWords {
    /// The other tool's word, the Plumb command that does it, and where the word comes from.
    static let table: [(word: String, command: String, from: String)] = [
        ("apply", ReconcileCommand.name, "terraform apply"),
        ("sync", ReconcileCommand.name, "argocd app sync"),
        ("repro", ReconcileCommand.name, "dvc repro"),
        ("diff", PlanCommand.name, "terraform plan / argocd app diff"),
        ("dag", GraphCommand.name, "dvc dag"),
    ]

    /// The hint for an unknown command `word` that another tool uses, if it is one.
    static func hint(for word: String) -> String? {
        guard let entry = table.first(where: { $0.word == word }) else { return nil }
        return "did you mean 'plumb \(entry.command)'? It does what \(entry.from) does."
    }
}
