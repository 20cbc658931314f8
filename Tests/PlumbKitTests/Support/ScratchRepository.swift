import Foundation
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// A real git repository in a fresh temporary folder, removed when the value goes away.
/// Tests build repositories with it; they never commit into the project's own repository.
final class ScratchRepository {
    let root: String
    let repository: Repository

    init(bare: Bool = false) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("plumb-test-\(UUID().uuidString)")
        root = base.path
        repository = try Repository.create(at: root, bare: bare)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes a file (creating folders), relative to the root.
    func write(_ path: String, _ content: String, executable: Bool = false) throws {
        let url = URL(fileURLWithPath: root + "/" + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(content.utf8).write(to: url)
        if executable { chmod(url.path, 0o755) }
    }

    func read(_ path: String) throws -> String {
        try String(contentsOfFile: root + "/" + path, encoding: .utf8)
    }

    func remove(_ path: String) throws { try FileManager.default.removeItem(atPath: root + "/" + path) }

    /// Commits everything in the working tree, like `git add -A && git commit`.
    @discardableResult
    func commit(_ message: String = "change") throws -> ObjectID {
        try repository.commitWorkingTree(message: message, author: Signature(name: "Test", email: "test@example.com"))
    }

    var head: ObjectID { get throws { try repository.head().commit! } }
}

/// A fresh empty temporary folder (for side-effect files outside a repository).
func temporaryFolder() throws -> String {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("plumb-tmp-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url.path
}
