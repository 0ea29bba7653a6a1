//! Rules files -> collected definitions (Falco's `rule_loader::reader` and
//! `collector`).
//!
//! Each file is read item by item; `append: true` and `override:` merge into
//! earlier definitions, redefinitions replace in place.
//!
//! **Invariant:** a redefined or appended list, macro or rule keeps the
//! position of its first definition (rules are matched in that order).
//!
//! **Invariant:** reading a file never stops at the first bad item: every
//! error of the file is reported, and a file with errors changes nothing.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use super::ast::BinOp;
use super::error::{Diagnostic, ItemKind, Location, Severity};
use super::yaml::{self, Kind, Mark, Node};

/// The engine version reported, Falco 0.44's (`FALCO_ENGINE_VERSION`
/// 0.62.0; the shipped rules need 0.57.0). A later rule feature this
/// engine lacks still fails where it is used (an unknown field, key or
/// operator), not silently.
pub const ENGINE_VERSION: (u64, u64, u64) = (0, 62, 0);

/// Rule priorities, most severe first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// `EMERGENCY`.
    Emergency,
    /// `ALERT`.
    Alert,
    /// `CRITICAL`.
    Critical,
    /// `ERROR`.
    Error,
    /// `WARNING`.
    Warning,
    /// `NOTICE`.
    Notice,
    /// `INFORMATIONAL` (or `INFO`).
    Informational,
    /// `DEBUG`.
    Debug,
}

impl Priority {
    /// Parses a priority, case-insensitively (`INFO` = `INFORMATIONAL`).
    pub fn parse(s: &str) -> Option<Priority> {
        Some(match s.to_ascii_lowercase().as_str() {
            "emergency" => Priority::Emergency,
            "alert" => Priority::Alert,
            "critical" => Priority::Critical,
            "error" => Priority::Error,
            "warning" => Priority::Warning,
            "notice" => Priority::Notice,
            "informational" | "info" => Priority::Informational,
            "debug" => Priority::Debug,
            _ => return None,
        })
    }

    /// The name Falco prints (`Warning`, `Informational`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Emergency => "Emergency",
            Priority::Alert => "Alert",
            Priority::Critical => "Critical",
            Priority::Error => "Error",
            Priority::Warning => "Warning",
            Priority::Notice => "Notice",
            Priority::Informational => "Informational",
            Priority::Debug => "Debug",
        }
    }
}

impl std::fmt::Display for Priority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where an item or value is.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    pub file: Arc<str>,
    pub mark: Mark,
}

#[derive(Clone, Debug)]
pub(crate) struct ListInfo {
    pub name: String,
    pub items: Vec<String>,
    pub ctx: Ctx,
    /// Number of lists defined when this one was (last) defined or appended.
    pub visibility: usize,
}

#[derive(Clone, Debug)]
pub(crate) struct MacroInfo {
    pub name: String,
    pub cond: String,
    pub cond_ctx: Ctx,
    pub ctx: Ctx,
    pub visibility: usize,
}

/// An exception entry: a scalar or a (nested) list.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Entry {
    Item(String),
    List(Vec<Entry>),
}

#[derive(Clone, Debug)]
pub(crate) struct ExceptionInfo {
    pub name: String,
    pub fields: Option<Entry>,
    pub comps: Option<Entry>,
    pub values: Vec<Entry>,
    pub ctx: Ctx,
}

#[derive(Clone, Debug)]
pub(crate) struct RuleInfo {
    pub name: String,
    pub cond: String,
    pub cond_ctx: Ctx,
    pub output: String,
    pub output_ctx: Ctx,
    pub desc: String,
    pub priority: Priority,
    pub source: String,
    pub tags: BTreeSet<String>,
    pub enabled: bool,
    pub warn_evttypes: bool,
    pub skip_if_unknown_filter: bool,
    pub exceptions: Vec<ExceptionInfo>,
    pub ctx: Ctx,
}

/// Everything read so far, in definition order.
#[derive(Clone, Debug, Default)]
pub(crate) struct Collector {
    pub lists: Vec<ListInfo>,
    pub macros: Vec<MacroInfo>,
    pub rules: Vec<RuleInfo>,
    list_idx: HashMap<String, usize>,
    macro_idx: HashMap<String, usize>,
    rule_idx: HashMap<String, usize>,
}

