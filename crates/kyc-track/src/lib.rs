//! Follow Pomelo Identity sessions to their verdicts, once.
//!
//! A team integrates Pomelo Identity to learn one thing per person or company: the verdict,
//! once, and to act on it once. `kyc-track` keeps every tracked session in a durable [`Store`]
//! and applies kyc-core's tracking rules ([`kyc_core::track`]) to everything that arrives, each
//! input in one transaction.
//!
//! This crate holds no rule of its own: what to write, what to poll and which verdict to hand
//! over are kyc-core's pure decisions; the store writes them, atomically.

mod create;
mod receiver;
mod store;
mod tracker;

pub use create::Create;
pub use receiver::{DEFAULT_BODY_LIMIT, serve};
pub use store::{
    Commit, Committed, MemoryStore, SqliteStore, Store, StoreError, VerdictRecord, open,
};
pub use tracker::{Ingested, TickReport, TrackError, Tracker, TrackerOptions, apply};

/// The tracking rules, re-exported: [`TrackSettings`](kyc_core::track::TrackSettings) and the
/// record types.
pub use kyc_core::track;
