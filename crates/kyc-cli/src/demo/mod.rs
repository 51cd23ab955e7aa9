//! `kyc demo`: a whole KYC flow, then a KYB flow, then the tracker following two sessions to
//! their verdicts (one of them with its webhook dropped), against simulators started in-process,
//! step by step (the README's first command).

use crate::failure::Failure;

mod flow;
mod tracked;

/// Runs the flow, writing its readable lines on stdout.
pub(crate) fn run() -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    flow::run(&mut stdout).map_err(|e| failure(e.as_ref()))
}

/// A client error keeps its kind; anything else (the simulator or the receiver could not start,
/// no webhook came) is a local I/O failure, `transport`.
fn failure(error: &(dyn std::error::Error + 'static)) -> Failure {
    if let Some(client) = error.downcast_ref::<kyc_ureq::Error>() {
        return Failure::client(client);
    }
    if let Some(input) = error.downcast_ref::<kyc_core::InvalidInput>() {
        return Failure::from(input);
    }
    Failure::io("the demo failed", &std::io::Error::other(error.to_string()))
}
