//! Collected definitions -> [`CompiledRuleset`] (Falco's `rule_loader::compiler`).
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
//! **Invariant (bounded expansion):** expansion is counted before it is
//! made: all expanded lists together cost at most [`limits::LIST_COST`], a
//! condition is at most [`limits::CONDITION_BYTES`] after list substitution
//! and [`limits::CONDITION_NODES`] nodes and [`limits::CONDITION_DEPTH`]
//! levels after macro expansion, and all macro and rule trees
//! together hold at most [`limits::TOTAL_NODES`] nodes. The list, macro or
//! rule that crosses a bound gets an error naming it; what depends on it
//! fails silently (loading fails anyway).

use super::ast::{Expr, ExprKind, Pos};
use super::compile::{self, CompileError, FieldTable};
use super::error::{Diagnostic, ItemKind, LoadError, Location, Severity};
use super::evttype::{self, EvtTypes};
use super::limits;
use super::load::{LoadOptions, SUGGESTED_OUTPUT, finish};
use super::loader::{Collector, Ctx, Entry, ExceptionInfo};
use super::output::OutputTemplate;
use super::parser::{self, ParseError};
use super::ruleset::{CompiledRule, CompiledRuleset};
use super::yaml::Mark;

/// Compiles what `col` collected. Errors of every rule, macro and list are
/// reported together; `warnings` (from loading) come first.
pub(super) fn compile(
    col: &Collector,
    mut warnings: Vec<Diagnostic>,
    opts: &LoadOptions,
) -> Result<CompiledRuleset, LoadError> {
    let mut c = RulesetCompiler {
        col,
        diags: Vec::new(),
        list_items: Vec::new(),
        list_used: vec![false; col.lists.len()],
        macro_state: vec![MacroState::Pending; col.macros.len()],
        macro_used: vec![false; col.macros.len()],
        table: FieldTable::default(),
        list_cost: 0,
        total_nodes: 0,
        over: false,
        suggested_output: opts.suggested_output,
    };
    let rules = c.run();
    finish(c.diags, &mut warnings)?;
    Ok(CompiledRuleset::new(rules, c.table, warnings, opts))
}

#[derive(Clone, Debug)]
enum MacroState {
    Pending,
    InProgress,
    Done(Option<(Expr, Size)>),
}

/// The size of an expanded tree: nodes (expressions and compared values)
/// and depth (levels of expressions).
#[derive(Clone, Copy, Debug, Default)]
struct Size {
    nodes: usize,
    depth: usize,
}

