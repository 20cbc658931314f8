import Foundation
import PlumbCore
import PlumbGit
import PlumbStore
#if canImport(Glibc)
import Glibc
#endif

/// The inputs stages read in their workspace, staged so that no stage can change what another reads
/// or what the user has:
///
/// - each input is staged once, and a stage starts only when all of its inputs are complete (two
///   stages needing the same cache object wait for the one copy, never start on half of it);
/// - untracked data and Git LFS content are copies, verified against the digest the plan identified
///   them by (a reflink where the file system has them, so large data costs no space);
/// - every input is read-only (its files lose their write bits), and its files' stat stamps
///   (device, inode, size, mtime, ctime) are taken once staged. A stage that starts finds an input
///   as staged or stages it again; a stage that ends is checked: if any of its inputs changed while it
///   ran, it fails, since its record would name a digest it did not read.
///
/// Stamps make the check cost one `lstat` per input file: a write, a rename over, a `chmod` back to
/// writable all change ctime, which no unprivileged process can set back. They are kept once per input,
/// however many stages read it. A large input (`watchedFiles` files or more) also gets inotify marks on
/// its folders (`FolderWatch`), set once it is staged: a check that finds no event since costs a
/// `read(2)`, not an `lstat` per file; an event, an overflow, or a mark that could not be set falls back to
/// the stamps. (A write through a hard link made outside the input's folders reaches no mark; it changes
/// the file's ctime, so the next run's sync of a kept copy copies that file again.)
///
/// An untracked data folder's copy is kept between runs (`KeptInputs`) and synced rather than copied
/// when staged again (`StagedCopy`): only files whose source content changed, or whose copy was touched,
/// are copied and hashed.
///
/// `@unchecked Sendable`: stages stage their inputs from their own threads; the staged set is guarded
/// by `condition` and the workspace repository's handle by `gitLock` (HostileWorkspaceTests and the
/// parallel engine tests run stages side by side over it).
final class WorkspaceInputs: @unchecked Sendable {
    /// Where an input's content comes from: to stage it, and to stage it again after a stage changed it.
    enum Source: Sendable {
        /// Tracked by git and written by the checkout; a changed file is rewritten from its blob.
        case checkout
        /// Another stage's output (file or folder), from the cache.
        case cache(Digest)
        /// Untracked data at `path`, which the plan identified by `digest`.
        case data(path: String, digest: Digest)
        /// A Git LFS file: the object at `object`, which its pointer names.
        case lfs(LFSFile, object: String)
    }

    /// An input as a stage found it staged; the check after the stage compares it with the input then.
    struct Staged: Sendable, Hashable {
        var path: String
        /// Which staging of the input (each staging, first or again, has its own).
        var generation: Int
    }

    /// One staging of an input: the stamp of each of its files, by path relative to the workspace (in
    /// parallel arrays: a data folder may have a million), and, for a large one, marks on its folders.
    private struct Files {
        var generation: Int
        /// What each of `paths` follows (`data/` for a synced copy's files, so a million paths are not rebuilt).
        var base = ""
        var paths: [String]
        var stamps: [FileStamp?]
        var watch: FolderWatch?
    }

    private enum State {
        case staging
        case ready(Files)
        case failed(any Error)
    }

    /// Inputs with at least this many files are watched; below it a check of their stamps is cheap.
    static let watchedFiles = 1000
    /// At most this many inputs are watched at once: each holds an inotify instance, of which a user has
    /// few (`max_user_instances`, often 128); the rest are checked by their stamps.
    static let maximumWatches = 16

    /// The workspace's root.
    let root: String
    private let store: any ContentStore
    /// The workspace's own repository, for rewriting tracked files; libgit2 handles are used by one thread at a time.
    private let checkout: Repository
    private let commit: ObjectID
    private let gitLock = NSLock()
    /// Paths of Git LFS files: never part of a tracked input's files (their pointers are not their content).
    private let lfsPaths: Set<String>
    /// Declared outputs: never part of a tracked input's files either (their producer rewrites them).
    private let producers: OutputProducers

    /// Hashes of the source's files as the plan's walk recorded them, for syncing a kept copy.
    private let digester: ContentDigester
    /// Where copies of untracked data folders are kept between runs; nil keeps none.
    private let kept: KeptInputs?

