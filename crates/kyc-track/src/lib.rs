#![doc = include_str!("../README.md")]
//!
//! # How it is built
//!
//! This crate holds no rule of its own: what to write, what to poll and which verdict to hand
//! over are kyc-core's pure decisions ([`kyc_core::track`]); the [`Store`] writes them, one
//! transaction per input, and the [`Tracker`] runs the loops (webhooks in, polls out, the outbox)
//! over kyc-reqwest on tokio.

mod create;
mod receiver;
mod store;
mod tracker;

pub use create::Create;
pub use receiver::{DEFAULT_BODY_LIMIT, serve};
pub use store::{
    Commit, Committed, MemoryStore, SqliteStore, Store, StoreError, VerdictRecord, open,
};
#[cfg(feature = "postgres")]
pub use store::{DEFAULT_POOL_SIZE, PgStore};
pub use tracker::{Ingested, Resumed, TickReport, TrackError, Tracker, TrackerOptions, apply};

/// The tracking rules, re-exported: [`TrackSettings`](kyc_core::track::TrackSettings) and the
/// record types.
pub use kyc_core::track;
