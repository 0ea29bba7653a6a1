//! sysrec's S3 access: the one place that knows how traces sit in a bucket
//! and how to talk to it. `capture` uploads through it, `replay` reads
//! through it; both depend on this crate, and it depends only on
//! `trace-format` (dependencies still point one way).
//!
//! # Layout in the bucket
//!
//! ```text
//! s3://BUCKET/PREFIX/<trace id>/000000.zst      segment 0 (the local NAME.000000.zst)
//! s3://BUCKET/PREFIX/<trace id>/000001.zst      segment 1 ...
//! s3://BUCKET/PREFIX/<trace id>/manifest.json   the manifest, uploaded last, its
//!                                               `file` names rewritten to the keys above
//! ```
//!
//! The trace id is the hyphenated UUID of the trace ([`keys`]). A manifest in
//! the bucket means every segment it lists was uploaded before it.
//!
//! # Pieces
//!
//! - [`url`]: `s3://bucket/prefix` parsed into [`S3Url`];
//! - [`client`]: [`Client`], a blocking facade over `object_store`'s S3
//!   client (its own small tokio runtime; SHA-256 checksum on every upload,
//!   multipart above [`client::MULTIPART_THRESHOLD`], optional SSE-KMS,
//!   credentials from the AWS chain that `object_store` implements);
//! - [`error`]: [`S3Error`], with [`Failure`] telling a transient failure
//!   (retry) from a permanent one (do not);
//! - [`source`]: [`ObjectSource`], an object read by ranged GETs as a
//!   `trace_format` [`Source`](trace_format::container::Source);
//! - [`open`](mod@open): the traces under an `s3://` URL, as `TraceReader`s.
//!
//! **Architecture Invariant:** no SigV4, no HTTP here: signing, retries of
//! single requests and credentials are `object_store`'s.

pub mod client;
pub mod error;
pub mod keys;
pub mod open;
pub mod source;
pub mod url;

pub use client::{Client, ClientOptions};
pub use error::{Failure, S3Error};
pub use open::{OpenedTrace, open, open_url};
pub use source::ObjectSource;
pub use url::S3Url;
