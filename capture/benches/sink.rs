//! Where the writer thread saturates with several tracer threads
//! (`--tracers N`, issue 19): N threads send the format benchmark's
//! nginx-like event mix into one [`Sink`] as tracers do, and the time until
//! the trace is finished (every event encoded, compressed, written) gives
//! the events/s the writer sustains. BENCHMARKS.md, "Several tracer
//! threads", records it.
//!
//! `cargo bench -p capture --bench sink [EVENTS]` (default 2,000,000).

use std::time::Instant;

use capture::sink::{Msg, Sink};
use capture::state::ClockAnchor;
use trace_format::model::TraceMeta;
use trace_format::writer::WriterOptions;

#[path = "../../format/benches/mix.rs"]
mod mix;

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    println!("events: {n}, channel 16384 events, writer options: default");
    for producers in [1usize, 2, 4] {
        // Each producer's share, made before the clock starts; pids and
        // tids apart, as separate processes on separate tracers.
        let share = n / producers;
        let batches: Vec<Vec<_>> = (0..producers)
            .map(|p| {
                let mut events = mix::mix(share);
                for e in &mut events {
                    e.pid += 10_000 * p as i32;
                    e.tid += 10_000 * p as i32;
                }
                events
            })
            .collect();
        let path = dir.path().join(format!("sink-{producers}.zst"));
        let sink = Sink::spawn(
            path.clone(),
            WriterOptions::default(),
            Box::new(TraceMeta::default),
            ClockAnchor::now(),
            16 * 1024,
        )
        .expect("sink");
        let t = Instant::now();
        let threads: Vec<_> = batches
            .into_iter()
            .map(|events| {
                let h = sink.handle();
                std::thread::spawn(move || {
                    for e in events {
                        h.send(Msg::Event(e)).expect("send");
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().expect("producer");
        }
        let sent = t.elapsed().as_secs_f64();
        let summary = sink.finish().expect("finish");
        let total = t.elapsed().as_secs_f64();
        println!(
            "{producers} producer(s): {} events, sent in {sent:.2} s, written in {total:.2} s: {:.2} M events/s ({} bytes)",
            summary.events,
            summary.events as f64 / total / 1e6,
            std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0)
        );
    }
}
