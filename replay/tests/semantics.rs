//! Evaluation semantics against an in-memory field source.

use std::collections::HashMap;

use replay::rules::fields::{self, FieldArg, FieldId};
use replay::rules::{
    CompiledFilter, FieldRef, FieldSource, FieldValue, LoadOptions, OwnedValue, Priority,
    RuleMatching, RulesetLoader,
};

/// An event: field values by (field, argument); several values for
/// multi-valued fields (`proc.aname` lists ancestors, parent first).
#[derive(Default)]
struct Event {
    values: HashMap<(FieldId, FieldArg), Vec<OwnedValue>>,
    gets: usize,
}

enum V {
    S(&'static str),
    I(i64),
    U(u64),
    B(bool),
    Ip(&'static str),
    L(&'static [&'static str]),
    /// Both ends of a connection (client, server).
    Ips(&'static [&'static str]),
    Us(&'static [u64]),
}

fn key(name: &str) -> (FieldId, FieldArg) {
    let (n, arg) = match name.split_once('[') {
        Some((n, a)) => (n, Some(a.trim_end_matches(']'))),
        None => (name, None),
    };
    let r = fields::resolve(n, arg).expect("known field");
    (r.id, r.arg)
}

fn ev(pairs: &[(&str, V)]) -> Event {
    let mut e = Event::default();
    for (name, v) in pairs {
        let vals = match v {
            V::S(s) => vec![OwnedValue::Str((*s).into())],
            V::I(i) => vec![OwnedValue::I64(*i)],
            V::U(u) => vec![OwnedValue::U64(*u)],
            V::B(b) => vec![OwnedValue::Bool(*b)],
            V::Ip(s) => vec![OwnedValue::Ip(s.parse().expect("ip"))],
            V::L(l) => l.iter().map(|s| OwnedValue::Str((*s).into())).collect(),
            V::Ips(l) => l
                .iter()
                .map(|s| OwnedValue::Ip(s.parse().expect("ip")))
                .collect(),
            V::Us(l) => l.iter().map(|u| OwnedValue::U64(*u)).collect(),
        };
        e.values.insert(key(name), vals);
    }
    e
}

impl FieldSource for Event {
    fn get(&mut self, field: &FieldRef) -> Option<FieldValue<'_>> {
        self.gets += 1;
        self.values
            .get(&(field.id, field.arg.clone()))
            .and_then(|v| v.first())
            .map(OwnedValue::as_value)
    }

