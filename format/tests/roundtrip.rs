//! read(write(x)) == x, across chunk and segment boundaries.

mod common;

use common::*;
use proptest::prelude::*;
use trace_format::WriterOptions;

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Both format versions read back exactly what was written, the same
    /// events, snapshots and chunk boundaries.
    #[test]
    fn versions_1_and_2_read_back_the_same(events in events(300), state in snapshot()) {
        let dir = tempfile::tempdir().unwrap();
        let mut got = Vec::new();
        for version in [1, 2] {
            let path = dir.path().join(format!("v{version}.zst"));
            let opts = WriterOptions { format_version: version, ..small_chunks() };
            write(&path, opts, &events, &state);
            let (chunks, errors) = read(&path);
            prop_assert!(errors.is_empty(), "{:?}", errors);
            for c in &chunks {
                prop_assert_eq!(c.info.format_version, version);
                prop_assert_eq!(&c.snapshot, &state);
            }
            let read_events: Vec<_> = chunks.iter().flat_map(|c| c.events.clone()).collect();
            prop_assert_eq!(&read_events, &events);
            got.push(read_events);
        }
        prop_assert_eq!(&got[0], &got[1]);
    }

    /// Version 2 stores timestamps and thread ids as differences: any
    /// values, in any order (a writer is not trusted to keep them
    /// ordered), come back exactly.
    #[test]
    fn any_timestamps_and_ids_round_trip(
        raw in proptest::collection::vec((any::<u64>(), any::<i32>(), any::<i32>()), 0..200),
    ) {
        let events: Vec<_> = raw.iter().enumerate().map(|(i, &(ts, tid, pid))| {
            trace_format::model::Event {
                ts, tid, pid,
                body: trace_format::model::EventBody::Syscall(trace_format::model::SyscallEvent {
                    id: i as u16, args: vec![ts, u64::MAX], ret: i64::from(tid), duration_ns: u32::MAX, ..Default::default()
                }),
            }
        }).collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zst");
        write(&path, small_chunks(), &events, &trace_format::model::Snapshot::default());
        let (chunks, errors) = read(&path);
        prop_assert!(errors.is_empty(), "{:?}", errors);
        let read_events: Vec<_> = chunks.iter().flat_map(|c| c.events.clone()).collect();
        prop_assert_eq!(&read_events, &events);
    }

    #[test]
    fn events_and_snapshots_round_trip_in_one_file(events in events(300), state in snapshot()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zst");
        let summary = write(&path, small_chunks(), &events, &state);
        prop_assert_eq!(summary.events, events.len() as u64);
        let (chunks, errors) = read(&path);
        prop_assert!(errors.is_empty(), "{:?}", errors);
        let read_events: Vec<_> = chunks.iter().flat_map(|c| c.events.clone()).collect();
        prop_assert_eq!(&read_events, &events);
        let mut first_event = 0;
        for (i, c) in chunks.iter().enumerate() {
            prop_assert_eq!(&c.snapshot, &state);
            prop_assert_eq!(c.info.seq, i as u64);
            prop_assert_eq!(c.info.first_event, first_event);
            first_event += u64::from(c.info.event_count);
            prop_assert_eq!(&c.meta.hostname, "test-host");
        }
    }

    #[test]
    fn round_trip_across_segments(events in events(300), state in snapshot()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zst");
        let opts = WriterOptions { rotate_bytes: Some(3000), ..small_chunks() };
        let summary = write(&path, opts, &events, &state);
        for seg in &summary.segments {
            prop_assert!(seg.exists());
        }
        let manifest = dir.path().join("t.manifest.json");
        prop_assert!(manifest.exists());
        for input in [dir.path().to_path_buf(), manifest] {
            let (chunks, errors) = read(&input);
            prop_assert!(errors.is_empty(), "{:?}", errors);
            let read_events: Vec<_> = chunks.iter().flat_map(|c| c.events.clone()).collect();
            prop_assert_eq!(&read_events, &events);
        }
    }
}

#[test]
fn many_chunks_and_segments_with_a_changing_state() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    let opts = WriterOptions {
        rotate_bytes: Some(20_000),
        ..small_chunks()
    };
    let mut w = trace_format::TraceWriter::create(&path, opts, meta()).unwrap();
    let mut state = trace_format::model::Snapshot::default();
    let mut events = Vec::new();
    for i in 0..5000u64 {
        let ev = trace_format::model::Event {
            ts: 1000 + i,
            tid: i as i32 % 7,
            pid: 1,
            body: trace_format::model::EventBody::Syscall(trace_format::model::SyscallEvent {
                id: 0,
                args: vec![i, 2, 3],
                ret: i as i64,
                ..Default::default()
            }),
        };
        w.push(&ev, &state).unwrap();
        // The state after event i: one process per 1000 events.
        if i % 1000 == 999 {
            state.processes.push(trace_format::model::Process {
                pid: i as i32,
                ..Default::default()
            });
        }
        events.push(ev);
    }
    let summary = w.finish().unwrap();
    assert!(
        summary.chunks > 10 && summary.segments.len() > 2,
        "{summary:?}"
    );
    let (chunks, errors) = read(dir.path());
    assert!(errors.is_empty(), "{errors:?}");
    let read_events: Vec<_> = chunks.iter().flat_map(|c| c.events.clone()).collect();
    assert_eq!(read_events, events);
    // Each snapshot is the state before the chunk's first event.
    for c in &chunks {
        let before = c.info.first_event;
        assert_eq!(
            c.snapshot.processes.len() as u64,
            before / 1000,
            "chunk {}",
            c.info.seq
        );
    }
}

#[test]
fn bad_options_and_unwritable_outputs_fail_at_create() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    for opts in [
        WriterOptions {
            chunk_bytes: 10,
            ..WriterOptions::default()
        },
        WriterOptions {
            chunk_bytes: 1 << 30,
            ..WriterOptions::default()
        },
        WriterOptions {
            rotate_bytes: Some(0),
            ..WriterOptions::default()
        },
    ] {
        let err = trace_format::TraceWriter::create(&path, opts, meta())
            .err()
            .expect("refused");
        assert!(err.to_string().contains("invalid writer option"), "{err}");
    }
    let err = trace_format::TraceWriter::create(
        &dir.path().join("no/such/dir/t.zst"),
        WriterOptions::default(),
        meta(),
    )
    .err()
    .expect("refused");
    assert!(
        err.to_string().contains("no/such/dir/t.zst.partial"),
        "{err}"
    );
}

#[test]
fn a_closed_trace_has_no_partial_file_left() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    let w = trace_format::TraceWriter::create(&path, WriterOptions::default(), meta()).unwrap();
    assert!(
        dir.path().join("t.zst.partial").exists(),
        "written as .partial while open"
    );
    w.finish().unwrap();
    assert!(path.exists());
    assert!(!dir.path().join("t.zst.partial").exists());
    let (chunks, errors) = read(&path);
    assert!(chunks.is_empty() && errors.is_empty(), "{errors:?}");
}
