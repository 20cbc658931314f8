import Foundation

/// An error Plumb reports to the user: a message, the context it happened in, and a hint.
///
/// Wrapping adds context from the outside in ("cannot record run: cannot update refs/heads/main: …").
package struct PlumbError: Error, Sendable, CustomStringConvertible {
    package var message: String
    package var hint: String?
    /// What kind of failure this is; the command line alone turns it into an exit code.
    package var kind: Kind
    /// The file the error is about (a record such as `history/dev/state.json`), printed first:
    /// `history/dev/state.json: error: …`.
    package var file: String?

    package init(_ message: String, hint: String? = nil, kind: Kind = .failure, file: String? = nil) {
        self.message = message
        self.hint = hint
        self.kind = kind
        self.file = file
    }

    /// The kinds of failure a caller may treat differently. Anything not named here is a `failure`.
    package enum Kind: Sendable, Hashable {
        /// The work could not be done (a stage failed, a record is refused, git said no).
        case failure
        /// The command was asked for something that cannot be (an unknown environment, a run id
        /// that names nothing): the request, not the repository, is wrong.
        case usage
        /// A signal stopped the work before it was done.
        case interrupted
    }

    package var description: String {
        let text = file.map { "\($0): \(message)" } ?? message
        return hint.map { "\(text)\n  hint: \($0)" } ?? text
    }

    /// Runs `body`, prefixing any error it throws with `context`.
    package static func wrap<T>(_ context: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as PlumbError {
            throw PlumbError("\(context()): \(e.message)", hint: e.hint, kind: e.kind, file: e.file)
        } catch let e as DiagnosticsError {
            throw e
        } catch {
            throw PlumbError("\(context()): \(readable(error))", hint: posixCode(of: error).flatMap(hint(for:)))
        }
    }
}
