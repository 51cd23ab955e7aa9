//! The creates a tracker sends: a person's, a company's, an employee's, as one type that can be
//! written before it is sent and read back after a crash.

use kyc_core::{CreateAdditionalSession, CreateKybSession, CreateSession, IdempotencyKey};
use serde_json::{Value, json};

use crate::TrackError;
use crate::store::json_fault;

/// A create sent through [`Tracker::create`](crate::Tracker::create).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Create {
    /// A person's session (KYC).
    Kyc(CreateSession),
    /// A company's session with its partners (KYB).
    Kyb(CreateKybSession),
    /// An employee of a validated company.
    Additional(CreateAdditionalSession),
}

impl From<CreateSession> for Create {
    fn from(c: CreateSession) -> Self {
        Create::Kyc(c)
    }
}

impl From<CreateKybSession> for Create {
    fn from(c: CreateKybSession) -> Self {
        Create::Kyb(c)
    }
}

impl From<CreateAdditionalSession> for Create {
    fn from(c: CreateAdditionalSession) -> Self {
        Create::Additional(c)
    }
}

impl Create {
    /// Who the session verifies: the user id, or the company id of a KYB create. A search by it
    /// finds a session whose create answer was lost.
    #[must_use]
    pub fn subject(&self) -> &str {
        match self {
            Create::Kyc(c) => &c.user_id,
            Create::Kyb(c) => &c.company.id,
            Create::Additional(c) => &c.user_id,
        }
    }

    /// The caller's idempotency key, if the create carries one.
    #[must_use]
    pub fn key(&self) -> Option<&IdempotencyKey> {
        match self {
            Create::Kyc(c) => c.key.as_ref(),
            Create::Kyb(c) => c.key.as_ref(),
            Create::Additional(c) => c.key.as_ref(),
        }
    }

    /// The same create under `key`.
    #[must_use]
    pub fn with_key(self, key: IdempotencyKey) -> Self {
        match self {
            Create::Kyc(c) => Create::Kyc(c.idempotency_key(key)),
            Create::Kyb(c) => Create::Kyb(c.idempotency_key(key)),
            Create::Additional(c) => Create::Additional(c.idempotency_key(key)),
        }
    }

    /// The create as stored: its kind and its body.
    pub(crate) fn to_json(&self) -> Result<Value, TrackError> {
        let (kind, body) = match self {
            Create::Kyc(c) => ("kyc", serde_json::to_value(c)),
            Create::Kyb(c) => ("kyb", serde_json::to_value(c)),
            Create::Additional(c) => ("additional", serde_json::to_value(c)),
        };
        let body = body.map_err(|e| TrackError::Stored(json_fault(&e)))?;
        Ok(json!({"kind": kind, "body": body}))
    }

    /// The create [`Create::to_json`] wrote.
    pub(crate) fn from_json(value: &Value) -> Result<Self, TrackError> {
        let body = value.get("body").cloned().unwrap_or(Value::Null);
        let bad = |e: serde_json::Error| TrackError::Stored(json_fault(&e));
        match value.get("kind").and_then(Value::as_str) {
            Some("kyc") => serde_json::from_value(body).map(Create::Kyc).map_err(bad),
            Some("kyb") => serde_json::from_value(body).map(Create::Kyb).map_err(bad),
            Some("additional") => serde_json::from_value(body)
                .map(Create::Additional)
                .map_err(bad),
            _ => Err(TrackError::Stored(
                "a pending create of no known kind".into(),
            )),
        }
    }
}
