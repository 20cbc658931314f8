import Foundation

/// One entry of a stage's `params`: a key path of spec/params.yaml (`train.max_depth`), or of
/// another tracked YAML or JSON file, written `config/model.yaml:model.width`. Either way the
/// value is part of the stage's fingerprint, so changing it reruns the stage; environments
/// override spec/params.yaml only (another file is read as committed).
package struct ParamReference: Sendable, Hashable {
    /// The file, nil for spec/params.yaml.
    package var file: String?
    package var key: String

    package init(_ entry: String) {
        if let colon = entry.firstIndex(of: ":") {
            file = String(entry[..<colon]); key = String(entry[entry.index(after: colon)...])
        } else {
            file = nil; key = entry
        }
    }

    /// File extensions a params file may have (JSON is YAML).
    static let extensions = [".yaml", ".yml", ".json"]

    /// Why the entry names no param (the decoder reports it at the entry), or nil.
    var problem: (message: String, hint: String)? {
        if let file {
            if file.isEmpty || file.hasPrefix("/") || file.split(separator: "/").contains("..") || !Self.extensions.contains(where: file.hasSuffix) {
                return ("names the params file '\(file)', which is not a relative path to a .yaml, .yml or .json file",
                        "write '<file>:<key path>', e.g. 'config/model.yaml:model.width'")
            }
        }
        if key.isEmpty || key.split(separator: ".", omittingEmptySubsequences: false).contains("") {
            return ("names the param '\(file.map { "\($0):" } ?? "")\(key)', which is not a key path",
                    file == nil ? "write keys of spec/params.yaml joined by '.', e.g. 'train.max_depth'"
                                : "write '<file>:<key path>', e.g. 'config/model.yaml:model.width'")
        }
        return nil
    }
}
