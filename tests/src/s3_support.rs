//! Support for the S3 shipping tests: a real S3-compatible server (moto's
//! server from PyPI, started per test on a free 127.0.0.1 port), a fault
//! injector in front of it, and helpers to run `capture --s3` and `replay`
//! against them.
//!
//! [`FaultProxy`] forwards real requests to the real server, one request
//! per connection, and can: answer 503 to the next N requests; stop (its
//! port refuses connections, open ones are cut) and start again on the same
//! port, as a server that went away and came back; and check the
//! `x-amz-checksum-sha256` header of every upload against its body (moto
//! stores the header but does not check it).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// Limit on waiting for a server to listen.
const START_LIMIT: Duration = Duration::from_secs(60);

/// Whether moto's server can run here; under CI its absence fails the test
/// (`.ci/run` installs it), elsewhere the test is skipped.
pub fn require_moto() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import moto.server, flask"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "moto's server is missing under CI (pip install 'moto[server]')"
        );
        eprintln!("skipped: moto's server is not installed (pip install 'moto[server]')");
    }
    ok
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

fn wait_listening(port: u16, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A moto S3 server process, killed when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::spawn(false)
    }

    /// A server that checks credentials (moto's IAM emulation) after the
    /// first request, which creates the bucket: the test keys are then
    /// refused as unknown (403 InvalidAccessKeyId).
    pub fn start_with_auth() -> Moto {
        Moto::spawn(true)
    }

    fn spawn(auth: bool) -> Moto {
        let port = free_port();
        let mut cmd = Command::new("python3");
        if auth {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "1");
        }
        let child = cmd
            .args([
                "-m",
                "moto.server",
                "-H",
                "127.0.0.1",
                "-p",
                &port.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting moto: {e}"));
        let mut m = Moto { child, port };
        if !wait_listening(port, START_LIMIT) {
            let _ = m.child.kill();
            panic!("moto did not listen on port {port} within {START_LIMIT:?}");
        }
        m
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates `bucket` (moto accepts unsigned requests).
    pub fn create_bucket(&self, bucket: &str) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("connect to moto: {e}"));
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let req = format!(
            "PUT /{bucket} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        s.write_all(req.as_bytes())
            .unwrap_or_else(|e| panic!("create bucket: {e}"));
        let mut resp = String::new();
        let _ = s.read_to_string(&mut resp);
        assert!(
            resp.starts_with("HTTP/1.1 200") || resp.starts_with("HTTP/1.0 200"),
            "creating bucket `{bucket}`: {resp}"
        );
    }

    /// A client of `bucket` straight to the server (not through a proxy).
    pub fn client(&self, bucket: &str) -> sysrec_s3::Client {
        sysrec_s3::Client::new(
            bucket,
            &sysrec_s3::ClientOptions {
                endpoint: Some(self.endpoint()),
                keys: Some(("test".into(), "test".into())),
                worker_threads: 1,
                ..sysrec_s3::ClientOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("S3 client: {e}"))
    }

    /// Every object under `prefix`, recursively, by key.
    pub fn objects(&self, bucket: &str, prefix: &str) -> Vec<(String, u64)> {
        let c = self.client(bucket);
        let mut out = Vec::new();
        let mut folders = vec![prefix.trim_end_matches('/').to_string()];
        while let Some(f) = folders.pop() {
            let l = c.list(&f).unwrap_or_else(|e| panic!("listing `{f}`: {e}"));
            out.extend(l.objects.into_iter().map(|o| (o.key, o.size)));
            folders.extend(l.folders);
        }
        out.sort();
        out
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Environment for `capture`/`replay` talking to `endpoint` with moto's
/// accepted test keys, and nothing from the caller's AWS setup.
pub fn aws_env(cmd: &mut Command, endpoint: &str) {
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("AWS_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint);
}

/// `capture -o OUTPUT --s3 URL EXTRA... -- CMD...` against `endpoint`.
fn capture_command(
    output: &Path,
    endpoint: &str,
    url: &str,
    extra: &[&str],
    cmd: &[&str],
) -> Command {
    let mut c = Command::new(crate::bin("capture"));
    aws_env(&mut c, endpoint);
    c.arg("-o")
        .arg(output)
        .args(["--s3", url])
        .args(extra)
        .arg("--")
        .args(cmd);
    c
}

/// `capture_command`, spawned with piped output.
pub fn spawn_capture(
    output: &Path,
    endpoint: &str,
    url: &str,
    extra: &[&str],
    cmd: &[&str],
) -> Child {
    capture_command(output, endpoint, url, extra, cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn capture: {e}"))
}

/// Like [`spawn_capture`], run to completion within `limit`.
pub fn capture(
    output: &Path,
    endpoint: &str,
    url: &str,
    extra: &[&str],
    cmd: &[&str],
    limit: Duration,
) -> Output {
    crate::run_with_timeout(
        &mut capture_command(output, endpoint, url, extra, cmd),
        limit,
    )
}

/// `replay ARGS...` with the endpoint set, to completion.
pub fn replay(endpoint: &str, args: &[&str]) -> Output {
    let mut c = Command::new(crate::bin("replay"));
    aws_env(&mut c, endpoint);
    c.args(args);
    crate::run_with_timeout(&mut c, Duration::from_secs(120))
}

/// The stdout of `replay ARGS... TRACE` for a local trace and for the same
/// trace in S3, with each trace's own name replaced by `TRACE`, so they can
/// be compared (`verify` today; `--rules F` alerts once replay evaluates
/// rules: the same comparison, other ARGS).
pub fn replay_local_and_s3(
    endpoint: &str,
    args: &[&str],
    local: &Path,
    s3_url: &str,
) -> (String, String) {
    let run = |trace: &str| {
        let mut a: Vec<&str> = args.to_vec();
        a.push(trace);
        let out = replay(endpoint, &a);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.replace(trace.trim_end_matches('/'), "TRACE")
    };
    let local = local.to_string_lossy().into_owned();
    (run(&local), run(s3_url))
}

/// Downloads the trace folder `PREFIX/<id>/` into `dir`: its segments under
/// their object names and its manifest as `trace.manifest.json`, which
/// `TraceReader::open` reads as a local trace.
pub fn download_trace(moto: &Moto, bucket: &str, folder: &str, dir: &Path) -> PathBuf {
    let c = moto.client(bucket);
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
    for (key, _) in moto.objects(bucket, folder) {
        let name = key.rsplit('/').next().unwrap_or(&key).to_string();
        let local = if name == "manifest.json" {
            "trace.manifest.json".to_string()
        } else {
            name
        };
        let bytes = c.get(&key).unwrap_or_else(|e| panic!("get `{key}`: {e}"));
        std::fs::write(dir.join(local), &bytes).unwrap_or_else(|e| panic!("write: {e}"));
    }
    dir.join("trace.manifest.json")
}

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What a [`FaultProxy`] saw.
#[derive(Default)]
struct ProxyState {
    up: AtomicBool,
    listening: AtomicBool,
    shutdown: AtomicBool,
    fail_next: AtomicU64,
    requests: AtomicU64,
    served_503: AtomicU64,
    /// Uploads whose checksum header was checked and matched.
    checksums_ok: AtomicU64,
    /// Uploads without the header or with a wrong one.
    checksum_problems: Mutex<Vec<String>>,
    open: Mutex<Vec<TcpStream>>,
    /// Request heads forwarded.
    heads: Mutex<Vec<String>>,
}

/// A fault-injecting HTTP proxy in front of a real server; see the module
/// documentation.
pub struct FaultProxy {
    pub port: u16,
    state: Arc<ProxyState>,
}

impl FaultProxy {
    pub fn start(upstream: u16) -> FaultProxy {
        let port = free_port();
        let state = Arc::new(ProxyState::default());
        state.up.store(true, Ordering::SeqCst);
        let st = state.clone();
        std::thread::spawn(move || accept_loop(port, upstream, st));
        let p = FaultProxy { port, state };
        assert!(
            wait_listening(port, START_LIMIT),
            "proxy did not listen on {port}"
        );
        p
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Answers the next `n` requests with 503 Service Unavailable.
    pub fn fail_next(&self, n: u64) {
        self.state.fail_next.store(n, Ordering::SeqCst);
    }

    /// The port stops accepting (connection refused) and open connections
    /// are cut.
    pub fn stop(&self) {
        self.state.up.store(false, Ordering::SeqCst);
        if let Ok(mut open) = self.state.open.lock() {
            for s in open.drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
        let deadline = Instant::now() + START_LIMIT;
        while self.state.listening.load(Ordering::SeqCst) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Listens again on the same port.
    pub fn restart(&self) {
        self.state.up.store(true, Ordering::SeqCst);
        assert!(
            wait_listening(self.port, START_LIMIT),
            "proxy did not listen again"
        );
    }

    pub fn requests(&self) -> u64 {
        self.state.requests.load(Ordering::SeqCst)
    }

    pub fn served_503(&self) -> u64 {
        self.state.served_503.load(Ordering::SeqCst)
    }

    pub fn checksums_ok(&self) -> u64 {
        self.state.checksums_ok.load(Ordering::SeqCst)
    }

    /// The heads of the requests forwarded (request line and headers).
    pub fn heads(&self) -> Vec<String> {
        self.state
            .heads
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    pub fn checksum_problems(&self) -> Vec<String> {
        self.state
            .checksum_problems
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.shutdown.store(true, Ordering::SeqCst);
        self.stop();
    }
}

fn accept_loop(port: u16, upstream: u16, st: Arc<ProxyState>) {
    let mut listener: Option<TcpListener> = None;
    while !st.shutdown.load(Ordering::SeqCst) {
        if !st.up.load(Ordering::SeqCst) {
            listener = None;
            st.listening.store(false, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        if listener.is_none() {
            match TcpListener::bind(("127.0.0.1", port)) {
                Ok(l) => {
                    let _ = l.set_nonblocking(true);
                    listener = Some(l);
                    st.listening.store(true, Ordering::SeqCst);
                }
                Err(_) => {
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            }
        }
        let Some(l) = &listener else { continue };
        match l.accept() {
            Ok((conn, _)) => {
                let st = st.clone();
                std::thread::spawn(move || {
                    let _ = handle(conn, upstream, &st);
                });
            }
            Err(_) => std::thread::sleep(Duration::from_millis(5)),
        }
    }
    st.listening.store(false, Ordering::SeqCst);
}

/// Reads one request (head and Content-Length body).
fn read_request(conn: &mut TcpStream) -> std::io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 1 << 20 {
            return Err(std::io::Error::other("request head too long"));
        }
        let n = conn.read(&mut byte)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&byte[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let len: usize = header(&head, "content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < len {
        let n = conn.read(&mut byte)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&byte[..n]);
    }
    Ok((head, body))
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().skip(1).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn handle(mut conn: TcpStream, upstream: u16, st: &ProxyState) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    if let Ok(mut open) = st.open.lock() {
        open.push(conn.try_clone()?);
    }
    let (head, body) = read_request(&mut conn)?;
    if !st.up.load(Ordering::SeqCst) {
        return Ok(());
    }
    st.requests.fetch_add(1, Ordering::SeqCst);
    let failing = st
        .fail_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    if failing {
        st.served_503.fetch_add(1, Ordering::SeqCst);
        let msg = "<Error><Code>ServiceUnavailable</Code><Message>injected</Message></Error>";
        write!(
            conn,
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{msg}",
            msg.len()
        )?;
        return Ok(());
    }
    if let Ok(mut h) = st.heads.lock() {
        h.push(head.clone());
    }
    let request_line = head.lines().next().unwrap_or_default().to_string();
    // Only PUTs of single objects and parts carry the payload checksum;
    // CompleteMultipartUpload is a POST.
    if request_line.starts_with("PUT ") {
        let want = base64(&Sha256::digest(&body));
        match header(&head, "x-amz-checksum-sha256") {
            Some(got) if got == want => {
                st.checksums_ok.fetch_add(1, Ordering::SeqCst);
            }
            got => {
                if let Ok(mut p) = st.checksum_problems.lock() {
                    p.push(format!(
                        "{request_line}: header {got:?}, body hashes to {want}"
                    ));
                }
            }
        }
    }
    let mut up = TcpStream::connect(("127.0.0.1", upstream))?;
    up.set_read_timeout(Some(Duration::from_secs(60)))?;
    if let Ok(mut open) = st.open.lock() {
        open.push(up.try_clone()?);
    }
    // One request per connection: the upstream closes after answering.
    up.write_all(close_after(&head).as_bytes())?;
    up.write_all(&body)?;
    // The answer, told to close too, so the client opens a new connection
    // (through the proxy's current mode) for its next request.
    let mut resp = Vec::new();
    let mut byte = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = resp.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = up.read(&mut byte)?;
        if n == 0 {
            conn.write_all(&resp)?;
            return Ok(());
        }
        resp.extend_from_slice(&byte[..n]);
    };
    let rhead = String::from_utf8_lossy(&resp[..head_end]).into_owned();
    conn.write_all(close_after(&rhead).as_bytes())?;
    conn.write_all(&resp[head_end..])?;
    std::io::copy(&mut up, &mut conn)?;
    let _ = conn.shutdown(Shutdown::Both);
    Ok(())
}

/// An HTTP head (request or response) with its `Connection` header
/// replaced by `Connection: close`.
fn close_after(head: &str) -> String {
    let mut out = String::new();
    for (i, line) in head.trim_end().lines().enumerate() {
        if i > 0 && line.to_ascii_lowercase().starts_with("connection:") {
            continue;
        }
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("Connection: close\r\n\r\n");
    out
}
