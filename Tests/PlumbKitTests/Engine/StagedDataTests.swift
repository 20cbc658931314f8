import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine

/// Issue 18 (E2): an untracked data folder's staged copy is kept between runs and synced, so a reconcile
/// after one changed data file copies that file, not the folder; and it stays as safe as a fresh copy.
@Suite struct StagedDataTests {
    @Test func aKeptCopyIsReusedAfterOneSourceFileChangedAndOnlyThatFileIsCopied() throws {
        let h = try dataHarness(files: 40)
        try expectRun(h, concatenation: try sourceConcatenation(h))
        let before = try inodes(copyIn: h)
        #expect(before.count == 40)

        try h.scratch.write("data/b/f07.txt", "changed\n")
        try expectRun(h, concatenation: try sourceConcatenation(h))
        let after = try inodes(copyIn: h)
        #expect(Set(after.keys) == Set(before.keys))
        for (path, inode) in before where path != "b/f07.txt" {
            #expect(after[path] == inode, "\(path) was copied again though neither it nor its copy changed")
        }
        #expect(after["b/f07.txt"] != before["b/f07.txt"], "the changed file kept its old copy")
        #expect(try read(copyIn: h, "b/f07.txt") == "changed\n")
        #expect(try mode(copyIn: h, "b/f07.txt") & 0o222 == 0, "the new copy is writable")
    }

