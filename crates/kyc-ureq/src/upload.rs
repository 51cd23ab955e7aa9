//! Where the file bytes of a streamed upload come from, attempt after attempt.
//!
//! - From a path: the file is re-opened for every attempt, so every retry sends it whole.
//! - From a reader: the reader is read once. An attempt that failed before reading any of its bytes
//!   (connection refused, say) may be retried; once a byte was read, the call is not retried,
//!   whatever the retry policy says, because the bytes cannot be read again.
//! - From bytes: nothing is streamed (the core holds the bytes); every retry is possible.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use kyc_core::FileKind;

use crate::error::{SourceError, SourceErrorKind};

/// A source of file bytes for streamed uploads.
pub(crate) trait UploadSource {
    /// A stream of the whole file for one attempt.
    fn open(&mut self) -> Result<Box<dyn Read + Send>, SourceError>;

    /// Whether another attempt can get the whole file again.
    fn can_replay(&self) -> bool;
}

/// No stream: for calls whose body is in memory.
pub(crate) struct NoStream;

impl UploadSource for NoStream {
    fn open(&mut self) -> Result<Box<dyn Read + Send>, SourceError> {
        Err(SourceError::new(SourceErrorKind::Missing, None, None))
    }

    fn can_replay(&self) -> bool {
        true
    }
}

/// Reads up to [`FileKind::SNIFF_LEN`] leading bytes (fewer only at end of file).
pub(crate) fn read_leading(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut leading = Vec::with_capacity(FileKind::SNIFF_LEN);
    reader
        .by_ref()
        .take(FileKind::SNIFF_LEN as u64)
        .read_to_end(&mut leading)?;
    Ok(leading)
}

/// A file re-opened for every attempt.
pub(crate) struct PathSource {
    path: PathBuf,
}

impl PathSource {
    /// Opens `path` once to measure it and read its leading bytes.
    pub(crate) fn measure(path: &Path) -> Result<(Self, Vec<u8>, u64), SourceError> {
        let fail = |e| SourceError::new(SourceErrorKind::Open, Some(path.to_owned()), Some(e));
        let mut file = File::open(path).map_err(fail)?;
        let len = file.metadata().map_err(fail)?.len();
        let leading = read_leading(&mut file)
            .map_err(|e| SourceError::new(SourceErrorKind::Read, Some(path.to_owned()), Some(e)))?;
        Ok((
            Self {
                path: path.to_owned(),
            },
            leading,
            len,
        ))
    }
}

impl UploadSource for PathSource {
    fn open(&mut self) -> Result<Box<dyn Read + Send>, SourceError> {
        let file = File::open(&self.path).map_err(|e| {
            SourceError::new(SourceErrorKind::Open, Some(self.path.clone()), Some(e))
        })?;
        Ok(Box::new(file))
    }

    fn can_replay(&self) -> bool {
        true
    }
}

struct Counted<R> {
    inner: R,
    consumed: u64,
}

/// A caller's reader, shared with the attempt that streams it, counting what was read.
pub(crate) struct ReaderSource<R> {
    leading: Vec<u8>,
    shared: Arc<Mutex<Counted<R>>>,
}

impl<R: Read + Send + 'static> ReaderSource<R> {
    /// Reads the leading bytes of `reader` (kept in memory and replayed at the start of the
    /// stream).
    pub(crate) fn new(mut reader: R) -> Result<(Self, Vec<u8>), SourceError> {
        let leading = read_leading(&mut reader)
            .map_err(|e| SourceError::new(SourceErrorKind::Read, None, Some(e)))?;
        Ok((
            Self {
                leading: leading.clone(),
                shared: Arc::new(Mutex::new(Counted {
                    inner: reader,
                    consumed: 0,
                })),
            },
            leading,
        ))
    }

    /// Streams `reader` from its first byte (nothing read ahead).
    pub(crate) fn whole(reader: R) -> Self {
        Self {
            leading: Vec::new(),
            shared: Arc::new(Mutex::new(Counted {
                inner: reader,
                consumed: 0,
            })),
        }
    }
}

struct SharedReader<R>(Arc<Mutex<Counted<R>>>);

impl<R: Read> Read for SharedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut counted = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = counted.inner.read(buf)?;
        counted.consumed += n as u64;
        Ok(n)
    }
}

impl<R: Read + Send + 'static> UploadSource for ReaderSource<R> {
    fn open(&mut self) -> Result<Box<dyn Read + Send>, SourceError> {
        let head = io::Cursor::new(self.leading.clone());
        Ok(Box::new(head.chain(SharedReader(self.shared.clone()))))
    }

    fn can_replay(&self) -> bool {
        self.shared
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .consumed
            == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_replays_only_while_none_of_its_bytes_were_read() {
        let (mut source, leading) =
            ReaderSource::new(io::Cursor::new(b"%PDF-1.7 rest of file".to_vec())).unwrap();
        assert_eq!(leading, b"%PDF-1.7");
        let mut first = source.open().unwrap();
        let mut buf = [0u8; 8];
        first.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"%PDF-1.7");
        assert!(source.can_replay(), "the leading bytes are held in memory");
        let mut rest = Vec::new();
        first.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b" rest of file");
        assert!(!source.can_replay());
    }

    #[test]
    fn a_short_reader_gives_all_its_bytes_as_leading() {
        let (_, leading) = ReaderSource::new(io::Cursor::new(b"%PD".to_vec())).unwrap();
        assert_eq!(leading, b"%PD");
    }
}
