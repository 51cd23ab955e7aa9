//! Typed views of webhook bodies.

use std::fmt;

use serde_json::{Map, Value};

use crate::enums::{Country, DocumentType, FlowType, SessionStatus};
use crate::secret::Redacted;
use crate::time::Timestamp;

/// A verified webhook body.
///
/// Pomelo does not publish the JSON schemas of its identity notifications (API reference §8.5), so
/// the typed views are permissive: payload fields are looked up first in a `data` object and then
/// at the top level; event metadata (`event_id`, `event_type`, `created_at`) at the top level
/// first and then in `data`; a session id is `session_id`, else `id`; a missing or non-string
/// optional field is `None`. Nothing is lost: `raw()` returns the whole body, and `field(name)`
/// reads any payload field by the same rule.
///
/// Classification: a known `event_type` decides (see [`Event::SESSION_STATUS_CHANGED`] and
/// [`Event::REQUIRED_FILE`]); without one, or with one this version does not know, the shape
/// decides: a `required_documents` array makes a [`RequiredFileNotification`], a session id and a
/// `status` make a [`SessionNotification`]. A body that lacks the fields its variant needs, and
/// any other JSON value, is [`Event::Other`] — never an error.
///
/// `Debug` prints ids, statuses, enums (document types, country), event type and timestamps
/// only. The reason and the raw JSON may carry personal data, so only the reason's length and the
/// raw JSON's top-level keys are shown.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A validation session changed status (e.g. it was validated or not validated).
    ValidationSession(SessionNotification),
    /// Pomelo needs more documents for a session.
    RequiredFile(RequiredFileNotification),
    /// Any other JSON body.
    Other(OtherEvent),
}

impl Event {
    /// `event_type` of a validation session notification (project wire conventions).
    pub const SESSION_STATUS_CHANGED: &'static str = "identity.session.status_changed";
    /// `event_type` of a required file notification (project wire conventions).
    pub const REQUIRED_FILE: &'static str = "identity.session.required_file";

    /// Classifies a JSON body. Never fails: anything unrecognised becomes [`Event::Other`].
    ///
    /// This does not authenticate anything; [`Verifier::verify`](crate::webhook::Verifier::verify)
    /// calls it after the signature has been checked.
    #[must_use]
    pub fn from_json(raw: Value) -> Event {
        let view = View::of(&raw);
        let meta = Meta::read(&view);
        let by_type = match meta.event_type.as_deref() {
            Some(Event::SESSION_STATUS_CHANGED) => Some(Kind::Session),
            Some(Event::REQUIRED_FILE) => Some(Kind::RequiredFile),
            _ => None,
        };
        let kind = by_type.or_else(|| {
            if view.array("required_documents").is_some() {
                Some(Kind::RequiredFile)
            } else if view.session_id().is_some() && view.string("status").is_some() {
                Some(Kind::Session)
            } else {
                None
            }
        });
        match kind {
            Some(Kind::Session) => match SessionParts::read(&view) {
                Some(parts) => Event::ValidationSession(SessionNotification {
                    session_id: parts.session_id,
                    status: parts.status,
                    user_id: view.string("user_id").map(str::to_owned),
                    reason: view.string("reason").map(str::to_owned),
                    country: view.string("country").map(Country::parse),
                    flow_type: view.string("flow_type").map(FlowType::parse),
                    event_id: meta.event_id,
                    event_type: meta.event_type,
                    created_at: meta.created_at,
                    raw,
                }),
                None => Event::Other(OtherEvent::new(meta, raw)),
            },
            Some(Kind::RequiredFile) => match view.array("required_documents") {
                Some(documents) => Event::RequiredFile(RequiredFileNotification {
                    required_documents: documents
                        .iter()
                        .filter_map(Value::as_str)
                        .map(DocumentType::parse)
                        .collect(),
                    session_id: view.session_id().map(str::to_owned),
                    user_id: view.string("user_id").map(str::to_owned),
                    entity_id: view.string("entity_id").map(str::to_owned),
                    reason: view.string("reason").map(str::to_owned),
                    event_id: meta.event_id,
                    event_type: meta.event_type,
                    created_at: meta.created_at,
                    raw,
                }),
                None => Event::Other(OtherEvent::new(meta, raw)),
            },
            None => Event::Other(OtherEvent::new(meta, raw)),
        }
    }

    /// The whole body as received.
    #[must_use]
    pub fn raw(&self) -> &Value {
        match self {
            Event::ValidationSession(n) => &n.raw,
            Event::RequiredFile(n) => &n.raw,
            Event::Other(n) => &n.raw,
        }
    }

