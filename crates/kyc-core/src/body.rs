//! Request bodies whose `Debug` shows their length, never their bytes: a token request carries the
//! client secret and a create-session request carries personal data.

use std::fmt;
use std::io::{self, Read};

use crate::exchange::{SourceError, SourceErrorKind};

/// A complete request body held in memory (JSON, or an empty body).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Body(Vec<u8>);

impl Body {
    /// An empty body.
    #[must_use]
    pub fn empty() -> Self {
        Self(Vec::new())
    }

    /// The body's bytes, to hand to an HTTP client.
    #[must_use]
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// Number of bytes.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the body has no bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Vec<u8>> for Body {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Body({} bytes)", self.0.len())
    }
}

/// The length of a request body in bytes, known before it is sent (it becomes `Content-Length`).
pub trait RequestBody {
    /// Number of bytes the body will put on the wire.
    fn content_length(&self) -> u64;
}

impl RequestBody for Body {
    fn content_length(&self) -> u64 {
        self.0.len() as u64
    }
}

/// Where the file bytes of a multipart upload come from.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FileContent {
    /// Held in memory; cloning it (once per attempt) shares the bytes instead of copying them.
    Bytes(bytes::Bytes),
    /// Supplied by the caller as a stream of exactly `len` bytes when the request is sent
    /// (see [`MultipartBody::into_reader`]).
    Stream {
        /// Exact number of bytes the stream must yield.
        len: u64,
    },
}

impl FileContent {
    /// Number of file bytes.
    #[must_use]
    pub fn len(&self) -> u64 {
        match self {
            FileContent::Bytes(bytes) => bytes.len() as u64,
            FileContent::Stream { len } => *len,
        }
    }

    /// Whether there are no file bytes.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for FileContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileContent::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            FileContent::Stream { len } => write!(f, "Stream({len} bytes)"),
        }
    }
}

/// A `multipart/form-data` body with one file part: the part's head, the file bytes, the closing
/// delimiter. Built by [`crate::UploadFile`]; an adapter sends it either whole
/// ([`MultipartBody::into_bytes`]) or streamed from a reader ([`MultipartBody::into_reader`]) so a
/// large file is never held in memory twice.
#[derive(Clone, PartialEq, Eq)]
pub struct MultipartBody {
    pub(crate) head: Vec<u8>,
    pub(crate) content: FileContent,
    pub(crate) tail: Vec<u8>,
}

impl MultipartBody {
    /// Bytes before the file content (boundary, part headers, blank line).
    #[must_use]
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    /// Where the file bytes come from.
    #[must_use]
    pub fn content(&self) -> &FileContent {
        &self.content
    }

    /// Bytes after the file content (CRLF and closing delimiter).
    #[must_use]
    pub fn tail(&self) -> &[u8] {
        &self.tail
    }

    /// The whole body in memory, for file content held in memory.
    ///
    /// # Errors
    ///
    /// Returns the body unchanged when its content is a [`FileContent::Stream`]: use
    /// [`MultipartBody::into_reader`] for those.
    pub fn into_bytes(self) -> Result<Vec<u8>, MultipartBody> {
        match self.content {
            FileContent::Bytes(bytes) => {
                let mut out = self.head;
                out.reserve(bytes.len() + self.tail.len());
                out.extend_from_slice(&bytes);
                out.extend_from_slice(&self.tail);
                Ok(out)
            }
            FileContent::Stream { .. } => Err(self),
        }
    }

    /// A reader over the whole body: head, then the file bytes, then the tail.
    ///
    /// For [`FileContent::Bytes`] `file` is not read (pass [`std::io::empty()`]). For
    /// [`FileContent::Stream`] the reader yields exactly the declared length from `file` and fails
    /// with [`io::ErrorKind::InvalidData`] if `file` ends early or holds more bytes, so a file that
    /// changed since it was measured can never produce a body that disagrees with `Content-Length`.
    pub fn into_reader<R: Read>(self, file: R) -> MultipartReader<R> {
        let (inline, check) = match self.content {
            FileContent::Bytes(bytes) => (bytes, None),
            FileContent::Stream { len } => (bytes::Bytes::new(), Some(LengthCheck::new(len))),
        };
        MultipartReader {
            head: io::Cursor::new(self.head),
            inline: io::Cursor::new(inline),
            file,
            check,
            tail: io::Cursor::new(self.tail),
        }
    }
}

impl RequestBody for MultipartBody {
    fn content_length(&self) -> u64 {
        self.head.len() as u64 + self.content.len() + self.tail.len() as u64
    }
}

impl fmt::Debug for MultipartBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MultipartBody")
            .field("content", &self.content)
            .field("content_length", &self.content_length())
            .finish()
    }
}

