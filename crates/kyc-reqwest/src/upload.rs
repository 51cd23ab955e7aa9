//! Where the file bytes of a streamed upload come from, attempt after attempt (the same rules as
//! kyc-ureq):
//!
//! - From a path: the file is opened once, and every attempt reads that same open file from its
//!   start; a file modified in place (its length or modification time moved) fails the call.
//! - From a reader: the reader is read once. An attempt that failed before reading any of its bytes
//!   (connection refused, say) may be retried; once a byte was read, the call is not retried,
//!   whatever the retry policy says, because the bytes cannot be read again.
//! - From bytes: nothing is streamed (the core holds the bytes); every retry is possible.
//!
//! The exact-length rule is applied once, where the multipart body is assembled
//! ([`SendBody::from_core`](crate::SendBody)).

use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use kyc_adapter::{FileStamp, SourceFrom, file_name_of};
use kyc_core::{FileKind, UploadFile};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, ReadBuf};

use crate::transport::{BoxFuture, FileReader};
use crate::{SourceError, SourceErrorKind};

/// Where the bytes of an upload come from, for [`Client::upload`](crate::Client::upload):
/// [`Source::bytes`], [`Source::path`] (streamed, retried whole) or [`Source::reader`] (a boxed
/// `tokio::io::AsyncRead`, streamed once); see [`kyc_adapter::Source`] for the rules of each.
pub type Source = kyc_adapter::Source<FileReader>;

/// Wraps the reader of each attempt (a progress display, a checksum…).
type Observe = kyc_adapter::Observe<FileReader>;

/// The upload `upload` describes with its file taken from `source`, and what streams the file on
/// every attempt. Reads a path's or reader's first bytes (to detect the format) and a path's
/// length; names a file from a path after it unless the upload names it.
pub(crate) async fn open(
    upload: &UploadFile,
    source: Source,
) -> Result<(UploadFile, Box<dyn UploadSource>), SourceError> {
    let kyc_adapter::Source { from, observe } = source;
    Ok(match from {
        SourceFrom::Bytes(bytes) => (upload.clone().with_bytes(bytes), Box::new(NoStream)),
        SourceFrom::Path(path) => {
            let (source, leading, len) = PathSource::open_path(&path, observe).await?;
            let upload = upload
                .clone()
                .with_stream(&leading, len)
                .file_name_or(file_name_of(&path));
            (upload, Box::new(source))
        }
        SourceFrom::Reader { reader, len } => {
            let (source, leading) = ReaderSource::new(reader, observe).await?;
            (upload.clone().with_stream(&leading, len), Box::new(source))
        }
    })
}

/// `reader` through `observe`, if there is one.
fn observed(reader: FileReader, observe: Option<&Observe>) -> FileReader {
    match observe {
        Some(observe) => observe(reader),
        None => reader,
    }
}

/// A source of file bytes for streamed uploads.
pub(crate) trait UploadSource: Send {
    /// A reader of the whole file for one attempt.
    fn open(&mut self) -> BoxFuture<'_, Result<FileReader, SourceError>>;

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
    fn open(&mut self) -> BoxFuture<'_, Result<FileReader, SourceError>> {
        Box::pin(async { Err(SourceError::new(SourceErrorKind::Missing, None, None)) })
    }

    fn can_replay(&self) -> bool {
        true
    }
}

/// Reads up to [`FileKind::SNIFF_LEN`] leading bytes (fewer only at end of file).
async fn read_leading<R: AsyncRead + Unpin>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut leading = Vec::with_capacity(FileKind::SNIFF_LEN);
    reader
        .take(FileKind::SNIFF_LEN as u64)
        .read_to_end(&mut leading)
        .await?;
    Ok(leading)
}

/// A file opened once and read from its start by every attempt.
pub(crate) struct PathSource {
    path: PathBuf,
    file: tokio::fs::File,
    stamp: FileStamp,
    observe: Option<Observe>,
}

impl PathSource {
    /// Opens `path`, measures it and reads its leading bytes; each attempt's reader goes through
    /// `observe`, if there is one.
    pub(crate) async fn open_path(
        path: &Path,
        observe: Option<Observe>,
    ) -> Result<(Self, Vec<u8>, u64), SourceError> {
        let fail = |kind, e| SourceError::new(kind, Some(path.to_owned()), Some(e));
        let mut file = tokio::fs::File::open(path)
            .await
            .map_err(|e| fail(SourceErrorKind::Open, e))?;
        let meta = file
            .metadata()
            .await
            .map_err(|e| fail(SourceErrorKind::Open, e))?;
        let leading = read_leading(&mut file)
            .await
            .map_err(|e| fail(SourceErrorKind::Read, e))?;
        let source = Self {
            path: path.to_owned(),
            file,
            stamp: FileStamp::of(&meta),
            observe,
        };
        Ok((source, leading, meta.len()))
    }
}

