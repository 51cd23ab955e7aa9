//! End-to-end tests of the `kyc` binary: each runs the built program as a child process against a
//! kyc-mock simulator started in the test on 127.0.0.1, and checks stdout's JSON, stderr's
//! `error[KIND]` line and the exit code. Nothing here reaches beyond loopback.

// A panic is a failed test, which is what we want; `[..]` on JSON values reads as the shape it
// checks.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod api;
mod differs;
mod doctor;
mod errors;
mod kyb;
mod mock_demo;
mod support;
mod terminal;
mod usage;
mod webhook;
