//! The output path: what capture may replace there, and what was there
//! before.
//!
//! **Invariant:** capture replaces only files it created. The writer writes
//! `NAME.partial` and renames it over the final name, so before the workload
//! starts ([`Output::prepare`]):
//!
//! - `-o` must name a regular file or nothing. A directory, FIFO, socket or
//!   device (`-o /dev/null`) is an error, exit 125: renaming over it would
//!   replace it (a device node would become a regular file), and writing
//!   into it would lose the trace.
//! - Its directory must be writable (a probe file is created and removed).
//! - Every file this run would create whose name is already taken
//!   (`NAME.zst` and `NAME.zst.partial`, or with rotation the segments
//!   `NAME.NNNNNN.zst[.partial]` and `NAME.manifest.json`: a finished trace
//!   of an earlier run, or the `.partial` of a killed one) is moved into
//!   `NAME.leftover/<pid>-<ns>/` with a message, by the same
//!   [`spool::move_leftovers`] that `--s3` uses (which then also ships
//!   them). Nothing is read, truncated or deleted.
//!
//! When the start then fails (the command cannot be run: 127; ptrace is
//! refused: 125), [`Output::undo`] removes what this run wrote and moves the
//! earlier files back, so a failed start leaves the directory as it found
//! it. (With `--s3` the moved leftovers stay where the uploader finds
//! them.)

use std::path::{Path, PathBuf};

use crate::error::{CaptureError, Result};
use crate::ship::spool;

/// The output of one run, prepared.
#[derive(Debug)]
pub struct Output {
    path: PathBuf,
    rotating: bool,
    /// Where earlier files were moved, and their original paths.
    moved: Option<(PathBuf, Vec<PathBuf>)>,
}

impl Output {
    /// Checks `path` and moves aside the files of earlier runs this run
    /// would replace (see the module docs).
    pub fn prepare(path: &Path, rotating: bool) -> Result<Output> {
        check(path)?;
        let moved = spool::move_leftovers(path, rotating).map_err(|source| CaptureError::Io {
            what: format!(
                "moving aside the earlier trace files of `{}`",
                trace_format::escape::escape_os(path)
            ),
            source,
        })?;
        Ok(Output {
            path: path.to_path_buf(),
            rotating,
            moved,
        })
    }

    /// What was moved aside, for a message: the folder and the files.
    pub fn moved(&self) -> Option<(&Path, &[PathBuf])> {
        self.moved
            .as_ref()
            .map(|(d, f)| (d.as_path(), f.as_slice()))
    }

    /// The start failed: removes the files this run created and moves the
    /// earlier ones back (best effort: what cannot be moved back stays in
    /// the leftover folder, and is said so). Returns the messages to print.
    pub fn undo(self) -> Vec<String> {
        let mut messages = Vec::new();
        // Every name this run writes was free when it started (its earlier
        // file, if any, was moved aside): what is there now is this run's.
        for p in spool::trace_files(&self.path, self.rotating).unwrap_or_default() {
            let _ = std::fs::remove_file(p);
        }
        let Some((folder, files)) = self.moved else {
            return messages;
        };
        for original in files {
            let Some(name) = original.file_name() else {
                continue;
            };
            if let Err(e) = std::fs::rename(folder.join(name), &original) {
                messages.push(format!(
                    "`{}` stays in `{}`: {e}",
                    trace_format::escape::escape_os(&original),
                    trace_format::escape::escape_os(&folder)
                ));
            }
        }
        if messages.is_empty() {
            messages.push("the earlier trace files were put back".into());
        }
        let _ = std::fs::remove_dir(&folder);
        let _ = std::fs::remove_dir(spool::leftover_root(&self.path));
        messages
    }
}

/// `path` names a regular file or nothing, in a writable directory.
fn check(path: &Path) -> Result<()> {
    let err = |source| CaptureError::OutputNotWritable {
        path: path.to_path_buf(),
        source,
    };
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => return Err(err(std::io::Error::from_raw_os_error(libc::EISDIR))),
        Ok(m) if !m.is_file() => {
            return Err(CaptureError::OutputNotRegular {
                path: path.to_path_buf(),
            });
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let (dir, _) = spool::stem_of(path);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let probe = dir.join(format!(".{name}.probe-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(err)?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_a_regular_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            Output::prepare(Path::new("/dev/null"), false),
            Err(CaptureError::OutputNotRegular { .. })
        ));
        assert!(matches!(
            Output::prepare(dir.path(), false),
            Err(CaptureError::OutputNotWritable { .. })
        ));
        let fifo = dir.path().join("f.zst");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        // SAFETY: a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            Output::prepare(&fifo, false),
            Err(CaptureError::OutputNotRegular { .. })
        ));
        assert!(fifo.exists());
    }

    #[test]
    fn earlier_files_move_aside_and_come_back_on_undo() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let out = dir.path().join("t.zst");
        let partial = dir.path().join("t.zst.partial");
        std::fs::write(&out, b"old trace").unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(&partial, b"old partial").unwrap_or_else(|e| panic!("{e}"));
        let o = Output::prepare(&out, false).unwrap_or_else(|e| panic!("{e}"));
        let (folder, files) = o.moved().unwrap_or_else(|| panic!("nothing moved"));
        assert_eq!(files.len(), 2);
        assert_eq!(
            std::fs::read(folder.join("t.zst")).unwrap_or_else(|e| panic!("{e}")),
            b"old trace"
        );
        assert!(!out.exists() && !partial.exists());
        // This run's files, then a failed start.
        std::fs::write(&partial, b"new").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(o.undo(), vec!["the earlier trace files were put back"]);
        assert_eq!(
            std::fs::read(&out).unwrap_or_else(|e| panic!("{e}")),
            b"old trace"
        );
        assert_eq!(
            std::fs::read(&partial).unwrap_or_else(|e| panic!("{e}")),
            b"old partial"
        );
        assert!(!spool::leftover_root(&out).exists());
    }
}
