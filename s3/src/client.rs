//! [`Client`]: a blocking facade over `object_store`'s S3 client.
//!
//! Each client owns a small tokio runtime: one thread's (current-thread)
//! for capture's uploader, which calls it from its own thread only, or a
//! few workers for replay, whose readers call it from many threads at once.
//! Nothing else in sysrec is async.
//!
//! - Every upload carries `x-amz-checksum-sha256` (`object_store`'s
//!   `Checksum::SHA256`): S3 checks the bytes, and Object Lock buckets,
//!   which require a checksum or Content-MD5, accept the object.
//! - Files over [`MULTIPART_THRESHOLD`] go up in parts of [`PART_SIZE`]
//!   (each part with its own checksum), read from disk part by part.
//! - Credentials: `object_store`'s chain, from the environment: static keys
//!   (`AWS_ACCESS_KEY_ID`, ...), web identity (`AWS_WEB_IDENTITY_TOKEN_FILE`
//!   with `AWS_ROLE_ARN`), the ECS task role
//!   (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`), EKS pod identity
//!   (`AWS_CONTAINER_CREDENTIALS_FULL_URI` with a token file), else the instance
//!   metadata service (IMDSv2). Shared profile files (`~/.aws/credentials`,
//!   `AWS_PROFILE`) are **not** read: export the keys instead.
//! - Region from `AWS_REGION` / `AWS_DEFAULT_REGION` (else us-east-1);
//!   endpoint from the option, else `AWS_ENDPOINT_URL_S3`, else
//!   `AWS_ENDPOINT_URL`, as the AWS tools read them.
//! - Single requests are retried by `object_store` (5xx, connection errors,
//!   timeouts; exponential backoff with jitter, a few tries); callers retry
//!   longer outages themselves, using [`S3Error::failure`].

use std::future::Future;
use std::io::Read;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as ObjPath;
use object_store::{
    BackoffConfig, ClientOptions as HttpOptions, ObjectStore, PutPayload, RetryConfig,
    WriteMultipart,
};

use crate::error::S3Error;

/// Files larger than this are uploaded in parts.
pub const MULTIPART_THRESHOLD: u64 = 16 << 20;
/// The part size of multipart uploads.
pub const PART_SIZE: usize = 8 << 20;

/// How to reach the store.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); `None`: from
    /// the environment, else AWS.
    pub endpoint: Option<String>,
    /// Encrypt uploads with this KMS key (SSE-KMS).
    pub sse_kms_key: Option<String>,
    /// Runtime worker threads: 0 for a current-thread runtime (the client
    /// is then used from one thread only).
    pub worker_threads: usize,
    /// Limit on one operation, retries included.
    pub op_timeout: Duration,
    /// `object_store`'s retries of one request.
    pub request_retries: usize,
    /// Static keys (access key id, secret) instead of the credential chain.
    pub keys: Option<(String, String)>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            endpoint: None,
            sse_kms_key: None,
            worker_threads: 0,
            op_timeout: Duration::from_secs(120),
            request_retries: 3,
            keys: None,
        }
    }
}

/// The endpoint the AWS tools would use: `AWS_ENDPOINT_URL_S3`, else
/// `AWS_ENDPOINT_URL`.
pub fn endpoint_from_env() -> Option<String> {
    ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
}

/// A read started by [`Client::spawn_get_range`].
pub struct Pending {
    handle: tokio::task::JoinHandle<
        Result<Result<Bytes, object_store::Error>, tokio::time::error::Elapsed>,
    >,
    key: String,
}

/// One object in a listing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Object {
    pub key: String,
    pub size: u64,
}

/// A listing of one "folder": its objects and its sub-folders.
#[derive(Clone, Debug, Default)]
pub struct Listing {
    pub objects: Vec<Object>,
    /// Keys of the sub-folders, without trailing `/`.
    pub folders: Vec<String>,
}

/// A connection to one bucket; see the module documentation.
pub struct Client {
    store: Arc<AmazonS3>,
    rt: tokio::runtime::Runtime,
    bucket: String,
    op_timeout: Duration,
}