impl UploadSource for PathSource {
    fn open(&mut self) -> BoxFuture<'_, Result<FileReader, SourceError>> {
        Box::pin(async move {
            let path = Some(self.path.clone());
            let fail = |kind, e| SourceError::new(kind, path.clone(), e);
            let meta = self
                .file
                .metadata()
                .await
                .map_err(|e| fail(SourceErrorKind::Read, Some(e)))?;
            self.stamp.check(&meta, &self.path)?;
            let mut file = self
                .file
                .try_clone()
                .await
                .map_err(|e| fail(SourceErrorKind::Read, Some(e)))?;
            file.seek(SeekFrom::Start(0))
                .await
                .map_err(|e| fail(SourceErrorKind::Read, Some(e)))?;
            Ok(observed(Box::new(file), self.observe.as_ref()))
        })
    }

    fn can_replay(&self) -> bool {
        true
    }

    fn path(&self) -> Option<PathBuf> {
        Some(self.path.clone())
    }
}

/// A caller's reader and how many of its bytes were read.
struct Slot<R> {
    reader: Option<R>,
    consumed: u64,
}

/// A caller's reader, lent to the attempt that streams it, counting what was read.
pub(crate) struct ReaderSource<R> {
    leading: Vec<u8>,
    slot: Arc<Mutex<Slot<R>>>,
    observe: Option<Observe>,
}

fn lock<R>(slot: &Mutex<Slot<R>>) -> MutexGuard<'_, Slot<R>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<R: AsyncRead + Send + Unpin + 'static> ReaderSource<R> {
    /// Reads the leading bytes of `reader` (kept in memory and replayed at the start of the
    /// stream); each attempt's reader goes through `observe`, if there is one.
    pub(crate) async fn new(
        mut reader: R,
        observe: Option<Observe>,
    ) -> Result<(Self, Vec<u8>), SourceError> {
        let leading = read_leading(&mut reader)
            .await
            .map_err(|e| SourceError::new(SourceErrorKind::Read, None, Some(e)))?;
        let source = Self {
            leading: leading.clone(),
            slot: Arc::new(Mutex::new(Slot {
                reader: Some(reader),
                consumed: 0,
            })),
            observe,
        };
        Ok((source, leading))
    }
}

/// Reads the leading bytes, then the lent reader; gives the reader back on drop while none of
/// its bytes were read, so an attempt that never read leaves it for the next.
struct Lent<R> {
    leading: io::Cursor<Vec<u8>>,
    reader: Option<R>,
    slot: Arc<Mutex<Slot<R>>>,
}

impl<R> Drop for Lent<R> {
    fn drop(&mut self) {
        if let Some(reader) = self.reader.take() {
            let mut slot = lock(&self.slot);
            if slot.consumed == 0 {
                slot.reader = Some(reader);
            }
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Lent<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        if Pin::new(&mut this.leading).poll_read(cx, buf).is_ready() && buf.filled().len() > before
        {
            return Poll::Ready(Ok(()));
        }
        if this.reader.is_none() {
            // Taken at the first read.
            this.reader = lock(&this.slot).reader.take();
        }
        let Some(reader) = this.reader.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let polled = Pin::new(reader).poll_read(cx, buf);
        if polled.is_ready() {
            lock(&this.slot).consumed += (buf.filled().len() - before) as u64;
        }
        polled
    }
}

impl<R: AsyncRead + Send + Unpin + 'static> UploadSource for ReaderSource<R> {
    fn open(&mut self) -> BoxFuture<'_, Result<FileReader, SourceError>> {
        let lent = Lent {
            leading: io::Cursor::new(self.leading.clone()),
            reader: None,
            slot: self.slot.clone(),
        };
        let reader = observed(Box::new(lent), self.observe.as_ref());
        Box::pin(async move { Ok(reader) })
    }

    fn can_replay(&self) -> bool {
        let slot = lock(&self.slot);
        slot.consumed == 0 && slot.reader.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_reader_replays_only_while_none_of_its_bytes_were_read() {
        block_on(async {
            let (mut source, leading) =
                ReaderSource::new(io::Cursor::new(b"%PDF-1.7 rest of file".to_vec()), None)
                    .await
                    .unwrap();
            assert_eq!(leading, b"%PDF-1.7");
            drop(source.open().await.unwrap());
            assert!(
                source.can_replay(),
                "an unread attempt gives the reader back"
            );
            let mut all = Vec::new();
            source
                .open()
                .await
                .unwrap()
                .read_to_end(&mut all)
                .await
                .unwrap();
            assert_eq!(all, b"%PDF-1.7 rest of file");
            assert!(!source.can_replay());
        });
    }

    #[test]
    fn a_path_is_read_whole_by_every_attempt_until_it_changes() {
        block_on(async {
            let dir = std::env::temp_dir().join(format!("kyc-reqwest-path-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("doc.pdf");
            std::fs::write(&path, b"%PDF-1.7 original").unwrap();
            let (mut source, _, len) = PathSource::open_path(&path, None).await.unwrap();
            assert_eq!(len, 17);
            for _ in 0..2 {
                let mut all = Vec::new();
                source
                    .open()
                    .await
                    .unwrap()
                    .read_to_end(&mut all)
                    .await
                    .unwrap();
                assert_eq!(all, b"%PDF-1.7 original");
            }
            std::fs::write(&path, b"%PDF-1.7 longer than before").unwrap();
            let err = source.open().await.err().unwrap();
            assert_eq!(err.kind(), SourceErrorKind::LengthChanged);
            std::fs::remove_dir_all(&dir).unwrap();
        });
    }
}
