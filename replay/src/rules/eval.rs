//! The compiled evaluator tree and its evaluation.
//!
//! Built by [`compile`](super::compile). Constants are already typed:
//! byte strings, integers, networks, compiled globs and regexes, hash sets
//! for long `in` lists.
//!
//! **Invariant:** evaluating a comparison on a field without a value yields
//! `false`, whatever the operator (`!=` included); `exists` is `false` too.
//!
//! **Invariant:** evaluating a single-valued field with a constant does not
//! allocate and does no string lookup; only transformers, `val()` operands
//! and values of an unexpected variant (e.g. a number for a string field)
//! take the slower path.

use std::collections::HashSet;
use std::net::IpAddr;

use memchr::memmem;

use super::ast::{BinOp, Transformer};
use super::fields::FieldRef;
use super::glob::Glob;
use super::source::{FieldSource, FieldValue, OwnedValue};

/// A compiled condition.
#[derive(Debug)]
pub struct Filter {
    pub(crate) root: Node,
}

impl Filter {
    /// Evaluates the condition against the current event of `src`.
    pub fn eval<S: FieldSource + ?Sized>(&self, src: &mut S) -> bool {
        self.root.eval(src, &mut Memo::default())
    }

    /// [`Filter::eval`], sharing `memo` with the other filters evaluated on
    /// the same event (cleared by the caller between events).
    pub fn eval_with<S: FieldSource + ?Sized>(&self, src: &mut S, memo: &mut Memo) -> bool {
        self.root.eval(src, memo)
    }
}

/// What each expanded macro evaluated to on the current event, by slot.
///
/// A macro's body is the same tree wherever it is used (lists and macros
/// are resolved once per ruleset) and evaluating it reads the event and
/// nothing else, so its result on one event is the same in every rule:
/// Falco's files repeat `open_read`, `spawned_process` or `container` in
/// dozens of rules, and each is evaluated once per event.
///
/// **Invariant:** a memo holds results of one event only; whoever
/// evaluates several filters on an event calls [`Memo::reset`] before the
/// first (tested: `rules::eval::tests::memo_is_per_event`).
#[derive(Debug, Default)]
pub struct Memo {
    /// 0: not evaluated yet; 1: false; 2: true. Slots beyond the end are
    /// not evaluated yet.
    vals: Vec<u8>,
}

impl Memo {
    /// Forgets every result, for a new event with `slots` macro slots.
    pub fn reset(&mut self, slots: usize) {
        self.vals.clear();
        self.vals.resize(slots, 0);
    }

    fn get(&self, slot: u32) -> Option<bool> {
        match self.vals.get(slot as usize) {
            Some(1) => Some(false),
            Some(2) => Some(true),
            _ => None,
        }
    }

    fn set(&mut self, slot: u32, v: bool) {
        if let Some(x) = self.vals.get_mut(slot as usize) {
            *x = 1 + u8::from(v);
        }
    }
}

#[derive(Debug)]
pub(crate) enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    Check(Box<Check>),
    /// An expanded macro: its slot in the [`Memo`] and its body.
    Memo(u32, Box<Node>),
}

#[derive(Debug)]
pub(crate) struct Check {
    pub lhs: Operand,
    pub test: Test,
}

#[derive(Debug)]
pub(crate) enum Operand {
    Field(FieldRef),
    Transform(Transformer, Box<Operand>),
}

#[derive(Debug)]
pub(crate) enum Test {
    Exists,
    /// A test on one value; true if any value passes.
    Value(ValueTest),
    /// `in` on a list field: every value in the set (and at least one value).
    All(ValueTest),
    /// Comparison with another field's (or transformer's) value.
    Field(BinOp, Operand),
}

#[derive(Debug)]
pub(crate) enum ValueTest {
    Str { test: StrTest, negate: bool },
    Int { test: IntTest, negate: bool },
    Float { test: FloatTest, negate: bool },
    Ip { nets: Box<[IpNet]>, negate: bool },
    Bool { set: Box<[bool]>, negate: bool },
}

