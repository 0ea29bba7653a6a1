//! `capture --rules`: Falco's rules evaluated live. The alerts a run writes
//! to stderr, to a file and POSTs to an HTTP server must equal what
//! `replay --rules ... --json` finds in the run's trace (but for the
//! `sysrec.*` fields); an HTTP target that is down or failing must not
//! change the workload's exit status, and every alert it did not take is
//! counted and written to stderr; rules that do not load stop capture
//! before the workload starts.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
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
        Server::start_slow(status, Duration::ZERO)
    }

    /// Answers each request `delay` after reading it.
    fn start_slow(status: u16, delay: Duration) -> Server {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/falco", l.local_addr().unwrap());
        let requests: Requests = Arc::default();
        let r = requests.clone();
        let thread = std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(c) = conn else { continue };
                serve(c, status, delay, &r);
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

fn serve(c: TcpStream, status: u16, delay: Duration, requests: &Requests) {
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
    std::thread::sleep(delay);
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
    let out = run_capture(&w, &["--alerts", url], &[], LIMIT);
    check_undeliverable(&w, url, &out)
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
    // With --alerts-timeout 1 each request gives up after 1 s and the
    // queue is given up on 1 s after the workload exits; the only time
    // check is this generous limit on the whole run (the test's own
    // deadline, not a measurement).
    let w = Work::new();
    let out = run_capture(
        &w,
        &["--alerts", &url, "--alerts-timeout", "1"],
        &[],
        Duration::from_secs(25),
    );
    check_undeliverable(&w, &url, &out);
}

#[test]
fn a_slow_http_target_gets_what_it_can_and_the_rest_is_on_stderr() {
    if !ptrace_permitted() {
        return;
    }
    // Accepts and reads every request, answers 200 only after 1.2 s: each
    // alert takes that long, so some are delivered and the rest are still
    // queued when the 2 s flush timeout after the workload's exit runs
    // out.
    let server = Server::start_slow(200, Duration::from_millis(1200));
    let w = Work::new();
    let out = run_capture(
        &w,
        &["--alerts", &server.url, "--alerts-timeout", "2"],
        &[],
        Duration::from_secs(25),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let expected = replay_alerts(&w);
    assert!(expected.len() >= 3, "{expected:?}");
    let line = stderr
        .lines()
        .find(|l| l.starts_with(&format!("capture: alerts: {}: ", server.url)))
        .unwrap_or_else(|| panic!("no delivery line: {stderr}"));
    // `URL: D delivered, F failed, R retries ...`
    let count = |what: &str| -> u64 {
        let before = line.split(&format!(" {what}")).next().unwrap();
        before.rsplit(' ').next().unwrap().parse().unwrap()
    };
    let (delivered, failed) = (count("delivered"), count("failed"));
    assert_eq!(delivered + failed, expected.len() as u64, "{line}");
    assert!(delivered >= 1, "the slow target got nothing: {line}");
    assert!(failed >= 1, "everything was delivered in time: {line}");
    // Nothing lost: every alert reached the server or stderr (one that
    // timed out while the server held it may be in both).
    let echoed: Vec<Value> = json_lines(&stderr).iter().map(without_sysrec).collect();
    assert_eq!(echoed.len() as u64, failed, "{stderr}");
    let received: Vec<Value> = server
        .requests()
        .iter()
        .map(|r| without_sysrec(&serde_json::from_str(&r.3).unwrap()))
        .collect();
    for a in &expected {
        assert!(
            echoed.contains(a) || received.contains(a),
            "lost: {a}\n{stderr}"
        );
    }
}

#[test]
fn a_full_evaluation_queue_spills_to_disk_and_loses_no_alert() {
    if !ptrace_permitted() {
        return;
    }
    // --alerts-queue 0: no chunk may wait in memory, every one goes
    // through the spill file, as when evaluation falls behind.
    let w = Work::new();
    let out = run_capture(&w, &["--alerts-queue", "0"], &[], LIMIT);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let expected = replay_alerts(&w);
    assert!(!expected.is_empty());
    let live: Vec<Value> = json_lines(&stderr).iter().map(without_sysrec).collect();
    assert_eq!(live, expected, "{stderr}");
    assert!(
        stderr.contains("waited in the spill file") && stderr.contains("at most 0 bytes in memory"),
        "{stderr}"
    );
    // The spill file was never visible: only the trace and the workload's
    // files are in the directory.
    let mut names: Vec<String> = std::fs::read_dir(w.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["innocent", "notes.txt", "trace.zst"], "{names:?}");
}

/// Runs capture with Falco's rules, `extra` options and `env` over the
/// alert workload, killed and failed after `limit`.
fn run_capture(w: &Work, extra: &[&str], env: &[(&str, &Path)], limit: Duration) -> Output {
    let mut c = Command::new(capture_bin());
    c.arg("-o")
        .arg(w.trace_path())
        .args(env_args())
        .args(rule_args())
        .args(extra)
        .arg("--")
        .args(["sh", "-c", &script(w)]);
    for (k, v) in env {
        c.env(k, v);
    }
    e2e_tests::run_with_timeout(&mut c, limit)
}

/// Checks a run whose only target `url` took no alert: the workload's
/// status is capture's, every alert is on stderr and counted.
fn check_undeliverable(w: &Work, url: &str, out: &Output) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let expected = replay_alerts(w);
    assert!(!expected.is_empty());
    let echoed: Vec<Value> = json_lines(&stderr).iter().map(without_sysrec).collect();
    assert_eq!(echoed, expected, "undelivered alerts on stderr: {stderr}");
    assert!(
        stderr.contains(&format!("{url}: 0 delivered, {} failed", expected.len())),
        "{stderr}"
    );
    stderr
}

/// A CA and a server certificate for 127.0.0.1 signed by it, made with
/// the `openssl` command: (CA, certificate, key) paths.
fn make_certs(
    w: &Work,
    name: &str,
) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let p = |f: &str| w.path(&format!("{name}-{f}"));
    let ossl = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let s = |p: &std::path::PathBuf| p.to_str().unwrap().to_string();
    let (ca_key, ca, key, csr, cert, ext) = (
        s(&p("ca.key")),
        s(&p("ca.pem")),
        s(&p("server.key")),
        s(&p("server.csr")),
        s(&p("server.pem")),
        s(&p("ext.cnf")),
    );
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend(["-keyout", &ca_key, "-out", &ca, "-days", "2", "-subj"]);
    let subj = format!("/CN=sysrec test CA {name}");
    a.push(&subj);
    a.extend([
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    ossl(&a);
    let mut a = vec!["req"];
    a.extend(ec);
    a.extend(["-keyout", &key, "-out", &csr, "-subj", "/CN=localhost"]);
    ossl(&a);
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    ossl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-out",
        &cert,
        "-days",
        "2",
        "-extfile",
        &ext,
    ]);
    (p("ca.pem"), p("server.pem"), p("server.key"))
}

