//! How a session moves once its documents are in: `PROCESSING`, then the outcome rule.
//!
//! The rule (also in the crate documentation), checked in this order against the session's user id:
//! 1. contains `needs-file`, first time only → required-file notification asking for the back of
//!    the document pair sent (`identity-card-back`, or `driver-license-back` for a BRA driver
//!    licence), status back to `IN_PROGRESS`; the re-upload restarts processing and the rule goes on
//!    to 2.
//! 2. contains `not-validated` → `NOT_VALIDATED`, reason `DOCUMENT_MISMATCH`.
//! 3. otherwise the configured default outcome; [`Outcome::Manual`] waits in `PROCESSING` for a
//!    decision by hand ([`decide_by_hand`]).

use std::sync::Arc;

use crate::config::{Decision, Outcome};
use crate::delivery::dispatch;
use crate::session::{Session, Status, StepStatus};
use crate::state::{Shared, State};
use crate::subject::Subject;
use crate::webhook::Notification;

/// Reason given with the required-file notification.
const REQUIRED_FILE_REASON: &str = "ILLEGIBLE_DOCUMENT";
/// Reason of the `not-validated` marker.
const MISMATCH_REASON: &str = "DOCUMENT_MISMATCH";

/// What the rule decides for a session whose processing ends: a decision, or (with
/// [`Outcome::Manual`]) none yet.
fn decide(session: &Session, default: &Outcome) -> Option<Decision> {
    let marked = |marker| session.subject.id().contains(marker);
    if marked("needs-file") && !session.required_file_sent {
        Some(Decision::RequireFiles {
            documents: vec![session.back_document().to_owned()],
            reason: REQUIRED_FILE_REASON.to_owned(),
        })
    } else if marked("not-validated") {
        Some(Decision::NotValidated {
            reason: MISMATCH_REASON.to_owned(),
        })
    } else {
        match default {
            Outcome::Validated => Some(Decision::Validated),
            Outcome::NotValidated { reason } => Some(Decision::NotValidated {
                reason: reason.clone(),
            }),
            Outcome::Manual => None,
        }
    }
}

/// Called under the lock after an upload: when the documents are complete, the session goes to
/// `PROCESSING`. Returns the notifications to send now (the `PROCESSING` one with
/// `notify_processing`; the outcome's with a processing delay of zero) and the generation to
/// finish later (non-zero delay).
pub(crate) fn after_upload(
    shared: &Shared,
    state: &mut State,
    session_id: &str,
) -> (Vec<Notification>, Option<u64>) {
    let Some(session) = state.sessions.get_mut(session_id) else {
        return (Vec::new(), None);
    };
    if session.status != Status::InProgress || !session.documents_complete() {
        return (Vec::new(), None);
    }
    let now = shared.clock.now();
    session.status = Status::Processing;
    session.updated_at = now;
    session.generation += 1;
    session.set_steps(&[StepStatus::Pending], StepStatus::Processing);
    let generation = session.generation;
    let mut notifications = Vec::new();
    if shared.config.notify_processing {
        notifications.push(Notification::status_changed(session, event_id(shared), now));
    }
    if shared.config.processing_delay.is_zero() {
        notifications.extend(finish(shared, state, session_id, generation));
        (notifications, None)
    } else {
        (notifications, Some(generation))
    }
}

/// Runs `after_upload`'s result: sends notifications and, if asked, finishes processing after the
/// configured delay on the runtime.
pub(crate) fn schedule(
    shared: &Arc<Shared>,
    session_id: String,
    notifications: Vec<Notification>,
    later: Option<u64>,
) {
    dispatch(shared, notifications);
    if let Some(generation) = later {
        let shared = Arc::clone(shared);
        tokio::spawn(async move {
            tokio::time::sleep(shared.config.processing_delay).await;
            let notifications = {
                let mut state = shared.lock();
                finish(&shared, &mut state, &session_id, generation)
            };
            dispatch(&shared, notifications);
        });
    }
}

/// Applies the outcome rule to a session still in the `PROCESSING` round `generation`.
fn finish(
    shared: &Shared,
    state: &mut State,
    session_id: &str,
    generation: u64,
) -> Vec<Notification> {
    let default = state.default_outcome.clone();
    let Some(session) = state.sessions.get_mut(session_id) else {
        return Vec::new();
    };
    if session.status != Status::Processing || session.generation != generation {
        return Vec::new();
    }
    match decide(session, &default) {
        Some(decision) => apply(shared, session, &decision, "the outcome rule"),
        None => {
            session.note(
                shared.clock.now(),
                "processing done: waiting for a decision",
            );
            Vec::new()
        }
    }
}

