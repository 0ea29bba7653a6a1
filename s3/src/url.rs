//! `s3://bucket/prefix` URLs.

use std::fmt;
use std::str::FromStr;

use crate::error::S3Error;

/// A bucket and a key prefix (no leading or trailing `/`; may be empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct S3Url {
    pub bucket: String,
    pub prefix: String,
}

impl S3Url {
    /// The key of `rel` under the prefix.
    pub fn key(&self, rel: &str) -> String {
        join(&self.prefix, rel)
    }
}

/// `a/b` from `a` and `b`, either of which may be empty.
pub fn join(prefix: &str, rel: &str) -> String {
    let rel = rel.trim_start_matches('/');
    match (prefix.is_empty(), rel.is_empty()) {
        (true, _) => rel.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) => format!("{prefix}/{rel}"),
    }
}

impl FromStr for S3Url {
    type Err = S3Error;

    fn from_str(s: &str) -> Result<S3Url, S3Error> {
        let bad = |reason: &str| S3Error::Url {
            url: s.to_string(),
            reason: reason.to_string(),
        };
        let rest = s
            .strip_prefix("s3://")
            .ok_or_else(|| bad("it must start with `s3://`"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
        if !(3..=63).contains(&bucket.len()) || !bucket.chars().all(valid) {
            return Err(bad(
                "the bucket name must be 3 to 63 characters of a-z, 0-9, `-` and `.`",
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix.split('/').any(|p| p == "." || p == "..") || prefix.contains("//") {
            return Err(bad("the prefix must not hold empty, `.` or `..` parts"));
        }
        Ok(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }
}

impl fmt::Display for S3Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let cases = [
            ("s3://bucket", Some(("bucket", ""))),
            ("s3://bucket/", Some(("bucket", ""))),
            ("s3://my.bucket-1/a/b/", Some(("my.bucket-1", "a/b"))),
            ("s3://bucket/a/b/c", Some(("bucket", "a/b/c"))),
            ("http://bucket/a", None),
            ("s3://", None),
            ("s3://Bucket/a", None),
            ("s3://b/a", None),
            ("s3://bucket/a//b", None),
            ("s3://bucket/a/../b", None),
        ];
        for (text, want) in cases {
            let got = text.parse::<S3Url>().ok();
            assert_eq!(
                got.as_ref().map(|u| (u.bucket.as_str(), u.prefix.as_str())),
                want,
                "{text}"
            );
        }
        let u: S3Url = "s3://bucket/traces"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(u.key("x/1.zst"), "traces/x/1.zst");
        assert_eq!(join("", "a"), "a");
        assert_eq!(u.to_string(), "s3://bucket/traces");
    }
}