/// python3's http.server behind TLS on 127.0.0.1, writing each request's
/// method, path, content type and body to a file, one line each.
const HTTPS_SERVER: &str = r#"
import http.server, json, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(sys.argv[3], "a") as f:
            f.write(json.dumps([self.command, self.path,
                                self.headers.get("Content-Type", ""),
                                body.decode()]) + "\n")
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[1], sys.argv[2])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
print(srv.server_address[1], flush=True)
srv.serve_forever()
"#;

/// The HTTPS server, killed when dropped.
struct HttpsServer {
    child: Child,
    url: String,
    log: std::path::PathBuf,
}

impl HttpsServer {
    fn start(w: &Work, cert: &Path, key: &Path) -> HttpsServer {
        let log = w.path("https-requests.jsonl");
        let mut child = Command::new("python3")
            .args(["-c", HTTPS_SERVER])
            .arg(cert)
            .arg(key)
            .arg(&log)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("the HTTPS server did not start: {line:?}")
        });
        HttpsServer {
            child,
            url: format!("https://127.0.0.1:{port}/falco"),
            log,
        }
    }

    /// (method, path, content type, body) of each request.
    fn requests(&self) -> Vec<Vec<String>> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn an_https_target_with_a_private_ca_receives_every_alert() {
    if !ptrace_permitted() || !e2e_tests::require("openssl") || !e2e_tests::require("python3") {
        return;
    }
    let w = Work::new();
    let (ca, cert, key) = make_certs(&w, "a");
    let server = HttpsServer::start(&w, &cert, &key);
    let ca_arg = ca.to_str().unwrap();
    let out = run_capture(
        &w,
        &[
            "--alerts",
            &server.url,
            "--alerts-ca",
            ca_arg,
            "--alerts",
            "stderr",
        ],
        &[],
        LIMIT,
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let expected = replay_alerts(&w);
    assert!(!expected.is_empty());
    let requests = server.requests();
    for r in &requests {
        assert_eq!(r[..3], ["POST", "/falco", "application/json"], "{r:?}");
    }
    let received: Vec<Value> = requests
        .iter()
        .map(|r| without_sysrec(&serde_json::from_str(&r[3]).unwrap()))
        .collect();
    assert_eq!(received, expected, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{}: {} delivered, 0 failed",
            server.url,
            expected.len()
        )),
        "{stderr}"
    );
}

#[test]
fn an_https_target_whose_certificate_is_not_trusted_gets_nothing() {
    if !ptrace_permitted() || !e2e_tests::require("openssl") || !e2e_tests::require("python3") {
        return;
    }
    let w = Work::new();
    let (_, cert, key) = make_certs(&w, "server");
    // The "system" store holds another CA only: the server's is unknown.
    let (other_ca, _, _) = make_certs(&w, "other");
    let server = HttpsServer::start(&w, &cert, &key);
    // A generous timeout: under CI's load a 1 s request limit ended the
    // handshake before the certificate was seen ("took too long").
    let out = run_capture(
        &w,
        &["--alerts", &server.url, "--alerts-timeout", "10"],
        &[("SSL_CERT_FILE", &other_ca)],
        LIMIT,
    );
    let stderr = check_undeliverable(&w, &server.url, &out);
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn an_alerts_ca_that_does_not_load_stops_capture_before_the_workload() {
    let w = Work::new();
    let bad = w.path("ca.pem");
    std::fs::write(&bad, "not a certificate\n").unwrap();
    let marker = w.path("started");
    let mut args = rule_args();
    args.extend([
        "--alerts".into(),
        "https://127.0.0.1:9/".into(),
        "--alerts-ca".into(),
        bad.to_str().unwrap().into(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = w.capture(&args, &["touch", marker.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(125), "{stderr}");
    assert!(!marker.exists(), "the workload ran");
    assert!(
        stderr.contains(&format!(
            "--alerts-ca `{}`: holds no certificate",
            bad.display()
        )),
        "{stderr}"
    );
    assert!(!w.trace_path().exists(), "a failed start left a trace");
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
