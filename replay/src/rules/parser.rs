//! Condition text -> [`Expr`].
//!
//! A scannerless recursive-descent parser that follows libsinsp's
//! `filter/parser.cpp` token by token, so that the conditions Falco accepts
//! parse to the same tree here:
//!
//! ```text
//! Or        ::= And ('or' Blank And | 'or(' Or ')')*
//! And       ::= Not ('and' Blank Not | 'and(' Or ')')*
//! Not       ::= ('not' Blank)* ('not(' Or ')' | Check)
//! Check     ::= '(' Or ')' | Operand Cond | Identifier          (a macro)
//! Operand   ::= FieldName ('[' (Quoted | ArgBare) ']')? | Transformer '(' Operand ')'
//! Cond      ::= 'exists'
//!             | ('<' | '<=' | '>' | '>=') (Number | ValOrTransformer)
//!             | ('=' | '==' | '!=' | 'contains' ...) (ValOrTransformer | Quoted | Bare)
//!             | ('in' | 'intersects' | 'pmatch') ('(' Values? ')' | ValOrTransformer | Identifier)
//! ```
//!
//! Word operators (`contains`, `glob`, ...) must be followed by a blank;
//! symbols and list operators need not be. Quoted strings take Falco's
//! escapes (`\\ \" \' \/ \b \f \n \r \t`; `\"` only in `"`-strings and
//! `\'` only in `'`-strings).
//!
//! **Invariant:** the parser never panics and never recurses deeper than
//! [`MAX_DEPTH`] (it returns [`ParseError`] instead); a property test feeds it
//! random text.

use super::ast::{BinOp, Expr, ExprKind, Operand, Pos, Rhs, Transformer};

/// Maximum recursion depth (each grammar level counts, as in libsinsp).
pub const MAX_DEPTH: u32 = 500;

/// A syntax error in a condition.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {pos}")]
pub struct ParseError {
    /// What went wrong (lowercase, user input in backticks).
    pub message: String,
    /// Where.
    pub pos: Pos,
}

/// Parses a condition.
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    let mut p = Parser::new(input);
    if input.is_empty() {
        return Err(p.error("condition is empty".into()));
    }
    let e = p.parse_or()?;
    if p.idx != p.src.len() {
        return Err(p.error(format!(
            "unexpected token after `{}`, expecting `or`, `and`",
            p.last_token
        )));
    }
    Ok(e)
}

/// Parses a field or transformer at the start of `input` (used by output
/// formats: `%proc.name`, `%tolower(proc.name)`); returns it and the number
/// of bytes consumed.
pub fn parse_operand_prefix(input: &str) -> Option<(Operand, usize)> {
    let mut p = Parser::new(input);
    let pos = p.pos();
    let op = if let Some(name) = p.lex_field_name() {
        p.parse_field_remainder(name, pos).ok()?
    } else if let Some(t) = p.lex_transformer() {
        p.parse_transformer_remainder(t, pos).ok()?
    } else {
        return None;
    };
    Some((op, p.idx))
}

struct Parser<'a> {
    src: &'a [u8],
    text: &'a str,
    idx: usize,
    line: u32,
    col: u32,
    depth: u32,
    last_token: String,
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | 0x08 | b'\r' | b'\n')
}

