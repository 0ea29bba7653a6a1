//! HTTP targets: Falco's JSON alert POSTed to a URL, as Falco's
//! `http_output` sends it (`Content-Type: application/json`, one alert per
//! request), so falcosidekick takes it as is.
//!
//! A minimal blocking HTTP/1.1 client over `TcpStream` (`Connection:
//! close`, one request per connection): alerts are rare, and capture needs
//! no async runtime for it. `https://` targets speak TLS through rustls
//! (`tls.rs` builds the one client configuration).
//!
//! Every request has one time limit for all of it (connect, TLS handshake,
//! write, status line): [`IO_TIMEOUT`], or `--alerts-timeout` when that is
//! shorter, so a request in flight when the workload exits ends by the
//! flush deadline, and a server trickling bytes cannot hold a thread.
//!
//! Each target has its own thread and a bounded queue ([`QUEUE_ALERTS`]).
//! The evaluator never waits for it: an alert that finds the queue full is
//! not queued but counted as undelivered and written to stderr, as is one
//! whose tries ran out or that was still queued when the flush deadline
//! passed. Nothing is dropped silently.

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::ship::RetryPolicy;
use crate::ship::retry::Backoff;

/// Alerts waiting for one HTTP target before new ones are refused.
pub const QUEUE_ALERTS: usize = 4096;
/// Tries per alert (the first and the retries).
pub const TRIES: u32 = 5;
/// Most time one request may take (connect, handshake, write, answer).
pub const IO_TIMEOUT: Duration = Duration::from_secs(3);
/// The shortest request time limit, whatever `--alerts-timeout` says.
const MIN_IO_TIMEOUT: Duration = Duration::from_millis(100);
/// Most bytes of a response read (the status line is all that matters).
const MAX_RESPONSE: usize = 8 * 1024;

/// `http(s)://HOST[:PORT]/PATH`, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpUrl {
    /// `https://`: TLS.
    pub tls: bool,
    pub host: String,
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
}

impl HttpUrl {
    /// Parses an `http://` or `https://` URL; the error says what is
    /// wrong.
    pub fn parse(s: &str) -> Result<HttpUrl, String> {
        let scheme = |p: &str| s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p));
        let (tls, rest) = if scheme("https://") {
            (true, &s[8..])
        } else if scheme("http://") {
            (false, &s[7..])
        } else {
            return Err("not an http:// or https:// URL".into());
        };
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if authority.contains('@') {
            return Err("credentials in the URL are not supported".into());
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6.split_once(']').ok_or("unclosed `[` in the host")?;
            (h, after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (authority, None),
            }
        };
        if host.is_empty() {
            return Err("no host".into());
        }
        if tls && rustls::pki_types::ServerName::try_from(host).is_err() {
            return Err(format!(
                "`{host}` is not a host name or address TLS can verify"
            ));
        }
        let port = match port {
            None if tls => 443,
            None => 80,
            Some(p) => p
                .parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| format!("invalid port `{p}`"))?,
        };
        if path.bytes().any(|b| b.is_ascii_control() || b == b' ') {
            return Err("the path holds spaces or control characters".into());
        }
        Ok(HttpUrl {
            tls,
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }

    fn host_header(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl std::fmt::Display for HttpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = if self.tls { "https" } else { "http" };
        write!(f, "{scheme}://{}{}", self.host_header(), self.path)
    }
}

/// Why a POST failed.
#[derive(Debug, thiserror::Error)]
pub enum PostError {
    #[error("cannot reach {url}")]
    Io {
        url: String,
        #[source]
        source: io::Error,
    },
    #[error("{url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("{url} sent no HTTP status line")]
    BadResponse { url: String },
    #[error("{url}: cannot start a TLS session")]
    Tls {
        url: String,
        #[source]
        source: rustls::Error,
    },
    #[error("{url}: https without a TLS configuration")]
    NoTlsConfig { url: String },
}

impl PostError {
    /// 4xx other than 408 and 429: the request itself is refused, trying
    /// again will not help.
    fn permanent(&self) -> bool {
        matches!(self, PostError::Status { status, .. }
            if (400..500).contains(status) && *status != 408 && *status != 429)
    }
}

