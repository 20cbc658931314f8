import CGit2
import Foundation
import PlumbCore

/// One entry of a tree, copied out of libgit2.
package struct TreeEntry: Sendable, Hashable {
    package enum Kind: Sendable, Hashable { case blob, tree, commit }
    /// Path from the repository root.
    package var path: String
    package var id: ObjectID
    package var kind: Kind
    /// Git's file mode (0o100644, 0o100755, 0o120000 for a symlink, 0o40000 for a tree).
    package var mode: UInt32
}

extension Repository {
    /// The entry at `path` in a commit's tree, or nil if the path is absent. Reads no file.
    package func entry(at path: String, in commit: ObjectID) throws -> TreeEntry? {
        try withTree(of: commit) { tree in
            var entry: OpaquePointer?
            let code = git_tree_entry_bypath(&entry, tree, path)
            if code == GIT_ENOTFOUND.rawValue { return nil }
            try Git.check(code, "git_tree_entry_bypath")
            defer { git_tree_entry_free(entry) }
            return Self.copy(entry!, path: path)
        }
    }

    /// Every blob under `directory` ("" for the whole tree), recursively, with paths from the root.
    package func blobs(under directory: String, in commit: ObjectID) throws -> [TreeEntry] {
        try withTree(of: commit) { root in
            var tree = root
            var owned: OpaquePointer?
            if !directory.isEmpty {
                var entry: OpaquePointer?
                let code = git_tree_entry_bypath(&entry, root, directory)
                if code == GIT_ENOTFOUND.rawValue { return [] }
                try Git.check(code, "git_tree_entry_bypath")
                defer { git_tree_entry_free(entry) }
                guard git_tree_entry_type(entry) == GIT_OBJECT_TREE else { return [] }
                try Git.check(git_tree_lookup(&owned, handle, git_tree_entry_id(entry)), "git_tree_lookup")
                tree = owned!
            }
            defer { if let owned { git_tree_free(owned) } }
            final class Collector { var entries: [TreeEntry] = []; let prefix: String; init(_ p: String) { prefix = p } }
            let collector = Collector(directory.isEmpty ? "" : directory + "/")
            let box = Unmanaged.passUnretained(collector).toOpaque()
            try Git.check(git_tree_walk(tree, GIT_TREEWALK_PRE, { root, entry, payload in
                let c = Unmanaged<Collector>.fromOpaque(payload!).takeUnretainedValue()
                guard git_tree_entry_type(entry) == GIT_OBJECT_BLOB else { return 0 }
                let path = c.prefix + String(cString: root!) + String(cString: git_tree_entry_name(entry))
                c.entries.append(Repository.copy(entry!, path: path))
                return 0
            }, box), "git_tree_walk")
            return collector.entries
        }
    }

    /// The content of a blob.
    package func blob(_ id: ObjectID) throws -> Data {
        var oid = id.raw
        var blob: OpaquePointer?
        try Git.check(git_blob_lookup(&blob, handle, &oid), "git_blob_lookup")
        defer { git_blob_free(blob) }
        let size = Int(git_blob_rawsize(blob))
        guard size > 0, let raw = git_blob_rawcontent(blob) else { return Data() }
        return Data(bytes: raw, count: size)
    }

    /// The content of the file at `path` in a commit, or nil when it is not there.
    package func file(at path: String, in commit: ObjectID) throws -> Data? {
        guard let e = try entry(at: path, in: commit), e.kind == .blob else { return nil }
        return try blob(e.id)
    }

    /// Writes `data` as a blob into the object database.
    func writeBlob(_ data: Data) throws -> ObjectID {
        var oid = git_oid()
        try data.withUnsafeBytes { bytes -> Void in
            try Git.check(git_blob_create_from_buffer(&oid, handle, bytes.baseAddress, bytes.count), "git_blob_create_from_buffer")
        }
        return ObjectID(oid)
    }

    /// A change to a tree: a file's new content, or nil to remove the path.
    package typealias TreeChange = (path: String, content: Data?)