    fn for_each(&mut self, field: &FieldRef, visit: &mut dyn FnMut(FieldValue<'_>) -> bool) {
        if let Some(vals) = self.values.get(&(field.id, field.arg.clone())) {
            for v in vals {
                if !visit(v.as_value()) {
                    break;
                }
            }
        }
    }
}

fn t(cond: &str, e: &mut Event, expected: bool) {
    let f = CompiledFilter::new(cond).unwrap_or_else(|err| panic!("{cond}: {err}"));
    assert_eq!(f.matches(e), expected, "{cond}");
}

#[test]
fn missing_fields_are_false_whatever_the_operator() {
    let mut e = ev(&[("proc.name", V::S("bash"))]);
    for cond in [
        "fd.name = /etc",
        "fd.name != /etc",
        "fd.name contains x",
        "fd.name in (a, b)",
        "fd.num > 0",
        "fd.num != 0",
        "fd.name exists",
        "fd.sip = 1.2.3.4",
        "fd.sip != 1.2.3.4",
        "evt.is_open_write != true",
        "tolower(fd.name) = x",
        "proc.name = val(fd.name)",
        "fd.name = val(proc.name)",
    ] {
        t(cond, &mut e, false);
    }
    // `not` inverts the false.
    t("not fd.name = /etc", &mut e, true);
    t("not fd.name exists", &mut e, true);
    t("proc.name exists", &mut e, true);
}

#[test]
fn string_operators() {
    let mut e = ev(&[
        ("proc.name", V::S("bash")),
        ("fd.name", V::S("/home/bob/.ssh/id_rsa")),
        ("proc.cmdline", V::S("bash -c 'Echo HTTP_PROXY'")),
        ("evt.buffer", V::S("\x7fELF....")),
    ]);
    t("proc.name = bash", &mut e, true);
    t("proc.name == bash", &mut e, true);
    t("proc.name != bash", &mut e, false);
    t("proc.name != sh", &mut e, true);
    t("proc.name contains as", &mut e, true);
    t("proc.cmdline icontains http_proxy", &mut e, true);
    t("proc.cmdline contains http_proxy", &mut e, false);
    t("proc.name startswith ba", &mut e, true);
    t("proc.name endswith sh", &mut e, true);
    t("fd.name glob '/home/*/.ssh/*'", &mut e, true);
    t("fd.name glob '/home/*/.ssh'", &mut e, false);
    t("fd.name iglob '/HOME/*'", &mut e, true);
    t("proc.name regex 'ba?sh'", &mut e, true);
    t("proc.name regex 'as'", &mut e, false); // anchored at both ends
    t("fd.name pmatch (/home/bob)", &mut e, true);
    t("fd.name pmatch (/home/bo)", &mut e, false);
    t("evt.buffer bcontains 454c46", &mut e, true);
    t("evt.buffer bstartswith 7f45", &mut e, true);
    t("evt.buffer bstartswith 45", &mut e, false);
}

#[test]
fn in_lists_small_and_hashed() {
    let mut e = ev(&[("proc.name", V::S("zsh")), ("fd.sport", V::U(443))]);
    t("proc.name in (sh, bash, zsh)", &mut e, true);
    t("proc.name in (sh, bash)", &mut e, false);
    t("proc.name in ()", &mut e, false);
    let many: Vec<String> = (0..100).map(|i| format!("p{i}")).collect();
    t(
        &format!("proc.name in ({}, zsh)", many.join(", ")),
        &mut e,
        true,
    );
    t(
        &format!("proc.name in ({})", many.join(", ")),
        &mut e,
        false,
    );
    t("fd.sport in (80, 443)", &mut e, true);
    t("fd.sport intersects (80, 8080)", &mut e, false);
}

#[test]
fn numbers_booleans_and_addresses() {
    let mut e = ev(&[
        ("fd.num", V::I(-1)),
        ("evt.rawres", V::I(-2)),
        ("user.uid", V::U(0)),
        ("evt.is_open_write", V::B(true)),
        ("fd.sip", V::Ip("10.1.2.3")),
        ("fd.snet", V::Ip("192.168.1.5")),
        ("fd.net", V::Ip("127.0.0.1")),
        ("fd.ip", V::Ip("0.0.0.0")),
    ]);
    t("fd.num = -1", &mut e, true);
    t("fd.num >= 0", &mut e, false);
    t("fd.num < 0", &mut e, true);
    t("evt.rawres < 0", &mut e, true);
    t("user.uid = 0", &mut e, true);
    t("user.uid = 0x0", &mut e, true);
    t("evt.is_open_write = true", &mut e, true);
    t("evt.is_open_write = false", &mut e, false);
    t("evt.is_open_write != false", &mut e, true);
    t("fd.sip = 10.1.2.3", &mut e, true);
    t("fd.sip in (10.0.0.0/8)", &mut e, true);
    t(
        "fd.snet in (\"10.0.0.0/8\", \"172.16.0.0/12\", \"192.168.0.0/16\")",
        &mut e,
        true,
    );
    t("fd.net != \"127.0.0.0/8\"", &mut e, false);
    t("fd.net = \"127.0.0.0/8\"", &mut e, true);
    t("fd.ip != \"0.0.0.0\"", &mut e, false);
}

#[test]
fn ancestors_match_any_and_indexes_pick_one() {
    let mut e = ev(&[
        ("proc.aname", V::L(&["sh", "sshd", "systemd"])),
        ("proc.aname[2]", V::S("sshd")),
        ("fd.types", V::L(&["ipv4", "file"])),
    ]);
    t("proc.aname = sshd", &mut e, true);
    t("proc.aname = systemd", &mut e, true);
    t("proc.aname = cron", &mut e, false);
    t("proc.aname in (cron, systemd)", &mut e, true);
    t("proc.aname startswith ssh", &mut e, true);
    t("proc.aname exists", &mut e, true);
    t("proc.aname[2] = sshd", &mut e, true);
    t("proc.aname[2] = sh", &mut e, false);
    t("proc.aname[3] exists", &mut e, false);
    // List fields: `in` means every value is in the set, `intersects` any.
    t("fd.types in (ipv4, file, unix)", &mut e, true);
    t("fd.types in (ipv4)", &mut e, false);
    t("fd.types intersects (ipv4)", &mut e, true);
    t("len(fd.types) = 2", &mut e, true);
}

#[test]
fn transformers_and_field_values() {
    let mut e = ev(&[
        ("proc.name", V::S("Bash")),
        ("proc.pname", V::S("bash")),
        ("proc.exe", V::S("/usr/bin/BASH")),
        ("evt.arg.data", V::S("aGVsbG8=")),
        ("fd.num", V::I(4)),
    ]);
    t("tolower(proc.name) = bash", &mut e, true);
    t("toupper(proc.name) = BASH", &mut e, true);
    t("tolower(basename(proc.exe)) = bash", &mut e, true);
    t("len(proc.name) = 4", &mut e, true);
    t("len(proc.name) > 4", &mut e, false);
    t("b64(evt.arg.data) = hello", &mut e, true);
    t("proc.name = val(proc.pname)", &mut e, false);
    t("tolower(proc.name) = val(proc.pname)", &mut e, true);
    t("proc.pname = tolower(proc.name)", &mut e, true);
    t("fd.num = len(proc.name)", &mut e, true);
    t("fd.num > len(proc.pname)", &mut e, false);
}

#[test]
fn compile_errors_are_typed_and_positioned() {
    // The error and its cause, as the binaries print them.
    let err = |c: &str| {
        let e = CompiledFilter::new(c).unwrap_err();
        trace_format::error::Chain(&e).to_string()
    };
    assert_eq!(
        err("fd.num = abc"),
        "invalid filter: `abc` is not a valid number for a int64 field at 1:10"
    );
    assert_eq!(
        err("proc.name = x and fd.num contains 1"),
        "invalid filter: operator `contains` is not supported on `fd.num` of type int64 at 1:19"
    );
    assert_eq!(
        err("proc.nme = x"),
        "invalid filter: unknown field `proc.nme` at 1:1"
    );
    assert_eq!(
        err("fd.sip = nope"),
        "invalid filter: `nope` is not a valid IP address or network at 1:10"
    );
    assert_eq!(
        err("evt.is_open_write = yes"),
        "invalid filter: `yes` is not a valid boolean (`true` or `false`) at 1:21"
    );
    assert_eq!(
        err("proc.name regex '('"),
        "invalid filter: invalid regular expression `(`: error: unclosed group at 1:17"
    );
    assert_eq!(
        err("evt.buffer bcontains xyz"),
        "invalid filter: `xyz` is not a valid hex string for `bcontains` at 1:22"
    );
    assert_eq!(
        err("tolower(fd.num) = 1"),
        "invalid filter: transformer `tolower` cannot be applied to `fd.num` of type int64 at 1:1"
    );
    assert_eq!(
        err("some_macro"),
        "invalid filter: undefined macro `some_macro` used in filter at 1:1"
    );
    assert_eq!(
        err("proc.aname[x] = a"),
        "invalid filter: field `proc.aname` requires a numeric index, got `x` at 1:1"
    );
    assert_eq!(
        err("evt.arg = a"),
        "invalid filter: field `evt.arg` requires an argument at 1:1"
    );
}

const RULES: &str = r#"
- list: shells
  items: [bash, sh]
- macro: spawned_process
  condition: evt.type in (execve, execveat)
- rule: Shell
  desc: a shell
  condition: spawned_process and proc.name in (shells) and not trusted
  output: "shell %proc.name (parent=%proc.aname[2] fd=%fd.name) %evt.type"
  priority: warning
  tags: [shell, b_tag, a_tag]
- rule: Any exec
  desc: any exec
  condition: spawned_process
  output: exec %proc.name
  priority: INFO
- rule: Open etc
  desc: open /etc
  condition: evt.type = open and fd.name startswith /etc
  output: open %fd.name
  priority: ERROR
  exceptions:
    - name: by_proc
      fields: proc.name
      values: [cat]
    - name: by_proc_and_file
      fields: [proc.name, fd.name]
      comps: [=, startswith]
      values:
        - [vi, /etc/hosts]
- macro: trusted
  condition: proc.pname = sshd
"#;

fn ruleset(extra: &str, opts: LoadOptions) -> replay::rules::CompiledRuleset {
    let mut l = RulesetLoader::new();
    l.load_str("base.yaml", RULES)
        .unwrap_or_else(|e| panic!("{e}"));
    if !extra.is_empty() {
        l.load_str("extra.yaml", extra)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    l.compile(&opts).unwrap_or_else(|e| panic!("{e}"))
}

fn names(rs: &[&replay::rules::CompiledRule]) -> Vec<String> {
    rs.iter().map(|r| r.name.clone()).collect()
}

#[test]
fn first_and_all_matching_and_macro_from_later_definition() {
    let set = ruleset("", LoadOptions::default());
    let mut e = ev(&[("evt.type", V::S("execve")), ("proc.name", V::S("bash"))]);
    let execve = set.event_type("execve");
    assert_eq!(names(&set.match_event(&mut e, execve)), ["Shell"]);
    let all = ruleset(
        "",
        LoadOptions {
            rule_matching: RuleMatching::All,
            ..LoadOptions::default()
        },
    );
    assert_eq!(
        names(&all.match_event(&mut e, all.event_type("execve"))),
        ["Shell", "Any exec"]
    );
    // `trusted` is defined after the rule that uses it.
    let mut e2 = ev(&[
        ("evt.type", V::S("execve")),
        ("proc.name", V::S("bash")),
        ("proc.pname", V::S("sshd")),
    ]);
    assert_eq!(
        names(&all.match_event(&mut e2, all.event_type("execve"))),
        ["Any exec"]
    );
}

#[test]
fn rules_are_indexed_by_event_type() {
    let set = ruleset("", LoadOptions::default());
    // The source claims execve, but the event is dispatched as `open`:
    // exec rules are not even evaluated.
    let mut e = ev(&[("evt.type", V::S("execve")), ("proc.name", V::S("bash"))]);
    assert!(set.match_event(&mut e, set.event_type("close")).is_empty());
    assert!(
        set.match_event(&mut e, set.event_type("unknown_syscall"))
            .is_empty()
    );
    assert_eq!(e.gets, 0, "no rule evaluated for other types");
    assert!(set.match_event(&mut e, set.event_type("open")).is_empty());
    assert_eq!(
        e.gets, 1,
        "only `Open etc` evaluated, up to `evt.type = open`"
    );
    let shell = set.rule("Shell").unwrap();
    assert!(shell.evttypes.contains("execve") && !shell.evttypes.contains("open"));
}

#[test]
fn exceptions_suppress_matches() {
    let set = ruleset("", LoadOptions::default());
    let open = set.event_type("open");
    let hit = |proc: &'static str, file: &'static str| {
        let mut e = ev(&[
            ("evt.type", V::S("open")),
            ("proc.name", V::S(proc)),
            ("fd.name", V::S(file)),
        ]);
        !set.match_event(&mut e, open).is_empty()
    };
    assert!(hit("vim", "/etc/passwd"));
    assert!(!hit("cat", "/etc/passwd"));
    assert!(!hit("vi", "/etc/hosts"));
    assert!(hit("vi", "/etc/passwd"));
    assert_eq!(
        set.rule("Open etc").unwrap().condition.to_string(),
        "(evt.type = open and fd.name startswith /etc) and not proc.name in (cat) and not (proc.name = vi and fd.name startswith /etc/hosts)"
    );
}

#[test]
fn append_and_override() {
    let extra = r#"
- list: shells
  items: [zsh]
  override:
    items: append
- macro: trusted
  condition: or proc.pname = cron
  append: true
- rule: Shell
  priority: critical
  output: "replaced %proc.name"
  override:
    priority: replace
    output: replace
- rule: Open etc
  exceptions:
    - name: by_proc
      values: [vim]
  override:
    exceptions: append
- rule: Any exec
  enabled: false
  override:
    enabled: replace
- rule: New
  desc: new
  condition: evt.type = execve
  output: new
  priority: debug
- rule: Shell
  condition: and proc.name != nope
  override:
    condition: append
"#;
    let set = ruleset(
        extra,
        LoadOptions {
            rule_matching: RuleMatching::All,
            ..LoadOptions::default()
        },
    );
    // Definition order kept: Shell, Any exec, Open etc, New.
    let order: Vec<_> = set.rules().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(order, ["Shell", "Any exec", "Open etc", "New"]);
    let shell = set.rule("Shell").unwrap();
    assert_eq!(shell.priority, Priority::Critical);
    assert_eq!(shell.output_format, "replaced %proc.name");
    assert_eq!(shell.tags, ["a_tag", "b_tag", "shell"]);
    assert!(!set.rule("Any exec").unwrap().enabled);
    let execve = set.event_type("execve");
    let mut zsh = ev(&[("evt.type", V::S("execve")), ("proc.name", V::S("zsh"))]);
    assert_eq!(names(&set.match_event(&mut zsh, execve)), ["Shell", "New"]);
    let mut cron = ev(&[
        ("evt.type", V::S("execve")),
        ("proc.name", V::S("zsh")),
        ("proc.pname", V::S("cron")),
    ]);
    assert_eq!(names(&set.match_event(&mut cron, execve)), ["New"]);
    let mut vim = ev(&[
        ("evt.type", V::S("open")),
        ("proc.name", V::S("vim")),
        ("fd.name", V::S("/etc/passwd")),
    ]);
    assert!(set.match_event(&mut vim, set.event_type("open")).is_empty());
}

#[test]
fn redefinition_keeps_the_original_position() {
    let extra = r#"
- rule: Shell
  desc: redefined
  condition: evt.type = execve
  output: redefined
  priority: notice
"#;
    let set = ruleset(extra, LoadOptions::default());
    let order: Vec<_> = set.rules().iter().map(|r| r.name.as_str()).collect();
    assert_eq!(order, ["Shell", "Any exec", "Open etc"]);
    assert_eq!(set.rules()[0].desc, "redefined");
    let mut e = ev(&[("evt.type", V::S("execve")), ("proc.name", V::S("x"))]);
    assert_eq!(
        names(&set.match_event(&mut e, set.event_type("execve"))),
        ["Shell"]
    );
}

#[test]
fn min_priority_filters_rules() {
    let set = ruleset(
        "",
        LoadOptions {
            min_priority: Priority::Warning,
            rule_matching: RuleMatching::All,
            ..LoadOptions::default()
        },
    );
    let mut e = ev(&[("evt.type", V::S("execve")), ("proc.name", V::S("ls"))]);
    // `Any exec` is INFO: below WARNING.
    assert!(set.match_event(&mut e, set.event_type("execve")).is_empty());
    assert_eq!(Priority::parse("Info"), Some(Priority::Informational));
    assert_eq!(Priority::parse("EMERGENCY"), Some(Priority::Emergency));
    assert_eq!(Priority::parse("warn"), None);
}

#[test]
fn outputs_render_with_na_and_list_fields() {
    let set = ruleset(
        "",
        LoadOptions {
            suggested_output: false,
            ..LoadOptions::default()
        },
    );
    let shell = set.rule("Shell").unwrap();
    let mut e = ev(&[
        ("evt.type", V::S("execve")),
        ("proc.name", V::S("bash")),
        ("proc.aname[2]", V::S("sshd")),
    ]);
    assert_eq!(
        shell.output.render(&mut e),
        "shell bash (parent=sshd fd=<NA>) execve"
    );
    let fields: Vec<_> = shell
        .output
        .fields()
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        fields,
        ["proc.name", "proc.aname[2]", "fd.name", "evt.type"]
    );
    let values = shell.output.values(&mut e);
    assert_eq!(values[2], ("fd.name", None));
    // A transformed field renders in the text, never in output_fields
    // (libsinsp's formatter skips it, as Falco runs it).
    let set = ruleset(
        "- rule: Upper\n  desc: d\n  condition: evt.type=open\n  output: \"%toupper(proc.name) %proc.name\"\n  priority: INFO\n",
        LoadOptions {
            suggested_output: false,
            ..LoadOptions::default()
        },
    );
    let upper = set.rule("Upper").unwrap();
    assert_eq!(upper.output.render(&mut e), "BASH bash");
    let names: Vec<_> = upper
        .output
        .values(&mut e)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["proc.name"]);
    assert_eq!(
        values[0],
        ("proc.name", Some(OwnedValue::Str("bash".into())))
    );
}

