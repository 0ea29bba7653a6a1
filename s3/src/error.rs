//! Errors of S3 access, each saying whether trying again can help.

use std::path::PathBuf;

/// Whether a failed request is worth retrying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// 5xx, timeouts, connection errors: the store may answer later.
    Transient,
    /// 4xx (wrong credentials, access denied, missing bucket, bad request):
    /// the same request will fail again; retrying is a retry storm.
    Permanent,
}

/// What went wrong talking to S3.
#[derive(Debug, thiserror::Error)]
pub enum S3Error {
    #[error("invalid S3 URL `{url}`: {reason}")]
    Url { url: String, reason: String },

    #[error("S3 client configuration: {0}")]
    Config(String),

    #[error("{op} `s3://{bucket}/{key}`: {message}")]
    Request {
        op: &'static str,
        bucket: String,
        key: String,
        failure: Failure,
        message: String,
    },

    #[error("{op} `s3://{bucket}/{key}`: no answer within {secs} s")]
    Timeout {
        op: &'static str,
        bucket: String,
        key: String,
        secs: u64,
    },

    #[error("reading `{}`", path.display())]
    Local {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("no sysrec trace under `{url}` (no manifest.json nor NNNNNN.zst objects)")]
    NoTrace { url: String },

    #[error(transparent)]
    Read(#[from] trace_format::ReadError),
}

impl S3Error {
    /// Transient or permanent; local and configuration errors are permanent.
    pub fn failure(&self) -> Failure {
        match self {
            S3Error::Request { failure, .. } => *failure,
            S3Error::Timeout { .. } => Failure::Transient,
            _ => Failure::Permanent,
        }
    }

    pub(crate) fn request(
        op: &'static str,
        bucket: &str,
        key: &str,
        e: object_store::Error,
    ) -> S3Error {
        let failure = classify(&e);
        S3Error::Request {
            op,
            bucket: bucket.to_string(),
            key: key.to_string(),
            failure,
            message: describe(&e),
        }
    }
}

/// `object_store` maps 401, 403, 404, 409 and 412 to their own variants and
/// everything else (5xx, connection errors, other 4xx) to `Generic`, after
/// its own retries. It does not export the status of a `Generic` error, so
/// the status is read from its message (`... status code: 400 ...`).
pub fn classify(e: &object_store::Error) -> Failure {
    use object_store::Error as E;
    match e {
        E::NotFound { .. }
        | E::PermissionDenied { .. }
        | E::Unauthenticated { .. }
        | E::Precondition { .. }
        | E::AlreadyExists { .. }
        | E::NotModified { .. }
        | E::NotSupported { .. }
        | E::NotImplemented
        | E::InvalidPath { .. }
        | E::UnknownConfigurationKey { .. } => Failure::Permanent,
        other => classify_text(&other.to_string()),
    }
}

fn classify_text(text: &str) -> Failure {
    let status = text
        .split("status code: ")
        .nth(1)
        .and_then(|rest| rest.get(..3))
        .and_then(|digits| digits.parse::<u16>().ok());
    match status {
        // 408 Request Timeout and 429 Too Many Requests are worth a retry.
        Some(408 | 429) => Failure::Transient,
        Some(s) if (400..500).contains(&s) => Failure::Permanent,
        _ => Failure::Transient,
    }
}

/// A one-line description with a hint for the usual permanent causes.
fn describe(e: &object_store::Error) -> String {
    use object_store::Error as E;
    let text = e.to_string();
    let hint = match e {
        E::Unauthenticated { .. } | E::PermissionDenied { .. }
            if text.contains("InvalidAccessKeyId") || text.contains("SignatureDoesNotMatch") =>
        {
            " (the credentials are wrong: check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or the role)"
        }
        E::Unauthenticated { .. } | E::PermissionDenied { .. } => {
            " (access denied: check the credentials and the bucket policy)"
        }
        E::NotFound { .. } if text.contains("NoSuchBucket") => " (the bucket does not exist)",
        _ if text.contains("169.254.169.254") || text.contains("169.254.170.2") => {
            " (no credentials: none in the environment, and the instance or task metadata service \
             did not give any; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run with a role)"
        }
        _ => "",
    };
    format!("{}{hint}", short(&text))
}

/// S3's error documents make `object_store`'s messages long and multi-line:
/// keep the status, S3's error code and message when they are there.
fn short(text: &str) -> String {
    let between = |a: &str, b: &str| {
        let start = text.find(a)? + a.len();
        let len = text[start..].find(b)?;
        Some(text[start..start + len].to_string())
    };
    let status = text
        .split("status code: ")
        .nth(1)
        .map(|r| r.split(':').next().unwrap_or(r).trim().to_string());
    match (status, between("<Code>", "</Code>")) {
        (Some(status), Some(code)) => {
            let msg = between("<Message>", "</Message>").unwrap_or_default();
            format!("{status}: {code}: {msg}")
        }
        _ => text.split_whitespace().collect::<Vec<_>>().join(" "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_in_generic_messages() {
        let cases = [
            (
                "Server returned non-2xx status code: 503 Service Unavailable: ",
                Failure::Transient,
            ),
            (
                "Server returned non-2xx status code: 400 Bad Request: x",
                Failure::Permanent,
            ),
            ("status code: 429 Too Many Requests", Failure::Transient),
            (
                "error sending request: connection refused",
                Failure::Transient,
            ),
        ];
        for (text, want) in cases {
            assert_eq!(classify_text(text), want, "{text}");
        }
        assert_eq!(
            short(
                "Error performing PUT http://h/b/k in 9ms - Server returned non-2xx status code: 403 Forbidden: <?xml?>\n<Error><Code>InvalidAccessKeyId</Code><Message>No such key.</Message></Error>"
            ),
            "403 Forbidden: InvalidAccessKeyId: No such key."
        );
    }
}