    private let condition = NSCondition()
    private var states: [String: State] = [:]
    private var generations = 0
    private var watches = 0

    init(root: String, store: any ContentStore, checkout: Repository, commit: ObjectID, lfs: [LFSFile], producers: OutputProducers,
         digester: ContentDigester, kept: KeptInputs?) {
        self.root = root
        self.store = store
        self.checkout = checkout
        self.commit = commit
        lfsPaths = Set(lfs.map(\.path))
        self.producers = producers
        self.digester = digester
        self.kept = kept
    }

    /// Takes content that is already in place (the checkout's tracked files, `tracked`, or an output a
    /// stage of this run just wrote) as the input at `path`: makes it read-only and remembers its stamps.
    func adopt(_ path: String, tracked: Bool) throws {
        let (paths, stamps) = try protect(path, only: nil, tracked: tracked)
        let files = staged(paths, stamps, folder: path)
        condition.lock()
        if case let .ready(old)? = states[path] { release(old) }
        states[path] = .ready(files)
        condition.broadcast()
        condition.unlock()
    }

    /// Makes sure the input at `path` is in the workspace as staged, staging it (again) from `source` if it
    /// is not. Concurrent callers for one path wait for one staging.
    func stage(_ path: String, from source: Source) throws -> Staged {
        condition.lock()
        var previous: Files?
        waiting: while true {
            switch states[path] {
            case .staging?:
                condition.wait()
            case let .failed(error)?:
                condition.unlock()
                throw error
            case let .ready(files)?:
                if quiet(files) || changed(files).isEmpty {
                    condition.unlock()
                    return Staged(path: path, generation: files.generation)
                }
                previous = files
                break waiting
            case nil:
                break waiting
            }
        }
        if let previous { release(previous) }
        states[path] = .staging
        condition.unlock()

        let result = Result { () throws -> Files in
            if case let .data(sourcePath, digest) = source, let kept, DiskEntryKind.of(sourcePath) == .directory {
                let (base, paths, stamps) = try Trace.measure("staging \(path)") {
                    try sync(path, from: sourcePath, digest: digest, kept: kept, again: previous != nil)
                }
                return Trace.measure("staging \(path): marks and stamps") { staged(paths, stamps, folder: path, base: base) }
            }
            try write(path, from: source, previous: previous)
            // A tracked input keeps the files it had: what stages wrote into its folder is not part of it.
            let (paths, stamps) = if case .checkout = source {
                try protect(path, only: previous.map { Set($0.paths) }, tracked: true)
            } else {
                try protect(path, only: nil, tracked: false)
            }
            return staged(paths, stamps, folder: path)
        }
        condition.lock()
        switch result {
        case let .success(files): states[path] = .ready(files)
        case let .failure(error): states[path] = .failed(error)
        }
        condition.broadcast()
        condition.unlock()
        return Staged(path: path, generation: try result.get().generation)
    }

    /// The files of the inputs `staged` names that are no longer as they were staged (or are gone), sorted;
    /// an input staged again since (another stage changed it) counts as changed, by its path.
    func changed(_ staged: [Staged]) -> [String] {
        var changed: [String] = []
        var check: [Files] = []
        condition.lock()
        for input in staged {
            guard case let .ready(files)? = states[input.path], files.generation == input.generation else {
                changed.append(input.path)
                continue
            }
            if !quiet(files) { check.append(files) }
        }
        condition.unlock()
        for files in check { changed += self.changed(files) }
        return changed.sorted()
    }

    /// Whether the input's marks saw nothing since it was staged. Under `condition`: a watch is read by one thread at a time.
    private func quiet(_ files: Files) -> Bool {
        files.watch?.isQuiet ?? false
    }

    /// The input's files whose stamps are not as staged (`lstat`s on all cores: a data folder may have a million).
    private func changed(_ files: Files) -> [String] {
        let chunk = 4096
        let parts = (try? parallelMap((files.paths.count + chunk - 1) / chunk) { part -> [String] in
            let range = (part * chunk)..<min(files.paths.count, (part + 1) * chunk)
            let prefix = root + "/" + files.base
            return range.compactMap { i in Self.stamp(prefix + files.paths[i]) != files.stamps[i] ? files.base + files.paths[i] : nil }
        }) ?? []
        return parts.flatMap { $0 }
    }

