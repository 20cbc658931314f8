/// What every command that takes a run says about the names it accepts (`RunReference`).
enum RunHelp {
    /// The names a run goes by, for the help of an argument or option.
    static let names = "its id, a unique prefix of it, its random suffix, latest or latest~N (see `plumb history`)"
    /// The help of a RUN argument.
    static let positional = "A run: \(names)."

    /// A paragraph for a command's discussion.
    static let discussion = """
    RUN is a run id (20261203-132813-ef17cd), any unique prefix of it (20261203-1328), its random
    suffix alone or the start of it (ef17cd), `latest` (the environment's last run: --env, else the
    only environment, else dev) or `latest~N` (the Nth run before it, in `plumb history` order).
    A name that matches several runs is refused with the candidates; without --env, every
    environment's runs are searched.
    """
}
