//! Parallel replay gives the same alerts as a sequential one, whatever the
//! number of threads, on traces of many chunks (property test over random
//! process trees doing random file work, with Falco's own rule files).

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use replay::engine::{Alert, Item, RuleEngine, for_each_chunk};
use replay::rules::{CompiledRuleset, LoadOptions, RuleMatching, load_files};
use trace_format::model::*;
use trace_format::state::{ClockAnchor, State};
use trace_format::{TraceReader, TraceWriter, WriterOptions};

fn falco_rules() -> &'static CompiledRuleset {
    static SET: OnceLock<CompiledRuleset> = OnceLock::new();
    SET.get_or_init(|| {
        let dir = Path::new(env!("SYSREC_FALCO_RULES"));
        let files = replay::rules::FALCO_RULE_FILES.map(|f| dir.join(f));
        let opts = LoadOptions {
            rule_matching: RuleMatching::All,
            ..LoadOptions::default()
        };
        load_files(&files, &opts).unwrap_or_else(|e| panic!("{e}"))
    })
}

/// One step of a random workload.
#[derive(Clone, Debug)]
enum Step {
    Fork,
    Exec(usize),
    Open(usize, bool),
    Read,
    Close,
    Exit,
}

const PATHS: &[&str] = &[
    "/etc/shadow",
    "/etc/hostname",
    "/usr/bin/planted",
    "/tmp/work",
    "/etc/sudoers",
    "/root/.ssh/id_rsa",
];
const PROGRAMS: &[(&str, &str)] = &[
    ("/usr/bin/cat", "cat"),
    ("/bin/sh", "sh"),
    ("/usr/sbin/nginx", "nginx"),
    ("/usr/bin/grep", "grep"),
    ("/dev/shm/x", "x"),
];

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        1 => Just(Step::Fork),
        2 => (0..PROGRAMS.len()).prop_map(Step::Exec),
        4 => (0..PATHS.len(), any::<bool>()).prop_map(|(p, w)| Step::Open(p, w)),
        3 => Just(Step::Read),
        2 => Just(Step::Close),
        1 => Just(Step::Exit),
    ]
}

fn syscall(id: u16, args: Vec<u64>, ret: i64, params: Vec<Param>) -> EventBody {
    EventBody::Syscall(SyscallEvent {
        id,
        args,
        ret,
        duration_ns: 1000,
        params,
        no_return: false,
    })
}

/// Writes a trace of `steps` with tiny chunks; returns its path.
fn write_trace(dir: &Path, steps: &[(usize, Step)]) -> std::path::PathBuf {
    let path = dir.join("t.zst");
    let meta = TraceMeta {
        hostname: "prop".into(),
        users: vec![User {
            uid: 0,
            name: b"root".to_vec(),
            home: b"/root".to_vec(),
            shell: b"/bin/sh".to_vec(),
            ..User::default()
        }],
        ..TraceMeta::default()
    };
    let opts = WriterOptions {
        chunk_bytes: 2048,
        ..WriterOptions::default()
    };
    let mut w = TraceWriter::create(&path, opts, meta).unwrap();
    let mut state = State::new(ClockAnchor::default());
    let root = Process {
        pid: 100,
        ppid: 1,
        vpid: 100,
        pgid: 100,
        sid: 100,
        comm: b"sh".to_vec(),
        exe: b"sh".to_vec(),
        exepath: b"/bin/sh".to_vec(),
        argv: vec![b"sh".to_vec()],
        cwd: b"/".to_vec(),
        threads: vec![Thread {
            tid: 100,
            comm: b"sh".to_vec(),
        }],
        ..Process::default()
    };
    state.seed(root);
    let mut live = vec![100i32];
    let mut next_pid = 101;
    let mut fds: Vec<(i32, i32)> = Vec::new();
    let mut ts = 1_000_000u64;
    for (who, s) in steps {
        if live.is_empty() {
            break;
        }
        let pid = live[who % live.len()];
        ts += 1000;
        let body = match s {
            Step::Fork => {
                let child = next_pid;
                next_pid += 1;
                live.push(child);
                let ev = Event {
                    ts,
                    tid: pid,
                    pid,
                    body: syscall(57, vec![], child.into(), vec![]),
                };
                w.push(&ev, &state).unwrap();
                state.apply(&ev);
                ts += 1000;
                let start = Event {
                    ts,
                    tid: child,
                    pid: child,
                    body: EventBody::ProcessStart(ProcessStart {
                        parent_tid: pid,
                        child_pid: child,
                        child_tid: child,
                        clone_flags: 17,
                    }),
                };
                w.push(&start, &state).unwrap();
                state.apply(&start);
                continue;
            }
            Step::Exec(p) => {
                let (path, comm) = PROGRAMS[*p];
                let argv = vec![
                    comm.as_bytes().to_vec(),
                    b"-r".to_vec(),
                    b"BEGIN RSA PRIVATE".to_vec(),
                ];
                let ex = Event {
                    ts,
                    tid: pid,
                    pid,
                    body: EventBody::Exec(Exec {
                        old_tid: pid,
                        filename_raw: path.as_bytes().to_vec(),
                        filename_resolved: path.as_bytes().to_vec(),
                        argv: argv.clone(),
                        exepath: path.as_bytes().to_vec(),
                        comm: comm.as_bytes().to_vec(),
                        ..Exec::default()
                    }),
                };
                w.push(&ex, &state).unwrap();
                state.apply(&ex);
                fds.retain(|(p, _)| *p != pid);
                syscall(
                    59,
                    vec![0, 0, 0],
                    0,
                    vec![
                        Param {
                            index: 0,
                            value: Value::Path {
                                raw: path.as_bytes().to_vec(),
                                resolved: path.as_bytes().to_vec(),
                            },
                        },
                        Param {
                            index: 1,
                            value: Value::StrList {
                                items: argv,
                                truncated: false,
                            },
                        },
                    ],
                )
            }
            Step::Open(p, write) => {
                let fd = 3 + fds.iter().filter(|(q, _)| *q == pid).count() as i32;
                fds.push((pid, fd));
                let flags = if *write { 0o1101 } else { 0 };
                syscall(
                    257,
                    vec![(-100i64) as u64, 0, flags, 0o644],
                    fd.into(),
                    vec![Param {
                        index: 1,
                        value: Value::Path {
                            raw: PATHS[*p].as_bytes().to_vec(),
                            resolved: PATHS[*p].as_bytes().to_vec(),
                        },
                    }],
                )
            }
            Step::Read => {
                let Some(&(_, fd)) = fds.iter().find(|(q, _)| *q == pid) else {
                    continue;
                };
                syscall(
                    0,
                    vec![fd as u64, 0, 64],
                    5,
                    vec![Param {
                        index: result_index::BUFFER_OUT,
                        value: Value::Bytes {
                            data: b"hello".to_vec(),
                            len: 5,
                        },
                    }],
                )
            }
            Step::Close => {
                let Some(i) = fds.iter().position(|(q, _)| *q == pid) else {
                    continue;
                };
                let (_, fd) = fds.remove(i);
                syscall(3, vec![fd as u64], 0, vec![])
            }
            Step::Exit => {
                if pid == 100 {
                    continue;
                }
                live.retain(|p| *p != pid);
                fds.retain(|(p, _)| *p != pid);
                EventBody::ThreadExit(ThreadExit {
                    status: 0,
                    process_exit: true,
                })
            }
        };
        let ev = Event {
            ts,
            tid: pid,
            pid,
            body,
        };
        w.push(&ev, &state).unwrap();
        state.apply(&ev);
    }
    w.finish().unwrap();
    path
}

