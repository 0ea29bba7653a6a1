//! The condition AST, as the parser produces it, and its printer.
//!
//! Names stay unresolved here (fields are text, macros are identifiers):
//! resolution belongs to the compiler. Every node carries the [`Pos`] where
//! it starts in the condition text.
//!
//! **Invariant:** printing is the inverse of parsing up to positions:
//! `parse(&expr.to_string())` equals `expr` once positions are cleared
//! ([`Expr::without_pos`]); a property test checks it.

use std::fmt;

/// A position in a condition: byte index, 1-based line and column.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Pos {
    /// Byte offset from the start of the text.
    pub idx: u32,
    /// Line, from 1.
    pub line: u32,
    /// Column (in bytes), from 1.
    pub col: u32,
}

impl Pos {
    /// The start of a text.
    pub const START: Pos = Pos {
        idx: 0,
        line: 1,
        col: 1,
    };
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A boolean expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Where it starts.
    pub pos: Pos,
}

/// The kinds of boolean expressions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExprKind {
    /// `a and b and ...` (two or more).
    And(Vec<Expr>),
    /// `a or b or ...` (two or more).
    Or(Vec<Expr>),
    /// `not a`.
    Not(Box<Expr>),
    /// A bare identifier: a macro reference.
    Macro(String),
    /// A macro reference after expansion: its name and its body. Printed as
    /// the name, so printing an expanded tree gives back the source.
    Expanded(String, Box<Expr>),
    /// `operand exists`.
    Exists(Operand),
    /// `operand op value`.
    Compare(Operand, BinOp, Rhs),
}

/// A field, possibly under transformers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// `name` or `name[arg]`.
    Field {
        /// Field name as written (`evt.arg.flags`).
        name: String,
        /// The bracketed argument, unquoted.
        arg: Option<String>,
        /// Where it starts.
        pos: Pos,
    },
    /// `tolower(x)`, ...
    Transform(Transformer, Box<Operand>, Pos),
}

impl Operand {
    /// Where the operand starts.
    pub fn pos(&self) -> Pos {
        match self {
            Operand::Field { pos, .. } | Operand::Transform(_, _, pos) => *pos,
        }
    }
}

/// Field transformers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transformer {
    /// `tolower(...)`.
    ToLower,
    /// `toupper(...)`.
    ToUpper,
    /// `b64(...)`: base64 decoding.
    B64,
    /// `basename(...)`.
    Basename,
    /// `len(...)`: length of a string, a buffer or a list.
    Len,
}

impl Transformer {
    /// All transformers, in the order the parser tries them.
    pub const ALL: [Transformer; 5] = [
        Transformer::ToLower,
        Transformer::ToUpper,
        Transformer::B64,
        Transformer::Basename,
        Transformer::Len,
    ];

    /// Its name in conditions.
    pub fn name(self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
        }
    }
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum BinOp {
    Eq,
    /// `==`, kept apart from `=` only so printing round-trips.
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Contains,
    IContains,
    BContains,
    StartsWith,
    BStartsWith,
    EndsWith,
    Glob,
    IGlob,
    Regex,
    In,
    Intersects,
    PMatch,
}

impl BinOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinOp::Eq => "=",
            BinOp::EqEq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Contains => "contains",
            BinOp::IContains => "icontains",
            BinOp::BContains => "bcontains",
            BinOp::StartsWith => "startswith",
            BinOp::BStartsWith => "bstartswith",
            BinOp::EndsWith => "endswith",
            BinOp::Glob => "glob",
            BinOp::IGlob => "iglob",
            BinOp::Regex => "regex",
            BinOp::In => "in",
            BinOp::Intersects => "intersects",
            BinOp::PMatch => "pmatch",
        }
    }

    /// Parses an operator name (as used by exception `comps`).
    pub fn from_name(s: &str) -> Option<BinOp> {
        Some(match s {
            "=" => BinOp::Eq,
            "==" => BinOp::EqEq,
            "!=" => BinOp::Ne,
            "<" => BinOp::Lt,
            "<=" => BinOp::Le,
            ">" => BinOp::Gt,
            ">=" => BinOp::Ge,
            "contains" => BinOp::Contains,
            "icontains" => BinOp::IContains,
            "bcontains" => BinOp::BContains,
            "startswith" => BinOp::StartsWith,
            "bstartswith" => BinOp::BStartsWith,
            "endswith" => BinOp::EndsWith,
            "glob" => BinOp::Glob,
            "iglob" => BinOp::IGlob,
            "regex" => BinOp::Regex,
            "in" => BinOp::In,
            "intersects" => BinOp::Intersects,
            "pmatch" => BinOp::PMatch,
            _ => return None,
        })
    }

    /// `in`, `intersects` and `pmatch` take a list.
    pub fn is_list_op(self) -> bool {
        matches!(self, BinOp::In | BinOp::Intersects | BinOp::PMatch)
    }

    /// `<`, `<=`, `>`, `>=` take a number.
    pub fn is_num_op(self) -> bool {
        matches!(self, BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge)
    }
}

impl fmt::Display for BinOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The right-hand side of a comparison.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rhs {
    /// A single value (quoted or bare; numbers are bare values).
    Value(String, Pos),
    /// A parenthesised list of values.
    List(Vec<String>, Pos),
    /// `val(field)`: the value of another field.
    Val(Operand, Pos),
    /// A transformed field (`tolower(proc.name)`).
    Operand(Operand),
}

