import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Issue 13, item 2: the global options work before or after the command name, as `git -C` and
/// `terraform -chdir` do, through the built binary on a real scratch repository.
@Suite struct GlobalOptionsTests {
    static let pipeline = """
    version: 1
    stages:
      build:
        cmd: mkdir -p build && echo $TARGET > build/out.txt
        outs: [build/out.txt]
    """

    /// A repository with environments dev and staging, and the folder around it, from where `-C`
    /// names it by a relative path.
    static func world() throws -> (harness: PipelineHarness, parent: String, name: String) {
        let h = try PipelineHarness(pipeline: pipeline, files: [
            "environments/dev.yaml": "env: {TARGET: dev}\n",
            "environments/staging.yaml": "env: {TARGET: staging}\n",
        ])
        let url = URL(fileURLWithPath: h.root)
        return (h, url.deletingLastPathComponent().path, url.lastPathComponent)
    }

    @Test func theSameCommandGivesTheSameOutputWhereverItsGlobalOptionsAre() throws {
        let (h, parent, name) = try Self.world()
        let cases: [(String, [String])] = [
            ("-C before", ["-C", name, "plan", "--env", "staging"]),
            ("-C after", ["plan", "--env", "staging", "-C", name]),
            ("--repo= before", ["--repo=\(name)", "plan", "--env", "staging"]),
            ("everything before", ["-C", name, "-e", "staging", "--no-color", "plan"]),
            ("--env= before, -C after", ["--env=staging", "plan", "-C", name]),
            ("same --env twice", ["-e", "staging", "-C", name, "plan", "--env", "staging"]),
        ]
        let want = try runProcess(plumbExecutable(), ["plan", "--env", "staging"], in: h.root)
        #expect(want.status == 0, "\(want.stderr)")
        #expect(want.stdout.contains("Plan for staging"), "\(want.stdout)")
        for (label, arguments) in cases {
            let got = try runProcess(plumbExecutable(), arguments, in: parent)
            #expect(got.status == 0, "\(label): \(got.stderr)")
            #expect(got.stdout == want.stdout, "\(label): \(got.stdout)")
        }
    }

    @Test func jsonQuietAndVerboseBeforeTheCommandAreTheCommandsOwn() throws {
        let (h, parent, name) = try Self.world()
        for flags in [["--json"], ["--quiet"], ["-q"], ["--verbose"]] {
            let after = try runProcess(plumbExecutable(), ["status"] + flags, in: h.root)
            let before = try runProcess(plumbExecutable(), flags + ["-C", name, "status"], in: parent)
            #expect(after.status == 0 && before.status == 0, "\(flags): \(after.stderr) \(before.stderr)")
            #expect(before.stdout == after.stdout, "\(flags)")
        }
        let json = try runProcess(plumbExecutable(), ["--json", "-C", name, "status"], in: parent)
        let decoded = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]]
        #expect(decoded?.compactMap { $0["environment"] as? String } == ["dev", "staging"], "\(json.stdout)")
        // -q drops the "drift: not checked" footer: the flag before the command took effect.
        let quiet = try runProcess(plumbExecutable(), ["-q", "-C", name, "status"], in: parent)
        #expect(!quiet.stdout.contains("drift: not checked"), "\(quiet.stdout)")
    }

    @Test func aRepositoryPathThatDoesNotExistIsAUsageErrorThatSaysSo() throws {
        let (h, parent, _) = try Self.world()
        for arguments in [["-C", "no-such-folder", "plan"], ["plan", "-C", "no-such-folder"], ["--repo=no-such-folder", "status"]] {
            let r = try runProcess(plumbExecutable(), arguments, in: parent)
            #expect(r.status == 64, "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains("no such directory 'no-such-folder' (relative to \(parent))"), "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains("hint:"), "\(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        let file = try runProcess(plumbExecutable(), ["-C", "spec/pipeline.yaml", "plan"], in: h.root)
        #expect(file.status == 64)
        #expect(file.stderr.contains("'spec/pipeline.yaml' is not a directory"), "\(file.stderr)")
        // Not even init creates the folder, as `git -C` would not; it says how.
        let initialise = try runProcess(plumbExecutable(), ["init", "-C", "no-such-folder"], in: parent)
        #expect(initialise.status == 64)
        #expect(initialise.stderr.contains("hint: create the folder first (mkdir -p no-such-folder)"), "\(initialise.stderr)")
        #expect(!FileManager.default.fileExists(atPath: parent + "/no-such-folder"))
    }

    @Test func envGivenTwiceWithDifferentValuesIsAUsageErrorWhereverTheyAre() throws {
        let (h, _, _) = try Self.world()
        let cases = [
            ["-e", "dev", "--env", "staging", "plan"],
            ["--env", "dev", "plan", "--env", "staging"],
            ["plan", "--env=dev", "-e", "staging"],
            ["-e", "dev", "reconcile", "-e", "staging"],
            ["-C", ".", "plan", "-C", "spec"],
        ]
        for arguments in cases {
            let r = try runProcess(plumbExecutable(), arguments, in: h.root)
            #expect(r.status == 64, "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains("given twice"), "\(arguments): \(r.stderr)")
        }
        // The refused reconcile ran nothing and recorded nothing.
        #expect(try h.ran().isEmpty)
        #expect(try h.commitCount() == 1)
    }

    @Test func aGlobalOptionTheCommandDoesNotTakeIsAUsageErrorNamingBoth() throws {
        let (h, _, _) = try Self.world()
        let status = try runProcess(plumbExecutable(), ["--env", "dev", "status"], in: h.root)
        #expect(status.status == 64)
        #expect(status.stderr.contains("'plumb status' takes no --env"), "\(status.stderr)")
        let unknown = try runProcess(plumbExecutable(), ["--jsno", "plan"], in: h.root)
        #expect(unknown.status == 64)
        #expect(unknown.stderr.contains("unknown global option '--jsno'") && unknown.stderr.contains("did you mean '--json'?"),
                "\(unknown.stderr)")
        let noValue = try runProcess(plumbExecutable(), ["-C"], in: h.root)
        #expect(noValue.status == 64)
        #expect(noValue.stderr.contains("-C needs a value"), "\(noValue.stderr)")
    }

    @Test func helpListsTheGlobalOptionsForPlumbAndForEachCommand() throws {
        let (h, _, _) = try Self.world()
        let top = try runProcess(plumbExecutable(), ["--help"], in: h.root)
        #expect(top.status == 0)
        #expect(top.stdout.contains("USAGE: plumb [global options] <command> [options]"))
        let section = try #require(top.stdout.components(separatedBy: "GLOBAL OPTIONS").last)
        for name in ["--repo, -C <PATH>", "--env, -e <NAME>", "--json", "--no-color", "--quiet, -q", "--verbose, -v"] {
            #expect(section.contains(name), "plumb --help lacks \(name)")
        }
        // Every command's own help still lists the global options it takes, and says they may come first.
        for command in PlumbCommands.all where command.arguments.contains(where: { $0.names.contains("--repo") }) {
            let r = try runProcess(plumbExecutable(), ["-C", ".", command.name, "--help"], in: h.root)
            #expect(r.status == 0, "\(command.name)")
            for name in ["--repo, -C <PATH>", "--json", "--no-color", "--quiet, -q", "--verbose, -v"] {
                #expect(r.stdout.contains(name), "plumb \(command.name) --help lacks \(name)")
            }
            #expect(r.stdout.contains("may also come before the command"), "plumb \(command.name) --help")
        }
    }
}