/// Nodes of a parsed tree (expressions and compared values).
fn nodes(e: &Expr) -> usize {
    1 + match &e.kind {
        ExprKind::And(c) | ExprKind::Or(c) => c.iter().map(nodes).sum(),
        ExprKind::Not(x) | ExprKind::Expanded(_, x) => nodes(x),
        ExprKind::Macro(_) | ExprKind::Exists(_) => 0,
        ExprKind::Compare(_, _, super::ast::Rhs::List(v, _)) => v.len(),
        ExprKind::Compare(..) => 1,
    }
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
    /// Cost of the lists expanded so far ([`limits::LIST_COST`]).
    list_cost: usize,
    /// Nodes of the macro and rule trees so far ([`limits::TOTAL_NODES`]).
    total_nodes: usize,
    /// A bound was crossed and reported: expansion stops.
    over: bool,
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
        if self.over {
            return Vec::new();
        }
        if let Some(done) = &memo[i] {
            return done.clone();
        }
        visiting[i] = true;
        let list = &self.col.lists[i];
        let mut out = Vec::new();
        for item in &list.items {
            let sub = match self.col.list_index(item) {
                Some(j) if j < list.visibility && j != i && !visiting[j] => {
                    self.list_used[j] = true;
                    let sub = self.expand_list(j, memo, visiting);
                    memo[j] = Some(sub.clone());
                    sub
                }
                _ => vec![item.clone()],
            };
            // Counted before `out` grows: every item costs its length + 32.
            let cost: usize = sub.iter().map(|s| s.len() + 32).sum();
            self.list_cost = self.list_cost.saturating_add(cost);
            if self.over || self.list_cost > limits::LIST_COST {
                self.over_bound(i);
                visiting[i] = false;
                return Vec::new();
            }
            out.extend(sub);
        }
        visiting[i] = false;
        out
    }

    /// Reports (once) that list `i` made the lists expand past their bound.
    fn over_bound(&mut self, i: usize) {
        if self.over {
            return;
        }
        self.over = true;
        let l = &self.col.lists[i];
        let (ctx, name) = (l.ctx.clone(), l.name.clone());
        self.diag(
            Severity::Error,
            &ctx,
            ItemKind::List,
            &name,
            None,
            format!(
                "lists expand to more than {} MiB (each item costs its length + 32 bytes)",
                limits::LIST_COST >> 20
            ),
        );
    }

    /// Counts a finished tree of `size` into the ruleset's total; reports
    /// (once) the item that crosses [`limits::TOTAL_NODES`].
    fn charge_total(&mut self, size: Size, ctx: &Ctx, kind: ItemKind, name: &str) -> bool {
        self.total_nodes = self.total_nodes.saturating_add(size.nodes);
        if self.over {
            return false;
        }
        if self.total_nodes > limits::TOTAL_NODES {
            self.over = true;
            self.diag(
                Severity::Error,
                ctx,
                kind,
                name,
                None,
                format!(
                    "the macros and rules expand to more than {} nodes in total",
                    limits::TOTAL_NODES
                ),
            );
            return false;
        }
        true
    }

    /// Substitutes every list into a condition's text (Falco's
    /// `resolve_list`); an error when the text would exceed
    /// [`limits::CONDITION_BYTES`].
    fn substitute_lists(&mut self, cond: &str) -> Result<String, String> {
        let too_long = || {
            format!(
                "condition is longer than {} bytes after list substitution",
                limits::CONDITION_BYTES
            )
        };
        if cond.len() > limits::CONDITION_BYTES {
            return Err(too_long());
        }
        let mut text = cond.to_owned();
        for i in 0..self.col.lists.len() {
            match resolve_list(&mut text, &self.col.lists[i].name, &self.list_items[i]) {
                Some(true) => self.list_used[i] = true,
                Some(false) => {}
                None => return Err(too_long()),
            }
        }
        Ok(text)
    }

    fn resolve_macro(&mut self, i: usize) -> Option<(Expr, Size)> {
        match &self.macro_state[i] {
            MacroState::Done(e) => return e.clone(),
            MacroState::InProgress => return None,
            MacroState::Pending => {}
        }
        self.macro_state[i] = MacroState::InProgress;
        let m = &self.col.macros[i];
        let (name, ctx, visibility) = (m.name.clone(), m.cond_ctx.clone(), m.visibility);
        let text = match self.substitute_lists(&self.col.macros[i].cond.clone()) {
            Ok(t) => t,
            Err(msg) => {
                self.diag(Severity::Error, &ctx, ItemKind::Macro, &name, None, msg);
                self.macro_state[i] = MacroState::Done(None);
                return None;
            }
        };
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
            Ok(mut ast) => match self.expand(&mut ast, Some((i, visibility))) {
                Ok(size) => self
                    .charge_total(size, &ctx, ItemKind::Macro, &name)
                    .then_some((ast, size)),
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

    /// Expands the macros of a parsed tree; its size once expanded.
    fn expand(
        &mut self,
        e: &mut Expr,
        owner: Option<(usize, usize)>,
    ) -> Result<Size, ResolveError> {
        let mut size = Size {
            nodes: nodes(e),
            depth: 0,
        };
        self.expand_macros(e, owner, &mut size, 0)?;
        Ok(size)
    }

    /// Replaces macro references by their bodies. `owner` is the macro being
    /// resolved (index, visibility) or `None` for a rule (sees all macros).
    /// Each body's size is added to `size` before it is copied in; `level`
    /// is the depth of `e` in the whole tree.
    fn expand_macros(
        &mut self,
        e: &mut Expr,
        owner: Option<(usize, usize)>,
        size: &mut Size,
        level: usize,
    ) -> Result<(), ResolveError> {
        size.depth = size.depth.max(level + 1);
        match &mut e.kind {
            ExprKind::And(c) | ExprKind::Or(c) => {
                let mut first_err = None;
                for x in c.iter_mut() {
                    if let Err(err) = self.expand_macros(x, owner, size, level + 1)
                        && first_err.is_none()
                    {
                        first_err = Some(err);
                    }
                }
                first_err.map_or(Ok(()), Err)
            }
            ExprKind::Not(x) | ExprKind::Expanded(_, x) => {
                self.expand_macros(x, owner, size, level + 1)
            }
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
                let Some(body) = self.macro_size(j) else {
                    return Err(ResolveError::Silent);
                };
                size.nodes = size.nodes.saturating_add(body.nodes);
                // The body's root sits one level below this node.
                size.depth = size.depth.max(level + 1 + body.depth);
                if size.nodes > limits::CONDITION_NODES {
                    return Err(ResolveError::At(
                        format!(
                            "condition expands to more than {} nodes with macro `{name}`",
                            limits::CONDITION_NODES
                        ),
                        e.pos,
                    ));
                }
                if size.depth > limits::CONDITION_DEPTH {
                    return Err(ResolveError::At(
                        format!(
                            "condition nests more than {} levels deep with macro `{name}`",
                            limits::CONDITION_DEPTH
                        ),
                        e.pos,
                    ));
                }
                let Some((body, _)) = self.resolve_macro(j) else {
                    return Err(ResolveError::Silent);
                };
                e.kind = ExprKind::Expanded(name.clone(), Box::new(body));
                Ok(())
            }
            ExprKind::Exists(_) | ExprKind::Compare(..) => Ok(()),
        }
    }

    /// Resolves macro `j` and gives its size only (its tree is copied by
    /// [`Self::resolve_macro`] once the size is known to fit).
    fn macro_size(&mut self, j: usize) -> Option<Size> {
        if !matches!(self.macro_state[j], MacroState::Done(_)) {
            self.resolve_macro(j);
        }
        match &self.macro_state[j] {
            MacroState::Done(Some((_, size))) => Some(*size),
            _ => None,
        }
    }

    fn compile_rule(&mut self, index: usize) -> Option<CompiledRule> {
        if self.over {
            return None;
        }
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
        let text = match self.substitute_lists(&cond) {
            Ok(t) => t,
            Err(msg) => {
                self.diag(Severity::Error, &cond_ctx, ItemKind::Rule, &name, None, msg);
                return None;
            }
        };
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
        match self.expand(&mut ast, None) {
            Ok(size) => {
                if !self.charge_total(size, &cond_ctx, ItemKind::Rule, &name) {
                    return None;
                }
            }
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

/// Falco's `resolve_list`: replaces whole-word occurrences of `name` in
/// `cnd`; whether it did, or `None` when `cnd` would grow past
/// [`limits::CONDITION_BYTES`].
///
/// One pass (Falco rebuilds the whole string at each occurrence, which is
/// quadratic): the text so far is `out` followed by `src[i..]`; `from` is
/// where the next search starts in `src`. The results are Falco's, quirks
/// included (after a replacement at the very start, one byte is skipped
/// before searching again); a property test checks it against a direct
/// transcription.
fn resolve_list(cnd: &mut String, name: &str, items: &[String]) -> Option<bool> {
    const BLANKS: &[u8] = b" \t\n\r";
    const DELIMS: &[u8] = b" \t\n\r(),=";
    if name.is_empty() {
        return Some(false);
    }
    let s = cnd.as_bytes();
    // Joined once, at the first occurrence.
    let mut joined: Option<String> = None;
    let mut out: Vec<u8> = Vec::new();
    let (mut i, mut from) = (0, 0);
    let mut used = false;
    while let Some(found) = memchr::memmem::find(&s[from.min(s.len())..], name.as_bytes()) {
        let p = from + found;
        let before = if p > i { s.get(p - 1) } else { out.last() };
        let before_ok = before.is_none_or(|b| DELIMS.contains(b));
        let mut end = p + name.len();
        let after_ok = end >= s.len() || DELIMS.contains(&s[end]);
        if !(before_ok && after_ok) {
            from = p + 1;
            continue;
        }
        let sub = joined.get_or_insert_with(|| {
            items
                .iter()
                .map(|i| quote_item(i))
                .collect::<Vec<_>>()
                .join(", ")
        });
        if out.len() + (s.len() - i) + sub.len() + 2 > limits::CONDITION_BYTES {
            return None;
        }
        out.extend_from_slice(&s[i..p]);
        while out.last().is_some_and(|b| BLANKS.contains(b)) {
            out.pop();
        }
        while end < s.len() && BLANKS.contains(&s[end]) {
            end += 1;
        }
        if sub.is_empty() {
            if out.last() == Some(&b',') {
                out.pop();
            } else if s.get(end) == Some(&b',') {
                end += 1;
            }
        }
        let at_start = out.is_empty();
        if !at_start {
            out.push(b' ');
        }
        out.extend_from_slice(sub.as_bytes());
        out.push(b' ');
        i = end;
        from = end + usize::from(at_start);
        used = true;
    }
    if used {
        out.extend_from_slice(&s[i..]);
        // Cut only at ASCII bytes and match boundaries: still UTF-8.
        *cnd = String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    }
    Some(used)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Falco's `resolve_list` as Falco writes it: replaces whole-word occurrences of `name` in
    /// `cnd`; whether it did, or `None` when `cnd` would grow past
    /// [`limits::CONDITION_BYTES`].
    fn reference(cnd: &mut String, name: &str, items: &[String]) -> Option<bool> {
        const BLANKS: &[u8] = b" \t\n\r";
        const DELIMS: &[u8] = b" \t\n\r(),=";
        if name.is_empty() {
            return Some(false);
        }
        // Joined once, at the first occurrence.
        let mut joined: Option<String> = None;
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
            let sub = joined.get_or_insert_with(|| {
                items
                    .iter()
                    .map(|i| quote_item(i))
                    .collect::<Vec<_>>()
                    .join(", ")
            });
            if cnd.len() + sub.len() + 2 > limits::CONDITION_BYTES {
                return None;
            }
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
            new.push_str(sub);
            new.push(' ');
            new.push_str(&cnd[end..]);
            *cnd = new;
            from = start + sub.len() + 2;
            used = true;
        }
        Some(used)
    }

    proptest::proptest! {
        #[test]
        fn one_pass_substitution_is_falcos(
            cnd in "[ab ,()=\té]{0,40}",
            name in "[ab]{1,2}",
            items in proptest::collection::vec("[ab ]{0,3}", 0..3),
        ) {
            let (mut x, mut y) = (cnd.clone(), cnd);
            let a = resolve_list(&mut x, &name, &items);
            let b = reference(&mut y, &name, &items);
            proptest::prop_assert_eq!(a, b);
            proptest::prop_assert_eq!(x, y);
        }
    }

    #[test]
    fn list_substitution_follows_falco() {
        let items = vec!["sh".to_owned(), "bash".to_owned(), "a b".to_owned()];
        let mut c = "proc.name in (shells) and x=shells_x".to_owned();
        assert_eq!(resolve_list(&mut c, "shells", &items), Some(true));
        assert_eq!(c, "proc.name in ( sh, bash, \"a b\" ) and x=shells_x");
        // Inside quotes (preceded by a quote) nothing happens.
        let mut c = "proc.name = 'shells'".to_owned();
        assert_eq!(resolve_list(&mut c, "shells", &items), Some(false));
        // Empty lists remove a neighbouring comma.
        let mut c = "proc.name in (a, empty)".to_owned();
        assert_eq!(resolve_list(&mut c, "empty", &[]), Some(true));
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