#[test]
fn suggested_output_fields_are_appended_by_default() {
    let set = ruleset("", LoadOptions::default());
    let shell = set.rule("Shell").unwrap();
    let mut e = ev(&[
        ("evt.type", V::S("execve")),
        ("proc.name", V::S("bash")),
        ("proc.aname[2]", V::S("sshd")),
        ("container.id", V::S("host")),
        ("container.name", V::S("host")),
        ("container.image.repository", V::S("")),
        ("container.image.tag", V::S("")),
    ]);
    assert_eq!(
        shell.output.render(&mut e),
        "shell bash (parent=sshd fd=<NA>) execve container_id=host container_name=host \
         container_image_repository= container_image_tag= k8s_pod_name=<NA> k8s_ns_name=<NA>"
    );
    let names: Vec<_> = shell
        .output
        .fields()
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(
        names[4..],
        [
            "container.id",
            "container.name",
            "container.image.repository",
            "container.image.tag",
            "k8s.pod.name",
            "k8s.ns.name"
        ]
    );
    // The rule's output as written is unchanged.
    assert!(!shell.output_format.contains("container_id"));
}

#[test]
fn output_templates() {
    use replay::rules::OutputTemplate;
    use replay::rules::compile::FieldTable;
    let mut table = FieldTable::default();
    let mut e = ev(&[
        ("proc.name", V::S("bash")),
        ("evt.arg.flags", V::S("O_RDONLY")),
    ]);
    let r = |fmt: &str, table: &mut FieldTable, e: &mut Event| {
        OutputTemplate::parse(fmt, table)
            .map(|t| t.render(e))
            .map_err(|e| e.to_string())
    };
    assert_eq!(r("%proc.name!", &mut table, &mut e), Ok("bash!".into()));
    assert_eq!(
        r("[%6proc.name]", &mut table, &mut e),
        Ok("[bash  ]".into())
    );
    assert_eq!(r("%2proc.name", &mut table, &mut e), Ok("ba".into()));
    assert_eq!(
        r("f=%evt.arg.flags,", &mut table, &mut e),
        Ok("f=O_RDONLY,".into())
    );
    assert_eq!(
        r("%toupper(proc.name)", &mut table, &mut e),
        Ok("BASH".into())
    );
    assert_eq!(r("%evt.arg[0]", &mut table, &mut e), Ok("<NA>".into()));
    assert_eq!(r("%proc.name.x", &mut table, &mut e), Ok("bash.x".into()));
    assert_eq!(
        r("*%proc.name %fd.name", &mut table, &mut e),
        Ok("bash <NA>".into())
    );
    assert_eq!(
        r("%proc.nme x", &mut table, &mut e),
        Err("unknown field `proc.nme` at offset 0".into())
    );
    assert_eq!(
        r("100%", &mut table, &mut e),
        Err("invalid formatting token `%` at offset 3".into())
    );
}

