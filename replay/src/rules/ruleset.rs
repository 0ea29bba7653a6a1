//! Collected definitions -> [`CompiledRuleset`] (Falco's `rule_loader::compiler`),
//! and matching events against it.
//!
//! Order of work, as Falco: lists are expanded (a list may name earlier
//! lists); every condition has every list substituted into its *text*
//! (Falco's `resolve_list`: a list name delimited by blanks, `(`, `)`, `,`
//! or `=` is replaced by its items); macros are parsed and then expanded on
//! the tree (a macro sees macros defined before it, a rule sees all, so
//! rules may use macros defined in later files); then each rule's condition
//! (with its exceptions appended as `and not (...)`) is compiled, its output
//! parsed, and its event types resolved.
//!
//! **Invariant:** rules are kept and matched in definition order (the order
//! of first definition); `first` matching returns the earliest matching rule.
//!
//! **Invariant:** a rule is evaluated only for the event types its condition
//! can match ([`EvtTypes`]); rules matching any type are evaluated for all.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use super::ast::{Expr, ExprKind, Pos};
use super::compile::{self, CompileError, FieldTable};
use super::error::{Diagnostic, ItemKind, LoadError, Location, Severity};
use super::eval::Filter;
use super::evttype::{self, EvtTypes};
use super::fields::FieldRef;
use super::loader::{self, Collector, Ctx, Entry, ExceptionInfo, Priority};
use super::output::OutputTemplate;
use super::parser::{self, ParseError};
use super::source::FieldSource;
use super::yaml::Mark;

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
        let mut c = RulesetCompiler {
            col: &self.col,
            diags: Vec::new(),
            list_items: Vec::new(),
            list_used: vec![false; self.col.lists.len()],
            macro_state: vec![MacroState::Pending; self.col.macros.len()],
            macro_used: vec![false; self.col.macros.len()],
            table: FieldTable::default(),
            suggested_output: opts.suggested_output,
        };
        let rules = c.run();
        let mut warnings = self.warnings.clone();
        finish(c.diags, &mut warnings)?;
        Ok(CompiledRuleset::new(rules, c.table, warnings, opts))
    }
}

/// Splits diagnostics: errors make a [`LoadError`] (warnings included), warnings are kept.
fn finish(diags: Vec<Diagnostic>, warnings: &mut Vec<Diagnostic>) -> Result<(), LoadError> {
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
}

impl CompiledRuleset {
    fn new(
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
        let Some(list) = self.per_type.get(evt.0 as usize) else {
            return;
        };
        for &i in list.iter() {
            let r = &self.rules[i as usize];
            if r.filter.eval(src) && (!f(r) || self.matching == RuleMatching::First) {
                return;
            }
        }
    }
}

#[derive(Clone, Debug)]
enum MacroState {
    Pending,
    InProgress,
    Done(Option<Expr>),
}

struct RulesetCompiler<'a> {
    col: &'a Collector,
    diags: Vec<Diagnostic>,
    list_items: Vec<Vec<String>>,
    list_used: Vec<bool>,
    macro_state: Vec<MacroState>,
    macro_used: Vec<bool>,
    table: FieldTable,
    suggested_output: bool,
}

/// Why a macro reference did not resolve.
enum ResolveError {
    /// Reported already (a broken macro).
    Silent,
    At(String, Pos),
}