impl Collector {
    pub fn list_index(&self, name: &str) -> Option<usize> {
        self.list_idx.get(name).copied()
    }
    pub fn macro_index(&self, name: &str) -> Option<usize> {
        self.macro_idx.get(name).copied()
    }
}

/// Reads one file's text into `col`; returns its diagnostics. When any is an
/// error, `col` is left unchanged.
pub(crate) fn read_file(col: &mut Collector, file: &Arc<str>, text: &str) -> Vec<Diagnostic> {
    let mut r = Reader {
        file: file.clone(),
        col: col.clone(),
        diags: Vec::new(),
    };
    r.read(text);
    if !r.diags.iter().any(|d| d.severity == Severity::Error) {
        *col = r.col;
    }
    r.diags
}

struct Reader {
    file: Arc<str>,
    col: Collector,
    diags: Vec<Diagnostic>,
}

/// An error raised while reading one item.
struct ItemError {
    mark: Mark,
    message: String,
}

type R<T> = Result<T, ItemError>;

fn err<T>(node: &Node, message: impl Into<String>) -> R<T> {
    Err(ItemError {
        mark: node.mark,
        message: message.into(),
    })
}

fn parse_bool(node: &Node) -> Option<bool> {
    match node.as_str()? {
        "true" | "True" | "TRUE" | "yes" | "Yes" | "YES" | "on" | "On" | "ON" | "y" | "Y" => {
            Some(true)
        }
        "false" | "False" | "FALSE" | "no" | "No" | "NO" | "off" | "Off" | "OFF" | "n" | "N" => {
            Some(false)
        }
        _ => None,
    }
}

const RULE_KEYS: &[&str] = &[
    "rule",
    "condition",
    "output",
    "desc",
    "priority",
    "tags",
    "enabled",
    "source",
    "exceptions",
    "skip-if-unknown-filter",
    "warn_evttypes",
    "append",
    "override",
    "capture",
    "capture_duration",
];
const MACRO_KEYS: &[&str] = &["macro", "condition", "append", "override"];
const LIST_KEYS: &[&str] = &["list", "items", "append", "override"];

impl Reader {
    fn ctx(&self, mark: Mark) -> Ctx {
        Ctx {
            file: self.file.clone(),
            mark,
        }
    }

    fn diag(&mut self, sev: Severity, mark: Mark, kind: ItemKind, name: &str, message: String) {
        self.diags.push(Diagnostic {
            severity: sev,
            location: Location {
                file: self.file.clone(),
                line: mark.line,
                col: mark.col,
            },
            item_kind: kind,
            item_name: name.to_owned(),
            condition_pos: None,
            message,
        });
    }

    fn read(&mut self, text: &str) {
        let docs = match yaml::parse_documents(text) {
            Ok(d) => d,
            Err(e) => {
                let (kind, name) = e.item.unwrap_or((ItemKind::File, String::new()));
                self.diag(
                    Severity::Error,
                    e.mark,
                    kind,
                    &name,
                    format!("invalid yaml: {}", e.message),
                );
                return;
            }
        };
        for doc in &docs {
            if doc.is_null() {
                continue;
            }
            let Kind::Seq(items) = &doc.kind else {
                self.diag(
                    Severity::Error,
                    doc.mark,
                    ItemKind::File,
                    "",
                    "rules content is not a yaml sequence of items".into(),
                );
                continue;
            };
            for item in items {
                if item.is_null() {
                    continue;
                }
                self.read_item(item);
            }
        }
    }

