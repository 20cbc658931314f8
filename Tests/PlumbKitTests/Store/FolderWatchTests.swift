import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbStore

/// inotify marks standing in for a walk: quiet only while nothing at all happened under the trees.
@Suite struct FolderWatchTests {
    func armed(_ folder: String) throws -> (FolderWatch, String) {
        let dir = folder + "/data"
        for f in 0..<3 { try put(dir, "part-\(f)/deep/file.txt", "\(f)\n") }
        let watch = try #require(FolderWatch())
        #expect(watch.arm(folders: [dir]))
        #expect(watch.isQuiet)
        return (watch, dir)
    }

    @Test func quietUntilSomethingDeepChangesThenQuietAgainOnceArmed() throws {
        let (watch, dir) = try armed(try temporaryFolder())
        _ = try Data(contentsOf: URL(fileURLWithPath: dir + "/part-1/deep/file.txt"))
        #expect(watch.isQuiet, "reading is not a change")
        try put(dir, "part-1/deep/file.txt", "changed\n")
        #expect(!watch.isQuiet)
        #expect(!watch.isQuiet, "stays disturbed until armed again")
        #expect(watch.arm(folders: [dir]))
        #expect(watch.isQuiet)
    }

    @Test func renamesModesNewFoldersAndAMovedRootAreChanges() throws {
        let folder = try temporaryFolder()
        let (watch, dir) = try armed(folder)
        try put(folder, "incoming", "x")
        #expect(rename(folder + "/incoming", dir + "/part-0/deep/file.txt") == 0)
        #expect(!watch.isQuiet)
        watch.arm(folders: [dir])
        chmod(dir + "/part-2/deep/file.txt", 0o755)
        #expect(!watch.isQuiet)
        watch.arm(folders: [dir])
        try FileManager.default.createDirectory(atPath: dir + "/part-0/deep/new", withIntermediateDirectories: false)
        #expect(!watch.isQuiet)
        watch.arm(folders: [dir])
        #expect(rename(dir, folder + "/old-data") == 0)
        #expect(!watch.isQuiet)
    }

    @Test func aMarkThatCannotBeSetIsNeverQuiet() throws {
        let folder = try temporaryFolder()
        let watch = try #require(FolderWatch())
        #expect(!watch.arm(folders: [folder + "/missing"]))
        #expect(!watch.isQuiet)
        watch.disarm()
        #expect(!watch.isQuiet)
    }

    @Test func anOverflowedQueueIsAChange() throws {
        let (watch, dir) = try armed(try temporaryFolder())
        let limit = (try? String(contentsOfFile: "/proc/sys/fs/inotify/max_queued_events", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 16384
        try #require(limit <= 100_000, "max_queued_events is too high to overflow in a test")
        // Each touch queues one attribute event on an unread queue; past the limit the kernel drops
        // events and queues IN_Q_OVERFLOW instead.
        // Two files in turn, since the kernel merges an event identical to the one queued last.
        let paths = [dir + "/part-0/deep/file.txt", dir + "/part-1/deep/file.txt"]
        for i in 0...(limit + 10) { utimensat(AT_FDCWD, paths[i % 2], nil, 0) }
        #expect(!watch.isQuiet)
    }
}
