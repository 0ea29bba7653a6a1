//! Malformed rules: every diagnostic names the file, the position and the
//! item, and all errors of a file come at once.

use replay::rules::{LoadOptions, RulesetLoader};

/// Loads `yaml` as `t.yaml` and compiles; returns every diagnostic as text
/// (errors first when loading fails, then warnings).
fn diags(yaml: &str) -> Vec<String> {
    let mut l = RulesetLoader::new();
    if let Err(e) = l.load_str("t.yaml", yaml) {
        return e.diagnostics.iter().map(ToString::to_string).collect();
    }
    match l.compile(&LoadOptions::default()) {
        Ok(set) => set.warnings().iter().map(ToString::to_string).collect(),
        Err(e) => e.diagnostics.iter().map(ToString::to_string).collect(),
    }
}

fn check(yaml: &str, expected: &[&str]) {
    let got = diags(yaml);
    assert_eq!(got, expected, "yaml:\n{yaml}");
}

#[test]
fn bad_yaml() {
    check(
        "- rule: x\n  condition: [a\n",
        &[
            "t.yaml:3:1: error: file: invalid yaml: while parsing a flow sequence, expected ',' or ']'",
        ],
    );
    check(
        "rule: x\n",
        &["t.yaml:1:1: error: file: rules content is not a yaml sequence of items"],
    );
    check(
        "- just a string\n",
        &[
            "t.yaml:1:3: error: item: unexpected element type: each element should be a yaml mapping, got a scalar",
        ],
    );
}

#[test]
fn unknown_macro_in_rule() {
    check(
        r#"
- rule: r
  desc: d
  condition: evt.type = open and not_a_macro
  output: o
  priority: INFO
"#,
        &[
            "t.yaml:4:14: error: rule `r`: undefined macro `not_a_macro` used in filter (condition 1:21)",
        ],
    );
}

#[test]
fn macro_cannot_use_a_later_macro() {
    check(
        r#"
- macro: a
  condition: b
- macro: b
  condition: evt.type = open
- rule: r
  desc: d
  condition: a
  output: o
  priority: INFO
"#,
        &[
            "t.yaml:3:14: error: macro `a`: undefined macro `b` used in filter (condition 1:1)",
            "t.yaml:4:3: warning: macro `b`: macro not referred to by any other rule/macro",
        ],
    );
}

#[test]
fn bad_operator_unknown_field_and_types() {
    check(
        r#"
- rule: bad op
  desc: d
  condition: evt.type = open and proc.name like x
  output: o
  priority: INFO
- rule: unknown field
  desc: d
  condition: evt.type = open and proc.nmae = x
  output: o
  priority: INFO
- rule: wrong type
  desc: d
  condition: evt.type = open and fd.num = x
  output: o
  priority: INFO
- rule: bad output
  desc: d
  condition: evt.type = open
  output: "%proc.nmae"
  priority: INFO
"#,
        &[
            "t.yaml:4:14: error: rule `bad op`: expected a valid check operator: one of `exists`, `<=`, `<`, `>=`, `>`, `==`, `=`, `!=`, `glob`, `iglob`, `contains`, `icontains`, `bcontains`, `startswith`, `bstartswith`, `endswith`, `regex`, `intersects`, `in`, `pmatch` (condition 1:31)",
            "t.yaml:9:14: error: rule `unknown field`: unknown field `proc.nmae` (condition 1:21)",
            "t.yaml:14:14: error: rule `wrong type`: `x` is not a valid number for a int64 field (condition 1:30)",
            "t.yaml:20:11: error: rule `bad output`: invalid output format: unknown field `proc.nmae` at offset 0",
        ],
    );
}

#[test]
fn type_error_inside_a_macro_points_at_the_macro() {
    check(
        r#"
- macro: m
  condition: fd.num = x
- rule: r
  desc: d
  condition: evt.type = open and m
  output: o
  priority: INFO
"#,
        &[
            "t.yaml:3:14: error: rule `r`: `x` is not a valid number for a int64 field (in macro `m`) (condition 1:10)",
        ],
    );
}

