//! A complete KYC flow against the local simulator, with no credentials and no network:
//!
//! ```text
//! cargo run -p kyc-ureq --example kyc_flow
//! ```
//!
//! 1. starts a webhook receiver on 127.0.0.1 and the `kyc-mock` simulator, which will notify it;
//! 2. gets an access token;
//! 3. creates a KYC session for a user in Argentina;
//! 4. uploads a selfie and both sides of the identity card (the files in `examples/data/`,
//!    embedded in the program), streamed;
//! 5. waits for the "session validated" webhook and verifies its signature with kyc-core;
//! 6. reads the session and its report.
//!
//! The flow itself is in `flow.rs`, which `kyc demo` (crates/kyc-cli) runs too.

mod flow;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    flow::run(&mut std::io::stdout().lock())
}
