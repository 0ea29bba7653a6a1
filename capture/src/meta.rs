//! Trace metadata gathered at start: host, kernel, container (id, source,
//! capabilities, mounts), Kubernetes pod, users and groups, and ECS task
//! metadata.
//!
//! The ECS task metadata endpoint (`$ECS_CONTAINER_METADATA_URI_V4`) is
//! fetched on a background thread with a plain HTTP/1.1 GET and a ~1 s
//! deadline, so it never delays the workload: the writer thread waits for
//! it (at most the deadline) before creating the trace.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use trace_format::model::{Ecs, Kubernetes, Label, TraceMeta};

use crate::container_id;
use crate::procfs;

/// Where a pod's service account namespace is mounted.
pub const K8S_NAMESPACE_FILE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";
/// Where a downward API volume conventionally puts the pod's labels.
pub const K8S_LABELS_FILE: &str = "/etc/podinfo/labels";
/// An environment variable naming another labels file.
pub const K8S_LABELS_FILE_ENV: &str = "SYSREC_POD_LABELS_FILE";

/// Deadline of the whole ECS metadata fetch.
pub const ECS_TIMEOUT: Duration = Duration::from_millis(1000);

/// Everything but the ECS metadata.
pub fn collect(
    command_line: Vec<String>,
    snaplen: u32,
    container_id_override: Option<&str>,
) -> TraceMeta {
    let (release, version, machine) = uname();
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let (cgroup, mountinfo) = (read("/proc/self/cgroup"), read("/proc/self/mountinfo"));
    let (container_id, container_id_source) =
        container_id::decide(container_id_override, &cgroup, &mountinfo)
            .map(|(id, src)| (id, src.to_string()))
            .unwrap_or_default();
    let cap_eff = procfs::status(std::process::id() as i32)
        .map(|s| s.cap_eff)
        .unwrap_or(0);
    let cap_last: u32 = read("/proc/sys/kernel/cap_last_cap")
        .trim()
        .parse()
        .unwrap_or(0);
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let hostname = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    TraceMeta {
        trace_id: [0; 16],
        hostname: hostname.clone(),
        kernel_release: release,
        kernel_version: version,
        arch: if machine.is_empty() {
            crate::arch::NAME.to_string()
        } else {
            machine
        },
        boot_id: std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default(),
        tool_version: format!("capture {}", env!("CARGO_PKG_VERSION")),
        command_line,
        container_id,
        ecs: None,
        users: procfs::parse_passwd(&std::fs::read("/etc/passwd").unwrap_or_default()),
        groups: procfs::parse_group(&std::fs::read("/etc/group").unwrap_or_default()),
        start_wall_ns: crate::clock::wall_ns(),
        snaplen,
        syscall_set: "all".into(),
        syscall_arch: crate::arch::NAME.into(),
        unrecorded_io: Vec::new(),
        container_id_source,
        kubernetes: kubernetes(
            std::fs::read_to_string(K8S_NAMESPACE_FILE).ok().as_deref(),
            env("POD_NAME")
                .or_else(|| env("MY_POD_NAME"))
                .or_else(|| env("HOSTNAME"))
                .or(Some(hostname).filter(|h| !h.is_empty())),
            env("POD_UID"),
            &cgroup,
            &mountinfo,
            &read(
                std::env::var(K8S_LABELS_FILE_ENV)
                    .ok()
                    .filter(|p| !p.is_empty())
                    .as_deref()
                    .unwrap_or(K8S_LABELS_FILE),
            ),
        )
        .map(|mut k| {
            let vars = std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
            container_id::add_env_labels(&mut k.labels, vars);
            k
        }),
        container_cap_effective: cap_eff,
        container_privileged: container_id::privileged(cap_eff, cap_last),
        container_mounts: container_id::container_mounts(&mountinfo),
    }
}

/// The pod context, when the service account's namespace file is there
/// (every pod that mounts a service account token: the default).
pub fn kubernetes(
    namespace_file: Option<&str>,
    pod_name: Option<String>,
    pod_uid: Option<String>,
    cgroup: &str,
    mountinfo: &str,
    labels: &str,
) -> Option<Kubernetes> {
    let namespace = namespace_file?.trim().to_string();
    Some(Kubernetes {
        namespace,
        pod_name: pod_name.unwrap_or_default(),
        pod_uid: pod_uid
            .or_else(|| container_id::pod_uid_from_mountinfo(mountinfo))
            .or_else(|| container_id::pod_uid_from_cgroup(cgroup))
            .unwrap_or_default(),
        labels: container_id::parse_downward_labels(labels),
    })
}

/// Records the ECS metadata; its `DockerId` becomes the container id when
/// no earlier source found one.
pub fn apply_ecs(m: &mut TraceMeta, ecs: Option<Ecs>) {
    if let Some(e) = &ecs
        && m.container_id.is_empty()
        && !e.docker_id.is_empty()
    {
        m.container_id = e.docker_id.clone();
        m.container_id_source = container_id::SOURCE_ECS.into();
    }
    m.ecs = ecs;
}

