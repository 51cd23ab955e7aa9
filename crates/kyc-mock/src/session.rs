//! Stored identity sessions: their fields, statuses, steps, files and JSON form.

use std::time::SystemTime;

use http::{HeaderValue, Method, StatusCode};
use serde::ser::{Serialize, SerializeMap as _, Serializer};
use serde_json::Value;

use crate::clock::Stamp;
use crate::subject::Subject;

/// Countries a session may be created for.
pub(crate) const COUNTRIES: [&str; 6] = ["ARG", "BRA", "CHL", "MEX", "COL", "PER"];
/// Accepted `flow_type` values: KYC, KYB and additional (employee).
pub(crate) const FLOW_TYPES: [&str; 5] = [
    "kyc-accounts",
    "kyc-cards",
    "kyb-cards",
    "kyb-accounts",
    "kyb-cards-additional",
];
/// Accepted `integration_method` values.
pub(crate) const INTEGRATION_METHODS: [&str; 2] = ["API", "WEB"];

pub(crate) const SELFIE: &str = "selfie";
pub(crate) const ID_FRONT: &str = "identity-card-front";
pub(crate) const ID_BACK: &str = "identity-card-back";
pub(crate) const DL_FRONT: &str = "driver-license-front";
pub(crate) const DL_BACK: &str = "driver-license-back";
/// The company's document type, the only one a KYB company's entity takes.
pub(crate) const COMPANY_DOCUMENT: &str = "company-document";

/// Document types (`type_document`) accepted for a country (reference §7; CHL/MEX/COL/PER follow ARG).
pub(crate) fn allowed_documents(country: &str) -> &'static [&'static str] {
    if country == "BRA" {
        &[SELFIE, ID_FRONT, ID_BACK, DL_FRONT, DL_BACK]
    } else {
        &[SELFIE, ID_FRONT, ID_BACK]
    }
}

