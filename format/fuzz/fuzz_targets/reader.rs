//! Feeds arbitrary bytes to the trace reader as one trace file: opening,
//! reading every chunk, decoding every event and verifying must never
//! panic, whatever the bytes. Seeds: samples/traces (format version 1) and
//! format/fuzz/seeds (version 2).
#![no_main]

use std::path::PathBuf;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use trace_format::container::Source;
use trace_format::TraceReader;

fuzz_target!(|data: &[u8]| {
    let source: Arc<dyn Source> = Arc::new(data.to_vec());
    let Ok(reader) = TraceReader::from_sources(vec![(PathBuf::from("fuzz.zst"), source)], None) else {
        return;
    };
    for chunk in reader.chunks().flatten() {
        let _ = chunk.to_model();
        // The fast walk replay uses (version 2 columns or version 1 rows).
        let mut cursor = chunk.cursor();
        while cursor.next_event().is_some() {}
    }
    let _ = trace_format::verify::verify(&reader);
});
