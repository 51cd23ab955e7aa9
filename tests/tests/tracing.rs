//! The adapters' `tracing` feature: each call's story is told (operation, attempts, status,
//! Pomelo's request id, retries, token requests) and nothing else: a flow full of marker strings
//! (client secret, personal data, file name, document number) and the access token itself must
//! not appear anywhere in what a subscriber records.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use kyc_core::{
    CleanValidations, Config, Country, CreateSession, Credentials, DocumentType, Environment,
    PersonalData, Pii, UploadFile,
};
use kyc_mock::{Fault, MockConfig, MockServer, Route};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const SECRET: &str = "MARKER-SECRET-7f3a91";
const NAME: &str = "MARKER-NAME-Ana-Ortiz";
const FISCAL: &str = "MARKER-FISCAL-27351234";
const FILE: &str = "MARKER-FILE-dni.jpg";
const DOCUMENT: &str = "MARKER-DOC-35123456";
const JPEG: &[u8] = &[
    0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0xFF, 0xD9,
];

/// Records every span, field and event as text.
#[derive(Clone, Default)]
struct Capture {
    lines: Arc<Mutex<Vec<String>>>,
    next_id: Arc<AtomicU64>,
}

struct Text(String);

impl Visit for Text {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

impl Capture {
    fn push(&self, line: String) {
        self.lines.lock().unwrap().push(line);
    }
    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
}

impl Subscriber for Capture {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut text = Text(format!("span {}", span.metadata().name()));
        span.record(&mut text);
        self.push(text.0);
        Id::from_u64(self.next_id.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut text = Text(format!("record {}", span.into_u64()));
        values.record(&mut text);
        self.push(text.0);
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = Text(format!("event {}", event.metadata().level()));
        event.record(&mut text);
        self.push(text.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn simulator() -> MockServer {
    MockServer::start(
        MockConfig::new()
            .client_secret(SECRET)
            .processing_delay(std::time::Duration::ZERO),
    )
    .unwrap()
}

fn settings_for(server: &MockServer) -> (Config, Credentials) {
    let config = Config::builder(Environment::Sandbox)
        .base_url(server.base_url())
        .build()
        .unwrap();
    (config, Credentials::new(server.client_id(), SECRET))
}

fn personal() -> CreateSession {
    let mut data = PersonalData::default();
    data.full_name = Some(Pii::new(NAME));
    data.fiscal_id = Some(Pii::new(FISCAL));
    CreateSession::new("usr-trace", Country::Arg).personal_data(data)
}

#[test]
fn each_call_is_told_without_a_secret_or_personal_data() {
    let capture = Capture::default();
    let mut tokens = Vec::new();
    tracing::subscriber::with_default(capture.clone(), || {
        // kyc-ureq.
        let server = simulator();
        let (config, credentials) = settings_for(&server);
        let client = kyc_ureq::Client::new(config, credentials);
        let created = client.create_session(&personal()).unwrap();
        let upload =
            UploadFile::new(created.id.clone(), "usr-trace", DocumentType::Selfie).file_name(FILE);
        client
            .upload(&upload, kyc_ureq::Source::bytes(JPEG))
            .unwrap();
        server.inject_fault(Route::GetSession, Fault::status(503), 1);
        client.get_session(created.id.clone()).unwrap();
        client
            .clean_validations(&CleanValidations::document_number(DOCUMENT))
            .unwrap();
        tokens.push(
            client
                .token()
                .unwrap()
                .access_token
                .expose_secret()
                .to_owned(),
        );

        // kyc-reqwest, on this thread's runtime.
        let server = simulator();
        let (config, credentials) = settings_for(&server);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = kyc_reqwest::Client::new(config, credentials);
            let created = client.create_session(&personal()).await.unwrap();
            let upload = UploadFile::new(created.id.clone(), "usr-trace", DocumentType::Selfie)
                .file_name(FILE);
            client
                .upload(&upload, kyc_reqwest::Source::bytes(JPEG))
                .await
                .unwrap();
            server.inject_fault(Route::GetSession, Fault::status(503), 1);
            client.get_session(created.id.clone()).await.unwrap();
            client
                .clean_validations(&CleanValidations::document_number(DOCUMENT))
                .await
                .unwrap();
            tokens.push(
                client
                    .token()
                    .await
                    .unwrap()
                    .access_token
                    .expose_secret()
                    .to_owned(),
            );
        });
    });
    let text = capture.text();
    if std::env::var_os("KYC_SHOW_TRACE").is_some() {
        eprintln!("{text}");
    }

    // The story is there: a span per call, its operation, attempts, status and request id; a
    // retry with its reason; token requests.
    for expected in [
        "span kyc.call operation=CreateSession",
        "operation=UploadFile",
        "operation=GetSession",
        "operation=CleanValidations",
        "operation=token",
        "token request",
        "reason=status 503",
        "attempts=2",
        "status=200",
        "request_id=req-",
        "outcome=ok",
        "elapsed_ms=",
    ] {
        assert!(text.contains(expected), "no `{expected}` in:\n{text}");
    }
    // And nothing else.
    for token in &tokens {
        assert!(!token.is_empty());
        assert!(
            !text.contains(token.as_str()),
            "the access token was recorded"
        );
    }
    for marker in [SECRET, NAME, FISCAL, FILE, DOCUMENT, "MARKER"] {
        assert!(!text.contains(marker), "`{marker}` was recorded:\n{text}");
    }
}

#[test]
fn a_failed_call_records_its_kind_not_its_text() {
    let capture = Capture::default();
    tracing::subscriber::with_default(capture.clone(), || {
        let server = simulator();
        let (config, _) = settings_for(&server);
        // Refused credentials: the call fails as a token error.
        let client = kyc_ureq::Client::new(config, Credentials::new("nobody", "MARKER-WRONG"));
        assert!(client.get_session("iss-x").is_err());
    });
    let text = capture.text();
    assert!(text.contains("outcome=token: api 401"), "{text}");
    assert!(!text.contains("MARKER"), "{text}");
}
