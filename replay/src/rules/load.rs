//! Rules files in -> a [`CompiledRuleset`] out: the facade over the
//! loader ([`super::loader`], one file at a time) and the compiler
//! ([`super::compiler`], once every file is read), with the options Falco
//! takes (`rule_matching`, `min_priority`).

use std::path::Path;
use std::sync::Arc;

use super::compiler;
use super::error::{Diagnostic, ItemKind, LoadError, Location, Severity};
use super::loader::{self, Collector, Priority};
use super::ruleset::CompiledRuleset;

/// Falco's `rule_matching`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RuleMatching {
    /// Only the first matching rule (in definition order) per event.
    #[default]
    First,
    /// Every matching rule.
    All,
}

/// Options for compiling a ruleset.
#[derive(Clone, Copy, Debug)]
pub struct LoadOptions {
    /// Rules less severe than this are not matched (`--min-priority`).
    pub min_priority: Priority,
    /// `first` or `all`.
    pub rule_matching: RuleMatching,
    /// Append Falco 0.44's suggested output fields ([`SUGGESTED_OUTPUT`])
    /// to every syscall rule's output, as Falco does by default
    /// (`append_output: suggested_output: true`); `--no-suggested-output`
    /// turns it off.
    pub suggested_output: bool,
}

/// The fields Falco 0.44 appends to every syscall rule's output (the
/// container plugin's suggested output fields).
pub const SUGGESTED_OUTPUT: &str = "container_id=%container.id container_name=%container.name container_image_repository=%container.image.repository container_image_tag=%container.image.tag k8s_pod_name=%k8s.pod.name k8s_ns_name=%k8s.ns.name";

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            min_priority: Priority::Debug,
            rule_matching: RuleMatching::First,
            suggested_output: true,
        }
    }
}

/// Reads rules files in order, then compiles them.
#[derive(Debug, Default)]
pub struct RulesetLoader {
    col: Collector,
    warnings: Vec<Diagnostic>,
}

impl RulesetLoader {
    /// An empty loader.
    pub fn new() -> Self {
        Self::default()
    }

    /// Reads a rules file. On error, returns all of the file's diagnostics
    /// and leaves the loader as it was.
    pub fn load_file(&mut self, path: impl AsRef<Path>) -> Result<(), LoadError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        match std::fs::read_to_string(path) {
            Ok(text) => self.load_str(&name, &text),
            Err(e) => Err(LoadError {
                diagnostics: vec![Diagnostic {
                    severity: Severity::Error,
                    location: Location {
                        file: name.into(),
                        line: 0,
                        col: 0,
                    },
                    item_kind: ItemKind::File,
                    item_name: String::new(),
                    condition_pos: None,
                    message: format!("cannot read rules file: {e}"),
                }],
            }),
        }
    }

    /// Reads rules from text; `name` names it in diagnostics.
    pub fn load_str(&mut self, name: &str, text: &str) -> Result<(), LoadError> {
        let file: Arc<str> = name.into();
        let diags = loader::read_file(&mut self.col, &file, text);
        finish(diags, &mut self.warnings)
    }

    /// Warnings so far.
    pub fn warnings(&self) -> &[Diagnostic] {
        &self.warnings
    }

    /// Compiles everything read. Errors of every rule, macro and list are
    /// reported together.
    pub fn compile(&self, opts: &LoadOptions) -> Result<CompiledRuleset, LoadError> {
        compiler::compile(&self.col, self.warnings.clone(), opts)
    }
}

/// Splits diagnostics: errors make a [`LoadError`] (warnings included), warnings are kept.
pub(super) fn finish(
    diags: Vec<Diagnostic>,
    warnings: &mut Vec<Diagnostic>,
) -> Result<(), LoadError> {
    if diags.iter().any(|d| d.severity == Severity::Error) {
        let (mut errs, warns): (Vec<_>, Vec<_>) = diags
            .into_iter()
            .partition(|d| d.severity == Severity::Error);
        errs.extend(warns);
        return Err(LoadError { diagnostics: errs });
    }
    warnings.extend(diags);
    Ok(())
}

/// Loads `paths` in order and compiles them.
pub fn load_files<P: AsRef<Path>>(
    paths: &[P],
    opts: &LoadOptions,
) -> Result<CompiledRuleset, LoadError> {
    let mut l = RulesetLoader::new();
    let mut errors = Vec::new();
    for p in paths {
        if let Err(e) = l.load_file(p) {
            errors.extend(e.diagnostics);
        }
    }
    if !errors.is_empty() {
        return Err(LoadError {
            diagnostics: errors,
        });
    }
    l.compile(opts)
}