#[test]
fn all_item_errors_of_a_file_at_once() {
    check(
        r#"
- rule: no output
  desc: d
  condition: evt.type = open
  priority: INFO
- rule: bad priority
  desc: d
  condition: evt.type = open
  output: o
  priority: SEVERE
- list: l
  items: notalist
- macro: 1bad
  condition: x
- rule: appended
  condition: and x
  append: true
- rule: fine
  desc: d
  condition: evt.type = open
  output: o
  priority: info
  enabled: maybe
"#,
        &[
            "t.yaml:2:3: error: rule `no output`: item has no mapping for key `output`",
            "t.yaml:10:13: error: rule `bad priority`: invalid priority `SEVERE`",
            "t.yaml:12:10: error: list `l`: value of `items` is not a sequence",
            "t.yaml:13:10: error: macro `1bad`: invalid macro name `1bad`: must match `[a-zA-Z]+[a-zA-Z0-9_]*`",
            "t.yaml:15:3: error: rule `appended`: rule has `append` key but no rule by that name already exists",
            "t.yaml:23:12: error: rule `fine`: value for key `enabled` must be a boolean, got `maybe`",
            "t.yaml:15:3: warning: rule `appended`: `append` is deprecated, use `override` instead",
        ],
    );
}

#[test]
fn warnings_unknown_keys_unused_items_and_evttypes() {
    check(
        r#"
- required_engine_version: 0.57.0
- required_plugin_versions:
    - name: container
      version: 0.4.0
    - name: k8saudit
      version: 0.1.0
- list: unused_list
  items: [a]
- macro: unused_macro
  condition: proc.name = x
- rule: r
  desc: d
  condition: proc.name = x
  output: o
  priority: INFO
  colour: red
- something: else
"#,
        &[
            "t.yaml:6:7: warning: required_plugin_versions `k8saudit`: plugin `k8saudit` is not available; rules using its fields will fail to load",
            "t.yaml:17:3: warning: rule `r`: unknown key `colour`",
            "t.yaml:18:3: warning: item: unknown top level item",
            "t.yaml:12:3: warning: rule `r`: rule matches too many evt.type values; this has a significant performance penalty",
            "t.yaml:10:3: warning: macro `unused_macro`: macro not referred to by any other rule/macro",
            "t.yaml:8:3: warning: list `unused_list`: list not referred to by any other rule/macro",
        ],
    );
}

#[test]
fn engine_version_and_overrides() {
    check(
        "- required_engine_version: 99.0.0\n",
        &[
            "t.yaml:1:28: error: required_engine_version: rules require engine version `99.0.0`, but engine version is 0.62.0",
        ],
    );
    check(
        r#"
- rule: r
  desc: d
  condition: evt.type = open
  output: o
  priority: INFO
- rule: r
  condition: and proc.name = x
  output: new
  override:
    condition: append
"#,
        &[
            "t.yaml:9:11: error: rule `r`: unexpected key `output`: no corresponding entry under `override` is defined",
        ],
    );
    check(
        r#"
- rule: r
  desc: d
  condition: evt.type = open
  output: o
  priority: INFO
- rule: r
  priority: INFO
  override:
    priority: append
"#,
        &[
            "t.yaml:10:5: error: rule `r`: key `priority` cannot be appended to, use `replace` instead",
        ],
    );
}

#[test]
fn skip_if_unknown_filter_and_other_sources() {
    let yaml = r#"
- rule: future
  desc: d
  condition: evt.type = open and proc.future_field = x
  output: o
  priority: INFO
  skip-if-unknown-filter: true
- rule: audit
  desc: d
  condition: ka.verb = create
  output: o
  priority: INFO
  source: k8s_audit
- rule: ok
  desc: d
  condition: evt.type = open
  output: o
  priority: INFO
"#;
    check(
        yaml,
        &[
            "t.yaml:4:14: warning: rule `future`: unknown field `proc.future_field`; rule skipped (skip-if-unknown-filter) (condition 1:21)",
        ],
    );
    let mut l = RulesetLoader::new();
    l.load_str("t.yaml", yaml).unwrap();
    let set = l.compile(&LoadOptions::default()).unwrap();
    let names: Vec<_> = set.rules().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["ok"]);
}

#[test]
fn a_failed_file_changes_nothing_and_reading_goes_on() {
    let mut l = RulesetLoader::new();
    l.load_str(
        "a.yaml",
        "- rule: r\n  desc: d\n  condition: evt.type = open\n  output: o\n  priority: INFO\n",
    )
    .unwrap();
    let err = l
        .load_str(
            "b.yaml",
            "- rule: r\n  desc: changed\n  condition: x\n- [oops\n",
        )
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("1 error loading rules\nb.yaml:"),
        "{err}"
    );
    let set = l.compile(&LoadOptions::default()).unwrap();
    assert_eq!(set.rules()[0].desc, "d");
}

