//! What the API returns: sessions, steps, files, reports, pages. Pomelo does not publish these
//! schemas (reference §12), so the models are tolerant readers: only what an operation cannot
//! work without is required (the session id), every other member may be absent or `null`, numbers
//! accept any JSON number and keep its exact value ([`Number`]: Pomelo's own report example has a
//! file `size` of `0.00085`), lists accept `null`, and members this version does not know stay in
//! `extra`. Serialising a model writes back only the members that were present (absent optional
//! members are skipped, not written as `null`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};
pub use serde_json::Number;

use crate::enums::{Country, DocumentType, FlowType, IntegrationMethod, SessionStatus, StepStatus};
use crate::kyb::{CompanyData, DocumentationProof, DocumentationRequest, ReportPartner};
use crate::secret::Redacted;
use crate::time::Timestamp;

/// A list that may be absent or `null`: both read as empty.
pub(crate) fn list<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// A JSON number as a count: its value when it is a whole number from 0 to `u64::MAX` (`3` or
/// `3.0`), `None` for anything else (`-1`, `2.5`).
#[must_use]
pub fn whole(number: &Number) -> Option<u64> {
    number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= u64::MAX as f64)
            .map(|f| f as u64)
    })
}

/// Members of a JSON object this version does not model, kept as received. `Debug` prints only
/// their names: their values may be personal data.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Extra(pub serde_json::Map<String, serde_json::Value>);

impl Extra {
    /// A member by name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.get(name)
    }

    /// Whether there are no extra members.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Extra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

/// A JSON string or number, kept as received: for members Pomelo shows as text that a server may
/// well send as a number (a street or procedure number, an activity code), and the other way
/// round; any other JSON value is kept too ([`Scalar::Other`]), so that an address member sent
/// as `false` or as an object still reads. `Display` writes the text, or the value as JSON
/// writes it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[non_exhaustive]
pub enum Scalar {
    /// A JSON string.
    Text(String),
    /// A JSON number, exactly as received.
    Number(Number),
    /// Any other JSON value (a boolean, an object, a list), as received.
    Other(serde_json::Value),
}

impl Scalar {
    /// The string, when it is one.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Text(text) => Some(text),
            Scalar::Number(_) | Scalar::Other(_) => None,
        }
    }
}

impl fmt::Display for Scalar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Text(text) => f.write_str(text),
            Scalar::Number(n) => fmt::Display::fmt(n, f),
            Scalar::Other(value) => fmt::Display::fmt(value, f),
        }
    }
}

impl fmt::Debug for Scalar {
    // Shown only by kind and length: these values are parts of addresses and documents.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Text(text) => write!(f, "Text([redacted, {} bytes])", text.len()),
            Scalar::Number(_) => f.write_str("Number([redacted])"),
            Scalar::Other(_) => f.write_str("Other([redacted])"),
        }
    }
}

impl From<&str> for Scalar {
    fn from(text: &str) -> Self {
        Scalar::Text(text.to_owned())
    }
}

impl From<String> for Scalar {
    fn from(text: String) -> Self {
        Scalar::Text(text)
    }
}

impl From<u64> for Scalar {
    fn from(n: u64) -> Self {
        Scalar::Number(n.into())
    }
}

/// A session id (`iss-…`, or a UUID for older sessions). Opaque.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(pub String);

impl SessionId {
    /// Wraps an id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for SessionId {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl From<String> for SessionId {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&String> for SessionId {
    fn from(s: &String) -> Self {
        Self(s.clone())
    }
}

/// The answer to create session (reference §5.1). `Debug` shows the id and times; the URL (which
/// opens the person's session) only by length.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SessionCreated {
    /// The new session's id.
    pub id: SessionId,
    /// Creation time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Expiry time, RFC 3339 (24 h after creation in every example).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_at: Option<Timestamp>,
    /// Where to send the person for the web flow (absent for KYB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An identity validation session. `Debug` shows ids, statuses and times; the reason and the URL
