import Foundation
import PlumbCore
import PlumbStore

/// Follows the log of a stage of a run in progress on this machine, as `tail -f` does: the
/// executor writes `.plumb/logs/<run>/<stage>.log` while the stage runs, marks it ended
/// (`<stage>.log.ended`) once the stage is over, and removes the run's folder once the run is
/// recorded.
package struct LogFollower {
    package let project: Project
    /// How often the file is looked at.
    package var interval: Double = 0.2

    package init(project: Project) { self.project = project }

    /// How following ended.
    package enum Ending: Sendable, Equatable {
        /// The stage ended: everything it wrote was handed on.
        case stageEnded
        /// The run was recorded first; `consumed` bytes of the log were handed on (the rest is in the cache).
        case runFinished(consumed: Int)
        /// No reconcile is going any more, yet the run was never recorded (it was killed): its folder stays.
        case abandoned
    }

    /// The marker the executor leaves beside a log once the stage has ended.
    package static func endMarker(ofLog log: String) -> String { log + ".ended" }

    /// The runs in progress on this machine, newest first (run ids sort by their start). None while
    /// no reconcile holds an environment's lock: the folders left then are of runs killed unrecorded.
    package func runningRuns() -> [String] {
        guard anyReconcileGoing() else { return [] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: project.runningLogsDirectory)) ?? []
        return names.filter(RunReference.isWellFormed).sorted(by: >)
    }

    /// The run in progress `reference` names (`latest`, an id, a prefix or its suffix), if one does.
    package func running(_ reference: RunReference) throws -> String? {
        let runs = runningRuns()
        switch reference {
        case .latest(back: 0): return runs.first
        case .latest: return nil
        case let .name(name):
            if runs.contains(name) { return name }
            let matches = runs.filter { RunReference.matches(name, run: $0) }
            guard matches.count <= 1 else {
                throw PlumbError("'\(name)' matches \(matches.count) runs in progress: \(matches.joined(separator: ", "))", hint: "type more of the run id", kind: .usage)
            }
            return matches.first
        }
    }

    /// Whether a writer holds an environment's lock on this clone (the kernel's word, `RepositoryLock.holder`).
    package func anyReconcileGoing() -> Bool {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: project.locksDirectory.path)) ?? []
        return files.filter { $0.hasSuffix(".lock") }.map { String($0.dropLast(5)) }.contains { name in
            name != RepositoryLock.cacheName && RepositoryLock.holder(directory: project.locksDirectory, name: name) != nil
        }
    }

    /// Hands `emit` what the stage writes, from the start, until the stage ends or the run is recorded.
    package func follow(run: String, stage: String, emit: (Data) -> Void) -> Ending {
        let folder = project.logDirectory(for: run)
        let log = folder + "/\(stage).log"
        let marker = Self.endMarker(ofLog: log)
        var handle: FileHandle?
        defer { try? handle?.close() }
        var consumed = 0
        func drain() {
            if handle == nil { handle = FileHandle(forReadingAtPath: log) }
            guard let handle else { return }
            // An open file stays readable after the run's folder is removed, so nothing is lost at the end.
            let data = handle.readDataToEndOfFile()
            if !data.isEmpty { consumed += data.count; emit(data) }
        }
        var polls = 0
        while true {
            // Looked at before reading: once either holds, the read after it sees the whole log.
            let ended = FileManager.default.fileExists(atPath: marker)
            let recorded = !FileManager.default.fileExists(atPath: folder)
            // The lock table is read about once a second, not every poll.
            let gone = polls % 5 == 4 && !anyReconcileGoing()
            drain()
            if ended { return .stageEnded }
            if recorded { return .runFinished(consumed: consumed) }
            if gone { return FileManager.default.fileExists(atPath: folder) ? .abandoned : .runFinished(consumed: consumed) }
            polls += 1
            Thread.sleep(forTimeInterval: interval)
        }
    }
}
