//! A local simulator of Pomelo's Identity (KYC) API, over real HTTP/1.1 on loopback.
//!
//! (Crate documentation is completed below.)

#![forbid(unsafe_code)]

mod clock;
mod config;
mod faults;
mod handlers;
mod http;
mod ids;
mod lifecycle;
mod multipart;
mod record;
mod router;
mod server;
mod session;
mod state;
mod webhook;

pub use config::{
    DEFAULT_AUDIENCE, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_MAX_UPLOAD_BYTES,
    DEFAULT_WEBHOOK_API_KEY, DEFAULT_WEBHOOK_SECRET, MockConfig, Outcome, StartError,
};
pub use faults::{Fault, Route};
pub use record::RecordedRequest;
pub use server::MockServer;
pub use webhook::{DeliveryAttempt, WebhookDelivery, WebhookKind};