impl RulesetCompiler<'_> {
    fn diag(
        &mut self,
        sev: Severity,
        ctx: &Ctx,
        kind: ItemKind,
        name: &str,
        pos: Option<Pos>,
        message: String,
    ) {
        self.diags.push(Diagnostic {
            severity: sev,
            location: Location {
                file: ctx.file.clone(),
                line: ctx.mark.line,
                col: ctx.mark.col,
            },
            item_kind: kind,
            item_name: name.to_owned(),
            condition_pos: pos,
            message,
        });
    }

    fn run(&mut self) -> Vec<CompiledRule> {
        // Lists.
        let n = self.col.lists.len();
        let mut memo: Vec<Option<Vec<String>>> = vec![None; n];
        for i in 0..n {
            let mut visiting = vec![false; n];
            let items = self.expand_list(i, &mut memo, &mut visiting);
            memo[i] = Some(items);
        }
        self.list_items = memo.into_iter().map(Option::unwrap_or_default).collect();

        // Macros (each parsed and expanded once, in order).
        for i in 0..self.col.macros.len() {
            self.resolve_macro(i);
        }

        // Rules.
        let mut out = Vec::new();
        for (index, r) in self.col.rules.iter().enumerate() {
            if r.source != "syscall" {
                continue;
            }
            if let Some(rule) = self.compile_rule(index) {
                out.push(rule);
            }
        }

        // Unused definitions.
        for (i, m) in self.col.macros.iter().enumerate() {
            if !self.macro_used[i] {
                self.diag(
                    Severity::Warning,
                    &m.ctx,
                    ItemKind::Macro,
                    &m.name,
                    None,
                    "macro not referred to by any other rule/macro".into(),
                );
            }
        }
        for (i, l) in self.col.lists.iter().enumerate() {
            if !self.list_used[i] {
                self.diag(
                    Severity::Warning,
                    &l.ctx,
                    ItemKind::List,
                    &l.name,
                    None,
                    "list not referred to by any other rule/macro".into(),
                );
            }
        }
        out
    }

    fn expand_list(
        &mut self,
        i: usize,
        memo: &mut [Option<Vec<String>>],
        visiting: &mut [bool],
    ) -> Vec<String> {
        if let Some(done) = &memo[i] {
            return done.clone();
        }
        visiting[i] = true;
        let list = &self.col.lists[i];
        let mut out = Vec::new();
        for item in &list.items {
            match self.col.list_index(item) {
                Some(j) if j < list.visibility && j != i && !visiting[j] => {
                    self.list_used[j] = true;
                    let sub = self.expand_list(j, memo, visiting);
                    memo[j] = Some(sub.clone());
                    out.extend(sub);
                }
                _ => out.push(item.clone()),
            }
        }
        visiting[i] = false;
        out
    }

    /// Substitutes every list into a condition's text (Falco's `resolve_list`).
    fn substitute_lists(&mut self, cond: &str) -> String {
        let mut text = cond.to_owned();
        for i in 0..self.col.lists.len() {
            if resolve_list(&mut text, &self.col.lists[i].name, &self.list_items[i]) {
                self.list_used[i] = true;
            }
        }
        text
    }

    fn resolve_macro(&mut self, i: usize) -> Option<Expr> {
        match &self.macro_state[i] {
            MacroState::Done(e) => return e.clone(),
            MacroState::InProgress => return None,
            MacroState::Pending => {}
        }
        self.macro_state[i] = MacroState::InProgress;
        let m = &self.col.macros[i];
        let (name, ctx, visibility) = (m.name.clone(), m.cond_ctx.clone(), m.visibility);
        let text = self.substitute_lists(&self.col.macros[i].cond.clone());
        let result = match parser::parse(&text) {
            Err(ParseError { message, pos }) => {
                self.diag(
                    Severity::Error,
                    &ctx,
                    ItemKind::Macro,
                    &name,
                    Some(pos),
                    message,
                );
                None
            }
            Ok(mut ast) => match self.expand_macros(&mut ast, Some((i, visibility))) {
                Ok(()) => Some(ast),
                Err(ResolveError::At(msg, pos)) => {
                    self.diag(
                        Severity::Error,
                        &ctx,
                        ItemKind::Macro,
                        &name,
                        Some(pos),
                        msg,
                    );
                    None
                }
                Err(ResolveError::Silent) => None,
            },
        };
        self.macro_state[i] = MacroState::Done(result.clone());
        result
    }

    /// Replaces macro references by their bodies. `owner` is the macro being
    /// resolved (index, visibility) or `None` for a rule (sees all macros).
    fn expand_macros(
        &mut self,
        e: &mut Expr,
        owner: Option<(usize, usize)>,
    ) -> Result<(), ResolveError> {
        match &mut e.kind {
            ExprKind::And(c) | ExprKind::Or(c) => {
                let mut first_err = None;
                for x in c.iter_mut() {
                    if let Err(err) = self.expand_macros(x, owner)
                        && first_err.is_none()
                    {
                        first_err = Some(err);
                    }
                }
                first_err.map_or(Ok(()), Err)
            }
            ExprKind::Not(x) | ExprKind::Expanded(_, x) => self.expand_macros(x, owner),
            ExprKind::Macro(name) => {
                let j = match (self.col.macro_index(name), owner) {
                    (Some(j), Some((me, vis))) if j < vis && j != me => j,
                    (Some(j), None) => j,
                    (Some(j), Some((me, _))) if j == me => {
                        return Err(ResolveError::At(
                            format!("macro `{name}` refers to itself"),
                            e.pos,
                        ));
                    }
                    _ => {
                        return Err(ResolveError::At(
                            format!("undefined macro `{name}` used in filter"),
                            e.pos,
                        ));
                    }
                };
                self.macro_used[j] = true;
                if matches!(self.macro_state[j], MacroState::InProgress) {
                    return Err(ResolveError::At(
                        format!("macro `{name}` is defined recursively"),
                        e.pos,
                    ));
                }
                match self.resolve_macro(j) {
                    Some(body) => {
                        e.kind = ExprKind::Expanded(name.clone(), Box::new(body));
                        Ok(())
                    }
                    None => Err(ResolveError::Silent),
                }
            }
            ExprKind::Exists(_) | ExprKind::Compare(..) => Ok(()),
        }
    }

    fn compile_rule(&mut self, index: usize) -> Option<CompiledRule> {
        let r = &self.col.rules[index];
        let (name, ctx, cond_ctx) = (r.name.clone(), r.ctx.clone(), r.cond_ctx.clone());
        let mut cond = r.cond.clone();
        if !r.exceptions.is_empty() {
            match build_exceptions(&cond, &r.exceptions) {
                Ok(c) => cond = c,
                Err((msg, mark)) => {
                    let ctx = Ctx {
                        file: ctx.file.clone(),
                        mark,
                    };
                    self.diag(Severity::Error, &ctx, ItemKind::Rule, &name, None, msg);
                    return None;
                }
            }
        }
        let text = self.substitute_lists(&cond);
        let mut ast = match parser::parse(&text) {
            Ok(a) => a,
            Err(ParseError { message, pos }) => {
                self.diag(
                    Severity::Error,
                    &cond_ctx,
                    ItemKind::Rule,
                    &name,
                    Some(pos),
                    message,
                );
                return None;
            }
        };
        match self.expand_macros(&mut ast, None) {
            Ok(()) => {}
            Err(ResolveError::At(msg, pos)) => {
                self.diag(
                    Severity::Error,
                    &cond_ctx,
                    ItemKind::Rule,
                    &name,
                    Some(pos),
                    msg,
                );
                return None;
            }
            Err(ResolveError::Silent) => return None,
        }
        let r = &self.col.rules[index];
        let skip_unknown = r.skip_if_unknown_filter;
        let filter = match compile::compile(&ast, &mut self.table) {
            Ok(f) => f,
            Err(e) => {
                self.compile_error(&name, &cond_ctx, skip_unknown, e);
                return None;
            }
        };
        let r = &self.col.rules[index];
        let mut output_format = r.output.clone();
        let output_ctx = r.output_ctx.clone();
        if output_format.contains("%container.info") {
            self.diag(
                Severity::Warning,
                &ctx,
                ItemKind::Rule,
                &name,
                None,
                "%container.info is deprecated and no more useful, and will be dropped by falco 1.0.0".into(),
            );
            output_format = output_format.replace("%container.info", "");
        }
        let shown = if self.suggested_output && r.source == "syscall" {
            format!("{} {SUGGESTED_OUTPUT}", output_format.trim_end())
        } else {
            output_format.clone()
        };
        let output = match OutputTemplate::parse(&shown, &mut self.table) {
            Ok(o) => o,
            Err(e) => {
                let sev = if e.unknown_field && skip_unknown {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                let msg = format!("invalid output format: {}", e);
                self.diag(sev, &output_ctx, ItemKind::Rule, &name, None, msg);
                return None;
            }
        };
        let r = &self.col.rules[index];
        let evttypes = evttype::resolve(&ast);
        let too_many = match &evttypes {
            EvtTypes::Only(s) => s.is_empty() || s.len() > 100,
            EvtTypes::Except(_) => true,
        };
        if too_many && r.warn_evttypes {
            self.diag(
                Severity::Warning,
                &ctx,
                ItemKind::Rule,
                &name,
                None,
                "rule matches too many evt.type values; this has a significant performance penalty"
                    .into(),
            );
        }
        let r = &self.col.rules[index];
        Some(CompiledRule {
            name,
            desc: r.desc.clone(),
            priority: r.priority,
            source: r.source.clone(),
            tags: r.tags.iter().cloned().collect(),
            enabled: r.enabled,
            condition: ast,
            filter,
            output_format,
            output,
            evttypes,
            index,
        })
    }

    fn compile_error(&mut self, name: &str, cond_ctx: &Ctx, skip_unknown: bool, e: CompileError) {
        let ctx = match &e.macro_name {
            Some(m) => self
                .col
                .macro_index(m)
                .map(|i| self.col.macros[i].cond_ctx.clone())
                .unwrap_or_else(|| cond_ctx.clone()),
            None => cond_ctx.clone(),
        };
        let mut msg = e.message.clone();
        if let Some(m) = &e.macro_name {
            msg.push_str(&format!(" (in macro `{m}`)"));
        }
        let sev = if e.unknown_field && skip_unknown {
            msg.push_str("; rule skipped (skip-if-unknown-filter)");
            Severity::Warning
        } else {
            Severity::Error
        };
        self.diag(sev, &ctx, ItemKind::Rule, name, Some(e.pos), msg);
    }
}

