//! `capture --rules`: Falco's rules evaluated live. The alerts a run writes
//! to stderr, to a file and POSTs to an HTTP server must equal what
//! `replay --rules ... --json` finds in the run's trace (but for the
//! `sysrec.*` fields); an HTTP target that is down or failing must not
//! change the workload's exit status, and every alert it did not take is
//! counted and written to stderr; rules that do not load stop capture
//! before the workload starts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use e2e_tests::capture_support::*;
use e2e_tests::replay_support::*;
use serde_json::Value;

/// A workload doing actions that Falco's rules flag (a sensitive file
/// read, a symlink over one, a search for private keys), then `exit 3`.
fn script(w: &Work) -> String {
    std::fs::write(w.path("notes.txt"), "nothing here\n").unwrap();
    let dir = w.dir.path().to_str().unwrap().to_owned();
    format!(
        "cat /etc/shadow > /dev/null; ln -s /etc/shadow {dir}/innocent; \
         grep -r 'BEGIN RSA PRIVATE' {dir} || true; echo workload-done; exit 3"
    )
}

/// `--rules` for Falco's three files and `--rule-matching all`.
fn rule_args() -> Vec<String> {
    let mut v = Vec::new();
    for r in falco_rules() {
        v.push("--rules".to_string());
        v.push(r.to_str().unwrap().to_string());
    }
    v.extend(["--rule-matching".into(), "all".into()]);
    v
}

/// The alert JSON lines of a text (other lines are the workload's and
/// capture's own).
fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// An alert without the fields only live alerts carry.
fn without_sysrec(a: &Value) -> Value {
    let mut a = a.clone();
    let f = a["output_fields"].as_object_mut().expect("output_fields");
    f.retain(|k, _| !k.starts_with("sysrec."));
    a
}

/// What the loopback server saw: one (method, path, content type, body)
/// per request.
type Requests = Arc<Mutex<Vec<(String, String, String, String)>>>;

/// A tiny HTTP/1.1 server on 127.0.0.1 answering every request with
/// `status`; records each request.
struct Server {
    url: String,
    requests: Requests,
    _thread: JoinHandle<()>,
}

