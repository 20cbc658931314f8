import Foundation

/// `cmd` as a list: the commands run in order, each in its own subshell, and the first that fails
/// ends the stage with its status.
///
/// They are joined into one script, `( c1\n) && ( c2\n)`, rather than run as separate processes,
/// so that every runner (a local process group, a Slurm job) runs a list as it runs one command,
/// and the record holds what ran. The subshells keep what DVC users expect of separate commands:
/// a `cd` or a variable set by one does not reach the next. The newline before each `)` ends a
/// trailing comment. A single command is itself, so `cmd: [x]` and `cmd: x` are the same stage.
enum CommandList {
    static func script(_ commands: [String]) -> String {
        commands.count == 1 ? commands[0] : commands.map { "( \($0)\n)" }.joined(separator: " && ")
    }

    /// The same join over commands that interpolate params (`${train.epochs}`).
    static func template(_ commands: [CommandTemplate]) -> CommandTemplate {
        guard commands.count != 1 else { return commands[0] }
        var parts: [CommandTemplate.Part] = []
        for (index, command) in commands.enumerated() {
            parts.append(.text(index == 0 ? "( " : " && ( "))
            parts += command.parts
            parts.append(.text("\n)"))
        }
        return CommandTemplate(parts: parts)
    }
}
