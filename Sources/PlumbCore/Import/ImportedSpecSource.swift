import Foundation

/// A project's files with an imported spec/pipeline.yaml laid over them: what `plumb validate`
/// will see once the import is written, so the import is checked before anything is written.
struct ImportedSpecSource: SpecSource {
    let base: SpecSource
    let pipeline: Data

    var label: String { base.label }
    func read(_ path: String) throws -> Data? { path == SpecPaths.pipeline ? pipeline : try base.read(path) }
    func files(in directory: String) throws -> [String] { try base.files(in: directory) }
    func isTracked(_ path: String) -> Bool { base.isTracked(path) }
    func existsOnDisk(_ path: String) -> Bool { base.existsOnDisk(path) }
    func diskKind(_ path: String) -> DiskEntryKind { base.diskKind(path) }

    /// Loads the written spec as Plumb does and returns what it finds. Each problem located in
    /// spec/pipeline.yaml is also noted as `unsupported` at the imported file's line that wrote it.
    static func validate(_ written: SpecText, over base: SpecSource, notes: inout [ImportNote]) -> [Diagnostic] {
        let result = SpecLoader.load(from: ImportedSpecSource(base: base, pipeline: Data(written.text.utf8)))
        // An instance of a fan-out repeats its template's problem: one note per line of the spec.
        var seen: Set<SourceLocation> = []
        for diagnostic in result.diagnostics {
            if let location = diagnostic.location, !seen.insert(location).inserted { continue }
            let origin = diagnostic.location.flatMap { $0.file == SpecPaths.pipeline ? written.origin(ofLine: $0.line) : nil }
            let at = origin ?? SourceLocation(file: DVCImport.file, line: 1, column: 1)
            let where_ = diagnostic.location.map { " (\($0.file):\($0.line):\($0.column))" } ?? ""
            notes.append(ImportNote(diagnostic.severity == .error ? .unsupported : .approximated, at: at,
                                    "Plumb's validator \(diagnostic.severity == .error ? "refuses" : "warns of") the imported spec\(where_): \(diagnostic.message)",
                                    hint: diagnostic.hint))
        }
        return result.diagnostics
    }
}
