//! Where an upload's bytes come from: the second argument of both clients' one upload entry,
//! `client.upload(&upload, source)`.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

/// A function every attempt's reader goes through before it is sent (a progress display, a
/// checksum): each attempt reads the file from its start.
pub type Observe<R> = Arc<dyn Fn(R) -> R + Send + Sync>;

/// Where the bytes of an upload come from. `R` is the client's reader type (a boxed
/// `std::io::Read` for `kyc-ureq`, a boxed `tokio::io::AsyncRead` for `kyc-reqwest`); each client
/// names its own as `Source`, so `kyc_ureq::Source::path("selfie.jpg")` needs no type to be spelt.
///
/// - [`Source::bytes`]: held in memory; every retry is possible.
/// - [`Source::path`]: streamed from a file opened once; every attempt reads that same open file
///   from its start, and a file modified in place between attempts fails the call instead of
///   sending other bytes under the same idempotency key. The file name sent is the path's last
///   component unless the upload names one.
/// - [`Source::reader`]: streamed from a reader, read once: an attempt that failed after reading
///   from it is not retried (nor replayed after a `401`), whatever the retry policy says.
pub struct Source<R> {
    /// Where the bytes come from.
    pub from: SourceFrom<R>,
    /// What each attempt's reader goes through first (path and reader sources).
    pub observe: Option<Observe<R>>,
}

/// The kinds of [`Source`].
pub enum SourceFrom<R> {
    /// Bytes held in memory.
    Bytes(bytes::Bytes),
    /// A file, streamed.
    Path(PathBuf),
    /// A reader of exactly `len` bytes, streamed once.
    Reader {
        /// The reader.
        reader: R,
        /// How many bytes it yields.
        len: u64,
    },
}

impl<R> Source<R> {
    /// Bytes held in memory.
    pub fn bytes(bytes: impl Into<bytes::Bytes>) -> Self {
        Self::from(SourceFrom::Bytes(bytes.into()))
    }

    /// The file at `path`, streamed.
    pub fn path(path: impl Into<PathBuf>) -> Self {
        Self::from(SourceFrom::Path(path.into()))
    }

    /// Exactly `len` bytes read from `reader`, streamed once (a reader that yields more or fewer
    /// fails the call with `SourceErrorKind::LengthChanged`).
    pub fn reader(reader: R, len: u64) -> Self {
        Self::from(SourceFrom::Reader { reader, len })
    }

    /// Passes every attempt's reader through `observe` first.
    #[must_use]
    pub fn observed(mut self, observe: impl Fn(R) -> R + Send + Sync + 'static) -> Self {
        self.observe = Some(Arc::new(observe));
        self
    }

    fn from(from: SourceFrom<R>) -> Self {
        Self {
            from,
            observe: None,
        }
    }
}

impl<R> fmt::Debug for Source<R> {
    /// The kind and size, never the bytes (a document is personal data) nor the path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.from {
            SourceFrom::Bytes(bytes) => write!(f, "Source::Bytes({} bytes)", bytes.len()),
            SourceFrom::Path(_) => f.write_str("Source::Path"),
            SourceFrom::Reader { len, .. } => write!(f, "Source::Reader({len} bytes)"),
        }
    }
}

/// The name a file at `path` is sent under: its last component (empty when it has none).
#[must_use]
pub fn file_name_of(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