fn uname() -> (String, String, String) {
    // SAFETY: uname fills a plain struct; the fields are NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        if libc::uname(&mut u) != 0 {
            return Default::default();
        }
        let s = |f: &[libc::c_char]| {
            let b: Vec<u8> = f
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            String::from_utf8_lossy(&b).into_owned()
        };
        (s(&u.release), s(&u.version), s(&u.machine))
    }
}

/// Starts fetching ECS metadata if `$ECS_CONTAINER_METADATA_URI_V4` is set.
pub fn spawn_ecs_fetch() -> Option<Receiver<Option<Ecs>>> {
    let uri = std::env::var("ECS_CONTAINER_METADATA_URI_V4").ok()?;
    let (tx, rx) = channel();
    std::thread::Builder::new()
        .name("ecs-metadata".into())
        .spawn(move || {
            crate::signals::block();
            let _ = tx.send(fetch_ecs(&uri, ECS_TIMEOUT));
        })
        .ok()?;
    Some(rx)
}

/// Fetches `${uri}/task` and `${uri}` and merges them.
pub fn fetch_ecs(uri: &str, timeout: Duration) -> Option<Ecs> {
    let deadline = Instant::now() + timeout;
    let uri = uri.trim_end_matches('/');
    let task = http_get(&format!("{uri}/task"), deadline).ok();
    let container = http_get(uri, deadline).ok();
    if task.is_none() && container.is_none() {
        return None;
    }
    Some(parse_ecs(task.as_deref(), container.as_deref()))
}