/// Reads a [`MultipartBody`] front to back; see [`MultipartBody::into_reader`].
#[derive(Debug)]
pub struct MultipartReader<R> {
    head: io::Cursor<Vec<u8>>,
    inline: io::Cursor<bytes::Bytes>,
    file: R,
    /// The length rule of a streamed file part (`None` for content held in memory).
    check: Option<LengthCheck>,
    tail: io::Cursor<Vec<u8>>,
}

impl<R: Read> Read for MultipartReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.head.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        let n = self.inline.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        if let Some(check) = &mut self.check {
            if !check.is_complete() {
                let want = check.want(buf.len());
                let slot = buf.get_mut(..want).unwrap_or_default();
                let n = self.file.read(slot)?;
                check.advance(n)?;
                if n > 0 {
                    return Ok(n);
                }
            }
        }
        self.tail.read(buf)
    }
}

/// The exact-length rule of a streamed file part: its source must yield exactly the length the
/// body declared in `Content-Length`, so a file that changed since it was measured never produces
/// a body that disagrees with its headers. [`MultipartReader`] applies it to a `Read`; an async
/// adapter applies it to its own stream with the same calls.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LengthCheck {
    remaining: u64,
    complete: bool,
}

impl LengthCheck {
    /// A source declared `len` bytes long.
    #[must_use]
    pub fn new(len: u64) -> Self {
        Self {
            remaining: len,
            complete: false,
        }
    }

    /// Bytes still expected.
    #[must_use]
    pub fn remaining(&self) -> u64 {
        self.remaining
    }

    /// Whether the source ended exactly at its declared length.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// How many bytes to ask the source for next, with room for `capacity`: at most what remains,
    /// and one byte once nothing remains, to find out whether the source is longer than declared.
    #[must_use]
    pub fn want(&self, capacity: usize) -> usize {
        if self.remaining == 0 {
            1.min(capacity)
        } else {
            usize::try_from(self.remaining)
                .unwrap_or(usize::MAX)
                .min(capacity)
        }
    }

    /// Counts `n` bytes just read from the source (`0`: the source ended).
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::InvalidData`] when the source ended before its declared length or holds
    /// more bytes.
    pub fn advance(&mut self, n: usize) -> io::Result<()> {
        let invalid = |what| Err(io::Error::new(io::ErrorKind::InvalidData, what));
        match (n, self.remaining) {
            (0, 0) => {
                self.complete = true;
                Ok(())
            }
            (0, _) => invalid("the file ended before its declared length"),
            (n, remaining) => match remaining.checked_sub(n as u64) {
                Some(left) if remaining > 0 => {
                    self.remaining = left;
                    Ok(())
                }
                _ => invalid("the file is longer than its declared length"),
            },
        }
    }
}

/// A request body as [`Next::Send`](crate::Next::Send) hands it to the adapter.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum OutgoingBody {
    /// Bytes held in memory: JSON, or nothing.
    Full(Body),
    /// A multipart upload. Its file part is held in memory, or must be streamed from the
    /// adapter's source ([`OutgoingBody::needs_stream`]).
    Multipart(MultipartBody),
}

impl OutgoingBody {
    /// Whether the file part must be supplied as a stream when the request is sent.
    #[must_use]
    pub fn needs_stream(&self) -> bool {
        matches!(
            self,
            OutgoingBody::Multipart(m) if matches!(m.content(), FileContent::Stream { .. })
        )
    }

    /// The whole body in memory, reading a streamed file part from `stream` (exactly its declared
    /// length), for HTTP stacks that take a body whole.
    ///
    /// # Errors
    ///
    /// [`SourceErrorKind::Missing`](crate::SourceErrorKind::Missing) when the file part is
    /// streamed and `stream` is `None`; otherwise the stream's failure as
    /// [`SourceError::while_sending`].
    pub fn into_vec(self, stream: Option<&mut dyn Read>) -> Result<Vec<u8>, SourceError> {
        match self {
            OutgoingBody::Full(body) => Ok(body.into_bytes()),
            OutgoingBody::Multipart(multipart) => match multipart.into_bytes() {
                Ok(bytes) => Ok(bytes),
                Err(multipart) => {
                    let stream = stream
                        .ok_or_else(|| SourceError::new(SourceErrorKind::Missing, None, None))?;
                    let mut out = Vec::new();
                    multipart
                        .into_reader(stream)
                        .read_to_end(&mut out)
                        .map_err(|e| SourceError::while_sending(e, None))?;
                    Ok(out)
                }
            },
        }
    }
}

impl RequestBody for OutgoingBody {
    fn content_length(&self) -> u64 {
        match self {
            OutgoingBody::Full(body) => body.content_length(),
            OutgoingBody::Multipart(multipart) => multipart.content_length(),
        }
    }
}

impl From<Body> for OutgoingBody {
    fn from(body: Body) -> Self {
        OutgoingBody::Full(body)
    }
}

impl From<MultipartBody> for OutgoingBody {
    fn from(body: MultipartBody) -> Self {
        OutgoingBody::Multipart(body)
    }
}
