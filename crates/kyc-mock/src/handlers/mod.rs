//! Endpoint handlers, one module per concern, and what they share about a request. Which route
//! calls which handler is the route table's (`routes.rs`).

pub(crate) mod auth;
pub(crate) mod request;
pub(crate) mod search;
pub(crate) mod sessions;
pub(crate) mod upload;
