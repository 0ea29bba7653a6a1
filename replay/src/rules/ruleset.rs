//! [`CompiledRuleset`]: compiled rules in definition order, indexed by
//! event type, matched against events (built by [`super::compiler`]).
//!
//! **Invariant:** rules are kept and matched in definition order (the order
//! of first definition); `first` matching returns the earliest matching rule.
//!
//! **Invariant:** a rule is evaluated only for the event types its condition
//! can match ([`EvtTypes`]); rules matching any type are evaluated for all.

use std::cell::RefCell;
use std::collections::HashMap;

use super::ast::Expr;
use super::compile::FieldTable;
use super::error::Diagnostic;
use super::eval::{Filter, Memo};
use super::evttype::EvtTypes;
use super::fields::FieldRef;
use super::load::{LoadOptions, RuleMatching};
use super::loader::Priority;
use super::output::OutputTemplate;
use super::source::FieldSource;

/// A compiled rule.
#[derive(Debug)]
pub struct CompiledRule {
    /// Name.
    pub name: String,
    /// `desc`.
    pub desc: String,
    /// Priority.
    pub priority: Priority,
    /// Always `syscall` (other sources are skipped at load).
    pub source: String,
    /// Tags, sorted (as Falco's JSON).
    pub tags: Vec<String>,
    /// `enabled` after all overrides.
    pub enabled: bool,
    /// The condition as compiled (exceptions appended, macros expanded).
    pub condition: Expr,
    /// The evaluator.
    pub filter: Filter,
    /// The output format as written (trimmed).
    pub output_format: String,
    /// The parsed output.
    pub output: OutputTemplate,
    /// Event types the condition can match.
    pub evttypes: EvtTypes,
    /// Position in definition order.
    pub index: usize,
}

/// A handle for an event type name, resolved once (e.g. per syscall number)
/// with [`CompiledRuleset::event_type`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventType(u32);

/// Compiled rules, indexed by event type.
#[derive(Debug)]
pub struct CompiledRuleset {
    rules: Vec<CompiledRule>,
    fields: FieldTable,
    warnings: Vec<Diagnostic>,
    matching: RuleMatching,
    type_names: HashMap<String, u32>,
    /// Per event type: indices of active rules to evaluate, in order.
    /// Slot 0 is for names no rule mentions.
    per_type: Vec<Box<[u32]>>,
    /// Macro slots of the rules' filters (the per-event [`Memo`]).
    memo_slots: usize,
}

impl CompiledRuleset {
    pub(super) fn new(
        rules: Vec<CompiledRule>,
        fields: FieldTable,
        warnings: Vec<Diagnostic>,
        opts: &LoadOptions,
    ) -> Self {
        let active: Vec<u32> = rules
            .iter()
            .enumerate()
            .filter(|(_, r)| r.enabled && r.priority <= opts.min_priority)
            .filter_map(|(i, _)| u32::try_from(i).ok())
            .collect();
        let mut names: Vec<&str> = Vec::new();
        for &i in &active {
            let s = match &rules[i as usize].evttypes {
                EvtTypes::Only(s) | EvtTypes::Except(s) => s,
            };
            names.extend(s.iter().map(String::as_str));
        }
        names.sort_unstable();
        names.dedup();
        let mut type_names = HashMap::new();
        let mut per_type = vec![Self::select(&rules, &active, None)];
        for (n, name) in names.iter().enumerate() {
            type_names.insert((*name).to_owned(), u32::try_from(n + 1).unwrap_or(u32::MAX));
            per_type.push(Self::select(&rules, &active, Some(name)));
        }
        CompiledRuleset {
            memo_slots: fields.macro_slots(),
            rules,
            fields,
            warnings,
            matching: opts.rule_matching,
            type_names,
            per_type,
        }
    }

    fn select(rules: &[CompiledRule], active: &[u32], name: Option<&str>) -> Box<[u32]> {
        active
            .iter()
            .copied()
            .filter(|&i| match name {
                Some(n) => rules[i as usize].evttypes.contains(n),
                None => rules[i as usize].evttypes.is_unbounded(),
            })
            .collect()
    }

    /// Every compiled rule (enabled or not), in definition order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// A rule by name.
    pub fn rule(&self, name: &str) -> Option<&CompiledRule> {
        self.rules.iter().find(|r| r.name == name)
    }

    /// Every field the rules use, by slot ([`FieldRef::slot`]).
    pub fn fields(&self) -> &[FieldRef] {
        self.fields.refs()
    }

    /// Warnings from loading and compiling.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// The matching mode.
    pub fn rule_matching(&self) -> RuleMatching {
        self.matching
    }

    /// Resolves an event type name (`open`, `execve`, ...). Unknown names are
    /// valid: only rules that match any type apply to them.
    pub fn event_type(&self, name: &str) -> EventType {
        EventType(self.type_names.get(name).copied().unwrap_or(0))
    }

    /// The rules that match the current event of `src`, in definition order
    /// (at most one in `first` mode). Allocates only when a rule matches.
    pub fn match_event<S: FieldSource + ?Sized>(
        &self,
        src: &mut S,
        evt: EventType,
    ) -> Vec<&CompiledRule> {
        let mut out = Vec::new();
        self.for_each_match(src, evt, |r| {
            out.push(r);
            true
        });
        out
    }

    /// Calls `f` with each matching rule until it returns `false` (or, in
    /// `first` mode, after the first).
    pub fn for_each_match<'r, S: FieldSource + ?Sized>(
        &'r self,
        src: &mut S,
        evt: EventType,
        mut f: impl FnMut(&'r CompiledRule) -> bool,
    ) {
        let Some(list) = self.per_type.get(evt.0 as usize).filter(|l| !l.is_empty()) else {
            return;
        };
        thread_local! {
            /// The macro results of the event being matched on this thread.
            static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
        }
        MEMO.with(|m| {
            // A fresh memo if this thread is already matching (a callback
            // matching another event): never results of another event.
            let mut fresh = Memo::default();
            let mut held = m.try_borrow_mut();
            let memo = match held.as_deref_mut() {
                Ok(m) => m,
                Err(_) => &mut fresh,
            };
            memo.reset(self.memo_slots);
            for &i in list.iter() {
                let r = &self.rules[i as usize];
                if r.filter.eval_with(src, memo) && (!f(r) || self.matching == RuleMatching::First)
                {
                    return;
                }
            }
        })
    }
}
