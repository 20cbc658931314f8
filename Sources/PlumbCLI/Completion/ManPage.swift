import Foundation

/// `plumb help --man`: a man page (roff, man(7) macros) generated from the command table `--help`
/// prints. No date in it, so the same Plumb writes the same page.
enum ManPage {
    static func render() -> String {
        var out = """
        .TH PLUMB 1 "" "plumb \(PlumbCLI.version)" "User Commands"
        .SH NAME
        plumb \\- a GitOps reconciler for machine-learning pipelines
        .SH SYNOPSIS
        .B plumb
        [\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR]
        .SH DESCRIPTION
        Plumb reconciles the pipeline a git commit describes (spec/pipeline.yaml, spec/params.yaml,
        environments/*.yaml) with what has run, and records each run as a commit.
        .SH GLOBAL OPTIONS
        Global options may come before or after the command, as with \\fBgit \\-C\\fR.

        """
        for spec in GlobalOptions.all { out += option(spec) }
        out += ".SH COMMANDS\n"
        for command in PlumbCommands.all {
            out += ".SS \"\(escape(usage(command)))\"\n\(escape(command.abstract))\n"
            if !command.discussion.isEmpty {
                // The discussions are laid out in columns for a terminal: kept as they are.
                out += ".PP\n.nf\n" + command.discussion.split(separator: "\n", omittingEmptySubsequences: false).map { line(String($0)) }.joined(separator: "\n") + "\n.fi\n"
            }
            for spec in command.arguments {
                if case .positional = spec.kind {
                    out += ".TP\n\\fI\(escape(spec.key))\\fR\n\(escape(spec.help))\n"
                } else if !GlobalOptions.all.contains(where: { $0.names == spec.names && $0.help == spec.help }) {
                    out += option(spec)
                }
            }
        }
        out += """
        .SH EXIT STATUS
        0 ok; 1 error or failed stage; 2 changes pending or drifted (\\fB\\-\\-detailed\\-exitcode\\fR);
        3 promotion gate failed; 64 usage error; 130 interrupted (Ctrl\\-C, SIGTERM).
        .SH SEE ALSO
        \\fBgit\\fR(1); \\fBplumb completion\\fR for bash, zsh and fish.

        """
        return out
    }

    static func usage(_ command: CommandEntry) -> String {
        var usage = "plumb \(command.name)"
        for spec in command.arguments {
            if case let .positional(name, optional) = spec.kind {
                usage += spec.repeats ? " [<\(name)>...]" : optional ? " [<\(name)>]" : " <\(name)>"
            }
        }
        return usage + " [options]"
    }

    static func option(_ spec: ArgumentSpec) -> String {
        var head = spec.names.map { "\\fB\(escape($0))\\fR" }.joined(separator: ", ")
        switch spec.kind {
        case let .option(v): head += " \\fI\(escape(v))\\fR"
        case let .optionalValue(v): head += "[=\\fI\(escape(v))\\fR]"
        case .flag, .positional: break
        }
        var help = spec.help
        if !spec.choices.isEmpty, !spec.choices.allSatisfy({ help.contains($0) }) { help += " One of: \(spec.choices.joined(separator: ", "))." }
        return ".TP\n\(head)\n\(escape(help))\n"
    }

    /// Text for roff: backslashes and hyphens escaped, and anything past ASCII as a `\[uXXXX]` glyph.
    static func escape(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\e"
            case "-": out += "\\-"
            case _ where scalar.value > 0x7F: out += String(format: "\\[u%04X]", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// One line of text; a line roff would take for a request (leading `.` or `'`) is protected.
    static func line(_ text: String) -> String {
        let escaped = escape(text)
        return escaped.hasPrefix(".") || escaped.hasPrefix("'") ? "\\&" + escaped : escaped
    }
}