/// POSTs `body` as JSON to `url`; `Ok` on a 2xx answer. The whole
/// exchange takes at most `timeout`; `tls` is required for `https://`.
pub fn post_json(
    url: &HttpUrl,
    body: &[u8],
    timeout: Duration,
    tls: Option<&Arc<rustls::ClientConfig>>,
) -> Result<(), PostError> {
    let end = Instant::now() + timeout;
    let io_err = |source| PostError::Io {
        url: url.to_string(),
        source,
    };
    let addrs = (url.host.as_str(), url.port)
        .to_socket_addrs()
        .map_err(io_err)?;
    let mut last = io::Error::new(io::ErrorKind::NotFound, "the host has no address");
    let mut stream = None;
    for a in addrs {
        match TcpStream::connect_timeout(&a, left(end).map_err(io_err)?) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let tcp = stream.ok_or_else(|| io_err(last))?;
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: sysrec-capture/{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        url.path,
        url.host_header(),
        env!("CARGO_PKG_VERSION"),
        body.len()
    );
    let mut req = head.into_bytes();
    req.extend_from_slice(body);
    // Socket timeouts are options of the socket, so a clone of the
    // descriptor sets them for the TLS stream's socket too.
    let timer = tcp.try_clone().map_err(io_err)?;
    let resp = if url.tls {
        let config = tls.ok_or_else(|| PostError::NoTlsConfig {
            url: url.to_string(),
        })?;
        let name = rustls::pki_types::ServerName::try_from(url.host.clone())
            .map_err(|e| io_err(io::Error::new(io::ErrorKind::InvalidInput, e)))?;
        let conn = rustls::ClientConnection::new(config.clone(), name).map_err(|source| {
            PostError::Tls {
                url: url.to_string(),
                source,
            }
        })?;
        exchange(&mut rustls::StreamOwned::new(conn, tcp), &timer, &req, end)
    } else {
        let mut tcp = tcp;
        exchange(&mut tcp, &timer, &req, end)
    }
    .map_err(io_err)?;
    let status = std::str::from_utf8(&resp)
        .ok()
        .and_then(|t| t.lines().next())
        .filter(|l| l.starts_with("HTTP/1."))
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| PostError::BadResponse {
            url: url.to_string(),
        })?;
    if (200..300).contains(&status) {
        Ok(())
    } else {
        Err(PostError::Status {
            url: url.to_string(),
            status,
        })
    }
}

/// Time left until `end`, or a timeout error.
fn left(end: Instant) -> io::Result<Duration> {
    let d = end.saturating_duration_since(Instant::now());
    if d.is_zero() {
        return Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the request took too long",
        ));
    }
    Ok(d)
}

/// Writes `req` and reads until the end of the status line, all by `end`
/// (`timer` sets the socket's timeouts before each step).
fn exchange<S: Read + Write>(
    s: &mut S,
    timer: &TcpStream,
    req: &[u8],
    end: Instant,
) -> io::Result<Vec<u8>> {
    timer.set_write_timeout(Some(left(end)?))?;
    timer.set_read_timeout(Some(left(end)?))?;
    let timed_out = |e: io::Error| match e.kind() {
        // What a socket timeout gives (EAGAIN), said plainly.
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
            io::ErrorKind::TimedOut,
            "no answer within the request's time limit",
        ),
        _ => e,
    };
    s.write_all(req).map_err(timed_out)?;
    s.flush().map_err(timed_out)?;
    let mut resp = Vec::new();
    let mut buf = [0u8; 1024];
    while !resp.windows(2).any(|w| w == b"\r\n") && resp.len() < MAX_RESPONSE {
        timer.set_read_timeout(Some(left(end)?))?;
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => resp.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(timed_out(e)),
        }
    }
    Ok(resp)
}

/// What one HTTP target delivered and what it could not.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    pub delivered: u64,
    /// Alerts given up on (tries exhausted, queue full, deadline passed).
    pub failed: u64,
    /// Retries made (tries after the first).
    pub retries: u64,
    /// The last error met, if any.
    pub last_error: Option<String>,
}

/// One HTTP target's delivery thread and its queue.
pub struct HttpTarget {
    url: HttpUrl,
    tx: Option<SyncSender<Arc<str>>>,
    stats: Arc<Mutex<Delivery>>,
    /// When the queue must be given up on (set by `finish`).
    deadline: Arc<Mutex<Option<Instant>>>,
    handle: Option<JoinHandle<()>>,
    /// Write alerts given up on to stderr (off when stderr is a target too).
    echo: bool,
}

/// How an HTTP target delivers.
#[derive(Clone)]
pub struct HttpConfig {
    /// Write alerts given up on to stderr (off when stderr is a target).
    pub echo: bool,
    /// `--alerts-timeout`: the flush time after the workload exits, and
    /// a bound on each request's time.
    pub flush_timeout: Duration,
    /// For `https://` targets.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl HttpConfig {
    /// The time limit of one request.
    fn request_timeout(&self) -> Duration {
        IO_TIMEOUT.min(self.flush_timeout.max(MIN_IO_TIMEOUT))
    }
}

impl HttpTarget {
    /// Starts the delivery thread for `url`.
    pub fn start(url: HttpUrl, cfg: &HttpConfig) -> io::Result<HttpTarget> {
        let echo = cfg.echo;
        let (tx, rx) = sync_channel(QUEUE_ALERTS);
        let stats = Arc::new(Mutex::new(Delivery::default()));
        let deadline = Arc::new(Mutex::new(None));
        let handle = std::thread::Builder::new()
            .name("capture-alerts-http".into())
            .spawn({
                let (url, stats, deadline) = (url.clone(), stats.clone(), deadline.clone());
                let cfg = cfg.clone();
                move || deliver(&url, &rx, &stats, &deadline, &cfg)
            })?;
        Ok(HttpTarget {
            url,
            tx: Some(tx),
            stats,
            deadline,
            handle: Some(handle),
            echo,
        })
    }

