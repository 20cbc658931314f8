import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
import PlumbEngine

/// `plumb schema`: prints the JSON Schema of spec files, for editors and CI linters.
struct SchemaCommand: PlumbCommand {
    package static let name = "schema"
    package static let abstract = "Print the JSON Schema of pipeline or environment files."
    package static let discussion = """
    Prints the JSON Schema (draft 2020-12) of spec/pipeline.yaml (the default) or of
    environments/<name>.yaml. With --output DIR, writes both, as pipeline.schema.json and
    environment.schema.json. The schema is generated from the same declarations the
    validator uses, so it accepts exactly the keys `plumb validate` accepts.
    """
    package static let arguments: [ArgumentSpec] = [
        .positional("kind", optional: true, help: "pipeline (default) or environment.").choosing(JSONSchema.Kind.allCases.map(\.rawValue)),
        .option("--output", "-o", value: "DIR", help: "Write both schema files into DIR instead of printing one."),
        .flag("--quiet", "-q", help: "Print nothing when writing files."),
    ]

    package var kind: JSONSchema.Kind
    package var output: String?
    var quiet: Bool

    package init(_ parsed: ParsedArguments) throws {
        let raw = parsed.positional("kind") ?? JSONSchema.Kind.pipeline.rawValue
        guard let kind = JSONSchema.Kind(rawValue: raw) else {
            let names = JSONSchema.Kind.allCases.map(\.rawValue)
            let hint = Suggest.closest(to: raw, in: names).map { " (did you mean '\($0)'?)" } ?? ""
            throw UsageError("unknown schema '\(raw)'\(hint); choose \(names.joined(separator: " or "))", command: Self.name)
        }
        self.kind = kind
        output = parsed.option("--output")
        quiet = parsed.flag("--quiet")
        if parsed.positional("kind") != nil, output != nil {
            throw UsageError("--output writes every schema; leave out <kind>", command: Self.name)
        }
    }

    package func run() throws -> Int32 {
        guard let output else {
            FileHandle.standardOutput.write(Data(JSONSchema.text(kind).utf8))
            return PlumbCLI.ExitCode.ok
        }
        for path in try Self.write(to: output) where !quiet { print("wrote \(path)") }
        return PlumbCLI.ExitCode.ok
    }

    /// Writes every schema into `directory` (created if needed) and returns the paths written.
    package static func write(to directory: String) throws -> [String] {
        try PlumbError.wrap("cannot write schemas to \(directory)") {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            return try JSONSchema.Kind.allCases.map { kind in
                let path = (directory as NSString).appendingPathComponent(kind.fileName)
                try Data(JSONSchema.text(kind).utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
                return path
            }
        }
    }
}
