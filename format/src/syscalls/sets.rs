//! Named syscall sets for `capture --syscalls`.
//!
//! A set spec is a comma-separated list of set names ([`SET_NAMES`]: `all`,
//! `falco`, `file`, `net`, `process`, `state`) and syscall names, e.g.
//! `file,connect,sendto`. Parsing is one step from text to a [`SyscallSet`]
//! (parse, don't validate); unknown names are an error that suggests close
//! matches.
//!
//! **Invariant:** every set [`parse_set`] returns contains every `STATE`
//! syscall, so capture's process and fd model stays right whatever the user
//! asks for.

use super::group::{FALCO, FILE, NET, PROCESS, STATE};
use super::{SYSCALLS, by_id, by_name};

/// The set names [`parse_set`] and [`set_by_name`] accept.
pub const SET_NAMES: &[&str] = &["all", "falco", "file", "net", "process", "state"];

/// Largest canonical id a [`SyscallSet`] can hold, plus one.
const CAPACITY: usize = 1280;

/// A set of canonical syscall ids (a bitset).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SyscallSet {
    words: [u64; CAPACITY / 64],
}

impl Default for SyscallSet {
    fn default() -> Self {
        SyscallSet::new()
    }
}

impl std::fmt::Debug for SyscallSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set()
            .entries(self.iter().map(|id| super::name(id).unwrap_or("?")))
            .finish()
    }
}

impl SyscallSet {
    /// The empty set.
    pub const fn new() -> Self {
        SyscallSet {
            words: [0; CAPACITY / 64],
        }
    }

    /// Every syscall of the table in any of `groups` (a [`super::group`] bit
    /// set).
    pub fn with_groups(groups: u8) -> Self {
        let mut set = SyscallSet::new();
        for s in SYSCALLS.iter().filter(|s| s.groups & groups != 0) {
            set.insert(s.id);
        }
        set
    }

    /// Every syscall of the table.
    pub fn all() -> Self {
        let mut set = SyscallSet::new();
        for s in SYSCALLS {
            set.insert(s.id);
        }
        set
    }

    /// Adds `id`; ids beyond the capacity are ignored (the table has none).
    pub fn insert(&mut self, id: u16) {
        let i = usize::from(id);
        if i < CAPACITY {
            self.words[i / 64] |= 1 << (i % 64);
        }
    }

    pub fn contains(&self, id: u16) -> bool {
        let i = usize::from(id);
        i < CAPACITY && self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// Adds every id of `other`.
    pub fn extend(&mut self, other: &SyscallSet) {
        for (w, o) in self.words.iter_mut().zip(other.words.iter()) {
            *w |= o;
        }
    }

    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (0..CAPACITY as u16).filter(|id| self.contains(*id))
    }
}

/// Why a `--syscalls` spec was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SetError {
    #[error("empty syscall set: name a set ({}) or syscalls", SET_NAMES.join(", "))]
    Empty,
    #[error("unknown syscall or set `{name}`{}", did_you_mean(.suggestions))]
    Unknown {
        name: String,
        /// Close matches, best first (at most five).
        suggestions: Vec<&'static str>,
    },
}

fn did_you_mean(suggestions: &[&str]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!(
            " (did you mean {}?)",
            suggestions
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// The ids of set `name` ([`SET_NAMES`]), `STATE` syscalls included, or of
/// the single syscall `name` plus the `STATE` syscalls.
pub fn set_by_name(name: &str) -> Option<Vec<u16>> {
    parse_set(name).ok().map(|s| s.iter().collect())
}

/// Parses a `--syscalls` spec (see the module docs). The `STATE` syscalls
/// are always included.
pub fn parse_set(spec: &str) -> Result<SyscallSet, SetError> {
    let mut set = SyscallSet::with_groups(STATE);
    let mut any = false;
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        any = true;
        let groups = match item {
            "all" => {
                set.extend(&SyscallSet::all());
                continue;
            }
            "falco" => FALCO,
            "file" => FILE,
            "net" => NET,
            "process" => PROCESS,
            "state" => STATE,
            _ => {
                let s = by_name(item).ok_or_else(|| SetError::Unknown {
                    name: item.to_string(),
                    suggestions: suggest(item),
                })?;
                set.insert(s.id);
                continue;
            }
        };
        set.extend(&SyscallSet::with_groups(groups));
    }
    if !any {
        return Err(SetError::Empty);
    }
    debug_assert!(
        SYSCALLS
            .iter()
            .filter(|s| s.is(STATE))
            .all(|s| set.contains(s.id))
    );
    debug_assert!(set.iter().all(|id| by_id(id).is_some()));
    Ok(set)
}

/// Up to five known names close to `name`: by edit distance (at most 2, or
/// a third of the name), or sharing a prefix of at least four characters.
fn suggest(name: &str) -> Vec<&'static str> {
    let max = (name.len() / 3).max(2);
    let mut scored: Vec<(usize, &'static str)> = SET_NAMES
        .iter()
        .copied()
        .chain(SYSCALLS.iter().map(|s| s.name))
        .filter_map(|cand| {
            let d = edit_distance(name, cand);
            let prefix = name.len() >= 4 && (cand.starts_with(name) || name.starts_with(cand));
            (d <= max || prefix).then_some((d, cand))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, c)| c).collect()
}

/// Levenshtein distance over bytes.
fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state_count() -> usize {
        SYSCALLS.iter().filter(|s| s.is(STATE)).count()
    }

    #[test]
    fn named_sets_include_state() {
        let state = SyscallSet::with_groups(STATE);
        for name in SET_NAMES {
            let set = parse_set(name).unwrap();
            for id in state.iter() {
                assert!(set.contains(id), "{name} lacks {id}");
            }
        }
        assert_eq!(parse_set("all").unwrap().len(), SYSCALLS.len());
        assert_eq!(parse_set("state").unwrap().len(), state_count());
        let falco = parse_set("falco").unwrap();
        assert!(falco.contains(101), "ptrace");
        assert!(!falco.contains(0), "read is not used by the rules");
        let net = parse_set("net").unwrap();
        assert!(net.contains(44) && !net.contains(0));
    }

    #[test]
    fn comma_lists() {
        let set = parse_set("read, write,file").unwrap();
        assert!(set.contains(0) && set.contains(1) && set.contains(87));
        assert_eq!(
            set_by_name("read").map(|v| v.len()),
            Some(state_count() + 1)
        );
        assert_eq!(set_by_name("nope"), None);
        assert_eq!(parse_set(" , "), Err(SetError::Empty));
    }

    #[test]
    fn unknown_names_suggest() {
        let err = parse_set("file,opnat").unwrap_err();
        match &err {
            SetError::Unknown { name, suggestions } => {
                assert_eq!(name, "opnat");
                assert_eq!(suggestions.first(), Some(&"openat"));
            }
            e => panic!("{e:?}"),
        }
        assert!(
            err.to_string()
                .starts_with("unknown syscall or set `opnat` (did you mean `openat`"),
            "{err}"
        );
        let err = parse_set("proces").unwrap_err();
        assert!(err.to_string().contains("`process`"), "{err}");
        let err = parse_set("zzzzzzzzzzzzzzzz").unwrap_err();
        assert_eq!(err.to_string(), "unknown syscall or set `zzzzzzzzzzzzzzzz`");
    }

    #[test]
    fn bitset_basics() {
        let mut s = SyscallSet::new();
        assert!(s.is_empty());
        s.insert(3);
        s.insert(1279);
        s.insert(5000);
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![3, 1279]);
        assert!(!s.contains(5000));
    }
}