    /// The whole body, consuming the event.
    #[must_use]
    pub fn into_raw(self) -> Value {
        match self {
            Event::ValidationSession(n) => n.raw,
            Event::RequiredFile(n) => n.raw,
            Event::Other(n) => n.raw,
        }
    }

    /// A payload field by name, looked up in `data` first and then at the top level: for fields
    /// the typed views do not model.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Value> {
        View::of(self.raw()).get(name)
    }

    /// The event's id (`event_id`), if it has one.
    #[must_use]
    pub fn event_id(&self) -> Option<&str> {
        match self {
            Event::ValidationSession(n) => n.event_id.as_deref(),
            Event::RequiredFile(n) => n.event_id.as_deref(),
            Event::Other(n) => n.event_id.as_deref(),
        }
    }

    /// The event's type (`event_type`), if it has one.
    #[must_use]
    pub fn event_type(&self) -> Option<&str> {
        match self {
            Event::ValidationSession(n) => n.event_type.as_deref(),
            Event::RequiredFile(n) => n.event_type.as_deref(),
            Event::Other(n) => n.event_type.as_deref(),
        }
    }

    /// When the event was created (`created_at`: the text as sent, and its instant), if given.
    #[must_use]
    pub fn created_at(&self) -> Option<&Timestamp> {
        match self {
            Event::ValidationSession(n) => n.created_at.as_ref(),
            Event::RequiredFile(n) => n.created_at.as_ref(),
            Event::Other(n) => n.created_at.as_ref(),
        }
    }
}

/// A validation session notification: a session's status changed.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct SessionNotification {
    /// The session (`session_id`, or `id`).
    pub session_id: String,
    /// The session's new status.
    pub status: SessionStatus,
    /// The user the session verifies.
    pub user_id: Option<String>,
    /// Why the session was not validated (given with `NOT_VALIDATED`).
    pub reason: Option<String>,
    /// The session's country.
    pub country: Option<Country>,
    /// The session's flow.
    pub flow_type: Option<FlowType>,
    /// The event's id.
    pub event_id: Option<String>,
    /// The event's type.
    pub event_type: Option<String>,
    /// When the event was created (the text as sent, and its instant).
    pub created_at: Option<Timestamp>,
    raw: Value,
}

impl SessionNotification {
    /// The whole body as received.
    #[must_use]
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// A payload field by name, in `data` first and then at the top level.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Value> {
        View::of(&self.raw).get(name)
    }
}

impl fmt::Debug for SessionNotification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionNotification")
            .field("session_id", &self.session_id)
            .field("status", &self.status)
            .field("user_id", &self.user_id)
            .field("reason", &Redacted(self.reason.as_deref()))
            .field("country", &self.country)
            .field("flow_type", &self.flow_type)
            .field("event_id", &self.event_id)
            .field("event_type", &self.event_type)
            .field("created_at", &self.created_at)
            .field("raw", &RawShape(&self.raw))
            .finish()
    }
}

/// A required file notification: Pomelo needs more documents.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct RequiredFileNotification {
    /// The documents to upload. Entries that are not strings are skipped (they stay in `raw()`).
    pub required_documents: Vec<DocumentType>,
    /// The session (`session_id`, or `id`).
    pub session_id: Option<String>,
    /// The user the session verifies.
    pub user_id: Option<String>,
    /// The person or company the documents belong to (the `{entity_id}` of the upload path).
    pub entity_id: Option<String>,
    /// Why the documents are needed.
    pub reason: Option<String>,
    /// The event's id.
    pub event_id: Option<String>,
    /// The event's type.
    pub event_type: Option<String>,
    /// When the event was created (the text as sent, and its instant).
    pub created_at: Option<Timestamp>,
    raw: Value,
}

impl RequiredFileNotification {
    /// The whole body as received.
    #[must_use]
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// A payload field by name, in `data` first and then at the top level.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Value> {
        View::of(&self.raw).get(name)
    }
}

impl fmt::Debug for RequiredFileNotification {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequiredFileNotification")
            .field("required_documents", &self.required_documents)
            .field("session_id", &self.session_id)
            .field("user_id", &self.user_id)
            .field("entity_id", &self.entity_id)
            .field("reason", &Redacted(self.reason.as_deref()))
            .field("event_id", &self.event_id)
            .field("event_type", &self.event_type)
            .field("created_at", &self.created_at)
            .field("raw", &RawShape(&self.raw))
            .finish()
    }
}

/// A JSON body of a shape this version does not know.
#[derive(Clone, PartialEq)]
#[non_exhaustive]
pub struct OtherEvent {
    /// The event's id, if the body has an `event_id`.
    pub event_id: Option<String>,
    /// The event's type, if the body has an `event_type`.
    pub event_type: Option<String>,
    /// When the event was created, if the body has a `created_at`.
    pub created_at: Option<Timestamp>,
    raw: Value,
}