    fn read_item(&mut self, item: &Node) {
        let (kind, key) = if item.get("required_engine_version").is_some() {
            (ItemKind::RequiredEngineVersion, "required_engine_version")
        } else if item.get("required_plugin_versions").is_some() {
            (ItemKind::RequiredPluginVersions, "required_plugin_versions")
        } else if item.get("list").is_some() {
            (ItemKind::List, "list")
        } else if item.get("macro").is_some() {
            (ItemKind::Macro, "macro")
        } else if item.get("rule").is_some() {
            (ItemKind::Rule, "rule")
        } else {
            let message = if matches!(item.kind, Kind::Map(_)) {
                "unknown top level item".to_owned()
            } else {
                format!(
                    "unexpected element type: each element should be a yaml mapping, got {}",
                    item.kind_name()
                )
            };
            let sev = if matches!(item.kind, Kind::Map(_)) {
                Severity::Warning
            } else {
                Severity::Error
            };
            self.diag(sev, item.mark, ItemKind::Item, "", message);
            return;
        };
        let name = match kind {
            ItemKind::Rule | ItemKind::Macro | ItemKind::List => item
                .get(key)
                .and_then(Node::as_str)
                .unwrap_or_default()
                .to_owned(),
            _ => String::new(),
        };
        let allowed = match kind {
            ItemKind::Rule => RULE_KEYS,
            ItemKind::Macro => MACRO_KEYS,
            ItemKind::List => LIST_KEYS,
            _ => &[],
        };
        if let Kind::Map(entries) = &item.kind
            && !allowed.is_empty()
        {
            for (k, _) in entries {
                let ks = k.as_str().unwrap_or_default();
                if !allowed.contains(&ks) {
                    self.diag(
                        Severity::Warning,
                        k.mark,
                        kind,
                        &name,
                        format!("unknown key `{ks}`"),
                    );
                }
            }
        }
        let res = match kind {
            ItemKind::RequiredEngineVersion => self.read_engine_version(item),
            ItemKind::RequiredPluginVersions => self.read_plugins(item),
            ItemKind::List => self.read_list(item, &name),
            ItemKind::Macro => self.read_macro(item, &name),
            _ => self.read_rule(item, &name),
        };
        if let Err(e) = res {
            self.diag(Severity::Error, e.mark, kind, &name, e.message);
        }
    }

    fn read_engine_version(&mut self, item: &Node) -> R<()> {
        let v = scalar(item, "required_engine_version")?;
        let node = item.get("required_engine_version").unwrap_or(item);
        let parsed = if let Ok(n) = v.parse::<u64>() {
            Some((0, n, 0))
        } else {
            let parts: Vec<_> = v.split('.').map(|p| p.parse::<u64>().ok()).collect();
            match parts.as_slice() {
                [Some(a), Some(b), Some(c)] => Some((*a, *b, *c)),
                _ => None,
            }
        };
        let Some(req) = parsed else {
            return err(
                node,
                format!(
                    "unable to parse engine version `{v}` as a semver string, expected \"x.y.z\""
                ),
            );
        };
        if req > ENGINE_VERSION {
            let (a, b, c) = ENGINE_VERSION;
            return err(
                node,
                format!("rules require engine version `{v}`, but engine version is {a}.{b}.{c}"),
            );
        }
        Ok(())
    }

    fn read_plugins(&mut self, item: &Node) -> R<()> {
        let Some(node) = item.get("required_plugin_versions") else {
            return Ok(());
        };
        let Kind::Seq(plugins) = &node.kind else {
            return err(node, "value of required_plugin_versions must be a sequence");
        };
        for p in plugins {
            if !matches!(p.kind, Kind::Map(_)) {
                return err(p, "plugin version must be a mapping");
            }
            let name = scalar(p, "name")?;
            scalar(p, "version")?;
            let mut names = vec![name.clone()];
            if let Some(alts) = p.get("alternatives") {
                let Kind::Seq(alts) = &alts.kind else {
                    return err(
                        alts,
                        "value of plugin version alternatives must be a sequence",
                    );
                };
                for a in alts {
                    names.push(scalar(a, "name")?);
                }
            }
            // The container plugin is emulated from trace metadata.
            if !names.iter().any(|n| n == "container") {
                self.diag(
                    Severity::Warning,
                    p.mark,
                    ItemKind::RequiredPluginVersions,
                    &name,
                    format!(
                        "plugin `{name}` is not available; rules using its fields will fail to load"
                    ),
                );
            }
        }
        Ok(())
    }

    fn read_overrides(
        &self,
        item: &Node,
        appendable: &[&str],
        replaceable: &[&str],
    ) -> R<(Vec<String>, Vec<String>)> {
        let (mut app, mut rep) = (Vec::new(), Vec::new());
        let Some(ov) = item.get("override") else {
            return Ok((app, rep));
        };
        let Kind::Map(entries) = &ov.kind else {
            return err(
                ov,
                "`override` must be a mapping of keys to `append` or `replace`",
            );
        };
        for (k, v) in entries {
            let key = k.as_str().unwrap_or_default();
            match v.as_str().unwrap_or_default() {
                "append" => {
                    if !appendable.contains(&key) {
                        return err(
                            k,
                            format!("key `{key}` cannot be appended to, use `replace` instead"),
                        );
                    }
                    app.push(key.to_owned());
                }
                "replace" => {
                    if !replaceable.contains(&key) {
                        return err(k, format!("key `{key}` cannot be replaced"));
                    }
                    rep.push(key.to_owned());
                }
                other => {
                    return err(
                        v,
                        format!(
                            "invalid override operation for key `{key}`: `{other}`, allowed values are `append`, `replace`"
                        ),
                    );
                }
            }
        }
        Ok((app, rep))
    }