/// Falco's `quote_item`: items with a space get double quotes (no escaping).
fn quote_item(s: &str) -> String {
    if s.contains(' ') && !s.starts_with('"') && !s.starts_with('\'') {
        format!("\"{s}\"")
    } else {
        s.to_owned()
    }
}

/// Falco's `resolve_list`: replaces whole-word occurrences of `name` in `cnd`.
fn resolve_list(cnd: &mut String, name: &str, items: &[String]) -> bool {
    const BLANKS: &[u8] = b" \t\n\r";
    const DELIMS: &[u8] = b" \t\n\r(),=";
    if name.is_empty() {
        return false;
    }
    let mut used = false;
    let mut from = 0;
    while let Some(found) =
        memchr::memmem::find(&cnd.as_bytes()[from.min(cnd.len())..], name.as_bytes())
    {
        let mut start = from + found;
        let mut end = start + name.len();
        let b = cnd.as_bytes();
        let before_ok = start == 0 || DELIMS.contains(&b[start - 1]);
        let after_ok = end >= b.len() || DELIMS.contains(&b[end]);
        if !(before_ok && after_ok) {
            from = start + 1;
            continue;
        }
        while start > 0 && BLANKS.contains(&b[start - 1]) {
            start -= 1;
        }
        while end < b.len() && BLANKS.contains(&b[end]) {
            end += 1;
        }
        let sub = items
            .iter()
            .map(|i| quote_item(i))
            .collect::<Vec<_>>()
            .join(", ");
        if sub.is_empty() {
            if start > 0 && b[start - 1] == b',' {
                start -= 1;
            } else if end < b.len() && b[end] == b',' {
                end += 1;
            }
        }
        let mut new = String::with_capacity(cnd.len() + sub.len());
        if start > 0 {
            new.push_str(&cnd[..start]);
            new.push(' ');
        }
        new.push_str(&sub);
        new.push(' ');
        new.push_str(&cnd[end..]);
        *cnd = new;
        from = start + sub.len() + 2;
        used = true;
    }
    used
}

