import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// Where Plumb deletes and writes inside a root folder (the repository for `plumb checkout`, a
/// workspace for a stage): a relative path whose every folder below the root is a real directory.
///
/// A committed symbolic link such as `build -> /home/u` would otherwise make "replace
/// `build/model.pkl`" delete and write `/home/u/model.pkl`. Each folder is checked with lstat(2),
/// from the root down, before anything is removed: a link or a file where a folder should be is
/// refused. (The root itself may lie behind links; only what lies below it is checked.)
package enum ContainedPath {
    /// The absolute path of `relative` under `root`, once every folder between them is known to be
    /// a real directory. With `create`, missing folders are made (mkdir never follows a link);
    /// without, a missing folder ends the walk (nothing below it exists to be deleted).
    /// `relative` must be relative and normalised (no `.`, `..` or empty parts).
    package static func prepare(_ relative: String, under root: String, create: Bool) throws -> String {
        if let problem = RecordRules.normalisedProblem(relative, allowAbsolute: false) {
            throw PlumbError("refusing to write '\(relative)' under \(root): it \(problem)")
        }
        let base = root.hasSuffix("/") ? String(root.dropLast()) : root
        var folder = base
        for part in relative.split(separator: "/").dropLast() {
            folder += "/" + part
            var s = stat()
            if lstat(folder, &s) != 0 {
                guard errno == ENOENT else { throw PlumbError("cannot inspect \(folder): \(errnoText())") }
                guard create else { break }
                if mkdir(folder, 0o755) != 0 && errno != EEXIST { throw PlumbError("cannot create folder \(folder): \(errnoText())") }
                guard lstat(folder, &s) == 0 else { throw PlumbError("cannot inspect \(folder): \(errnoText())") }
            }
            switch s.st_mode & S_IFMT {
            case S_IFDIR:
                continue
            case S_IFLNK:
                throw PlumbError("\(folder.dropFirst(base.count + 1)) is a symbolic link; plumb does not write or delete '\(relative)' through it",
                                 hint: "a folder holding an output must be a real folder; remove the link (it may point outside the repository)")
            default:
                throw PlumbError("\(folder.dropFirst(base.count + 1)) is not a folder, so '\(relative)' cannot be written",
                                 hint: "move it away, or remove it if it is a leftover")
            }
        }
        return base + "/" + relative
    }
}
