import Foundation

/// Where a spec is read from: a commit (through libgit2) or the working tree.
///
/// The loader and validator see only this protocol, so they work the same on both and
/// are tested without git.
package protocol SpecSource {
    /// For messages: "the working tree" or "commit 1a2b3c4d5e".
    var label: String { get }
    /// A file's content, or nil when it does not exist.
    func read(_ path: String) throws -> Data?
    /// Names of the files directly in `directory` (not recursive), or [] when it does not exist.
    func files(in directory: String) throws -> [String]
    /// Whether git tracks `path` (a file, or a folder with tracked files) in this source.
    func isTracked(_ path: String) -> Bool
    /// Whether `path` exists on this machine's disk (repository-relative, or absolute).
    func existsOnDisk(_ path: String) -> Bool
    /// What `path` is on this machine's disk (repository-relative, or absolute).
    func diskKind(_ path: String) -> DiskEntryKind
}

extension SpecSource {
    /// For sources without a disk (tests): a file when it exists.
    package func diskKind(_ path: String) -> DiskEntryKind { existsOnDisk(path) ? .file : .missing }
}
