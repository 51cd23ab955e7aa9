//! Stored identity sessions: their fields, statuses, steps, files and JSON form.

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::clock::rfc3339;
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
        json!({
            "id": self.id,
            "entity_id": self.entity_id,
            "type_document": self.type_document,
            "file_name": self.file_name,
            "content_type": self.content_type,
            "size": if self.size_in_megabytes {
                json!(self.size as f64 / 1_000_000.0)
            } else {
                json!(self.size)
            },
            "created_at": rfc3339(self.created_at),
        })
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
    pub(crate) what: String,
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
        let mut what = what.into();
        if what.len() > MAX_NOTE {
            let mut end = MAX_NOTE;
            while !what.is_char_boundary(end) {
                end -= 1;
            }
            what.truncate(end);
            what.push('…');
        }
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

    pub(crate) fn steps_json(&self) -> Value {
        Value::Array(
            self.steps
                .iter()
                .map(|s| json!({ "name": s.name, "status": s.status.as_str() }))
                .collect(),
        )
    }

    pub(crate) fn files_json(&self) -> Value {
        Value::Array(self.files.iter().map(FileRecord::to_json).collect())
    }

    /// The session object of docs/wire-conventions.md: `user_id` for a person, `company_id` for
    /// a KYB session, both for an additional one.
    pub(crate) fn to_json(&self) -> Value {
        let mut session = json!({
            "id": self.id,
            "flow_type": self.flow_type,
            "country": self.country,
            "integration_method": self.integration_method,
            "status": self.status.as_str(),
            "reason": self.reason,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "expiration_at": rfc3339(self.expiration_at),
            "url": (!self.url.is_empty()).then_some(&self.url),
            "steps": self.steps_json(),
            "files": self.files_json(),
        });
        if let Some(map) = session.as_object_mut() {
            map.extend(self.subject.members());
        }
        session
    }
}
