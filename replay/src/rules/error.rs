//! Diagnostics of rule loading: every error and warning names the file,
//! the position and the item.
//!
//! The file name, item name and message are escaped when displayed
//! ([`trace_format::escape`]): a rules file cannot put a control character
//! or a line of its own on the terminal.

use std::fmt;
use std::sync::Arc;

use trace_format::escape::escape;

use super::ast::Pos;

/// Error or warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Loading fails.
    Error,
    /// Loading goes on.
    Warning,
}

/// The kind of item a diagnostic is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ItemKind {
    /// A `rule`.
    Rule,
    /// A `macro`.
    Macro,
    /// A `list`.
    List,
    /// `required_engine_version`.
    RequiredEngineVersion,
    /// An entry of `required_plugin_versions`.
    RequiredPluginVersions,
    /// A top-level item of unknown kind.
    Item,
    /// The file as a whole.
    File,
}

impl ItemKind {
    /// Lowercase name for messages.
    pub fn name(self) -> &'static str {
        match self {
            ItemKind::Rule => "rule",
            ItemKind::Macro => "macro",
            ItemKind::List => "list",
            ItemKind::RequiredEngineVersion => "required_engine_version",
            ItemKind::RequiredPluginVersions => "required_plugin_versions",
            ItemKind::Item => "item",
            ItemKind::File => "file",
        }
    }
}

/// Where a diagnostic points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location {
    /// The rules file (as given to the loader).
    pub file: Arc<str>,
    /// Line in the file, from 1.
    pub line: u32,
    /// Column in the file, from 1.
    pub col: u32,
}

/// One error or warning.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// File and position of the item or value concerned.
    pub location: Location,
    /// The item's kind.
    pub item_kind: ItemKind,
    /// The item's name (empty when unknown).
    pub item_name: String,
    /// Position inside a condition (after list substitution), when the
    /// problem is in one.
    pub condition_pos: Option<Pos>,
    /// What is wrong (lowercase, user input in backticks).
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {sev}: ",
            escape(&self.location.file),
            self.location.line,
            self.location.col
        )?;
        if self.item_name.is_empty() {
            write!(f, "{}: ", self.item_kind.name())?;
        } else {
            write!(
                f,
                "{} `{}`: ",
                self.item_kind.name(),
                escape(&self.item_name)
            )?;
        }
        f.write_str(&escape(&self.message))?;
        if let Some(p) = self.condition_pos {
            write!(f, " (condition {}:{})", p.line, p.col)?;
        }
        Ok(())
    }
}

/// Loading failed: every error found (and the warnings so far).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadError {
    /// Errors first, then warnings, each group in file order.
    pub diagnostics: Vec<Diagnostic>,
}

impl LoadError {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.errors().count();
        write!(
            f,
            "{n} error{} loading rules",
            if n == 1 { "" } else { "s" }
        )?;
        for d in &self.diagnostics {
            write!(f, "\n{d}")?;
        }
        Ok(())
    }
}
