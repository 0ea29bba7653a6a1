//! The syscall table against outside sources of truth: the kernel headers
//! installed on this machine and the shipped Falco rule files.
//!
//! Both sources are found at run time; when one is missing the test prints
//! why and passes (the pinned snapshots at the end keep the essentials
//! checked everywhere).
//!
//! What the Falco check covers (pragmatic, documented):
//! - every `evt.type` name in any condition of the three rule files (macros
//!   and rules; `=`, `==`, `!=`, `in (...)` with list names expanded) that is
//!   a syscall of the table has the `FALCO` group bit; names that are not
//!   syscalls (`switch`, `container`, `procexit`...) are ignored;
//! - for every rule, with its macros expanded recursively: each
//!   `evt.arg.NAME`/`evt.rawarg.NAME` its condition uses resolves, through
//!   [`Syscall::param`], on at least one syscall its condition names with
//!   `evt.type` (rules mix event types, e.g. `name` for openat and `path`
//!   for unlink, so "at least one" is what Falco itself guarantees), except
//!   the known Falco quirks in [`ARG_EXCEPTIONS`]. Outputs are not checked
//!   (they reference Falco's derived execve parameters such as `exe_flags`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use trace_format::syscalls::{self, ArgKind, Syscall, by_name, group, render_enum, render_flags};

const RULE_FILES: &[&str] = &[
    "falco_rules.yaml",
    "falco-incubating_rules.yaml",
    "falco-sandbox_rules.yaml",
];

/// `(evt.arg name, why it may resolve on none of a rule's syscalls)`.
const ARG_EXCEPTIONS: &[(&str, &str)] = &[(
    "filename",
    "macro runc_writing_var_lib_docker tests evt.arg.filename inside open-family rules \
     (write_below_root, drift); Falco's open events have no `filename` either, so the \
     comparison is false in Falco too",
)];

fn rules_dir() -> Option<PathBuf> {
    // `../shared/falco-rules` beside the checkout (.cargo/config.toml), or
    // the folder SYSREC_FALCO_RULES names.
    let dir = PathBuf::from(env!("SYSREC_FALCO_RULES"));
    RULE_FILES
        .iter()
        .all(|f| dir.join(f).is_file())
        .then_some(dir)
}

/// The items of Falco rule files, parsed just enough: conditions of rules
/// and macros, and items of lists.
#[derive(Default)]
struct Rules {
    /// rule name -> condition (appends concatenated).
    rules: BTreeMap<String, String>,
    macros: BTreeMap<String, String>,
    lists: BTreeMap<String, Vec<String>>,
}

impl Rules {
    fn parse(texts: &[String]) -> Rules {
        let mut out = Rules::default();
        for text in texts {
            let lines: Vec<&str> = text.lines().collect();
            let mut i = 0;
            // (kind, name) of the current item.
            let mut item: Option<(String, String)> = None;
            while i < lines.len() {
                let line = lines[i];
                if let Some(rest) = line.strip_prefix("- ") {
                    item = rest
                        .split_once(':')
                        .map(|(k, v)| (k.trim().to_string(), unquote(v.trim())));
                    i += 1;
                    continue;
                }
                let Some((kind, name)) = item.clone() else {
                    i += 1;
                    continue;
                };
                let key_line = line
                    .strip_prefix("  ")
                    .filter(|l| !l.starts_with(' ') && !l.starts_with('#'));
                let Some((key, first)) = key_line.and_then(|l| l.split_once(':')) else {
                    i += 1;
                    continue;
                };
                // The value: the rest of the line and every more-indented line.
                let mut value = first.trim().to_string();
                i += 1;
                while i < lines.len() && (lines[i].starts_with("   ") || lines[i].trim().is_empty())
                {
                    value.push(' ');
                    value.push_str(lines[i].trim());
                    i += 1;
                }
                let value = value.trim_start_matches(['>', '|', '-']).trim().to_string();
                match (kind.as_str(), key.trim()) {
                    ("rule", "condition") => push(&mut out.rules, &name, &value),
                    ("macro", "condition") => push(&mut out.macros, &name, &value),
                    ("list", "items") => {
                        let items = value
                            .trim_start_matches('[')
                            .trim_end_matches(']')
                            .split([',', ' ', '-'])
                            .map(|s| unquote(s.trim()))
                            .filter(|s| !s.is_empty());
                        out.lists.entry(name).or_default().extend(items);
                    }
                    _ => {}
                }
            }
        }
        out
    }

    /// `condition` with every macro it uses appended, recursively.
    fn expand(&self, condition: &str) -> String {
        let mut out = condition.to_string();
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = idents(condition);
        while let Some(t) = todo.pop() {
            if let Some(m) = self.macros.get(&t)
                && seen.insert(t)
            {
                out.push(' ');
                out.push_str(m);
                todo.extend(idents(m));
            }
        }
        out
    }

