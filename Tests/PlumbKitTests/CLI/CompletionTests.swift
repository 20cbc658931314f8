import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbCLI

/// `plumb completion bash|zsh|fish` and `plumb help --man` (issue 13, item 6): the scripts are
/// compared with Fixtures/completion/ (re-record with PLUMB_RECORD_GOLDEN=1), the bash one is
/// sourced in a real bash and asked for completions, and zsh and fish check their script's syntax
/// when they are installed.
@Suite struct CompletionTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/completion")

    static let outputs: [(arguments: [String], file: String)] = [
        (["completion", "bash"], "plumb.bash"), (["completion", "zsh"], "_plumb.zsh"),
        (["completion", "fish"], "plumb.fish"), (["help", "--man"], "plumb.1"),
    ]

    @Test(arguments: outputs.map(\.file)) func outputMatchesItsGoldenFile(_ file: String) throws {
        let arguments = Self.outputs.first { $0.file == file }!.arguments
        let run = try runProcess(plumbExecutable(), arguments, in: try temporaryFolder())
        #expect(run.status == 0 && run.stderr.isEmpty, "\(run.stderr)")
        let url = Self.fixtures.appendingPathComponent(file)
        if HelpGoldenTests.recording {
            try FileManager.default.createDirectory(at: Self.fixtures, withIntermediateDirectories: true)
            try Data(run.stdout.utf8).write(to: url)
            return
        }
        #expect(run.stdout == (try String(contentsOf: url, encoding: .utf8)),
                "plumb \(arguments.joined(separator: " ")) differs from Fixtures/completion/\(file) (PLUMB_RECORD_GOLDEN=1 re-records)")
    }

    @Test func everyCommandAndOptionIsInEveryScript() throws {
        let scripts = CompletionScript.Shell.allCases.map(CompletionScript.render)
        let man = ManPage.render()
        for command in PlumbCommands.all {
            for script in scripts + [man] { #expect(script.contains(command.name), "\(command.name)") }
            for name in command.arguments.flatMap(\.names) where name.hasPrefix("--") {
                for script in scripts { #expect(script.contains(String(name.dropFirst(2))), "\(command.name) \(name)") }
                #expect(man.contains(ManPage.escape(name)), "man: \(command.name) \(name)")
            }
        }
        #expect(!scripts.joined().contains(CompleteCommand.name + ")"), "the hidden command is not offered")
    }

    @Test func unknownShellIsAUsageErrorWithASuggestion() throws {
        let run = try runProcess(plumbExecutable(), ["completion", "bsh"], in: try temporaryFolder())
        #expect(run.status == 64 && run.stderr.contains("did you mean 'bash'?"), "\(run.stderr)")
    }

    /// A repository with two environments and three stages, in a folder named with a space.
    static func world() throws -> PipelineHarness {
        try PipelineHarness(pipeline: """
        version: 1
        stages:
          prepare:
            cmd: echo prepare >> $SIDE
          train:
            cmd: echo train >> $SIDE
            after: [prepare]
          evaluate:
            cmd: echo evaluate >> $SIDE
            after: [train]
        """, files: ["environments/dev.yaml": "{}\n", "environments/prod.yaml": "{}\n"])
    }

    /// What `_plumb` offers for `words` (the last one being completed), run in `directory`.
    static func bashCompletions(_ words: [String], in directory: String) throws -> [String] {
        let script = try runProcess(plumbExecutable(), ["completion", "bash"], in: directory).stdout
        let file = try temporaryFolder() + "/plumb.bash"
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        let quoted = words.map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let program = """
        source '\(file)'
        COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1); _plumb
        printf '%s\\n' "${COMPREPLY[@]}"
        """
        let bin = URL(fileURLWithPath: plumbExecutable()).deletingLastPathComponent().path
        let run = try runProcess("/bin/bash", ["--norc", "--noprofile", "-c", program], in: directory,
                                 environment: ["PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stderr.isEmpty, "\(run.stderr)")
        return run.stdout.split(separator: "\n").map(String.init)
    }

    @Test func bashCompletesCommandsOptionsEnvironmentsStagesAndChoices() throws {
        let h = try Self.world()
        let elsewhere = try temporaryFolder()
        func complete(_ words: String..., in directory: String? = nil) throws -> [String] {
            try Self.bashCompletions(words, in: directory ?? h.root)
        }
        #expect(try complete("plumb", "rec") == ["reconcile"])
        #expect(try complete("plumb", "p").sorted() == ["params", "plan", "plots", "promote", "pull", "push"])
        #expect(try complete("plumb", "--ver") == ["--verbose", "--version"])
        #expect(try complete("plumb", "reconcile", "--dry") == ["--dry-run"])
        #expect(try complete("plumb", "reconcile", "--env", "") == ["dev", "prod"])
        #expect(try complete("plumb", "-e", "p") == ["prod"])
        // Stages where an argument takes them; the repository -C names, from anywhere.
        #expect(try complete("plumb", "reconcile", "") == ["prepare", "train", "evaluate"])
        #expect(try complete("plumb", "-C", h.root, "reconcile", "--env", "dev", "t", in: elsewhere) == ["train"])
        #expect(try complete("plumb", "reconcile", "--force", "ev") == ["evaluate"])
        #expect(try complete("plumb", "promote", "dev", "") == ["dev", "prod"])
        // Fixed values from the command table.
        #expect(try complete("plumb", "graph", "--format", "") == ["text", "mermaid", "dot", "json"])
        #expect(try complete("plumb", "completion", "") == ["bash", "zsh", "fish"])
        #expect(try complete("plumb", "metrics", "d") == ["diff"])
        #expect(try complete("plumb", "plots", "") == ["show", "diff"])
        #expect(try complete("plumb", "help", "doc") == ["doctor"])
        // Outside a repository there is nothing to offer, and no error.
        #expect(try complete("plumb", "reconcile", "--env", "", in: elsewhere) == [])
    }

    @Test func hiddenCompleteListsEnvironmentsStagesAndRuns() throws {
        let h = try Self.world()
        #expect(try runProcess(plumbExecutable(), ["__complete", "environments"], in: h.root).stdout == "dev\nprod\n")
        #expect(try runProcess(plumbExecutable(), ["__complete", "stages"], in: h.root).stdout == "prepare\ntrain\nevaluate\n")
        let fanOut = try PipelineHarness(pipeline: "version: 1\nstages:\n  shard:\n    foreach: [a, b]\n    do:\n      cmd: echo ${item}\n")
        #expect(try runProcess(plumbExecutable(), ["__complete", "stages"], in: fanOut.root).stdout == "shard-a\nshard-b\nshard\n")
        #expect(try runProcess(plumbExecutable(), ["reconcile", "-q", "--env", "dev"], in: h.root).status == 0)
        let runs = try runProcess(plumbExecutable(), ["__complete", "runs", "--env", "dev"], in: h.root).stdout.split(separator: "\n")
        let run = try #require(try h.state("dev")?.lastRun)
        #expect(runs == ["latest", Substring(run)])
        #expect(!(try runProcess(plumbExecutable(), ["--help"], in: h.root).stdout.contains("__complete")))
    }

    @Test(arguments: ["zsh", "fish"]) func scriptIsValidSyntaxForItsShell(_ shell: String) throws {
        guard let path = ["/usr/bin/\(shell)", "/bin/\(shell)", "/usr/local/bin/\(shell)"].first(where: FileManager.default.isExecutableFile) else {
            return // Not installed here: nothing to check the syntax with (scripts/setup.sh does not install it).
        }
        let file = try temporaryFolder() + "/plumb.\(shell)"
        try CompletionScript.render(CompletionScript.Shell(rawValue: shell)!).write(toFile: file, atomically: true, encoding: .utf8)
        let run = try runProcess(path, ["-n", file], in: try temporaryFolder())
        #expect(run.status == 0, "\(shell) -n: \(run.stderr)")
    }

    /// fish, when installed, offers what the script says: its own completer is asked (`complete -C`).
    @Test func fishCompletesEnvironmentsAndStages() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/fish") else { return }
        let h = try Self.world()
        let file = try temporaryFolder() + "/plumb.fish"
        try CompletionScript.fish().write(toFile: file, atomically: true, encoding: .utf8)
        let bin = URL(fileURLWithPath: plumbExecutable()).deletingLastPathComponent().path
        func complete(_ line: String) throws -> [String] {
            let run = try runProcess("/usr/bin/fish", ["--no-config", "-c", "source \(file); complete -C '\(line)'"], in: h.root,
                                     environment: ["PATH": bin + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")])
            #expect(run.status == 0, "\(run.stderr)")
            return run.stdout.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
        }
        #expect(try complete("plumb rec") == ["reconcile"])
        #expect(try complete("plumb reconcile --env ").sorted() == ["dev", "prod"])
        #expect(try complete("plumb reconcile t").contains("train"))
        #expect(try complete("plumb graph --format ").sorted() == ["dot", "json", "mermaid", "text"])
    }

    @Test func manPageIsRoffWithEveryCommandAsASection() throws {
        let run = try runProcess(plumbExecutable(), ["help", "--man"], in: try temporaryFolder())
        #expect(run.stdout.hasPrefix(".TH PLUMB 1"))
        for command in PlumbCommands.all { #expect(run.stdout.contains(".SS \"plumb \(ManPage.escape(command.name))"), "\(command.name)") }
        // No line that roff would take for an unknown request.
        let requests = Set([".TH", ".SH", ".SS", ".TP", ".PP", ".B", ".nf", ".fi"])
        for line in run.stdout.split(separator: "\n") where line.hasPrefix(".") {
            #expect(requests.contains(String(line.split(separator: " ")[0])), "\(line)")
        }
        // groff reads it without a warning, when it is installed.
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/groff") {
            let file = try temporaryFolder() + "/plumb.1"
            try run.stdout.write(toFile: file, atomically: true, encoding: .utf8)
            let groff = try runProcess("/usr/bin/groff", ["-man", "-Tutf8", "-ww", "-z", file], in: try temporaryFolder())
            #expect(groff.status == 0 && groff.stderr.isEmpty, "\(groff.stderr)")
        }
    }
}
