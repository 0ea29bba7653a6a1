//! Opening the traces under an `s3://` URL for reading.
//!
//! The URL may name a trace's folder (`s3://b/prefix/<trace id>/`), a
//! folder holding several traces (`s3://b/prefix/`, each sub-folder that
//! holds a manifest or segments is one), a manifest object, or one segment
//! object. A trace's segments are taken in the manifest's order, then any
//! segment objects it does not list (uploaded from a crashed run before its
//! manifest), as `TraceReader` does with a local directory. Segments are
//! read by ranged GETs ([`ObjectSource`]); nothing is downloaded whole.
//!
//! **Damage is local here too.** Under a folder of several traces, a trace
//! folder that cannot be listed (a key the client refuses, such as one
//! holding a `..` segment) or holds no readable segment (junk objects) is
//! one trace whose only content is that problem: the others are read. A
//! segment listed twice in a manifest is read once. Only transient store
//! errors (the store did not answer) fail the whole URL.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use trace_format::container::Source;
use trace_format::manifest::Manifest;
use trace_format::{ReadError, TraceReader};

use crate::client::{Client, Listing};
use crate::error::{Failure, S3Error};
use crate::keys::{MANIFEST, parse_segment_name};
use crate::source::ObjectSource;
use crate::url::S3Url;

/// One trace found under a URL.
pub struct OpenedTrace {
    /// `s3://bucket/folder` of the trace.
    pub url: String,
    pub reader: TraceReader,
}

fn name(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}

fn holds_trace(l: &Listing) -> bool {
    l.objects
        .iter()
        .any(|o| name(&o.key) == MANIFEST || parse_segment_name(name(&o.key)).is_some())
}

/// Opens the traces under the `s3://` URL `url` with a client of a few
/// threads (readers may read from many threads at once).
pub fn open_url(url: &str, endpoint: Option<String>) -> Result<Vec<OpenedTrace>, S3Error> {
    let url: S3Url = url.parse()?;
    let client = Client::new(
        &url.bucket,
        &crate::client::ClientOptions {
            endpoint,
            worker_threads: 2,
            ..crate::client::ClientOptions::default()
        },
    )?;
    open(&Arc::new(client), &url)
}

/// The traces under `url`, in key order.
pub fn open(client: &Arc<Client>, url: &S3Url) -> Result<Vec<OpenedTrace>, S3Error> {
    let bucket = &url.bucket;
    if url.prefix.ends_with(".zst") {
        let size = client.size(&url.prefix)?.ok_or_else(|| S3Error::NoTrace {
            url: url.to_string(),
        })?;
        let src = ObjectSource::new(client.clone(), url.prefix.clone(), size);
        let path = PathBuf::from(format!("s3://{bucket}/{}", url.prefix));
        let reader =
            TraceReader::from_sources(vec![(path, Arc::new(src) as Arc<dyn Source>)], None)?;
        return Ok(vec![OpenedTrace {
            url: url.to_string(),
            reader,
        }]);
    }
    let folder = match url.prefix.strip_suffix(MANIFEST) {
        Some(f) => f.trim_end_matches('/').to_string(),
        None => url.prefix.clone(),
    };
    let listing = client.list(&folder)?;
    if holds_trace(&listing) {
        return Ok(vec![open_folder(client, bucket, &folder, &listing)?]);
    }
    let mut out = Vec::new();
    for sub in &listing.folders {
        let opened = client.list(sub).and_then(|l| match holds_trace(&l) {
            true => open_folder(client, bucket, sub, &l).map(Some),
            false => Ok(None),
        });
        match opened {
            Ok(Some(t)) => out.push(t),
            Ok(None) => {}
            Err(e) if e.failure() == Failure::Transient => return Err(e),
            Err(e) => out.push(unreadable(&format!("s3://{bucket}/{sub}"), e)?),
        }
    }
    if out.is_empty() {
        return Err(S3Error::NoTrace {
            url: url.to_string(),
        });
    }
    Ok(out)
}

