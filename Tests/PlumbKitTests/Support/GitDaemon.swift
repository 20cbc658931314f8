import Foundation
@testable import PlumbCore

/// `git daemon` serving one bare repository with receive-pack (the smart protocol ssh and https
/// use; it runs the repository's hooks, which libgit2's local transport never does) on 127.0.0.1
/// and a free port. Detached, so that it is no child of the test process (whose process
/// monitoring it would otherwise join), with every inherited descriptor above stderr closed;
/// stopped by its pid file.
final class GitDaemon {
    let url: String
    private let pidFile: String

    init(serving repository: String) throws {
        let base = (repository as NSString).deletingLastPathComponent
        let name = (repository as NSString).lastPathComponent
        for _ in 0..<10 {
            let port = Int.random(in: 20_000...60_000)
            let pidFile = repository + ".daemon.pid"
            _ = try runProcess("/bin/bash", ["-c", """
                for f in /proc/$$/fd/*; do n=${f##*/}; [ "$n" -gt 2 ] && eval "exec $n>&-"; done 2>/dev/null
                exec "$(git --exec-path)/git-daemon" --detach --pid-file="$1" --export-all --enable=receive-pack \
                  --reuseaddr --listen=127.0.0.1 --port=\(port) --base-path="$0" "$0" </dev/null >/dev/null 2>&1
                """, base, pidFile], in: base)
            let url = "git://127.0.0.1:\(port)/\(name)"
            if eventually(timeout: 5, { (try? hostileGit(["ls-remote", url], in: base, check: false).status) == 0 }) {
                self.url = url
                self.pidFile = pidFile
                return
            }
            Self.stop(pidFile)
        }
        throw PlumbError("could not start git daemon")
    }

    func stop() { Self.stop(pidFile) }

    private static func stop(_ pidFile: String) {
        guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return }
        // SIGKILL: a process spawned from a test thread inherits its blocked SIGTERM.
        kill(pid, SIGKILL)
        try? FileManager.default.removeItem(atPath: pidFile)
    }
}
