//! Where the file bytes of a streamed upload come from, attempt after attempt.
//!
//! - From a path: the file is opened once, and every attempt reads that same open file from its
//!   start, so a file replaced on disk between attempts cannot send other bytes under the same
//!   idempotency key; a file modified in place (its length or modification time moved) fails the
//!   call with a [`SourceError`] instead of being resent.
//! - From a reader: the reader is read once. An attempt that failed before reading any of its bytes
//!   (connection refused, say) may be retried; once a byte was read, the call is not retried,
//!   whatever the retry policy says, because the bytes cannot be read again.
//! - From bytes: nothing is streamed (the core holds the bytes); every retry is possible.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use kyc_adapter::{FileStamp, SourceFrom, file_name_of};
use kyc_core::{FileKind, UploadFile};

use crate::{SourceError, SourceErrorKind};

/// Where the bytes of an upload come from, for [`Client::upload`](crate::Client::upload):
/// [`Source::bytes`], [`Source::path`] (streamed, retried whole) or [`Source::reader`] (streamed
/// once); see [`kyc_adapter::Source`] for the rules of each.
pub type Source = kyc_adapter::Source<Box<dyn Read + Send>>;

/// The upload `upload` describes with its file taken from `source`, and what streams the file on
/// every attempt. Reads a path's or reader's first bytes (to detect the format) and a path's
/// length; names a file from a path after it unless the upload names it.
pub(crate) fn open(
    upload: &UploadFile,
    source: Source,
) -> Result<(UploadFile, Box<dyn UploadSource>), SourceError> {
    let kyc_adapter::Source { from, observe } = source;
    Ok(match from {
        SourceFrom::Bytes(bytes) => (upload.clone().with_bytes(bytes), Box::new(NoStream)),
        SourceFrom::Path(path) => {
            let (source, leading, len) = PathSource::open_path(&path)?;
            let upload = upload
                .clone()
                .with_stream(&leading, len)
                .file_name_or(file_name_of(&path));
            (upload, Box::new(source.observed(observe)))
        }
        SourceFrom::Reader { reader, len } => {
            let (source, leading) = ReaderSource::new(reader, observe)?;
            (upload.clone().with_stream(&leading, len), Box::new(source))
        }
    })
}

/// A source of file bytes for streamed uploads.
pub(crate) trait UploadSource {
    /// A stream of the whole file for one attempt.
    fn open(&mut self) -> Result<Box<dyn Read + Send>, SourceError>;

    /// Whether another attempt can get the whole file again.
    fn can_replay(&self) -> bool;

    /// The file's path, for errors.
    fn path(&self) -> Option<PathBuf> {
        None
    }
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
fn read_leading(reader: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut leading = Vec::with_capacity(FileKind::SNIFF_LEN);
    reader
        .by_ref()
        .take(FileKind::SNIFF_LEN as u64)
        .read_to_end(&mut leading)?;
    Ok(leading)
}

/// Wraps the reader of each attempt (a progress display, a checksum…).
type Observe = kyc_adapter::Observe<Box<dyn Read + Send>>;

/// A file opened once and read from its start by every attempt.
pub(crate) struct PathSource {
    path: PathBuf,
    file: File,
    stamp: FileStamp,
    observe: Option<Observe>,
}

impl PathSource {
    /// Opens `path`, measures it and reads its leading bytes.
    pub(crate) fn open_path(path: &Path) -> Result<(Self, Vec<u8>, u64), SourceError> {
        let fail = |kind, e| SourceError::new(kind, Some(path.to_owned()), Some(e));
        let mut file = File::open(path).map_err(|e| fail(SourceErrorKind::Open, e))?;
        let meta = file
            .metadata()
            .map_err(|e| fail(SourceErrorKind::Open, e))?;
        let leading = read_leading(&mut file).map_err(|e| fail(SourceErrorKind::Read, e))?;
        let source = Self {
            path: path.to_owned(),
            file,
            stamp: FileStamp::of(&meta),
            observe: None,
        };
        Ok((source, leading, meta.len()))
    }

