//! Bounded reading of the files a scenario names: the scenario itself, its data files and
//! its sidecar `.env`.
//!
//! A path may name a device (`/dev/zero`), a FIFO or a directory, whose size says 0 and
//! whose reading never ends or blocks; and a regular file may grow while it is read. So
//! every read here checks that the path is a regular file before opening it, refuses a
//! file whose size is above the cap, and reads through `take(cap + 1)`, so that no more
//! than the cap is ever held whatever the size claimed.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Why a file could not be read within its bounds. Every message starts with the path.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening or reading failed (missing file, permissions, ...).
    #[error("{}: cannot read: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    /// A directory, device, FIFO or socket: not something to read to its end.
    #[error("{}: not a regular file", path.display())]
    NotAFile { path: PathBuf },
    /// Above the cap, by its size on disk (`size: Some`) or by what reading it gave.
    #[error("{}: {}", path.display(), TooLargeText { size: *size, cap: *cap })]
    TooLarge {
        path: PathBuf,
        size: Option<u64>,
        cap: u64,
    },
    /// Not UTF-8 text; 1-based line and column of the first invalid byte.
    #[error("{}:{line}:{column}: invalid UTF-8: expected UTF-8 text", path.display())]
    InvalidUtf8 {
        path: PathBuf,
        line: usize,
        column: usize,
    },
}

struct TooLargeText {
    size: Option<u64>,
    cap: u64,
}

impl fmt::Display for TooLargeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.size {
            Some(size) => write!(f, "file is {size} bytes; limited to {}", self.cap),
            None => write!(
                f,
                "file is more than {} bytes; limited to {}",
                self.cap, self.cap
            ),
        }
    }
}

impl ReadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            ReadError::Io { path, .. }
            | ReadError::NotAFile { path }
            | ReadError::TooLarge { path, .. }
            | ReadError::InvalidUtf8 { path, .. } => path,
        }
    }

    /// True when the file does not exist.
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReadError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// Opens `path` for a bounded read: it must be a regular file (checked before opening, so a
/// FIFO is refused instead of blocking, and again on the open handle) of at most `cap` bytes
/// by its metadata. Returns the file and its size on disk. The caller must still read
/// through `take(cap + 1)`: see [`read_bounded`], or [`BoundedReader`] for streaming.
pub fn open_bounded(path: &Path, cap: u64) -> Result<(File, u64), ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    // Checked on the path (so a FIFO never blocks the open) and again on the open file (the
    // path may have been swapped between the check and the open).
    let readable = |meta: std::fs::Metadata| {
        if !meta.is_file() {
            Err(ReadError::NotAFile {
                path: path.to_path_buf(),
            })
        } else if meta.len() > cap {
            Err(ReadError::TooLarge {
                path: path.to_path_buf(),
                size: Some(meta.len()),
                cap,
            })
        } else {
            Ok(meta.len())
        }
    };
    readable(std::fs::metadata(path).map_err(io_err)?)?;
    let file = File::open(path).map_err(io_err)?;
    let len = readable(file.metadata().map_err(io_err)?)?;
    Ok((file, len))
}

