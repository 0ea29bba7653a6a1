//! A crafted trace cannot make replay panic: random events (any syscall id,
//! any registers, any decoded parameters) over random snapshots (ppid
//! cycles, self-parents, odd fds) are walked and every field is read, and
//! every value has the type its field declares.

use proptest::prelude::*;
use replay::engine::walk_chunk;
use replay::rules::fields::{FIELDS, resolve};
use replay::rules::{FieldArg, FieldRef, FieldSource, FieldType, FieldValue};
use trace_format::model::*;
use trace_format::{TraceReader, TraceWriter, WriterOptions};

#[path = "../../format/tests/common/values.rs"]
mod values;

fn bytes() -> impl Strategy<Value = Vec<u8>> + Clone {
    prop_oneof![
        Just(b"/etc/shadow".to_vec()),
        Just(Vec::new()),
        Just(vec![0xff, 0xfe, b'/', 0xc3]),
        prop::collection::vec(any::<u8>(), 0..24),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    values::value(bytes())
}

fn event() -> impl Strategy<Value = Event> {
    let pid = prop_oneof![Just(1), Just(2), Just(3), any::<i32>()];
    let body = prop_oneof![
        6 => (
            prop_oneof![0u16..470, any::<u16>()],
            prop::collection::vec(any::<u64>(), 0..7),
            prop_oneof![-4100i64..100, any::<i64>()],
            prop::collection::vec((any::<u8>(), value()), 0..5),
            any::<bool>(),
        )
            .prop_map(|(id, args, ret, params, no_return)| {
                EventBody::Syscall(SyscallEvent {
                    id,
                    args,
                    ret,
                    duration_ns: 5,
                    params: params
                        .into_iter()
                        .map(|(index, value)| Param { index, value })
                        .collect(),
                    no_return,
                })
            }),
        1 => (any::<i32>(), any::<i32>(), any::<u64>()).prop_map(|(p, c, f)| {
            EventBody::ProcessStart(ProcessStart {
                parent_tid: p,
                child_pid: c,
                child_tid: c,
                clone_flags: f,
            })
        }),
        1 => (bytes(), prop::collection::vec(bytes(), 0..3), any::<bool>()).prop_map(
            |(comm, argv, memfd)| EventBody::Exec(Exec {
                comm,
                argv,
                exe_from_memfd: memfd,
                ..Exec::default()
            })
        ),
        1 => (any::<i32>(), any::<bool>()).prop_map(|(status, process_exit)| {
            EventBody::ThreadExit(ThreadExit {
                status,
                process_exit,
            })
        }),
        1 => any::<i32>().prop_map(|signo| EventBody::Signal(SignalEvent {
            signo,
            ..SignalEvent::default()
        })),
    ];
    (pid, any::<u64>(), body).prop_map(|(pid, ts, body)| Event {
        ts,
        tid: pid,
        pid,
        body,
    })
}

fn process() -> impl Strategy<Value = Process> {
    (
        1i32..5,
        0i32..5,
        bytes(),
        prop::collection::vec(bytes(), 0..3),
        bytes(),
    )
        .prop_map(|(pid, ppid, comm, argv, cwd)| Process {
            pid,
            ppid, // may be itself or form a cycle with another
            comm,
            argv,
            cwd,
            sid: ppid,
            pgid: pid,
            fds: vec![Fd {
                num: 3,
                kind: FdKind::Ipv4Socket,
                socket: Some(SocketInfo {
                    local_addr: vec![1, 2, 3],
                    remote_addr: vec![127, 0, 0, 1],
                    accepted: true,
                    ..SocketInfo::default()
                }),
                ..Fd::default()
            }],
            ..Process::default()
        })
}

/// Whether a value has the type its field declares (what the compiler
/// typed the rule's constants by).
fn fits(ty: FieldType, v: &FieldValue<'_>) -> bool {
    use FieldType as T;
    use FieldValue as V;
    matches!(
        (ty, v),
        (T::Str, V::Str(_))
            | (T::Bytes, V::Bytes(_))
            | (T::I64, V::I64(_))
            | (T::U64 | T::Port | T::AbsTime | T::RelTime, V::U64(_))
            | (T::Bool, V::Bool(_))
            | (T::Ip | T::IpNet, V::Ip(_))
            | (T::Double, V::Double(_))
    )
}

/// Every field, with the arguments the rules use.
fn all_fields() -> Vec<FieldRef> {
    let mut out = Vec::new();
    for f in FIELDS {
        for arg in [
            None,
            Some("0"),
            Some("1"),
            Some("3"),
            Some("flags"),
            Some("HOME"),
        ] {
            if let Ok(r) = resolve(f.name, arg)
                && (matches!(r.arg, FieldArg::None) || arg.is_some())
            {
                out.push(r);
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn crafted_events_never_panic(
        procs in prop::collection::vec(process(), 0..4),
        events in prop::collection::vec(event(), 1..60),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zst");
        let mut w = TraceWriter::create(&path, WriterOptions { chunk_bytes: 4096, ..WriterOptions::default() }, TraceMeta {
            container_id: "ünïcödé-container-id".into(),
            ..TraceMeta::default()
        }).unwrap();
        let snap = Snapshot { processes: procs };
        for e in &events {
            w.push(e, &snap).unwrap();
        }
        w.finish().unwrap();
        let reader = TraceReader::open(&path).unwrap();
        let fields = all_fields();
        let mut seen = 0;
        for c in reader.chunks() {
            let c = c.unwrap();
            seen += walk_chunk(&c, |v| {
                let mut s = String::new();
                for f in &fields {
                    let ty = f.id.info().ty;
                    if f.is_multi() {
                        v.for_each(f, &mut |x| {
                            assert!(fits(ty, &x), "{}: {x:?} is not a {ty}", f.id.name());
                            true
                        });
                    } else {
                        if let Some(x) = v.get(f) {
                            assert!(fits(ty, &x), "{}: {x:?} is not a {ty}", f.id.name());
                        }
                        s.clear();
                        let _ = v.render(f, &mut s);
                    }
                }
            });
        }
        prop_assert_eq!(seen, events.len() as u64);
    }
}