impl OtherEvent {
    fn new(meta: Meta, raw: Value) -> Self {
        OtherEvent {
            event_id: meta.event_id,
            event_type: meta.event_type,
            created_at: meta.created_at,
            raw,
        }
    }

    /// The whole body as received.
    #[must_use]
    pub fn raw(&self) -> &Value {
        &self.raw
    }

    /// A payload field by name, in `data` first and then at the top level.
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&Value> {
        View::of(&self.raw).get(name)
    }
}

impl fmt::Debug for OtherEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtherEvent")
            .field("event_id", &self.event_id)
            .field("event_type", &self.event_type)
            .field("created_at", &self.created_at)
            .field("raw", &RawShape(&self.raw))
            .finish()
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Session,
    RequiredFile,
}

/// The two places a field can be: the `data` object, then the top-level object.
struct View<'a> {
    data: Option<&'a Map<String, Value>>,
    top: Option<&'a Map<String, Value>>,
}

impl<'a> View<'a> {
    fn of(raw: &'a Value) -> Self {
        let top = raw.as_object();
        let data = top.and_then(|t| t.get("data")).and_then(Value::as_object);
        View { data, top }
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.data
            .and_then(|d| d.get(name))
            .or_else(|| self.top.and_then(|t| t.get(name)))
    }

    /// A string field; `null` or any other type counts as absent.
    fn string(&self, name: &str) -> Option<&'a str> {
        let in_place = |place: Option<&'a Map<String, Value>>| {
            place.and_then(|p| p.get(name)).and_then(Value::as_str)
        };
        in_place(self.data).or_else(|| in_place(self.top))
    }

    fn array(&self, name: &str) -> Option<&'a Vec<Value>> {
        let in_place = |place: Option<&'a Map<String, Value>>| {
            place.and_then(|p| p.get(name)).and_then(Value::as_array)
        };
        in_place(self.data).or_else(|| in_place(self.top))
    }

    /// `session_id`, else `id`, in `data` first, then at the top level.
    fn session_id(&self) -> Option<&'a str> {
        let in_place = |place: Option<&'a Map<String, Value>>| {
            let place = place?;
            place
                .get("session_id")
                .and_then(Value::as_str)
                .or_else(|| place.get("id").and_then(Value::as_str))
        };
        in_place(self.data).or_else(|| in_place(self.top))
    }

    /// An event metadata field: at the top level first, then in `data`.
    fn meta(&self, name: &str) -> Option<String> {
        let in_place = |place: Option<&'a Map<String, Value>>| {
            place.and_then(|p| p.get(name)).and_then(Value::as_str)
        };
        in_place(self.top)
            .or_else(|| in_place(self.data))
            .map(str::to_owned)
    }
}

struct Meta {
    event_id: Option<String>,
    event_type: Option<String>,
    created_at: Option<Timestamp>,
}

impl Meta {
    fn read(view: &View<'_>) -> Self {
        Meta {
            event_id: view.meta("event_id"),
            event_type: view.meta("event_type"),
            created_at: view.meta("created_at").map(Timestamp::new),
        }
    }
}

struct SessionParts {
    session_id: String,
    status: SessionStatus,
}

impl SessionParts {
    fn read(view: &View<'_>) -> Option<Self> {
        Some(SessionParts {
            session_id: view.session_id()?.to_owned(),
            status: SessionStatus::parse(view.string("status")?),
        })
    }
}

/// Debug-prints the raw JSON's shape: top-level keys of an object, else the JSON type.
struct RawShape<'a>(&'a Value);

