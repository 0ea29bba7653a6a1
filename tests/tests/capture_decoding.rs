//! Argument decoding against real syscalls, one argument kind at a time: a
//! path relative to a dirfd, open flags and mode, IPv6 and unix socket
//! addresses, iovecs in (writev, sendmsg) and out (readv), argv of execve.
//! (IPv4 addresses and cwd-relative paths: `capture_net.rs`,
//! `capture_launch.rs`.) `struct stat` results are not decoded (the table
//! marks them `Struct`), so there is nothing to test for them.

use e2e_tests::capture_support::*;
use trace_format::model::{EventBody, SyscallEvent, Value, result_index};
use trace_format::syscalls::{OPEN_FLAGS, render_flags, render_mode};

/// argv[1]: a directory to work in.
const KINDS: &str = r#"
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int dfd = open(argv[1], O_RDONLY | O_DIRECTORY);
    if (dfd < 0) return 10;
    int fd = openat(dfd, "f.txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0) return 11;
    struct iovec out[2] = {{"hello ", 6}, {"world", 5}};
    if (writev(fd, out, 2) != 11) return 12;
    close(fd);
    fd = openat(dfd, "f.txt", O_RDONLY);
    char a[4], b[16];
    struct iovec in[2] = {{a, sizeof a}, {b, sizeof b}};
    if (readv(fd, in, 2) != 11) return 13;
    close(fd);

    int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 a6 = {0};
    a6.sin6_family = AF_INET6;
    a6.sin6_port = htons(9);
    a6.sin6_addr = in6addr_loopback;
    if (s6 >= 0) connect(s6, (struct sockaddr *)&a6, sizeof a6);

    int su = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un au = {0};
    au.sun_family = AF_UNIX;
    snprintf(au.sun_path, sizeof au.sun_path, "%s/sock", argv[1]);
    if (bind(su, (struct sockaddr *)&au, sizeof au)) return 14;
    int sc = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct iovec mv[2] = {{"pi", 2}, {"ng", 2}};
    struct msghdr m = {0};
    m.msg_name = &au;
    m.msg_namelen = sizeof au;
    m.msg_iov = mv;
    m.msg_iovlen = 2;
    if (sendmsg(sc, &m, 0) != 4) return 15;

    pid_t p = fork();
    if (p == 0) {
        execl("/bin/true", "true", "arg one", "two", (char *)0);
        _exit(16);
    }
    int st;
    waitpid(p, &st, 0);
    return WEXITSTATUS(st);
}
"#;

fn bytes(v: Option<&Value>) -> Option<Vec<u8>> {
    match v? {
        Value::Bytes { data, .. } => Some(data.clone()),
        _ => None,
    }
}

fn only<'a>(t: &'a Trace, name: &'a str, pred: impl Fn(&SyscallEvent) -> bool) -> &'a SyscallEvent {
    t.syscalls(name)
        .map(|(_, s)| s)
        .find(|s| pred(s))
        .unwrap_or_else(|| panic!("no matching {name}: {:?}", t.syscall_names()))
}

#[test]
fn every_argument_kind_decodes_from_a_real_program() {
    if !ptrace_permitted() {
        return;
    }
    let w = Work::new();
    let Some(bin) = w.cc("kinds", KINDS, &[]) else {
        return;
    };
    let dir = w.path("d");
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let dir_s = dir.to_str().unwrap_or_default().to_string();
    let out = w.capture(&["-q"], &[bin.to_str().unwrap_or_default(), &dir_s]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let t = w.trace();

    // dirfd + path: raw as given, resolved through the dirfd's path.
    let create = only(&t, "openat", |s| s.args[2] & libc::O_CREAT as u64 != 0);
    match param(create, 1) {
        Some(Value::Path { raw, resolved }) => {
            assert_eq!(raw, b"f.txt");
            assert_eq!(String::from_utf8_lossy(resolved), format!("{dir_s}/f.txt"));
        }
        v => panic!("openat path: {v:?}"),
    }
    // Flags and mode: raw registers, rendered by the table.
    let flags = render_flags(&OPEN_FLAGS, create.args[2]);
    for f in ["O_WRONLY", "O_CREAT", "O_TRUNC", "O_CLOEXEC"] {
        assert!(flags.contains(f), "{f} in {flags}");
    }
    assert_eq!(create.args[3] & 0o7777, 0o640);
    assert_eq!(render_mode(create.args[3]), "0640");
    assert!(create.ret >= 0);

    // iovecs in (writev) and out (readv), gathered.
    let wv = only(&t, "writev", |_| true);
    assert_eq!(wv.ret, 11);
    assert_eq!(bytes(param(wv, 1)).as_deref(), Some(&b"hello world"[..]));
    let rv = only(&t, "readv", |_| true);
    assert_eq!(rv.ret, 11);
    assert_eq!(
        bytes(param(rv, result_index::BUFFER_OUT)).as_deref(),
        Some(&b"hello world"[..])
    );

    // IPv6 address.
    let c6 = only(
        &t,
        "connect",
        |s| matches!(param(s, 1), Some(Value::SockAddr(a)) if a.family == 10),
    );
    match param(c6, 1) {
        Some(Value::SockAddr(a)) => {
            let mut lo = [0u8; 16];
            lo[15] = 1;
            assert_eq!(a.addr, lo, "::1");
            assert_eq!(a.port, 9);
        }
        v => panic!("connect6 address: {v:?}"),
    }

    // Unix address (bind), and msghdr with address and iovecs (sendmsg).
    let sock = format!("{dir_s}/sock");
    let b = only(&t, "bind", |_| true);
    match param(b, 1) {
        Some(Value::SockAddr(a)) => {
            assert_eq!(a.family, 1);
            assert_eq!(String::from_utf8_lossy(&a.path), sock);
        }
        v => panic!("bind address: {v:?}"),
    }
    let sm = only(&t, "sendmsg", |_| true);
    assert_eq!(sm.ret, 4);
    assert_eq!(bytes(param(sm, 1)).as_deref(), Some(&b"ping"[..]));
    match param(sm, result_index::EXTRA) {
        Some(Value::SockAddr(a)) => assert_eq!(String::from_utf8_lossy(&a.path), sock),
        v => panic!("sendmsg address: {v:?}"),
    }

    // argv of execve, in the syscall and in the exec event.
    let want: Vec<Vec<u8>> = vec![b"true".to_vec(), b"arg one".to_vec(), b"two".to_vec()];
    let ex = only(&t, "execve", |s| {
        path_of(s, 0).as_deref() == Some("/bin/true")
    });
    match param(ex, 1) {
        Some(Value::StrList { items, truncated }) => {
            assert_eq!(items, &want);
            assert!(!truncated);
        }
        v => panic!("execve argv: {v:?}"),
    }
    let exec_argv = t.events.iter().find_map(|e| match &e.body {
        EventBody::Exec(x) if x.argv.first().map(Vec::as_slice) == Some(b"true") => {
            Some(x.argv.clone())
        }
        _ => None,
    });
    assert_eq!(exec_argv, Some(want));
}
