//! The transport seam: one blocking "send this request, give me the whole response" call. The
//! client's token, retry and upload logic is written once over [`Transport`]; [`UreqTransport`]
//! is the default, and any closure with the right signature is a transport too.
//!
//! [`UreqTransport`]: crate::UreqTransport

use std::fmt;
use std::io::{self, Read};

use kyc_core::{FileContent, OutgoingBody, RequestBody};

use kyc_adapter::SourceCell;

use crate::{SourceError, SourceErrorKind, TransportError};

/// Sends one request and returns the complete response: its status, every header and every body
/// byte, whatever the status (a `404` or `503` is a response, not an error).
///
/// The request carries an [`AttemptTimeout`](crate::AttemptTimeout) in its extensions: the time this attempt may take,
/// already shortened to the call's overall deadline. Respect it whole (connect, send, response
/// head and body together): the client cannot interrupt a blocking transport.
///
/// Closures are transports: any `Fn(http::Request<SendBody>) -> Result<http::Response<Vec<u8>>, E>`
/// with `E: Into<TransportError>` (for example [`TransportError`] or [`std::io::Error`]).
///
/// ```
/// use kyc_ureq::{SendBody, Transport, TransportError};
///
/// let canned = |req: http::Request<SendBody>| -> Result<http::Response<Vec<u8>>, TransportError> {
///     assert_eq!(req.uri().path(), "/oauth/token");
///     Ok(http::Response::builder().status(503).body(Vec::new()).unwrap())
/// };
/// let response = canned.send(http::Request::post("https://h/oauth/token").body(SendBody::empty()).unwrap())?;
/// assert_eq!(response.status(), 503);
/// # Ok::<(), TransportError>(())
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
    ) -> Result<http::Response<Vec<u8>>, TransportError>;
}

impl<F, E> Transport for F
where
    F: Fn(http::Request<SendBody>) -> Result<http::Response<Vec<u8>>, E> + Send + Sync,
    E: Into<TransportError>,
{
    fn send(
        &self,
        request: http::Request<SendBody>,
    ) -> Result<http::Response<Vec<u8>>, TransportError> {
        self(request).map_err(Into::into)
    }
}

/// A request body as a transport receives it: bytes in memory, or a reader of a known length
/// (a streamed upload). The length is also in the request's `Content-Length` header.
pub struct SendBody {
    inner: Inner,
    len: u64,
}

enum Inner {
    Bytes(Vec<u8>),
    Reader(Box<dyn Read + Send>),
}

impl SendBody {
    /// An empty body.
    #[must_use]
    pub fn empty() -> Self {
        Self::from_bytes(Vec::new())
    }

    /// A body held in memory.
    #[must_use]
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self {
            len: bytes.len() as u64,
            inner: Inner::Bytes(bytes),
        }
    }

    /// A body that `reader` yields, exactly `len` bytes long.
    #[must_use]
    pub fn from_reader(reader: impl Read + Send + 'static, len: u64) -> Self {
        Self {
            inner: Inner::Reader(Box::new(reader)),
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
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match &self.inner {
            Inner::Bytes(b) => Some(b),
            Inner::Reader(_) => None,
        }
    }

    /// Whether the body is streamed from a reader.
    #[must_use]
    pub fn is_streamed(&self) -> bool {
        matches!(self.inner, Inner::Reader(_))
    }

    /// A reader over the whole body.
    #[must_use]
    pub fn into_reader(self) -> Box<dyn Read + Send> {
        match self.inner {
            Inner::Bytes(b) => Box::new(io::Cursor::new(b)),
            Inner::Reader(r) => r,
        }
    }

    /// Reads the whole body into memory (for transports that need it whole, and for tests).
    ///
    /// # Errors
    ///
    /// The reader's error, for a streamed body whose source fails.
    pub fn into_bytes(self) -> io::Result<Vec<u8>> {
        match self.inner {
            Inner::Bytes(b) => Ok(b),
            Inner::Reader(mut r) => {
                let mut out = Vec::new();
                r.read_to_end(&mut out)?;
                Ok(out)
            }
        }
    }

    /// Routes the reader's failures into `cell`, so the client can tell a failing source from a
    /// failing connection whatever the transport makes of the error.
    pub(crate) fn watched(self, cell: &SourceCell) -> Self {
        match self.inner {
            Inner::Bytes(_) => self,
            Inner::Reader(inner) => Self {
                inner: Inner::Reader(Box::new(Watched {
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

impl SendBody {
    /// The body of a request the core built: JSON bytes as they are, a multipart upload as a
    /// reader over its head, its file (from memory, or read from `stream`) and its tail, with its
    /// exact length (a stream that yields more or fewer bytes fails, see
    /// [`kyc_core::MultipartReader`]).
    ///
    /// # Errors
    ///
    /// [`SourceErrorKind::Missing`] when the file part is streamed and `stream` is `None`.
    pub fn from_core(
        body: OutgoingBody,
        stream: Option<Box<dyn Read + Send>>,
    ) -> Result<SendBody, SourceError> {
        let multipart = match body {
            OutgoingBody::Multipart(multipart) => multipart,
            other => {
                let bytes = other.into_vec(None)?;
                return Ok(SendBody::from_bytes(bytes));
            }
        };
        let len = multipart.content_length();
        let file: Box<dyn Read + Send> = match multipart.content() {
            // In-memory content is read from the shared bytes, never copied into a second buffer.
            FileContent::Bytes(_) => Box::new(io::empty()),
            _ => stream.ok_or_else(|| SourceError::new(SourceErrorKind::Missing, None, None))?,
        };
        Ok(SendBody::from_reader(multipart.into_reader(file), len))
    }
}

struct Watched {
    inner: Box<dyn Read + Send>,
    cell: SourceCell,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).inspect_err(|e| {
            if e.kind() != io::ErrorKind::Interrupted {
                self.cell.put(e);
            }
        })
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

    #[test]
    fn a_streamed_upload_reads_head_file_and_tail_with_the_declared_length() {
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
            SendBody::from_core(body.clone(), None),
            Err(e) if e.kind() == SourceErrorKind::Missing
        ));
        let expected = body.content_length();
        let send = SendBody::from_core(body, Some(Box::new(io::Cursor::new(file)))).unwrap();
        assert!(send.is_streamed());
        assert_eq!(send.len(), expected);
        let bytes = send.into_bytes().unwrap();
        assert_eq!(bytes.len() as u64, expected);
        assert!(
            bytes
                .windows(11)
                .any(|w| w == b"jpeg-bytes\r".get(..11).unwrap())
        );
    }

    #[test]
    fn a_watched_reader_reports_its_failure_in_the_cell() {
        let upload = UploadFile::from_stream(
            "iss-1",
            "usr-1",
            DocumentType::Selfie,
            "s.jpg",
            b"\xFF\xD8\xFF",
            100,
        );
        let body = SendBody::from_core(
            multipart(&upload),
            Some(Box::new(io::Cursor::new(b"\xFF\xD8\xFF".to_vec()))),
        )
        .unwrap();
        let cell = SourceCell::default();
        let err = body.watched(&cell).into_bytes().unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        assert_eq!(cell.take().unwrap().kind(), io::ErrorKind::InvalidData);
    }
}