/// Builds [`Ecs`] from the task and container metadata documents.
pub fn parse_ecs(task: Option<&str>, container: Option<&str>) -> Ecs {
    let parse = |t: Option<&str>| {
        t.and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    let (t, c) = (parse(task), parse(container));
    let s = |v: &serde_json::Value, k: &str| {
        v.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string()
    };
    let label = |k: &str| {
        c.get("Labels")
            .and_then(|l| l.get(k))
            .and_then(|x| x.as_str())
            .unwrap_or("")
            .to_string()
    };
    let or = |a: String, b: String| if a.is_empty() { b } else { a };
    Ecs {
        task_arn: or(s(&t, "TaskARN"), label("com.amazonaws.ecs.task-arn")),
        cluster: or(s(&t, "Cluster"), label("com.amazonaws.ecs.cluster")),
        container_name: or(s(&c, "Name"), label("com.amazonaws.ecs.container-name")),
        image: s(&c, "Image"),
        image_digest: s(&c, "ImageID"),
        availability_zone: s(&t, "AvailabilityZone"),
        launch_type: or(s(&t, "LaunchType"), s(&c, "LaunchType")),
        task_family: or(
            s(&t, "Family"),
            label("com.amazonaws.ecs.task-definition-family"),
        ),
        task_revision: or(
            s(&t, "Revision"),
            label("com.amazonaws.ecs.task-definition-version"),
        ),
        docker_id: s(&c, "DockerId"),
        labels: c
            .get("Labels")
            .and_then(|l| l.as_object())
            .map(|l| {
                l.iter()
                    .take(1024)
                    .filter_map(|(k, v)| {
                        Some(Label {
                            key: k.clone(),
                            value: v.as_str()?.to_string(),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Errors of the tiny HTTP client.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("unsupported url `{0}` (only http://host[:port]/path)")]
    Url(String),
    #[error("http i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("http status {0}")]
    Status(u16),
    #[error("malformed http response")]
    Malformed,
    #[error("deadline exceeded")]
    Timeout,
}

/// A plain HTTP/1.1 GET (no TLS, no redirects); returns the body.
pub fn http_get(url: &str, deadline: Instant) -> Result<String, HttpError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| HttpError::Url(url.into()))?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr_str = if hostport.contains(':') {
        hostport.to_string()
    } else {
        format!("{hostport}:80")
    };
    let left = || {
        deadline
            .checked_duration_since(Instant::now())
            .filter(|d| !d.is_zero())
    };
    let addr = addr_str
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| HttpError::Url(url.into()))?;
    let mut s = TcpStream::connect_timeout(&addr, left().ok_or(HttpError::Timeout)?)?;
    s.set_write_timeout(left())?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        s.set_read_timeout(Some(left().ok_or(HttpError::Timeout)?))?;
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
        if buf.len() > 4 << 20 {
            return Err(HttpError::Malformed);
        }
    }
    parse_response(&buf)
}

fn parse_response(buf: &[u8]) -> Result<String, HttpError> {
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or(HttpError::Malformed)?;
    let head = String::from_utf8_lossy(&buf[..split]);
    let body = &buf[split + 4..];
    let mut lines = head.lines();
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or(HttpError::Malformed)?;
    if status != 200 {
        return Err(HttpError::Status(status));
    }
    let chunked = lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body).ok_or(HttpError::Malformed)?
    } else {
        body.to_vec()
    };
    Ok(String::from_utf8_lossy(&body).into_owned())
}

fn dechunk(mut b: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n")?;
        let size_str = std::str::from_utf8(&b[..eol]).ok()?;
        let size = usize::from_str_radix(size_str.split(';').next()?.trim(), 16).ok()?;
        b = &b[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(b.get(..size)?);
        b = b.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn responses() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}").ok(),
            Some("{}".into())
        );
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").ok(),
            Some("abcde".into())
        );
        assert!(matches!(
            parse_response(b"HTTP/1.1 404 NF\r\n\r\n"),
            Err(HttpError::Status(404))
        ));
        assert!(parse_response(b"garbage").is_err());
    }

    /// A tiny local HTTP server answering the two ECS endpoints.
    #[test]
    fn fetches_ecs_metadata_from_a_local_server() {
        let l = match TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => {
                eprintln!("skipping: cannot bind: {e}");
                return;
            }
        };
        let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
        let server = std::thread::spawn(move || {
            for _ in 0..2 {
                let Ok((mut s, _)) = l.accept() else { return };
                let mut req = Vec::new();
                let mut b = [0u8; 1024];
                while !req.ends_with(b"\r\n\r\n") {
                    match s.read(&mut b) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => req.extend_from_slice(&b[..n]),
                    }
                }
                let req = String::from_utf8_lossy(&req).into_owned();
                let body = if req.starts_with("GET /v4/abc/task ") {
                    r#"{"Cluster":"arn:aws:ecs:eu-west-1:1:cluster/prod","TaskARN":"arn:aws:ecs:eu-west-1:1:task/prod/t1","Family":"web-task","Revision":"7","AvailabilityZone":"eu-west-1a","LaunchType":"FARGATE"}"#
                } else {
                    r#"{"DockerId":"5a081c13b6ba4e4f8a6c8f3f0e5e6b2b-2645263297","Name":"web","Image":"nginx:1.27","ImageID":"sha256:beef","Labels":{"com.amazonaws.ecs.cluster":"prod","team":"blue"}}"#
                };
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        let ecs = fetch_ecs(
            &format!("http://127.0.0.1:{port}/v4/abc"),
            Duration::from_secs(5),
        );
        let _ = server.join();
        let ecs = ecs.unwrap_or_default();
        assert_eq!(ecs.cluster, "arn:aws:ecs:eu-west-1:1:cluster/prod");
        assert_eq!(ecs.task_arn, "arn:aws:ecs:eu-west-1:1:task/prod/t1");
        assert_eq!(ecs.container_name, "web");
        assert_eq!(ecs.image, "nginx:1.27");
        assert_eq!(ecs.image_digest, "sha256:beef");
        assert_eq!(ecs.launch_type, "FARGATE");
        assert_eq!(ecs.task_family, "web-task");
        assert_eq!(ecs.task_revision, "7");
        assert_eq!(ecs.labels.len(), 2);
        let mut m = TraceMeta::default();
        apply_ecs(&mut m, Some(ecs));
        assert_eq!(
            m.container_id,
            "5a081c13b6ba4e4f8a6c8f3f0e5e6b2b-2645263297"
        );
        assert_eq!(m.container_id_source, "ecs");
    }

    #[test]
    fn ecs_docker_id_does_not_override_an_earlier_source() {
        let mut m = TraceMeta {
            container_id: "abc".into(),
            container_id_source: "cgroup".into(),
            ..TraceMeta::default()
        };
        let ecs = parse_ecs(None, Some(r#"{"DockerId":"def"}"#));
        apply_ecs(&mut m, Some(ecs));
        assert_eq!(
            (m.container_id.as_str(), m.container_id_source.as_str()),
            ("abc", "cgroup")
        );
    }

    #[test]
    fn kubernetes_from_service_account_and_kubelet_paths() {
        let mi = "2530 2512 259:1 /var/lib/kubelet/pods/8c0f2e5c-3b9a-4b5e-9a0f-2f7e0c0f0a1b/etc-hosts /etc/hosts rw - xfs /dev/x rw\n";
        let k = kubernetes(
            Some("payments\n"),
            Some("web-5d8f-abcde".into()),
            None,
            "0::/\n",
            mi,
            "app=\"web\"\n",
        );
        let k = k.unwrap_or_default();
        assert_eq!(k.namespace, "payments");
        assert_eq!(k.pod_name, "web-5d8f-abcde");
        assert_eq!(k.pod_uid, "8c0f2e5c-3b9a-4b5e-9a0f-2f7e0c0f0a1b");
        assert_eq!(k.labels[0].value, "web");
        assert!(kubernetes(None, Some("x".into()), None, "", "", "").is_none());
    }

    #[test]
    fn unreachable_endpoint_times_out_quickly() {
        let t = Instant::now();
        // Port 9 on localhost: refused immediately, or nothing listening.
        assert!(fetch_ecs("http://127.0.0.1:9/v4", Duration::from_millis(300)).is_none());
        assert!(t.elapsed() < Duration::from_secs(2));
    }
}