fn run(reader: &TraceReader, threads: usize) -> (Vec<Alert>, u64, usize) {
    let engine = RuleEngine::new(falco_rules(), true);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let mut alerts = Vec::new();
    let mut events = 0;
    let mut chunks = 0;
    for_each_chunk(
        reader,
        &pool,
        |c| engine.eval_chunk(c),
        |item| {
            if let Item::Chunk { out, .. } = item {
                events += out.events;
                chunks += 1;
                alerts.extend(out.alerts);
            }
        },
    );
    (alerts, events, chunks)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn parallel_output_equals_sequential(steps in prop::collection::vec((0usize..8, step()), 50..400)) {
        let dir = tempfile::tempdir().unwrap();
        let path = write_trace(dir.path(), &steps);
        let reader = TraceReader::open(&path).unwrap();
        let (seq, events, chunks) = run(&reader, 1);
        // The same, chunk by chunk, without the pool.
        let engine = RuleEngine::new(falco_rules(), true);
        let direct: Vec<Alert> = reader
            .chunks()
            .filter_map(Result::ok)
            .flat_map(|c| engine.eval_chunk(&c).alerts)
            .collect();
        prop_assert_eq!(&seq, &direct);
        for threads in [2, 3, 8] {
            let (par, ev, ch) = run(&reader, threads);
            prop_assert_eq!(ev, events);
            prop_assert_eq!(ch, chunks);
            prop_assert_eq!(&par, &seq);
        }
    }
}

#[test]
fn generated_traces_have_many_chunks_and_alerts() {
    // Guards the property above against testing nothing.
    let steps: Vec<(usize, Step)> = (0..300)
        .map(|i| {
            let s = match i % 7 {
                0 => Step::Fork,
                1 => Step::Exec(i % PROGRAMS.len()),
                2 | 3 => Step::Open(i % PATHS.len(), i % 2 == 0),
                4 => Step::Read,
                5 => Step::Close,
                _ => Step::Read,
            };
            (i, s)
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = write_trace(dir.path(), &steps);
    let reader = TraceReader::open(&path).unwrap();
    let (alerts, _, chunks) = run(&reader, 2);
    assert!(chunks >= 5, "{chunks} chunks");
    assert!(alerts.len() >= 5, "{} alerts", alerts.len());
    let engine = RuleEngine::new(falco_rules(), false);
    let names: std::collections::BTreeSet<&str> = alerts
        .iter()
        .map(|a| engine.rules().rules()[a.rule].name.as_str())
        .collect();
    assert!(names.len() >= 3, "{names:?}");
}