/// The KYC steps of reference §6.1, by wire name.
pub(crate) const STEP_NAMES: [&str; 8] = [
    "terms_acceptance",
    "proof_of_life",
    "selfie_document_match",
    "ocr",
    "form_completed",
    "data_validation",
    "photo_validation",
    "risk_validation",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Status {
    InProgress,
    Processing,
    Validated,
    NotValidated,
    Cancelled,
    Expired,
}

impl Status {
    pub(crate) const ALL: [Status; 6] = [
        Status::InProgress,
        Status::Processing,
        Status::Validated,
        Status::NotValidated,
        Status::Cancelled,
        Status::Expired,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::InProgress => "IN_PROGRESS",
            Status::Processing => "PROCESSING",
            Status::Validated => "VALIDATED",
            Status::NotValidated => "NOT_VALIDATED",
            Status::Cancelled => "CANCELLED",
            Status::Expired => "EXPIRED",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No further change can happen.
    pub(crate) fn is_final(self) -> bool {
        !matches!(self, Status::InProgress | Status::Processing)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StepStatus {
    Pending,
    Processing,
    Success,
    Failed,
}

impl StepStatus {
    fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "PENDING",
            StepStatus::Processing => "PROCESSING",
            StepStatus::Success => "SUCCESS",
            StepStatus::Failed => "FAILED",
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Step {
    pub(crate) name: &'static str,
    pub(crate) status: StepStatus,
}

#[derive(Clone, Debug)]
pub(crate) struct FileRecord {
    pub(crate) id: String,
    pub(crate) entity_id: String,
    pub(crate) type_document: String,
    pub(crate) file_name: String,
    pub(crate) content_type: &'static str,
    pub(crate) size: usize,
    pub(crate) created_at: SystemTime,
    /// Report the size in megabytes, fractional (`Alternative::FractionalSizes`).
    pub(crate) size_in_megabytes: bool,
}

impl FileRecord {
    pub(crate) fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The file object of docs/wire-conventions.md. Members are written in the order of their names,
/// as `serde_json`'s map orders them, so that every way the simulator writes a file gives the
/// same bytes.
impl Serialize for FileRecord {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(7))?;
        map.serialize_entry("content_type", self.content_type)?;
        map.serialize_entry("created_at", &Stamp::of(self.created_at))?;
        map.serialize_entry("entity_id", &self.entity_id)?;
        map.serialize_entry("file_name", &self.file_name)?;
        map.serialize_entry("id", &self.id)?;
        if self.size_in_megabytes {
            map.serialize_entry("size", &(self.size as f64 / 1_000_000.0))?;
        } else {
            map.serialize_entry("size", &self.size)?;
        }
        map.serialize_entry("type_document", &self.type_document)?;
        map.end()
    }
}

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(2))?;
        map.serialize_entry("name", self.name)?;
        map.serialize_entry("status", self.status.as_str())?;
        map.end()
    }
}

/// Most timeline entries a session keeps; the oldest go first.
const MAX_TIMELINE: usize = 200;
/// Longest timeline entry kept, in bytes (a path's segments are the client's free text).
const MAX_NOTE: usize = 300;

/// One thing that happened to a session: a request, a decision, a webhook delivery.
#[derive(Clone, Debug)]
pub(crate) struct TimelineEntry {
    pub(crate) at: SystemTime,
    pub(crate) what: Note,
}

/// What a timeline entry says. A request is kept as its parts and written out when the timeline
/// is read: every request on a session adds one, and formatting each at once was a share of the
/// simulator's time under load (BENCHMARKS.md, L6).
#[derive(Clone, Debug)]
pub(crate) enum Note {
    Text(String),
    /// `METHOD PATH → STATUS (REQUEST-ID)`.
    Request {
        method: Method,
        path: Box<str>,
        status: StatusCode,
        request_id: HeaderValue,
    },
}

impl Note {
    /// The entry as the console shows it.
    pub(crate) fn text(&self) -> String {
        match self {
            Note::Text(text) => text.clone(),
            Note::Request {
                method,
                path,
                status,
                request_id,
            } => shortened(format!(
                "{method} {path} → {} ({})",
                status.as_u16(),
                String::from_utf8_lossy(request_id.as_bytes())
            )),
        }
    }
}

/// `text`, cut to at most [`MAX_NOTE`] bytes and an ellipsis.
fn shortened(mut text: String) -> String {
    if text.len() > MAX_NOTE {
        let mut end = MAX_NOTE;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) id: String,
    /// Creation order, to break ties between equal timestamps.
    pub(crate) seq: u64,
    /// Who the session is about: a person, a company, an employee.
    pub(crate) subject: Subject,
    pub(crate) flow_type: String,
    pub(crate) country: String,
    pub(crate) integration_method: String,
    pub(crate) status: Status,
    pub(crate) reason: Option<String>,
    pub(crate) created_at: SystemTime,
    pub(crate) updated_at: SystemTime,
    pub(crate) expiration_at: SystemTime,
    pub(crate) url: String,
    pub(crate) steps: Vec<Step>,
    pub(crate) files: Vec<FileRecord>,
    /// Documents asked for again by a required-file notification, not yet re-uploaded.
    pub(crate) required_again: Vec<String>,
    /// What happened to the session, oldest first (the console's timeline; capped).
    pub(crate) timeline: std::collections::VecDeque<TimelineEntry>,
    /// Whether the `needs-file` marker has already produced its notification.
    pub(crate) required_file_sent: bool,
    /// Bumped each time processing starts, so a stale processing timer does nothing.
    pub(crate) generation: u64,
}

impl Session {
    /// Steps at creation: T&C and form are done when their data came with the session.
    pub(crate) fn initial_steps(has_terms: bool, has_personal_data: bool) -> Vec<Step> {
        STEP_NAMES
            .iter()
            .map(|&name| {
                let done = (name == "terms_acceptance" && has_terms)
                    || (name == "form_completed" && has_personal_data);
                Step {
                    name,
                    status: if done {
                        StepStatus::Success
                    } else {
                        StepStatus::Pending
                    },
                }
            })
            .collect()
    }

    /// Adds `what` to the timeline at `at`.
    pub(crate) fn note(&mut self, at: SystemTime, what: impl Into<String>) {
        self.add(at, Note::Text(shortened(what.into())));
    }

    /// Adds a request to the timeline at `at`.
    pub(crate) fn note_request(
        &mut self,
        at: SystemTime,
        method: &Method,
        path: &str,
        status: StatusCode,
        request_id: &HeaderValue,
    ) {
        // No more of the path than can be shown (a path's segments are the client's free text).
        let mut end = path.len().min(MAX_NOTE);
        while !path.is_char_boundary(end) {
            end -= 1;
        }
        let path = path.get(..end).unwrap_or_default();
        self.add(
            at,
            Note::Request {
                method: method.clone(),
                path: path.into(),
                status,
                request_id: request_id.clone(),
            },
        );
    }

    fn add(&mut self, at: SystemTime, what: Note) {
        if self.timeline.len() >= MAX_TIMELINE {
            self.timeline.pop_front();
        }
        self.timeline.push_back(TimelineEntry { at, what });
    }

    /// Applies expiry at `now`: a session still waiting for documents past `expiration_at` becomes
    /// `EXPIRED`.
    pub(crate) fn refresh(&mut self, now: SystemTime) {
        if self.status == Status::InProgress && now >= self.expiration_at {
            self.status = Status::Expired;
            self.updated_at = self.expiration_at;
        }
    }

    pub(crate) fn set_steps(&mut self, from: &[StepStatus], to: StepStatus) {
        for step in &mut self.steps {
            if from.contains(&step.status) {
                step.status = to;
            }
        }
    }

    /// Whether `entity` has uploaded a `type_document`.
    pub(crate) fn has_file_of(&self, entity: &str, type_document: &str) -> bool {
        self.files
            .iter()
            .any(|f| f.entity_id == entity && f.type_document == type_document)
    }

    /// Selfie plus the identity-card pair (or, in BRA, the driver-licence pair) of `entity`.
    pub(crate) fn person_documents_complete(&self, entity: &str) -> bool {
        let has = |t| self.has_file_of(entity, t);
        let id_pair = has(ID_FRONT) && has(ID_BACK);
        let dl_pair = self.country == "BRA" && has(DL_FRONT) && has(DL_BACK);
        has(SELFIE) && (id_pair || dl_pair)
    }

    /// Every document is in (the person's, or a company's and each of its partners'), and none
    /// is awaited again.
    pub(crate) fn documents_complete(&self) -> bool {
        self.required_again.is_empty()
            && match &self.subject {
                Subject::Person(person) | Subject::Employee { person, .. } => {
                    self.person_documents_complete(&person.user_id)
                }
                Subject::Company(company) => {
                    self.has_file_of(company.id(), COMPANY_DOCUMENT)
                        && company
                            .partner_ids()
                            .all(|partner| self.person_documents_complete(partner))
                }
            }
    }

    /// The document types `entity` may upload, or why it may not upload at all.
    pub(crate) fn documents_for(&self, entity: &str) -> Result<Vec<&'static str>, String> {
        let person = allowed_documents(&self.country).to_vec();
        match &self.subject {
            Subject::Company(company) if entity == company.id() => Ok(vec![COMPANY_DOCUMENT]),
            Subject::Company(company) if company.is_partner(entity) => Ok(person),
            Subject::Company(_) => Err(format!(
                "entity `{entity}` is neither the session's company nor one of its partners"
            )),
            Subject::Person(p) | Subject::Employee { person: p, .. } if entity == p.user_id => {
                Ok(person)
            }
            Subject::Person(p) | Subject::Employee { person: p, .. } => Err(format!(
                "entity `{entity}` is not the session's user `{}`",
                p.user_id
            )),
        }
    }

    /// Every document type some entity of the session may upload (what a required-file request
    /// may ask for): a person's documents of its country, and a company's document for KYB.
    pub(crate) fn uploadable_documents(&self) -> Vec<&'static str> {
        let mut all = allowed_documents(&self.country).to_vec();
        if let Subject::Company(_) = self.subject {
            all.push(COMPANY_DOCUMENT);
        }
        all
    }

    /// The document the required-file notification asks for again: a company's document, or the
    /// back of the document pair the person sent.
    pub(crate) fn back_document(&self) -> &'static str {
        let has = |t| self.has_file_of(self.subject.id(), t);
        match self.subject {
            Subject::Company(_) => COMPANY_DOCUMENT,
            _ if has(ID_FRONT) && has(ID_BACK) => ID_BACK,
            _ if has(DL_BACK) => DL_BACK,
            _ => ID_BACK,
        }
    }

    /// The session object of docs/wire-conventions.md (see its `Serialize`), as a JSON tree for
    /// the admin API to add to.
    pub(crate) fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The session object of docs/wire-conventions.md: `user_id` for a person, `company_id` for a
