import Foundation
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Writes a file under `folder`, creating its folders.
func put(_ folder: String, _ path: String, _ content: String, executable: Bool = false) throws {
    let url = URL(fileURLWithPath: folder + "/" + path)
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(content.utf8).write(to: url)
    chmod(url.path, executable ? 0o755 : 0o644)
}

/// A stat cache that trusts entries at once (no racy window), so tests need not wait for files to age.
func eagerStatCache(_ folder: String) -> StatCache {
    StatCache(file: URL(fileURLWithPath: folder + "/stat-cache"), racyWindow: -1)
}
