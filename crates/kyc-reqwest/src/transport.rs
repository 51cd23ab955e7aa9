//! The transport seam: one async "send this request, give me the whole response" call. The
//! client's token, retry and upload logic is written once over [`Transport`]; [`ReqwestTransport`]
//! is the default, and any closure returning a future with the right output is a transport too.
//!
//! [`ReqwestTransport`]: crate::ReqwestTransport

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::Stream;
use kyc_core::{FileContent, LengthCheck, OutgoingBody, RequestBody};
use tokio::io::{AsyncRead, ReadBuf};

use kyc_adapter::SourceCell;

use crate::{SourceError, SourceErrorKind, TransportError};

/// A boxed, `Send` future, as [`Transport::send`] returns it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A boxed stream of body chunks, as a streamed [`SendBody`] holds it.
pub type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Sends one request and returns the complete response: its status, every header and every body
/// byte, whatever the status (a `404` or `503` is a response, not an error).
///
/// The request carries an [`AttemptTimeout`](crate::AttemptTimeout) in its extensions: the time this attempt may take,
/// already shortened to the call's overall deadline. Respect it when the stack allows (the client
/// also stops waiting a little after it).
///
/// Closures are transports: any `Fn(http::Request<SendBody>) -> Fut` where `Fut` is a
/// `Future<Output = Result<http::Response<Vec<u8>>, E>> + Send` and `E: Into<TransportError>`
/// (for example [`TransportError`] or [`std::io::Error`]).
///
/// ```
/// use kyc_reqwest::{SendBody, Transport, TransportError};
///
/// let canned = |req: http::Request<SendBody>| async move {
///     assert_eq!(req.uri().path(), "/oauth/token");
///     Ok::<_, TransportError>(http::Response::builder().status(503).body(Vec::new()).unwrap())
/// };
/// let request = http::Request::post("https://h/oauth/token").body(SendBody::empty())?;
/// let runtime = tokio::runtime::Builder::new_current_thread().build()?;
/// let response = runtime.block_on(canned.send(request))?;
/// assert_eq!(response.status(), 503);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Transport: Send + Sync {
    /// Sends `request` and reads the whole response.
    ///
    /// # Errors
    ///
    /// A [`TransportError`] when no complete response arrived; say truthfully whether the request
    /// may have reached the server, since that decides whether a call without idempotency key is
    /// retried.
    fn send(
        &self,
        request: http::Request<SendBody>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>>;

    /// Whether this transport itself ends every exchange within the request's
    /// [`AttemptTimeout`](crate::AttemptTimeout), body included. When it does not (the default),
    /// the client also races each attempt against a timer and abandons it a little after its
    /// budget; [`ReqwestTransport`](crate::ReqwestTransport) does, and saves each attempt that
    /// second timer (with 256 tasks sharing one client on two workers, 0.90× → 0.91× of bare
    /// reqwest's requests per second, kyc-bench's `shared_clients`).
    fn bounds_attempts(&self) -> bool {
        false
    }
}

impl<F, Fut, E> Transport for F
where
    F: Fn(http::Request<SendBody>) -> Fut + Send + Sync,
    Fut: Future<Output = Result<http::Response<Vec<u8>>, E>> + Send + 'static,
    E: Into<TransportError>,
{
    fn send(
        &self,
        request: http::Request<SendBody>,
    ) -> BoxFuture<'_, Result<http::Response<Vec<u8>>, TransportError>> {
        let fut = self(request);
        Box::pin(async move { fut.await.map_err(Into::into) })
    }
}

/// A request body as a transport receives it: bytes in memory, or a stream of a known length (a
/// streamed upload). The length is also in the request's `Content-Length` header.
pub struct SendBody {
    inner: Inner,
    len: u64,
}

enum Inner {
    Bytes(Bytes),
    Stream(BodyStream),
}

impl SendBody {
    /// An empty body.
    #[must_use]
    pub fn empty() -> Self {
        Self::from_bytes(Bytes::new())
    }

