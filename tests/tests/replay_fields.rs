//! Field semantics on recorded traces, through `replay --filter`: what a
//! condition matches is exactly what Falco's semantics say it should.

use std::ffi::OsStr;

use e2e_tests::capture_support::*;
use e2e_tests::replay_support::*;

/// Records `cmd` in `w`.
fn record(w: &Work, cmd: &[&str]) {
    let out = w.capture(&["-q"], cmd);
    assert!(
        out.status.success(),
        "capture {cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The events of `w`'s trace matching `cond`, as JSON objects.
fn matching(w: &Work, cond: &str) -> Vec<serde_json::Value> {
    let t = w.trace_path();
    let out = replay(&[
        t.as_os_str(),
        OsStr::new("--filter"),
        OsStr::new(cond),
        OsStr::new("--json"),
        OsStr::new("-q"),
    ]);
    assert!(
        out.status.success(),
        "replay --filter {cond:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn failed_open_still_names_the_file() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    record(
        &w,
        &["sh", "-c", "cat /nonexistent/sysrec-x 2>/dev/null; true"],
    );
    let evs = matching(
        &w,
        "evt.type=openat and fd.name=/nonexistent/sysrec-x and fd.num=-1 and fd.typechar=f and evt.res=ENOENT and evt.failed=true",
    );
    assert_eq!(evs.len(), 1, "{evs:?}");
    assert_eq!(evs[0]["evt.rawres"], -2);
    assert_eq!(evs[0]["proc.name"], "cat");
}

#[test]
fn process_fields() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    record(
        &w,
        &["sh", "-c", "cd /tmp && cat /etc/hostname > /dev/null"],
    );
    // proc.aname without an index matches any ancestor; proc.cwd ends
    // with a slash; proc.cmdline is comm + args; user.name comes from the
    // passwd data recorded with the trace.
    let evs = matching(
        &w,
        "evt.type=openat and fd.name=/etc/hostname and proc.aname=sh and proc.cwd=/tmp/ \
         and proc.cmdline=\"cat /etc/hostname\" and proc.args=/etc/hostname and user.name=root \
         and proc.pname=sh and proc.aname[1]=sh and proc.aname[0]=cat and thread.ismain=true",
    );
    assert_eq!(evs.len(), 1, "{evs:?}");
    // A process is not its own ancestor: the root shell has no `sh` above it.
    assert_eq!(matching(&w, "evt.type=execve and proc.name=sh").len(), 1);
    assert!(matching(&w, "evt.type=execve and proc.name=sh and proc.aname=sh").is_empty());
    // execve shows the new image.
    let ex = matching(&w, "evt.type=execve and proc.name=cat");
    assert_eq!(ex.len(), 1, "{ex:?}");
    assert_eq!(ex[0]["proc.exepath"], "/usr/bin/cat");
}

#[test]
fn missing_fields_compare_false() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    record(&w, &["true"]);
    let all = matching(&w, "");
    assert!(!all.is_empty());
    // k8s.* is not in a trace: every comparison is false, `!=` included.
    assert!(matching(&w, "k8s.pod.name != abc").is_empty());
    assert!(matching(&w, "k8s.pod.name exists").is_empty());
    assert_eq!(matching(&w, "not k8s.pod.name exists").len(), all.len());
    // A host process: container.id is "host".
    assert_eq!(matching(&w, "container.id = host").len(), all.len());
}

