import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb graph`: the stage graph as the planner sees it.
struct GraphCommand: PlumbCommand {
    package static let name = "graph"
    package static let abstract = "Show the stage graph: execution order and what each stage waits for."
    package static let discussion = """
    Stages in the order reconcile runs them (topological, ties by name), each with the stages it
    waits for and the files that pass between them. An environment with `runs:` marks the stages
    it takes from its pin. --dot prints Graphviz (plumb graph --dot | dot -Tsvg > graph.svg);
    --json prints {stages: [{name, upstream, outputs, pinned}]}.
    """
    package static let arguments: [ArgumentSpec] = GlobalOptions.arguments + [
        GlobalOptions.envArgument,
        .option("--ref", value: "REV", help: "Read the spec at this commit instead of HEAD."),
        .flag("--dot", help: "Print the graph in Graphviz's dot language."),
    ]

    var global: GlobalOptions
    var ref: String?
    var dot: Bool

    package init(_ parsed: ParsedArguments) throws {
        global = GlobalOptions(parsed)
        ref = parsed.option("--ref")
        dot = parsed.flag("--dot")
        if dot && global.json { throw UsageError("--dot and --json are two different outputs; pick one", command: Self.name) }
    }

    /// One stage of the graph, for `--json`.
    struct Node: Codable {
        var name: String
        var upstream: [String]
        var outputs: [String]
        var pinned: Bool
    }

    package func run() throws -> Int32 {
        let terminal = global.terminal()
        let project = try Project(path: global.repo)
        let snapshot = try Snapshot.read(project, ref: ref, environment: global.env)
        let pipeline = snapshot.spec.pipeline
        let graph = StageGraph(pipeline)
        let runs = snapshot.environment.runs.map(Set.init)
        let nodes = graph.order.compactMap { name -> Node? in
            guard let stage = pipeline.stage(name) else { return nil }
            return Node(name: name, upstream: graph.upstream[name] ?? [], outputs: stage.allOutputs,
                        pinned: runs.map { !$0.contains(name) } ?? false)
        }
        if global.json {
            try terminal.printJSON(["stages": nodes])
        } else if dot {
            terminal.print(Self.dot(nodes, pipeline: pipeline, graph: graph))
        } else {
            let width = (nodes.map(\.name.count).max() ?? 0) + 2
            for node in nodes {
                let name = Escape.terminal(node.name).padding(toLength: width, withPad: " ", startingAt: 0)
                let waits = node.upstream.isEmpty ? "" : "← " + node.upstream.map { Escape.terminal($0) }.joined(separator: ", ")
                let pinned = node.pinned ? terminal.styled("  (pinned in \(snapshot.environment.name))", .magenta) : ""
                terminal.print(terminal.styled(name, node.upstream.isEmpty ? .bold : nil) + waits + pinned)
            }
        }
        return PlumbCLI.ExitCode.ok
    }

    /// Edges labelled with the files that pass between stages; `after` edges dashed. Every name and
    /// path is escaped for a DOT string (`Escape.dot`): a path holding `"` cannot add nodes or attributes.
    static func dot(_ nodes: [Node], pipeline: Pipeline, graph: StageGraph) -> String {
        func quoted(_ text: String) -> String { "\"" + Escape.dot(text) + "\"" }
        var lines = ["digraph plumb {", "  rankdir=LR;", "  node [shape=box, style=rounded];"]
        for node in nodes {
            lines.append("  \(quoted(node.name))\(node.pinned ? " [style=\"rounded,dashed\"]" : "");")
        }
        for node in nodes {
            guard let stage = pipeline.stage(node.name) else { continue }
            for up in node.upstream {
                let files = stage.deps.filter { graph.producer(of: $0)?.stage == up }
                // `\n` between the escaped paths is DOT's own line break.
                let label = files.isEmpty ? " [style=dashed]" : " [label=\"\(files.map(Escape.dot).joined(separator: "\\n"))\"]"
                lines.append("  \(quoted(up)) -> \(quoted(node.name))\(label);")
            }
        }
        lines.append("}")
        return lines.joined(separator: "\n")
    }
}