    @Test func filesRemovedAndAddedInTheSourceAreRemovedAndAddedInTheCopy() throws {
        let h = try dataHarness(files: 40)
        try expectRun(h, concatenation: try sourceConcatenation(h))
        let before = try inodes(copyIn: h)

        try h.scratch.remove("data/a/f03.txt")
        try h.scratch.remove("data/c")
        try h.scratch.write("data/d/new.txt", "new\n", executable: true)
        #expect(symlink("a/f01.txt", h.root + "/data/link") == 0)
        try expectRun(h, concatenation: try sourceConcatenation(h))
        let after = try inodes(copyIn: h)
        #expect(after["a/f03.txt"] == nil && after.keys.allSatisfy { !$0.hasPrefix("c/") })
        #expect(!FileManager.default.fileExists(atPath: try copyRoot(h) + "/c"), "a folder only removed files needed stayed")
        #expect(try mode(copyIn: h, "d/new.txt") == 0o555)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: try copyRoot(h) + "/link") == "a/f01.txt")
        for (path, inode) in after where before[path] != nil { #expect(inode == before[path], "\(path)") }
    }

    @Test func aKeptCopyTamperedWithBetweenRunsIsDetectedAndCopiedAgain() throws {
        let h = try dataHarness(files: 40)
        try expectRun(h, concatenation: try sourceConcatenation(h))
        // Made writable, rewritten with the same size, its mtime and mode put back: only ctime tells.
        let tampered = try copyRoot(h) + "/a/f02.txt"
        var was = stat()
        #expect(lstat(tampered, &was) == 0)
        #expect(chmod(tampered, 0o644) == 0)
        let original = try String(contentsOfFile: tampered, encoding: .utf8)
        try Data(String(repeating: "E", count: original.utf8.count).utf8).write(to: URL(fileURLWithPath: tampered))
        var times = [was.st_atim, was.st_mtim]
        #expect(utimensat(AT_FDCWD, tampered, &times, 0) == 0)
        #expect(chmod(tampered, 0o444) == 0)

        try h.scratch.write("data/b/f05.txt", "another change\n")
        try expectRun(h, concatenation: try sourceConcatenation(h))
        #expect(try read(copyIn: h, "a/f02.txt") == original, "the tampered copy reached the stage")
    }

    @Test(arguments: ["truncated", "one byte flipped", "empty", "another path's"])
    func aCorruptRecordIsDiscardedAndTheFolderCopiedInFull(_ damage: String) throws {
        let h = try dataHarness(files: 20)
        try expectRun(h, concatenation: try sourceConcatenation(h))
        let before = try inodes(copyIn: h)
        let record = try recordFile(h)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: record)))
        switch damage {
        case "truncated": bytes.removeLast(bytes.count / 3)
        case "one byte flipped": bytes[bytes.count / 2] ^= 0x20
        case "empty": bytes = []
        default:
            let other = try #require(StagedCopyRecord(Data(bytes), path: "data"))
            bytes = [UInt8](StagedCopyRecord.encode(path: "elsewhere", digest: other.digest, files: other.files))
        }
        try Data(bytes).write(to: URL(fileURLWithPath: record))

        try h.scratch.write("data/a/f01.txt", "changed\n")
        try expectRun(h, concatenation: try sourceConcatenation(h))
        let after = try inodes(copyIn: h)
        for (path, inode) in before { #expect(after[path] != inode, "\(damage): \(path) was trusted through a bad record") }
        #expect(StagedCopyRecord(try Data(contentsOf: URL(fileURLWithPath: try recordFile(h))), path: "data") != nil,
                "\(damage): no sound record was written again")
    }

    /// Below and above the size from which an input is watched by inotify marks instead of its stamps.
    @Test(arguments: [12, WorkspaceInputs.watchedFiles + 40])
    func aStageThatWritesIntoItsDataInputStillFails(_ count: Int) throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          a-careless:
            cmd: chmod u+w data/a/f01.txt; echo evil >> data/a/f01.txt; mkdir -p build && echo done > build/careless.txt
            deps: [data]
            outs: [build/careless.txt]
          b-reader:
            cmd: mkdir -p build && cat data/a/f01.txt > build/reader.txt
            deps: [data]
            outs: [build/reader.txt]
        """, files: [".gitignore": ".plumb/\ndata/\n"])
        try writeData(h, files: count)
        let original = try h.scratch.read("data/a/f01.txt")
        let outcome = try h.reconcile(jobs: 1)
        let careless = try #require(outcome.result?.outcomes["a-careless"])
        #expect(careless.status == .failed, "\(count) files")
        #expect((careless.logTail ?? "").contains("data/a/f01.txt"), "\(careless.logTail ?? "")")
        #expect(try h.scratch.read("data/a/f01.txt") == original, "the stage wrote into the user's file")
        // The stage after it (one job: in name order) reads the data as planned: staged again, not as the
        // careless stage left it.
        let reader = try #require(outcome.result?.outcomes["b-reader"])
        #expect(reader.status == .succeeded, "\(reader.logTail ?? "")")
        #expect(reader.outputs["build/reader.txt"] == SHA256Hasher.digest(original))
    }

    @Test func aDataDepThatBecomesTrackedDropsItsKeptCopy() throws {
        let h = try dataHarness(files: 20)
        try expectRun(h, concatenation: try sourceConcatenation(h))
        let slots = try FileManager.default.contentsOfDirectory(atPath: try keptFolder(h))
        #expect(slots.count == 1)

        try h.scratch.write("data/a/f01.txt", "tracked now\n")
        try h.scratch.write(".gitignore", ".plumb/\n")
        try h.scratch.commit("track the data")
        try expectRun(h, concatenation: try sourceConcatenation(h))
        #expect(try FileManager.default.contentsOfDirectory(atPath: try keptFolder(h)).isEmpty, "the kept copy of a tracked path stayed")
        #expect(try read(copyIn: h, "a/f01.txt") == "tracked now\n")
        #expect(try h.plan().stages.allSatisfy { $0.externalDeps.isEmpty })
    }

    /// Planned, then changed before the apply: the run uses the data its plan identified or fails, with a
    /// kept copy (the changed file is copied again) as without one (the first run copies everything).
    @Test(arguments: [false, true])
    func dataChangedAfterPlanningFailsTheStagesThatReadIt(_ keptCopy: Bool) throws {
        let h = try dataHarness(files: 20)
        if keptCopy {
            try expectRun(h, concatenation: try sourceConcatenation(h))
            try h.scratch.write("data/a/f01.txt", "planned\n")
        }
        let plan = try h.plan()
        try h.scratch.write("data/a/f01.txt", "after planning\n")
        let result = try Executor(project: try h.project(), plan: plan, options: .init(jobs: 1, runID: "changed-after-planning")).apply()
        let outcome = try #require(result.outcomes["concat"])
        #expect(outcome.status == .failed)
        #expect((outcome.logTail ?? "").contains("data changed after it was planned"), "\(outcome.logTail ?? "")")
    }

    /// What the sync trusts for the source: the entries the walk that gave a digest recorded, before and
    /// after the stat cache is saved, and nothing for a digest no walk gave.
    @Test func theRecordedManifestIsTheWalkedOneAndOnlyForItsDigest() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for (path, text) in ["data/a/x.txt": "x\n", "data/a/b/y.txt": "y\n", "data/z.sh": "z\n"] {
            try FileManager.default.createDirectory(atPath: (folder + "/" + path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: URL(fileURLWithPath: folder + "/" + path))
        }
        chmod(folder + "/data/z.sh", 0o755)
        #expect(symlink("a/x.txt", folder + "/data/link") == 0)
        let cache = StatCache(file: URL(fileURLWithPath: folder + "/stat-cache"), racyWindow: 2)
        let digester = ContentDigester(statCache: cache)
        let digest = try digester.digest(of: folder + "/data")
        let walked = try digester.manifest(ofDirectory: folder + "/data")
        #expect(digester.recordedManifest(ofDirectory: folder + "/data", digest: digest) == walked)
        #expect(digester.recordedManifest(ofDirectory: folder + "/data", digest: SHA256Hasher.digest("other")) == nil)
        try cache.save()
        #expect(digester.recordedManifest(ofDirectory: folder + "/data", digest: digest) == walked, "lost once saved")

        try Data("changed\n".utf8).write(to: URL(fileURLWithPath: folder + "/data/a/b/y.txt"))
        let again = try digester.digest(of: folder + "/data")
        #expect(again != digest)
        #expect(digester.recordedManifest(ofDirectory: folder + "/data", digest: again) == (try digester.manifest(ofDirectory: folder + "/data")))
        // The saved walk still tells what the folder held when it had the first digest: a true answer to that
        // question (the sync then hashes what it copies, so the folder as it is now decides the outcome).
        #expect(digester.recordedManifest(ofDirectory: folder + "/data", digest: digest) == walked)
    }

    @Test func theRecordRoundTripsAndRefusesWhatIsNotSound() throws {
        let stamp = FileStamp(device: 2049, inode: 77, size: 12, mtimeNanoseconds: 1_700_000_000_123_456_789, ctimeNanoseconds: -5)
        let files = [
            StagedCopyRecord.File(path: "a/b.txt", executable: false, stamp: stamp, digest: SHA256Hasher.digest("b")),
            StagedCopyRecord.File(path: "a/é.txt", executable: true, stamp: stamp, digest: SHA256Hasher.digest("é")),
            StagedCopyRecord.File(path: "z", executable: false, stamp: stamp, digest: SHA256Hasher.digest("z")),
        ]
        let data = StagedCopyRecord.encode(path: "data/raw", digest: SHA256Hasher.digest("manifest"), files: files)
        let record = try #require(StagedCopyRecord(data, path: "data/raw"))
        #expect(record.files == files && record.digest == SHA256Hasher.digest("manifest") && record.path == "data/raw")
        #expect(record.encoded() == data)
        #expect(StagedCopyRecord.path(in: data) == "data/raw")
        #expect(StagedCopyRecord(data, path: "data") == nil, "a record of another path")
        #expect(StagedCopyRecord(data.dropLast(), path: "data/raw") == nil)
        let cases: [(String, [StagedCopyRecord.File])] = [
            ("out of order", [files[2], files[0]]),
            ("repeated", [files[0], files[0]]),
            ("climbing out", [StagedCopyRecord.File(path: "../x", executable: false, stamp: stamp, digest: files[0].digest)]),
            ("absolute", [StagedCopyRecord.File(path: "/etc/passwd", executable: false, stamp: stamp, digest: files[0].digest)]),
            ("a dot part", [StagedCopyRecord.File(path: "a/./b", executable: false, stamp: stamp, digest: files[0].digest)]),
            ("an empty part", [StagedCopyRecord.File(path: "a//b", executable: false, stamp: stamp, digest: files[0].digest)]),
        ]
        for (name, bad) in cases {
            let encoded = StagedCopyRecord.encode(path: "data/raw", digest: record.digest, files: bad)
            #expect(StagedCopyRecord(encoded, path: "data/raw") == nil, "\(name)")
        }
    }
}

// MARK: - Fixtures

/// A stage that concatenates every file of the untracked folder `data/` (a, b, c, each with files).
private func dataHarness(files: Int) throws -> PipelineHarness {
    let h = try PipelineHarness(pipeline: """
    version: 1
    stages:
      concat:
        cmd: mkdir -p build && find data \\( -type f -o -type l \\) | LC_ALL=C sort | xargs cat > build/all.txt
        deps: [data]
        outs: [build/all.txt]
    """, files: [".gitignore": ".plumb/\ndata/\n"])
    try writeData(h, files: files)
    return h
}

private func writeData(_ h: PipelineHarness, files: Int) throws {
    for i in 0..<files {
        let folder = ["a", "b", "c"][i % 3]
        try h.scratch.write(String(format: "data/%@/f%02d.txt", folder, i / 3 + 1), "file \(i)\n")
    }
}

/// What the stage should write: the source's files and links (followed) in sorted order.
private func sourceConcatenation(_ h: PipelineHarness) throws -> Digest {
    let found = try runProcess("/bin/sh", ["-c", "find data \\( -type f -o -type l \\) | LC_ALL=C sort | xargs cat"], in: h.root)
    return SHA256Hasher.digest(found.stdout)
}

private func expectRun(_ h: PipelineHarness, concatenation: Digest, sourceLocation: Testing.SourceLocation = #_sourceLocation) throws {
    let outcome = try #require(try h.reconcile().result?.outcomes["concat"], sourceLocation: sourceLocation)
    #expect(outcome.status == .succeeded, "\(outcome.logTail ?? "")", sourceLocation: sourceLocation)
    #expect(outcome.outputs["build/all.txt"] == concatenation, "the stage did not read the data as it is", sourceLocation: sourceLocation)
}

private func copyRoot(_ h: PipelineHarness) throws -> String {
    try h.project().workspace(for: EnvironmentSpec.implicitName) + "/data"
}

private func keptFolder(_ h: PipelineHarness) throws -> String {
    try h.project().workspace(for: EnvironmentSpec.implicitName) + ".inputs"
}

private func recordFile(_ h: PipelineHarness) throws -> String {
    let folder = try keptFolder(h)
    let slots = try FileManager.default.contentsOfDirectory(atPath: folder)
    return folder + "/" + (try #require(slots.first)) + "/record"
}

/// The stamp (inode, size, mtime, ctime) of each regular file of the staged copy in the workspace, by
/// path relative to it: a file copied again has another one even when its new inode reuses the number.
private func inodes(copyIn h: PipelineHarness) throws -> [String: FileStamp] {
    let root = try copyRoot(h)
    var out: [String: FileStamp] = [:]
    for entry in try ContentDigester.scan(directory: root) where entry.symlinkTarget == nil {
        out[entry.relativePath] = WorkspaceInputs.stamp(entry.absolutePath)
    }
    return out
}

private func read(copyIn h: PipelineHarness, _ path: String) throws -> String {
    try String(contentsOfFile: try copyRoot(h) + "/" + path, encoding: .utf8)
}

private func mode(copyIn h: PipelineHarness, _ path: String) throws -> mode_t {
    var s = stat()
    guard lstat(try copyRoot(h) + "/" + path, &s) == 0 else { return 0 }
    return s.st_mode & 0o777
}
