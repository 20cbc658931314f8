import CGit2
import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

@Suite struct RemoteCredentialTests {
    /// Asks `session` for a credential as libgit2 would, returning its kind (nil when it gave up).
    func ask(_ session: RemoteSession, allowed: git_credential_t, username: String? = nil) -> git_credential_t? {
        var credential: UnsafeMutablePointer<git_credential>?
        let code = session.credential(&credential, url: session.url, username: username, allowed: allowed.rawValue)
        defer { if let credential { git_credential_free(credential) } }
        guard code == 0, let credential else { return nil }
        return credential.pointee.credtype
    }

    @Test func sshOffersTheAgentThenTheKeyFileThenGivesUpWithAReason() {
        let session = RemoteSession(url: "git@example.com:team/repo.git",
                                    environment: ["SSH_AUTH_SOCK": "/tmp/agent.sock", "PLUMB_SSH_KEY": "/keys/deploy"])
        #expect(ask(session, allowed: GIT_CREDENTIAL_USERNAME) == GIT_CREDENTIAL_USERNAME)
        #expect(ask(session, allowed: GIT_CREDENTIAL_SSH_KEY, username: "git") == GIT_CREDENTIAL_SSH_KEY)
        #expect(session.offered == ["the keys in ssh-agent"])
        #expect(ask(session, allowed: GIT_CREDENTIAL_SSH_KEY, username: "git") == GIT_CREDENTIAL_SSH_KEY)
        #expect(ask(session, allowed: GIT_CREDENTIAL_SSH_KEY, username: "git") == nil)
        #expect(session.authenticationFailure?.message ==
            "ssh authentication to git@example.com:team/repo.git failed: the server refused the keys in ssh-agent and the key /keys/deploy (PLUMB_SSH_KEY) for user 'git'")
    }

    @Test func sshWithoutAgentOrKeySaysWhatToSet() {
        let session = RemoteSession(url: "ssh://git@example.com/repo.git", environment: [:])
        #expect(ask(session, allowed: GIT_CREDENTIAL_SSH_KEY, username: "git") == nil)
        #expect(session.authenticationFailure?.message.contains("no ssh-agent is running (SSH_AUTH_SOCK) and PLUMB_SSH_KEY is not set") == true)
        #expect(session.authenticationFailure?.hint?.contains("PLUMB_SSH_KEY") == true)
    }

    @Test func httpsOffersTheTokenOnceAndTheAttemptsAreBounded() {
        let session = RemoteSession(url: "https://example.com/repo.git", environment: ["GIT_TOKEN": "t0ken"])
        #expect(ask(session, allowed: GIT_CREDENTIAL_USERPASS_PLAINTEXT) == GIT_CREDENTIAL_USERPASS_PLAINTEXT)
        #expect(ask(session, allowed: GIT_CREDENTIAL_USERPASS_PLAINTEXT) == nil)
        #expect(session.authenticationFailure?.message == "https://example.com/repo.git refused the token in PLUMB_GIT_TOKEN/GIT_TOKEN")

        // Whatever libgit2 asks, the callback stops answering after a fixed number of calls.
        let greedy = RemoteSession(url: "ssh://example.com/r.git", environment: [:])
        for _ in 0..<RemoteSession.maximumAttempts { _ = ask(greedy, allowed: GIT_CREDENTIAL_USERNAME) }
        #expect(ask(greedy, allowed: GIT_CREDENTIAL_USERNAME) == nil)
        #expect(greedy.authenticationFailure?.message.contains("failed after \(RemoteSession.maximumAttempts) attempts") == true)
    }

    /// A real HTTP server that answers every request with 401: libgit2 asks the callback, which
    /// reports the missing or refused token instead of looping or giving libgit2's generic error.
    @Test func anHTTPRemoteThatWantsATokenGetsAClearError() throws {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-c", """
            import http.server
            class H(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(401); self.send_header('WWW-Authenticate', 'Basic realm="plumb"')
                    self.send_header('Content-Length', '0'); self.end_headers()
                def log_message(self, *a): pass
            s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), H)
            print(s.server_address[1], flush=True)
            s.serve_forever()
            """]
        let output = Pipe()
        server.standardOutput = output
        do { try server.run() } catch { return }  // no python3: nothing to test against
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        let port = try #require(Int(line.trimmingCharacters(in: .whitespacesAndNewlines)))

        let target = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: target) }
        do {
            _ = try Repository.clone(url: "http://127.0.0.1:\(port)/repo.git", to: target + "/clone")
            Issue.record("cloned from a server that refuses everyone")
        } catch let error as PlumbError {
            let env = ProcessInfo.processInfo.environment
            if (env["PLUMB_GIT_TOKEN"] ?? env["GIT_TOKEN"] ?? "").isEmpty {
                #expect(error.message.contains("asks for authentication and no token is set"))
            } else {
                #expect(error.message.contains("refused the token"))
            }
            #expect(error.hint?.contains("PLUMB_GIT_TOKEN") == true)
        }
    }
}
