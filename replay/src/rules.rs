//! Falco-compatible rules: loading rules files, parsing and compiling
//! conditions, and evaluating them against an abstract [`FieldSource`].
//!
//! This module knows nothing of the trace format: the replay engine
//! implements [`FieldSource`] over its events and asks a
//! [`CompiledRuleset`] which rules an event matches.
//!
//! # Stages
//!
//! ```text
//! rules files (YAML)                      load.rs: RulesetLoader, load_files, LoadOptions
//!   │  yaml.rs      YAML text -> tree with line/column marks (yaml-rust2 events; limits.rs)
//!   │  loader.rs    items -> Collector: lists, macros, rules; append/override/redefinition
//!   ▼
//! compiler.rs (once every file is read)
//!   │  lists expanded (earlier lists only), substituted into condition *text*
//!   │  parser.rs    condition text -> ast.rs Expr           (ParseError, with position)
//!   │  macros expanded on the tree (ExprKind::Expanded keeps the name for messages)
//!   │  exceptions appended as `(cond) and not (...)` text before parsing
//!   │  compile.rs   Expr -> eval.rs Filter: fields resolved (fields.rs), constants typed,
//!   │               each expanded macro given a memo slot (CompileError, with position and macro)
//!   │  output.rs    output format -> OutputTemplate
//!   │  evttype.rs   Expr -> EvtTypes (which event types the rule can match)
//!   ▼
//! ruleset.rs: CompiledRuleset: rules in definition order, indexed by event type
//!   │  event_type(name) -> EventType        (once per syscall, by the integrator)
//!   │  match_event(&mut source, EventType)  -> matching rules (first or all)
//!   │               evaluated through source.rs (FieldSource), glob.rs for `glob`;
//!   │               a macro's result is computed once per event (eval.rs Memo)
//!   ▼
//! CompiledRule { output: OutputTemplate, priority, tags, ... } -> render(&mut source)
//! ```
//!
//! `filter.rs` is the standalone condition of `replay --filter` (no macros
//! or lists); `error.rs` holds the diagnostics.
//!
//! Each stage keeps its errors beside it ([`parser::ParseError`],
//! [`compile::CompileError`], [`output::OutputError`]); the loader turns
//! them into [`Diagnostic`]s naming the file, the line and column of the
//! item or value, the item, and the position inside the condition.
//! Messages are lowercase with user input in backticks.
//!
//! What a rules file may expand to (YAML aliases, lists, macros) is bounded
//! ([`limits`]); crossing a bound is an error naming the item.
//!
//! # Falco semantics matched
//!
//! - Rules files: `rule`, `macro`, `list`, `required_engine_version`
//!   (this engine reports 0.62.0, Falco 0.44's), `required_plugin_versions` (`container` is
//!   satisfied by emulation; other plugins are a warning). Rule keys as Falco,
//!   including `exceptions`, `skip-if-unknown-filter`, `warn_evttypes`,
//!   `append: true` (deprecated, warned) and `override: {key: append|replace}`.
//!   Rules of a source other than `syscall` are skipped without a message.
//! - Lists are substituted into the condition text before parsing, exactly as
//!   Falco's `resolve_list` (a list name bounded by blanks, `(`, `)`, `,`, `=`
//!   or the ends; items with a space are double-quoted). Macros are expanded
//!   on the parsed tree; a macro sees the macros defined before it, a rule
//!   sees all macros of all files, since rules are compiled after every file
//!   is read.
//! - Conditions parse as libsinsp's scannerless grammar (see [`parser`]).
//! - A comparison on a field without a value is false, `!=` included;
//!   `exists` is false. `proc.aname` (and `aexe`, `aexepath`, `apid`,
//!   `acmdline`) without an index compares every ancestor, true if any
//!   matches; list fields (`fd.types`) take `in` as "all in the set" and
//!   `intersects` as "any". `pmatch` is a path-prefix match on whole
//!   components. `regex` must match the whole value (RE2's `ANCHOR_BOTH`;
//!   Rust's `regex` has RE2 syntax). `glob` is `fnmatch(3)` without flags.
//! - Rule matching: `first` (the earliest rule in definition order that
//!   matches) or `all`. Event types are indexed as Falco's
//!   `filter_evttype_resolver`; rules matching every type are warned about.
//!
//! **Invariant:** nothing on an input path panics: malformed YAML, unknown
//! macros or fields, bad operators and constants all become diagnostics
//! (property tests feed random text to the parser).
//!
//! **Invariant:** rules keep the position of their first definition; both
//! redefinition and append/override keep it ([`ruleset`]).
//!
//! **Invariant:** evaluation does no name lookups: fields are [`FieldId`]s
//! with a dense `slot`, event types are [`EventType`] handles, constants are
//! pre-parsed ([`eval`]).
//!
//! # Implementing a field source
//!
//! ```
//! use replay::rules::{FieldId, FieldRef, FieldSource, FieldValue};
//!
//! struct Event<'a> {
//!     comm: &'a str,
//!     ancestors: &'a [&'a str],
//! }
//!
//! impl FieldSource for Event<'_> {
//!     fn get(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
//!         match f.id {
//!             FieldId::ProcName => Some(FieldValue::Str(self.comm)),
//!             FieldId::EvtType => Some(FieldValue::Str("execve")),
//!             _ => None, // no value: comparisons are false, outputs show <NA>
//!         }
//!     }
//!     fn for_each(&mut self, f: &FieldRef, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) {
//!         if f.id == FieldId::ProcAname {
//!             for a in self.ancestors {
//!                 if !visit(FieldValue::Str(a)) {
//!                     break;
//!                 }
//!             }
//!         } else if let Some(v) = self.get(f) {
//!             visit(v);
//!         }
//!     }
//! }
//!
//! let mut loader = replay::rules::RulesetLoader::new();
//! loader
//!     .load_str(
//!         "example.yaml",
//!         "- rule: shell under sshd\n  desc: d\n  condition: evt.type = execve and proc.name = bash and proc.aname = sshd\n  output: shell %proc.name\n  priority: WARNING\n",
//!     )
//!     .unwrap();
//! let set = loader.compile(&Default::default()).unwrap();
//! let execve = set.event_type("execve"); // resolve once per syscall
//! let mut ev = Event { comm: "bash", ancestors: &["sh", "sshd"] };
//! let hits = set.match_event(&mut ev, execve);
//! assert_eq!(hits.len(), 1);
//! assert_eq!(hits[0].output.render(&mut ev), "shell bash");
//! ```

pub mod ast;
pub mod compile;
pub mod compiler;
pub mod error;
pub mod eval;
pub mod evttype;
pub mod fields;
pub mod filter;
pub mod glob;
pub mod limits;
pub mod load;
pub mod loader;
pub mod output;
pub mod parser;
pub mod ruleset;
pub mod source;
pub mod yaml;

/// Falco's rule files as the Falco project ships them, in the order Falco
/// loads them (later files append to and override earlier ones).
pub const FALCO_RULE_FILES: [&str; 3] = [
    "falco_rules.yaml",
    "falco-incubating_rules.yaml",
    "falco-sandbox_rules.yaml",
];

pub use error::{Diagnostic, LoadError, Severity};
pub use eval::Filter;
pub use fields::{FieldArg, FieldClass, FieldId, FieldRef, FieldType};
pub use filter::{CompiledFilter, FilterError};
pub use load::{LoadOptions, RuleMatching, RulesetLoader, SUGGESTED_OUTPUT, load_files};
pub use loader::Priority;
pub use output::OutputTemplate;
pub use ruleset::{CompiledRule, CompiledRuleset, EventType};
pub use source::{FieldSource, FieldValue, OwnedValue};
