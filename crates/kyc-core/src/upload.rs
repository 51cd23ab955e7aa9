//! Upload file (decision 3): one `multipart/form-data` request per document, one part named `file`
//! with its file name and a content type detected from the file's leading bytes.

use http::header::HeaderValue;
use http::{HeaderMap, Method, StatusCode};
use sha2::{Digest, Sha256};

use crate::body::{FileContent, MultipartBody};
use crate::config::Config;
use crate::endpoint::{self, Endpoint, IdempotencyKey, encode_segment};
use crate::enums::{Country, DocumentType};
use crate::error::{Error, InvalidInput};
use crate::model::{FileInfo, SessionId};

/// The file formats Pomelo's identity uploads accept (decision 3).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
#[non_exhaustive]
pub enum FileKind {
    /// `image/jpeg`: starts with `FF D8 FF`.
    Jpeg,
    /// `image/png`: starts with `89 50 4E 47 0D 0A 1A 0A`.
    Png,
    /// `application/pdf`: starts with `%PDF-`.
    Pdf,
}

impl FileKind {
    /// How many leading bytes [`FileKind::detect`] needs at most.
    pub const SNIFF_LEN: usize = 8;

    /// Detects the format from the file's first bytes; `None` for anything else.
    #[must_use]
    pub fn detect(leading: &[u8]) -> Option<Self> {
        if leading.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(FileKind::Jpeg)
        } else if leading.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
            Some(FileKind::Png)
        } else if leading.starts_with(b"%PDF-") {
            Some(FileKind::Pdf)
        } else {
            None
        }
    }

    /// The MIME type.
    #[must_use]
    pub fn mime(self) -> &'static str {
        match self {
            FileKind::Jpeg => "image/jpeg",
            FileKind::Png => "image/png",
            FileKind::Pdf => "application/pdf",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            FileKind::Jpeg => "jpg",
            FileKind::Png => "png",
            FileKind::Pdf => "pdf",
        }
    }
}

/// `POST /identity/v1/sessions/{session_id}/entities/{entity_id}/files/{type_document}`.
///
/// Build it from bytes in memory ([`UploadFile::from_bytes`]) or from the first bytes and the
/// length of a file that the adapter will stream ([`UploadFile::from_stream`]). Empty files, files
/// over [`Config::max_upload_bytes`], formats other than JPEG, PNG and PDF, and document types the
/// reference does not allow for the [`UploadFile::country`] given are refused before sending.
#[derive(Clone, PartialEq, Eq)]
pub struct UploadFile {
    session_id: SessionId,
    entity_id: String,
    document_type: DocumentType,
    file_name: String,
    kind: Option<FileKind>,
    content: FileContent,
    country: Option<Country>,
    kyb: bool,
    key: Option<IdempotencyKey>,
    content_type: Option<String>,
}

impl std::fmt::Debug for UploadFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UploadFile")
            .field("session_id", &self.session_id)
            .field("entity_id", &self.entity_id)
            .field("document_type", &self.document_type)
            .field("file_name", &crate::secret::Redacted(Some(&self.file_name)))
            .field("kind", &self.kind)
            .field("content", &self.content)
            .field("country", &self.country)
            .field("kyb", &self.kyb)
            .field("key", &self.key)
            .field("content_type", &self.content_type)
            .finish()
    }
}

impl UploadFile {
    /// An upload of a document of `entity_id` (the person, or the company or a partner of a KYB
    /// session) to `session_id`, whose file is not given yet: the clients' `upload(&upload,
    /// source)` takes it from a source (bytes, a path or a reader); your own adapter sets it with
    /// [`UploadFile::with_bytes`] or [`UploadFile::with_stream`]. Sent as it is, it is refused as
    /// an empty file.
    pub fn new(
        session_id: impl Into<SessionId>,
        entity_id: impl Into<String>,
        document_type: DocumentType,
    ) -> Self {
        Self::from_bytes(
            session_id,
            entity_id,
            document_type,
            String::new(),
            bytes::Bytes::new(),
        )
    }

    /// The same upload of `bytes`, held in memory.
    #[must_use]
    pub fn with_bytes(mut self, bytes: impl Into<bytes::Bytes>) -> Self {
        let bytes = bytes.into();
        self.kind = FileKind::detect(&bytes);
        self.content = FileContent::Bytes(bytes);
        self
    }

