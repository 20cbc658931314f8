import Foundation

/// The branches an environment follows: a branch name, or a glob of them (`release/*`, `*`), as
/// `environments/<env>.yaml` writes it under `branch:`.
package enum BranchPattern {
    /// Whether `branch` (a short name, `main`) is one the pattern names. `*` matches `/` too, so
    /// `*` is every branch and `exp*` takes `exp/lr-sweep`: a glob here means "these branches", and
    /// nobody expects a slash to end it.
    package static func matches(_ pattern: String, _ branch: String) -> Bool {
        fnmatch(pattern, branch, 0) == 0
    }

    /// Why `pattern` cannot name a branch (git's ref-name rules, with `*` allowed), or nil.
    static func problem(in pattern: String) -> String? {
        if pattern.hasPrefix("refs/") { return "is a full reference name; write the branch alone (`main`, not `refs/heads/main`)" }
        if pattern.hasPrefix("-") || pattern.hasPrefix("/") || pattern.hasSuffix("/") || pattern.hasSuffix(".") {
            return "cannot be a branch name (it starts with '-' or '/', or ends with '/' or '.')"
        }
        if pattern.contains("..") || pattern.contains("//") || pattern.contains("@{") || pattern.hasSuffix(".lock") {
            return "cannot be a branch name (git refuses '..', '//', '@{' and a '.lock' ending)"
        }
        if let bad = pattern.unicodeScalars.first(where: { $0.value < 0x20 || $0.value == 0x7f || " ~^:?[\\".unicodeScalars.contains($0) }) {
            return "contains \(bad.value < 0x20 || bad.value == 0x7f ? "a control character" : "'\(bad)'"), which git does not allow in branch names"
        }
        return nil
    }
}
