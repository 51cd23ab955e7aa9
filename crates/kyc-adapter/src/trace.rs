//! [`Trace`]: each call's story for `tracing`, told by the adapters' loops (feature `tracing`).
//!
//! One span `kyc.call` per logical call, with the operation, the attempts made, the last HTTP
//! status, Pomelo's request id, the outcome and the elapsed time; an event per retry (why, and
//! after how long), per token request and per token answer. Nothing else: never a URL, a header
//! value other than the request id, a body, a token, a secret or personal data.
//!
//! Without the feature, `Trace` is empty and every method does nothing.

use std::time::Instant;

use kyc_core::{Outgoing, Reply};

/// The operation an endpoint type stands for, as spans name it: `CreateSession`, `GetSession`...
#[must_use]
pub fn operation_name<E>() -> &'static str {
    let full = std::any::type_name::<E>();
    // `kyc_core::session::CreateSession` → `CreateSession`; generics (`RequestToken<'_>`) cut.
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

/// One call's trace. Create it with [`Trace::start`] and tell it what the loop does.
#[derive(Debug)]
pub struct Trace {
    #[cfg(feature = "tracing")]
    inner: imp::Inner,
}

impl Trace {
    /// Opens the span of a call of `operation`.
    #[must_use]
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn start(operation: &'static str) -> Self {
        Self {
            #[cfg(feature = "tracing")]
            inner: imp::Inner::start(operation),
        }
    }

    /// The loop is about to send `out`.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn sending(&mut self, out: &Outgoing) {
        #[cfg(feature = "tracing")]
        self.inner.sending(out.purpose);
    }

    /// The loop got `reply` for what it sent.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn received(&mut self, reply: &Reply) {
        #[cfg(feature = "tracing")]
        self.inner.received(reply);
    }

    /// The loop waits until `until`: a retry's back-off right after a failed reply, otherwise a
    /// wait for the token another caller is fetching.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn waiting(&mut self, until: Instant) {
        #[cfg(feature = "tracing")]
        self.inner.waiting(until);
    }

    /// The call ended with `result`.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn done<T>(&mut self, result: &Result<T, kyc_core::CallError>) {
        #[cfg(feature = "tracing")]
        self.inner.done(result.as_ref().err());
    }
}

/// What a reply was, in words fit for a log: `status 503`, `transport timeout`, `source`.
#[cfg(feature = "tracing")]
fn summary(reply: &Reply) -> (Option<u16>, String) {
    match reply {
        Reply::Response(response) => {
            let status = response.status().as_u16();
            (Some(status), format!("status {status}"))
        }
        Reply::Transport(e) => (None, format!("transport {:?}", e.kind()).to_lowercase()),
        Reply::Source(e) => (None, format!("source {:?}", e.kind()).to_lowercase()),
        _ => (None, "another reply".to_owned()),
    }
}

#[cfg(feature = "tracing")]
mod imp {
    use std::time::Instant;

    use kyc_core::{CallError, Fault, Purpose, Reply, Stage};
    use tracing::field::Empty;

    #[derive(Debug)]
    pub(super) struct Inner {
        span: tracing::Span,
        started: Instant,
        attempts: u32,
        purpose: Purpose,
        /// The last reply when it failed and nothing was sent since: a wait now is a back-off.
        failed: Option<String>,
        sent_at: Option<Instant>,
    }

    impl Inner {
        pub(super) fn start(operation: &'static str) -> Self {
            let span = tracing::info_span!(
                "kyc.call",
                operation,
                attempts = 0u32,
                status = Empty,
                request_id = Empty,
                outcome = Empty,
                elapsed_ms = Empty,
            );
            Self {
                span,
                started: Instant::now(),
                attempts: 0,
                purpose: Purpose::Call,
                failed: None,
                sent_at: None,
            }
        }

        pub(super) fn sending(&mut self, purpose: Purpose) {
            self.purpose = purpose;
            self.failed = None;
            self.sent_at = Some(Instant::now());
            if purpose == Purpose::Token {
                tracing::debug!(parent: &self.span, "token request");
            } else {
                self.attempts += 1;
                self.span.record("attempts", self.attempts);
                tracing::debug!(parent: &self.span, attempt = self.attempts, "sending");
            }
        }

        pub(super) fn received(&mut self, reply: &Reply) {
            let (status, summary) = super::summary(reply);
            let took_ms = self.sent_at.take().map_or(0, |at| {
                u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX)
            });
            let request_id = match reply {
                Reply::Response(r) => r
                    .headers()
                    .get("x-request-id")
                    .and_then(|v| v.to_str().ok())
                    // Pomelo's ids are short and plain; anything else is not echoed.
                    .filter(|v| v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic())),
                _ => None,
            };
            let ok = status.is_some_and(|s| (200..300).contains(&s));
            if self.purpose == Purpose::Token {
                tracing::debug!(parent: &self.span, answer = %summary, took_ms, "token answer");
            } else {
                if let Some(status) = status {
                    self.span.record("status", status);
                }
                if let Some(id) = request_id {
                    self.span.record("request_id", id);
                }
                tracing::debug!(parent: &self.span, answer = %summary, took_ms, request_id, "answer");
            }
            if !ok {
                self.failed = Some(summary);
            }
        }

        pub(super) fn waiting(&mut self, until: Instant) {
            let delay_ms =
                u64::try_from(until.saturating_duration_since(Instant::now()).as_millis())
                    .unwrap_or(u64::MAX);
            match self.failed.take() {
                Some(reason) => {
                    tracing::info!(parent: &self.span, reason = %reason, delay_ms, "retry");
                }
                None => {
                    tracing::trace!(parent: &self.span, delay_ms, "waiting for the token");
                }
            }
        }

        pub(super) fn done(&mut self, error: Option<&CallError>) {
            let elapsed_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            self.span.record("elapsed_ms", elapsed_ms);
            match error {
                None => {
                    self.span.record("outcome", "ok");
                }
                Some(e) => {
                    let outcome = outcome(e);
                    self.span.record("outcome", outcome.as_str());
                    tracing::info!(parent: &self.span, outcome = %outcome, elapsed_ms, "failed");
                }
            }
        }
    }

    /// The kind of a call's failure, without any of its text (which may quote the server).
    fn outcome(error: &CallError) -> String {
        let fault = match &error.fault {
            Fault::Api(api) => format!("api {}", api.status.as_u16()),
            Fault::Decode(decode) => format!("api {}", decode.status.as_u16()),
            Fault::InvalidInput(_) => "refused or undecodable".to_owned(),
            Fault::Transport(t) => format!("transport {:?}", t.kind()).to_lowercase(),
            Fault::Source(s) => format!("source {:?}", s.kind()).to_lowercase(),
            Fault::Pagination(_) => "pagination".to_owned(),
            Fault::Randomness => "randomness".to_owned(),
            _ => "error".to_owned(),
        };
        match error.stage {
            Stage::Token => format!("token: {fault}"),
            _ => fault,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_by_their_type() {
        assert_eq!(operation_name::<kyc_core::CreateSession>(), "CreateSession");
        assert_eq!(
            operation_name::<kyc_core::RequestToken<'static>>(),
            "RequestToken"
        );
        assert_eq!(operation_name::<u8>(), "u8");
        // Without the feature a trace is nothing at all.
        if cfg!(not(feature = "tracing")) {
            assert_eq!(std::mem::size_of::<Trace>(), 0);
        }
    }
}
