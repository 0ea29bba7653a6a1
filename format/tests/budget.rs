//! A disk budget (a shipper's spool limit): chunks that do not fit are not
//! written, the oldest data is kept, and the loss becomes a gap marker in
//! the next chunk that fits, with the chain naming the missing chunks.

mod common;

use std::sync::Arc;

use common::{meta, small_chunks};
use trace_format::model::{Event, EventBody, MarkerKind, Snapshot, SyscallEvent};
use trace_format::writer::DiskBudget;
use trace_format::{ReadError, TraceReader, TraceWriter, WriterOptions};

fn event(i: u64) -> Event {
    Event {
        ts: 1000 + i,
        tid: 1,
        pid: 1,
        body: EventBody::Syscall(SyscallEvent {
            id: 0,
            args: vec![i, i * 7919, i ^ 0x5555],
            ret: i as i64,
            ..Default::default()
        }),
    }
}

#[test]
fn a_full_budget_loses_new_chunks_into_a_gap_and_keeps_the_old() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.zst");
    let budget = Arc::new(DiskBudget::new(8_000, 0));
    let opts = WriterOptions {
        rotate_bytes: Some(4_000),
        disk_budget: Some(budget.clone()),
        ..small_chunks()
    };
    let state = Snapshot::default();
    let mut w = TraceWriter::create(&path, opts, meta()).unwrap();
    let mut i = 0;
    // Write until chunks are being lost.
    while w.lost_events() == 0 || i < 3_000 {
        w.push(&event(i), &state).unwrap();
        i += 1;
        assert!(i < 200_000, "the budget never filled");
    }
    // The shipper frees the space: later chunks are written again.
    budget.release(budget.used());
    for _ in 0..100 {
        w.push(&event(i), &state).unwrap();
        i += 1;
    }
    let summary = w.finish().unwrap();
    assert!(
        summary.lost_events > 0 && summary.lost_chunks > 0,
        "{summary:?}"
    );
    // Every event is written or counted lost (gap markers come on top).
    assert!(summary.events + summary.lost_events > i, "{summary:?}");

    let r = TraceReader::open(dir.path()).unwrap();
    let mut gaps = Vec::new();
    let mut missing = 0;
    let mut first_events = Vec::new();
    for item in r.chunks() {
        match item {
            Ok(c) => {
                for e in c.to_model().events {
                    match e.body {
                        EventBody::Marker(m) if m.kind == MarkerKind::Gap => gaps.push(m),
                        EventBody::Syscall(s) if first_events.len() < 10 => {
                            first_events.push(s.args[0])
                        }
                        _ => {}
                    }
                }
            }
            Err(ReadError::MissingChunks { first, last }) => missing += last - first + 1,
            Err(e) => panic!("{e}"),
        }
    }
    // The oldest data was kept.
    assert_eq!(first_events, (0..10).collect::<Vec<u64>>());
    // The loss is in the trace: gap markers naming the reason, and the
    // chain names the chunks that are missing.
    assert!(!gaps.is_empty(), "no gap marker");
    for g in &gaps {
        assert!(g.count > 0);
        assert!(g.message.contains("spool is full"), "{}", g.message);
    }
    assert!(gaps.iter().map(|g| g.count).sum::<u64>() <= summary.lost_events);
    assert!(
        missing > 0 && missing <= summary.lost_chunks,
        "{missing} {summary:?}"
    );
}
