import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct InitTests {
    @Test func initScaffoldsARunnablePipelineAndRefusesToOverwrite() throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let first = try runProcess(plumbExecutable(), ["init"], in: folder)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("Next steps"))
        let validate = try runProcess(plumbExecutable(), ["validate"], in: folder)
        #expect(validate.status == 0, "\(validate.stderr)")
        let repo = try Repository(discovering: folder)
        try repo.commitWorkingTree(message: "start", author: Signature(name: "T", email: "t@example.com"))
        let reconcile = try runProcess(plumbExecutable(), ["reconcile", "--env", "dev"], in: folder)
        #expect(reconcile.status == 0, "\(reconcile.stdout)\(reconcile.stderr)")
        #expect(FileManager.default.fileExists(atPath: folder + "/deployments/dev/model.txt"))
        let again = try runProcess(plumbExecutable(), ["init"], in: folder)
        #expect(again.status == 1)
        #expect(again.stderr.contains("refusing to overwrite spec/pipeline.yaml"))
        #expect(try String(contentsOfFile: folder + "/.gitignore", encoding: .utf8).contains(".plumb/"))
    }
}
