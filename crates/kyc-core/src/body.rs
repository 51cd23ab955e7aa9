//! Request bodies whose `Debug` shows their length, never their bytes: a token request carries the
//! client secret and a create-session request carries personal data.

use std::fmt;
use std::io::{self, Read};

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
        let (inline, remaining, streamed) = match self.content {
            FileContent::Bytes(bytes) => (bytes, 0, false),
            FileContent::Stream { len } => (bytes::Bytes::new(), len, true),
        };
        MultipartReader {
            head: io::Cursor::new(self.head),
            inline: io::Cursor::new(inline),
            file,
            remaining,
            tail: io::Cursor::new(self.tail),
            checked_end: !streamed,
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
    remaining: u64,
    tail: io::Cursor<Vec<u8>>,
    checked_end: bool,
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
        if self.remaining > 0 {
            let want = usize::try_from(self.remaining)
                .unwrap_or(usize::MAX)
                .min(buf.len());
            let slot = buf.get_mut(..want).unwrap_or_default();
            let n = self.file.read(slot)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the file ended before its declared length",
                ));
            }
            self.remaining -= n as u64;
            return Ok(n);
        }
        if !self.checked_end {
            let mut probe = [0u8; 1];
            if self.file.read(&mut probe)? != 0 {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "the file is longer than its declared length",
                ));
            }
            self.checked_end = true;
        }
        self.tail.read(buf)
    }
}
