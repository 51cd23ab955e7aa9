//! Where the file bytes of a streamed upload come from, attempt after attempt (the same rules as
//! kyc-ureq):
//!
//! - From a path: the file is re-opened for every attempt, so every retry sends it whole.
//! - From a reader: the reader is read once. An attempt that failed before reading any of its bytes
//!   (connection refused, say) may be retried; once a byte was read, the call is not retried,
//!   whatever the retry policy says, because the bytes cannot be read again.
//! - From bytes: nothing is streamed (the core holds the bytes); every retry is possible.

use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use kyc_core::FileKind;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

use crate::error::{SourceError, SourceErrorKind};
use crate::transport::{BodyStream, BoxFuture};

/// Size of the chunks read from a file or reader.
const CHUNK: usize = 64 * 1024;

/// A source of file bytes for streamed uploads.
pub(crate) trait UploadSource: Send {
    /// A stream of the whole file for one attempt.
    fn open(&mut self) -> BoxFuture<'_, Result<BodyStream, SourceError>>;

    /// Whether another attempt can get the whole file again.
    fn can_replay(&self) -> bool;
}

/// No stream: for calls whose body is in memory.
pub(crate) struct NoStream;

impl UploadSource for NoStream {
    fn open(&mut self) -> BoxFuture<'_, Result<BodyStream, SourceError>> {
        Box::pin(async { Err(SourceError::new(SourceErrorKind::Missing, None, None)) })
    }

    fn can_replay(&self) -> bool {
        true
    }
}

/// Reads up to [`FileKind::SNIFF_LEN`] leading bytes (fewer only at end of file).
pub(crate) async fn read_leading<R: AsyncRead + Unpin>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut leading = Vec::with_capacity(FileKind::SNIFF_LEN);
    reader
        .take(FileKind::SNIFF_LEN as u64)
        .read_to_end(&mut leading)
        .await?;
    Ok(leading)
}

/// A file re-opened for every attempt.
pub(crate) struct PathSource {
    path: PathBuf,
    len: u64,
}

impl PathSource {
    /// Opens `path` once to measure it and read its leading bytes.
    pub(crate) async fn measure(path: &Path) -> Result<(Self, Vec<u8>, u64), SourceError> {
        let fail = |e| SourceError::new(SourceErrorKind::Open, Some(path.to_owned()), Some(e));
        let mut file = tokio::fs::File::open(path).await.map_err(fail)?;
        let len = file.metadata().await.map_err(fail)?.len();
        let leading = read_leading(&mut file)
            .await
            .map_err(|e| SourceError::new(SourceErrorKind::Read, Some(path.to_owned()), Some(e)))?;
        Ok((
            Self {
                path: path.to_owned(),
                len,
            },
            leading,
            len,
        ))
    }
}

impl UploadSource for PathSource {
    fn open(&mut self) -> BoxFuture<'_, Result<BodyStream, SourceError>> {
        Box::pin(async move {
            let file = tokio::fs::File::open(&self.path).await.map_err(|e| {
                SourceError::new(SourceErrorKind::Open, Some(self.path.clone()), Some(e))
            })?;
            let stream: BodyStream = Box::pin(exact(file, self.len));
            Ok(stream)
        })
    }

    fn can_replay(&self) -> bool {
        true
    }
}

/// A stream of exactly `len` bytes from `reader`: fails with [`io::ErrorKind::InvalidData`] if
/// the reader ends early or holds more bytes, so a file that changed since it was measured can
/// never produce a body that disagrees with `Content-Length`.
pub(crate) fn exact<R: AsyncRead + Send + Unpin + 'static>(
    reader: R,
    len: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    Exact {
        reader: Some(reader),
        remaining: len,
        buf: Vec::new(),
    }
}

struct Exact<R> {
    /// `None` once the stream ended (or failed).
    reader: Option<R>,
    remaining: u64,
    buf: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Stream for Exact<R> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(reader) = this.reader.as_mut() else {
            return Poll::Ready(None);
        };
        // One byte of room past the declared end detects a source that is too long.
        let want = usize::try_from(this.remaining)
            .unwrap_or(usize::MAX)
            .clamp(1, CHUNK);
        this.buf.resize(want, 0);
        let mut read = ReadBuf::new(&mut this.buf);
        match Pin::new(reader).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Poll::Ready(Err(e)) => {
                this.reader = None;
                Poll::Ready(Some(Err(e)))
            }
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                let fail = |what: &str| {
                    Poll::Ready(Some(Err(io::Error::new(io::ErrorKind::InvalidData, what))))
                };
                if this.remaining == 0 {
                    this.reader = None;
                    return if n == 0 {
                        Poll::Ready(None)
                    } else {
                        fail("the file is longer than its declared length")
                    };
                }
                if n == 0 {
                    this.reader = None;
                    return fail("the file ended before its declared length");
                }
                this.remaining -= n as u64;
                Poll::Ready(Some(Ok(Bytes::copy_from_slice(read.filled()))))
            }
        }
    }
}

