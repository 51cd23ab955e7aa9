//! The transport seam: one async "send this request, give me the whole response" call. The
//! client's token, retry and upload logic is written once over [`Transport`]; [`ReqwestTransport`]
//! is the default, and any closure returning a future with the right output is a transport too.
//!
//! [`ReqwestTransport`]: crate::ReqwestTransport

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use kyc_core::{Body, FileContent, MultipartBody, RequestBody};

use crate::error::{SourceError, SourceErrorKind, TransportError};

/// A boxed, `Send` future, as [`Transport::send`] returns it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A boxed stream of body chunks, as a streamed [`SendBody`] holds it.
pub type BodyStream = Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Sends one request and returns the complete response: its status, every header and every body
/// byte, whatever the status (a `404` or `503` is a response, not an error).
///
/// The request carries an [`AttemptTimeout`] in its extensions: the time this attempt may take,
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

/// The time one attempt may take (connect, send, receive the whole response), found in each
/// request's extensions. Already capped by the remaining time of the call's overall deadline.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AttemptTimeout(pub Duration);

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
        let how = if self.is_streamed() {
            "streamed"
        } else {
            "bytes"
        };
        write!(f, "SendBody({} bytes, {how})", self.len)
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

/// A core request body the client can send: JSON bytes ([`Body`]) or a multipart upload
/// ([`MultipartBody`]), whose file part may be streamed.
pub trait IntoSendBody: RequestBody + Send {
    /// Whether the body's file content must be supplied as a stream.
    fn needs_stream(&self) -> bool;

    /// Converts the body, taking streamed file content from `file`.
    ///
    /// # Errors
    ///
    /// [`SourceErrorKind::Missing`] when the content is streamed and `file` is `None`.
    fn into_send_body(self, file: Option<BodyStream>) -> Result<SendBody, SourceError>;
}

impl IntoSendBody for Body {
    fn needs_stream(&self) -> bool {
        false
    }

    fn into_send_body(self, _: Option<BodyStream>) -> Result<SendBody, SourceError> {
        Ok(SendBody::from_bytes(self.into_bytes()))
    }
}

impl IntoSendBody for MultipartBody {
    fn needs_stream(&self) -> bool {
        matches!(self.content(), FileContent::Stream { .. })
    }

    fn into_send_body(self, file: Option<BodyStream>) -> Result<SendBody, SourceError> {
        let len = self.content_length();
        let head = Bytes::copy_from_slice(self.head());
        let tail = Bytes::copy_from_slice(self.tail());
        let middle: BodyStream = match self.content() {
            // In-memory content is shared, never copied into a second buffer.
            FileContent::Bytes(bytes) => Box::pin(Once(Some(bytes.clone()))),
            content => {
                let inner =
                    file.ok_or_else(|| SourceError::new(SourceErrorKind::Missing, None, None))?;
                Box::pin(LengthChecked {
                    inner,
                    remaining: content.len(),
                    done: false,
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

/// Passes a stream through, failing with [`io::ErrorKind::InvalidData`] when it yields more or
/// fewer bytes than declared, so the body never disagrees with `Content-Length`.
struct LengthChecked {
    inner: BodyStream,
    remaining: u64,
    done: bool,
}

impl Stream for LengthChecked {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        let fail = |what: &str| Some(Err(io::Error::new(io::ErrorKind::InvalidData, what)));
        match self.inner.as_mut().poll_next(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                self.done = true;
                if self.remaining == 0 {
                    Poll::Ready(None)
                } else {
                    Poll::Ready(fail("the file ended before its declared length"))
                }
            }
            Poll::Ready(Some(Ok(chunk))) => match self.remaining.checked_sub(chunk.len() as u64) {
                Some(left) => {
                    self.remaining = left;
                    Poll::Ready(Some(Ok(chunk)))
                }
                None => {
                    self.done = true;
                    Poll::Ready(fail("the file is longer than its declared length"))
                }
            },
            Poll::Ready(Some(Err(e))) => {
                self.done = true;
                Poll::Ready(Some(Err(e)))
            }
        }
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

/// Where a watched stream leaves its first error.
#[derive(Clone, Default)]
pub(crate) struct SourceCell(Arc<Mutex<Option<io::Error>>>);

impl SourceCell {
    pub(crate) fn take(&self) -> Option<io::Error> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    fn put(&self, e: &io::Error) {
        let mut slot = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(io::Error::new(e.kind(), e.to_string()));
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
    use crate::upload::exact;
    use kyc_core::{Config, DocumentType, Endpoint, Environment, IdempotencyKey, UploadFile};

    fn multipart(upload: &UploadFile) -> MultipartBody {
        let config = Config::new(Environment::Sandbox).unwrap();
        let key = IdempotencyKey::from_random_bytes([1; 16]);
        upload.body(&config, Some(&key)).unwrap().1
    }

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn a_streamed_upload_yields_head_file_and_tail_with_the_declared_length() {
        let file = b"\xFF\xD8\xFFjpeg-bytes".to_vec();
        let upload = UploadFile::from_stream(
            "iss-1",
            "usr-1",
            DocumentType::Selfie,
            "s.jpg",
            &file,
            file.len() as u64,
        );
        let body = multipart(&upload);
        assert!(body.needs_stream());
        assert!(matches!(
            body.clone().into_send_body(None),
            Err(e) if e.kind() == SourceErrorKind::Missing
        ));
        let expected = body.content_length();
        let whole = {
            let mut v = body.head().to_vec();
            v.extend_from_slice(&file);
            v.extend_from_slice(body.tail());
            v
        };
        let stream = exact(std::io::Cursor::new(file.clone()), file.len() as u64);
        let send = body.into_send_body(Some(Box::pin(stream))).unwrap();
        assert!(send.is_streamed());
        assert_eq!(send.len(), expected);
        assert_eq!(block_on(send.into_bytes()).unwrap(), whole);
    }

    #[test]
    fn a_watched_stream_reports_a_short_source_in_the_cell() {
        let upload = UploadFile::from_stream(
            "iss-1",
            "usr-1",
            DocumentType::Selfie,
            "s.jpg",
            b"\xFF\xD8\xFF",
            100,
        );
        let stream = exact(std::io::Cursor::new(b"\xFF\xD8\xFF".to_vec()), 100);
        let body = multipart(&upload)
            .into_send_body(Some(Box::pin(stream)))
            .unwrap();
        let cell = SourceCell::default();
        let err = block_on(body.watched(&cell).into_bytes()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(cell.take().unwrap().kind(), io::ErrorKind::InvalidData);
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
        let expected = body.clone().into_bytes().unwrap();
        let send = body.into_send_body(None).unwrap();
        assert_eq!(send.len(), expected.len() as u64);
        assert_eq!(block_on(send.into_bytes()).unwrap(), expected);
    }
}
