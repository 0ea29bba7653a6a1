//! Upload throughput of `sysrec_s3::Client` (`scripts/bench-s3.sh` runs it
//! against a local server): `upload_throughput BUCKET SIZE_MIB COUNT`
//! uploads COUNT objects of SIZE_MIB MiB from a local file (single PUTs up
//! to 16 MiB, multipart above) and prints MB/s. Endpoint and credentials
//! from the AWS environment variables.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, bucket, size, count] = args.as_slice() else {
        return Err("usage: upload_throughput BUCKET SIZE_MIB COUNT".into());
    };
    let size: usize = size.parse::<usize>()? << 20;
    let count: usize = count.parse()?;
    // Incompressible bytes, like compressed segments.
    let mut data = vec![0u8; size];
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for b in data.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let dir = std::env::temp_dir().join(format!("upload-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("segment.zst");
    std::fs::write(&file, &data)?;
    let client = sysrec_s3::Client::new(bucket, &sysrec_s3::ClientOptions::default())?;
    let start = Instant::now();
    for i in 0..count {
        client.put_file(&format!("bench/{size}/{i:06}.zst"), &file)?;
    }
    let secs = start.elapsed().as_secs_f64();
    let mb = (size * count) as f64 / 1e6;
    println!(
        "{count} x {} MiB ({}): {mb:.0} MB in {secs:.2} s = {:.1} MB/s",
        size >> 20,
        if size as u64 > sysrec_s3::client::MULTIPART_THRESHOLD {
            "multipart"
        } else {
            "single PUT"
        },
        mb / secs
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