/// A caller's reader and how many of its bytes were read.
struct Slot<R> {
    reader: Option<R>,
    consumed: u64,
}

/// A caller's reader, lent to the attempt that streams it, counting what was read.
pub(crate) struct ReaderSource<R> {
    leading: Bytes,
    slot: Arc<Mutex<Slot<R>>>,
}

fn lock<R>(slot: &Mutex<Slot<R>>) -> MutexGuard<'_, Slot<R>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<R: AsyncRead + Send + Unpin + 'static> ReaderSource<R> {
    /// Reads the leading bytes of `reader` (kept in memory and replayed at the start of the
    /// stream).
    pub(crate) async fn new(mut reader: R) -> Result<(Self, Vec<u8>), SourceError> {
        let leading = read_leading(&mut reader)
            .await
            .map_err(|e| SourceError::new(SourceErrorKind::Read, None, Some(e)))?;
        let mut source = Self::whole(reader);
        source.leading = Bytes::from(leading.clone());
        Ok((source, leading))
    }

    /// Streams `reader` from its first byte (nothing read ahead).
    pub(crate) fn whole(reader: R) -> Self {
        Self {
            leading: Bytes::new(),
            slot: Arc::new(Mutex::new(Slot {
                reader: Some(reader),
                consumed: 0,
            })),
        }
    }
}

/// Streams the lent reader; gives it back on drop while none of its bytes were read.
struct Lent<R> {
    leading: Option<Bytes>,
    reader: Option<R>,
    slot: Arc<Mutex<Slot<R>>>,
    buf: Vec<u8>,
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

impl<R: AsyncRead + Unpin> Stream for Lent<R> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(leading) = this.leading.take().filter(|l| !l.is_empty()) {
            return Poll::Ready(Some(Ok(leading)));
        }
        if this.reader.is_none() {
            // Taken at the first read, so an attempt that never reads leaves it for the next.
            match lock(&this.slot).reader.take() {
                Some(reader) => this.reader = Some(reader),
                None => return Poll::Ready(None),
            }
        }
        let Some(reader) = this.reader.as_mut() else {
            return Poll::Ready(None);
        };
        this.buf.resize(CHUNK, 0);
        let mut read = ReadBuf::new(&mut this.buf);
        match Pin::new(reader).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = read.filled().len();
                lock(&this.slot).consumed += n as u64;
                if n == 0 {
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Ok(Bytes::copy_from_slice(read.filled()))))
            }
        }
    }
}

impl<R: AsyncRead + Send + Unpin + 'static> UploadSource for ReaderSource<R> {
    fn open(&mut self) -> BoxFuture<'_, Result<BodyStream, SourceError>> {
        let lent = Lent {
            leading: Some(self.leading.clone()),
            reader: None,
            slot: self.slot.clone(),
            buf: Vec::new(),
        };
        Box::pin(async move {
            // The declared length is enforced where the multipart body is assembled.
            let stream: BodyStream = Box::pin(lent);
            Ok(stream)
        })
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

    async fn collect(mut s: BodyStream) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(chunk) = std::future::poll_fn(|cx| s.as_mut().poll_next(cx)).await {
            out.extend_from_slice(&chunk?);
        }
        Ok(out)
    }

    #[test]
    fn a_reader_replays_only_while_none_of_its_bytes_were_read() {
        block_on(async {
            let (mut source, leading) =
                ReaderSource::new(io::Cursor::new(b"%PDF-1.7 rest of file".to_vec()))
                    .await
                    .unwrap();
            assert_eq!(leading, b"%PDF-1.7");
            drop(source.open().await.unwrap());
            assert!(
                source.can_replay(),
                "an unread attempt gives the reader back"
            );
            let all = collect(source.open().await.unwrap()).await.unwrap();
            assert_eq!(all, b"%PDF-1.7 rest of file");
            assert!(!source.can_replay());
        });
    }

    #[test]
    fn exact_refuses_short_and_long_sources() {
        block_on(async {
            let ok = collect(Box::pin(exact(io::Cursor::new(b"abc".to_vec()), 3))).await;
            assert_eq!(ok.unwrap(), b"abc");
            let short = collect(Box::pin(exact(io::Cursor::new(b"ab".to_vec()), 3))).await;
            assert_eq!(short.unwrap_err().kind(), io::ErrorKind::InvalidData);
            let long = collect(Box::pin(exact(io::Cursor::new(b"abcd".to_vec()), 3))).await;
            assert_eq!(long.unwrap_err().kind(), io::ErrorKind::InvalidData);
        });
    }
}