/// only by length (the crate's one `Debug` policy for personal data).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Session {
    /// The session id.
    pub id: SessionId,
    /// The person's user id (KYC and additional sessions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The company's id (`cmp-…`), for a KYB session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    /// The session status, if the answer carried one.
    ///
    /// An `Option` on purpose, although a webhook's
    /// [`SessionNotification::status`](crate::webhook::SessionNotification::status) is a plain
    /// value: Pomelo publishes no schema for a session read (reference §5.3; its Android demo
    /// reads only `user_id` and `operation_country`), and the same type reads search results,
    /// where a page may list sessions by their ids alone. A tolerant reader requires only what
    /// the operation cannot work without, the `id`, so a read without a status still succeeds and
    /// shows everything else. A notification, on the other hand, *is* a status change: a body
    /// without a status is not classified as one (it becomes
    /// [`Event::Other`](crate::webhook::Event::Other)), so the field is always there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SessionStatus>,
    /// Why the session was not validated, when it was not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The flow type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flow_type: Option<FlowType>,
    /// The country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Country>,
    /// The integration method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub integration_method: Option<IntegrationMethod>,
    /// Creation time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Last change, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Timestamp>,
    /// Expiry time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_at: Option<Timestamp>,
    /// The web-flow URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The checks the session runs (absent or `null`: none).
    #[serde(default, deserialize_with = "list")]
    pub steps: Vec<Step>,
    /// Documents uploaded so far (absent or `null`: none).
    #[serde(default, deserialize_with = "list")]
    pub files: Vec<FileInfo>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One check of a session (reference §6.1).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Step {
    /// The step's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The step's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StepStatus>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// An uploaded document, as listed in a session or returned by an upload. `Debug` shows the file
/// name only by length.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FileInfo {
    /// The file's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The session it belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_id: Option<SessionId>,
    /// The entity (user or company) it documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// The document type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_document: Option<DocumentType>,
    /// The file name sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// The content type sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// Size as the server gives it: bytes in the simulator and every KYC example; any JSON number
    /// is kept as is (Pomelo's KYB report example has `0.00085`). See [`FileInfo::size_bytes`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Number>,
    /// Upload time, RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

impl fmt::Debug for SessionCreated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCreated")
            .field("id", &self.id)
            .field("created_at", &self.created_at)
            .field("expiration_at", &self.expiration_at)
            .field("url", &Redacted(self.url.as_deref()))
            .field("extra", &self.extra)
            .finish()
    }
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .field("company_id", &self.company_id)
            .field("status", &self.status)
            .field("reason", &Redacted(self.reason.as_deref()))
            .field("flow_type", &self.flow_type)
            .field("country", &self.country)
            .field("integration_method", &self.integration_method)
            .field("created_at", &self.created_at)
            .field("updated_at", &self.updated_at)
            .field("expiration_at", &self.expiration_at)
            .field("url", &Redacted(self.url.as_deref()))
            .field("steps", &self.steps)
            .field("files", &self.files)
            .field("extra", &self.extra)
            .finish()
    }
}

impl fmt::Debug for Report {
    /// As [`Session`]'s: the reason by length; personal data by which members are set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("user_id", &self.user_id)
            .field("reason", &Redacted(self.reason.as_deref()))
            .field("personal_data", &self.personal_data)
            .field("steps", &self.steps)
            .field("files", &self.files)
            .field("company_data", &self.company_data)
            .field("documentation_request", &self.documentation_request)
            .field("documentation_proof", &self.documentation_proof)
            .field("partners", &self.partners)
            .field("extra", &self.extra)
            .finish()
    }
}

impl fmt::Debug for FileInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileInfo")
            .field("id", &self.id)
            .field("session_id", &self.session_id)
            .field("entity_id", &self.entity_id)
            .field("type_document", &self.type_document)
            .field("file_name", &Redacted(self.file_name.as_deref()))
            .field("content_type", &self.content_type)
            .field("size", &self.size)
            .field("created_at", &self.created_at)
            .field("extra", &self.extra)
            .finish()
    }
}

impl FileInfo {
    /// The size as a whole number of bytes, when the server gave one.
    #[must_use]
    pub fn size_bytes(&self) -> Option<u64> {
        self.size.as_ref().and_then(whole)
    }
}

/// A session report (reference §5.5): the data collected during the session.
///
/// What is typed, and on whose word:
///
/// - `id` and `status`: in Pomelo's documented (KYB) example, reference §9.5.
/// - KYB: Pomelo's documented example is typed member for member: the company's data, the
///   documents asked for and received, and the partners.
/// - KYC: Pomelo publishes no schema for an individual's report ("the user data collected during
///   the session", §5.5). This library types what this project's wire conventions fix, the
///   members a session carries (`docs/wire-conventions.md`, Report): `user_id`, `reason`,
///   `personal_data` (the person's data as sent at create: [`PersonalData`](crate::PersonalData), whose unknown
///   members stay in its own `extra`), `steps` and `files`. Anything else (checks, scores, …) is
///   in `extra`, as received.
///
/// Every member may be absent or `null`; lists absent or `null` read as empty (`null` entries
/// skipped) and are written back only when they have entries. A member whose shape differs from
/// what is typed (a list sent as an object, a size as text) does not fail the report: it stays,
/// as received, in `extra`.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Report {
    /// The session id.
    pub id: SessionId,
    /// The session status, when the report carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<SessionStatus>,
    /// KYC: the person's id (this project's convention, as in the session object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Why the session was not validated, when it was not (as in the session object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// KYC: the person's data collected during the session (this project's convention: the
    /// `personal_data` of the create). `Debug` shows which members are set, never their values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal_data: Option<crate::session::PersonalData>,
    /// KYC: the validation steps and their statuses (as in the session object).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<Step>,
    /// KYC: the documents received (as in the session object).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileInfo>,
    /// KYB: the company as Pomelo found it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_data: Option<CompanyData>,
    /// KYB: documents Pomelo's operators asked for.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub documentation_request: Vec<DocumentationRequest>,
    /// KYB: documents received, with Pomelo's verdict on each.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub documentation_proof: Vec<DocumentationProof>,
    /// KYB: the partners validated with the company.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<ReportPartner>,
    /// Members this version does not model (checks, scores…), and typed members whose shape
    /// differed, as received.
    #[serde(flatten)]
    pub extra: Extra,
}

