//! `WriterOptions::on_chunk`: a live consumer gets every chunk, as the
//! bytes that are written (same hash as the chunk read back from disk), in
//! order.

mod common;

use common::*;
use proptest::prelude::*;
use trace_format::{Chunk, WriterOptions};

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn every_chunk_reaches_the_live_consumer_as_written(events in events(300), state in snapshot()) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.zst");
        let (tx, rx) = std::sync::mpsc::channel();
        let opts = WriterOptions { on_chunk: Some(tx), ..small_chunks() };
        write(&path, opts, &events, &state);
        let live: Vec<Chunk> = rx.iter().map(|b| Chunk::from_bytes(b).unwrap()).collect();
        let on_disk: Vec<Chunk> = trace_format::TraceReader::open(&path)
            .unwrap()
            .chunks()
            .map(|c| c.unwrap())
            .collect();
        prop_assert_eq!(live.len(), on_disk.len());
        for (i, (l, d)) in live.iter().zip(&on_disk).enumerate() {
            prop_assert_eq!(l.seq(), i as u64);
            prop_assert_eq!(l.hash(), d.hash());
        }
    }
}