impl Expr {
    /// Builds an expression.
    pub fn new(kind: ExprKind, pos: Pos) -> Expr {
        Expr { kind, pos }
    }

    /// A copy with every position set to the default (for comparing trees
    /// parsed from different texts).
    pub fn without_pos(&self) -> Expr {
        fn op(o: &Operand) -> Operand {
            match o {
                Operand::Field { name, arg, .. } => Operand::Field {
                    name: name.clone(),
                    arg: arg.clone(),
                    pos: Pos::default(),
                },
                Operand::Transform(t, inner, _) => {
                    Operand::Transform(*t, Box::new(op(inner)), Pos::default())
                }
            }
        }
        let kind = match &self.kind {
            ExprKind::And(c) => ExprKind::And(c.iter().map(Expr::without_pos).collect()),
            ExprKind::Or(c) => ExprKind::Or(c.iter().map(Expr::without_pos).collect()),
            ExprKind::Not(e) => ExprKind::Not(Box::new(e.without_pos())),
            ExprKind::Macro(m) => ExprKind::Macro(m.clone()),
            ExprKind::Expanded(m, e) => ExprKind::Expanded(m.clone(), Box::new(e.without_pos())),
            ExprKind::Exists(o) => ExprKind::Exists(op(o)),
            ExprKind::Compare(l, o, r) => {
                let r = match r {
                    Rhs::Value(v, _) => Rhs::Value(v.clone(), Pos::default()),
                    Rhs::List(v, _) => Rhs::List(v.clone(), Pos::default()),
                    Rhs::Val(f, _) => Rhs::Val(op(f), Pos::default()),
                    Rhs::Operand(f) => Rhs::Operand(op(f)),
                };
                ExprKind::Compare(op(l), *o, r)
            }
        };
        Expr {
            kind,
            pos: Pos::default(),
        }
    }

    /// Calls `f` on this node and every descendant (pre-order), looking
    /// through expanded macros.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match &self.kind {
            ExprKind::And(c) | ExprKind::Or(c) => c.iter().for_each(|e| e.walk(f)),
            ExprKind::Not(e) | ExprKind::Expanded(_, e) => e.walk(f),
            _ => {}
        }
    }
}

/// Whether `s` can be printed without quotes as a value (the parser's bare
/// string: no blanks, quotes, parentheses, `=` or `,`).
pub fn is_bare(s: &str) -> bool {
    !s.is_empty()
        && !s.bytes().any(|b| {
            matches!(
                b,
                b'(' | b')' | b'"' | b'\'' | b'=' | b',' | b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c | 0x08
            )
        })
        // A bare word starting like a transformer would be read as one.
        && !Transformer::ALL
            .iter()
            .map(|t| t.name())
            .chain(["val"])
            .any(|t| s.starts_with(t) && s[t.len()..].starts_with('('))
}

/// Writes `s` double-quoted with the escapes the parser understands.
pub fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

fn write_value(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    if is_bare(s) {
        f.write_str(s)
    } else {
        write_quoted(f, s)
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Operand::Field { name, arg, .. } => {
                f.write_str(name)?;
                if let Some(a) = arg {
                    let bare = !a.is_empty()
                        && !a.bytes().any(|b| {
                            matches!(b, b'[' | b']' | b'"' | b'\'')
                                || b.is_ascii_whitespace()
                                || b == 0x0b
                        });
                    f.write_char('[')?;
                    if bare {
                        f.write_str(a)?;
                    } else {
                        write_quoted(f, a)?;
                    }
                    f.write_char(']')?;
                }
                Ok(())
            }
            Operand::Transform(t, inner, _) => write!(f, "{}({inner})", t.name()),
        }
    }
}

use std::fmt::Write as _;

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ExprKind::And(c) | ExprKind::Or(c) => {
                let sep = if matches!(self.kind, ExprKind::And(_)) {
                    " and "
                } else {
                    " or "
                };
                for (i, e) in c.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    // Parenthesise every compound child: `and` inside `or` would
                    // not need it, but uniform output is easier to read and to check.
                    let wrap = matches!(e.kind, ExprKind::And(_) | ExprKind::Or(_));
                    if wrap {
                        write!(f, "({e})")?;
                    } else {
                        write!(f, "{e}")?;
                    }
                }
                Ok(())
            }
            ExprKind::Not(e) => match e.kind {
                ExprKind::And(_) | ExprKind::Or(_) | ExprKind::Not(_) => write!(f, "not ({e})"),
                _ => write!(f, "not {e}"),
            },
            ExprKind::Macro(m) | ExprKind::Expanded(m, _) => f.write_str(m),
            ExprKind::Exists(o) => write!(f, "{o} exists"),
            ExprKind::Compare(l, op, r) => {
                write!(f, "{l} {op} ")?;
                match r {
                    Rhs::Value(v, _) => write_value(f, v),
                    Rhs::List(items, _) => {
                        f.write_char('(')?;
                        for (i, v) in items.iter().enumerate() {
                            if i > 0 {
                                f.write_str(", ")?;
                            }
                            write_value(f, v)?;
                        }
                        f.write_char(')')
                    }
                    Rhs::Val(o, _) => write!(f, "val({o})"),
                    Rhs::Operand(o) => write!(f, "{o}"),
                }
            }
        }
    }
}