impl Server {
    fn start(status: u16) -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/falco", l.local_addr().unwrap());
        let requests: Requests = Arc::default();
        let r = requests.clone();
        let thread = std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(c) = conn else { continue };
                serve(c, status, &r);
            }
        });
        Server {
            url,
            requests,
            _thread: thread,
        }
    }

    fn requests(&self) -> Vec<(String, String, String, String)> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(c: TcpStream, status: u16, requests: &Requests) {
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut r = BufReader::new(c);
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let (mut len, mut ctype) = (0usize, String::new());
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h == "\r\n" || h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap_or((&h, ""));
        match k.to_ascii_lowercase().as_str() {
            "content-length" => len = v.trim().parse().unwrap_or(0),
            "content-type" => ctype = v.trim().to_string(),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    if r.read_exact(&mut body).is_err() {
        return;
    }
    requests.lock().unwrap().push((
        method,
        path,
        ctype,
        String::from_utf8_lossy(&body).into_owned(),
    ));
    let reason = if status == 200 { "OK" } else { "Error" };
    let _ = r.get_mut().write_all(
        format!("HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .as_bytes(),
    );
}

/// replay's alerts over the run's trace.
fn replay_alerts(w: &Work) -> Vec<Value> {
    let (alerts, out) = alerts(&w.trace_path(), &["--rule-matching", "all", "-q"]);
    assert!(
        out.status.success(),
        "replay: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    alerts
}

#[test]
fn live_alerts_on_stderr_in_a_file_and_over_http_equal_replays() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let server = Server::start(200);
    let file = w.path("alerts.json");
    let mut args = rule_args();
    args.extend([
        "--alerts".into(),
        "stderr".into(),
        "--alerts".into(),
        file.to_str().unwrap().into(),
        "--alerts".into(),
        server.url.clone(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = w.capture(&args, &["sh", "-c", &script(&w)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("workload-done"));

    let expected = replay_alerts(&w);
    let rules = rule_names(&expected);
    for r in [
        "Read sensitive file untrusted",
        "Create Symlink Over Sensitive Files",
        "Search Private Keys or Passwords",
    ] {
        assert!(
            rules.iter().any(|n| n == r),
            "replay found no `{r}`: {rules:?}"
        );
    }
    let on_stderr = json_lines(&stderr);
    let in_file = json_lines(&std::fs::read_to_string(&file).unwrap());
    let requests = server.requests();
    for (method, path, ctype, _) in &requests {
        assert_eq!(method, "POST");
        assert_eq!(path, "/falco");
        assert_eq!(ctype, "application/json");
    }
    let over_http: Vec<Value> = requests
        .iter()
        .map(|(_, _, _, body)| serde_json::from_str(body).unwrap())
        .collect();
    let trace_id = uuid_of(&w.trace().meta.trace_id);
    for (name, live) in [
        ("stderr", &on_stderr),
        ("file", &in_file),
        ("http", &over_http),
    ] {
        let stripped: Vec<Value> = live.iter().map(without_sysrec).collect();
        assert_eq!(stripped, expected, "{name} alerts differ from replay's");
        for a in live {
            // What a falcosidekick parses, and where to look in the trace.
            for key in ["output", "priority", "rule", "time", "output_fields"] {
                assert!(!a[key].is_null(), "{name}: no `{key}` in {a}");
            }
            assert_eq!(a["output_fields"]["sysrec.trace_id"], trace_id.as_str());
            assert!(a["output_fields"]["sysrec.chunk"].is_u64(), "{a}");
        }
    }
    let summary = format!("capture: alerts: {} (", expected.len());
    assert!(stderr.contains(&summary), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: {} delivered, 0 failed",
            server.url,
            expected.len()
        )),
        "{stderr}"
    );
}

fn uuid_of(id: &[u8]) -> String {
    let h: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Runs the workload with one HTTP target `url` that does not take the
/// alerts; checks they are counted, written to stderr and that the
/// workload's status is capture's.
fn undeliverable(url: &str) -> String {
    let w = Work::new();
    let mut args = rule_args();
    args.extend(["--alerts".into(), url.to_string()]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = w.capture(&args, &["sh", "-c", &script(&w)]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let expected = replay_alerts(&w);
    assert!(!expected.is_empty());
    let echoed: Vec<Value> = json_lines(&stderr).iter().map(without_sysrec).collect();
    assert_eq!(echoed, expected, "undelivered alerts on stderr: {stderr}");
    assert!(
        stderr.contains(&format!("{url}: 0 delivered, {} failed", expected.len())),
        "{stderr}"
    );
    stderr
}

#[test]
fn an_http_target_that_is_down_costs_no_alert_and_not_the_exit_status() {
    if !ptrace_permitted() {
        return;
    }
    // A port nobody listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/");
    let stderr = undeliverable(&url);
    assert!(stderr.contains("cannot reach"), "{stderr}");
}

#[test]
fn an_http_target_answering_500_is_retried_then_counted() {
    if !ptrace_permitted() {
        return;
    }
    let server = Server::start(500);
    let stderr = undeliverable(&server.url);
    assert!(stderr.contains("answered 500"), "{stderr}");
    let requests = server.requests();
    let first = &requests[0].3;
    assert!(
        requests.iter().filter(|r| &r.3 == first).count() >= 2,
        "the first alert was not retried: {} requests",
        requests.len()
    );
}

#[test]
fn an_http_target_that_never_answers_holds_capture_no_longer_than_its_flush_timeout() {
    if !ptrace_permitted() {
        return;
    }
    // Takes connections (the kernel's backlog does) and never answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", l.local_addr().unwrap());
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for c in l.incoming() {
            held.push(c);
        }
    });
    // `undeliverable` runs capture under the tests' time limit: it must
    // exit on its own, every alert counted and on stderr.
    undeliverable(&url);
}

#[test]
fn rules_that_do_not_load_stop_capture_before_the_workload() {
    let w = Work::new();
    let bad = w.path("bad_rules.yaml");
    std::fs::write(
        &bad,
        "- rule: broken\n  desc: d\n  condition: evt.type = open and (\n  output: o\n  priority: WARNING\n",
    )
    .unwrap();
    let marker = w.path("started");
    let out = w.capture(
        &["--rules", bad.to_str().unwrap()],
        &["touch", marker.to_str().unwrap()],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(!marker.exists(), "the workload ran");
    assert!(
        stderr.contains(&format!("{}:3:14: error: rule `broken`", bad.display())),
        "{stderr}"
    );
}
