import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Every file under `folder`, with its content, for grepping.
func filesUnder(_ folder: String) -> [(path: String, data: Data)] {
    guard let walker = FileManager.default.enumerator(atPath: folder) else { return [] }
    var out: [(String, Data)] = []
    for case let path as String in walker {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: folder + "/" + path, isDirectory: &isDirectory), !isDirectory.boolValue,
           let data = FileManager.default.contents(atPath: folder + "/" + path) { out.append((path, data)) }
    }
    return out
}

/// A server on 127.0.0.1 that answers every request with 401, so git asks for credentials (nil without python3).
final class RefusingHTTPServer {
    let process = Process()
    let port: Int

    init?() throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import http.server
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(401); self.send_header('WWW-Authenticate', 'Basic realm="plumb"')
                    self.send_header('Content-Length', '0'); self.end_headers()
                do_POST = do_GET
                def log_message(self, *a): pass
            s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """]
        let output = Pipe()
        process.standardOutput = output
        do { try process.run() } catch { return nil }
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        guard let port = Int(line.trimmingCharacters(in: .whitespacesAndNewlines)) else { kill(process.processIdentifier, SIGKILL); return nil }
        self.port = port
    }

    deinit { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
}

@Suite struct HostileSecretTests {
    static func randomHex() -> String { UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "") }

    /// A stage that prints its secrets every way it can, and fails so that its log's tail goes into
    /// the committed record; a deploy stage whose probe prints one too. Then the secrets are looked for
    /// in everything Plumb printed, in `git log -p --all` of the repository and of the remote it pushed
    /// to, and in every file under .plumb/ (the cache, logs included). Today the PEM key's lines (a
    /// multi-line value never matched a line) and the probe's output (not redacted at all) leak.
    @Test func hostileStagesNeverGetASecretIntoHistoryTheRemoteTheCacheOrOutput() throws {
        let token = "tok" + Self.randomHex()
        let pemLines = [Self.randomHex() + Self.randomHex(), Self.randomHex() + Self.randomHex(), Self.randomHex()]
        let pem = "-----BEGIN PRIVATE KEY-----\n" + pemLines.joined(separator: "\n") + "\n-----END PRIVATE KEY-----\n"
        let plumbToken = "ghp" + Self.randomHex()
        let filler = String(repeating: "x", count: 100)
        let script = """
        env | sort
        # One line of 2 MB with the token every 136 bytes: flushed in pieces, some cut through a token.
        i=0; while [ $i -lt 16000 ]; do printf '%s%s' '\(filler)' "$API_TOKEN"; i=$((i+1)); done; echo
        echo "plain: $API_TOKEN"
        echo "to stderr: $API_TOKEN" >&2
        half=$(printf %s "$API_TOKEN" | cut -c1-17); rest=$(printf %s "$API_TOKEN" | cut -c18-)
        printf 'split across writes: %s' "$half"; sleep 0.3; printf '%s\\n' "$rest"
        printf 'carriage return: %s\\r\\n' "$API_TOKEN"
        printf 'json: {"t": "%s"}\\n' "$API_TOKEN"
        printf 'pem:\\n%s\\n' "$PEM_KEY"
        echo "last words: $API_TOKEN"
        exit 1

