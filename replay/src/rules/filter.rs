//! A standalone condition (`replay --filter`, like `sysdig -r FILE COND`):
//! parsed and compiled on its own, no macros or lists.

use super::ast::Expr;
use super::compile::{self, CompileError, FieldTable};
use super::eval::Filter;
use super::fields::FieldRef;
use super::parser::{self, ParseError};
use super::source::FieldSource;

/// A standalone condition (`replay --filter`): no macros or lists.
#[derive(Debug)]
pub struct CompiledFilter {
    /// The parsed condition.
    pub condition: Expr,
    /// The evaluator.
    pub filter: Filter,
    fields: FieldTable,
}

/// Why a standalone condition failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// Syntax.
    #[error("invalid filter")]
    Parse(#[from] ParseError),
    /// Types, fields, macros.
    #[error("invalid filter")]
    Compile(#[from] CompileError),
}

impl CompiledFilter {
    /// Parses and compiles `condition`.
    pub fn new(condition: &str) -> Result<CompiledFilter, FilterError> {
        let ast = parser::parse(condition)?;
        let mut fields = FieldTable::default();
        let filter = compile::compile(&ast, &mut fields)?;
        Ok(CompiledFilter {
            condition: ast,
            filter,
            fields,
        })
    }

    /// Every field the filter uses, by slot.
    pub fn fields(&self) -> &[FieldRef] {
        self.fields.refs()
    }

    /// Evaluates against the current event of `src`.
    pub fn matches<S: FieldSource + ?Sized>(&self, src: &mut S) -> bool {
        self.filter.eval(src)
    }
}
