import Foundation

/// DVC's `${…}` in a string, carried over to Plumb's templating (docs/decisions.md, "Templating and
/// fan-out stages"). Both claim every `${`; they differ in the escape (DVC `\${`, Plumb `$${`), in
/// what a reference may be (DVC also indexes lists, `${models[0]}`), and in scope: a stage's own
/// `vars`, which Plumb does not have, are substituted here, where the values are known.
enum DVCTemplate {
    /// `text` in Plumb's templating: `\${` becomes `$${`, references to `local` (a stage's own
    /// vars) are replaced by their values, the rest is kept. Forms Plumb cannot read are reported.
    static func convert(_ text: String, local: [String: JSONValue], at location: SourceLocation, notes: inout [ImportNote]) -> String {
        guard text.contains("${") else { return text }
        let chars = Array(text)
        var out = ""
        var i = 0
        while i < chars.count {
            if chars[i] == "\\", i + 2 < chars.count, chars[i + 1] == "$", chars[i + 2] == "{" {
                out += "$${"; i += 3; continue
            }
            if chars[i] == "$", i + 2 < chars.count, chars[i + 1] == "$", chars[i + 2] == "{" {
                // `$${x}` is DVC's `$` before `${x}`, Plumb's literal `${x}`: no way to write the first in Plumb.
                notes.append(ImportNote(.unsupported, at: location, "'$${' means '$' and a reference in DVC, but a literal '${' in Plumb",
                                        hint: "move the '$' out of the reference, e.g. into a shell variable"))
                out += "$${"; i += 3; continue
            }
            guard chars[i] == "$", i + 1 < chars.count, chars[i + 1] == "{" else { out.append(chars[i]); i += 1; continue }
            var end = i + 2
            while end < chars.count, chars[end] != "}" { end += 1 }
            guard end < chars.count else { out += String(chars[i...]); break }
            let written = String(chars[i...end])
            let body = String(chars[(i + 2)..<end]).trimmingCharacters(in: .whitespaces)
            if body.contains("[") {
                notes.append(ImportNote(.unsupported, at: location, "'\(written)' indexes a list, which Plumb's templating does not",
                                        hint: "write the index as a key ('${models.0}'), or give the value its own name in vars"))
                out += written
            } else if let head = body.split(separator: ".").first.map(String.init), let value = local[head] {
                let path = body.split(separator: ".").dropFirst().map(String.init)
                if case let .success(found) = Templating.lookup(path, in: value), let scalar = Templating.text(of: found) {
                    out += scalar
                } else {
                    notes.append(ImportNote(.unsupported, at: location, "'\(written)' names the stage's vars but no scalar in them",
                                            hint: "name a key that holds a number or a string"))
                    out += written
                }
            } else {
                out += written
            }
            i = end + 1
        }
        return out
    }

    /// Whether `text` holds a reference DVC resolves (not the escaped `\${`).
    static func isTemplated(_ text: String) -> Bool {
        let chars = Array(text)
        for i in chars.indices.dropLast() where chars[i] == "$" && chars[i + 1] == "{" {
            if i == 0 || chars[i - 1] != "\\" { return true }
        }
        return false
    }
}
