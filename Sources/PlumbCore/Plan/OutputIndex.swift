import Foundation

/// Output paths by position, indexed by path and by every folder above them, so that "which outputs are this
/// path, contain it or lie inside it" (`PathRule.contains` either way) is a few lookups, not a scan.
struct OutputIndex {
    private var exact: [String: [Int]] = [:]
    /// Folder → outputs strictly inside it.
    private var inside: [String: [Int]] = [:]

    mutating func insert(_ path: String, _ position: Int) {
        exact[path, default: []].append(position)
        for folder in Self.folders(above: path) { inside[folder, default: []].append(position) }
    }

    /// Positions of the outputs strictly inside the folder `path`, ascending.
    func within(_ path: String) -> [Int] { (inside[path] ?? []).sorted() }

    /// Positions of the outputs equal to `path`, containing it, or inside it, ascending.
    func related(to path: String) -> [Int] {
        var found = exact[path] ?? []
        for folder in Self.folders(above: path) { found += exact[folder] ?? [] }
        found += inside[path] ?? []
        return found.sorted()
    }

    /// `a/b/c` → `a/b`, `a`.
    static func folders(above path: String) -> [String] {
        var result: [String] = []
        var rest = path[...]
        while let slash = rest.lastIndex(of: "/") {
            rest = rest[..<slash]
            if !rest.isEmpty { result.append(String(rest)) }
        }
        return result
    }
}
