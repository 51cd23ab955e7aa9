//! Shared plumbing of the kyc-rs adapters (`kyc-ureq`, `kyc-reqwest`): the error type every client
//! call returns, and configuration from `POMELO_*` environment variables.
//!
//! It holds no HTTP client and no protocol knowledge (that is `kyc-core`'s): only what both
//! adapters would otherwise each write, so that the same failure is the same value whichever
//! client reported it. Both adapters re-export everything here; use it through them.

mod defaults;
pub mod env;
pub mod error;
mod token;

pub use defaults::{
    DEFAULT_ATTEMPT_TIMEOUT, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RESPONSE_BODY,
    DEFAULT_OVERALL_TIMEOUT,
};
pub use env::{
    ENV_AUDIENCE, ENV_BASE_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_ENVIRONMENT, FromEnvError,
};
pub use error::{Error, SourceError, SourceErrorKind, TransportError, TransportErrorKind};
pub use token::TokenInfo;
