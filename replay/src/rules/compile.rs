//! [`Expr`] (macros expanded) -> [`Filter`]: names resolved, constants typed.
//!
//! **Invariant:** every type error is found here, with the position of the
//! offending operand or value (and the macro it came from); a compiled
//! [`Filter`] cannot fail at evaluation time.

use std::collections::HashMap;

use memchr::memmem;

use super::Filter;
use super::ast::{BinOp, Expr, ExprKind, Operand as AstOperand, Pos, Rhs, Transformer};
use super::eval::{
    Check, Cmp, FloatTest, IntTest, IpNet, Node, Operand, StrSet, StrTest, Test, ValueTest,
};
use super::fields::{self, FieldArg, FieldId, FieldRef, FieldType, Multiplicity};

/// A condition that does not type-check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message} at {pos}{}", macro_name.as_ref().map(|m| format!(" in macro `{m}`")).unwrap_or_default())]
pub struct CompileError {
    /// What is wrong (lowercase, user input in backticks).
    pub message: String,
    /// Where, in the text of the rule's condition or of `macro_name`.
    pub pos: Pos,
    /// The macro whose body holds the error, if any.
    pub macro_name: Option<String>,
    /// Whether the error is an unknown field (rules with
    /// `skip-if-unknown-filter: true` are then skipped, not failed).
    pub unknown_field: bool,
}

/// The fields a ruleset uses, each given a dense slot.
#[derive(Debug, Default)]
pub struct FieldTable {
    refs: Vec<FieldRef>,
    index: HashMap<(FieldId, FieldArg), u32>,
    /// Expanded macros, each given a dense slot in the per-event memo
    /// ([`super::eval::Memo`]).
    macros: HashMap<String, u32>,
}

impl FieldTable {
    /// Returns `r` with its slot, adding it if new.
    pub fn intern(&mut self, mut r: FieldRef) -> FieldRef {
        let key = (r.id, r.arg.clone());
        let next = u32::try_from(self.refs.len()).unwrap_or(u32::MAX);
        let slot = *self.index.entry(key).or_insert_with(|| {
            r.slot = next;
            self.refs.push(r.clone());
            next
        });
        r.slot = slot;
        r
    }

    /// All fields, by slot.
    pub fn refs(&self) -> &[FieldRef] {
        &self.refs
    }

    /// The memo slot of macro `name`, adding it if new.
    fn macro_slot(&mut self, name: &str) -> u32 {
        let next = u32::try_from(self.macros.len()).unwrap_or(u32::MAX);
        if let Some(&slot) = self.macros.get(name) {
            return slot;
        }
        self.macros.insert(name.to_owned(), next);
        next
    }

    /// How many macro slots the compiled filters use.
    pub fn macro_slots(&self) -> usize {
        self.macros.len()
    }
}

/// Compiles an expression whose macros have been expanded.
pub fn compile(expr: &Expr, table: &mut FieldTable) -> Result<Filter, CompileError> {
    let mut c = Compiler {
        table,
        macro_name: None,
    };
    Ok(Filter {
        root: c.expr(expr)?,
    })
}

/// Resolves a field operand alone (for outputs and exception fields).
pub(crate) fn compile_operand(
    op: &AstOperand,
    table: &mut FieldTable,
) -> Result<(Operand, FieldType), CompileError> {
    let mut c = Compiler {
        table,
        macro_name: None,
    };
    c.operand(op)
}

struct Compiler<'a> {
    table: &'a mut FieldTable,
    macro_name: Option<String>,
}

