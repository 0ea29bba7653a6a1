//! Falco-compatible rules (documented below once complete).

pub mod ast;
pub mod compile;
pub mod error;
pub mod eval;
pub mod evttype;
pub mod fields;
pub mod glob;
pub mod loader;
pub mod output;
pub mod parser;
pub mod ruleset;
pub mod source;
pub mod yaml;

pub use error::{Diagnostic, LoadError, Severity};
pub use eval::Filter;
pub use fields::{FieldArg, FieldId, FieldRef, FieldType};
pub use loader::Priority;
pub use output::OutputTemplate;
pub use ruleset::{
    CompiledFilter, CompiledRule, CompiledRuleset, EventType, FilterError, LoadOptions,
    RuleMatching, RulesetLoader, load_files,
};
pub use source::{FieldSource, FieldValue, OwnedValue};
