//! Errors by fault. The types are kyc-core's, shared by both adapters so that the same failure is
//! the same value whichever client reported it.

pub use kyc_adapter::{
    AttemptTimeout, Error, SourceError, SourceErrorKind, TransportError, TransportErrorKind,
};