    /// A new tree: `base`'s tree with `changes` applied. Writes only the blobs and trees that change.
    package func tree(updating base: ObjectID?, with changes: [TreeChange]) throws -> ObjectID {
        var baseTree: OpaquePointer?
        if let base {
            var oid = try commit(base).tree.raw
            try Git.check(git_tree_lookup(&baseTree, handle, &oid), "git_tree_lookup")
        }
        defer { if let baseTree { git_tree_free(baseTree) } }
        var updates: [git_tree_update] = []
        var paths: [UnsafeMutablePointer<CChar>] = []
        defer { paths.forEach { free($0) } }
        for change in changes.sorted(by: { $0.path < $1.path }) {
            let path = strdup(change.path)!
            paths.append(path)
            var update = git_tree_update()
            update.path = UnsafePointer(path)
            if let content = change.content {
                update.action = GIT_TREE_UPDATE_UPSERT
                update.id = try writeBlob(content).raw
                update.filemode = GIT_FILEMODE_BLOB
            } else {
                // Removing a path that is not there is fine: the result is the same.
                if let base, try entry(at: change.path, in: base) == nil { continue }
                if base == nil { continue }
                update.action = GIT_TREE_UPDATE_REMOVE
            }
            updates.append(update)
        }
        var out = git_oid()
        if baseTree == nil {
            // libgit2 needs a baseline tree; start from the empty tree.
            var builder: OpaquePointer?
            try Git.check(git_treebuilder_new(&builder, handle, nil), "git_treebuilder_new")
            var empty = git_oid()
            try Git.check(git_treebuilder_write(&empty, builder), "git_treebuilder_write")
            git_treebuilder_free(builder)
            try Git.check(git_tree_lookup(&baseTree, handle, &empty), "git_tree_lookup")
        }
        try Git.check(git_tree_create_updated(&out, handle, baseTree, updates.count, &updates), "git_tree_create_updated")
        return ObjectID(out)
    }

    /// Writes a commit object without moving any reference.
    package func createCommit(tree: ObjectID, parents: [ObjectID], message: String, author: Signature) throws -> ObjectID {
        var treeOid = tree.raw
        var treeObject: OpaquePointer?
        try Git.check(git_tree_lookup(&treeObject, handle, &treeOid), "git_tree_lookup")
        defer { git_tree_free(treeObject) }
        var parentObjects: [OpaquePointer?] = []
        defer { parentObjects.forEach { git_commit_free($0) } }
        for p in parents {
            var oid = p.raw
            var c: OpaquePointer?
            try Git.check(git_commit_lookup(&c, handle, &oid), "git_commit_lookup")
            parentObjects.append(c)
        }
        var sig: UnsafeMutablePointer<git_signature>?
        try Git.check(git_signature_new(&sig, author.name, author.email, git_time_t(author.time.timeIntervalSince1970), 0), "git_signature_new")
        defer { git_signature_free(sig) }
        var out = git_oid()
        try parentObjects.withUnsafeMutableBufferPointer { buffer -> Void in
            try Git.check(git_commit_create(&out, handle, nil, sig, sig, "UTF-8", message, treeObject, buffer.count,
                                            buffer.baseAddress), "git_commit_create")
        }
        return ObjectID(out)
    }

    /// Writes a commit's tree (or the part under `paths`) into `directory` exactly as its blobs hold
    /// it (no autocrlf, eol, ident or filter conversion), leaving the repository's index and working
    /// tree untouched.
    package func checkout(_ commit: ObjectID, into directory: String, paths: [String] = []) throws {
        try checkoutTree(commit, directory: directory, paths: paths, updateIndex: false, raw: true)
    }

    /// Brings `paths` of the working tree (and their index entries) to what `commit` holds,
    /// touching nothing else. Used to keep `history/` current after a recorded run.
    func syncWorkingTree(to commit: ObjectID, paths: [String]) throws {
        try checkoutTree(commit, directory: nil, paths: paths, updateIndex: true, raw: false)
    }

