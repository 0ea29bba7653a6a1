//! Sockets: a TCP client and server on 127.0.0.1, addresses in events and
//! in the fd state.

use e2e_tests::capture_support::*;
use trace_format::model::{FdKind, Value, result_index};

fn sockaddr(v: Option<&Value>) -> Option<(Vec<u8>, u16)> {
    match v? {
        Value::SockAddr(a) => Some((a.addr.clone(), a.port)),
        _ => None,
    }
}

#[test]
fn tcp_client_and_server_on_loopback() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("pingpong", PINGPONG, &[]) else {
        return;
    };
    let out = w.capture(
        &["-q", "--chunk-size", "4K"],
        &[bin.to_str().unwrap_or_default()],
    );
    assert_eq!(out.status.code(), Some(0));
    let t = w.trace();
    let lo = vec![127u8, 0, 0, 1];
    let (bind_ev, bind) = t
        .syscalls("bind")
        .next()
        .unwrap_or_else(|| panic!("no bind"));
    assert_eq!(bind.ret, 0);
    let (_, conn) = t
        .syscalls("connect")
        .next()
        .unwrap_or_else(|| panic!("no connect"));
    assert_eq!(conn.ret, 0);
    let (addr, sport) = sockaddr(conn.params.iter().find(|p| p.index == 1).map(|p| &p.value))
        .unwrap_or_else(|| panic!("connect address: {:?}", conn.params));
    assert_eq!(addr, lo);
    assert_ne!(sport, 0);
    let (local, cport) = sockaddr(
        conn.params
            .iter()
            .find(|p| p.index == result_index::EXTRA)
            .map(|p| &p.value),
    )
    .unwrap_or_else(|| panic!("connect local end: {:?}", conn.params));
    assert_eq!(local, lo);
    let (acc_ev, acc) = t
        .syscalls("accept4")
        .next()
        .unwrap_or_else(|| panic!("no accept4"));
    assert_eq!(acc_ev.pid, bind_ev.pid);
    assert_eq!(
        sockaddr(
            acc.params
                .iter()
                .find(|p| p.index == result_index::SOCKADDR_OUT)
                .map(|p| &p.value)
        ),
        Some((lo.clone(), cport)),
        "the peer is the client"
    );
    // fd names: client->server on both sides.
    let want = format!("127.0.0.1:{cport}->127.0.0.1:{sport}");
    let named = |pid: i32| {
        t.syscalls("read").any(|(e, s)| {
            e.pid == pid && matches!(param(s, result_index::FD_NAME), Some(Value::Str(n)) if *n == want.as_bytes())
        })
    };
    assert!(named(acc_ev.pid), "server read names {want}");
    let client_pid = t
        .syscalls("connect")
        .next()
        .map(|(e, _)| e.pid)
        .unwrap_or_default();
    assert!(named(client_pid), "client read names {want}");
    // And some later snapshot shows the accepted socket.
    let in_snapshot = t
        .snapshots
        .iter()
        .flat_map(|s| s.processes.iter())
        .any(|p| {
            p.pid == acc_ev.pid
                && p.fds.iter().any(|f| {
                    f.kind == FdKind::Ipv4Socket
                        && f.socket
                            .as_ref()
                            .is_some_and(|s| s.remote_port == cport && s.local_port == sport)
                })
        });
    assert!(
        in_snapshot,
        "accepted socket in a snapshot ({} chunks)",
        t.snapshots.len()
    );
}