/// KYB session, both for an additional one. Written straight from the session, without a JSON
/// tree in between (the simulator's capacity, BENCHMARKS.md L6), its members in the order of
/// their names as `serde_json`'s map orders them, so that the bytes are those of the tree.
impl Serialize for Session {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (user_id, company_id) = match &self.subject {
            Subject::Person(person) => (Some(person.user_id.as_str()), None),
            Subject::Company(company) => (None, Some(company.id())),
            Subject::Employee { person, company_id } => {
                (Some(person.user_id.as_str()), Some(company_id.as_str()))
            }
        };
        let mut map = s.serialize_map(None)?;
        if let Some(company_id) = company_id {
            map.serialize_entry("company_id", company_id)?;
        }
        map.serialize_entry("country", &self.country)?;
        map.serialize_entry("created_at", &Stamp::of(self.created_at))?;
        map.serialize_entry("expiration_at", &Stamp::of(self.expiration_at))?;
        map.serialize_entry("files", &self.files)?;
        map.serialize_entry("flow_type", &self.flow_type)?;
        map.serialize_entry("id", &self.id)?;
        map.serialize_entry("integration_method", &self.integration_method)?;
        map.serialize_entry("reason", &self.reason)?;
        map.serialize_entry("status", self.status.as_str())?;
        map.serialize_entry("steps", &self.steps)?;
        map.serialize_entry("updated_at", &Stamp::of(self.updated_at))?;
        map.serialize_entry("url", &(!self.url.is_empty()).then_some(&self.url))?;
        if let Some(user_id) = user_id {
            map.serialize_entry("user_id", user_id)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::*;
    use crate::clock::rfc3339;
    use crate::subject::{Company, Person};

    /// The session object as it was built before it was written straight (a JSON tree), kept to
    /// show the bytes did not change.
    fn as_tree(session: &Session) -> Value {
        let file = |f: &FileRecord| {
            json!({
                "id": f.id, "entity_id": f.entity_id, "type_document": f.type_document,
                "file_name": f.file_name, "content_type": f.content_type,
                "size": if f.size_in_megabytes { json!(f.size as f64 / 1_000_000.0) } else { json!(f.size) },
                "created_at": rfc3339(f.created_at),
            })
        };
        let mut tree = json!({
            "id": session.id, "flow_type": session.flow_type, "country": session.country,
            "integration_method": session.integration_method,
            "status": session.status.as_str(), "reason": session.reason,
            "created_at": rfc3339(session.created_at), "updated_at": rfc3339(session.updated_at),
            "expiration_at": rfc3339(session.expiration_at),
            "url": (!session.url.is_empty()).then_some(&session.url),
            "steps": session.steps.iter()
                .map(|s| json!({"name": s.name, "status": s.status.as_str()}))
                .collect::<Vec<_>>(),
            "files": session.files.iter().map(file).collect::<Vec<_>>(),
        });
        tree.as_object_mut()
            .unwrap()
            .extend(session.subject.members());
        tree
    }

    fn session(subject: Subject, reason: Option<&str>, url: &str, megabytes: bool) -> Session {
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(1_700_000_000 + s);
        let file = |n: usize| FileRecord {
            id: format!("fil-{n}"),
            entity_id: "usr-1".into(),
            type_document: "selfie".into(),
            file_name: format!("\"odd\" name {n}.jpg"),
            content_type: "image/jpeg",
            size: 1_234 * n,
            created_at: at(n as u64),
            size_in_megabytes: megabytes,
        };
        Session {
            id: "iss-1".into(),
            seq: 0,
            subject,
            flow_type: "kyc-accounts".into(),
            country: "ARG".into(),
            integration_method: "API".into(),
            status: Status::NotValidated,
            reason: reason.map(str::to_owned),
            created_at: at(0),
            updated_at: at(5),
            expiration_at: at(86_400),
            url: url.into(),
            steps: Session::initial_steps(true, false),
            files: (1..=3).map(file).collect(),
            required_again: Vec::new(),
            timeline: std::collections::VecDeque::new(),
            required_file_sent: false,
            generation: 0,
        }
    }

    #[test]
    fn a_request_is_noted_as_it_was_written_and_cut_as_it_was() {
        let mut s = session(
            Subject::Person(Person {
                user_id: "usr-1".into(),
                personal_data: None,
            }),
            None,
            "",
            false,
        );
        let id = HeaderValue::from_static("req-1");
        s.note_request(
            UNIX_EPOCH,
            &Method::GET,
            "/identity/v1/sessions/iss-1",
            StatusCode::OK,
            &id,
        );
        let long = format!("/{}", "é".repeat(400));
        s.note_request(
            UNIX_EPOCH,
            &Method::DELETE,
            &long,
            StatusCode::CONFLICT,
            &id,
        );
        s.note(UNIX_EPOCH, "x".repeat(400));
        let texts: Vec<String> = s.timeline.iter().map(|e| e.what.text()).collect();
        assert_eq!(texts[0], "GET /identity/v1/sessions/iss-1 → 200 (req-1)");
        for cut in &texts[1..] {
            assert!(
                cut.ends_with('…') && cut.len() <= MAX_NOTE + '…'.len_utf8(),
                "{cut}"
            );
        }
        assert!(texts[1].starts_with("DELETE /éé"));
    }

    #[test]
    fn the_session_written_straight_has_the_bytes_of_the_tree() {
        let person = Person {
            user_id: "usr-1 \u{e9}\u{1F600}".into(),
            personal_data: None,
        };
        let company = Company {
            data: json!({"id": "cmp-1"}).as_object().unwrap().clone(),
            partners: Vec::new(),
            requests: Vec::new(),
        };
        for session in [
            session(Subject::Person(person.clone()), None, "http://x/s", false),
            session(
                Subject::Company(company),
                Some("DOCUMENT_MISMATCH"),
                "",
                true,
            ),
            session(
                Subject::Employee {
                    person,
                    company_id: "cmp-2".into(),
                },
                Some("a \"quoted\"\nreason"),
                "u",
                false,
            ),
        ] {
            assert_eq!(
                serde_json::to_string(&session).unwrap(),
                serde_json::to_string(&as_tree(&session)).unwrap()
            );
        }
    }
}
