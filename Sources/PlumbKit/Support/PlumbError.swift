import Foundation

/// An error Plumb reports to the user: a message, the context it happened in, and a hint.
///
/// Wrapping adds context from the outside in ("cannot record run: cannot update refs/heads/main: …").
public struct PlumbError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var hint: String?
    /// The exit code the command line maps this error to (1 unless said otherwise).
    public var exitCode: Int32
    /// The file the error is about (a record such as `history/dev/state.json`), printed first:
    /// `history/dev/state.json: error: …`.
    public var file: String?

    public init(_ message: String, hint: String? = nil, exitCode: Int32 = 1, file: String? = nil) {
        self.message = message
        self.hint = hint
        self.exitCode = exitCode
        self.file = file
    }

    public var description: String {
        let text = file.map { "\($0): \(message)" } ?? message
        return hint.map { "\(text)\n  hint: \($0)" } ?? text
    }

    /// Runs `body`, prefixing any error it throws with `context`.
    public static func wrap<T>(_ context: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as PlumbError {
            throw PlumbError("\(context()): \(e.message)", hint: e.hint, exitCode: e.exitCode, file: e.file)
        } catch let e as DiagnosticsError {
            throw e
        } catch {
            throw PlumbError("\(context()): \(readable(error))", hint: posixCode(of: error).flatMap(hint(for:)))
        }
    }
}