        """
        let origin = try ScratchRepository(bare: true)
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          loud:
            cmd: sh spec/loud.sh
            deps: [spec/loud.sh]
            secrets: [API_TOKEN, PEM_KEY]
          deploy:
            cmd: echo "deploying with $API_TOKEN"; mkdir -p build && echo ok > build/deployed.txt
            secrets: [API_TOKEN]
            outs: [build/deployed.txt]
            check: echo "probe sees $API_TOKEN"; exit 1
        """, files: ["spec/loud.sh": script])
        try h.repository.addRemote(name: "origin", url: origin.root)
        let environment = ["API_TOKEN": token, "PEM_KEY": pem, "PLUMB_GIT_TOKEN": plumbToken]
        // Output goes to files (measuredPlumb): a leaking tail of megabytes on stderr must not stall
        // a runner that reads stdout to its end first.
        func plumb(_ arguments: String...) throws -> String {
            let r = try measuredPlumb(arguments, in: h.root, environment: environment)
            return "$ plumb \(arguments.joined(separator: " ")) → \(r.status)\n\(r.stdout)\n\(r.stderr)"
        }

        var printed: [String] = []
        printed.append(try plumb("reconcile", "--verbose", "--push"))
        let firstRun = try #require(try h.state()?.lastRun)
        #expect(try h.state()?.stages["loud"]?.status == .failed)
        #expect(try h.state()?.stages["deploy"]?.status == .succeeded)
        // The probe fails (drift): reconcile runs deploy again, with the probe's words as the reason.
        printed.append(try plumb("reconcile", "--json", "--push"))
        let secondRun = try #require(try h.state()?.lastRun)
        #expect(secondRun != firstRun)
        let record = try #require(try RunRecord.read(secondRun, environment: EnvironmentSpec.implicitName, at: try h.scratch.head, in: h.repository))
        #expect(record.stages["deploy"]?.reasons.contains("drifted: probe sees ***") == true, "\(record.stages["deploy"]?.reasons ?? [])")
        let tail = try #require(record.stages["loud"]?.logTail)
        #expect(tail.contains("last words: ***") && tail.contains("split across writes: ***"), "\(tail)")
        for run in [firstRun, secondRun] {
            printed.append(try plumb("logs", run, "loud"))
            printed.append(try plumb("logs", run, "loud", "--json"))
            printed.append(try plumb("show", run))
            printed.append(try plumb("show", run, "--json"))
        }
        printed.append(try plumb("status", "--check"))
        printed.append(try plumb("status", "--check", "--json"))
        printed.append(try plumb("plan", "--refresh"))
        printed.append(try plumb("plan", "--refresh", "--json"))
        printed.append(try plumb("history", "--json"))
        #expect(printed[0].contains("loud │ plain: ***"), "the log streamed: \(printed[0].prefix(2000))")
        #expect(printed.contains { $0.contains("probe sees ***") }, "status shows the probe's line, masked")

        // Anything that is a piece of a secret: 12-character windows of the token (a token cut in two
        // leaves one piece of 17 or more), the key's lines, Plumb's own token.
        let tokenBytes = Array(token)
        let needles = Set((0...(tokenBytes.count - 12)).map { String(tokenBytes[$0..<($0 + 12)]) } + pemLines + [plumbToken])
        func leaks(_ text: String) -> [String] { needles.filter { text.contains($0) }.sorted() }

        for text in printed { #expect(leaks(text) == [], "\(text.prefix(3000))") }
        for repository in [h.root, origin.root] {
            let log = try runProcess("/usr/bin/git", ["log", "-p", "--all"], in: repository)
            #expect(log.status == 0, "\(log.stderr)")
            #expect(log.stdout.contains("last words: ***"), "the failed run's tail is in \(repository)'s history")
            #expect(leaks(log.stdout) == [], "git log -p --all of \(repository)")
        }
        let plumbFiles = filesUnder(h.root + "/.plumb")
        #expect(plumbFiles.contains { String(decoding: $0.data, as: UTF8.self).contains("json: {\"t\": \"***\"}") },
                "the full log is in the cache")
        for file in plumbFiles {
            #expect(leaks(String(decoding: file.data, as: UTF8.self)) == [], ".plumb/\(file.path)")
        }
    }

    /// `https://user:token@host/…` in a remote's URL: libgit2 reports the URL in its errors, and
    /// Plumb used to print it whole.
    @Test func aPasswordInARemoteURLIsNeverPrinted() throws {
        guard let server = try RefusingHTTPServer() else { return }  // no python3: nothing to test against
        let password = "urlpass" + Self.randomHex()
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          build:
            cmd: mkdir -p build && echo ok > build/out.txt
            outs: [build/out.txt]
        """)
        try h.repository.addRemote(name: "origin", url: "http://bot:\(password)@127.0.0.1:\(server.port)/repo.git")
        for arguments in [["reconcile", "--push"], ["reconcile", "--pull"], ["reconcile", "--pull", "--json"]] {
            for token in ["", "a-wrong-token"] {
                let r = try runProcess(plumbExecutable(), arguments, in: h.root, environment: ["PLUMB_GIT_TOKEN": token])
                #expect(r.status != 0, "the server refuses everyone")
                #expect(!(r.stdout + r.stderr).contains(password), "\(arguments): \(r.stderr)")
                #expect((r.stdout + r.stderr).contains("http://bot:***@127.0.0.1"), "the URL is still named: \(r.stderr)")
            }
        }
    }

    /// The redactor's rules, one by one.
    @Test func theRedactorMasksEveryFormOfASecret() {
        let r = Redactor(secrets: ["s3cr3t", "with \"quote\"", "line-one-of-key\nline-two-of-key\n==\n", "  padded\n"])
        #expect(r.redact("a s3cr3t b") == "a *** b")
        #expect(r.redact("{\"v\": \"with \\\"quote\\\"\"}") == "{\"v\": \"***\"}")
        #expect(r.redact("line-one-of-key") == "***" && r.redact("x line-two-of-key y") == "x *** y")
        #expect(r.redact("a == b") == "a == b", "a short line of a multi-line secret alone is not masked")
        #expect(r.redact("value=padded.") == "value=***.")
        #expect(Redactor(secrets: ["0", "ab"]).redact("{\"n\": 10, \"s\": \"ab\"}") == "{\"n\": 10, \"s\": \"ab\"}",
                "too short to be secret; masking would break JSON")
        #expect(Redactor.removingURLCredentials("push to https://bot:tok3n@github.com/o/r.git failed")
                == "push to https://bot:***@github.com/o/r.git failed")
        #expect(Redactor.removingURLCredentials("https://ghp_abc@github.com/o/r") == "https://***@github.com/o/r")
        #expect(Redactor.removingURLCredentials("ssh://git@host/r and git@host:r") == "ssh://git@host/r and git@host:r")
        // Split across two pieces of a long line: the first piece stops short of it.
        let short = Redactor(secrets: ["s3cr3t"])
        let bytes = Array("xxxxs3c".utf8)
        let (first, consumed) = short.redact(bytes[...], final: false)
        #expect(String(decoding: first, as: UTF8.self) == "xx" && consumed == 2)
        let (rest, _) = short.redact((bytes[consumed...] + Array("r3t".utf8))[...], final: true)
        #expect(String(decoding: rest, as: UTF8.self) == "xx***")
    }
}