impl Client {
    /// Builds the client. Makes no request: credentials and the bucket are
    /// first used by the first operation.
    pub fn new(bucket: &str, opts: &ClientOptions) -> Result<Client, S3Error> {
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_checksum_algorithm(object_store::aws::Checksum::SHA256)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(2),
                    base: 2.0,
                },
                max_retries: opts.request_retries,
                retry_timeout: Duration::from_secs(30),
            })
            .with_client_options(
                HttpOptions::new()
                    .with_connect_timeout(Duration::from_secs(5))
                    .with_timeout(Duration::from_secs(60)),
            );
        if let Some(ep) = opts.endpoint.clone().or_else(endpoint_from_env) {
            if !(ep.starts_with("http://") || ep.starts_with("https://")) {
                return Err(S3Error::Config(format!(
                    "the endpoint `{ep}` is not an http:// or https:// URL"
                )));
            }
            b = b
                .with_allow_http(ep.starts_with("http://"))
                .with_endpoint(ep)
                .with_virtual_hosted_style_request(false);
        }
        if let Some((id, secret)) = &opts.keys {
            b = b
                .with_access_key_id(id.clone())
                .with_secret_access_key(secret.clone());
        }
        if let Some(key) = &opts.sse_kms_key {
            b = b.with_sse_kms_encryption(key.clone());
        }
        let store = b.build().map_err(|e| S3Error::Config(e.to_string()))?;
        let rt = if opts.worker_threads == 0 {
            tokio::runtime::Builder::new_current_thread()
        } else {
            let mut r = tokio::runtime::Builder::new_multi_thread();
            r.worker_threads(opts.worker_threads);
            r
        }
        .enable_all()
        .thread_name("sysrec-s3")
        .build()
        .map_err(|e| S3Error::Config(format!("starting the S3 runtime: {e}")))?;
        Ok(Client {
            store: Arc::new(store),
            rt,
            bucket: bucket.to_string(),
            op_timeout: opts.op_timeout,
        })
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    fn run<T>(
        &self,
        op: &'static str,
        key: &str,
        fut: impl Future<Output = Result<T, object_store::Error>>,
    ) -> Result<T, S3Error> {
        let limit = self.op_timeout;
        match self
            .rt
            .block_on(async move { tokio::time::timeout(limit, fut).await })
        {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(S3Error::request(op, &self.bucket, key, e)),
            Err(_) => Err(S3Error::Timeout {
                op,
                bucket: self.bucket.clone(),
                key: key.to_string(),
                secs: limit.as_secs(),
            }),
        }
    }

    /// Uploads `bytes` as `key` (one PUT with its SHA-256 checksum).
    pub fn put(&self, key: &str, bytes: Bytes) -> Result<(), S3Error> {
        let path = ObjPath::from(key);
        let store = self.store.clone();
        self.run("uploading", key, async move {
            store.put(&path, PutPayload::from(bytes)).await.map(|_| ())
        })
    }

    /// Uploads the file at `local` as `key`: one PUT up to
    /// [`MULTIPART_THRESHOLD`], else a multipart upload (aborted on
    /// failure, so no parts are left behind). Returns the bytes sent.
    pub fn put_file(&self, key: &str, local: &Path) -> Result<u64, S3Error> {
        let io = |source| S3Error::Local {
            path: local.to_path_buf(),
            source,
        };
        let len = std::fs::metadata(local).map_err(io)?.len();
        if len <= MULTIPART_THRESHOLD {
            let bytes = std::fs::read(local).map_err(io)?;
            self.put(key, Bytes::from(bytes))?;
            return Ok(len);
        }
        let mut file = std::fs::File::open(local).map_err(io)?;
        let path = ObjPath::from(key);
        let store = self.store.clone();
        let upload = self.run("starting a multipart upload of", key, async move {
            store.put_multipart(&path).await
        })?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut buf = vec![0u8; PART_SIZE];
        let outcome = self.rt.block_on(async {
            loop {
                let n = read_full(&mut file, &mut buf).map_err(io)?;
                if n == 0 {
                    return Ok(());
                }
                writer
                    .wait_for_capacity(2)
                    .await
                    .map_err(|e| S3Error::request("uploading a part of", &self.bucket, key, e))?;
                writer.write(&buf[..n]);
            }
        });
        match outcome {
            Ok(()) => {
                self.run("completing the multipart upload of", key, writer.finish())?;
                Ok(len)
            }
            Err(e) => {
                let _ = self.rt.block_on(writer.abort());
                Err(e)
            }
        }
    }

    /// The whole object.
    pub fn get(&self, key: &str) -> Result<Bytes, S3Error> {
        let path = ObjPath::from(key);
        let store = self.store.clone();
        self.run("downloading", key, async move {
            store.get(&path).await?.bytes().await
        })
    }

    /// Bytes `range` of the object.
    pub fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes, S3Error> {
        let path = ObjPath::from(key);
        let store = self.store.clone();
        self.run("reading", key, async move {
            store.get_range(&path, range).await
        })
    }

    /// Starts reading bytes `range` of the object in the background (on the
    /// runtime's workers; needs a client with `worker_threads` > 0 to make
    /// progress while the caller does something else). [`Client::wait`]
    /// gives the result.
    pub fn spawn_get_range(&self, key: &str, range: Range<u64>) -> Pending {
        let path = ObjPath::from(key);
        let store = self.store.clone();
        let limit = self.op_timeout;
        let handle = self
            .rt
            .spawn(async move { tokio::time::timeout(limit, store.get_range(&path, range)).await });
        Pending {
            handle,
            key: key.to_string(),
        }
    }

    /// The result of a [`Client::spawn_get_range`].
    pub fn wait(&self, p: Pending) -> Result<Bytes, S3Error> {
        let key = p.key;
        match self.rt.block_on(p.handle) {
            Ok(Ok(Ok(b))) => Ok(b),
            Ok(Ok(Err(e))) => Err(S3Error::request("reading", &self.bucket, &key, e)),
            Ok(Err(_)) => Err(S3Error::Timeout {
                op: "reading",
                bucket: self.bucket.clone(),
                key,
                secs: self.op_timeout.as_secs(),
            }),
            Err(e) => Err(S3Error::Request {
                op: "reading",
                bucket: self.bucket.clone(),
                key,
                failure: crate::error::Failure::Transient,
                message: format!("the read task failed: {e}"),
            }),
        }
    }

    /// The object's size, or `None` if there is no such object.
    pub fn size(&self, key: &str) -> Result<Option<u64>, S3Error> {
        let path = ObjPath::from(key);
        let store = self.store.clone();
        self.run("looking up", key, async move {
            match store.head(&path).await {
                Ok(m) => Ok(Some(m.size)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    /// The objects and sub-folders directly under `folder` ("" for the
    /// bucket's top).
    pub fn list(&self, folder: &str) -> Result<Listing, S3Error> {
        let store = self.store.clone();
        let prefix = (!folder.is_empty()).then(|| ObjPath::from(folder));
        let r = self.run("listing", folder, async move {
            store.list_with_delimiter(prefix.as_ref()).await
        })?;
        Ok(Listing {
            objects: r
                .objects
                .into_iter()
                .map(|m| Object {
                    key: m.location.to_string(),
                    size: m.size,
                })
                .collect(),
            folders: r.common_prefixes.iter().map(|p| p.to_string()).collect(),
        })
    }

    /// Deletes `key` (tests and tools; capture never deletes objects).
    pub fn delete(&self, key: &str) -> Result<(), S3Error> {
        let path = ObjPath::from(key);
        let store = self.store.clone();
        self.run("deleting", key, async move { store.delete(&path).await })
    }
}

/// Reads until `buf` is full or the file ends; the bytes read.
fn read_full(f: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match f.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