    fn read_append_flag(&mut self, item: &Node, kind: ItemKind, name: &str) -> R<bool> {
        let Some(n) = item.get("append") else {
            return Ok(false);
        };
        let v = parse_bool(n).ok_or_else(|| ItemError {
            mark: n.mark,
            message: "value of `append` must be a boolean".into(),
        })?;
        if v {
            self.diag(
                Severity::Warning,
                item.mark,
                kind,
                name,
                "`append` is deprecated, use `override` instead".into(),
            );
        }
        Ok(v)
    }

    fn read_list(&mut self, item: &Node, name: &str) -> R<()> {
        let name_node = item.get("list").unwrap_or(item);
        scalar(item, "list")?;
        let bare = name.bytes().all(|b| {
            !matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !b.is_ascii_whitespace()
        });
        if !bare {
            return err(
                name_node,
                format!("invalid list name `{name}`: must be a bare string"),
            );
        }
        let items_node = item.get("items").ok_or_else(|| ItemError {
            mark: item.mark,
            message: "item has no mapping for key `items`".into(),
        })?;
        let items = if items_node.is_null() {
            Vec::new()
        } else {
            let Kind::Seq(seq) = &items_node.kind else {
                return err(items_node, "value of `items` is not a sequence");
            };
            seq.iter()
                .map(|v| match &v.kind {
                    Kind::Scalar(s, _) => Ok(s.clone()),
                    _ => err(v, "sequence value is not a scalar"),
                })
                .collect::<R<Vec<_>>>()?
        };
        let mut append = self.read_append_flag(item, ItemKind::List, name)?;
        let (app, rep) = self.read_overrides(item, &["items"], &["items"])?;
        if append && !(app.is_empty() && rep.is_empty()) {
            return err(
                item,
                "keys `override` and `append: true` cannot be used together",
            );
        }
        append |= !app.is_empty();
        let col = &mut self.col;
        let visibility = col.lists.len();
        if append {
            let Some(&i) = col.list_idx.get(name) else {
                return err(
                    item,
                    "list has `append` key or an append override but no list by that name already exists",
                );
            };
            col.lists[i].items.extend(items);
            col.lists[i].visibility = visibility;
        } else {
            let info = ListInfo {
                name: name.to_owned(),
                items,
                ctx: Ctx {
                    file: self.file.clone(),
                    mark: item.mark,
                },
                visibility,
            };
            match col.list_idx.get(name) {
                Some(&i) => col.lists[i] = info,
                None => {
                    col.list_idx.insert(name.to_owned(), col.lists.len());
                    col.lists.push(info);
                }
            }
        }
        Ok(())
    }

    fn read_macro(&mut self, item: &Node, name: &str) -> R<()> {
        let name_node = item.get("macro").unwrap_or(item);
        scalar(item, "macro")?;
        let ident = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !ident {
            return err(
                name_node,
                format!("invalid macro name `{name}`: must match `[a-zA-Z]+[a-zA-Z0-9_]*`"),
            );
        }
        let cond = scalar(item, "condition")?;
        let cond_node = item.get("condition").unwrap_or(item);
        let mut append = self.read_append_flag(item, ItemKind::Macro, name)?;
        let (app, rep) = self.read_overrides(item, &["condition"], &["condition"])?;
        if append && !(app.is_empty() && rep.is_empty()) {
            return err(
                item,
                "keys `override` and `append: true` cannot be used together",
            );
        }
        append |= !app.is_empty();
        let visibility = self.col.macros.len();
        let cond_ctx = self.ctx(cond_node.mark);
        let ctx = self.ctx(item.mark);
        let col = &mut self.col;
        if append {
            let Some(&i) = col.macro_idx.get(name) else {
                return err(
                    item,
                    "macro has `append` key or an append override but no macro by that name already exists",
                );
            };
            let m = &mut col.macros[i];
            m.cond.push(' ');
            m.cond.push_str(&cond);
            m.visibility = visibility;
        } else {
            let info = MacroInfo {
                name: name.to_owned(),
                cond,
                cond_ctx,
                ctx,
                visibility,
            };
            match col.macro_idx.get(name) {
                Some(&i) => col.macros[i] = info,
                None => {
                    col.macro_idx.insert(name.to_owned(), col.macros.len());
                    col.macros.push(info);
                }
            }
        }
        Ok(())
    }

