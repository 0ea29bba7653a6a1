//! Named flag sets and enumerations used by the syscall table, and their
//! rendering as Falco and strace print them (`O_RDONLY|O_CLOEXEC`).

/// A set of named values: bits of a flag word, or values of an enumeration.
#[derive(Debug, PartialEq, Eq)]
pub struct FlagSet {
    /// The set's name (e.g. `open_flags`).
    pub name: &'static str,
    /// (value, name) pairs. For a bit set, values are single bits or masks;
    /// a zero value names the empty set (`O_RDONLY`).
    pub values: &'static [(u64, &'static str)],
}

/// `open(2)` flags.
pub static OPEN_FLAGS: FlagSet = FlagSet {
    name: "open_flags",
    values: &[
        (0o0, "O_RDONLY"),
        (0o1, "O_WRONLY"),
        (0o2, "O_RDWR"),
        (0o100, "O_CREAT"),
        (0o200, "O_EXCL"),
        (0o400, "O_NOCTTY"),
        (0o1000, "O_TRUNC"),
        (0o2000, "O_APPEND"),
        (0o4000, "O_NONBLOCK"),
        (0o10000, "O_DSYNC"),
        (0o20000, "O_ASYNC"),
        (0o40000, "O_DIRECT"),
        (0o100000, "O_LARGEFILE"),
        (0o200000, "O_DIRECTORY"),
        (0o400000, "O_NOFOLLOW"),
        (0o1000000, "O_NOATIME"),
        (0o2000000, "O_CLOEXEC"),
        (0o4010000, "O_SYNC"),
        (0o10000000, "O_PATH"),
        (0o20200000, "O_TMPFILE"),
    ],
};

/// Renders `value` as the names of the bits set in it, joined by `|`; bits
/// without a name are appended in hex. A zero value renders as the set's
/// zero-valued name if it has one, else `0`.
pub fn render_flags(set: &FlagSet, value: u64) -> String {
    let mut out = String::new();
    let mut rest = value;
    // Multi-bit names (O_SYNC, O_TMPFILE) first, so they win over their parts.
    let mut named: Vec<&(u64, &str)> = set.values.iter().filter(|(v, _)| *v != 0).collect();
    named.sort_by_key(|(v, _)| std::cmp::Reverse(v.count_ones()));
    for (bits, name) in named {
        if rest & bits == *bits {
            if !out.is_empty() {
                out.push('|');
            }
            out.push_str(name);
            rest &= !bits;
        }
    }
    if rest != 0 {
        if !out.is_empty() {
            out.push('|');
        }
        out.push_str(&format!("{rest:#x}"));
    }
    if out.is_empty() {
        return set
            .values
            .iter()
            .find(|(v, _)| *v == 0)
            .map_or_else(|| "0".to_string(), |(_, n)| n.to_string());
    }
    out
}

/// Renders one value of an enumeration, or the number when it has no name.
pub fn render_enum(set: &FlagSet, value: u64) -> String {
    set.values
        .iter()
        .find(|(v, _)| *v == value)
        .map_or_else(|| value.to_string(), |(_, n)| n.to_string())
}
