import Foundation

/// A terminal text style, by its SGR code. Declared here rather than beside `Terminal` because
/// escaping (`Escape.terminal`) lets exactly these codes through when a view styles text itself.
package enum TextStyle: String, Sendable, CaseIterable {
    case bold = "1", dim = "2", red = "31", green = "32", yellow = "33", blue = "34", magenta = "35", cyan = "36"
}
