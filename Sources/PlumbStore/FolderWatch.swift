import Foundation
import PlumbCore
#if canImport(Glibc)
import Glibc
#endif

/// inotify marks on every folder of some folder trees, so that the watch loop learns that nothing under
/// them changed without walking them: an idle cycle over a million files then costs a `read(2)`.
///
/// Conservative by construction: any event at all (a file written, created, removed, renamed, its mode or
/// times changed; a folder created, removed or moved, the root itself moved), a queue overflow
/// (`IN_Q_OVERFLOW`), or a mark that could not be added (`max_user_watches`, a folder that vanished while
/// marks were set) makes `isQuiet` false until the next `arm`, and the caller walks as before. Marks are
/// set before the walk they stand in for, so a change during that walk is an event for the next cycle.
package final class FolderWatch {
    private var descriptor: Int32
    private var armed = false
    private var disturbed = true

    static let mask: UInt32 = UInt32(IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_FROM | IN_MOVED_TO | IN_CREATE
                                     | IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF)

    /// Nil when the kernel gives no inotify instance (`max_user_instances`, a sandbox): the caller walks.
    package init?() {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { return nil }
        descriptor = fd
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Replaces the marks with marks on `folders` and every folder below them (and on `files`' parent
    /// folders), forgetting what happened before. Returns whether every mark was set.
    @discardableResult
    package func arm(folders: [String], files: [String] = []) -> Bool {
        // A new instance rather than removing marks: nothing queued before this moment can be read after it.
        if descriptor >= 0 { close(descriptor) }
        descriptor = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard descriptor >= 0 else { armed = false; return false }
        var complete = true
        for root in folders where !mark(tree: root) { complete = false }
        for file in files {
            let parent = (file as NSString).deletingLastPathComponent
            if !add(parent.isEmpty ? "." : parent) { complete = false }
        }
        armed = complete
        disturbed = !complete
        return complete
    }

    /// Forgets the marks: `isQuiet` is false until the next `arm`.
    package func disarm() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
        armed = false
    }

    /// Whether nothing happened under the marked trees since `arm` (every mark set, no event, no overflow).
    package var isQuiet: Bool {
        if descriptor < 0 { return false }
        if drain() { disturbed = true }
        return armed && !disturbed
    }

    private func add(_ folder: String) -> Bool {
        inotify_add_watch(descriptor, folder, Self.mask) >= 0
    }

    /// Marks `folder` and its subfolders (readdir's d_type spares an lstat per file).
    private func mark(tree folder: String) -> Bool {
        guard add(folder), let dir = opendir(folder) else { return false }
        defer { closedir(dir) }
        var complete = true
        while let ent = readdir(dir) {
            let name = withUnsafeBytes(of: ent.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name == "." || name == ".." { continue }
            var isFolder = ent.pointee.d_type == UInt8(DT_DIR)
            if ent.pointee.d_type == UInt8(DT_UNKNOWN) {
                var s = stat()
                isFolder = fstatat(dirfd(dir), name, &s, AT_SYMLINK_NOFOLLOW) == 0 && s.st_mode & S_IFMT == S_IFDIR
            }
            if isFolder && !mark(tree: folder + "/" + name) { complete = false }
        }
        return complete
    }

    /// Reads every pending event; true if there was any (an overflow is one).
    private func drain() -> Bool {
        var any = false
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if n > 0 { any = true; continue }
            if n < 0 && errno == EINTR { continue }
            return any
        }
    }
}
