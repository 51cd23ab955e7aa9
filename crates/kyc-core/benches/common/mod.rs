//! Inputs shared by the benchmarks: the criterion benchmarks time them, `instructions.rs` counts
//! their instructions. Each benchmark file uses only some of them.
#![allow(dead_code)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit as _, Mac as _};
use http::HeaderMap;
use kyc_core::webhook::{Event, Verifier, WebhookKeys, WebhookSecret, sign};
use kyc_core::{
    AccessToken, Config, Country, CreateSession, Environment, Extra, GetSession, IdempotencyKey,
    PersonalData, Pii, TermsData, build_request, parse_response,
};
use sha2::Sha256;

// ---------------------------------------------------------------- target 1

/// A get-session body in the shape of `docs/wire-conventions.md`: seven steps, three files, and
/// members the model does not know (kept in `extra`).
pub(crate) const GET_SESSION_BODY: &[u8] = include_bytes!("../data/get_session.json");

/// The 200 response carrying [`GET_SESSION_BODY`], checked to parse into what it should.
pub(crate) fn get_session_response() -> http::Response<&'static [u8]> {
    let response = http::Response::builder()
        .status(200)
        .header("content-type", "application/json")
        .header("x-request-id", "req-7Hq2")
        .body(GET_SESSION_BODY)
        .unwrap();
    let session = parse_response::<GetSession, _>(&response).unwrap();
    assert_eq!(session.steps.len(), 7);
    assert_eq!(session.files.len(), 3);
    assert!(session.extra.get("metadata").is_some());
    response
}

// ---------------------------------------------------------------- target 2

/// What a create-session call needs, built once.
pub(crate) struct CreateInputs {
    pub(crate) config: Config,
    pub(crate) token: AccessToken,
    pub(crate) key: IdempotencyKey,
    pub(crate) create: CreateSession,
}

/// A create-session call with full personal data and terms, checked to put the same bytes on
/// the wire as `serde_json::to_vec` of itself.
pub(crate) fn create_inputs() -> CreateInputs {
    let mut personal = PersonalData::default();
    personal.full_name = Some(Pii::new("María Belén Fernández Ortiz"));
    personal.birthdate = Some(Pii::new("1990-04-17"));
    personal.nationality = Some("ARG".to_owned());
    personal.fiscal_id = Some(Pii::new("27-35123456-4"));
    personal.mother_name = Some(Pii::new("Ana Ortiz"));
    personal.phone = Some(Pii::new("+54 9 11 5555-0123"));
    let address: kyc_core::Address = serde_json::from_value(serde_json::json!({
        "street_name": "Av. Corrientes", "street_number": "1234", "floor": "5", "apartment": "B",
        "zip_code": "C1043", "city": "Buenos Aires", "region": "CABA", "country": "ARG"
    }))
    .expect("an address object");
    personal.address = Some(address);
    personal.extra = Extra(
        [
            ("document_type", "DNI"),
            ("document_number", "35123456"),
            ("email", "maria.fernandez@example.com"),
            ("occupation", "engineer"),
            ("pep", "false"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.into()))
        .collect(),
    );
    let create = CreateSession::new("usr-2HPUYx0n9USSNwSkP5G0gY1I2TO", Country::Arg)
        .personal_data(personal)
        .terms_data(TermsData::accepted("1.4", "2022-05-13T19:47:13.340Z"));
    let inputs = CreateInputs {
        config: Config::new(Environment::Sandbox).unwrap(),
        token: AccessToken::new(
            "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJl",
        ),
        key: IdempotencyKey::from_random_bytes([7; 16]),
        create,
    };
    let request = build_create(&inputs);
    assert_eq!(
        request.body().as_ref(),
        serde_json::to_vec(&inputs.create).unwrap()
    );
    inputs
}

/// The operation target 2 measures.
pub(crate) fn build_create(inputs: &CreateInputs) -> http::Request<kyc_core::Body> {
    build_request(
        &inputs.config,
        &inputs.create,
        Some(&inputs.token),
        Some(&inputs.key),
    )
    .unwrap()
}

