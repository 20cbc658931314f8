import Foundation
import Synchronization

/// A value reachable only under Synchronization's `Mutex`, with each critical section made visible
/// to ThreadSanitizer.
///
/// On Linux, `Mutex` locks with a futex inside the Synchronization library, which is not built
/// with ThreadSanitizer, so TSan cannot see the lock and reports every access made under it as a
/// race (reproduced with four threads inserting into and removing from a `Mutex<Set<Int32>>`).
/// With the TSan runtime loaded, `__tsan_acquire`/`__tsan_release` on this object's address restore
/// the happens-before edges; in every other build the symbols are absent and the cost is a nil check.
package final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    package init(_ value: Value) { mutex = Mutex(value) }

    /// Runs `body` with the value, holding the lock.
    package func withLock<Result: Sendable>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try mutex.withLock { value in
            let token = Unmanaged.passUnretained(self).toOpaque()
            ThreadSanitizer.acquire(token)
            defer { ThreadSanitizer.release(token) }
            return try body(&value)
        }
    }
}

/// ThreadSanitizer's annotations, looked up at run time: present only when its runtime is linked in.
enum ThreadSanitizer {
    private typealias Annotation = @convention(c) (UnsafeMutableRawPointer?) -> Void
    private static let acquireFunction: Annotation? = symbol("__tsan_acquire")
    private static let releaseFunction: Annotation? = symbol("__tsan_release")

    static func acquire(_ address: UnsafeMutableRawPointer) { acquireFunction?(address) }
    static func release(_ address: UnsafeMutableRawPointer) { releaseFunction?(address) }

    private static func symbol<T>(_ name: String) -> T? {
        dlsym(UnsafeMutableRawPointer(bitPattern: 0), name).map { unsafeBitCast($0, to: T.self) }
    }
}
