import Foundation

/// What the kernel says about processes and file locks on this machine, read from `/proc` (Linux).
///
/// A pid alone names no process for long: pids are reused. Decisions about whether a lock is still
/// someone's go through the kernel's own lock table, or compare when a process started with when
/// the lock was taken, never through `kill(pid, 0)` alone.
package enum ProcessTable {
    /// One process: its pid, command name (`/proc/<pid>/comm`) and when it started.
    package struct Entry: Sendable {
        package var pid: pid_t
        var name: String
        package var started: Date
    }

    /// When process `pid` started, nil when there is no such process (or `/proc` cannot say).
    package static func startTime(of pid: pid_t) -> Date? {
        guard let boot = bootTime,
              let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After "pid (comm)": field 3 (state) is index 0, field 22 (starttime, clock ticks since boot) index 19.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]), ticksPerSecond > 0 else { return nil }
        return Date(timeIntervalSince1970: boot + ticks / ticksPerSecond)
    }

    /// Every process whose command name starts with `prefix` (`git` finds git, git-receive-pack, …).
    package static func processes(namedWithPrefix prefix: String) -> [Entry] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        return names.compactMap { pid_t($0) }.compactMap { pid in
            guard let comm = try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8),
                  comm.hasPrefix(prefix), let started = startTime(of: pid) else { return nil }
            return Entry(pid: pid, name: comm.trimmingCharacters(in: .whitespacesAndNewlines), started: started)
        }
    }

    /// Whether any process holds a `flock` on the file at `path`, from the kernel's lock table
    /// (`/proc/locks`). Nil when the table cannot be read (not Linux, or no such file).
    ///
    /// Reading the table takes no lock, unlike probing with `flock` itself, which could make a
    /// concurrent writer's non-blocking attempt fail for nothing.
    package static func isFlocked(_ path: String) -> Bool? {
        var info = stat()
        guard stat(path, &info) == 0, let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else { return nil }
        let dev = UInt64(info.st_dev)
        // glibc's major()/minor() of the user-space dev_t, as the kernel prints them (hex).
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~UInt64(0xfff))
        let minor = (dev & 0xff) | ((dev >> 12) & ~UInt64(0xff))
        for line in table.split(separator: "\n") {
            // "2: FLOCK  ADVISORY  WRITE 9168 fe:00:16220227 0 EOF"; waiters are listed as "2: -> FLOCK …".
            let fields = line.split(separator: " ")
            guard fields.count >= 6, fields[1] == "FLOCK" else { continue }
            let id = fields[5].split(separator: ":")
            guard id.count == 3, UInt64(id[2]) == UInt64(info.st_ino),
                  UInt64(id[0], radix: 16) == major, UInt64(id[1], radix: 16) == minor else { continue }
            return true
        }
        return false
    }

    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// The boot time, seconds since 1970 (`btime` in `/proc/stat`).
    private static let bootTime: Double? = {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }()
}