#[test]
fn missing_file() {
    let mut l = RulesetLoader::new();
    let err = l.load_file("/nonexistent/rules.yaml").unwrap_err();
    assert!(
        err.to_string()
            .contains("/nonexistent/rules.yaml:0:0: error: file: cannot read rules file"),
        "{err}"
    );
}

mod no_panic {
    use proptest::prelude::*;
    use replay::rules::{LoadOptions, RulesetLoader};

    fn load(text: &str) {
        let mut l = RulesetLoader::new();
        if l.load_str("fuzz.yaml", text).is_ok() {
            let _ = l.compile(&LoadOptions::default());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn loader_never_panics_on_text(s in any::<String>()) {
            load(&s);
        }

        #[test]
        fn loader_never_panics_on_rules(
            cond in "[a-z._()\\[\\]'\" =!<>,0-9]{0,40}",
            output in "[a-z%._()\\[\\] 0-9*]{0,30}",
            list_item in "[a-z()'\" ,]{0,10}",
        ) {
            let yaml = format!(
                "- list: l\n  items: [{list_item:?}]\n- macro: m\n  condition: {cond:?}\n- rule: r\n  desc: d\n  condition: {cond:?} and m\n  output: {output:?}\n  priority: INFO\n"
            );
            load(&yaml);
        }
    }
}

#[test]
fn warn_evttypes_false_silences_the_warning() {
    check(
        r#"
- rule: r
  desc: d
  condition: proc.name = x
  output: o
  priority: INFO
  warn_evttypes: false
"#,
        &[],
    );
}

/// The errors of a failed load (no warnings).
fn errors(yaml: &str) -> Vec<String> {
    let mut l = RulesetLoader::new();
    let e = match l.load_str("t.yaml", yaml) {
        Err(e) => e,
        Ok(()) => match l.compile(&LoadOptions::default()) {
            Err(e) => e,
            Ok(_) => panic!("loaded:\n{yaml}"),
        },
    };
    e.errors().map(ToString::to_string).collect()
}

/// A rule using `name` (so nothing is "unused").
fn rule_using(name: &str) -> String {
    format!(
        "- rule: r\n  desc: d\n  condition: evt.type = open and {name}\n  output: o\n  priority: INFO\n"
    )
}

#[test]
fn yaml_alias_chain_is_bounded() {
    // Billion laughs: 9 levels of 9 aliases each would be 9^9 = 387M
    // nodes; the build stops at the bound (1M nodes), at the alias that
    // crosses it, naming the item.
    let mut yaml = String::from(
        "- list: laughs\n  items: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n",
    );
    for i in 1..9 {
        let p = i - 1;
        yaml.push_str(&format!(
            "  l{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    let e = &errs[0];
    assert!(
        e.starts_with("t.yaml:7:")
            && e.contains(
                "list `laughs`: invalid yaml: the file expands to more than 1000000 yaml nodes"
            ),
        "{e}"
    );
}

#[test]
fn yaml_alias_of_a_long_scalar_is_bounded_by_bytes() {
    let big = "x".repeat(1 << 20);
    let mut yaml = format!("- macro: m\n  condition: &big {big}\n");
    yaml.push_str("  copies: [");
    yaml.push_str(&vec!["*big"; 100].join(", "));
    yaml.push_str("]\n");
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .contains("macro `m`: invalid yaml: the file expands to more than 64 MiB of yaml text"),
        "{}",
        errs[0]
    );
}

#[test]
fn yaml_nesting_is_bounded() {
    let yaml = format!(
        "- list: deep\n  items: {}{}\n",
        "[".repeat(300),
        "]".repeat(300)
    );
    // yaml-rust2's own recursion limit or ours, whichever comes first.
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("t.yaml:2:")
            && (errs[0].contains("recursion limit exceeded")
                || errs[0].contains("yaml nested deeper than 256 collections")),
        "{errs:?}"
    );
}

#[test]
fn doubling_lists_are_bounded() {
    // l0 has 2 items, each next list names the previous one twice: 2^40
    // items at l39. Expansion stops where the lists cross 16 MiB.
    let mut yaml = String::from("- list: l0\n  items: [some_name, other_name]\n");
    for i in 1..40 {
        yaml.push_str(&format!("- list: l{i}\n  items: [l{p}, l{p}]\n", p = i - 1));
    }
    yaml.push_str(&rule_using("proc.name in (l39)"));
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].starts_with("t.yaml:35:3: error: list `l17`: lists expand to more than 16 MiB (each item costs its length + 32 bytes)"),
        "{}",
        errs[0]
    );
}