    /// Queues one alert (Falco's JSON, one line) without waiting; a full
    /// queue counts it as undelivered.
    pub fn send(&self, json: Arc<str>) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(json) {
            Ok(()) => {}
            Err(TrySendError::Full(j) | TrySendError::Disconnected(j)) => {
                give_up(&self.stats, &j, "queue full", self.echo);
            }
        }
    }

    /// Stops taking alerts, delivers what is queued until `deadline`, and
    /// returns what happened.
    pub fn finish(mut self, deadline: Instant) -> (HttpUrl, Delivery) {
        if let Ok(mut d) = self.deadline.lock() {
            *d = Some(deadline);
        }
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
        let stats = self.stats.lock().map(|s| s.clone()).unwrap_or_default();
        (self.url, stats)
    }
}

fn past(deadline: &Mutex<Option<Instant>>) -> bool {
    deadline
        .lock()
        .ok()
        .and_then(|d| *d)
        .is_some_and(|d| Instant::now() >= d)
}

fn give_up(stats: &Mutex<Delivery>, json: &str, why: &str, echo: bool) {
    if let Ok(mut s) = stats.lock() {
        s.failed += 1;
        if s.last_error.is_none() {
            s.last_error = Some(why.to_string());
        }
    }
    if echo {
        // The alert itself, alone on its line, so a log pipeline reading
        // stderr (awslogs, a metric filter on `$.priority`) still has it;
        // the summary at exit says how many and why.
        let _ = writeln!(io::stderr().lock(), "{json}");
    }
}

fn deliver(
    url: &HttpUrl,
    rx: &Receiver<Arc<str>>,
    stats: &Mutex<Delivery>,
    deadline: &Mutex<Option<Instant>>,
    cfg: &HttpConfig,
) {
    let echo = cfg.echo;
    let request_timeout = cfg.request_timeout();
    let mut backoff = Backoff::new(RetryPolicy {
        initial: Duration::from_millis(200),
        max: Duration::from_secs(2),
    });
    loop {
        let json = match rx.recv_timeout(Duration::from_millis(100)) {
            Ok(j) => j,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        if past(deadline) {
            give_up(stats, &json, "flush timeout", echo);
            continue;
        }
        let mut tries = 0;
        loop {
            tries += 1;
            let timeout = deadline
                .lock()
                .ok()
                .and_then(|d| *d)
                .map_or(request_timeout, |d| {
                    d.saturating_duration_since(Instant::now())
                        .clamp(Duration::from_millis(1), request_timeout)
                });
            match post_json(url, json.as_bytes(), timeout, cfg.tls.as_ref()) {
                Ok(()) => {
                    backoff.reset();
                    if let Ok(mut s) = stats.lock() {
                        s.delivered += 1;
                    }
                    break;
                }
                Err(e) => {
                    let why = Chain(&e).to_string();
                    if let Ok(mut s) = stats.lock() {
                        // A try cut short by the exit deadline says less
                        // than the error before it (an untrusted
                        // certificate, a refused connection): keep that.
                        if !(past(deadline) && s.last_error.is_some()) {
                            s.last_error = Some(why.clone());
                        }
                    }
                    if e.permanent() || tries >= TRIES || past(deadline) {
                        give_up(stats, &json, &why, echo);
                        break;
                    }
                    if let Ok(mut s) = stats.lock() {
                        s.retries += 1;
                    }
                    sleep_until_or(backoff.next_delay(), deadline);
                }
            }
        }
    }
}

/// Sleeps `d`, waking early once the deadline is set and has passed.
fn sleep_until_or(d: Duration, deadline: &Mutex<Option<Instant>>) {
    let end = Instant::now() + d;
    while Instant::now() < end && !past(deadline) {
        std::thread::sleep(Duration::from_millis(20).min(end - Instant::now()));
    }
}

/// An error and its sources on one line (`a: b: c`).
struct Chain<'a>(&'a dyn std::error::Error);

impl std::fmt::Display for Chain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut src = self.0.source();
        while let Some(s) = src {
            write!(f, ": {s}")?;
            src = s.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = HttpUrl::parse("http://falcosidekick:2801/").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("falcosidekick", 2801, "/")
        );
        let u = HttpUrl::parse("http://127.0.0.1").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        let u = HttpUrl::parse("http://[::1]:9/a?b=c").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 9, "/a?b=c")
        );
        assert_eq!(u.to_string(), "http://[::1]:9/a?b=c");
        assert!(HttpUrl::parse("http://h:0/").is_err());
        assert!(HttpUrl::parse("http://h:x/").is_err());
        assert!(HttpUrl::parse("http://u:p@h/").is_err());
        assert!(HttpUrl::parse("http://h/a b").is_err());
        let u = HttpUrl::parse("HTTPS://sidekick.internal/falco").unwrap();
        assert!(u.tls);
        assert_eq!(u.port, 443);
        assert_eq!(u.to_string(), "https://sidekick.internal:443/falco");
        assert!(!HttpUrl::parse("http://h/").unwrap().tls);
        assert!(HttpUrl::parse("ftp://h/").is_err());
        assert!(HttpUrl::parse("https://bad_name!/").is_err());
    }
}