#[derive(Debug)]
pub(crate) enum StrTest {
    Eq(Box<[u8]>),
    Lt(Box<[u8]>),
    Le(Box<[u8]>),
    Gt(Box<[u8]>),
    Ge(Box<[u8]>),
    Contains(Box<memmem::Finder<'static>>),
    /// Needle already lowercased (ASCII).
    IContains(Box<[u8]>),
    StartsWith(Box<[u8]>),
    EndsWith(Box<[u8]>),
    Glob(Glob),
    Regex(regex::bytes::Regex),
    In(StrSet),
    PMatch(Box<[Box<[u8]>]>),
}

#[derive(Debug)]
pub(crate) enum StrSet {
    Small(Box<[Box<[u8]>]>),
    Hash(HashSet<Box<[u8]>>),
}

impl StrSet {
    pub(crate) fn new(items: Vec<Box<[u8]>>) -> StrSet {
        if items.len() > 8 {
            StrSet::Hash(items.into_iter().collect())
        } else {
            StrSet::Small(items.into())
        }
    }

    fn contains(&self, v: &[u8]) -> bool {
        match self {
            StrSet::Small(items) => items.iter().any(|i| &**i == v),
            StrSet::Hash(set) => set.contains(v),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn holds<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

#[derive(Debug)]
pub(crate) enum IntTest {
    Cmp(Cmp, i128),
    In(Box<[i128]>),
}

#[derive(Debug)]
pub(crate) enum FloatTest {
    Cmp(Cmp, f64),
    In(Box<[f64]>),
}

/// An IP network (an address is a network with a full prefix).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub(crate) fn parse(s: &str) -> Option<IpNet> {
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.trim().parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            Some(p) => p.trim().parse::<u8>().ok().filter(|&p| p <= max)?,
            None => max,
        };
        Some(IpNet { addr, prefix })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        // IPv4-mapped IPv6 addresses compare as IPv4.
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl Node {
    fn eval<S: FieldSource + ?Sized>(&self, src: &mut S, memo: &mut Memo) -> bool {
        match self {
            Node::And(c) => c.iter().all(|n| n.eval(src, memo)),
            Node::Or(c) => c.iter().any(|n| n.eval(src, memo)),
            Node::Not(n) => !n.eval(src, memo),
            Node::Check(c) => c.eval(src),
            Node::Memo(slot, body) => match memo.get(*slot) {
                Some(v) => v,
                None => {
                    let v = body.eval(src, memo);
                    memo.set(*slot, v);
                    v
                }
            },
        }
    }
}

impl Check {
    fn eval<S: FieldSource + ?Sized>(&self, src: &mut S) -> bool {
        // Fast path: one plain single-valued field.
        if let (Operand::Field(f), Test::Value(t)) = (&self.lhs, &self.test)
            && !f.is_multi()
        {
            return match src.get(f) {
                Some(v) => t.test(v),
                None => false,
            };
        }
        match &self.test {
            Test::Exists => {
                let mut any = false;
                visit(&self.lhs, src, &mut |_| {
                    any = true;
                    false
                });
                any
            }
            Test::Value(t) => {
                let mut hit = false;
                visit(&self.lhs, src, &mut |v| {
                    hit = t.test(v);
                    !hit
                });
                hit
            }
            Test::All(t) => {
                let (mut n, mut all) = (0usize, true);
                visit(&self.lhs, src, &mut |v| {
                    n += 1;
                    all = t.test(v);
                    all
                });
                n > 0 && all
            }
            Test::Field(op, rhs) => {
                let mut right: Option<OwnedValue> = None;
                visit(rhs, src, &mut |v| {
                    right = Some(v.to_owned_value());
                    false
                });
                let Some(right) = right else { return false };
                let mut hit = false;
                visit(&self.lhs, src, &mut |v| {
                    hit = compare_dynamic(*op, v, right.as_value());
                    !hit
                });
                hit
            }
        }
    }
}

/// Calls `f` with each value of `op` until it returns `false`.
fn visit<S: FieldSource + ?Sized>(
    op: &Operand,
    src: &mut S,
    f: &mut dyn FnMut(FieldValue<'_>) -> bool,
) {
    match op {
        Operand::Field(r) => {
            if r.is_multi() {
                src.for_each(r, f);
            } else if let Some(v) = src.get(r) {
                f(v);
            }
        }
        Operand::Transform(Transformer::Len, inner) if matches!(&**inner, Operand::Field(r) if r.is_multi()) =>
        {
            let mut n = 0u64;
            visit(inner, src, &mut |_| {
                n += 1;
                true
            });
            f(FieldValue::U64(n));
        }
        Operand::Transform(t, inner) => {
            let t = *t;
            visit(inner, src, &mut |v| match transform(t, v) {
                Some(o) => f(o.as_value()),
                None => true,
            });
        }
    }
}

/// Applies a transformer to one value (`None`: no value, e.g. bad base64).
pub(crate) fn transform(t: Transformer, v: FieldValue<'_>) -> Option<OwnedValue> {
    let bytes: std::borrow::Cow<'_, [u8]> = match v {
        FieldValue::Str(s) => s.as_bytes().into(),
        FieldValue::Bytes(b) => b.into(),
        other => other.to_string().into_bytes().into(),
    };
    let to_value = |b: Vec<u8>| match String::from_utf8(b) {
        Ok(s) => OwnedValue::Str(s),
        Err(e) => OwnedValue::Bytes(e.into_bytes()),
    };
    Some(match t {
        Transformer::ToLower => to_value(bytes.to_ascii_lowercase()),
        Transformer::ToUpper => to_value(bytes.to_ascii_uppercase()),
        Transformer::Len => OwnedValue::U64(bytes.len() as u64),
        Transformer::Basename => {
            let b: &[u8] = &bytes;
            let base = match b.iter().rposition(|&c| c == b'/') {
                Some(i) => &b[i + 1..],
                None => b,
            };
            to_value(base.to_vec())
        }
        Transformer::B64 => to_value(b64_decode(&bytes)?),
    })
}

fn b64_decode(input: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &c in input {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' => break,
            b'\n' | b'\r' | b' ' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

fn with_bytes<R>(v: FieldValue<'_>, f: impl FnOnce(&[u8]) -> R) -> R {
    match v {
        FieldValue::Str(s) => f(s.as_bytes()),
        FieldValue::Bytes(b) => f(b),
        other => f(other.to_string().as_bytes()),
    }
}

fn contains_ignore_case(hay: &[u8], lowered_needle: &[u8]) -> bool {
    if lowered_needle.is_empty() {
        return true;
    }
    hay.windows(lowered_needle.len()).any(|w| {
        w.iter()
            .zip(lowered_needle)
            .all(|(a, b)| a.to_ascii_lowercase() == *b)
    })
}

fn path_prefix(value: &[u8], prefix: &[u8]) -> bool {
    value.starts_with(prefix)
        && (value.len() == prefix.len()
            || prefix.last() == Some(&b'/')
            || value.get(prefix.len()) == Some(&b'/'))
}

impl StrTest {
    fn test(&self, v: &[u8]) -> bool {
        match self {
            StrTest::Eq(c) => v == &**c,
            StrTest::Lt(c) => v < &**c,
            StrTest::Le(c) => v <= &**c,
            StrTest::Gt(c) => v > &**c,
            StrTest::Ge(c) => v >= &**c,
            StrTest::Contains(f) => f.find(v).is_some(),
            StrTest::IContains(n) => contains_ignore_case(v, n),
            StrTest::StartsWith(c) => v.starts_with(c),
            StrTest::EndsWith(c) => v.ends_with(c),
            StrTest::Glob(g) => g.matches(v),
            StrTest::Regex(r) => r.is_match(v),
            StrTest::In(set) => set.contains(v),
            StrTest::PMatch(ps) => ps.iter().any(|p| path_prefix(v, p)),
        }
    }
}

impl ValueTest {
    fn test(&self, v: FieldValue<'_>) -> bool {
        match self {
            ValueTest::Str { test, negate } => with_bytes(v, |b| test.test(b)) != *negate,
            ValueTest::Int { test, negate } => match v.as_i128() {
                Some(n) => {
                    let hit = match test {
                        IntTest::Cmp(c, k) => c.holds(n, *k),
                        IntTest::In(set) => set.contains(&n),
                    };
                    hit != *negate
                }
                None => false,
            },
            ValueTest::Float { test, negate } => {
                let n = match v {
                    FieldValue::Double(d) => d,
                    FieldValue::Str(s) => match s.trim().parse() {
                        Ok(d) => d,
                        Err(_) => return false,
                    },
                    other => match other.as_i128() {
                        Some(i) => i as f64,
                        None => return false,
                    },
                };
                let hit = match test {
                    FloatTest::Cmp(c, k) => c.holds(n, *k),
                    FloatTest::In(set) => set.contains(&n),
                };
                hit != *negate
            }
            ValueTest::Ip { nets, negate } => {
                let ip = match v {
                    FieldValue::Ip(ip) => ip,
                    FieldValue::Str(s) => match s.parse() {
                        Ok(ip) => ip,
                        Err(_) => return false,
                    },
                    _ => return false,
                };
                nets.iter().any(|n| n.contains(ip)) != *negate
            }
            ValueTest::Bool { set, negate } => {
                let b = match v {
                    FieldValue::Bool(b) => b,
                    FieldValue::Str("true") => true,
                    FieldValue::Str("false") => false,
                    other => match other.as_i128() {
                        Some(n) => n != 0,
                        None => return false,
                    },
                };
                set.contains(&b) != *negate
            }
        }
    }
}

/// Compares two runtime values (for `val()` and transformed right-hand sides).
fn compare_dynamic(op: BinOp, l: FieldValue<'_>, r: FieldValue<'_>) -> bool {
    let numeric = |v: &FieldValue<'_>| {
        !matches!(
            v,
            FieldValue::Str(_) | FieldValue::Bytes(_) | FieldValue::Ip(_)
        )
    };
    let ord = if numeric(&l) || numeric(&r) {
        match (l.as_i128(), r.as_i128()) {
            (Some(a), Some(b)) => Some(a.cmp(&b)),
            _ => None,
        }
    } else if let (FieldValue::Ip(a), FieldValue::Ip(b)) = (l, r) {
        Some(a.cmp(&b))
    } else {
        None
    };
    let ord = ord.unwrap_or_else(|| with_bytes(l, |a| with_bytes(r, |b| a.cmp(b))));
    use std::cmp::Ordering::*;
    match op {
        BinOp::Eq | BinOp::EqEq | BinOp::In | BinOp::Intersects => ord == Equal,
        BinOp::Ne => ord != Equal,
        BinOp::Lt => ord == Less,
        BinOp::Le => ord != Greater,
        BinOp::Gt => ord == Greater,
        BinOp::Ge => ord != Less,
        BinOp::Contains | BinOp::BContains => {
            with_bytes(l, |a| with_bytes(r, |b| memmem::find(a, b).is_some()))
        }
        BinOp::IContains => with_bytes(l, |a| {
            with_bytes(r, |b| contains_ignore_case(a, &b.to_ascii_lowercase()))
        }),
        BinOp::StartsWith | BinOp::BStartsWith => {
            with_bytes(l, |a| with_bytes(r, |b| a.starts_with(b)))
        }
        BinOp::EndsWith => with_bytes(l, |a| with_bytes(r, |b| a.ends_with(b))),
        BinOp::PMatch => with_bytes(l, |a| with_bytes(r, |b| path_prefix(a, b))),
        // Rejected at compile time.
        BinOp::Glob | BinOp::IGlob | BinOp::Regex => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{FieldId, FieldRef, LoadOptions, RuleMatching, RulesetLoader};

    /// An event with a process name, counting the field reads.
    struct Ev {
        name: &'static str,
        reads: usize,
    }

    impl FieldSource for Ev {
        fn get(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
            self.reads += 1;
            match f.id {
                FieldId::ProcName => Some(FieldValue::Str(self.name)),
                FieldId::EvtType => Some(FieldValue::Str("execve")),
                _ => None,
            }
        }
    }

    #[test]
    fn memo_is_per_event() {
        // Three rules share the macro `shell`; one negates it.
        let yaml = r#"
- macro: shell
  condition: proc.name in (sh, bash) and evt.type = execve
- rule: a
  desc: a
  condition: evt.type = execve and shell
  output: a
  priority: WARNING
- rule: b
  desc: b
  condition: evt.type = execve and shell and proc.name = bash
  output: b
  priority: WARNING
- rule: c
  desc: c
  condition: evt.type = execve and not shell
  output: c
  priority: WARNING
"#;
        let mut l = RulesetLoader::new();
        l.load_str("memo.yaml", yaml).unwrap();
        let set = l
            .compile(&LoadOptions {
                rule_matching: RuleMatching::All,
                ..LoadOptions::default()
            })
            .unwrap();
        let execve = set.event_type("execve");
        let fire = |name: &'static str| {
            let mut ev = Ev { name, reads: 0 };
            let names: Vec<String> = set
                .match_event(&mut ev, execve)
                .iter()
                .map(|r| r.name.clone())
                .collect();
            (names, ev.reads)
        };
        // The macro's two reads happen once, not once per rule: 3 rules
        // x 1 `evt.type` + 2 for the macro + 1 for rule b's own check.
        assert_eq!(fire("bash"), (vec!["a".to_string(), "b".to_string()], 6));
        // The next event gets its own results, not the last event's.
        assert_eq!(fire("ls").0, vec!["c".to_string()]);
        assert_eq!(fire("sh").0, vec!["a".to_string()]);
    }

    #[test]
    fn networks() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.0.0.1".parse().unwrap()));
        let all = IpNet::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("1.2.3.4".parse().unwrap()));
        let v6 = IpNet::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(IpNet::parse("1.2.3.4/33").is_none());
        assert!(IpNet::parse("nope").is_none());
    }

    #[test]
    fn transformers() {
        let s = |v: Option<OwnedValue>| v.map(|v| v.to_string());
        assert_eq!(
            s(transform(Transformer::ToLower, FieldValue::Str("AbC"))),
            Some("abc".into())
        );
        assert_eq!(
            s(transform(
                Transformer::Basename,
                FieldValue::Str("/usr/bin/ls")
            )),
            Some("ls".into())
        );
        assert_eq!(
            s(transform(Transformer::B64, FieldValue::Str("aGVsbG8="))),
            Some("hello".into())
        );
        assert_eq!(
            transform(Transformer::Len, FieldValue::Str("abcd")),
            Some(OwnedValue::U64(4))
        );
        assert_eq!(transform(Transformer::B64, FieldValue::Str("!!")), None);
    }

    #[test]
    fn path_prefixes() {
        assert!(path_prefix(b"/usr/bin/ls", b"/usr/bin"));
        assert!(path_prefix(b"/usr/bin", b"/usr/bin"));
        assert!(path_prefix(b"/usr/bin/ls", b"/usr/bin/"));
        assert!(!path_prefix(b"/usr/binx", b"/usr/bin"));
        assert!(path_prefix(b"/etc", b"/"));
    }
}