#[test]
fn list_substitution_is_bounded() {
    // One list of 10,000 items named 200 times in a condition: 2M items of
    // text, past the 1 MiB bound of a condition.
    let items: Vec<String> = (0..10_000).map(|i| format!("item{i}")).collect();
    let mut yaml = format!("- list: big\n  items: [{}]\n", items.join(", "));
    let cond = vec!["proc.name in (big)"; 200].join(" or ");
    yaml.push_str(&rule_using(&format!("({cond})")));
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .contains("rule `r`: condition is longer than 1048576 bytes after list substitution"),
        "{}",
        errs[0]
    );
}

#[test]
fn doubling_macros_are_bounded() {
    // m0 is one comparison, each next macro names the previous one twice:
    // 2^40 comparisons at m39. Expansion stops at the macro whose tree
    // crosses 200,000 nodes.
    let mut yaml = String::from("- macro: m0\n  condition: proc.name = x\n");
    for i in 1..40 {
        yaml.push_str(&format!(
            "- macro: m{i}\n  condition: m{p} and m{p}\n",
            p = i - 1
        ));
    }
    yaml.push_str(&rule_using("m39"));
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains(
            "error: macro `m16`: condition expands to more than 200000 nodes with macro `m15`"
        ),
        "{}",
        errs[0]
    );
}

#[test]
fn many_large_macros_are_bounded_in_total() {
    // Each macro is just under the per-condition bound (a list of 20,000
    // values, substituted); 200 rules each naming 5 of them would hold 20M
    // nodes; loading stops at the ruleset's total of 2M.
    let items: Vec<String> = (0..20_000).map(|i| format!("v{i}")).collect();
    let mut yaml = format!("- list: vals\n  items: [{}]\n", items.join(", "));
    yaml.push_str("- macro: big\n  condition: proc.name in (vals)\n");
    for r in 0..200 {
        yaml.push_str(&format!(
            "- rule: r{r}\n  desc: d\n  condition: evt.type = open and (big or big or big or big or big)\n  output: o\n  priority: INFO\n"
        ));
    }
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0].contains("the macros and rules expand to more than 2000000 nodes in total"),
        "{}",
        errs[0]
    );
}

#[test]
fn deep_macro_chains_are_bounded() {
    let mut yaml = String::from("- macro: m0\n  condition: proc.name = x\n");
    for i in 1..600 {
        yaml.push_str(&format!(
            "- macro: m{i}\n  condition: m{p} or proc.pid = {i}\n",
            p = i - 1
        ));
    }
    yaml.push_str(&rule_using("m599"));
    let errs = errors(&yaml);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .contains("macro `m500`: condition nests more than 1000 levels deep with macro `m499`"),
        "{}",
        errs[0]
    );
}

#[test]
fn names_in_diagnostics_are_escaped() {
    let errs = errors(
        "- rule: \"evil\\e[31m\\nOK: forged\"\n  desc: d\n  condition: nope\n  output: o\n  priority: INFO\n",
    );
    assert!(
        errs.iter()
            .any(|e| e.contains("rule `evil\\x1b[31m\\x0aOK: forged`")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .all(|e| !e.contains('\n') && !e.contains('\x1b')),
        "{errs:?}"
    );
}

#[test]
fn a_list_named_many_times_is_substituted_in_one_pass() {
    // 100,000 occurrences: one pass, not one copy of the condition each
    // (which would copy 100,000 x 400 KB).
    let names = vec!["l"; 100_000].join(", ");
    let yaml = format!(
        "- list: l\n  items: [x]\n{}",
        rule_using(&format!("proc.name in ({names})"))
    );
    let mut l = RulesetLoader::new();
    l.load_str("t.yaml", &yaml)
        .unwrap_or_else(|e| panic!("{e}"));
    let set = l
        .compile(&LoadOptions::default())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(set.rules().len(), 1);
}