    /// The same upload of a file of exactly `len` bytes whose first bytes are `leading` (at
    /// least [`FileKind::SNIFF_LEN`] of them, or the whole file if shorter), streamed by the
    /// adapter with [`MultipartBody::into_reader`].
    #[must_use]
    pub fn with_stream(mut self, leading: &[u8], len: u64) -> Self {
        self.kind = FileKind::detect(leading);
        self.content = FileContent::Stream { len };
        self
    }

    /// Sends the file under `file_name` (its last path component; a name made of the document
    /// type and the format when it is empty).
    #[must_use]
    pub fn file_name(mut self, file_name: impl Into<String>) -> Self {
        self.file_name = file_name.into();
        self
    }

    /// Sends the file under `file_name` unless a name was given already (an adapter names a file
    /// streamed from a path after the path).
    #[must_use]
    pub fn file_name_or(self, file_name: impl Into<String>) -> Self {
        if self.file_name.is_empty() {
            self.file_name(file_name)
        } else {
            self
        }
    }

    /// An upload of `bytes`, held in memory.
    pub fn from_bytes(
        session_id: impl Into<SessionId>,
        entity_id: impl Into<String>,
        document_type: DocumentType,
        file_name: impl Into<String>,
        bytes: impl Into<bytes::Bytes>,
    ) -> Self {
        let bytes = bytes.into();
        Self {
            session_id: session_id.into(),
            entity_id: entity_id.into(),
            document_type,
            file_name: file_name.into(),
            kind: FileKind::detect(&bytes),
            content: FileContent::Bytes(bytes),
            country: None,
            kyb: false,
            key: None,
            content_type: None,
        }
    }

    /// An upload of a file of exactly `len` bytes whose first bytes are `leading` (at least
    /// [`FileKind::SNIFF_LEN`] of them, or the whole file if shorter). The adapter streams the file
    /// with [`MultipartBody::into_reader`].
    pub fn from_stream(
        session_id: impl Into<SessionId>,
        entity_id: impl Into<String>,
        document_type: DocumentType,
        file_name: impl Into<String>,
        leading: &[u8],
        len: u64,
    ) -> Self {
        Self {
            session_id: session_id.into(),
            entity_id: entity_id.into(),
            document_type,
            file_name: file_name.into(),
            kind: FileKind::detect(leading),
            content: FileContent::Stream { len },
            country: None,
            kyb: false,
            key: None,
            content_type: None,
        }
    }

    /// The session's country: the document type is then checked against the reference's list for
    /// that country (for example, Argentina has no driver's licence).
    #[must_use]
    pub fn country(mut self, country: Country) -> Self {
        self.country = Some(country);
        self
    }

    /// Sends this key in `x-idempotency-key` on every attempt, instead of one drawn for the call
    /// (see [`CreateSession::idempotency_key`](crate::CreateSession::idempotency_key)).
    #[must_use]
    pub fn idempotency_key(mut self, key: IdempotencyKey) -> Self {
        self.key = Some(key);
        self
    }

    /// Sends the file with this content type (`type/subtype`, e.g. `image/heic`) instead of the
    /// one detected from its leading bytes, so that a format Pomelo may accept but this library
    /// does not recognise (HEIC from phones, WEBP) can be sent. The part's `Content-Type` is then
    /// exactly this value. Empty and oversized files are still refused.
    #[must_use]
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.content_type = Some(content_type.into());
        self
    }

    /// Marks the upload as part of a KYB session (allows `company-document`).
    #[must_use]
    pub fn kyb(mut self, kyb: bool) -> Self {
        self.kyb = kyb;
        self
    }

    /// The detected format, if the file is JPEG, PNG or PDF.
    #[must_use]
    pub fn kind(&self) -> Option<FileKind> {
        self.kind
    }

    /// Checks everything that can be checked before sending, and returns the part's content
    /// type: the one given with [`UploadFile::content_type`], or the one detected.
    ///
    /// # Errors
    ///
    /// [`InvalidInput::EmptyFile`], [`InvalidInput::FileTooLarge`],
    /// [`InvalidInput::UnsupportedFileType`] (not JPEG, PNG or PDF, and no content type given),
    /// [`InvalidInput::InvalidContentType`], [`InvalidInput::DocumentTypeNotAllowed`],
    /// [`InvalidInput::InvalidId`] or [`InvalidInput::Empty`].
    pub fn validate(&self, config: &Config) -> Result<&str, InvalidInput> {
        let size = self.content.len();
        if size == 0 {
            return Err(InvalidInput::EmptyFile);
        }
        if size > config.max_upload_bytes() {
            return Err(InvalidInput::FileTooLarge {
                size,
                limit: config.max_upload_bytes(),
            });
        }
        let mime = match &self.content_type {
            Some(given) if is_media_type(given) => given.as_str(),
            Some(_) => return Err(InvalidInput::InvalidContentType),
            None => self.kind.ok_or(InvalidInput::UnsupportedFileType)?.mime(),
        };
        if self.document_type.as_str().is_empty() {
            return Err(InvalidInput::Empty {
                what: "document type",
            });
        }
        if let Some(country) = &self.country {
            if !self.document_type.allowed_for(country, self.kyb) {
                return Err(InvalidInput::DocumentTypeNotAllowed {
                    document_type: self.document_type.to_string(),
                    country: country.to_string(),
                });
            }
        }
        Ok(mime)
    }

    /// The file name as it goes into `Content-Disposition`: the last path component, with quotes,
    /// back-slashes and control characters replaced; a default name when nothing is left.
    fn wire_file_name(&self) -> String {
        let base = self
            .file_name
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or_default();
        let cleaned = header_safe(base);
        let cleaned = cleaned.trim();
        if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
            // The document type is open (`DocumentType::Other` holds any text), so the default
            // name is cleaned too: a control character or quote in it would break the part's
            // headers (found by the `multipart_roundtrip` fuzz target).
            match self.kind {
                Some(kind) => header_safe(&format!("{}.{}", self.document_type, kind.extension())),
                None => header_safe(self.document_type.as_str()),
            }
        } else {
            cleaned.to_owned()
        }
    }
}