    /// Every event type named by `evt.type` in `condition`, lists expanded.
    fn event_types(&self, condition: &str) -> BTreeSet<String> {
        let mut types = BTreeSet::new();
        for (pos, _) in condition.match_indices("evt.type") {
            let rest = condition[pos + "evt.type".len()..].trim_start();
            let operand = if let Some(r) = rest.strip_prefix("in") {
                let r = r.trim_start();
                match (r.strip_prefix('('), r.find(')')) {
                    (Some(_), Some(end)) => &r[1..end],
                    _ => continue,
                }
            } else if let Some(r) = ["==", "!=", "="]
                .iter()
                .find_map(|op| rest.strip_prefix(op))
            {
                let r = r.trim_start();
                &r[..r
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(r.len())]
            } else {
                continue;
            };
            for name in operand.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                self.expand_list(name, &mut types, 0);
            }
        }
        types
    }

    fn expand_list(&self, name: &str, out: &mut BTreeSet<String>, depth: usize) {
        match self.lists.get(name) {
            Some(items) if depth < 16 => items
                .iter()
                .for_each(|i| self.expand_list(i, out, depth + 1)),
            _ => {
                out.insert(unquote(name));
            }
        }
    }
}

fn push(map: &mut BTreeMap<String, String>, name: &str, value: &str) {
    let entry = map.entry(name.to_string()).or_default();
    entry.push(' ');
    entry.push_str(value);
}

fn unquote(s: &str) -> String {
    s.trim_matches(['"', '\'']).to_string()
}

fn idents(s: &str) -> Vec<String> {
    s.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.'))
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect()
}