    fn read_rule(&mut self, item: &Node, name: &str) -> R<()> {
        scalar(item, "rule")?;
        let append_flag = self.read_append_flag(item, ItemKind::Rule, name)?;
        const APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
        const REPLACEABLE: &[&str] = &[
            "condition",
            "output",
            "desc",
            "priority",
            "tags",
            "exceptions",
            "enabled",
            "warn_evttypes",
            "skip-if-unknown-filter",
        ];
        let (app, rep) = self.read_overrides(item, APPENDABLE, REPLACEABLE)?;
        if append_flag && !(app.is_empty() && rep.is_empty()) {
            return err(
                item,
                "keys `override` and `append: true` cannot be used together",
            );
        }
        if !app.is_empty() || !rep.is_empty() {
            for key in app.iter().chain(&rep) {
                if item.get(key).is_none() {
                    let kind = if app.contains(key) {
                        "append"
                    } else {
                        "replace"
                    };
                    return err(
                        item,
                        format!(
                            "an {kind} override for `{key}` was specified but `{key}` is not defined"
                        ),
                    );
                }
            }
            for key in REPLACEABLE {
                if let Some(n) = item.get(key)
                    && !app.iter().chain(&rep).any(|k| k == key)
                {
                    return err(
                        n,
                        format!(
                            "unexpected key `{key}`: no corresponding entry under `override` is defined"
                        ),
                    );
                }
            }
            let Some(i) = self.col.rule_idx.get(name).copied() else {
                return err(
                    item,
                    "rule has an override but no rule by that name already exists",
                );
            };
            for key in &app {
                self.apply_rule_update(item, i, key, true)?;
            }
            for key in &rep {
                self.apply_rule_update(item, i, key, false)?;
            }
            return Ok(());
        }
        if append_flag {
            let Some(i) = self.col.rule_idx.get(name).copied() else {
                return err(
                    item,
                    "rule has `append` key but no rule by that name already exists",
                );
            };
            if item.get("condition").is_some() {
                self.apply_rule_update(item, i, "condition", true)?;
            }
            if item.get("exceptions").is_some() {
                self.apply_rule_update(item, i, "exceptions", true)?;
            }
            return Ok(());
        }
        let has_body = ["condition", "output", "desc", "priority"]
            .iter()
            .any(|k| item.get(k).is_some());
        if !has_body {
            // Only `enabled`: toggles an existing rule (deprecated form).
            let enabled = bool_key(item, "enabled")?.ok_or_else(|| ItemError {
                mark: item.mark,
                message: "item has no mapping for key `condition`".into(),
            })?;
            self.diag(
                Severity::Warning,
                item.mark,
                ItemKind::Rule,
                name,
                "a rule with only `enabled` is deprecated, use `override: {enabled: replace}`"
                    .into(),
            );
            let Some(&i) = self.col.rule_idx.get(name) else {
                return err(
                    item,
                    "rule has `enabled` key but no rule by that name already exists",
                );
            };
            self.col.rules[i].enabled = enabled;
            return Ok(());
        }
        let cond = scalar(item, "condition")?;
        let output = scalar(item, "output")?.trim().to_owned();
        let desc = scalar(item, "desc")?;
        let pri_s = scalar(item, "priority")?;
        let pri_node = item.get("priority").unwrap_or(item);
        let priority = Priority::parse(&pri_s).ok_or_else(|| ItemError {
            mark: pri_node.mark,
            message: format!("invalid priority `{pri_s}`"),
        })?;
        let source = match item.get("source") {
            Some(_) => scalar(item, "source")?,
            None => "syscall".to_owned(),
        };
        let info = RuleInfo {
            name: name.to_owned(),
            cond,
            cond_ctx: self.ctx(item.get("condition").map_or(item.mark, |n| n.mark)),
            output,
            output_ctx: self.ctx(item.get("output").map_or(item.mark, |n| n.mark)),
            desc,
            priority,
            source,
            tags: tags(item)?.unwrap_or_default(),
            enabled: bool_key(item, "enabled")?.unwrap_or(true),
            warn_evttypes: bool_key(item, "warn_evttypes")?.unwrap_or(true),
            skip_if_unknown_filter: bool_key(item, "skip-if-unknown-filter")?.unwrap_or(false),
            exceptions: self.read_exceptions(item, false)?,
            ctx: self.ctx(item.mark),
        };
        let col = &mut self.col;
        match col.rule_idx.get(name) {
            Some(&i) => col.rules[i] = info,
            None => {
                col.rule_idx.insert(name.to_owned(), col.rules.len());
                col.rules.push(info);
            }
        }
        Ok(())
    }

