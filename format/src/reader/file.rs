//! Segment files as [`Source`]s: only regular files, opened as needed.
//!
//! A trace directory may hold anything: a FIFO named like a segment (opening
//! it for reading blocks until a writer comes), a device, thousands of
//! segments (more than the open-file limit). So a path is checked before it
//! is opened (`metadata`: it must be a regular file), opened with
//! `O_NONBLOCK | O_NOCTTY` (a FIFO or terminal swapped in between cannot
//! block or become the controlling terminal) and checked again on the open
//! descriptor (`fstat`: still a regular file, still the same file).
//!
//! [`FileSource`] holds a descriptor only while it is told to
//! ([`FileSource::hold`], while a segment's header and index are read or its
//! frames scanned); otherwise each read opens the file, reads and closes it.
//! A chunk is one read, so that costs one `open` per chunk, and the number
//! of open files is the number of threads reading, whatever the number of
//! segments.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::container::Source;

/// What a path that is not a regular file is, in words.
pub fn kind_of(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// Why a path cannot be opened as a segment.
#[derive(Debug)]
pub enum OpenError {
    /// It is not a regular file: what it is.
    NotRegular(&'static str),
    Io(io::Error),
}

/// Opens `path` for reading if it is a regular file, without blocking or
/// side effects if it is not.
pub fn open_regular(path: &Path) -> Result<File, OpenError> {
    let meta = std::fs::metadata(path).map_err(OpenError::Io)?;
    if !meta.is_file() {
        return Err(OpenError::NotRegular(kind_of(&meta)));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(OpenError::Io)?;
    let meta = file.metadata().map_err(OpenError::Io)?;
    if !meta.is_file() {
        return Err(OpenError::NotRegular(kind_of(&meta)));
    }
    Ok(file)
}

/// A regular file read by path; see the module documentation.
pub struct FileSource {
    path: PathBuf,
    len: u64,
    /// Device and inode when first opened: a later open must find the same
    /// file.
    id: (u64, u64),
    held: Mutex<Option<File>>,
}

impl FileSource {
    /// Opens `path` (a regular file) and holds it open until
    /// [`release`](Self::release).
    pub fn open(path: &Path) -> Result<FileSource, OpenError> {
        let file = open_regular(path)?;
        let meta = file.metadata().map_err(OpenError::Io)?;
        Ok(FileSource {
            path: path.to_path_buf(),
            len: meta.len(),
            id: (meta.dev(), meta.ino()),
            held: Mutex::new(Some(file)),
        })
    }

    /// Closes the held descriptor; later reads open the file each time.
    pub fn release(&self) {
        if let Ok(mut h) = self.held.lock() {
            *h = None;
        }
    }

    /// Keeps a descriptor open for many small reads.
    pub fn hold(&self) -> io::Result<()> {
        let mut h = self
            .held
            .lock()
            .map_err(|_| io::Error::other("lock poisoned"))?;
        if h.is_none() {
            *h = Some(self.reopen()?);
        }
        Ok(())
    }

    fn reopen(&self) -> io::Result<File> {
        let file = open_regular(&self.path).map_err(|e| match e {
            OpenError::Io(e) => e,
            OpenError::NotRegular(what) => io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("it became {what} while the trace was read"),
            ),
        })?;
        let meta = file.metadata()?;
        if (meta.dev(), meta.ino()) != self.id {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the file was replaced while the trace was read",
            ));
        }
        Ok(file)
    }
}

impl Source for FileSource {
    fn len(&self) -> u64 {
        self.len
    }

    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        if offset
            .checked_add(buf.len() as u64)
            .is_none_or(|e| e > self.len)
        {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        {
            let h = self
                .held
                .lock()
                .map_err(|_| io::Error::other("lock poisoned"))?;
            if let Some(f) = h.as_ref() {
                return FileExt::read_exact_at(f, buf, offset);
            }
        }
        FileExt::read_exact_at(&self.reopen()?, buf, offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_fifo_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.000000.zst");
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        // SAFETY: `c` is a valid NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(
            open_regular(&p),
            Err(OpenError::NotRegular("a FIFO"))
        ));
    }

    #[test]
    fn reads_without_holding_and_notices_a_replaced_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"hello world").unwrap();
        let s = FileSource::open(&p).unwrap();
        s.release();
        let mut b = [0u8; 5];
        s.read_exact_at(&mut b, 6).unwrap();
        assert_eq!(&b, b"world");
        assert!(s.read_exact_at(&mut b, 7).is_err());
        // Made while `f` exists, so it is another inode.
        let q = dir.path().join("g");
        std::fs::write(&q, b"HELLO WORLD").unwrap();
        std::fs::rename(&q, &p).unwrap();
        let e = s.read_exact_at(&mut b, 0).unwrap_err();
        assert!(e.to_string().contains("replaced"), "{e}");
    }
}
