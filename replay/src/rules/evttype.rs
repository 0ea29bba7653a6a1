//! Which event types a condition can match (Falco's `filter_evttype_resolver`).
//!
//! `evt.type = x` and `evt.type in (...)` give their names; `!=` and `not`
//! give "everything but"; `and` intersects, `or` unites, and negation is
//! pushed down by De Morgan, so `not (evt.type = open and proc.name = x)`
//! rightly matches every type. Any other check matches every type.
//!
//! **Invariant:** the set is a superset of the types for which the condition
//! can be true, so indexing rules by it never loses a match.

use std::collections::BTreeSet;

use super::ast::{BinOp, Expr, ExprKind, Operand, Rhs};

/// A set of event type names, possibly infinite.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvtTypes {
    /// Exactly these types (may be empty: the rule can never match).
    Only(BTreeSet<String>),
    /// Every type except these (empty: every type).
    Except(BTreeSet<String>),
}

impl EvtTypes {
    /// Every type.
    pub fn all() -> EvtTypes {
        EvtTypes::Except(BTreeSet::new())
    }

    /// Whether the set contains `name`.
    pub fn contains(&self, name: &str) -> bool {
        match self {
            EvtTypes::Only(s) => s.contains(name),
            EvtTypes::Except(s) => !s.contains(name),
        }
    }

    /// Whether the set is unbounded (the rule is evaluated for every event type).
    pub fn is_unbounded(&self) -> bool {
        matches!(self, EvtTypes::Except(_))
    }

    fn and(self, other: EvtTypes) -> EvtTypes {
        use EvtTypes::*;
        match (self, other) {
            (Only(a), Only(b)) => Only(a.intersection(&b).cloned().collect()),
            (Only(a), Except(b)) | (Except(b), Only(a)) => {
                Only(a.difference(&b).cloned().collect())
            }
            (Except(a), Except(b)) => Except(a.union(&b).cloned().collect()),
        }
    }

    fn or(self, other: EvtTypes) -> EvtTypes {
        use EvtTypes::*;
        match (self, other) {
            (Only(a), Only(b)) => Only(a.union(&b).cloned().collect()),
            (Only(a), Except(b)) | (Except(b), Only(a)) => {
                Except(b.difference(&a).cloned().collect())
            }
            (Except(a), Except(b)) => Except(a.intersection(&b).cloned().collect()),
        }
    }
}

/// The event types `e` can match (macros must be expanded).
pub fn resolve(e: &Expr) -> EvtTypes {
    walk(e, false)
}

fn walk(e: &Expr, negated: bool) -> EvtTypes {
    match &e.kind {
        ExprKind::And(c) | ExprKind::Or(c) => {
            // Under negation, `and` behaves as `or` and vice versa.
            let conj = matches!(e.kind, ExprKind::And(_)) != negated;
            let mut it = c.iter().map(|x| walk(x, negated));
            let first = it.next().unwrap_or_else(EvtTypes::all);
            it.fold(first, |acc, x| if conj { acc.and(x) } else { acc.or(x) })
        }
        ExprKind::Not(inner) => walk(inner, !negated),
        ExprKind::Expanded(_, body) => walk(body, negated),
        ExprKind::Compare(
            Operand::Field {
                name, arg: None, ..
            },
            op,
            rhs,
        ) if name == "evt.type" => {
            let names: BTreeSet<String> = match (op, rhs) {
                (BinOp::Eq | BinOp::EqEq | BinOp::Ne | BinOp::In, Rhs::Value(v, _)) => {
                    [v.clone()].into()
                }
                (BinOp::In, Rhs::List(vs, _)) => vs.iter().cloned().collect(),
                _ => return EvtTypes::all(),
            };
            let positive = (*op != BinOp::Ne) != negated;
            if positive {
                EvtTypes::Only(names)
            } else {
                EvtTypes::Except(names)
            }
        }
        _ => EvtTypes::all(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parser::parse;

    fn check(cond: &str, expected: &str) {
        let got = resolve(&parse(cond).unwrap());
        let s = match got {
            EvtTypes::Only(s) => format!("only {}", s.into_iter().collect::<Vec<_>>().join(",")),
            EvtTypes::Except(s) if s.is_empty() => "all".to_owned(),
            EvtTypes::Except(s) => {
                format!("except {}", s.into_iter().collect::<Vec<_>>().join(","))
            }
        };
        assert_eq!(s, expected, "{cond}");
    }

    #[test]
    fn resolves() {
        check("evt.type = open", "only open");
        check(
            "evt.type in (open, openat) and proc.name = x",
            "only open,openat",
        );
        check("evt.type = open or evt.type = close", "only close,open");
        check("evt.type = open or proc.name = x", "all");
        check("proc.name = x", "all");
        check("evt.type != open", "except open");
        check("not evt.type = open", "except open");
        check("not (evt.type = open and proc.name = x)", "all");
        check(
            "not (evt.type = open or evt.type = close)",
            "except close,open",
        );
        check(
            "evt.type in (open, close) and not evt.type = close",
            "only open",
        );
        check("evt.type = open and evt.type = close", "only ");
        check("not not evt.type = open", "only open");
        check("evt.type startswith op", "all");
    }
}
