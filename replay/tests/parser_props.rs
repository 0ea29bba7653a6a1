//! Parser properties: `parse(print(ast)) == ast`, and no panic on any input.

use proptest::prelude::*;
use replay::rules::ast::{BinOp, Expr, ExprKind, Operand, Pos, Rhs, Transformer};
use replay::rules::parser::parse;

fn field() -> impl Strategy<Value = Operand> {
    (
        "[a-z][a-z0-9_]{0,4}(\\.[a-z][a-z0-9_]{0,4}){1,2}",
        prop::option::of(any::<String>()),
    )
        .prop_map(|(name, arg)| Operand::Field {
            name,
            arg,
            pos: Pos::default(),
        })
}

fn operand() -> impl Strategy<Value = Operand> {
    field().prop_recursive(2, 4, 1, |inner| {
        (prop::sample::select(Transformer::ALL.to_vec()), inner)
            .prop_map(|(t, o)| Operand::Transform(t, Box::new(o), Pos::default()))
    })
}

fn transform() -> impl Strategy<Value = Operand> {
    (prop::sample::select(Transformer::ALL.to_vec()), operand())
        .prop_map(|(t, o)| Operand::Transform(t, Box::new(o), Pos::default()))
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        "[+-]?[0-9]{1,6}",
        "[0-9]{1,3}\\.[0-9]{0,3}",
        "[0-9]{1,2}[eE][+-][0-9]{1,2}",
        "0x[0-9a-fA-F]{1,6}",
    ]
}

fn ident() -> impl Strategy<Value = String> {
    "m[a-z0-9_]{0,6}"
}

fn check() -> impl Strategy<Value = Expr> {
    let str_ops = prop::sample::select(vec![
        BinOp::Eq,
        BinOp::EqEq,
        BinOp::Ne,
        BinOp::Contains,
        BinOp::IContains,
        BinOp::BContains,
        BinOp::StartsWith,
        BinOp::BStartsWith,
        BinOp::EndsWith,
        BinOp::Glob,
        BinOp::IGlob,
        BinOp::Regex,
    ]);
    let num_ops = prop::sample::select(vec![BinOp::Lt, BinOp::Le, BinOp::Gt, BinOp::Ge]);
    let list_ops = prop::sample::select(vec![BinOp::In, BinOp::Intersects, BinOp::PMatch]);
    let p = Pos::default();
    let str_rhs = prop_oneof![
        any::<String>().prop_map(move |s| Rhs::Value(s, p)),
        field().prop_map(move |f| Rhs::Val(f, p)),
        transform().prop_map(Rhs::Operand),
    ];
    let num_rhs = prop_oneof![
        number().prop_map(move |s| Rhs::Value(s, p)),
        field().prop_map(move |f| Rhs::Val(f, p)),
        transform().prop_map(Rhs::Operand),
    ];
    let list_rhs = prop_oneof![
        prop::collection::vec(any::<String>(), 0..4).prop_map(move |v| Rhs::List(v, p)),
        ident().prop_map(move |s| Rhs::Value(s, p)),
    ];
    prop_oneof![
        ident().prop_map(ExprKind::Macro),
        operand().prop_map(ExprKind::Exists),
        (operand(), str_ops, str_rhs).prop_map(|(l, o, r)| ExprKind::Compare(l, o, r)),
        (operand(), num_ops, num_rhs).prop_map(|(l, o, r)| ExprKind::Compare(l, o, r)),
        (operand(), list_ops, list_rhs).prop_map(|(l, o, r)| ExprKind::Compare(l, o, r)),
    ]
    .prop_map(|k| Expr::new(k, Pos::default()))
}

fn expr() -> impl Strategy<Value = Expr> {
    check().prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|c| Expr::new(ExprKind::And(c), Pos::default())),
            prop::collection::vec(inner.clone(), 2..4)
                .prop_map(|c| Expr::new(ExprKind::Or(c), Pos::default())),
            inner.prop_map(|e| Expr::new(ExprKind::Not(Box::new(e)), Pos::default())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_is_identity(e in expr()) {
        let text = e.to_string();
        let parsed = parse(&text).map_err(|err| TestCaseError::fail(format!("{text:?}: {err}")))?;
        prop_assert_eq!(parsed.without_pos(), e, "text: {:?}", text);
    }

    #[test]
    fn parser_never_panics(s in any::<String>()) {
        let _ = parse(&s);
    }

    #[test]
    fn parser_never_panics_on_condition_like_text(
        s in "[a-z._()\\[\\]'\"\\\\=!<> ,0-9]{0,60}"
    ) {
        let _ = parse(&s);
    }
}
