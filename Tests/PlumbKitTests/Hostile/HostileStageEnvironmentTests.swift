import Foundation
import Testing
@testable import PlumbCore
@testable import PlumbGit
@testable import PlumbStore
@testable import PlumbEngine
@testable import PlumbCLI

/// Runs the built `plumb` as an ordinary user: as root (a container, some CI) it drops to `nobody`
/// with setpriv, after handing it the folders it works in, since root may read any process's
/// environment and so would hide what an ordinary user's stage can or cannot see.
func plumbAsOrdinaryUser(_ arguments: [String], in directory: String, owning folders: [String],
                         environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
    guard getuid() == 0, FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv") else {
        return try runProcess(plumbExecutable(), arguments, in: directory, environment: environment)
    }
    for folder in folders { try runProcess("/bin/chown", ["-R", "65534:65534", folder], in: "/") }
    var env = environment
    env["HOME"] = env["HOME"] ?? folders.last
    return try runProcess("/usr/bin/setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", plumbExecutable()] + arguments,
                          in: directory, environment: env)
}

@Suite struct HostileStageEnvironmentTests {
    /// The variables of one `env` dump.
    func variables(_ file: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for line in try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            out[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return out
    }

    /// Today every stage (and `plumb status`'s probe) inherits Plumb's whole environment, push token
    /// included. A stage gets the documented base, its `env`, its secrets and PLUMB_*; nothing else,
    /// and it cannot read Plumb's environment through /proc either.
    @Test func aStageAndItsDriftProbeSeeOnlyTheAllowListNeverPlumbsCredentials() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          deploy:
            cmd: >-
              env > $SIDE.stage; cat /proc/$PPID/environ > $SIDE.stage-parent 2>/dev/null;
              mkdir -p build && echo ok > build/out.txt
            env: {REGION: eu}
            secrets: [DEPLOY_TOKEN]
            outs: [build/out.txt]
            check: env > $SIDE.check; cat /proc/$PPID/environ > $SIDE.check-parent 2>/dev/null; true
        """)
        let id = UUID().uuidString
        let credentials = [
            "PLUMB_GIT_TOKEN": "pgt-\(id)", "GIT_TOKEN": "gt-\(id)", "SSH_AUTH_SOCK": "/tmp/agent-\(id).sock",
            "PLUMB_SSH_KEY": "/keys/\(id)", "PLUMB_SSH_KEY_PASSPHRASE": "pass-\(id)",
            "PLUMB_CACHE_USER": "cu-\(id)", "PLUMB_CACHE_PASSWORD": "cp-\(id)", "PLUMB_CACHE_TOKEN": "ct-\(id)",
        ]
        let unrelated = ["AWS_SECRET_ACCESS_KEY": "aws-\(id)", "GIT_DIR": "/elsewhere/.git", "PYTHONPATH": "/elsewhere"]
        let environment = credentials.merging(unrelated) { a, _ in a }.merging(["DEPLOY_TOKEN": "dt-\(id)", "LC_ALL": "C"]) { a, _ in a }

        let run = try plumbAsOrdinaryUser(["reconcile"], in: h.root, owning: [h.root, h.sideDirectory], environment: environment)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let status = try plumbAsOrdinaryUser(["status", "--check"], in: h.root, owning: [h.root, h.sideDirectory], environment: environment)
        #expect(status.status == 0, "\(status.stderr)")

        // What the shell itself adds (PWD, SHLVL, _) is not from Plumb.
        let shell: Set<String> = ["PWD", "OLDPWD", "SHLVL", "_"]
        for (dump, plumbVariables) in [("stage", ["PLUMB_ENV", "PLUMB_STAGE", "PLUMB_RUN_ID", "PLUMB_PARAMS", "PLUMB_REPO"]),
                                       ("check", ["PLUMB_ENV", "PLUMB_STAGE", "PLUMB_REPO"])] {
            let seen = try variables(h.sideFile + "." + dump)
            #expect(seen["REGION"] == "eu", "\(dump): its env")
            #expect(seen["DEPLOY_TOKEN"] == "dt-\(id)", "\(dump): the secret it declares")
            #expect(seen["LC_ALL"] == "C" && seen["PATH"] != nil, "\(dump): the base")
            for name in plumbVariables { #expect(seen[name] != nil, "\(dump): \(name)") }
            let stray = seen.keys.filter { name in
                !(StageEnvironment.base.contains(name) || name.hasPrefix("LC_") || name.hasPrefix("PLUMB_")
                  || ["REGION", "DEPLOY_TOKEN", "GIT_CEILING_DIRECTORIES"].contains(name) || shell.contains(name))
            }
            #expect(stray.sorted() == [], "\(dump) saw variables nobody declared")
            for name in credentials.keys { #expect(seen[name] == nil, "\(dump) saw \(name)") }
            // Nor through Plumb's own /proc/<pid>/environ (same user, so only Plumb being non-dumpable stops it).
            let parent = (try? String(contentsOfFile: h.sideFile + "." + dump + "-parent", encoding: .utf8)) ?? ""
            for (name, value) in credentials { #expect(!parent.contains(value), "\(dump) read \(name) from /proc/$PPID/environ") }
        }
    }

    /// Declaring one of Plumb's credentials as a stage's secret, or setting it in `env`, is refused
    /// where the spec is read, with a hint; today GIT_TOKEN and SSH_AUTH_SOCK pass validation.
    @Test func declaringPlumbsCredentialsForAStageIsAValidationError() throws {
        let h = try PipelineHarness(pipeline: """
        version: 1
        stages:
          push:
            cmd: git push
            secrets: [GIT_TOKEN]
            env: {SSH_AUTH_SOCK: /tmp/agent.sock}
        """)
        let result = try runProcess(plumbExecutable(), ["validate"], in: h.root)
        #expect(result.status == 1)
        #expect(result.stderr.contains("spec/pipeline.yaml:5:") && result.stderr.contains("spec/pipeline.yaml:6:"), "\(result.stderr)")
        #expect(result.stderr.contains("'GIT_TOKEN' in 'secrets' of stage 'push' is one of Plumb's own credentials"), "\(result.stderr)")
        #expect(result.stderr.contains("'SSH_AUTH_SOCK' in 'env' of stage 'push' is one of Plumb's own credentials"), "\(result.stderr)")
        #expect(result.stderr.contains("hint: give the stage a credential of its own"))
    }

    /// The one builder: whatever route a credential takes (base, env, secrets), it is dropped.
    @Test func theBuilderDropsCredentialsWhateverTheRoute() {
        // Long unique values: the builder adds secret values to `Redactor.process` for this whole
        // process, and a value such as "s" would mask that letter in every other test's output.
        let id = UUID().uuidString
        let host = ["PATH": "/bin", "HOME": "/home/u", "GIT_TOKEN": "t-\(id)", "PLUMB_GIT_TOKEN": "p-\(id)", "SSH_AUTH_SOCK": "/s",
                    "PLUMB_SSH_KEY_PASSPHRASE": "k-\(id)", "OTHER": "o", "SECRET": "secret-\(id)", "PLUMB_ENV": "forged"]
        let built = StageEnvironment(declared: ["GIT_TOKEN": "from env", "MODE": "fast"],
                                     secrets: ["SECRET", "PLUMB_GIT_TOKEN", "SSH_AUTH_SOCK", "PLUMB_SSH_KEY_PASSPHRASE"],
                                     plumb: ["PLUMB_ENV": "dev"], host: host)
        #expect(built.variables == ["PATH": "/bin", "HOME": "/home/u", "MODE": "fast", "SECRET": "secret-\(id)", "PLUMB_ENV": "dev"])
        #expect(built.secretValues == ["secret-\(id)"])
        #expect(built.redactor.redact("got secret-\(id)") == "got ***")
    }
}
