//! Where alerts go (`--alerts`): parsed in one step into an
//! [`AlertTarget`], opened before the workload starts.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;

use super::http::HttpUrl;

/// One `--alerts` destination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AlertTarget {
    /// capture's standard output (shared with the workload's).
    Stdout,
    /// capture's standard error (the default).
    Stderr,
    /// A file, appended to (as Falco's `file_output`).
    File(PathBuf),
    /// An HTTP(S) endpoint receiving Falco's JSON by POST (falcosidekick).
    Http(HttpUrl),
}

/// An `--alerts` value that is not a target.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TargetError {
    #[error(
        "--alerts: empty target (use stdout, stderr, a file path or http(s)://HOST[:PORT]/PATH)"
    )]
    Empty,
    #[error("--alerts `{url}`: {why}")]
    BadUrl { url: String, why: String },
}

impl std::str::FromStr for AlertTarget {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<AlertTarget, TargetError> {
        match s {
            "" => Err(TargetError::Empty),
            "stdout" | "-" => Ok(AlertTarget::Stdout),
            "stderr" => Ok(AlertTarget::Stderr),
            _ if is_url(s) => {
                HttpUrl::parse(s)
                    .map(AlertTarget::Http)
                    .map_err(|why| TargetError::BadUrl {
                        url: s.to_string(),
                        why,
                    })
            }
            _ => Ok(AlertTarget::File(PathBuf::from(s))),
        }
    }
}

/// `http://...` or `https://...`, any case.
fn is_url(s: &str) -> bool {
    ["http://", "https://"]
        .iter()
        .any(|p| s.get(..p.len()).is_some_and(|h| h.eq_ignore_ascii_case(p)))
}

impl std::fmt::Display for AlertTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AlertTarget::Stdout => f.write_str("stdout"),
            AlertTarget::Stderr => f.write_str("stderr"),
            AlertTarget::File(p) => write!(f, "{}", p.display()),
            AlertTarget::Http(u) => write!(f, "{u}"),
        }
    }
}

/// A target that takes one line per alert, written at once.
pub enum LineSink {
    Stdout,
    Stderr,
    File(File),
}

impl LineSink {
    /// Opens a line target (a file is created or appended to now, so a bad
    /// path fails before the workload starts). `None` for HTTP targets.
    pub fn open(t: &AlertTarget) -> io::Result<Option<LineSink>> {
        Ok(Some(match t {
            AlertTarget::Stdout => LineSink::Stdout,
            AlertTarget::Stderr => LineSink::Stderr,
            AlertTarget::File(p) => LineSink::File(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)?,
            ),
            AlertTarget::Http(_) => return Ok(None),
        }))
    }

    /// Writes `line` and a newline in one `write` where the target allows,
    /// so lines of the workload and of alerts do not interleave mid-line.
    pub fn write_line(&mut self, line: &str) -> io::Result<()> {
        let mut buf = Vec::with_capacity(line.len() + 1);
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
        match self {
            LineSink::Stdout => {
                let mut o = io::stdout().lock();
                o.write_all(&buf)?;
                o.flush()
            }
            LineSink::Stderr => io::stderr().lock().write_all(&buf),
            LineSink::File(f) => f.write_all(&buf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        assert_eq!("stdout".parse(), Ok(AlertTarget::Stdout));
        assert_eq!("stderr".parse(), Ok(AlertTarget::Stderr));
        assert_eq!(
            "/tmp/a.json".parse(),
            Ok(AlertTarget::File("/tmp/a.json".into()))
        );
        assert!(matches!(
            "http://localhost:2801/".parse::<AlertTarget>(),
            Ok(AlertTarget::Http(_))
        ));
        assert!(matches!(
            "https://x/".parse::<AlertTarget>(),
            Ok(AlertTarget::Http(HttpUrl { tls: true, .. }))
        ));
        assert!(matches!(
            "http://:80/".parse::<AlertTarget>(),
            Err(TargetError::BadUrl { .. })
        ));
        assert_eq!("".parse::<AlertTarget>(), Err(TargetError::Empty));
    }
}