/// `evt.arg.NAME` and `evt.rawarg.NAME` names used in `condition`.
fn arg_names(condition: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for prefix in ["evt.arg.", "evt.rawarg."] {
        for (pos, _) in condition.match_indices(prefix) {
            let rest = &condition[pos + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            if end > 0 {
                names.insert(rest[..end].to_string());
            }
        }
    }
    names
}

fn load_rules() -> Option<Rules> {
    let Some(dir) = rules_dir() else {
        // CI always has ../shared beside the checkout: missing there is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "Falco rule files not found in ../shared/falco-rules"
        );
        eprintln!("skipped: Falco rule files not found (set SYSREC_FALCO_RULES to their folder)");
        return None;
    };
    let texts: Vec<String> = RULE_FILES
        .iter()
        .map(|f| std::fs::read_to_string(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}")))
        .collect();
    Some(Rules::parse(&texts))
}

#[test]
fn every_falco_event_type_that_is_a_syscall_has_the_falco_bit() {
    let Some(rules) = load_rules() else { return };
    let mut all = BTreeSet::new();
    for cond in rules.rules.values().chain(rules.macros.values()) {
        all.extend(rules.event_types(cond));
    }
    let syscalls: Vec<&Syscall> = all
        .iter()
        .filter_map(|n| syscalls::by_event_name(n))
        .collect();
    assert!(syscalls.len() >= 40, "parsed too few event types: {all:?}");
    let missing: Vec<&str> = syscalls
        .iter()
        .filter(|s| !s.is(group::FALCO))
        .map(|s| s.name)
        .collect();
    assert!(
        missing.is_empty(),
        "named by evt.type but without FALCO: {missing:?}"
    );
    // And the bit is not set on syscalls the rules do not name.
    let extra: Vec<&str> = syscalls::SYSCALLS
        .iter()
        .filter(|s| s.is(group::FALCO) && !all.contains(s.name))
        .map(|s| s.name)
        .collect();
    assert!(
        extra.is_empty(),
        "FALCO on syscalls no rule names: {extra:?}"
    );
}

#[test]
fn every_evt_arg_in_rule_conditions_resolves() {
    let Some(rules) = load_rules() else { return };
    let mut checked = 0;
    let mut failures = Vec::new();
    for (rule, cond) in &rules.rules {
        let cond = rules.expand(cond);
        let types: Vec<&Syscall> = rules
            .event_types(&cond)
            .iter()
            .filter_map(|n| syscalls::by_event_name(n))
            .collect();
        if types.is_empty() {
            continue;
        }
        for arg in arg_names(&cond) {
            checked += 1;
            let resolves = types.iter().any(|s| s.param(&arg).is_some());
            let excused = ARG_EXCEPTIONS.iter().any(|(n, _)| *n == arg);
            if !resolves && !excused {
                let names: Vec<&str> = types.iter().map(|s| s.name).collect();
                failures.push(format!("rule `{rule}`: evt.arg.{arg} on none of {names:?}"));
            }
        }
    }
    assert!(checked >= 20, "parsed too few evt.arg uses ({checked})");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn every_x86_64_header_syscall_is_in_the_table() {
    let path = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
    let Ok(text) = std::fs::read_to_string(path) else {
        eprintln!("skipped: {path} not found (install linux-libc-dev)");
        return;
    };
    let mut count = 0;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let (Some("#define"), Some(name), Some(nr)) = (words.next(), words.next(), words.next())
        else {
            continue;
        };
        let (Some(name), Ok(nr)) = (name.strip_prefix("__NR_"), nr.parse::<u16>()) else {
            continue;
        };
        count += 1;
        assert_eq!(syscalls::name(nr), Some(name), "x86_64 syscall {nr}");
    }
    assert!(count > 300, "parsed only {count} syscalls from {path}");
}

/// The event types the shipped rules name, pinned so the FALCO bits stay
/// checked where the rule files are absent.
#[test]
fn pinned_falco_syscalls() {
    let names = "accept accept4 bpf chmod connect creat dup dup2 dup3 execve execveat fchmod fchmodat \
                 finit_module init_module link linkat listen mkdir mkdirat open openat openat2 ptrace \
                 recvfrom recvmsg rename renameat renameat2 rmdir sendmsg sendto setns setuid socket \
                 symlink symlinkat unlink unlinkat unshare userfaultfd";
    for n in names.split_whitespace() {
        let s = by_name(n).unwrap_or_else(|| panic!("{n}"));
        assert!(s.is(group::FALCO), "{n}");
    }
}

/// `(syscall, evt.arg name, raw value, rendered)`: the parameters the shipped
/// rules test, rendered the way their conditions expect.
#[test]
fn pinned_falco_params_render() {
    let cases: &[(&str, &str, u64, &str)] = &[
        (
            "openat",
            "flags",
            0o1 | 0o100 | 0o1000,
            "O_WRONLY|O_CREAT|O_TRUNC",
        ),
        ("open", "flags", 0, "O_RDONLY"),
        ("chmod", "mode", 0o4755, "S_ISUID"),
        ("fchmodat", "mode", 0o2755, "S_ISGID"),
        ("fchmod", "mode", 0o755, "S_IXUSR"),
        ("ptrace", "request", 16, "PTRACE_ATTACH"),
        ("ptrace", "request", 0x4206, "PTRACE_SEIZE"),
        ("ptrace", "request", 0, "PTRACE_TRACEME"),
        ("ptrace", "request", 5, "PTRACE_POKEDATA"),
        ("ptrace", "request", 13, "PTRACE_SETREGS"),
        ("socket", "domain", 17, "AF_PACKET"),
        ("bpf", "cmd", 5, "BPF_PROG_LOAD"),
        ("unshare", "flags", 0x1000_0000, "CLONE_NEWUSER"),
        (
            "clone",
            "flags",
            0x0120_0011,
            "CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD",
        ),
    ];
    for &(sc, arg, raw, expected) in cases {
        let s = by_name(sc).unwrap();
        let (_, kind) = s.param(arg).unwrap_or_else(|| panic!("{sc}.{arg}"));
        let rendered = match kind {
            ArgKind::Flags(set) => render_flags(set, raw),
            ArgKind::Enum(set) => render_enum(set, raw),
            k => panic!("{sc}.{arg}: {k:?}"),
        };
        assert!(
            rendered.contains(expected),
            "{sc}.{arg} {raw:#x}: {rendered}"
        );
    }
    for (sc, args) in [
        ("setuid", &["uid"][..]),
        ("symlink", &["target", "linkpath"]),
        ("symlinkat", &["target", "linkpath"]),
        ("link", &["oldpath", "newpath"]),
        ("linkat", &["oldpath", "newpath"]),
        ("rename", &["oldpath", "newpath"]),
        ("renameat", &["oldpath", "newpath"]),
        ("renameat2", &["oldpath", "newpath"]),
        ("unlink", &["path"]),
        ("rmdir", &["path"]),
        ("unlinkat", &["name"]),
        ("mkdir", &["path"]),
        ("mkdirat", &["path"]),
        ("open", &["name", "flags", "mode", "fd"]),
        ("openat", &["name", "flags", "mode", "fd", "dirfd"]),
        (
            "openat2",
            &["name", "flags", "mode", "fd", "dirfd", "resolve"],
        ),
        ("chmod", &["filename", "mode"]),
        ("fchmodat", &["filename", "mode"]),
        ("execve", &["filename"]),
        ("connect", &["fd", "addr"]),
        ("read", &["fd", "data", "size", "res"]),
    ] {
        let s = by_name(sc).unwrap();
        for a in args {
            assert!(s.param(a).is_some(), "{sc}.{a}");
        }
    }
}