impl Compiler<'_> {
    fn err(&self, message: String, pos: Pos) -> CompileError {
        CompileError {
            message,
            pos,
            macro_name: self.macro_name.clone(),
            unknown_field: false,
        }
    }

    fn expr(&mut self, e: &Expr) -> Result<Node, CompileError> {
        Ok(match &e.kind {
            ExprKind::And(c) => Node::And(self.exprs(c)?),
            ExprKind::Or(c) => Node::Or(self.exprs(c)?),
            ExprKind::Not(inner) => Node::Not(Box::new(self.expr(inner)?)),
            ExprKind::Macro(m) => {
                return Err(self.err(format!("undefined macro `{m}` used in filter"), e.pos));
            }
            ExprKind::Expanded(name, body) => {
                let saved = self.macro_name.replace(name.clone());
                let r = self.expr(body);
                self.macro_name = saved;
                Node::Memo(self.table.macro_slot(name), Box::new(r?))
            }
            ExprKind::Exists(op) => {
                let (lhs, _) = self.operand(op)?;
                Node::Check(Box::new(Check {
                    lhs,
                    test: Test::Exists,
                }))
            }
            ExprKind::Compare(l, op, r) => Node::Check(Box::new(self.compare(l, *op, r)?)),
        })
    }

    fn exprs(&mut self, es: &[Expr]) -> Result<Box<[Node]>, CompileError> {
        es.iter().map(|e| self.expr(e)).collect()
    }

    fn operand(&mut self, op: &AstOperand) -> Result<(Operand, FieldType), CompileError> {
        match op {
            AstOperand::Field { name, arg, pos } => {
                let r = fields::resolve(name, arg.as_deref()).map_err(|e| {
                    let mut err = self.err(e.to_string(), *pos);
                    err.unknown_field = matches!(e, fields::FieldError::Unknown(_));
                    err
                })?;
                let ty = r.ty();
                Ok((Operand::Field(self.table.intern(r)), ty))
            }
            AstOperand::Transform(t, inner, pos) => {
                let (inner_c, ty) = self.operand(inner)?;
                let is_list = matches!(&inner_c, Operand::Field(r) if r.is_multi());
                let ok = ty.is_text() || (*t == Transformer::Len && is_list);
                if !ok {
                    return Err(self.err(
                        format!(
                            "transformer `{}` cannot be applied to `{inner}` of type {ty}",
                            t.name()
                        ),
                        *pos,
                    ));
                }
                let out = if *t == Transformer::Len {
                    FieldType::U64
                } else {
                    FieldType::Str
                };
                Ok((Operand::Transform(*t, Box::new(inner_c)), out))
            }
        }
    }

    fn compare(&mut self, l: &AstOperand, op: BinOp, r: &Rhs) -> Result<Check, CompileError> {
        let (lhs, ty) = self.operand(l)?;
        let multi = match &lhs {
            Operand::Field(f) if f.is_multi() => Some(f.info().multi),
            _ => None,
        };
        let list_field = multi == Some(Multiplicity::List);
        // libsinsp's fd.ip, fd.net, fd.port and fd.proto: `!=` holds when
        // neither end equals the value (every other operator when either
        // does), so `fd.ip != 127.0.0.1` is false for a loopback connection.
        let either_ne = multi == Some(Multiplicity::Either) && op == BinOp::Ne;
        check_op_type(op, ty).map_err(|m| self.err(m.replace("{}", &l.to_string()), l.pos()))?;

        let (values, vpos): (Vec<&str>, Pos) = match r {
            Rhs::Value(v, p) => (vec![v.as_str()], *p),
            Rhs::List(vs, p) => (vs.iter().map(String::as_str).collect(), *p),
            Rhs::Val(o, p) | Rhs::Operand(o @ AstOperand::Transform(_, _, p)) => {
                if matches!(op, BinOp::Glob | BinOp::IGlob | BinOp::Regex) {
                    return Err(self.err(
                        format!("operator `{op}` requires a constant, not a field"),
                        *p,
                    ));
                }
                let (rhs, _) = self.operand(o)?;
                return Ok(Check {
                    lhs,
                    test: Test::Field(op, rhs),
                });
            }
            Rhs::Operand(o) => {
                let (rhs, _) = self.operand(o)?;
                return Ok(Check {
                    lhs,
                    test: Test::Field(op, rhs),
                });
            }
        };
        if !op.is_list_op() && values.len() != 1 {
            return Err(self.err(format!("operator `{op}` requires a single value"), vpos));
        }
        let negate = op == BinOp::Ne;
        let vt = self.value_test(op, ty, &values, vpos, negate)?;
        let test = if list_field && op == BinOp::In || either_ne {
            Test::All(vt)
        } else {
            Test::Value(vt)
        };
        Ok(Check { lhs, test })
    }

    fn value_test(
        &self,
        op: BinOp,
        ty: FieldType,
        values: &[&str],
        pos: Pos,
        negate: bool,
    ) -> Result<ValueTest, CompileError> {
        let cmp = match op {
            BinOp::Lt => Cmp::Lt,
            BinOp::Le => Cmp::Le,
            BinOp::Gt => Cmp::Gt,
            BinOp::Ge => Cmp::Ge,
            _ => Cmp::Eq,
        };
        let is_set = matches!(op, BinOp::In | BinOp::Intersects);
        match ty {
            FieldType::Str | FieldType::Bytes => {
                let first = values.first().copied().unwrap_or_default();
                let bytes = |s: &str| -> Box<[u8]> { s.as_bytes().into() };
                let test = match op {
                    BinOp::Eq | BinOp::EqEq | BinOp::Ne => StrTest::Eq(bytes(first)),
                    BinOp::Lt => StrTest::Lt(bytes(first)),
                    BinOp::Le => StrTest::Le(bytes(first)),
                    BinOp::Gt => StrTest::Gt(bytes(first)),
                    BinOp::Ge => StrTest::Ge(bytes(first)),
                    BinOp::Contains => StrTest::Contains(Box::new(
                        memmem::Finder::new(first.as_bytes()).into_owned(),
                    )),
                    BinOp::IContains => {
                        StrTest::IContains(first.to_ascii_lowercase().into_bytes().into())
                    }
                    BinOp::BContains => {
                        let b = hex_decode(first).ok_or_else(|| {
                            self.err(
                                format!("`{first}` is not a valid hex string for `{op}`"),
                                pos,
                            )
                        })?;
                        StrTest::Contains(Box::new(memmem::Finder::new(&b).into_owned()))
                    }
                    BinOp::StartsWith => StrTest::StartsWith(bytes(first)),
                    BinOp::BStartsWith => {
                        let b = hex_decode(first).ok_or_else(|| {
                            self.err(
                                format!("`{first}` is not a valid hex string for `{op}`"),
                                pos,
                            )
                        })?;
                        StrTest::StartsWith(b.into())
                    }
                    BinOp::EndsWith => StrTest::EndsWith(bytes(first)),
                    BinOp::Glob => StrTest::Glob(super::glob::Glob::new(first, false)),
                    BinOp::IGlob => StrTest::Glob(super::glob::Glob::new(first, true)),
                    BinOp::Regex => {
                        let re = regex::bytes::RegexBuilder::new(&format!(r"\A(?:{first})\z"))
                            .size_limit(1 << 22)
                            .build()
                            .map_err(|e| {
                                let detail = e.to_string();
                                let last = detail.lines().last().unwrap_or_default().trim();
                                self.err(
                                    format!("invalid regular expression `{first}`: {last}"),
                                    pos,
                                )
                            })?;
                        StrTest::Regex(re)
                    }
                    BinOp::In | BinOp::Intersects => {
                        StrTest::In(StrSet::new(values.iter().map(|v| bytes(v)).collect()))
                    }
                    BinOp::PMatch => StrTest::PMatch(
                        values
                            .iter()
                            .map(|v| {
                                let t = if v.len() > 1 {
                                    v.trim_end_matches('/')
                                } else {
                                    v
                                };
                                bytes(t)
                            })
                            .collect(),
                    ),
                };
                Ok(ValueTest::Str { test, negate })
            }
            FieldType::Double => {
                let nums = values
                    .iter()
                    .map(|v| {
                        v.trim().parse::<f64>().map_err(|_| {
                            self.err(format!("`{v}` is not a valid number for a {ty} field"), pos)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let test = if is_set {
                    FloatTest::In(nums.into())
                } else {
                    FloatTest::Cmp(cmp, nums.first().copied().unwrap_or_default())
                };
                Ok(ValueTest::Float { test, negate })
            }
            t if t.is_numeric() => {
                let nums = values
                    .iter()
                    .map(|v| {
                        super::source::parse_int(v).ok_or_else(|| {
                            self.err(format!("`{v}` is not a valid number for a {ty} field"), pos)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let test = if is_set {
                    IntTest::In(nums.into())
                } else {
                    IntTest::Cmp(cmp, nums.first().copied().unwrap_or_default())
                };
                Ok(ValueTest::Int { test, negate })
            }
            FieldType::Bool => {
                let set = values
                    .iter()
                    .map(|v| match *v {
                        "true" | "1" => Ok(true),
                        "false" | "0" => Ok(false),
                        _ => Err(self.err(
                            format!("`{v}` is not a valid boolean (`true` or `false`)"),
                            pos,
                        )),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(ValueTest::Bool {
                    set: set.into(),
                    negate,
                })
            }
            _ => {
                // Ip / IpNet
                let nets = values
                    .iter()
                    .map(|v| {
                        IpNet::parse(v).ok_or_else(|| {
                            self.err(format!("`{v}` is not a valid IP address or network"), pos)
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(ValueTest::Ip {
                    nets: nets.into(),
                    negate,
                })
            }
        }
    }
}

/// Which operators a type accepts; the message has `{}` for the operand.
fn check_op_type(op: BinOp, ty: FieldType) -> Result<(), String> {
    let ok = match ty {
        FieldType::Str | FieldType::Bytes => true,
        t if t.is_numeric() => matches!(
            op,
            BinOp::Eq
                | BinOp::EqEq
                | BinOp::Ne
                | BinOp::Lt
                | BinOp::Le
                | BinOp::Gt
                | BinOp::Ge
                | BinOp::In
                | BinOp::Intersects
        ),
        _ => matches!(
            op,
            BinOp::Eq | BinOp::EqEq | BinOp::Ne | BinOp::In | BinOp::Intersects
        ),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "operator `{op}` is not supported on `{{}}` of type {ty}"
        ))
    }
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    let s = s.as_bytes();
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    s.chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}