#[test]
fn ruleset_is_shareable_and_field_slots_are_dense() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<replay::rules::CompiledRuleset>();
    send_sync::<CompiledFilter>();
    let set = ruleset("", LoadOptions::default());
    for (i, f) in set.fields().iter().enumerate() {
        assert_eq!(f.slot as usize, i);
    }
    let names: Vec<String> = set.fields().iter().map(ToString::to_string).collect();
    let mut dedup = names.clone();
    dedup.sort();
    dedup.dedup();
    assert_eq!(dedup.len(), names.len(), "{names:?}");
    assert!(names.contains(&"proc.aname[2]".to_owned()), "{names:?}");
}

/// libsinsp's "either end" fields: `=`, `in` and the orderings hold when
/// either end matches; `!=` only when neither does (`compare_ip`,
/// `compare_net`, `compare_port`); without a socket nothing holds.
#[test]
fn either_end_fields_compare_as_libsinsp() {
    let mut e = ev(&[
        ("fd.ip", V::Ips(&["10.0.0.5", "127.0.0.1"])),
        ("fd.net", V::Ips(&["10.0.0.5", "127.0.0.1"])),
        ("fd.port", V::Us(&[40000, 80])),
    ]);
    t("fd.ip = 127.0.0.1", &mut e, true);
    t("fd.ip = 10.0.0.5", &mut e, true);
    t("fd.ip != 127.0.0.1", &mut e, false);
    t("fd.ip != 10.0.0.5", &mut e, false);
    t("fd.ip != 192.168.0.1", &mut e, true);
    t("not fd.ip = 127.0.0.1", &mut e, false);
    t("fd.ip in (192.168.0.1, 127.0.0.1)", &mut e, true);
    t("fd.ip in (192.168.0.1, 192.168.0.2)", &mut e, false);
    t("fd.net = \"127.0.0.0/8\"", &mut e, true);
    t("fd.net != \"127.0.0.0/8\"", &mut e, false);
    t("fd.net != \"192.168.0.0/16\"", &mut e, true);
    t(
        "fd.net in (\"192.168.0.0/16\", \"10.0.0.0/8\")",
        &mut e,
        true,
    );
    t("fd.port = 80", &mut e, true);
    t("fd.port != 80", &mut e, false);
    t("fd.port != 443", &mut e, true);
    t("fd.port < 1024", &mut e, true);
    t("fd.port > 50000", &mut e, false);
    t("fd.port in (443, 80)", &mut e, true);
    // No socket: false whatever the operator.
    let mut none = ev(&[("proc.name", V::S("sh"))]);
    t("fd.ip != 127.0.0.1", &mut none, false);
    t("fd.port != 80", &mut none, false);
    t("fd.net != \"127.0.0.0/8\"", &mut none, false);
}