    /// A body held in memory.
    #[must_use]
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        Self {
            len: bytes.len() as u64,
            inner: Inner::Bytes(bytes),
        }
    }

    /// A body that `stream` yields, exactly `len` bytes long.
    #[must_use]
    pub fn from_stream(
        stream: impl Stream<Item = io::Result<Bytes>> + Send + 'static,
        len: u64,
    ) -> Self {
        Self {
            inner: Inner::Stream(Box::pin(stream)),
            len,
        }
    }

    /// Number of bytes the body puts on the wire.
    #[must_use]
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether the body has no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes, when the body is held in memory (`None` for a streamed body).
    #[must_use]
    pub fn as_bytes(&self) -> Option<&Bytes> {
        match &self.inner {
            Inner::Bytes(b) => Some(b),
            Inner::Stream(_) => None,
        }
    }

    /// Whether the body is streamed.
    #[must_use]
    pub fn is_streamed(&self) -> bool {
        matches!(self.inner, Inner::Stream(_))
    }

    /// The whole body as a stream of chunks.
    #[must_use]
    pub fn into_stream(self) -> BodyStream {
        match self.inner {
            Inner::Bytes(b) => Box::pin(Once(Some(b))),
            Inner::Stream(s) => s,
        }
    }

    /// Reads the whole body into memory (for transports that need it whole, and for tests).
    ///
    /// # Errors
    ///
    /// The stream's error, for a streamed body whose source fails.
    pub async fn into_bytes(self) -> io::Result<Vec<u8>> {
        match self.inner {
            Inner::Bytes(b) => Ok(b.to_vec()),
            Inner::Stream(mut s) => {
                let mut out = Vec::new();
                while let Some(chunk) = std::future::poll_fn(|cx| s.as_mut().poll_next(cx)).await {
                    out.extend_from_slice(&chunk?);
                }
                Ok(out)
            }
        }
    }

    /// Routes the stream's failures into `cell`, so the client can tell a failing source from a
    /// failing connection whatever the transport makes of the error.
    pub(crate) fn watched(self, cell: &SourceCell) -> Self {
        match self.inner {
            Inner::Bytes(_) => self,
            Inner::Stream(inner) => Self {
                inner: Inner::Stream(Box::pin(Watched {
                    inner,
                    cell: cell.clone(),
                })),
                len: self.len,
            },
        }
    }
}

impl fmt::Debug for SendBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        kyc_adapter::debug_body(f, self.len, self.is_streamed())
    }
}

/// A stream of one chunk.
struct Once(Option<Bytes>);

impl Stream for Once {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.take().filter(|b| !b.is_empty()).map(Ok))
    }
}

/// Size of the chunks read from a file or reader.
const CHUNK: usize = 64 * 1024;

/// A reader of a streamed file part, as an upload source lends it to one attempt.
pub(crate) type FileReader = Box<dyn AsyncRead + Send + Unpin>;

impl SendBody {
    /// The body of a request the core built: JSON bytes as they are, a multipart upload as a
    /// stream of its head, its file (shared from memory, or read from `file`) and its tail. A file
    /// that yields more or fewer bytes than declared fails the stream with
    /// [`io::ErrorKind::InvalidData`] ([`kyc_core::LengthCheck`]), so the body never disagrees
    /// with `Content-Length`.
    ///
    /// # Errors
    ///
    /// [`SourceErrorKind::Missing`] when the file part is streamed and `file` is `None`.
    pub(crate) fn from_core(
        body: OutgoingBody,
        file: Option<FileReader>,
    ) -> Result<SendBody, SourceError> {
        let multipart = match body {
            OutgoingBody::Multipart(multipart) => multipart,
            other => return Ok(SendBody::from_bytes(other.into_vec(None)?)),
        };
        let len = multipart.content_length();
        let head = Bytes::copy_from_slice(multipart.head());
        let tail = Bytes::copy_from_slice(multipart.tail());
        let middle: BodyStream = match multipart.content() {
            // In-memory content is shared, never copied into a second buffer.
            FileContent::Bytes(bytes) => Box::pin(Once(Some(bytes.clone()))),
            content => {
                let reader =
                    file.ok_or_else(|| SourceError::new(SourceErrorKind::Missing, None, None))?;
                Box::pin(Checked {
                    reader: Some(reader),
                    check: LengthCheck::new(content.len()),
                    buf: Vec::new(),
                })
            }
        };
        Ok(SendBody::from_stream(
            Chain {
                parts: [
                    Box::pin(Once(Some(head))),
                    middle,
                    Box::pin(Once(Some(tail))),
                ],
                at: 0,
            },
            len,
        ))
    }
}

/// A file part read in chunks under kyc-core's exact-length rule.
struct Checked {
    /// `None` once the part ended (or failed).
    reader: Option<FileReader>,
    check: LengthCheck,
    buf: Vec<u8>,
}

