//! Output format strings, parsed once into templates.
//!
//! As libsinsp's formatter: `%` starts a token, optionally followed by a
//! width (`%20proc.name`, padded with spaces), then a field (`%proc.name`,
//! `%proc.aname[2]`, `%evt.arg.flags`) or a transformer
//! (`%tolower(proc.name)`), taking the longest that parses; the rest is text.
//! A field without a value renders as `<NA>`; a leading `*` is dropped.

use std::fmt::Write as _;

use super::compile::{FieldTable, compile_operand};
use super::eval::{Operand, transform};
use super::parser::parse_operand_prefix;
use super::source::{FieldSource, OwnedValue};

/// Text shown for a field without a value.
pub const NA: &str = "<NA>";

/// An output format that failed to parse.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at offset {offset}")]
pub struct OutputError {
    /// What is wrong.
    pub message: String,
    /// Byte offset in the format string.
    pub offset: usize,
    /// Whether it names an unknown field.
    pub unknown_field: bool,
}

/// A parsed output format.
#[derive(Debug)]
pub struct OutputTemplate {
    parts: Vec<Part>,
    fields: Vec<OutputField>,
}

#[derive(Debug)]
enum Part {
    Text(String),
    Field { field: usize, width: usize },
}

/// A field named in an output format (for JSON `output_fields`).
#[derive(Debug)]
pub struct OutputField {
    /// The token as Falco names it in `output_fields` (`proc.aname[2]`).
    pub name: String,
    operand: Operand,
}

impl OutputTemplate {
    /// Parses `format`, registering its fields in `table`.
    pub fn parse(format: &str, table: &mut FieldTable) -> Result<OutputTemplate, OutputError> {
        let mut parts = Vec::new();
        let mut fields: Vec<OutputField> = Vec::new();
        let mut text = String::new();
        // A leading `*` only tells libsinsp to print even when fields are
        // missing, which is what this template always does.
        let (mut rest, mut offset) = match format.strip_prefix('*') {
            Some(r) => (r, 1),
            None => (format, 0),
        };
        while let Some(i) = rest.find('%') {
            text.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            let width = after[..digits].parse::<usize>().unwrap_or(0).min(4096);
            let tok = &after[digits..];
            let Some((op, used)) = parse_operand_prefix(tok) else {
                return Err(OutputError {
                    message: format!(
                        "invalid formatting token `%{}`",
                        tok.chars().take(20).collect::<String>()
                    ),
                    offset: offset + i,
                    unknown_field: false,
                });
            };
            let (op, used, compiled) = match compile_operand(&op, table) {
                Ok((c, _)) => (op, used, c),
                // As libsinsp, retry shorter prefixes: `%proc.name.` or
                // `%fd.name.suffix` end at the longest known field.
                Err(e) => match shorter_prefix(tok, used, table) {
                    Some(found) => found,
                    None => {
                        return Err(OutputError {
                            message: e.message,
                            offset: offset + i,
                            unknown_field: e.unknown_field,
                        });
                    }
                },
            };
            if !text.is_empty() {
                parts.push(Part::Text(std::mem::take(&mut text)));
            }
            let name = op.to_string();
            let field = match fields.iter().position(|f| f.name == name) {
                Some(p) => p,
                None => {
                    fields.push(OutputField {
                        name,
                        operand: compiled,
                    });
                    fields.len() - 1
                }
            };
            parts.push(Part::Field { field, width });
            let consumed = i + 1 + digits + used;
            offset += consumed;
            rest = &rest[consumed..];
        }
        text.push_str(rest);
        if !text.is_empty() {
            parts.push(Part::Text(text));
        }
        Ok(OutputTemplate { parts, fields })
    }

    /// Parses a format that stands alone (`replay --filter C --format F`,
    /// like `sysdig -p F`), with its own field table.
    pub fn standalone(format: &str) -> Result<OutputTemplate, OutputError> {
        OutputTemplate::parse(format, &mut FieldTable::default())
    }

    /// The distinct fields, in order of first use.
    pub fn fields(&self) -> &[OutputField] {
        &self.fields
    }

    /// Renders the message for the current event of `src`.
    pub fn render<S: FieldSource + ?Sized>(&self, src: &mut S) -> String {
        let mut out = String::new();
        for p in &self.parts {
            match p {
                Part::Text(t) => out.push_str(t),
                Part::Field { field, width } => {
                    let start = out.len();
                    if !render_operand(&self.fields[*field].operand, src, &mut out) {
                        out.push_str(NA);
                    }
                    if *width > 0 {
                        let len = out[start..].chars().count();
                        if len < *width {
                            out.extend(std::iter::repeat_n(' ', width - len));
                        } else if len > *width {
                            let cut = out[start..]
                                .char_indices()
                                .nth(*width)
                                .map_or(out.len(), |(i, _)| start + i);
                            out.truncate(cut);
                        }
                    }
                }
            }
        }
        out
    }

    /// The typed values of [`fields`](Self::fields), `None` when missing
    /// (JSON `null`). A transformed field (`%tolower(proc.name)`) is left
    /// out, as Falco leaves it out of `output_fields` (libsinsp's
    /// formatter skips tokens with transformers unless asked to resolve
    /// them, and Falco does not ask).
    pub fn values<S: FieldSource + ?Sized>(&self, src: &mut S) -> Vec<(&str, Option<OwnedValue>)> {
        self.fields
            .iter()
            .filter(|f| matches!(f.operand, Operand::Field(_)))
            .map(|f| (f.name.as_str(), value_of(&f.operand, src)))
            .collect()
    }
}

fn value_of<S: FieldSource + ?Sized>(op: &Operand, src: &mut S) -> Option<OwnedValue> {
    match op {
        Operand::Field(r) => {
            if r.is_multi() {
                let mut first = None;
                src.for_each(r, &mut |v| {
                    first = Some(v.to_owned_value());
                    false
                });
                first
            } else {
                src.get(r).map(|v| v.to_owned_value())
            }
        }
        Operand::Transform(t, inner) => {
            let v = value_of(inner, src)?;
            transform(*t, v.as_value())
        }
    }
}

fn render_operand<S: FieldSource + ?Sized>(op: &Operand, src: &mut S, out: &mut String) -> bool {
    match op {
        Operand::Field(r) if !r.is_multi() => src.render(r, out),
        other => match value_of(other, src) {
            Some(v) => {
                let _ = write!(out, "{v}");
                true
            }
            None => false,
        },
    }
}

fn shorter_prefix(
    tok: &str,
    used: usize,
    table: &mut FieldTable,
) -> Option<(super::ast::Operand, usize, Operand)> {
    (1..used)
        .rev()
        .filter(|&n| tok.is_char_boundary(n))
        .find_map(|n| {
            let (op, used) = parse_operand_prefix(&tok[..n])?;
            let (c, _) = compile_operand(&op, table).ok()?;
            Some((op, used, c))
        })
}
