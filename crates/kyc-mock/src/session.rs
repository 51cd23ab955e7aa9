//! Stored identity sessions: their fields, statuses, steps, files and JSON form.

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::clock::rfc3339;

/// Countries a session may be created for.
pub(crate) const COUNTRIES: [&str; 6] = ["ARG", "BRA", "CHL", "MEX", "COL", "PER"];
/// Accepted `flow_type` values.
pub(crate) const FLOW_TYPES: [&str; 2] = ["kyc-accounts", "kyc-cards"];
/// Accepted `integration_method` values.
pub(crate) const INTEGRATION_METHODS: [&str; 2] = ["API", "WEB"];

pub(crate) const SELFIE: &str = "selfie";
pub(crate) const ID_FRONT: &str = "identity-card-front";
pub(crate) const ID_BACK: &str = "identity-card-back";
pub(crate) const DL_FRONT: &str = "driver-license-front";
pub(crate) const DL_BACK: &str = "driver-license-back";

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

#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub(crate) id: String,
    /// Creation order, to break ties between equal timestamps.
    pub(crate) seq: u64,
    pub(crate) user_id: String,
    pub(crate) flow_type: String,
    pub(crate) country: String,
    pub(crate) integration_method: String,
    pub(crate) personal_data: Option<Value>,
    pub(crate) status: Status,
    pub(crate) reason: Option<String>,
    pub(crate) created_at: SystemTime,
    pub(crate) updated_at: SystemTime,
    pub(crate) expiration_at: SystemTime,
    pub(crate) url: String,
    pub(crate) steps: Vec<Step>,
    pub(crate) files: Vec<FileRecord>,
    /// A document asked for again by a required-file notification, not yet re-uploaded.
    pub(crate) required_again: Option<&'static str>,
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

    pub(crate) fn has_file(&self, type_document: &str) -> bool {
        self.files.iter().any(|f| f.type_document == type_document)
    }

    /// Selfie plus the identity-card pair (or, in BRA, the driver-licence pair) are in, and no
    /// document is awaited again.
    pub(crate) fn documents_complete(&self) -> bool {
        let id_pair = self.has_file(ID_FRONT) && self.has_file(ID_BACK);
        let dl_pair = self.country == "BRA" && self.has_file(DL_FRONT) && self.has_file(DL_BACK);
        self.required_again.is_none() && self.has_file(SELFIE) && (id_pair || dl_pair)
    }

    /// The back of the document pair the user sent, for the required-file notification.
    pub(crate) fn back_document(&self) -> &'static str {
        if self.has_file(ID_FRONT) && self.has_file(ID_BACK) {
            ID_BACK
        } else if self.has_file(DL_BACK) {
            DL_BACK
        } else {
            ID_BACK
        }
    }

    fn steps_json(&self) -> Value {
        Value::Array(
            self.steps
                .iter()
                .map(|s| json!({ "name": s.name, "status": s.status.as_str() }))
                .collect(),
        )
    }

    fn files_json(&self) -> Value {
        Value::Array(self.files.iter().map(FileRecord::to_json).collect())
    }

    /// The session object of docs/wire-conventions.md.
    pub(crate) fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "user_id": self.user_id,
            "flow_type": self.flow_type,
            "country": self.country,
            "integration_method": self.integration_method,
            "status": self.status.as_str(),
            "reason": self.reason,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "expiration_at": rfc3339(self.expiration_at),
            "url": self.url,
            "steps": self.steps_json(),
            "files": self.files_json(),
        })
    }

    /// The report object of docs/wire-conventions.md.
    pub(crate) fn report_json(&self) -> Value {
        json!({
            "id": self.id,
            "user_id": self.user_id,
            "status": self.status.as_str(),
            "reason": self.reason,
            "personal_data": self.personal_data.clone().unwrap_or_else(|| json!({})),
            "steps": self.steps_json(),
            "files": self.files_json(),
        })
    }

    /// `personal_data.document_number`, used by clean_validations.
    pub(crate) fn document_number(&self) -> Option<&str> {
        self.personal_data
            .as_ref()?
            .get("document_number")?
            .as_str()
    }
}
