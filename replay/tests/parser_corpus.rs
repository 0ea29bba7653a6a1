//! Condition parser corpus: every construct and the edge cases of the
//! shipped rule files, through one `check(input, expected)` helper.
//!
//! `expected` is the printed tree (compound children parenthesised, values
//! quoted only when needed) or `error: <message> at <line>:<col>`.

use replay::rules::parser::parse;

fn check(input: &str, expected: &str) {
    let got = match parse(input) {
        Ok(e) => {
            // The printed form parses back to the same tree.
            let again = parse(&e.to_string())
                .unwrap_or_else(|err| panic!("reparse of `{e}` failed: {err}"));
            assert_eq!(
                again.without_pos(),
                e.without_pos(),
                "round trip of {input:?}"
            );
            e.to_string()
        }
        Err(e) => format!("error: {e}"),
    };
    assert_eq!(got, expected, "input: {input:?}");
}

#[test]
fn checks_and_operators() {
    check("proc.name = bash", "proc.name = bash");
    check("proc.name=bash", "proc.name = bash");
    check("proc.name==bash", "proc.name == bash");
    check("proc.name != bash", "proc.name != bash");
    check("fd.num>=0", "fd.num >= 0");
    check("fd.num<=10", "fd.num <= 10");
    check("fd.num < -1", "fd.num < -1");
    check("fd.num > 1.5e+3", "fd.num > 1.5e+3");
    check("evt.rawres > 0x10", "evt.rawres > 0x10");
    check("fd.num=-1", "fd.num = -1");
    check("proc.name contains sh", "proc.name contains sh");
    check("proc.name icontains SH", "proc.name icontains SH");
    check(
        "evt.buffer bcontains 7f454c46",
        "evt.buffer bcontains 7f454c46",
    );
    check("proc.name startswith run", "proc.name startswith run");
    check("evt.buffer bstartswith 7f45", "evt.buffer bstartswith 7f45");
    check("proc.name endswith sh", "proc.name endswith sh");
    check(
        "fd.name glob '/home/*/.ssh/*'",
        "fd.name glob /home/*/.ssh/*",
    );
    check("fd.name iglob /TMP/*", "fd.name iglob /TMP/*");
    check("proc.name regex '^ba?sh$'", "proc.name regex ^ba?sh$");
    check(
        "fd.name pmatch (/etc, /usr/bin)",
        "fd.name pmatch (/etc, /usr/bin)",
    );
    check("fd.name exists", "fd.name exists");
    check("not proc.pname exists", "not proc.pname exists");
    check(
        "proc.args intersects (\"-V\", \"-l\")",
        "proc.args intersects (-V, -l)",
    );
}

#[test]
fn boolean_structure() {
    check("a and b or c", "(a and b) or c");
    check("a or b and c", "a or (b and c)");
    check("not a and b", "not a and b");
    check("not (a and b)", "not (a and b)");
    check("not not a", "a");
    check("not(a)", "not a");
    check("not not(a)", "a");
    check("a and(b or c)", "a and (b or c)");
    check("a or(b)", "a or b");
    check("((a))", "a");
    check("a\n  and\n  b", "a and b");
    check("(a and b) and c", "(a and b) and c");
    check("a and b and c", "a and b and c");
    check(
        "spawned_process and not proc.name in (sh)",
        "spawned_process and not proc.name in (sh)",
    );
}

#[test]
fn lists_and_values() {
    check(
        "evt.type in (open,openat, openat2)",
        "evt.type in (open, openat, openat2)",
    );
    check("proc.name in ()", "proc.name in ()");
    check("proc.name in ( )", "proc.name in ()");
    check("fd.sport in (80, 443)", "fd.sport in (80, 443)");
    check("proc.name in shell_binaries", "proc.name in shell_binaries");
    check("proc.name in(sh)", "proc.name in (sh)");
    check(
        "proc.pname in (runc:[0:PARENT], runc:[1:CHILD], runc)",
        "proc.pname in (runc:[0:PARENT], runc:[1:CHILD], runc)",
    );
    check(
        r#"proc.name in (login, "(systemd)", systemd-logind)"#,
        r#"proc.name in (login, "(systemd)", systemd-logind)"#,
    );
    check(
        "fd.snet in (10.0.0.0/8, \"192.168.0.0/16\")",
        "fd.snet in (10.0.0.0/8, 192.168.0.0/16)",
    );
    check(
        "fd.name in (/etc/shadow, /root/.ssh/authorized_keys)",
        "fd.name in (/etc/shadow, /root/.ssh/authorized_keys)",
    );
    check(
        "container.image.repository in (docker.io/library/x:1.2)",
        "container.image.repository in (docker.io/library/x:1.2)",
    );
    check("fd.name = '/tmp/x y'", "fd.name = \"/tmp/x y\"");
    check("fd.name = ''", "fd.name = \"\"");
    check("proc.args=\"\"", "proc.args = \"\"");
}