/// Reads a whole regular file of at most `cap` bytes.
///
/// Refuses directories, devices and FIFOs (`PATH: not a regular file`) without reading
/// them, and files above `cap` by their size; the read itself stops at `cap + 1` bytes, so
/// a file growing meanwhile (or a size that lies) is refused too instead of being read on.
pub fn read_bounded(path: &Path, cap: u64) -> Result<Vec<u8>, ReadError> {
    let (file, len) = open_bounded(path, cap)?;
    let mut buf = Vec::with_capacity(usize::try_from(len.min(cap)).unwrap_or(0) + 1);
    file.take(cap.saturating_add(1))
        .read_to_end(&mut buf)
        .map_err(|source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if buf.len() as u64 > cap {
        return Err(ReadError::TooLarge {
            path: path.to_path_buf(),
            size: None,
            cap,
        });
    }
    Ok(buf)
}

/// [`read_bounded`], as UTF-8 text (a leading byte order mark is kept).
pub fn read_text_bounded(path: &Path, cap: u64) -> Result<String, ReadError> {
    let bytes = read_bounded(path, cap)?;
    String::from_utf8(bytes).map_err(|e| {
        let (line, column) = utf8_error_position(e.as_bytes(), e.utf8_error().valid_up_to());
        ReadError::InvalidUtf8 {
            path: path.to_path_buf(),
            line,
            column,
        }
    })
}

/// The 1-based line and column (in bytes) of byte offset `at`.
pub(crate) fn utf8_error_position(bytes: &[u8], at: usize) -> (usize, usize) {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
    (line, column)
}

/// A streaming reader over a regular file that fails once more than `cap` bytes come out,
/// for parsers that read incrementally (CSV) and so never hold the whole file.
pub struct BoundedReader {
    inner: io::Take<File>,
    path: PathBuf,
    cap: u64,
    read: u64,
}

impl BoundedReader {
    /// Opens `path` as [`open_bounded`] does.
    pub fn open(path: &Path, cap: u64) -> Result<BoundedReader, ReadError> {
        let (file, _) = open_bounded(path, cap)?;
        Ok(BoundedReader {
            inner: file.take(cap.saturating_add(1)),
            path: path.to_path_buf(),
            cap,
            read: 0,
        })
    }

    /// The error to report when a read failed with an error made by this reader.
    pub fn too_large(&self) -> ReadError {
        ReadError::TooLarge {
            path: self.path.clone(),
            size: None,
            cap: self.cap,
        }
    }

    /// True once more than the cap has been read (the read that crossed it failed).
    pub fn exceeded(&self) -> bool {
        self.read > self.cap
    }
}

impl Read for BoundedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        if self.read > self.cap {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                format!("more than {} bytes", self.cap),
            ));
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("throng-ir-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn reads_a_small_file() {
        let path = temp_file("small.txt", b"hello\n");
        assert_eq!(read_bounded(&path, 6).unwrap(), b"hello\n");
        assert_eq!(read_text_bounded(&path, 100).unwrap(), "hello\n");
    }

    #[test]
    fn refuses_a_file_above_the_cap() {
        let path = temp_file("big.txt", &[b'x'; 100]);
        let e = read_bounded(&path, 99).unwrap_err();
        assert!(
            matches!(
                e,
                ReadError::TooLarge {
                    size: Some(100),
                    cap: 99,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("limited to 99"), "{e}");
        assert!(
            e.to_string().starts_with(&path.display().to_string()),
            "{e}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn refuses_special_files_without_reading_them() {
        let started = std::time::Instant::now();
        let e = read_bounded(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(e.to_string(), "/dev/zero: not a regular file");
        let e = read_bounded(&std::env::temp_dir(), 1 << 20).unwrap_err();
        assert!(matches!(e, ReadError::NotAFile { .. }), "{e}");
        assert!(BoundedReader::open(Path::new("/dev/zero"), 10).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn refuses_a_fifo_without_blocking() {
        let dir = std::env::temp_dir().join(format!("throng-ir-fifo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fifo = dir.join("pipe.yaml");
        let _ = std::fs::remove_file(&fifo);
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        if !made.is_ok_and(|s| s.success()) {
            return; // no mkfifo here: nothing to test
        }
        let e = read_bounded(&fifo, 1 << 20).unwrap_err();
        assert!(
            e.to_string().ends_with("pipe.yaml: not a regular file"),
            "{e}"
        );
        let e = crate::load(&fifo).unwrap_err();
        assert!(
            e.to_string().ends_with("pipe.yaml: not a regular file"),
            "{e}"
        );
        std::fs::remove_file(&fifo).ok();
    }

    #[test]
    fn reports_invalid_utf8_with_its_position() {
        let path = temp_file("bad-utf8.txt", b"ok\nab\xffc\n");
        let e = read_text_bounded(&path, 100).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("bad-utf8.txt:2:3: invalid UTF-8: expected UTF-8 text"),
            "{e}"
        );
    }

    #[test]
    fn bounded_reader_stops_past_the_cap() {
        let path = temp_file("stream.txt", &[b'y'; 50]);
        let mut r = BoundedReader::open(&path, 50).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out.len(), 50);
        // The same file, grown after the open: reading fails instead of going on.
        let mut r = BoundedReader::open(&path, 50).unwrap();
        std::fs::write(&path, [b'y'; 80]).unwrap();
        let mut out = Vec::new();
        let e = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert!(r.exceeded());
        assert!(r.too_large().to_string().contains("more than 50 bytes"));
    }
}