fn is_space(b: u8) -> bool {
    // POSIX [[:space:]]
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            src: text.as_bytes(),
            text,
            idx: 0,
            line: 1,
            col: 1,
            depth: 0,
            last_token: String::new(),
        }
    }

    fn pos(&self) -> Pos {
        Pos {
            idx: u32::try_from(self.idx).unwrap_or(u32::MAX),
            line: self.line,
            col: self.col,
        }
    }

    fn error(&self, message: String) -> ParseError {
        ParseError {
            message,
            pos: self.pos(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.idx).copied()
    }

    fn advance(&mut self, n: usize) {
        for _ in 0..n {
            let Some(c) = self.peek() else { return };
            self.col += 1;
            if c == b'\r' || c == b'\n' {
                self.col = 1;
                self.line += 1;
            }
            self.idx += 1;
        }
    }

    /// Consumes `n` bytes as the last token and returns them.
    fn take(&mut self, n: usize) -> String {
        // Token ends always fall on ASCII bytes or the end of input, so
        // they are char boundaries; `get` keeps this panic-free regardless.
        let s = self
            .text
            .get(self.idx..self.idx + n)
            .unwrap_or_default()
            .to_owned();
        self.advance(n);
        self.last_token.clone_from(&s);
        s
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth >= MAX_DEPTH {
            return Err(self.error(format!("exceeded max depth limit of {MAX_DEPTH}")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
    }

    fn guarded<T>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<T, ParseError>,
    ) -> Result<T, ParseError> {
        self.enter()?;
        let r = f(self);
        self.leave();
        r
    }

    // ---- lexing helpers ----

    fn lex_blank(&mut self) -> bool {
        let mut found = false;
        while self.peek().is_some_and(is_blank) {
            found = true;
            self.advance(1);
        }
        found
    }

    fn lex_str(&mut self, s: &str) -> bool {
        if self.src[self.idx..].starts_with(s.as_bytes()) {
            self.take(s.len());
            true
        } else {
            false
        }
    }

    fn ident_len(&self, from: usize) -> usize {
        let rest = &self.src[from..];
        let letters = rest.iter().take_while(|b| b.is_ascii_alphabetic()).count();
        if letters == 0 {
            return 0;
        }
        letters
            + rest[letters..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                .count()
    }

    fn lex_identifier(&mut self) -> Option<String> {
        let n = self.ident_len(self.idx);
        (n > 0).then(|| self.take(n))
    }

    fn lex_field_name(&mut self) -> Option<String> {
        let first = self.ident_len(self.idx);
        if first == 0 {
            return None;
        }
        let mut end = self.idx + first;
        let mut segments = 0;
        while self.src.get(end) == Some(&b'.') {
            let n = self.ident_len(end + 1);
            if n == 0 {
                break;
            }
            end += 1 + n;
            segments += 1;
        }
        (segments > 0).then(|| self.take(end - self.idx))
    }

    fn lex_while(&mut self, ok: impl Fn(u8) -> bool) -> Option<String> {
        let n = self.src[self.idx..].iter().take_while(|b| ok(**b)).count();
        (n > 0).then(|| self.take(n))
    }

    fn lex_bare_str(&mut self) -> Option<String> {
        self.lex_while(|b| !matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') && !is_space(b))
    }

    fn lex_field_arg_bare_str(&mut self) -> Option<String> {
        self.lex_while(|b| !matches!(b, b'[' | b']' | b'"' | b'\'') && !is_space(b))
    }

    fn lex_number(&mut self) -> Option<String> {
        let s = &self.src[self.idx..];
        // hex: 0[xX][0-9a-zA-Z]+
        if s.len() > 2 && s[0] == b'0' && (s[1] == b'x' || s[1] == b'X') {
            let n = s[2..]
                .iter()
                .take_while(|b| b.is_ascii_alphanumeric())
                .count();
            if n > 0 {
                return Some(self.take(2 + n));
            }
        }
        // [+-]?[0-9]+\.?[0-9]*([eE][+-][0-9]+)?
        let mut i = 0;
        if matches!(s.first(), Some(b'+' | b'-')) {
            i += 1;
        }
        let digits = s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        i += digits;
        if s.get(i) == Some(&b'.') {
            i += 1;
        }
        i += s[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if matches!(s.get(i), Some(b'e' | b'E')) && matches!(s.get(i + 1), Some(b'+' | b'-')) {
            let exp = s[i + 2..].iter().take_while(|b| b.is_ascii_digit()).count();
            if exp > 0 {
                i += 2 + exp;
            }
        }
        Some(self.take(i))
    }

    /// A quoted string, unescaped. `Ok(None)` when not at a quote.
    fn lex_quoted_str(&mut self) -> Result<Option<String>, ParseError> {
        let Some(delim @ (b'"' | b'\'')) = self.peek() else {
            return Ok(None);
        };
        let start = self.pos();
        let mut out = String::new();
        let mut i = self.idx + 1;
        let mut escaped = false;
        let mut run_start = i;
        while i < self.src.len() {
            let b = self.src[i];
            if escaped {
                let c = match b {
                    b'b' => '\u{8}',
                    b'f' => '\u{c}',
                    b'n' => '\n',
                    b'r' => '\r',
                    b't' => '\t',
                    // libsinsp maps `\ ` to a backslash (kept for old rules).
                    b' ' | b'\\' => '\\',
                    b'/' => '/',
                    b'"' | b'\'' if b == delim => b as char,
                    b'"' => {
                        return Err(ParseError {
                            message: "invalid `\\\"` escape in '-quoted string".into(),
                            pos: start,
                        });
                    }
                    b'\'' => {
                        return Err(ParseError {
                            message: "invalid `\\'` escape in \"-quoted string".into(),
                            pos: start,
                        });
                    }
                    _ => {
                        let ch = self
                            .text
                            .get(i..)
                            .and_then(|s| s.chars().next())
                            .unwrap_or('?');
                        return Err(ParseError {
                            message: format!("unsupported string escape sequence `\\{ch}`"),
                            pos: start,
                        });
                    }
                };
                out.push(c);
                escaped = false;
                i += 1;
                run_start = i;
                continue;
            }
            if b == b'\\' {
                out.push_str(self.text.get(run_start..i).unwrap_or_default());
                escaped = true;
                i += 1;
                continue;
            }
            if b == delim {
                out.push_str(self.text.get(run_start..i).unwrap_or_default());
                let n = i + 1 - self.idx;
                self.take(n);
                return Ok(Some(out));
            }
            i += 1;
        }
        Err(ParseError {
            message: "unterminated quoted string".into(),
            pos: start,
        })
    }

    fn lex_transformer(&mut self) -> Option<Transformer> {
        for t in Transformer::ALL {
            let name = t.name();
            if self.src[self.idx..].starts_with(name.as_bytes())
                && self.src.get(self.idx + name.len()) == Some(&b'(')
            {
                self.take(name.len() + 1);
                return Some(t);
            }
        }
        None
    }

    /// Operators; word operators need a following blank (consumed).
    fn lex_operator(&mut self) -> Option<BinOp> {
        const OPS: [(&str, BinOp, bool); 19] = [
            ("<=", BinOp::Le, false),
            ("<", BinOp::Lt, false),
            (">=", BinOp::Ge, false),
            (">", BinOp::Gt, false),
            ("==", BinOp::EqEq, false),
            ("=", BinOp::Eq, false),
            ("!=", BinOp::Ne, false),
            ("glob", BinOp::Glob, true),
            ("iglob", BinOp::IGlob, true),
            ("contains", BinOp::Contains, true),
            ("icontains", BinOp::IContains, true),
            ("bcontains", BinOp::BContains, true),
            ("startswith", BinOp::StartsWith, true),
            ("bstartswith", BinOp::BStartsWith, true),
            ("endswith", BinOp::EndsWith, true),
            ("regex", BinOp::Regex, true),
            ("intersects", BinOp::Intersects, false),
            ("in", BinOp::In, false),
            ("pmatch", BinOp::PMatch, false),
        ];
        for (s, op, needs_blank) in OPS {
            if self.src[self.idx..].starts_with(s.as_bytes()) {
                if needs_blank
                    && !self
                        .src
                        .get(self.idx + s.len())
                        .copied()
                        .is_some_and(is_blank)
                {
                    continue;
                }
                self.take(s.len());
                return Some(op);
            }
        }
        None
    }

    // ---- grammar ----

    fn parse_or(&mut self) -> Result<Expr, ParseError> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos();
            let mut children = vec![p.parse_and()?];
            p.lex_blank();
            while p.lex_str("or") {
                let child = if p.lex_blank() {
                    p.parse_and()?
                } else if p.lex_str("(") {
                    p.parse_embedded_remainder()?
                } else {
                    return Err(p.error("expected blank or `(` after `or`".into()));
                };
                children.push(child);
                p.lex_blank();
            }
            Ok(collapse(children, pos, ExprKind::Or))
        })
    }

    fn parse_and(&mut self) -> Result<Expr, ParseError> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos();
            let mut children = vec![p.parse_not()?];
            p.lex_blank();
            while p.lex_str("and") {
                let child = if p.lex_blank() {
                    p.parse_not()?
                } else if p.lex_str("(") {
                    p.parse_embedded_remainder()?
                } else {
                    return Err(p.error("expected blank or `(` after `and`".into()));
                };
                children.push(child);
                p.lex_blank();
            }
            Ok(collapse(children, pos, ExprKind::And))
        })
    }

    fn parse_not(&mut self) -> Result<Expr, ParseError> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos();
            let mut negate = false;
            while p.src[p.idx..].starts_with(b"not")
                && p.src.get(p.idx + 3).copied().is_some_and(is_space)
            {
                p.take(3);
                while p.peek().is_some_and(is_space) {
                    p.advance(1);
                }
                negate = !negate;
            }
            let child = if p.lex_str("not(") {
                negate = !negate;
                p.parse_embedded_remainder()?
            } else {
                p.parse_check()?
            };
            Ok(if negate {
                Expr::new(ExprKind::Not(Box::new(child)), pos)
            } else {
                child
            })
        })
    }

    fn parse_embedded_remainder(&mut self) -> Result<Expr, ParseError> {
        self.guarded(|p| {
            p.lex_blank();
            let child = p.parse_or()?;
            p.lex_blank();
            if !p.lex_str(")") {
                return Err(p.error("expected a `)` token".into()));
            }
            Ok(child)
        })
    }

    fn parse_check(&mut self) -> Result<Expr, ParseError> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos();
            if p.lex_str("(") {
                return p.parse_embedded_remainder();
            }
            if let Some(name) = p.lex_field_name() {
                let left = p.parse_field_remainder(name, pos)?;
                return p.parse_condition(left, pos);
            }
            if let Some(t) = p.lex_transformer() {
                let left = p.parse_transformer_remainder(t, pos)?;
                return p.parse_condition(left, pos);
            }
            if let Some(id) = p.lex_identifier() {
                return Ok(Expr::new(ExprKind::Macro(id), pos));
            }
            Err(p.error("expected a `(` token, a field check, or an identifier".into()))
        })
    }

    fn parse_field_remainder(&mut self, name: String, pos: Pos) -> Result<Operand, ParseError> {
        self.guarded(|p| {
            let mut arg = None;
            if p.lex_str("[") {
                let a = match p.lex_quoted_str()? {
                    Some(s) => s,
                    None => p.lex_field_arg_bare_str().ok_or_else(|| {
                        p.error(
                            "expected a valid field argument: a quoted string or a bare string"
                                .into(),
                        )
                    })?,
                };
                if !p.lex_str("]") {
                    return Err(p.error("expected a `]` token".into()));
                }
                arg = Some(a);
            }
            Ok(Operand::Field { name, arg, pos })
        })
    }

    /// After `transformer(`: a nested transformer or a field, then `)`.
    fn parse_transformer_remainder(
        &mut self,
        t: Transformer,
        pos: Pos,
    ) -> Result<Operand, ParseError> {
        self.guarded(|p| {
            p.lex_blank();
            let arg_pos = p.pos();
            let child = if let Some(inner) = p.lex_transformer() {
                p.parse_transformer_remainder(inner, arg_pos)?
            } else if let Some(name) = p.lex_field_name() {
                p.parse_field_remainder(name, arg_pos)?
            } else {
                return Err(p.error(
                    "expected a field or a nested transformer: `val`, `tolower`, `toupper`, `b64`, `basename`, `len`"
                        .into(),
                ));
            };
            p.lex_blank();
            if !p.lex_str(")") {
                return Err(p.error("expected a `)` token closing the transformer".into()));
            }
            Ok(Operand::Transform(t, Box::new(child), pos))
        })
    }

    fn parse_condition(&mut self, left: Operand, pos: Pos) -> Result<Expr, ParseError> {
        self.guarded(|p| {
            p.lex_blank();
            if p.lex_str("exists") {
                return Ok(Expr::new(ExprKind::Exists(left), pos));
            }
            let Some(op) = p.lex_operator() else {
                return Err(p.error(
                    "expected a valid check operator: one of `exists`, `<=`, `<`, `>=`, `>`, `==`, `=`, `!=`, `glob`, `iglob`, `contains`, `icontains`, `bcontains`, `startswith`, `bstartswith`, `endswith`, `regex`, `intersects`, `in`, `pmatch`"
                        .into(),
                ));
            };
            let rhs = if op.is_num_op() {
                p.parse_num_value()?
            } else if op.is_list_op() {
                p.parse_list_value()?
            } else {
                p.parse_str_value()?
            };
            Ok(Expr::new(ExprKind::Compare(left, op, rhs), pos))
        })
    }

    fn try_parse_transformer_or_val(&mut self) -> Result<Option<Rhs>, ParseError> {
        self.lex_blank();
        let pos = self.pos();
        if self.lex_str("val(") {
            self.lex_blank();
            let field_pos = self.pos();
            let Some(name) = self.lex_field_name() else {
                return Err(self.error("expected a field within `val` transformer".into()));
            };
            let field = self.parse_field_remainder(name, field_pos)?;
            self.lex_blank();
            if !self.lex_str(")") {
                return Err(self.error("expected a `)` token closing the transformer".into()));
            }
            return Ok(Some(Rhs::Val(field, pos)));
        }
        if let Some(t) = self.lex_transformer() {
            return Ok(Some(Rhs::Operand(
                self.parse_transformer_remainder(t, pos)?,
            )));
        }
        Ok(None)
    }

    fn parse_num_value(&mut self) -> Result<Rhs, ParseError> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos();
            if let Some(r) = p.try_parse_transformer_or_val()? {
                return Ok(r);
            }
            match p.lex_number() {
                Some(n) => Ok(Rhs::Value(n, pos)),
                None => Err(
                    p.error("expected a number value or a field with a valid transformer".into())
                ),
            }
        })
    }

    fn parse_str_value(&mut self) -> Result<Rhs, ParseError> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos();
            if let Some(r) = p.try_parse_transformer_or_val()? {
                return Ok(r);
            }
            match p.lex_string_value()? {
                Some(s) => Ok(Rhs::Value(s, pos)),
                None => Err(
                    p.error("expected a string value or a field with a valid transformer".into())
                ),
            }
        })
    }

    fn lex_string_value(&mut self) -> Result<Option<String>, ParseError> {
        if let Some(s) = self.lex_quoted_str()? {
            return Ok(Some(s));
        }
        Ok(self.lex_bare_str())
    }

    fn parse_list_value(&mut self) -> Result<Rhs, ParseError> {
        self.guarded(|p| {
            p.lex_blank();
            let pos = p.pos();
            if p.lex_str("(") {
                let mut values = Vec::new();
                p.lex_blank();
                if let Some(first) = p.lex_string_value()? {
                    values.push(first);
                    p.lex_blank();
                    while p.lex_str(",") {
                        p.lex_blank();
                        match p.lex_string_value()? {
                            Some(v) => values.push(v),
                            None => return Err(p.error("expected a string value".into())),
                        }
                        p.lex_blank();
                    }
                }
                if !p.lex_str(")") {
                    return Err(p.error("expected a `)` token".into()));
                }
                return Ok(Rhs::List(values, pos));
            }
            if let Some(r) = p.try_parse_transformer_or_val()? {
                return Ok(r);
            }
            if let Some(id) = p.lex_identifier() {
                return Ok(Rhs::Value(id, pos));
            }
            Err(p.error(
                "expected a list, an identifier, or a field with a valid transformer".into(),
            ))
        })
    }
}

fn collapse(mut children: Vec<Expr>, pos: Pos, make: fn(Vec<Expr>) -> ExprKind) -> Expr {
    if children.len() == 1 {
        children
            .pop()
            .unwrap_or_else(|| Expr::new(make(Vec::new()), pos))
    } else {
        Expr::new(make(children), pos)
    }
}
