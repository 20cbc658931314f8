import Foundation

/// Sizes for people: `0 B`, `532 B`, `1.4 kB`, `64 MB`, `1.1 GB` (decimal units, as `ls -h --si`
/// and ByteCountFormatter's file style, without its "Zero KB").
package func formatBytes(_ bytes: Int64) -> String {
    if bytes < 1000 { return "\(bytes) B" }
    var value = Double(bytes)
    for unit in ["kB", "MB", "GB", "TB", "PB"] {
        value /= 1000
        if value < 999.95 || unit == "PB" { return String(format: value < 10 ? "%.1f %@" : "%.0f %@", value, unit) }
    }
    return "\(bytes) B"
}