    /// Each attempt's reader goes through `observe`, if there is one.
    pub(crate) fn observed(mut self, observe: Option<Observe>) -> Self {
        self.observe = observe;
        self
    }
}

impl UploadSource for PathSource {
    fn open(&mut self) -> Result<Box<dyn Read + Send>, SourceError> {
        let path = Some(self.path.clone());
        let fail = |kind, e| SourceError::new(kind, path.clone(), e);
        let meta = self
            .file
            .metadata()
            .map_err(|e| fail(SourceErrorKind::Read, Some(e)))?;
        self.stamp.check(&meta, &self.path)?;
        let mut file = self
            .file
            .try_clone()
            .map_err(|e| fail(SourceErrorKind::Read, Some(e)))?;
        file.seek(SeekFrom::Start(0))
            .map_err(|e| fail(SourceErrorKind::Read, Some(e)))?;
        let reader: Box<dyn Read + Send> = Box::new(file);
        Ok(match &self.observe {
            Some(observe) => observe(reader),
            None => reader,
        })
    }

    fn can_replay(&self) -> bool {
        true
    }

    fn path(&self) -> Option<PathBuf> {
        Some(self.path.clone())
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
    observe: Option<Observe>,
}

impl<R: Read + Send + 'static> ReaderSource<R> {
    /// Reads the leading bytes of `reader` (kept in memory and replayed at the start of the
    /// stream); each attempt's reader goes through `observe`, if there is one.
    pub(crate) fn new(
        mut reader: R,
        observe: Option<Observe>,
    ) -> Result<(Self, Vec<u8>), SourceError> {
        let leading = read_leading(&mut reader)
            .map_err(|e| SourceError::new(SourceErrorKind::Read, None, Some(e)))?;
        let source = Self {
            leading: leading.clone(),
            shared: Arc::new(Mutex::new(Counted {
                inner: reader,
                consumed: 0,
            })),
            observe,
        };
        Ok((source, leading))
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
        let reader: Box<dyn Read + Send> = Box::new(head.chain(SharedReader(self.shared.clone())));
        Ok(match &self.observe {
            Some(observe) => observe(reader),
            None => reader,
        })
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
            ReaderSource::new(io::Cursor::new(b"%PDF-1.7 rest of file".to_vec()), None).unwrap();
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
        let (_, leading) = ReaderSource::new(io::Cursor::new(b"%PD".to_vec()), None).unwrap();
        assert_eq!(leading, b"%PD");
    }

    #[test]
    fn a_path_is_read_whole_by_every_attempt_and_a_replaced_file_changes_nothing() {
        let dir = std::env::temp_dir().join(format!("kyc-ureq-path-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("doc.pdf");
        std::fs::write(&path, b"%PDF-1.7 original").unwrap();
        let (mut source, leading, len) = PathSource::open_path(&path).unwrap();
        assert_eq!((leading.as_slice(), len), (&b"%PDF-1.7"[..], 17));
        let mut first = Vec::new();
        source.open().unwrap().read_to_end(&mut first).unwrap();
        // Replaced on disk by another file of the same length: the open file is still sent.
        let other = dir.join("other.pdf");
        std::fs::write(&other, b"%PDF-1.7 replaced").unwrap();
        std::fs::rename(&other, &path).unwrap();
        let mut second = Vec::new();
        source.open().unwrap().read_to_end(&mut second).unwrap();
        assert_eq!(first, second);
        assert_eq!(first, b"%PDF-1.7 original");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_file_that_grows_between_attempts_is_refused() {
        let dir = std::env::temp_dir().join(format!("kyc-ureq-grow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("doc.pdf");
        std::fs::write(&path, b"%PDF-1.7 original").unwrap();
        let (mut source, _, _) = PathSource::open_path(&path).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b" more"))
            .unwrap();
        let err = source.open().err().unwrap();
        assert_eq!(err.kind(), SourceErrorKind::LengthChanged);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
