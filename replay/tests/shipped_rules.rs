//! The shipped Falco rule files load in order, with no error, and every rule compiles.

use replay::rules::{LoadOptions, RulesetLoader, Severity};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/falco-rules/");
const FILES: [&str; 3] = [
    "falco_rules.yaml",
    "falco-incubating_rules.yaml",
    "falco-sandbox_rules.yaml",
];

fn count_rules(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("- rule:")).count()
}

#[test]
fn shipped_files_load_and_every_rule_compiles() {
    let mut loader = RulesetLoader::new();
    let mut expected = 0;
    for f in FILES {
        let path = format!("{DIR}{f}");
        let text = std::fs::read_to_string(&path).expect("shipped rules file is present");
        expected += count_rules(&text);
        if let Err(e) = loader.load_file(&path) {
            panic!("{e}");
        }
    }
    let set = match loader.compile(&LoadOptions::default()) {
        Ok(s) => s,
        Err(e) => panic!("{e}"),
    };
    for w in set.warnings() {
        assert_eq!(w.severity, Severity::Warning);
        eprintln!("{w}");
    }
    assert_eq!(set.rules().len(), expected, "every rule compiled");
    assert!(expected >= 25 + 31 + 37);
}