/// A trace folder that could not be opened, as a trace whose only content
/// is that problem.
fn unreadable(url: &str, e: S3Error) -> Result<OpenedTrace, S3Error> {
    let problem = match e {
        S3Error::Read(r) => r,
        other => ReadError::Io {
            path: PathBuf::from(url),
            source: std::io::Error::other(other),
        },
    };
    Ok(OpenedTrace {
        url: url.trim_end_matches('/').to_string(),
        reader: TraceReader::from_sources(Vec::new(), None)?.with_notices(vec![problem]),
    })
}

fn open_folder(
    client: &Arc<Client>,
    bucket: &str,
    folder: &str,
    listing: &Listing,
) -> Result<OpenedTrace, S3Error> {
    let url_of = |key: &str| format!("s3://{bucket}/{key}");
    let objects: BTreeMap<&str, (&str, u64)> = listing
        .objects
        .iter()
        .map(|o| (name(&o.key), (o.key.as_str(), o.size)))
        .collect();
    let mut notices = Vec::new();
    let manifest = match objects.get(MANIFEST) {
        Some((key, _)) => {
            let path = PathBuf::from(url_of(key));
            let bytes = client.get(key)?;
            let parsed = std::str::from_utf8(&bytes)
                .map_err(|e| e.to_string())
                .and_then(Manifest::from_json);
            match parsed {
                Ok(m) => Some((path, m)),
                Err(reason) => {
                    notices.push(ReadError::Manifest {
                        path,
                        reason: format!("not a valid manifest: {reason}"),
                    });
                    None
                }
            }
        }
        None => None,
    };
    let mut order: Vec<&str> = Vec::new();
    let mut listed = HashSet::new();
    if let Some((path, m)) = &manifest {
        for seg in &m.segments {
            if !listed.insert(seg.file.as_str()) {
                notices.push(ReadError::Manifest {
                    path: path.clone(),
                    reason: format!("segment `{}` is listed more than once; read once", seg.file),
                });
                continue;
            }
            if objects.contains_key(seg.file.as_str()) {
                order.push(seg.file.as_str());
            } else {
                notices.push(ReadError::Manifest {
                    path: path.clone(),
                    reason: format!(
                        "segment `{}` is listed but the bucket does not hold it",
                        seg.file
                    ),
                });
            }
        }
    }
    // Segments uploaded without (or before) a manifest listing them.
    let mut extra: Vec<(u32, &str)> = objects
        .keys()
        .filter(|n| !listed.contains(*n))
        .filter_map(|n| parse_segment_name(n).map(|i| (i, *n)))
        .collect();
    extra.sort();
    order.extend(extra.into_iter().map(|(_, n)| n));
    let mut sources = Vec::new();
    let mut objs = BTreeMap::new();
    for n in order {
        if let Some((key, size)) = objects.get(n) {
            let src = Arc::new(ObjectSource::new(client.clone(), key.to_string(), *size));
            objs.insert(PathBuf::from(url_of(key)), src.clone());
            sources.push((PathBuf::from(url_of(key)), src as Arc<dyn Source>));
        }
    }
    let reader = match TraceReader::from_sources(sources, manifest) {
        Ok(r) => r.with_notices(notices),
        // No segment is readable: the folder is one problem.
        Err(e) => {
            notices.push(e);
            TraceReader::from_sources(Vec::new(), None)?.with_notices(notices)
        }
    };
    // Now that the chunks are located, let each segment read ahead (the
    // reader numbers only the segments it could open).
    for (i, seg) in reader.segments().iter().enumerate() {
        let Some(src) = objs.get(&seg.path) else {
            continue;
        };
        let extents: Vec<(u64, u64)> = reader
            .locations()
            .iter()
            .filter(|l| l.segment == i)
            .map(|l| (l.offset, l.compressed_len))
            .collect();
        src.set_read_ahead(extents);
    }
    Ok(OpenedTrace {
        url: url_of(folder),
        reader,
    })
}
