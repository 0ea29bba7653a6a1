//! Object keys of a trace: `PREFIX/<trace id>/NNNNNN.zst` and
//! `PREFIX/<trace id>/manifest.json`.

/// The manifest's object name inside a trace's folder.
pub const MANIFEST: &str = "manifest.json";

/// The hyphenated UUID text of a trace id.
pub fn trace_id_text(id: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes(*id).hyphenated().to_string()
}

/// The object name of segment `index` inside a trace's folder.
pub fn segment_name(index: u32) -> String {
    format!("{index:06}.zst")
}

/// The folder of a trace: `PREFIX/<trace id>`.
pub fn trace_dir(prefix: &str, trace_id: &str) -> String {
    crate::url::join(prefix, trace_id)
}

/// The segment index of an object name `NNNNNN.zst`.
pub fn parse_segment_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".zst")?;
    (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(segment_name(7), "000007.zst");
        assert_eq!(parse_segment_name("000007.zst"), Some(7));
        assert_eq!(parse_segment_name("t.000007.zst"), None);
        assert_eq!(parse_segment_name("00007.zst"), None);
        assert_eq!(trace_dir("p/q", "id"), "p/q/id");
        assert_eq!(trace_dir("", "id"), "id");
        assert_eq!(
            trace_id_text(&[0x11; 16]),
            "11111111-1111-1111-1111-111111111111"
        );
    }
}
