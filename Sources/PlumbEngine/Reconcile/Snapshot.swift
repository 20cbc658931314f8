import Foundation
import PlumbCore
import PlumbGit
import PlumbStore

/// The desired and recorded state of one environment, read from one commit: the single read
/// that planning starts from.
package struct Snapshot: Sendable {
    package var commit: ObjectID
    /// The branch being reconciled (nil for a detached HEAD or a `--ref` that is no branch).
    package var branch: String?
    package var spec: Spec
    package var environment: EnvironmentSpec
    package var recorded: RecordedState?
    package var pin: Pin?

    /// Reads the spec, the environment, its pin and its recorded state at `ref` (default: HEAD).
    package static func read(_ project: Project, ref: String?, environment requested: String?) throws -> Snapshot {
        let repo = project.repository
        let head = try repo.head()
        let commit: ObjectID
        var branch: String?
        if let ref {
            commit = try repo.resolveCommit(ref)
            if (try? repo.referenceTarget("refs/heads/\(ref)")) != nil { branch = "refs/heads/\(ref)" }
        } else {
            guard let c = head.commit else {
                throw PlumbError("the repository has no commits yet", hint: "commit spec/pipeline.yaml first")
            }
            commit = c
            branch = head.reference
        }
        let loaded = SpecLoader.load(from: CommitSpecSource(repository: repo, commit: commit))
        guard let spec = loaded.spec else {
            throw DiagnosticsError(loaded.diagnostics.isEmpty
                ? [Diagnostic(at: nil, "the spec at \(commit.short) is not valid")] : loaded.diagnostics)
        }
        let name = try chooseEnvironment(requested, in: spec)
        let environment = spec.environments[name]!
        var recorded: RecordedState?
        let statePath = RecordedState.path(for: name)
        if let data = try repo.file(at: statePath, in: commit) {
            recorded = try RecordedState.decode(data, path: statePath)
        }
        var pin: Pin?
        if let data = try repo.file(at: SpecPaths.pin(name), in: commit) {
            pin = try Pin.decode(data, path: SpecPaths.pin(name))
        }
        return Snapshot(commit: commit, branch: branch, spec: spec, environment: environment, recorded: recorded, pin: pin)
    }

    /// `main` for `refs/heads/main`.
    package static func shortBranch(_ reference: String) -> String {
        reference.hasPrefix("refs/heads/") ? String(reference.dropFirst("refs/heads/".count)) : reference
    }

    /// The environment to act on: the one asked for, else the only one, else `dev`.
    static func chooseEnvironment(_ requested: String?, in spec: Spec) throws -> String {
        let names = spec.environments.keys.sorted()
        if let requested {
            guard spec.environments[requested] != nil else {
                let hint = Suggest.closest(to: requested, in: names).map { "did you mean '\($0)'?" }
                    ?? "environments: \(names.joined(separator: ", "))"
                throw PlumbError("no environment '\(requested)'", hint: hint, kind: .usage)
            }
            return requested
        }
        if names.count == 1 { return names[0] }
        if spec.environments["dev"] != nil { return "dev" }
        throw PlumbError("several environments and none chosen", hint: "pass --env with one of: \(names.joined(separator: ", "))",
                         kind: .usage)
    }

    /// The stages this environment runs itself (the others come from its pin).
    var stagesRunHere: [Stage] {
        let runs = environment.runs.map(Set.init)
        return spec.pipeline.stages.filter { runs?.contains($0.name) ?? true }
    }

    /// How the deps no stage produces are identified (`digests`), and which of them git tracks as
    /// Git LFS pointers (`lfs`): those are taken from the commit, never from the working tree.
    struct SourceIdentities: Sendable {
        package var digests: [String: String]
        package var lfs: Set<String>
    }

    /// The identity of every dep no stage produces: git's id for tracked paths (no file read); for a
    /// tracked file that is a Git LFS pointer, `sha256:<oid>` from the pointer (the blob is read, the
    /// file is not), which is the content's own digest, so moving a file into LFS or out of git does
    /// not change its identity; SHA-256 through the stat cache for untracked data. Missing deps are
    /// left out; the planner reports them.
    func sourceIdentities(_ project: Project) throws -> SourceIdentities {
        func onDisk(_ dep: String) -> String { dep.hasPrefix("/") ? dep : project.root + "/" + dep }
        let graph = StageGraph(spec.pipeline)
        var digests: [String: String] = [:]
        var lfs: Set<String> = []
        var untracked: Set<String> = []
        for stage in stagesRunHere {
            for dep in stage.deps where graph.producer(of: dep) == nil && digests[dep] == nil {
                if !dep.hasPrefix("/"), let entry = try project.repository.entry(at: dep, in: commit) {
                    if entry.kind == .blob, entry.mode != 0o120000, let pointer = try project.repository.lfsPointer(blob: entry.id) {
                        digests[dep] = ContentID.sha256(pointer.oid)
                        lfs.insert(dep)
                    } else {
                        digests[dep] = ContentID.git(entry.id)
                    }
                } else {
                    untracked.insert(dep)
                }
            }
        }
        let present = untracked.sorted().filter { FileManager.default.fileExists(atPath: onDisk($0)) }
        let hashed = try project.digester.digests(of: present.map(onDisk))
        for dep in present {
            if let d = hashed[onDisk(dep)] { digests[dep] = ContentID.sha256(d) }
        }
        return SourceIdentities(digests: digests, lfs: lfs)
    }

    /// Whether what this environment wants can change with no commit: a stage with `stale_after`,
    /// a schedule, or a dep outside git (data, an absolute path). The watch loop plans an idle
    /// cycle only then.
    package func changesWithoutCommits(_ project: Project) throws -> Bool {
        let stages = stagesRunHere
        if !environment.schedules.isEmpty || stages.contains(where: { $0.staleAfter != nil }) { return true }
        let graph = StageGraph(spec.pipeline)
        for stage in stages {
            for dep in stage.deps where graph.producer(of: dep) == nil {
                if try dep.hasPrefix("/") || project.repository.entry(at: dep, in: commit) == nil { return true }
            }
        }
        return false
    }

    /// The untracked deps an idle watch cycle would walk (absolute paths, folders and files apart), when
    /// they are the only thing that can change without a commit; nil when time can too (a schedule,
    /// `stale_after`), since no mark on a folder says when a record grows old.
    package func untrackedSources(_ project: Project) throws -> (folders: [String], files: [String])? {
        let stages = stagesRunHere
        if !environment.schedules.isEmpty || stages.contains(where: { $0.staleAfter != nil }) { return nil }
        let graph = StageGraph(spec.pipeline)
        var folders: Set<String> = [], files: Set<String> = []
        for stage in stages {
            for dep in stage.deps where graph.producer(of: dep) == nil {
                guard try dep.hasPrefix("/") || project.repository.entry(at: dep, in: commit) == nil else { continue }
                let absolute = dep.hasPrefix("/") ? dep : project.root + "/" + dep
                var isFolder: ObjCBool = false
                if FileManager.default.fileExists(atPath: absolute, isDirectory: &isFolder), isFolder.boolValue {
                    folders.insert(absolute)
                } else {
                    // A file, or a dep that does not exist yet: its folder says when it appears.
                    files.insert(absolute)
                }
            }
        }
        return (folders.sorted(), files.sorted())
    }

    /// The identity of every dep no stage produces (see `sourceIdentities`).
    package func sourceDigests(_ project: Project) throws -> [String: String] {
        try sourceIdentities(project).digests
    }

    /// Files the pipeline uses whose working-tree content differs from the commit being planned:
    /// the spec, the environments and the tracked deps (those `sourceDigests` identified by git).
    /// Only meaningful when that commit is what the working tree has checked out.
    package func uncommittedEdits(_ project: Project, sourceDigests: [String: String]) throws -> [String] {
        let head = try project.repository.head()
        guard head.commit == commit else { return [] }
        let tracked = sourceDigests.filter { $0.value.hasPrefix("git:") }.keys
        let paths = Set(["spec", "environments"]).union(tracked)
        return try project.repository.workingTreeChanges(against: commit, paths: paths.sorted())
    }

    /// Everything the planner needs.
    func planningInput(_ project: Project, forced: Set<String> = []) throws -> PlanningInput {
        let sources = try sourceIdentities(project)
        var input = PlanningInput(spec: spec, environment: environment, commit: commit,
                                  branch: branch.map(Self.shortBranch), recorded: recorded, pin: pin,
                                  sourceDigests: sources.digests,
                                  uncommittedEdits: try uncommittedEdits(project, sourceDigests: sources.digests), forced: forced)
        input.lfsDeps = sources.lfs
        return input
    }
}