#[test]
fn quoting_and_escapes() {
    check(
        r#"proc.cmdline = "a \"b\" c""#,
        r#"proc.cmdline = "a \"b\" c""#,
    );
    check(r"proc.cmdline = 'it\'s'", r#"proc.cmdline = "it's""#);
    check(r#"proc.cmdline = 'a"b'"#, r#"proc.cmdline = "a\"b""#);
    check(r#"proc.cmdline = "a'b""#, r#"proc.cmdline = "a'b""#);
    check(
        r#"proc.cmdline = "tab\tnl\n""#,
        r#"proc.cmdline = "tab\tnl\n""#,
    );
    check(
        r#"proc.cmdline = "back\\slash""#,
        r"proc.cmdline = back\slash",
    );
    check(r#"fd.name = "\/etc""#, "fd.name = /etc");
    check(
        r#"proc.name = '"(systemd)"'"#,
        r#"proc.name = "\"(systemd)\"""#,
    );
    check(
        r#"proc.cmdline in ("sh -c /bin/sh -c 'date +%%s'")"#,
        r#"proc.cmdline in ("sh -c /bin/sh -c 'date +%%s'")"#,
    );
    check(
        r#"proc.name = "a\x""#,
        "error: unsupported string escape sequence `\\x` at 1:13",
    );
    check(
        r#"proc.name = 'a\"'"#,
        "error: invalid `\\\"` escape in '-quoted string at 1:13",
    );
    check(
        r#"proc.name = "abc"#,
        "error: unterminated quoted string at 1:13",
    );
}

#[test]
fn field_arguments_and_transformers() {
    check("proc.aname[2] = bash", "proc.aname[2] = bash");
    check("proc.aname[2]=bash", "proc.aname[2] = bash");
    check(
        "evt.arg.flags contains O_TRUNC",
        "evt.arg.flags contains O_TRUNC",
    );
    check("evt.arg[0] = x", "evt.arg[0] = x");
    check("proc.env[\"HOME\"] = /root", "proc.env[HOME] = /root");
    check("proc.env['A B'] = x", "proc.env[\"A B\"] = x");
    check(
        "container.mount.dest[/var/run/docker.sock] in (\"<NA>\", \"N/A\")",
        "container.mount.dest[/var/run/docker.sock] in (<NA>, N/A)",
    );
    check(
        "container.mount.dest[/proc*] = x",
        "container.mount.dest[/proc*] = x",
    );
    check("tolower(proc.name) = bash", "tolower(proc.name) = bash");
    check("len(proc.name) > 3", "len(proc.name) > 3");
    check(
        "toupper( basename(proc.exe) ) = LS",
        "toupper(basename(proc.exe)) = LS",
    );
    check(
        "b64(evt.arg.data) contains x",
        "b64(evt.arg.data) contains x",
    );
    check("proc.name = val(proc.pname)", "proc.name = val(proc.pname)");
    check(
        "proc.name = val( proc.aname[1] )",
        "proc.name = val(proc.aname[1])",
    );
    check(
        "proc.name = tolower(proc.pname)",
        "proc.name = tolower(proc.pname)",
    );
    check("fd.num > len(proc.name)", "fd.num > len(proc.name)");
    check(
        "proc.name in val(proc.pname)",
        "proc.name in val(proc.pname)",
    );
    check("proc.name = \"tolower(x)\"", "proc.name = \"tolower(x)\"");
}

#[test]
fn syntax_errors() {
    check("", "error: condition is empty at 1:1");
    check(
        "proc.name =",
        "error: expected a string value or a field with a valid transformer at 1:12",
    );
    check(
        "proc.name foo",
        "error: expected a valid check operator: one of `exists`, `<=`, `<`, `>=`, `>`, `==`, `=`, `!=`, `glob`, `iglob`, `contains`, `icontains`, `bcontains`, `startswith`, `bstartswith`, `endswith`, `regex`, `intersects`, `in`, `pmatch` at 1:11",
    );
    check(
        "proc.name containsx",
        "error: expected a valid check operator: one of `exists`, `<=`, `<`, `>=`, `>`, `==`, `=`, `!=`, `glob`, `iglob`, `contains`, `icontains`, `bcontains`, `startswith`, `bstartswith`, `endswith`, `regex`, `intersects`, `in`, `pmatch` at 1:11",
    );
    check("proc.name in (a,", "error: expected a string value at 1:17");
    check(
        "proc.name in (a, )",
        "error: expected a string value at 1:18",
    );
    check("proc.name in (a b)", "error: expected a `)` token at 1:17");
    check("(a", "error: expected a `)` token at 1:3");
    check("a andb", "error: expected blank or `(` after `and` at 1:6");
    check("a orb", "error: expected blank or `(` after `or` at 1:5");
    check(
        "a b",
        "error: unexpected token after `a`, expecting `or`, `and` at 1:3",
    );
    check("a and", "error: expected blank or `(` after `and` at 1:6");
    check(
        "fd.num > abc",
        "error: expected a number value or a field with a valid transformer at 1:10",
    );
    check("proc.aname[2 = x", "error: expected a `]` token at 1:13");
    check(
        "proc.aname[] = x",
        "error: expected a valid field argument: a quoted string or a bare string at 1:12",
    );
    check(
        "tolower(x) = a",
        "error: expected a field or a nested transformer: `val`, `tolower`, `toupper`, `b64`, `basename`, `len` at 1:9",
    );
    check(
        "tolower(proc.name = a",
        "error: expected a `)` token closing the transformer at 1:19",
    );
    check(
        "proc.name = val(x)",
        "error: expected a field within `val` transformer at 1:17",
    );
    check(
        "a\nand\n)",
        "error: expected a `(` token, a field check, or an identifier at 3:1",
    );
    check(
        ")",
        "error: expected a `(` token, a field check, or an identifier at 1:1",
    );
}

#[test]
fn depth_is_limited() {
    let deep = format!("{}a{}", "(".repeat(5000), ")".repeat(5000));
    let err = parse(&deep).unwrap_err();
    assert!(err.message.contains("exceeded max depth"), "{err}");
    let ok = format!("{}a{}", "(".repeat(90), ")".repeat(90));
    assert!(parse(&ok).is_ok());
}
