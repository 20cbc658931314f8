import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct RemoteSyncTests {
    /// A push to a local remote is a compare-and-swap against the tip last fetched: a push based on
    /// a stale tip is refused rather than written over the other writer's commit.
    @Test func aPushBasedOnAStaleTipIsRefusedNotWrittenOver() throws {
        let origin = try ScratchRepository(bare: true)
        let seed = try ScratchRepository()
        try seed.write("spec/a.txt", "one\n")
        try seed.commit("first")
        try seed.repository.addRemote(name: "origin", url: origin.root)
        #expect(try RemoteSync(repository: seed.repository).pushOnce(branch: "main") == .pushed)
        let a = try ScratchClone(of: origin.root)
        let b = try ScratchClone(of: "file://" + origin.root)

        try b.write("history/staging/state.json", "{}\n")
        let theirs = try b.commit("b's record")
        #expect(try RemoteSync(repository: b.repository).pushOnce(branch: "main") == .pushed)

        // a has not fetched since: its push must not replace b's commit.
        try a.write("history/dev/state.json", "{}\n")
        try a.commit("a's record")
        guard case .rejected = try RemoteSync(repository: a.repository).pushOnce(branch: "main") else {
            Issue.record("a stale push was not refused"); return
        }
        #expect(try origin.repository.referenceTarget("refs/heads/main") == theirs)
        // No temporary refs are left behind on the remote.
        let incoming = (try? FileManager.default.contentsOfDirectory(atPath: origin.root + "/refs/plumb/incoming")) ?? []
        #expect(incoming.isEmpty)

        // The full push fetches, re-makes a's record on b's tip, and lands both.
        try RemoteSync(repository: a.repository).push(branch: "main", ownedPaths: ["history/dev"])
        let tip = try origin.repository.referenceTarget("refs/heads/main")
        #expect(try origin.repository.isAncestor(theirs, of: tip))
        #expect(try origin.repository.file(at: "history/dev/state.json", in: tip) != nil)
        #expect(try origin.repository.file(at: "history/staging/state.json", in: tip) != nil)
    }
}
