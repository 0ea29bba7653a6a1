//! nginx under capture: a real server answering ~200 requests while
//! recorded, stopped gracefully through a signal sent to capture.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use e2e_tests::capture_support::*;
use trace_format::model::{EventBody, Value, result_index};

fn free_port() -> Option<u16> {
    TcpListener::bind("127.0.0.1:0")
        .ok()?
        .local_addr()
        .ok()
        .map(|a| a.port())
}

fn get(port: u16, path: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

#[test]
fn nginx_serves_requests_under_capture() {
    if !ptrace_permitted() {
        return;
    }
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists());
    let Some(nginx) = nginx else {
        // .ci/run installs nginx: its absence there is a failure.
        assert!(
            std::env::var_os("CI").is_none(),
            "nginx is missing under CI"
        );
        eprintln!("skipped: nginx is not installed (apt-get install nginx)");
        return;
    };
    let w = Work::new();
    let dir = w.dir.path().to_string_lossy().into_owned();
    let Some(port) = free_port() else {
        eprintln!("skipped: no free port");
        return;
    };
    let www = w.path("www");
    std::fs::create_dir_all(&www).unwrap_or_else(|e| panic!("{e}"));
    let body = "sysrec-nginx-body ".repeat(100);
    std::fs::write(www.join("index.html"), &body).unwrap_or_else(|e| panic!("{e}"));
    // SAFETY: getuid has no preconditions.
    let user = if unsafe { libc::getuid() } == 0 {
        "user root root;"
    } else {
        ""
    };
    let conf = format!(
        "{user}
daemon off;
master_process on;
worker_processes 2;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log {dir}/access.log;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    sendfile on;
    server {{
        listen 127.0.0.1:{port};
        root {dir}/www;
    }}
}}
"
    );
    let conf_path = w.path("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap_or_else(|e| panic!("{e}"));
    let mut cap = w.spawn_capture(
        &["-q"],
        &[
            nginx,
            "-c",
            conf_path.to_str().unwrap_or_default(),
            "-p",
            &dir,
        ],
    );
    let up = wait_until(LIMIT, || {
        get(port, "/index.html").is_ok_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    if !up {
        let _ = cap.kill();
        let _ = cap.wait();
        panic!(
            "nginx did not come up: {}",
            std::fs::read_to_string(w.path("error.log")).unwrap_or_default()
        );
    }
    let mut ok = 0;
    for i in 0..200 {
        let r = get(port, "/index.html").unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert!(r.starts_with("HTTP/1.1 200"), "request {i}: {r}");
        assert!(r.ends_with(&body), "request {i} body");
        ok += 1;
    }
    assert_eq!(ok, 200);
    let missing = get(port, "/missing").unwrap_or_default();
    assert!(missing.starts_with("HTTP/1.1 404"));
    // Graceful stop through capture.
    kill(cap.id(), libc::SIGQUIT);
    let st = wait_child(&mut cap, LIMIT);
    assert_eq!(st.code(), Some(0), "nginx exits 0 on SIGQUIT");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "nginx is gone"
    );

    let t = w.trace();
    let names = t.syscall_names();
    for want in [
        "accept4",
        "recvfrom",
        "sendfile",
        "writev",
        "epoll_wait",
        "openat",
        "close",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "{want} missing from {names:?}"
        );
    }
    let accepts = t.syscalls("accept4").filter(|(_, s)| s.ret >= 0).count();
    assert!(accepts >= 201, "{accepts} accepts");
    // Every accepted connection has its peer address.
    assert!(
        t.syscalls("accept4")
            .filter(|(_, s)| s.ret >= 0)
            .all(|(_, s)| matches!(
                param(s, result_index::SOCKADDR_OUT),
                Some(Value::SockAddr(a)) if a.addr == [127, 0, 0, 1]
            ))
    );
    // The requests are in the recorded buffers.
    assert!(t.syscalls("recvfrom").any(|(_, s)| matches!(
        param(s, result_index::BUFFER_OUT),
        Some(Value::Bytes { data, .. }) if data.starts_with(b"GET /index.html HTTP/1.0")
    )));
    // The file served is named on sendfile's in_fd... and opened by path.
    let index = format!("{dir}/www/index.html");
    assert!(
        t.syscalls("openat")
            .any(|(_, s)| path_of(s, 1).as_deref() == Some(index.as_str()))
    );
    // Master and two workers.
    let forks = t
        .bodies(|b| match b {
            EventBody::ProcessStart(p) => Some(p),
            _ => None,
        })
        .filter(|(_, p)| p.child_pid == p.child_tid)
        .count();
    assert!(forks >= 2, "{forks} processes started");
    let signals: Vec<_> = t.signals();
    assert!(signals.contains(&(libc::SIGQUIT, trace_format::model::SignalAction::Forwarded)));
}