#[test]
fn socket_names_put_the_client_first() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(prog) = w.cc("pingpong", PINGPONG, &[]) else {
        return;
    };
    record(&w, &[prog.to_str().unwrap()]);
    let conn = matching(&w, "evt.type=connect and evt.res=SUCCESS");
    assert_eq!(conn.len(), 1, "{conn:?}");
    let name = conn[0]["fd.name"].as_str().unwrap().to_owned();
    let (client, server) = name.split_once("->").unwrap_or_else(|| panic!("{name}"));
    assert!(client.starts_with("127.0.0.1:") && server.starts_with("127.0.0.1:"));
    // The server's accepted socket has the same name: client first.
    let acc = matching(&w, &format!("evt.type=accept4 and fd.name=\"{name}\""));
    assert_eq!(acc.len(), 1, "{acc:?}");
    let sport = server.rsplit(':').next().unwrap();
    let on_server = matching(
        &w,
        &format!(
            "evt.type=read and fd.sport={sport} and fd.is_server=true and fd.l4proto=tcp and fd.typechar=4 and fd.sip=127.0.0.1"
        ),
    );
    assert_eq!(on_server.len(), 1, "{on_server:?}");
    // fd.ip and fd.port match either end.
    let either = matching(
        &w,
        &format!("evt.type=connect and fd.port={sport} and fd.ip=127.0.0.1 and fd.net=127.0.0.0/8"),
    );
    assert_eq!(either.len(), 1);
}

#[test]
fn listing_reads_like_strace() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    record(&w, &["cat", "/etc/hostname"]);
    let t = w.trace_path();
    let out = replay(&[
        t.as_os_str(),
        OsStr::new("--filter"),
        OsStr::new("fd.name=/etc/hostname"),
    ]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    let open = text
        .lines()
        .find(|l| l.contains(" openat("))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        open.contains("cat(")
            && open.contains("name=/etc/hostname flags=O_RDONLY")
            && open.contains(" = 3 [/etc/hostname]"),
        "{open}"
    );
    assert!(
        text.lines()
            .any(|l| l.contains(" read(fd=3(/etc/hostname) data=")),
        "{text}"
    );
    // The summary goes to stderr, never into the listing.
    assert!(String::from_utf8_lossy(&out.stderr).contains("events"));
}

#[test]
fn stats_lists_processes_and_syscalls() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    record(&w, &["sh", "-c", "cat /etc/hostname > /dev/null; exit 0"]);
    let t = w.trace_path();
    let out = replay(&[t.as_os_str(), OsStr::new("--stats")]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("cat /etc/hostname"), "{text}");
    assert!(text.contains("exit 0"), "{text}");
    assert!(
        text.lines().any(|l| l.trim_end().ends_with("execve")),
        "{text}"
    );
    assert!(text.contains("gaps: 0"), "{text}");
}

#[test]
fn around_an_alert_shows_the_process_tree() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    record(
        &w,
        &["sh", "-c", "cat /etc/shadow > /dev/null; ls / > /dev/null"],
    );
    let (alerts, _) = alerts(&w.trace_path(), &["-q"]);
    let a = alerts
        .iter()
        .find(|a| a["rule"] == "Read sensitive file untrusted")
        .unwrap_or_else(|| panic!("{alerts:?}"));
    let time = a["time"].as_str().unwrap();
    let t = w.trace_path();
    let pid = matching(&w, "fd.name=/etc/shadow and evt.type=openat")[0]["proc.pid"]
        .as_i64()
        .unwrap()
        .to_string();
    let out = replay(&[
        t.as_os_str(),
        OsStr::new("--around"),
        OsStr::new(time),
        OsStr::new("--window"),
        OsStr::new("10s"),
        OsStr::new("--pid"),
        OsStr::new(&pid),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("openat(") && text.contains("/etc/shadow"),
        "{text}"
    );
    // The parent shell is in the tree; its other child `ls` is not.
    assert!(text.lines().any(|l| l.contains(" sh(")), "{text}");
    assert!(!text.lines().any(|l| l.contains(" ls(")), "{text}");
    // The time as the text alert prints it works too.
    let hms = &time[11..];
    let out = replay(&[
        t.as_os_str(),
        OsStr::new("--around"),
        OsStr::new(hms.trim_end_matches('Z')),
        OsStr::new("--window"),
        OsStr::new("1ms"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("/etc/shadow"));
}
