//! Sans-IO protocol core for Pomelo's Identity (KYC) API.

pub mod enums;
pub mod webhook;

pub use enums::{Country, DocumentType, FlowType, IntegrationMethod, SessionStatus, StepStatus};
