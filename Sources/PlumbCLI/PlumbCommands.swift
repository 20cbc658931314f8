import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine
/// The registry of commands; each lives in its own file under CLI/Commands/.
package enum PlumbCommands {
    /// Every command, in the order `plumb --help` lists them.
    package static let all: [CommandEntry] = [
        CommandEntry(InitCommand.self),
        CommandEntry(ImportCommand.self),
        CommandEntry(ValidateCommand.self),
        CommandEntry(PlanCommand.self),
        CommandEntry(ReconcileCommand.self),
        CommandEntry(CheckoutCommand.self),
        CommandEntry(GraphCommand.self),
        CommandEntry(PromoteCommand.self),
        CommandEntry(RollbackCommand.self),
        CommandEntry(StatusCommand.self),
        CommandEntry(HistoryCommand.self),
        CommandEntry(ShowCommand.self),
        CommandEntry(LogsCommand.self),
        CommandEntry(MetricsCommand.self),
        CommandEntry(PlotsCommand.self),
        CommandEntry(ParamsCommand.self),
        CommandEntry(ReportCommand.self),
        CommandEntry(PushCommand.self),
        CommandEntry(PullCommand.self),
        CommandEntry(GCCommand.self),
        CommandEntry(SchemaCommand.self),
        CommandEntry(DoctorCommand.self),
        CommandEntry(CompletionCommand.self),
    ]

    /// Commands `--help` does not list: what the completion scripts call for dynamic values.
    package static let hidden: [CommandEntry] = [CommandEntry(CompleteCommand.self)]
}
