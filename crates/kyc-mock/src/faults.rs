//! Fault injection: make the next N requests to a route fail in a chosen way. Routes are named as
//! in the route table (`routes.rs`, `Route::name`), `None` standing for every request.

use std::collections::VecDeque;
use std::time::Duration;

/// What an injected fault does instead of (or before) the normal answer.
///
/// Every faulted request is still recorded in [`MockServer::requests`](crate::MockServer::requests).
/// Except for [`Fault::Delay`], [`Fault::Trickle`] and [`Fault::LoseResponse`], the request is not
/// processed: nothing is created, uploaded or cancelled.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer `status` with the usual JSON error body (code `injected_fault`) and, when given, a
    /// `Retry-After` header in seconds. E.g. `429` + `Some(2)`, `500`, `503`.
    Status {
        /// HTTP status code to send (an invalid code becomes `500`).
        status: u16,
        /// Value of `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
    /// Wait this long, then answer normally.
    Delay(Duration),
    /// Process the request normally, send the response head after `head_after`, then its body a
    /// piece at a time spread over `body_over` (its `Content-Length` exact): a slow network, or a
    /// server that trickles to hold a client.
    Trickle {
        /// Wait before the response head.
        head_after: Duration,
        /// How long the body takes to arrive, in ten pieces.
        body_over: Duration,
    },
    /// Close the connection without writing any response.
    DropConnection,
    /// Process the request normally, then close the connection without writing its response: the
    /// client cannot tell whether it was applied (the case idempotency keys exist for).
    LoseResponse,
    /// Send `200` with `Content-Type: application/json` and a `Content-Length` larger than the bytes
    /// that follow, then close the connection.
    TruncatedBody,
    /// Answer `status` with `Content-Type: text/plain` and a body that is not JSON.
    NonJsonBody {
        /// HTTP status code to send.
        status: u16,
    },
    /// Answer `status` with an HTML error page, as a gateway or proxy in front of the API would.
    HtmlErrorPage {
        /// HTTP status code to send.
        status: u16,
    },
}

impl Fault {
    /// A status fault without `Retry-After`.
    pub fn status(status: u16) -> Self {
        Self::Status {
            status,
            retry_after: None,
        }
    }

    /// `429 Too Many Requests` with `Retry-After: seconds`.
    pub fn too_many_requests(retry_after_seconds: u64) -> Self {
        Self::Status {
            status: 429,
            retry_after: Some(retry_after_seconds),
        }
    }

    /// The faults a real network and gateway produce, for
    /// [`MockConfig::random_faults`](crate::MockConfig::random_faults) and `--fault-rate`: `429`
    /// with `Retry-After: 1`, `503`, a dropped connection, a lost response and a truncated body.
    pub fn typical_mix() -> Vec<Fault> {
        vec![
            Fault::too_many_requests(1),
            Fault::status(503),
            Fault::DropConnection,
            Fault::LoseResponse,
            Fault::TruncatedBody,
        ]
    }
}

/// Faults drawn at random: each request that has no injected fault pending gets, with
/// probability `rate`, one of `faults` chosen uniformly.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct RandomFaults {
    pub(crate) rate: f64,
    pub(crate) faults: Vec<Fault>,
}

impl RandomFaults {
    /// The fault for a request, from two random 64-bit draws.
    pub(crate) fn pick(&self, draw: u64, choice: u64) -> Option<Fault> {
        if self.faults.is_empty() || crate::ids::unit(draw) >= self.rate {
            return None;
        }
        let index = usize::try_from(choice % self.faults.len() as u64).ok()?;
        self.faults.get(index).cloned()
    }
}

/// A route's name, or `None` for every request (`Route::Any`).
pub(crate) type Target = Option<&'static str>;

#[derive(Debug)]
struct Entry {
    target: Target,
    fault: Fault,
    remaining: usize,
}

/// Pending faults, consumed first-in first-out among those that match a request.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    entries: VecDeque<Entry>,
}

impl FaultQueue {
    pub(crate) fn push(&mut self, target: Target, fault: Fault, times: usize) {
        if times > 0 {
            self.entries.push_back(Entry {
                target,
                fault,
                remaining: times,
            });
        }
    }

    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }

    pub(crate) fn pending(&self) -> usize {
        self.entries.iter().map(|e| e.remaining).sum()
    }

    /// Takes one use of the oldest fault for `route` (a route's name; `None` for a request that
    /// matches no route) or for every request.
    pub(crate) fn take(&mut self, route: Option<&str>) -> Option<Fault> {
        let index = self
            .entries
            .iter()
            .position(|e| e.target.is_none() || e.target == route)?;
        let entry = self.entries.get_mut(index)?;
        entry.remaining = entry.remaining.saturating_sub(1);
        let fault = entry.fault.clone();
        if entry.remaining == 0 {
            self.entries.remove(index);
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_taken_in_order_and_counted() {
        let mut q = FaultQueue::default();
        q.push(Some("create_session"), Fault::status(500), 2);
        q.push(None, Fault::DropConnection, 1);
        q.push(Some("create_session"), Fault::status(503), 1);
        assert_eq!(q.pending(), 4);
        assert_eq!(q.take(Some("token")), Some(Fault::DropConnection));
        assert_eq!(q.take(Some("create_session")), Some(Fault::status(500)));
        assert_eq!(q.take(Some("create_session")), Some(Fault::status(500)));
        assert_eq!(q.take(Some("token")), None);
        assert_eq!(q.take(None), None);
        assert_eq!(q.take(Some("create_session")), Some(Fault::status(503)));
        assert_eq!(q.take(Some("create_session")), None);
        q.push(None, Fault::TruncatedBody, 0);
        assert_eq!(q.pending(), 0);
    }

    #[test]
    fn random_faults_come_at_their_rate_from_their_mix() {
        let random = RandomFaults {
            rate: 0.25,
            faults: vec![Fault::DropConnection, Fault::status(503)],
        };
        assert_eq!(random.pick(0, 0), Some(Fault::DropConnection));
        assert_eq!(random.pick(0, 1), Some(Fault::status(503)));
        assert_eq!(random.pick(u64::MAX, 0), None);
        // A quarter of evenly spread draws fault.
        let faulted = (0..1000u64)
            .filter(|i| random.pick(i * (u64::MAX / 1000), *i).is_some())
            .count();
        // (The 250th draw sits on the boundary, a hair below it.)
        assert!((250..=251).contains(&faulted), "{faulted}");
        let never = RandomFaults {
            rate: 1.0,
            faults: Vec::new(),
        };
        assert_eq!(never.pick(0, 0), None);
    }
}