fn is_list_op(op: &str) -> bool {
    matches!(op, "in" | "intersects" | "pmatch")
}

/// Falco's `build_rule_exception_infos`: `(cond) and not (...)` per exception.
fn build_exceptions(cond: &str, exceptions: &[ExceptionInfo]) -> Result<String, (String, Mark)> {
    let mut out = format!("({cond})");
    for ex in exceptions {
        let fail = |m: String| (m, ex.ctx.mark);
        let item = |e: &Entry| -> Result<String, (String, Mark)> {
            match e {
                Entry::Item(s) => Ok(s.clone()),
                Entry::List(_) => Err(fail(format!(
                    "rule exception `{}`: expected a string, got a list",
                    ex.name
                ))),
            }
        };
        let icond = match &ex.fields {
            None => {
                return Err(fail(format!(
                    "rule exception `{}` must have a `fields` property",
                    ex.name
                )));
            }
            Some(Entry::Item(field)) => {
                let comp = match &ex.comps {
                    Some(c) => item(c)?,
                    None => "in".to_owned(),
                };
                let mut vals = Vec::new();
                for v in &ex.values {
                    match v {
                        Entry::Item(s) => vals.push(quote_item(s)),
                        Entry::List(_) => {
                            return Err(fail(format!(
                                "rule exception `{}`: expected values array to contain a list of strings",
                                ex.name
                            )));
                        }
                    }
                }
                if vals.is_empty() {
                    String::new()
                } else {
                    format!("({field} {comp} ({}))", vals.join(", "))
                }
            }
            Some(Entry::List(fields)) => {
                let fields = fields.iter().map(item).collect::<Result<Vec<_>, _>>()?;
                let comps = match &ex.comps {
                    Some(Entry::List(cs)) => cs.iter().map(item).collect::<Result<Vec<_>, _>>()?,
                    Some(Entry::Item(c)) => vec![c.clone(); fields.len()],
                    None => vec!["=".to_owned(); fields.len()],
                };
                let mut alts = Vec::new();
                for values in &ex.values {
                    let Entry::List(values) = values else {
                        return Err(fail(format!(
                            "rule exception `{}`: fields and values lists must have equal length",
                            ex.name
                        )));
                    };
                    if values.len() != fields.len() || comps.len() != fields.len() {
                        return Err(fail(format!(
                            "rule exception `{}`: fields and values lists must have equal length",
                            ex.name
                        )));
                    }
                    let mut parts = Vec::new();
                    for (k, field) in fields.iter().enumerate() {
                        let istr = match &values[k] {
                            Entry::List(vs) => format!(
                                "({})",
                                vs.iter()
                                    .map(|v| item(v).map(|s| quote_item(&s)))
                                    .collect::<Result<Vec<_>, _>>()?
                                    .join(", ")
                            ),
                            Entry::Item(s) if is_list_op(&comps[k]) => {
                                if s.starts_with('(') {
                                    s.clone()
                                } else {
                                    format!("({s})")
                                }
                            }
                            Entry::Item(s) => quote_item(s),
                        };
                        parts.push(format!("{field} {} {istr}", comps[k]));
                    }
                    alts.push(format!("({})", parts.join(" and ")));
                }
                if alts.is_empty() {
                    String::new()
                } else {
                    format!("({})", alts.join(" or "))
                }
            }
        };
        if !icond.is_empty() {
            out.push_str(" and not ");
            out.push_str(&icond);
        }
    }
    Ok(out)
}

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
    #[error("invalid filter: {0}")]
    Parse(#[from] ParseError),
    /// Types, fields, macros.
    #[error("invalid filter: {0}")]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_substitution_follows_falco() {
        let items = vec!["sh".to_owned(), "bash".to_owned(), "a b".to_owned()];
        let mut c = "proc.name in (shells) and x=shells_x".to_owned();
        assert!(resolve_list(&mut c, "shells", &items));
        assert_eq!(c, "proc.name in ( sh, bash, \"a b\" ) and x=shells_x");
        // Inside quotes (preceded by a quote) nothing happens.
        let mut c = "proc.name = 'shells'".to_owned();
        assert!(!resolve_list(&mut c, "shells", &items));
        // Empty lists remove a neighbouring comma.
        let mut c = "proc.name in (a, empty)".to_owned();
        assert!(resolve_list(&mut c, "empty", &[]));
        assert_eq!(parser::parse(&c).unwrap().to_string(), "proc.name in (a)");
    }

    #[test]
    fn exceptions_follow_falco() {
        let ctx = Ctx {
            file: "f".into(),
            mark: Mark::default(),
        };
        let it = |s: &str| Entry::Item(s.into());
        let ex = vec![
            ExceptionInfo {
                name: "one".into(),
                fields: Some(it("proc.name")),
                comps: None,
                values: vec![it("a"), it("b c")],
                ctx: ctx.clone(),
            },
            ExceptionInfo {
                name: "two".into(),
                fields: Some(Entry::List(vec![it("proc.name"), it("fd.name")])),
                comps: Some(Entry::List(vec![it("="), it("in")])),
                values: vec![Entry::List(vec![it("x"), it("/a")])],
                ctx,
            },
        ];
        let default_comps = vec![ExceptionInfo {
            name: "three".into(),
            fields: Some(Entry::List(vec![it("proc.name"), it("proc.pname")])),
            comps: None,
            values: vec![
                Entry::List(vec![it("a"), it("b")]),
                Entry::List(vec![it("c"), Entry::List(vec![it("d"), it("e f")])]),
            ],
            ctx: ex[0].ctx.clone(),
        }];
        assert_eq!(
            build_exceptions("x", &default_comps).unwrap(),
            "(x) and not ((proc.name = a and proc.pname = b) or (proc.name = c and proc.pname = (d, \"e f\")))"
        );
        assert_eq!(
            build_exceptions("evt.type=open", &ex).unwrap(),
            "(evt.type=open) and not (proc.name in (a, \"b c\")) and not ((proc.name = x and fd.name in (/a)))"
        );
    }
}