impl fmt::Debug for RawShape<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Value::Object(map) => {
                f.write_str("{")?;
                for (i, key) in map.keys().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{key:?}: ..")?;
                }
                f.write_str("}")
            }
            Value::Array(items) => write!(f, "[{} items]", items.len()),
            Value::String(_) => f.write_str("<string>"),
            Value::Number(_) => f.write_str("<number>"),
            Value::Bool(_) => f.write_str("<bool>"),
            Value::Null => f.write_str("null"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_simulators_session_notification_is_fully_typed() {
        let event = Event::from_json(json!({
            "event_id": "evt-1", "event_type": "identity.session.status_changed",
            "created_at": "2024-01-01T00:00:00Z",
            "data": {"session_id": "iss-1", "user_id": "usr-1", "status": "NOT_VALIDATED",
                     "reason": "document expired", "country": "ARG", "flow_type": "kyc-accounts",
                     "score": 7}
        }));
        let Event::ValidationSession(n) = &event else {
            panic!("not a session notification: {event:?}")
        };
        assert_eq!(n.session_id, "iss-1");
        assert_eq!(n.status, SessionStatus::NotValidated);
        assert_eq!(n.user_id.as_deref(), Some("usr-1"));
        assert_eq!(n.reason.as_deref(), Some("document expired"));
        assert_eq!(n.country, Some(Country::Arg));
        assert_eq!(n.flow_type, Some(FlowType::KycAccounts));
        assert_eq!(event.event_id(), Some("evt-1"));
        assert_eq!(
            event.created_at().map(Timestamp::as_str),
            Some("2024-01-01T00:00:00Z")
        );
        assert_eq!(
            event
                .created_at()
                .and_then(Timestamp::instant)
                .map(|t| t.as_second()),
            Some(1_704_067_200)
        );
        assert_eq!(event.field("score"), Some(&json!(7)));
    }

    #[test]
    fn top_level_fields_and_id_are_accepted() {
        let event = Event::from_json(json!({"id": "iss-123", "status": "VALIDATED"}));
        let Event::ValidationSession(n) = event else {
            panic!("not a session notification")
        };
        assert_eq!(n.session_id, "iss-123");
        assert_eq!(n.status, SessionStatus::Validated);
        assert_eq!(n.event_type, None);
    }

    #[test]
    fn session_id_in_data_wins_over_a_top_level_id() {
        let event = Event::from_json(json!({
            "id": "evt-9", "data": {"session_id": "iss-9", "status": "IN_PROGRESS"}
        }));
        let Event::ValidationSession(n) = event else {
            panic!("not a session notification")
        };
        assert_eq!(n.session_id, "iss-9");
    }

    #[test]
    fn required_documents_make_a_required_file_notification() {
        let event = Event::from_json(json!({
            "data": {"session_id": "iss-1", "entity_id": "usr-2", "status": "IN_PROGRESS",
                     "required_documents": ["identity-card-back", "passport", 3]}
        }));
        let Event::RequiredFile(n) = event else {
            panic!("not a required file notification")
        };
        assert_eq!(
            n.required_documents,
            vec![
                DocumentType::IdentityCardBack,
                DocumentType::Other("passport".to_owned())
            ]
        );
        assert_eq!(n.entity_id.as_deref(), Some("usr-2"));
        assert_eq!(n.session_id.as_deref(), Some("iss-1"));
    }

    #[test]
    fn a_known_event_type_without_its_fields_is_other_not_a_guess() {
        for body in [
            json!({"event_type": "identity.session.status_changed", "data": {"user_id": "u"}}),
            json!({"event_type": "identity.session.required_file",
                   "data": {"session_id": "iss-1", "status": "IN_PROGRESS"}}),
        ] {
            let event = Event::from_json(body.clone());
            assert!(matches!(event, Event::Other(_)), "{event:?}");
            assert_eq!(event.raw(), &body);
        }
    }

    #[test]
    fn the_event_type_beats_the_shape() {
        let event = Event::from_json(json!({
            "event_type": "identity.session.status_changed",
            "data": {"session_id": "iss-1", "status": "PROCESSING", "required_documents": []}
        }));
        assert!(matches!(event, Event::ValidationSession(_)), "{event:?}");
    }

    #[test]
    fn any_json_value_is_an_event() {
        for body in [json!(null), json!(42), json!("x"), json!([1, 2]), json!({})] {
            let event = Event::from_json(body.clone());
            assert!(matches!(event, Event::Other(_)));
            assert_eq!(event.into_raw(), body);
        }
    }

    #[test]
    fn debug_shows_ids_and_status_but_no_personal_data() {
        let event = Event::from_json(json!({
            "event_type": "identity.session.status_changed",
            "data": {"session_id": "iss-1", "user_id": "usr-1", "status": "NOT_VALIDATED",
                     "reason": "name JUAN PEREZ does not match", "country": "ARG",
                     "document_number": "30111222"}
        }));
        let debug = format!("{event:?}");
        assert!(
            debug.contains("iss-1") && debug.contains("usr-1"),
            "{debug}"
        );
        assert!(debug.contains("NotValidated"), "{debug}");
        // One policy for models and events (issue #18): ids, statuses and enums such as the
        // country are shown; the reason and every unmodelled value are not.
        assert!(debug.contains("Arg"), "{debug}");
        for private in ["JUAN", "30111222"] {
            assert!(!debug.contains(private), "{private} in {debug}");
        }
        let other = format!("{:?}", Event::from_json(json!({"name": "JUAN PEREZ"})));
        assert!(
            other.contains("\"name\"") && !other.contains("JUAN"),
            "{other}"
        );
    }
}
