//! How a session moves once its documents are in: `PROCESSING`, then the outcome rule.
//!
//! The rule (also in the crate documentation), checked in this order against the session's user id:
//! 1. contains `needs-file`, first time only → required-file notification asking for the back of
//!    the document pair sent (`identity-card-back`, or `driver-license-back` for a BRA driver
//!    licence), status back to `IN_PROGRESS`; the re-upload restarts processing and the rule goes on
//!    to 2.
//! 2. contains `not-validated` → `NOT_VALIDATED`, reason `DOCUMENT_MISMATCH`.
//! 3. otherwise the configured default outcome.

use std::sync::Arc;

use crate::config::Outcome;
use crate::session::{Session, Status, StepStatus};
use crate::state::{Shared, State};
use crate::webhook::{Notification, dispatch};

/// Reason given with the required-file notification.
const REQUIRED_FILE_REASON: &str = "ILLEGIBLE_DOCUMENT";
/// Reason of the `not-validated` marker.
const MISMATCH_REASON: &str = "DOCUMENT_MISMATCH";

enum Decision {
    RequireFile(&'static str),
    Finish(Outcome),
}

fn decide(session: &Session, default: &Outcome) -> Decision {
    if session.user_id.contains("needs-file") && !session.required_file_sent {
        Decision::RequireFile(session.back_document())
    } else if session.user_id.contains("not-validated") {
        Decision::Finish(Outcome::NotValidated {
            reason: MISMATCH_REASON.to_owned(),
        })
    } else {
        Decision::Finish(default.clone())
    }
}

/// Called under the lock after an upload: when the documents are complete, the session goes to
/// `PROCESSING`. Returns the notifications to send now (processing delay zero) and the generation
/// to finish later (non-zero delay).
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
    session.status = Status::Processing;
    session.updated_at = shared.clock.now();
    session.generation += 1;
    session.set_steps(&[StepStatus::Pending], StepStatus::Processing);
    let generation = session.generation;
    if shared.config.processing_delay.is_zero() {
        (finish(shared, state, session_id, generation), None)
    } else {
        (Vec::new(), Some(generation))
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
    session.updated_at = shared.clock.now();
    match decide(session, &default) {
        Decision::RequireFile(document) => {
            session.status = Status::InProgress;
            session.required_again = Some(document);
            session.required_file_sent = true;
            let at = session.updated_at;
            if let Some(kyb) = &mut session.kyb {
                kyb.requests.push((REQUIRED_FILE_REASON.to_owned(), at));
            }
            session.set_steps(&[StepStatus::Processing], StepStatus::Pending);
            vec![Notification::required_file(
                shared,
                session,
                document,
                REQUIRED_FILE_REASON,
            )]
        }
        Decision::Finish(Outcome::Validated) => {
            session.status = Status::Validated;
            session.reason = None;
            session.set_steps(
                &[StepStatus::Pending, StepStatus::Processing],
                StepStatus::Success,
            );
            vec![Notification::status_changed(shared, session)]
        }
        Decision::Finish(Outcome::NotValidated { reason }) => {
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
            session.reason = Some(reason);
            vec![Notification::status_changed(shared, session)]
        }
    }
}
