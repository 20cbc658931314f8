import Foundation
import PlumbCore

/// How far a batch of transfers has come, for a progress line.
package struct TransferProgress: Sendable, Equatable {
    /// Objects finished (transferred or found already in place), of `total`.
    package var done = 0
    package var total = 0
    /// Bytes moved so far.
    package var bytes: Int64 = 0
    package init(done: Int = 0, total: Int = 0, bytes: Int64 = 0) { self.done = done; self.total = total; self.bytes = bytes }
}

/// Called from the transfer threads as objects finish.
package typealias TransferObserver = @Sendable (TransferProgress) -> Void

/// Transfers spend their time waiting on the network, not the CPU, so they run on more threads
/// than `parallelMap` (which is sized to the cores): a few connections at once, as `curl
/// --parallel` and Bazel's remote cache do.
package let transferWidth = 8

/// Runs `body` for 0..<count on up to `width` threads; rethrows the first error after all stop
/// (those not yet started are skipped once one failed).
/// `body` escapes: the threads may let go of it only after `finished` was signalled, which
/// `withoutActuallyEscaping` would take for an escape and trap on.
package func concurrentTransfers(_ count: Int, width: Int = transferWidth, _ body: @escaping @Sendable (Int) throws -> Void) throws {
    if count == 0 { return }
    if count == 1 { return try body(0) }
    let next = Locked(0)
    let failure = Locked<Error?>(nil)
    let threads = min(width, count)
    let finished = DispatchGroup()
    for _ in 0..<threads {
        finished.enter()
        let thread = Thread {
            defer { finished.leave() }
            while true {
                let index: Int? = next.withLock { i in
                    guard i < count, failure.withLock({ $0 == nil }) else { return nil }
                    defer { i += 1 }
                    return i
                }
                guard let index else { return }
                do { try body(index) } catch { failure.withLock { if $0 == nil { $0 = error } } }
            }
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    finished.wait()
    if let error = failure.withLock({ $0 }) { throw error }
}
