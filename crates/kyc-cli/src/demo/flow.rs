//! The KYC flow and then the KYB flow, written to any `Write` (`kyc demo` gives it stdout).

use std::io::{BufRead, BufReader, Cursor, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use kyc_mock::{MockConfig, MockServer};
use kyc_ureq::kyc_core::webhook::{Event, Verifier, WebhookKeys, WebhookSecret};
use kyc_ureq::kyc_core::{
    Config, Country, CreateSession, Credentials, DocumentType, Environment, SessionId, UploadFile,
};
use kyc_ureq::{Client, Source};

use crate::api::KybData;

/// Where the simulator sends webhooks, on the local receiver.
const WEBHOOK_PATH: &str = "/webhooks/identity";
/// Largest webhook request the receiver reads.
const MAX_WEBHOOK_BYTES: usize = 64 * 1024;
/// How long the flow waits for each verified "session validated" webhook.
const WEBHOOK_WAIT: Duration = Duration::from_secs(15);
/// Validation webhooks the flow waits for: the person's session and the company's.
const VALIDATIONS: usize = 2;
/// The KYB create's `data` of Pomelo's documented example (`crates/kyc-cli/data/kyb.json`).
const KYB_DATA: &str = include_str!("../../data/kyb.json");
/// A one-page PDF, the company's document.
const COMPANY_DOCUMENT: &[u8] = include_bytes!("../../data/company-document.pdf");

/// The sample documents (tiny valid images from `crates/kyc-cli/data/`), embedded so the flow runs from
/// any directory and from an installed `kyc` binary.
pub(super) const DOCUMENTS: [(DocumentType, &str, &[u8]); 3] = [
    (
        DocumentType::Selfie,
        "selfie.jpg",
        include_bytes!("../../data/selfie.jpg"),
    ),
    (
        DocumentType::IdentityCardFront,
        "identity-card-front.png",
        include_bytes!("../../data/identity-card-front.png"),
    ),
    (
        DocumentType::IdentityCardBack,
        "identity-card-back.png",
        include_bytes!("../../data/identity-card-back.png"),
    ),
];

/// What the webhook receiver thread reports to the flow.
enum Delivery {
    /// A delivery whose signature verified (boxed: an event is much larger than a message).
    Verified(Box<Event>),
    /// A delivery refused, and why.
    Refused(String),
}

/// Runs the whole flow against a simulator started here, writing one line per step to `out`.
///
/// # Errors
///
/// The first failing step: the simulator or the receiver cannot start, a client call fails, or no
/// verified webhook arrives in time.
pub(crate) fn run(out: &mut dyn Write) -> Result<(), Box<dyn std::error::Error>> {
    // 1. A webhook receiver and the simulator.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let webhook_url = format!("http://{}{WEBHOOK_PATH}", listener.local_addr()?);
    let server = MockServer::start(
        MockConfig::new()
            .webhook_url(&webhook_url)
            .processing_delay(Duration::from_millis(200)),
    )?;
    let verifier = Verifier::new(WebhookKeys::new().with(
        server.webhook_api_key(),
        WebhookSecret::from_base64(server.webhook_secret())?,
    ))
    .expected_endpoint(WEBHOOK_PATH);
    let (deliveries, received) = mpsc::channel();
    std::thread::spawn(move || receive_webhooks(&listener, &verifier, &deliveries));
    step(
        out,
        "simulator",
        &format!("Pomelo Identity simulator on {}", server.base_url()),
    )?;
    step(out, "receiver", &format!("webhooks go to {webhook_url}"))?;
    step(
        out,
        "console",
        &format!(
            "{} (while the demo runs; `kyc mock --manual` keeps one up)",
            server.console_url()
        ),
    )?;

    // The client, configured as for Pomelo's sandbox but pointed at the simulator.
    let config = Config::builder(Environment::Sandbox)
        .base_url(server.base_url())
        .audience(server.audience())
        .build()?;
    let client = Client::new(
        config,
        Credentials::new(server.client_id(), server.client_secret()),
    );

    writeln!(out, "\nKYC: a person's session")?;
    // 2. Token.
    let token = client.token()?;
    let lifetime = token
        .expires_at
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .map_or_else(
            || "unknown".to_owned(),
            |d| format!("{} min", d.as_secs() / 60),
        );
    step(
        out,
        "token",
        &format!("access token obtained, valid for {lifetime}"),
    )?;

    // 3. Session.
    let user_id = "usr-2HPUYx0n9USSNwSkP5G0gY1I2TO";
    let created = client.create_session(&CreateSession::new(user_id, Country::Arg))?;
    step(
        out,
        "session",
        &format!(
            "created {} (expires {})",
            created.id,
            created
                .expiration_at
                .as_ref()
                .map_or("?", kyc_core::Timestamp::as_str)
        ),
    )?;

    // 4. Documents, streamed from a reader (here over the bytes embedded in the program).
    upload_person(out, &client, &created.id, user_id)?;

    // 5. The webhook, verified by the receiver with kyc-core's verifier.
    let event = wait_for_validation(out, &received)?;
    report_event(out, &event)?;

    // 6. Session and report.
    let session = client.get_session(created.id.clone())?;
    let status = session.status.map(|s| s.to_string()).unwrap_or_default();
    let steps: Vec<String> = session
        .steps
        .iter()
        .map(|s| {
            format!(
                "{}={}",
                s.name.as_deref().unwrap_or("?"),
                s.status
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            )
        })
        .collect();
    step(
        out,
        "session",
        &format!("{} is {status}, {} files", session.id, session.files.len()),
    )?;
    for line in steps.chunks(4) {
        step(out, "", &format!("  {}", line.join(", ")))?;
    }
    let report = client.report(created.id.clone())?;
    step(
        out,
        "report",
        &format!(
            "{} status {} for {}: {} steps, {} files, personal data {}",
            report.id,
            report.status.map(|s| s.to_string()).unwrap_or_default(),
            report.user_id.as_deref().unwrap_or("?"),
            report.steps.len(),
            report.files.len(),
            if report.personal_data.is_some() {
                "kept"
            } else {
                "none given"
            }
        ),
    )?;

    // 7. KYB: a company and its partner, from Pomelo's documented example.
    writeln!(
        out,
        "\nKYB: a company and its partners, from Pomelo's documented example"
    )?;
    let data: KybData = serde_json::from_str(KYB_DATA)?;
    let company_id = data.company.id.clone();
    let partners: Vec<String> = data.partners.iter().map(|p| p.id.clone()).collect();
    let create = data.create(Country::Bra, None);
    let created = client.create_kyb_session(&create)?;
    step(
        out,
        "kyb",
        &format!(
            "created {} for company {company_id} with {} partner(s), flow {}",
            created.id,
            partners.len(),
            create.flow_type
        ),
    )?;

    // 8. The company's document to the company's entity, then each partner's documents.
    let upload = UploadFile::new(
        created.id.clone(),
        company_id.as_str(),
        DocumentType::CompanyDocument,
    )
    .file_name("company-document.pdf")
    .country(Country::Bra)
    .kyb(true);
    let info = client.upload(&upload, Source::bytes(COMPANY_DOCUMENT))?;
    upload_line(
        out,
        &DocumentType::CompanyDocument,
        "company-document.pdf",
        &info,
    )?;
    for partner in &partners {
        upload_person(out, &client, &created.id, partner)?;
    }

    // 9. The company's webhook, verified like the person's.
    let event = wait_for_validation(out, &received)?;
    report_event(out, &event)?;

    // 10. The KYB report, typed.
    let report = client.report(created.id.clone())?;
    let nature = report
        .company_data
        .as_ref()
        .and_then(|c| c.juridic_nature.as_ref())
        .map(|n| {
            format!(
                "{} ({})",
                n.code.as_ref().map(ToString::to_string).unwrap_or_default(),
                n.description.as_deref().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let valid = report
        .documentation_proof
        .iter()
        .filter(|p| p.valid == Some(true))
        .count();
    step(
        out,
        "report",
        &format!(
            "{} status {}: juridic nature {nature}, {valid} of {} company documents valid, {} \
             partner(s), {} documents requested again",
            report.id,
            report.status.map(|s| s.to_string()).unwrap_or_default(),
            report.documentation_proof.len(),
            report.partners.len(),
            report.documentation_request.len()
        ),
    )?;

    server.shutdown();

    // 11. The tracker: each verdict once, webhook or not.
    super::tracked::run(out)?;
    writeln!(out, "\nKYC, KYB and tracked flows complete.")?;
    out.flush()?;
    Ok(())
}

/// Uploads the three sample documents of a person (`entity`) to `session`, one line each.
fn upload_person(
    out: &mut dyn Write,
    client: &Client,
    session: &SessionId,
    entity: &str,
) -> Result<(), Box<dyn std::error::Error>> {
    for (document, file, bytes) in DOCUMENTS {
        let upload = UploadFile::new(session.clone(), entity, document.clone()).file_name(file);
        let reader = Box::new(Cursor::new(bytes));
        let info = client.upload(&upload, Source::reader(reader, bytes.len() as u64))?;
        upload_line(out, &document, file, &info)?;
    }
    Ok(())
}

fn upload_line(
    out: &mut dyn Write,
    document: &DocumentType,
    file: &str,
    info: &kyc_core::FileInfo,
) -> std::io::Result<()> {
    step(
        out,
        "upload",
        &format!(
            "{:<20} {file:<24} {:>4} bytes, {:<15} → {}",
            document.to_string(),
            info.size_bytes().unwrap_or_default(),
            info.content_type.as_deref().unwrap_or("?"),
            info.id.as_deref().unwrap_or("?")
        ),
    )
}

fn report_event(out: &mut dyn Write, event: &Event) -> std::io::Result<()> {
    match event {
        Event::ValidationSession(n) => step(
            out,
            "webhook",
            &format!(
                "signature verified: session {} is {}{}",
                n.session_id,
                n.status,
                n.reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
        ),
        other => step(out, "webhook", &format!("signature verified: {other:?}")),
    }
}

pub(super) fn step(out: &mut dyn Write, what: &str, detail: &str) -> std::io::Result<()> {
    writeln!(out, "{what:>10} │ {detail}")
}

/// Reports the receiver's deliveries until a verified validation-session event arrives, for at
/// most [`WEBHOOK_WAIT`].
fn wait_for_validation(
    out: &mut dyn Write,
    received: &mpsc::Receiver<Delivery>,
) -> Result<Event, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + WEBHOOK_WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let delivery = received.recv_timeout(left).map_err(|_| {
            "no verified webhook within 15 s (see the receiver's messages above)".to_owned()
        })?;
        match delivery {
            Delivery::Verified(event) => match *event {
                event @ Event::ValidationSession(_) => return Ok(event),
                Event::RequiredFile(n) => step(
                    out,
                    "webhook",
                    &format!("documents required: {:?}", n.required_documents),
                )?,
                _ => {}
            },
            Delivery::Refused(e) => step(out, "receiver", &format!("refused a delivery: {e}"))?,
        }
    }
}

/// Accepts webhook deliveries until [`VALIDATIONS`] validation-session events are verified (at
/// most 40 connections), answering `200` to verified ones and `401` to the rest.
fn receive_webhooks(
    listener: &TcpListener,
    verifier: &Verifier,
    deliveries: &mpsc::Sender<Delivery>,
) {
    let mut validations = 0;
    for stream in listener.incoming().take(40) {
        let Ok(stream) = stream else { continue };
        let delivery = match handle(stream, verifier) {
            Ok(event) => Delivery::Verified(Box::new(event)),
            Err(e) => Delivery::Refused(e),
        };
        if matches!(&delivery, Delivery::Verified(event)
            if matches!(**event, Event::ValidationSession(_)))
        {
            validations += 1;
        }
        if deliveries.send(delivery).is_err() || validations == VALIDATIONS {
            return;
        }
    }
}

/// Reads one HTTP/1.1 request (bounded), verifies it and answers.
fn handle(mut stream: TcpStream, verifier: &Verifier) -> Result<Event, String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let (request, body) = read_request(&stream).map_err(|e| format!("unreadable request: {e}"))?;
    let mut http_request = kyc_ureq::http::Request::builder().uri(request.path.as_str());
    for (name, value) in &request.headers {
        http_request = http_request.header(name.as_str(), value.as_str());
    }
    let http_request = http_request.body(body).map_err(|e| e.to_string())?;
    let verdict = verifier.verify_request(&http_request, SystemTime::now());
    let status = if verdict.is_ok() {
        "200 OK"
    } else {
        "401 Unauthorized"
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    verdict.map_err(|e| format!("webhook refused ({})", e.kind()))
}

struct Head {
    path: String,
    headers: Vec<(String, String)>,
}

fn read_request(stream: &TcpStream) -> std::io::Result<(Head, Vec<u8>)> {
    let too_big = || std::io::Error::new(std::io::ErrorKind::InvalidData, "request too large");
    let mut reader = BufReader::new(stream.take(MAX_WEBHOOK_BYTES as u64));
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
    let mut headers = Vec::new();
    let mut content_length = 0usize;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(too_big());
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_owned());
            if name == "content-length" {
                content_length = value.parse().map_err(|_| too_big())?;
            }
            headers.push((name, value));
        }
    }
    if content_length > MAX_WEBHOOK_BYTES {
        return Err(too_big());
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body)?;
    Ok((Head { path, headers }, body))
}