impl<'de> Deserialize<'de> for Report {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Wire {
            id: SessionId,
            #[serde(default)]
            status: Option<SessionStatus>,
            #[serde(flatten)]
            rest: serde_json::Map<String, serde_json::Value>,
        }
        let Wire { id, status, rest } = Wire::deserialize(d)?;
        let mut extra = rest;
        Ok(Report {
            id,
            status,
            user_id: typed(&mut extra, "user_id"),
            reason: typed(&mut extra, "reason"),
            personal_data: typed(&mut extra, "personal_data"),
            steps: typed_list(&mut extra, "steps"),
            files: typed_list(&mut extra, "files"),
            company_data: typed(&mut extra, "company_data"),
            documentation_request: typed_list(&mut extra, "documentation_request"),
            documentation_proof: typed_list(&mut extra, "documentation_proof"),
            partners: typed_list(&mut extra, "partners"),
            extra: Extra(extra),
        })
    }
}

/// Takes member `name` out of `extra` as a `T`; `null` is `None`, and a value that is not a `T`
/// goes back into `extra` unchanged.
fn typed<T: serde::de::DeserializeOwned>(
    extra: &mut serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Option<T> {
    let value = extra.remove(name)?;
    if value.is_null() {
        return None;
    }
    match serde_json::from_value(value.clone()) {
        Ok(typed) => Some(typed),
        Err(_) => {
            extra.insert(name.to_owned(), value);
            None
        }
    }
}

/// As [`typed`] for a list: `null` entries are skipped; a list with an entry that is not a `T`
/// (or a member that is not a list) goes back into `extra` whole.
fn typed_list<T: serde::de::DeserializeOwned>(
    extra: &mut serde_json::Map<String, serde_json::Value>,
    name: &str,
) -> Vec<T> {
    let Some(value) = extra.remove(name) else {
        return Vec::new();
    };
    let items = match &value {
        serde_json::Value::Null => return Vec::new(),
        serde_json::Value::Array(items) => items,
        _ => {
            extra.insert(name.to_owned(), value);
            return Vec::new();
        }
    };
    let parsed: Result<Vec<T>, _> = items
        .iter()
        .filter(|item| !item.is_null())
        .map(|item| serde_json::from_value(item.clone()))
        .collect();
    parsed.unwrap_or_else(|_| {
        extra.insert(name.to_owned(), value);
        Vec::new()
    })
}

impl Report {
    /// Whether the report carries any of the KYB members.
    #[must_use]
    pub fn is_kyb(&self) -> bool {
        self.company_data.is_some()
            || !self.documentation_request.is_empty()
            || !self.documentation_proof.is_empty()
            || !self.partners.is_empty()
    }
}

/// The answer to clean validations. Pomelo documents no body; the simulator reports a count.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CleanResult {
    /// How many sessions were deleted, when the server says (any JSON number, kept as is).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_sessions: Option<Number>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Pagination metadata of a search response (`meta.pagination`). Pomelo publishes only
/// `total_pages` and `current_page` (from a Users fixture, reference §4.4): every member is any
/// JSON number, kept as is; the accessors read whole numbers.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Pagination {
    /// Number of pages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_pages: Option<Number>,
    /// This page's number, in the server's numbering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_page: Option<Number>,
    /// Page size used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<Number>,
    /// Number of matching sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_items: Option<Number>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

impl Pagination {
    /// `total_pages` as a whole number.
    #[must_use]
    pub fn total_pages(&self) -> Option<u64> {
        self.total_pages.as_ref().and_then(whole)
    }

    /// `current_page` as a whole number.
    #[must_use]
    pub fn current_page(&self) -> Option<u64> {
        self.current_page.as_ref().and_then(whole)
    }

    /// `page_size` as a whole number.
    #[must_use]
    pub fn page_size(&self) -> Option<u64> {
        self.page_size.as_ref().and_then(whole)
    }

    /// `total_items` as a whole number.
    #[must_use]
    pub fn total_items(&self) -> Option<u64> {
        self.total_items.as_ref().and_then(whole)
    }
}

/// One page of search results.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
#[non_exhaustive]
pub struct SessionPage {
    /// The sessions on this page.
    pub sessions: Vec<Session>,
    /// Pagination metadata; `None` when the response has no `meta` (a single page, decision 4).
    pub pagination: Option<Pagination>,
}