    /// A new staging of the input at `folder` with these stamps, watched when it is large: the marks are
    /// set first, then every stamp is checked again, so a change before the marks existed is not missed
    /// (one found leaves the input to its stamps).
    private func staged(_ paths: [String], _ stamps: [FileStamp?], folder: String, base: String = "") -> Files {
        condition.lock()
        generations += 1
        var files = Files(generation: generations, base: base, paths: paths, stamps: stamps, watch: nil)
        let watching = paths.count >= Self.watchedFiles && watches < Self.maximumWatches && Self.isFolder(root + "/" + folder)
        if watching { watches += 1 }
        condition.unlock()
        guard watching else { return files }
        if let watch = FolderWatch(), watch.arm(folders: [root + "/" + folder]), changed(files).isEmpty {
            files.watch = watch
        } else {
            condition.withLock { watches -= 1 }
        }
        return files
    }

    private static func isFolder(_ path: String) -> Bool {
        var s = stat()
        return lstat(path, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR
    }

    /// Gives back the marks of a staging that is being replaced. Under `condition`.
    private func release(_ files: Files) {
        guard let watch = files.watch else { return }
        watch.disarm()
        watches -= 1
    }

    // MARK: - Staging

    private func write(_ path: String, from source: Source, previous: Files?) throws {
        // A committed symlink as a parent folder must not make staging write or delete outside the workspace.
        let target = try ContainedPath.prepare(path, under: root, create: true)
        switch source {
        case .checkout:
            for file in previous.map(changed) ?? [] { try restoreTracked(file) }
        case let .cache(digest):
            try store.materialize(digest, at: target, access: .readOnly)
        case let .data(sourcePath, digest):
            try replace(target) { temporary in
                let actual = try Self.copyVerifying(sourcePath, to: temporary)
                guard actual == digest else {
                    throw PlumbError("\(path) changed after it was planned (planned sha256 \(digest.short), now \(actual.short))",
                                     hint: "reconcile again once the data stays put; a run uses the data its plan identified")
                }
            }
        case let .lfs(file, object):
            guard access(object, F_OK) == 0 else {
                throw PlumbError("\(path) is stored in Git LFS and its content is not in this clone (\(object))",
                                 hint: "run `git lfs fetch` (or `git lfs pull`) in the repository, then reconcile again")
            }
            try replace(target) { temporary in
                let actual = try Self.copyFile(object, to: temporary, mode: file.executable ? 0o555 : 0o444)
                guard actual == file.pointer.oid else {
                    throw PlumbError("the Git LFS object of \(path) does not match its pointer (sha256 \(actual.short), the pointer says \(file.pointer.oid.short))",
                                     hint: "remove \(object) and run `git lfs fetch` (or `git lfs pull`) to download it again")
                }
            }
        }
    }

    /// Stages the untracked data folder at `sourcePath` as `path` from its kept copy (`KeptInputs`), synced
    /// to the plan's digest (`StagedCopy`): taken back out of the workspace into its slot when staged
    /// `again` in this run (a stage changed it), synced there, out of the stages' way, recorded, and renamed
    /// into place. Returns the stamps of its files and links. With no record of the plan's walk that gives
    /// `digest` (a plan made elsewhere), the folder is copied in full and hashed, and no copy is kept.
    private func sync(_ path: String, from sourcePath: String, digest: Digest, kept: KeptInputs, again: Bool) throws
        -> (base: String, paths: [String], stamps: [FileStamp?]) {
        let target = try ContainedPath.prepare(path, under: root, create: true)
        guard let manifest = digester.recordedManifest(ofDirectory: sourcePath, digest: digest) else {
            try? Repository.removeTree(kept.slot(of: path))
            try write(path, from: .data(path: sourcePath, digest: digest), previous: nil)
            let (paths, stamps) = try protect(path, only: nil, tracked: false)
            return ("", paths, stamps)
        }
        let copy = kept.copy(of: path)
        try FileManager.default.createDirectory(atPath: kept.slot(of: path), withIntermediateDirectories: true)
        var s = stat()
        if lstat(copy, &s) == 0, (s.st_mode & S_IFMT) != S_IFDIR { try? Repository.removeTree(copy) }
        if lstat(copy, &s) != 0 {
            // Staged earlier in this run and changed since by a stage: synced like a kept copy. (Only then: what
            // else is at `target` is not this copy, say a folder of another data dep's copy around it.)
            if !(again && lstat(target, &s) == 0 && (s.st_mode & S_IFMT) == S_IFDIR && rename(target, copy) == 0) {
                guard mkdir(copy, 0o755) == 0 else { throw PlumbError("cannot create folder \(copy): \(errnoText())") }
            }
        }
        let record = Trace.measure("staging \(path): record read") { kept.record(of: path) }
        let synced = try Trace.measure("staging \(path): sync") { try StagedCopy.sync(copy, from: sourcePath, manifest: manifest, digest: digest, record: record) }
        // What the copy now holds, whatever the check below finds: only files with these stamps are trusted next time.
        try Trace.measure("staging \(path): record written (\(synced.copied) copied, \(synced.removed) removed)") {
            try kept.write(StagedCopyRecord.encode(path: path, digest: synced.digest, files: synced.files), of: path)
        }
        guard synced.digest == digest else {
            throw PlumbError("\(path) changed after it was planned (planned sha256 \(digest.short), now \(synced.digest.short))",
                             hint: "reconcile again once the data stays put; a run uses the data its plan identified")
        }
        try? Repository.removeTree(target)
        guard rename(copy, target) == 0 else { throw PlumbError("cannot move \(copy) to \(target): \(errnoText())") }
        return (path + "/", synced.paths, synced.stamps)
    }

    /// Rewrites one tracked file from the commit's blob (a file a stage changed in place).
    private func restoreTracked(_ file: String) throws {
        let target = root + "/" + file
        let (entry, content): (TreeEntry?, Data?) = try gitLock.withLock {
            guard let entry = try checkout.entry(at: file, in: commit), entry.kind == .blob else { return (nil, nil) }
            return (entry, try checkout.blob(entry.id))
        }
        guard let entry, let content else { return }
        try replace(target) { temporary in
            if entry.mode == 0o120000 {
                guard symlink(String(decoding: content, as: UTF8.self), temporary) == 0 else {
                    throw PlumbError("cannot create link \(temporary): \(errnoText())")
                }
            } else {
                let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
                guard fd >= 0 else { throw PlumbError("cannot create \(temporary): \(errnoText())") }
                defer { close(fd) }
                try AtomicFile.writeAll(fd, content, path: temporary)
                fchmod(fd, entry.mode == 0o100755 ? 0o755 : 0o644)
            }
        }
    }

    /// Builds the new content at a temporary path beside `target` and renames it over `target`.
    private func replace(_ target: String, _ build: (String) throws -> Void) throws {
        let parent = (target as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let temporary = parent + "/.plumb-stage-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        do {
            try build(temporary)
            var s = stat()
            if lstat(target, &s) == 0, (s.st_mode & S_IFMT) == S_IFDIR { try FileManager.default.removeItem(atPath: target) }
            guard rename(temporary, target) == 0 else { throw PlumbError("cannot move \(temporary) to \(target): \(errnoText())") }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    /// Copies a file or a folder (read-only), returning the digest of what was copied, as
    /// `ContentDigester` computes it for the original.
    static func copyVerifying(_ source: String, to destination: String) throws -> Digest {
        var s = stat()
        guard stat(source, &s) == 0 else { throw PlumbError("\(source) does not exist") }
        switch s.st_mode & S_IFMT {
        case S_IFREG:
            return try copyFile(source, to: destination, mode: s.st_mode & 0o555)
        case S_IFDIR:
            let scanned = try ContentDigester.scan(directory: source)
            try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: false)
            for folder in Set(scanned.map { ($0.relativePath as NSString).deletingLastPathComponent }) where !folder.isEmpty {
                try FileManager.default.createDirectory(atPath: destination + "/" + folder, withIntermediateDirectories: true)
            }
            for e in scanned {
                if let link = e.symlinkTarget, symlink(link, destination + "/" + e.relativePath) != 0 {
                    throw PlumbError("cannot create link \(destination)/\(e.relativePath): \(errnoText())")
                }
            }
            let files = scanned.filter { $0.symlinkTarget == nil }
            let digests = try parallelMap(files.count) { i in
                try copyFile(files[i].absolutePath, to: destination + "/" + files[i].relativePath, mode: files[i].executable ? 0o555 : 0o444)
            }
            return ContentDigester.manifest(of: scanned, fileDigests: digests).digest
        default:
            throw PlumbError("\(source) is neither a file nor a directory")
        }
    }

    /// Copies one file to a new `destination` with `mode`, returning the SHA-256 of the copy: a reflink
    /// (FICLONE: shared blocks, copy-on-write, so a write to either never reaches the other) read once to
    /// hash it, or else a copy hashed as it is written.
    static func copyFile(_ source: String, to destination: String, mode: mode_t) throws -> Digest {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw PlumbError("cannot read \(source): \(errnoText())") }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard output >= 0 else { throw PlumbError("cannot create \(destination): \(errnoText())") }
        var closed = false
        defer { if !closed { close(output) } }
        let digest: Digest
        if ioctl(output, ficlone, input) == 0 {
            close(output); closed = true
            digest = try SHA256Hasher.digest(fileAt: destination)
        } else {
            digest = try Cache.copyHashing(from: input, to: output, path: source)
        }
        guard chmod(destination, mode) == 0 else { throw PlumbError("cannot set the mode of \(destination): \(errnoText())") }
        return digest
    }

    /// `FICLONE` from <linux/fs.h>: `_IOW(0x94, 9, int)`.
    private static let ficlone: UInt = 0x4004_9409

    // MARK: - Protection

    /// Removes the write bits of the input's regular files (never following a link) and returns the
    /// stamps of its files, taken after that (chmod changes ctime). `only` limits it to those files; a
    /// `tracked` folder leaves out its Git LFS files and any declared output inside it.
    private func protect(_ path: String, only: Set<String>?, tracked: Bool) throws -> (paths: [String], stamps: [FileStamp?]) {
        let absolute = root + "/" + path
        var s = stat()
        guard lstat(absolute, &s) == 0 else { return ([], []) }
        var files: [String] = []
        if let only {
            files = only.sorted()
        } else if (s.st_mode & S_IFMT) == S_IFDIR {
            files = try ContentDigester.scan(directory: absolute).map { path + "/" + $0.relativePath }
            if tracked { files = files.filter { !lfsPaths.contains($0) && producers.producer(of: $0) == nil } }
        } else {
            files = [path]
        }
        var kept: [String] = []
        var stamps: [FileStamp?] = []
        kept.reserveCapacity(files.count)
        stamps.reserveCapacity(files.count)
        for file in files {
            let full = root + "/" + file
            var f = stat()
            guard lstat(full, &f) == 0 else { continue }
            if (f.st_mode & S_IFMT) == S_IFREG, f.st_mode & 0o222 != 0 {
                guard chmod(full, f.st_mode & 0o555) == 0 else { throw PlumbError("cannot make \(full) read-only: \(errnoText())") }
            }
            guard let stamp = Self.stamp(full) else { continue }
            kept.append(file)
            stamps.append(stamp)
        }
        return (kept, stamps)
    }

    /// The stamp of the file or link at `path` itself (a link is not followed), nil when absent.
    ///
    /// A file with other hard links (an input that is its cache object) gets a new ctime whenever a link
    /// to it is made or removed anywhere (another workspace taking the same object), so its stamp keeps
    /// its write bits instead of its ctime: without one no stage can write it (the cache links only for
    /// processes that cannot write read-only files), and a chmod to get one shows.
    static func stamp(_ path: String) -> FileStamp? {
        var s = stat()
        guard lstat(path, &s) == 0 else { return nil }
        guard (s.st_mode & S_IFMT) == S_IFREG, s.st_nlink > 1 else { return FileStamp(s) }
        return FileStamp(s).keepingWriteBits(of: s.st_mode)
    }
}