    /// `raw`: write the blobs' bytes, whatever core.autocrlf, core.eol or .gitattributes (text, eol, ident,
    /// filter) say; the user's own working tree keeps its conversions.
    func checkoutTree(_ commit: ObjectID, directory: String?, paths: [String], updateIndex: Bool, raw: Bool) throws {
        var oid = commit.raw
        var object: OpaquePointer?
        try Git.check(git_object_lookup(&object, handle, &oid, GIT_OBJECT_COMMIT), "git_object_lookup")
        defer { git_object_free(object) }
        var options = git_checkout_options()
        git_checkout_options_init(&options, UInt32(GIT_CHECKOUT_OPTIONS_VERSION))
        var strategy = GIT_CHECKOUT_FORCE.rawValue | GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH.rawValue
        if !updateIndex { strategy |= GIT_CHECKOUT_DONT_UPDATE_INDEX.rawValue }
        if !paths.isEmpty { strategy |= GIT_CHECKOUT_REMOVE_UNTRACKED.rawValue }
        options.checkout_strategy = strategy
        options.disable_filters = raw ? 1 : 0
        var cPaths = paths.map { strdup($0) }
        defer { cPaths.forEach { free($0) } }
        try cPaths.withUnsafeMutableBufferPointer { buffer in
            options.paths = git_strarray(strings: buffer.baseAddress, count: buffer.count)
            if let directory {
                try directory.withCString { dir in
                    options.target_directory = dir
                    try Git.check(git_checkout_tree(handle, object, &options), "git_checkout_tree")
                }
            } else {
                try Git.check(git_checkout_tree(handle, object, &options), "git_checkout_tree")
            }
        }
    }

    /// Paths among `paths` (files or folders) whose working-tree content differs from `commit`.
    package func workingTreeChanges(against commit: ObjectID, paths: [String]) throws -> [String] {
        guard workingDirectory != nil, !paths.isEmpty else { return [] }
        return try withTree(of: commit) { tree in
            var options = git_diff_options()
            git_diff_options_init(&options, UInt32(GIT_DIFF_OPTIONS_VERSION))
            options.flags = GIT_DIFF_INCLUDE_UNTRACKED.rawValue | GIT_DIFF_DISABLE_PATHSPEC_MATCH.rawValue
            var cPaths = paths.map { strdup($0) }
            defer { cPaths.forEach { free($0) } }
            var diff: OpaquePointer?
            try cPaths.withUnsafeMutableBufferPointer { buffer in
                options.pathspec = git_strarray(strings: buffer.baseAddress, count: buffer.count)
                try Git.check(git_diff_tree_to_workdir_with_index(&diff, handle, tree, &options), "git_diff_tree_to_workdir_with_index")
            }
            defer { git_diff_free(diff) }
            var out: [String] = []
            for i in 0..<git_diff_num_deltas(diff) {
                let delta = git_diff_get_delta(diff, i)!.pointee
                out.append(String(cString: delta.new_file.path ?? delta.old_file.path))
            }
            return out.sorted()
        }
    }

    private func withTree<T>(of commit: ObjectID, _ body: (OpaquePointer) throws -> T) throws -> T {
        var oid = commit.raw
        var c: OpaquePointer?
        try Git.check(git_commit_lookup(&c, handle, &oid), "git_commit_lookup")
        defer { git_commit_free(c) }
        var tree: OpaquePointer?
        try Git.check(git_commit_tree(&tree, c), "git_commit_tree")
        defer { git_tree_free(tree) }
        return try body(tree!)
    }

    static func copy(_ entry: OpaquePointer, path: String) -> TreeEntry {
        let type = git_tree_entry_type(entry)
        let kind: TreeEntry.Kind = type == GIT_OBJECT_TREE ? .tree : type == GIT_OBJECT_COMMIT ? .commit : .blob
        return TreeEntry(path: path, id: ObjectID(git_tree_entry_id(entry)), kind: kind,
                         mode: git_tree_entry_filemode(entry).rawValue)
    }
}
