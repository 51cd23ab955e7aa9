//! Errors by fault. The types are `kyc_adapter::error`'s, shared by both adapters so that the same
//! failure is the same value whichever client reported it.

pub use kyc_adapter::error::{
    Error, SourceError, SourceErrorKind, TransportError, TransportErrorKind,
};