impl Stream for Checked {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let Some(reader) = this.reader.as_mut() else {
            return Poll::Ready(None);
        };
        this.buf.resize(this.check.want(CHUNK), 0);
        let mut read = ReadBuf::new(&mut this.buf);
        let n = match Pin::new(reader).poll_read(cx, &mut read) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Err(e)) => {
                this.reader = None;
                return Poll::Ready(Some(Err(e)));
            }
            Poll::Ready(Ok(())) => read.filled().len(),
        };
        if let Err(e) = this.check.advance(n) {
            this.reader = None;
            return Poll::Ready(Some(Err(e)));
        }
        if n == 0 {
            this.reader = None;
            return Poll::Ready(None);
        }
        Poll::Ready(Some(Ok(Bytes::copy_from_slice(
            this.buf.get(..n).unwrap_or_default(),
        ))))
    }
}

/// Three streams one after the other.
struct Chain {
    parts: [BodyStream; 3],
    at: usize,
}

impl Stream for Chain {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let at = self.at;
            let Some(part) = self.parts.get_mut(at) else {
                return Poll::Ready(None);
            };
            match part.as_mut().poll_next(cx) {
                Poll::Ready(None) => self.at += 1,
                Poll::Ready(Some(Err(e))) => {
                    self.at = usize::MAX;
                    return Poll::Ready(Some(Err(e)));
                }
                other => return other,
            }
        }
    }
}

struct Watched {
    inner: BodyStream,
    cell: SourceCell,
}

impl Stream for Watched {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let polled = self.inner.as_mut().poll_next(cx);
        if let Poll::Ready(Some(Err(e))) = &polled {
            self.cell.put(e);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kyc_core::{Config, DocumentType, Endpoint, Environment, IdempotencyKey, UploadFile};

    fn multipart(upload: &UploadFile) -> OutgoingBody {
        let config = Config::new(Environment::Sandbox).unwrap();
        let key = IdempotencyKey::from_random_bytes([1; 16]);
        upload.body(&config, Some(&key)).unwrap().1.into()
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn file(bytes: &[u8]) -> Option<FileReader> {
        Some(Box::new(std::io::Cursor::new(bytes.to_vec())))
    }

    #[test]
    fn a_streamed_upload_is_head_file_and_tail_with_the_declared_length() {
        let bytes = b"\xFF\xD8\xFFjpeg-bytes".to_vec();
        let upload = UploadFile::from_stream(
            "iss-1",
            "usr-1",
            DocumentType::Selfie,
            "s.jpg",
            &bytes,
            bytes.len() as u64,
        );
        let body = multipart(&upload);
        assert!(matches!(
            SendBody::from_core(body.clone(), None),
            Err(e) if e.kind() == SourceErrorKind::Missing
        ));
        let expected = body.content_length();
        let send = SendBody::from_core(body.clone(), file(&bytes)).unwrap();
        assert!(send.is_streamed());
        assert_eq!(send.len(), expected);
        let whole = block_on(send.into_bytes()).unwrap();
        assert_eq!(whole.len() as u64, expected);
        let mut reference = Vec::new();
        std::io::Read::read_to_end(
            &mut match body {
                OutgoingBody::Multipart(m) => m.into_reader(std::io::Cursor::new(bytes)),
                _ => unreachable!(),
            },
            &mut reference,
        )
        .unwrap();
        assert_eq!(whole, reference, "the same bytes as the blocking reader");
    }

    #[test]
    fn a_file_shorter_or_longer_than_declared_fails_the_stream() {
        for actual in [&b"\xFF\xD8\xFF"[..], &[0xFF; 200][..]] {
            let upload = UploadFile::from_stream(
                "iss-1",
                "usr-1",
                DocumentType::Selfie,
                "s.jpg",
                b"\xFF\xD8\xFF",
                100,
            );
            let body = SendBody::from_core(multipart(&upload), file(actual)).unwrap();
            let cell = SourceCell::default();
            let err = block_on(body.watched(&cell).into_bytes()).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidData);
            assert_eq!(cell.take().unwrap().kind(), io::ErrorKind::InvalidData);
        }
    }

    #[test]
    fn in_memory_multipart_is_sent_whole() {
        let upload = UploadFile::from_bytes(
            "iss-1",
            "usr-1",
            DocumentType::Selfie,
            "s.jpg",
            b"\xFF\xD8\xFF rest".to_vec(),
        );
        let body = multipart(&upload);
        let expected = body.clone().into_vec(None).unwrap();
        let send = SendBody::from_core(body, None).unwrap();
        assert_eq!(send.len(), expected.len() as u64);
        assert_eq!(block_on(send.into_bytes()).unwrap(), expected);
    }
}