/// Whether `text` is a media type without parameters, `type/subtype`, each an RFC 9110 token.
fn is_media_type(text: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    };
    matches!(text.split_once('/'), Some((kind, sub)) if token(kind) && token(sub))
}

/// `text` with every character that could end or corrupt a quoted header parameter (quote,
/// back-slash, path separator, control character) replaced by `_`.
fn header_safe(text: &str) -> String {
    text.chars()
        .map(|c| {
            if matches!(c, '"' | '\\' | '/') || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// A boundary derived from the idempotency key, so every attempt of one logical call sends the same
/// bytes, and checked against in-memory content so it never occurs inside the file. (For a stream
/// the 128-bit value makes a collision a 2⁻¹²⁸ event.)
fn boundary(key: &IdempotencyKey, content: &FileContent) -> String {
    let mut counter = 0u32;
    loop {
        let digest = Sha256::new()
            .chain_update(key.as_str().as_bytes())
            .chain_update(counter.to_be_bytes())
            .finalize();
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        let candidate = format!("kyc-rs-{hex}");
        let clash = match content {
            FileContent::Bytes(bytes) => contains(bytes, candidate.as_bytes()),
            FileContent::Stream { .. } => false,
        };
        if !clash || counter == u32::MAX {
            return candidate;
        }
        counter += 1;
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

impl Endpoint for UploadFile {
    type Output = FileInfo;
    type Body = MultipartBody;
    const METHOD: Method = Method::POST;
    const CREATES: bool = true;

    fn idempotency_key(&self) -> Option<&IdempotencyKey> {
        self.key.as_ref()
    }

    fn path_and_query(&self, _: &Config) -> Result<String, InvalidInput> {
        Ok(format!(
            "/identity/v1/sessions/{}/entities/{}/files/{}",
            encode_segment("session id", self.session_id.as_str())?,
            encode_segment("entity id", &self.entity_id)?,
            encode_segment("document type", self.document_type.as_str())?,
        ))
    }

    fn body(
        &self,
        config: &Config,
        key: Option<&IdempotencyKey>,
    ) -> Result<(Option<HeaderValue>, MultipartBody), InvalidInput> {
        let mime = self.validate(config)?;
        let key = key.ok_or(InvalidInput::MissingIdempotencyKey)?;
        let boundary = boundary(key, &self.content);
        let head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{}\"\r\n\
             Content-Type: {}\r\n\r\n",
            self.wire_file_name(),
            mime
        );
        let tail = format!("\r\n--{boundary}--\r\n");
        let content_type =
            HeaderValue::try_from(format!("multipart/form-data; boundary={boundary}"))
                .map_err(|_| InvalidInput::InvalidHeaderValue { what: "boundary" })?;
        Ok((
            Some(content_type),
            MultipartBody {
                head: head.into_bytes(),
                content: self.content.clone(),
                tail: tail.into_bytes(),
            },
        ))
    }

    fn parse(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<FileInfo, Error> {
        endpoint::decode_optional_data(status, headers, body).map(Option::unwrap_or_default)
    }
}
