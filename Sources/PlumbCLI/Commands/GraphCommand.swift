import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb graph`: the stage graph, each stage with its last status in one environment.
struct GraphCommand: PlumbCommand {
    package static let name = "graph"
    package static let abstract = "Show the stage graph with each stage's last status and the files between stages."
    package static let discussion = """
    The stages in topological layers (ties by name), each with its last status in the environment
    (--env): succeeded, failed, blocked, restored, unchanged or interrupted from the last run, else
    from the recorded state, else "never run"; a stage the environment takes from its pin is
    "pinned". Edges carry the files that pass between stages (long lists shortened). Status is
    always a glyph and a word, never colour alone.

    --format text (the default): the layers, each stage's status and what comes in from where.
    --format mermaid: a `flowchart LR` for a ```mermaid block in GitHub or GitLab Markdown.
    --format dot: Graphviz (plumb graph --format dot | dot -Tsvg > graph.svg); --dot is the same.
    --format json: {schemaVersion, environment, stages: [{name, status, run?, executor?}],
    edges: [{from, to, files}]} (docs/json.md); --json is the same.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        .option("--ref", value: "REV", help: "Read the spec and records at this commit instead of HEAD."),
        .option("--format", value: "FORMAT", help: "text (default), mermaid, dot or json.").choosing(GraphRenderer.Format.allCases.map(\.rawValue)),
        .flag("--dot", help: "Same as --format dot."),
    ]

    var global: GlobalOptions
    var ref: String?
    var format: GraphRenderer.Format

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        ref = parsed.option("--ref")
        let names = GraphRenderer.Format.allCases.map(\.rawValue)
        let chosen = try parsed.option("--format", as: names.joined(separator: ", "), GraphRenderer.Format.init(rawValue:))
        let aliases = [parsed.flag("--dot") ? GraphRenderer.Format.dot : nil, global.json ? .json : nil].compactMap { $0 }
        let asked = Set(aliases + (chosen.map { [$0] } ?? []))
        if asked.count > 1 {
            throw UsageError("\(asked.map(\.rawValue).sorted().joined(separator: " and ")) are different outputs; pick one", command: Self.name)
        }
        format = asked.first ?? .text
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        let snapshot = try Snapshot.read(project, ref: ref, environment: global.env)
        var lastRun: RunRecord?
        if let run = snapshot.recorded?.lastRun {
            lastRun = try RunRecord.read(run, environment: snapshot.environment.name, at: snapshot.commit, in: project.repository)
        }
        let graph = PipelineGraph(pipeline: snapshot.spec.pipeline, environment: snapshot.environment,
                                  recorded: snapshot.recorded, lastRun: lastRun)
        switch format {
        case .json: try terminal.printJSON(graph)
        case .mermaid: terminal.print(GraphRenderer.mermaid(graph))
        case .dot: terminal.print(GraphRenderer.dot(graph))
        case .text:
            for line in GraphRenderer.text(graph, unicode: terminal.isInteractive, style: terminal.styled) { terminal.print(line) }
        }
        return PlumbCLI.ExitCode.ok
    }
}