    fn apply_rule_update(&mut self, item: &Node, i: usize, key: &str, append: bool) -> R<()> {
        let exceptions = if key == "exceptions" {
            self.read_exceptions(item, true)?
        } else {
            Vec::new()
        };
        let node_mark = item.get(key).map_or(item.mark, |n| n.mark);
        let rule = &mut self.col.rules[i];
        let join = |old: &mut String, new: String| {
            if append {
                old.push(' ');
                old.push_str(&new);
            } else {
                *old = new;
            }
        };
        match key {
            "condition" => {
                join(&mut rule.cond, scalar(item, key)?);
                if !append {
                    rule.cond_ctx.mark = node_mark;
                }
            }
            "output" => join(&mut rule.output, scalar(item, key)?.trim().to_owned()),
            "desc" => join(&mut rule.desc, scalar(item, key)?),
            "tags" => {
                let t = tags(item)?.unwrap_or_default();
                if append {
                    rule.tags.extend(t);
                } else {
                    rule.tags = t;
                }
            }
            "priority" => {
                let s = scalar(item, key)?;
                rule.priority = Priority::parse(&s).ok_or_else(|| ItemError {
                    mark: node_mark,
                    message: format!("invalid priority `{s}`"),
                })?;
            }
            "enabled" => rule.enabled = bool_key(item, key)?.unwrap_or(true),
            "warn_evttypes" => rule.warn_evttypes = bool_key(item, key)?.unwrap_or(true),
            "skip-if-unknown-filter" => {
                rule.skip_if_unknown_filter = bool_key(item, key)?.unwrap_or(false);
            }
            "exceptions" => {
                if append {
                    for ex in exceptions {
                        match rule.exceptions.iter_mut().find(|e| e.name == ex.name) {
                            Some(prev) => {
                                if ex.fields.is_some() || ex.comps.is_some() {
                                    return Err(ItemError {
                                        mark: ex.ctx.mark,
                                        message: format!(
                                            "can not append exception fields or comps to existing exception `{}`, only values",
                                            ex.name
                                        ),
                                    });
                                }
                                prev.values.extend(ex.values);
                            }
                            None => {
                                check_exception(&ex)?;
                                rule.exceptions.push(ex);
                            }
                        }
                    }
                } else {
                    for ex in &exceptions {
                        check_exception(ex)?;
                    }
                    rule.exceptions = exceptions;
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn read_exceptions(&mut self, item: &Node, appending: bool) -> R<Vec<ExceptionInfo>> {
        let Some(exs) = item.get("exceptions") else {
            return Ok(Vec::new());
        };
        if exs.is_null() {
            return Ok(Vec::new());
        }
        let Kind::Seq(list) = &exs.kind else {
            return err(exs, "rule exceptions must be a sequence");
        };
        let mut out: Vec<ExceptionInfo> = Vec::new();
        for ex in list {
            if !matches!(ex.kind, Kind::Map(_)) {
                return err(ex, "rule exception must be a mapping");
            }
            let name = scalar(ex, "name")?;
            if out.iter().any(|e| e.name == name) {
                return err(
                    ex,
                    format!("exception names in the same object must be unique: `{name}`"),
                );
            }
            if let Kind::Map(entries) = &ex.kind {
                for (k, _) in entries {
                    let ks = k.as_str().unwrap_or_default();
                    if !["name", "fields", "comps", "values"].contains(&ks) {
                        self.diag(
                            Severity::Warning,
                            k.mark,
                            ItemKind::Rule,
                            item.get("rule").and_then(Node::as_str).unwrap_or_default(),
                            format!("unknown key `{ks}` in exception `{name}`"),
                        );
                    }
                }
            }
            let fields = ex.get("fields").map(entry).transpose()?;
            let comps = ex.get("comps").map(entry).transpose()?;
            let values = match ex.get("values") {
                None => Vec::new(),
                Some(v) if v.is_null() => Vec::new(),
                Some(v) => {
                    let Kind::Seq(vals) = &v.kind else {
                        return err(v, "rule exception values must be a sequence");
                    };
                    vals.iter().map(entry).collect::<R<Vec<_>>>()?
                }
            };
            let info = ExceptionInfo {
                name,
                fields,
                comps,
                values,
                ctx: self.ctx(ex.mark),
            };
            if !appending {
                check_exception(&info)?;
            }
            out.push(info);
        }
        Ok(out)
    }
}

/// Validates an exception's shape (fields, comps) as Falco does.
fn check_exception(ex: &ExceptionInfo) -> R<()> {
    let e = |m: String| ItemError {
        mark: ex.ctx.mark,
        message: m,
    };
    let Some(fields) = &ex.fields else {
        return Err(e(format!(
            "rule exception `{}` must have a `fields` property with a list of fields",
            ex.name
        )));
    };
    let check_comp = |c: &Entry| -> R<()> {
        match c {
            Entry::Item(s) if BinOp::from_name(s).is_some() => Ok(()),
            Entry::Item(s) => Err(e(format!(
                "rule exception `{}`: `{s}` is not a supported comparison operator",
                ex.name
            ))),
            Entry::List(_) => Err(e(format!(
                "rule exception `{}`: comps must be operators",
                ex.name
            ))),
        }
    };
    match (fields, &ex.comps) {
        (Entry::List(fs), Some(Entry::List(cs))) => {
            if fs.len() != cs.len() {
                return Err(e(format!(
                    "rule exception `{}`: fields and comps lists must have equal length",
                    ex.name
                )));
            }
            cs.iter().try_for_each(check_comp)?;
        }
        (Entry::List(_), Some(Entry::Item(_))) | (Entry::Item(_), Some(Entry::List(_))) => {
            return Err(e(format!(
                "rule exception `{}`: fields and comps must both be lists or both be single values",
                ex.name
            )));
        }
        (Entry::Item(_), Some(c)) => check_comp(c)?,
        (_, None) => {}
    }
    Ok(())
}

fn entry(node: &Node) -> R<Entry> {
    match &node.kind {
        Kind::Scalar(s, _) => Ok(Entry::Item(s.clone())),
        Kind::Seq(items) => Ok(Entry::List(items.iter().map(entry).collect::<R<_>>()?)),
        Kind::Map(_) => err(node, "exception entries must be scalars or sequences"),
    }
}

/// A required non-empty scalar value.
fn scalar(item: &Node, key: &str) -> R<String> {
    let Some(v) = item.get(key) else {
        return err(item, format!("item has no mapping for key `{key}`"));
    };
    if v.is_null() {
        return err(v, format!("mapping for key `{key}` is empty"));
    }
    match &v.kind {
        Kind::Scalar(s, _) if s.is_empty() => {
            err(v, format!("value for key `{key}` must be non-empty"))
        }
        Kind::Scalar(s, _) => Ok(s.clone()),
        _ => err(
            v,
            format!(
                "value for key `{key}` is not a scalar value, got {}",
                v.kind_name()
            ),
        ),
    }
}

fn bool_key(item: &Node, key: &str) -> R<Option<bool>> {
    match item.get(key) {
        None => Ok(None),
        Some(v) => parse_bool(v).map(Some).ok_or_else(|| ItemError {
            mark: v.mark,
            message: format!(
                "value for key `{key}` must be a boolean, got `{}`",
                v.as_str().unwrap_or(v.kind_name())
            ),
        }),
    }
}

fn tags(item: &Node) -> R<Option<BTreeSet<String>>> {
    let Some(v) = item.get("tags") else {
        return Ok(None);
    };
    if v.is_null() {
        return Ok(Some(BTreeSet::new()));
    }
    let Kind::Seq(items) = &v.kind else {
        return err(v, "value for key `tags` is not a sequence");
    };
    items
        .iter()
        .map(|t| match &t.kind {
            Kind::Scalar(s, _) => Ok(s.clone()),
            _ => err(t, "sequence value is not a scalar"),
        })
        .collect::<R<BTreeSet<_>>>()
        .map(Some)
}
