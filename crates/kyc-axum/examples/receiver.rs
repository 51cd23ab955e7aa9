//! A webhook receiver for Pomelo's Identity notifications, in a few lines of axum.
//!
//! ```text
//! POMELO_WEBHOOK_SECRETS='API_KEY:BASE64_SECRET' cargo run -p kyc-axum --example receiver -- 3000
//! ```
//!
//! Then point the simulator at it: `kyc mock --webhook-url http://127.0.0.1:3000/webhooks/identity`
//! (without `POMELO_WEBHOOK_SECRETS`, the receiver trusts the simulator's default key pair, which
//! is Pomelo's published example).

use axum::Router;
use axum::http::StatusCode;
use axum::routing::post;
use kyc_axum::{ReceiptLayer, VerifiedEvent, WebhookReceiver};
use kyc_core::webhook::{Event, Verifier, WebhookKeys, WebhookSecret};

/// The path Pomelo is told to call; signatures cover it.
const PATH: &str = "/webhooks/identity";

async fn identity(VerifiedEvent(event): VerifiedEvent) -> StatusCode {
    match event {
        Event::ValidationSession(s) => println!("session {} is now {}", s.session_id, s.status),
        Event::RequiredFile(f) => {
            println!(
                "session {:?} needs {:?}",
                f.session_id, f.required_documents
            );
        }
        // Authenticated, of a kind this version does not type: its JSON is in `raw()` (it may
        // hold personal data: not logged here).
        _ => println!("an event of another kind"),
    }
    StatusCode::NO_CONTENT
}

/// `API_KEY:BASE64_SECRET` entries, separated by commas or newlines.
fn keys() -> Result<WebhookKeys, Box<dyn std::error::Error>> {
    let entries = std::env::var("POMELO_WEBHOOK_SECRETS").unwrap_or_else(|_| {
        format!(
            "{}:{}",
            kyc_mock_defaults::API_KEY,
            kyc_mock_defaults::SECRET
        )
    });
    let mut keys = WebhookKeys::new();
    for entry in entries
        .split([',', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let (api_key, secret) = entry
            .split_once(':')
            .ok_or("POMELO_WEBHOOK_SECRETS: expected API_KEY:BASE64_SECRET")?;
        keys.insert(api_key, WebhookSecret::from_base64(secret)?);
    }
    Ok(keys)
}

/// Pomelo's published example key pair, which the simulator uses by default.
mod kyc_mock_defaults {
    pub(super) const API_KEY: &str = "Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=";
    pub(super) const SECRET: &str = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=";
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::args().nth(1).map_or(Ok(3000), |p| p.parse())?;
    let verifier = Verifier::new(keys()?).expected_endpoint(PATH);
    let app = Router::new()
        .route(PATH, post(identity))
        // A delivery counts as received once `identity` answered 2xx; otherwise Pomelo's
        // redelivery reaches it again.
        .layer(ReceiptLayer::new())
        .with_state(WebhookReceiver::new(verifier));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}{PATH}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
