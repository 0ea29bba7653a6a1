//! The shipped Falco rule files load in order, with no error, and every rule compiles.

use replay::rules::{LoadOptions, RulesetLoader, Severity};

const DIR: &str = env!("SYSREC_FALCO_RULES");
const FILES: [&str; 3] = replay::rules::FALCO_RULE_FILES;

fn count_rules(text: &str) -> usize {
    text.lines().filter(|l| l.starts_with("- rule:")).count()
}

#[test]
fn shipped_files_load_and_every_rule_compiles() {
    let mut loader = RulesetLoader::new();
    let mut expected = 0;
    for f in FILES {
        let path = format!("{DIR}/{f}");
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

mod eval {
    use std::collections::HashMap;

    use replay::rules::{
        FieldId, FieldRef, FieldSource, FieldValue, LoadOptions, RuleMatching, load_files,
    };

    /// A process event with only string fields set.
    struct Proc(HashMap<FieldId, &'static str>);

    impl FieldSource for Proc {
        fn get(&mut self, f: &FieldRef) -> Option<FieldValue<'_>> {
            self.0.get(&f.id).map(|s| FieldValue::Str(s))
        }
    }

    #[test]
    fn shipped_rules_fire_on_matching_events() {
        let paths: Vec<String> = super::FILES
            .iter()
            .map(|f| format!("{}/{f}", super::DIR))
            .collect();
        let set = load_files(
            &paths,
            &LoadOptions {
                rule_matching: RuleMatching::All,
                ..LoadOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(set.warnings().is_empty(), "{:?}", set.warnings());
        let execve = set.event_type("execve");
        let fire = |pairs: &[(FieldId, &'static str)]| {
            let mut src = Proc(pairs.iter().copied().collect());
            set.match_event(&mut src, execve)
                .iter()
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()
        };
        let found = fire(&[
            (FieldId::EvtType, "execve"),
            (FieldId::ProcName, "find"),
            (FieldId::ProcArgs, "/ -name id_rsa"),
        ]);
        assert!(
            found
                .iter()
                .any(|n| n == "Search Private Keys or Passwords"),
            "{found:?}"
        );
        let found = fire(&[
            (FieldId::EvtType, "execve"),
            (FieldId::ProcName, "grep"),
            (FieldId::ProcArgs, "-r 'BEGIN PRIVATE' /"),
        ]);
        assert!(
            found
                .iter()
                .any(|n| n == "Search Private Keys or Passwords"),
            "{found:?}"
        );
        let found = fire(&[
            (FieldId::EvtType, "execve"),
            (FieldId::ProcName, "ls"),
            (FieldId::ProcArgs, "-l"),
        ]);
        assert!(
            !found
                .iter()
                .any(|n| n == "Search Private Keys or Passwords"),
            "{found:?}"
        );
        // Shipped rules all name their event types.
        for r in set.rules() {
            assert!(
                !r.evttypes.is_unbounded(),
                "{} matches every event type",
                r.name
            );
        }
    }
}