/// Why a decision cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    NoSession,
    Final(&'static str),
    Invalid(String),
}

/// Takes `decision` by hand on a session that is not final: the one implementation behind the
/// console, the admin API and [`MockServer::decide`](crate::MockServer::decide). Returns the
/// notifications to dispatch.
pub(crate) fn decide_by_hand(
    shared: &Shared,
    state: &mut State,
    session_id: &str,
    decision: &Decision,
) -> Result<Vec<Notification>, Refusal> {
    if let Decision::RequireFiles { documents, reason } = decision {
        if documents.is_empty() || documents.len() > 10 {
            return Err(Refusal::Invalid("require 1 to 10 documents".to_owned()));
        }
        if documents
            .iter()
            .chain([reason])
            .any(|d| d.trim().is_empty() || d.len() > 100)
        {
            return Err(Refusal::Invalid(
                "documents and the reason must be 1 to 100 characters".to_owned(),
            ));
        }
    }
    if let Decision::NotValidated { reason } = decision {
        if reason.trim().is_empty() || reason.len() > 100 {
            return Err(Refusal::Invalid(
                "the reason must be 1 to 100 characters".to_owned(),
            ));
        }
    }
    let now = shared.clock.now();
    let session = state
        .sessions
        .get_mut(session_id)
        .ok_or(Refusal::NoSession)?;
    session.refresh(now);
    if session.status.is_final() {
        return Err(Refusal::Final(session.status.as_str()));
    }
    if let Decision::RequireFiles { documents, .. } = decision {
        // Only what an upload to this session can bring: otherwise it never completes.
        let allowed = session.uploadable_documents();
        if let Some(other) = documents.iter().find(|d| !allowed.contains(&d.as_str())) {
            return Err(Refusal::Invalid(format!(
                "`{other}` cannot be uploaded to this session; it takes {}",
                allowed.join(", ")
            )));
        }
    }
    Ok(apply(shared, session, decision, "a decision by hand"))
}

/// Moves `session` as `decision` says and returns its notification. `by` names who decided, for
/// the timeline.
fn apply(
    shared: &Shared,
    session: &mut Session,
    decision: &Decision,
    by: &str,
) -> Vec<Notification> {
    let now = shared.clock.now();
    session.updated_at = now;
    // A pending processing timer must not decide again.
    session.generation += 1;
    match decision {
        Decision::RequireFiles { documents, reason } => {
            session.status = Status::InProgress;
            session.required_again = documents.clone();
            session.required_file_sent = true;
            session.set_steps(&[StepStatus::Processing], StepStatus::Pending);
            if let Subject::Company(company) = &mut session.subject {
                company.requests.push((reason.clone(), now));
            }
            session.note(
                now,
                format!("{by}: documents required again ({})", documents.join(", ")),
            );
            vec![Notification::required_file(
                session,
                documents,
                reason,
                event_id(shared),
                now,
            )]
        }
        Decision::Validated => {
            session.status = Status::Validated;
            session.reason = None;
            session.required_again.clear();
            session.set_steps(
                &[StepStatus::Pending, StepStatus::Processing],
                StepStatus::Success,
            );
            session.note(now, format!("{by}: VALIDATED"));
            vec![Notification::status_changed(session, event_id(shared), now)]
        }
        Decision::NotValidated { reason } => {
            let failing = if reason == MISMATCH_REASON {
                "selfie_document_match"
            } else {
                "risk_validation"
            };
            for step in &mut session.steps {
                step.status = if step.name == failing {
                    StepStatus::Failed
                } else {
                    StepStatus::Success
                };
            }
            session.status = Status::NotValidated;
            session.reason = Some(reason.clone());
            session.required_again.clear();
            session.note(now, format!("{by}: NOT_VALIDATED ({reason})"));
            vec![Notification::status_changed(session, event_id(shared), now)]
        }
    }
}

/// A new webhook event id.
fn event_id(shared: &Shared) -> String {
    shared.ids.id("evt-", 27)
}