// ---------------------------------------------------------------- target 3

pub(crate) const WEBHOOK_BODY_LEN: usize = 64 * 1024;
const API_KEY: &str = "Lp0g+cwb19eEfTn1YIOydEnqPcZOg8YxHctnMe+1cQA=";
const SECRET: &str = "uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=";
const ENDPOINT: &str = "/webhooks/identity/sessions";
const TIMESTAMP: u64 = 1_700_000_000;

/// A signed 64 KiB webhook, its verifier, and the bare HMAC baseline's keyed state.
pub(crate) struct Webhook {
    pub(crate) body: Vec<u8>,
    pub(crate) headers: HeaderMap,
    pub(crate) verifier: Verifier,
    pub(crate) now: SystemTime,
    /// HMAC-SHA256 keyed with the same secret (the key schedule done once, as the verifier does).
    keyed: Hmac<Sha256>,
    timestamp: String,
}

/// A status notification padded to exactly 64 KiB with an audit trail of small objects.
fn webhook_body() -> Vec<u8> {
    let head = r#"{"event_id":"evt-001","event_type":"identity.session.status_changed","created_at":"2023-11-14T22:13:20Z","data":{"session_id":"iss-AAAA","user_id":"usr-BBBB","status":"VALIDATED","reason":null,"country":"ARG","flow_type":"kyc-accounts","history":["#;
    let entry = |i: usize| {
        format!(
            r#"{{"step":"check-{i}","status":"SUCCESS","at":"2023-11-14T22:{:02}:{:02}Z"}}"#,
            i / 60 % 60,
            i % 60
        )
    };
    let mut history = String::new();
    let mut i = 0;
    // Leave room for `],"note":"` and `"}}` plus a little padding.
    while head.len() + history.len() + entry(i).len() + 1 + 20 < WEBHOOK_BODY_LEN {
        if i > 0 {
            history.push(',');
        }
        history.push_str(&entry(i));
        i += 1;
    }
    let mut text = format!(r#"{head}{history}],"note":""#);
    let pad = WEBHOOK_BODY_LEN - text.len() - r#""}}"#.len();
    text.push_str(&"x".repeat(pad));
    text.push_str(r#""}}"#);
    assert_eq!(text.len(), WEBHOOK_BODY_LEN);
    text.into_bytes()
}

/// The webhook, checked to verify into a session notification.
pub(crate) fn webhook() -> Webhook {
    let body = webhook_body();
    let secret = WebhookSecret::from_base64(SECRET).unwrap();
    let verifier =
        Verifier::new(WebhookKeys::new().with(API_KEY, secret.clone())).expected_endpoint(ENDPOINT);
    let headers = sign(API_KEY, &secret, ENDPOINT, TIMESTAMP, &body)
        .to_header_map()
        .unwrap();
    let now = UNIX_EPOCH + Duration::from_secs(TIMESTAMP + 30);
    assert!(matches!(
        verifier.verify(&headers, &body, now).unwrap(),
        Event::ValidationSession(_)
    ));
    let webhook = Webhook {
        keyed: Hmac::<Sha256>::new_from_slice(&STANDARD.decode(SECRET).unwrap()).unwrap(),
        timestamp: TIMESTAMP.to_string(),
        body,
        headers,
        verifier,
        now,
    };
    let mac = webhook.bare_hmac(&webhook.body);
    let signature = webhook
        .headers
        .get("x-signature")
        .unwrap()
        .to_str()
        .unwrap();
    assert_eq!(
        signature,
        format!("hmac-sha256 {}", STANDARD.encode(mac)),
        "the baseline computes the same MAC"
    );
    webhook
}

impl Webhook {
    /// The bare baseline: one HMAC-SHA256 over timestamp, endpoint and body.
    pub(crate) fn bare_hmac(&self, body: &[u8]) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(self.timestamp.as_bytes());
        mac.update(ENDPOINT.as_bytes());
        mac.update(body);
        mac.finalize().into_bytes().into()
    }
}
