//! The simulator's console in a real browser (issue #17): headless Chromium, driven over WebDriver
//! by chromedriver, watches a KYC flow that kyc-ureq runs, rejects the session through the page,
//! and the client then reads `NOT_VALIDATED` while a signed webhook says the same. A screenshot of
//! the console after the flow is left in Cargo's test tmp dir (`target/tmp/`), not committed.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them; the paths can be set
//! with `KYC_CHROMIUM` and `KYC_CHROMEDRIVER`). Without them the test says so and passes, unless
//! `KYC_REQUIRE_BROWSER` is set (as in CI), when it fails.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use kyc_core::webhook::{Event, Verifier, WebhookKeys, WebhookSecret};
use kyc_core::{
    Config, Country, CreateSession, Credentials, DocumentType, Environment, SessionStatus,
};
use kyc_mock::{MockConfig, MockServer, Outcome};
use serde_json::{Value, json};

/// The W3C WebDriver key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// Longest any wait in this test lasts.
const WAIT: Duration = Duration::from_secs(20);

fn tool(env: &str, default: &str) -> Option<PathBuf> {
    let path = std::env::var_os(env).map_or_else(|| PathBuf::from(default), PathBuf::from);
    path.exists().then_some(path)
}

/// Polls `f` every 100 ms until it gives a value or [`WAIT`] passes.
fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    base: String,
    agent: ureq::Agent,
    session: String,
}

impl Driver {
    fn start(chromedriver: &PathBuf, chromium: &PathBuf) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .new_agent();
        let mut driver = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            agent,
            session: String::new(),
        };
        eventually("chromedriver to listen", || {
            driver
                .agent
                .get(format!("{}/status", driver.base))
                .call()
                .ok()
                .filter(|r| r.status() == 200)
        });
        let created = driver.command(
            "POST",
            "/session",
            json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1400,1100"]
                }
            }}}),
        );
        driver.session = created["sessionId"].as_str().unwrap().to_owned();
        driver
    }

    /// One WebDriver command; its `value`.
    fn command(&self, method: &str, path: &str, body: Value) -> Value {
        let url = format!("{}{path}", self.base);
        let mut response = match method {
            "GET" => self.agent.get(&url).call(),
            "DELETE" => self.agent.delete(&url).call(),
            _ => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.to_string().as_bytes()),
        }
        .unwrap();
        let status = response.status().as_u16();
        let reply: Value =
            serde_json::from_slice(&response.body_mut().read_to_vec().unwrap()).unwrap();
        assert!(status < 300, "WebDriver {method} {path}: {status} {reply}");
        reply["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn goto(&self, url: &str) {
        self.command("POST", &self.session_path("/url"), json!({ "url": url }));
    }

    /// The first element matching `css`, if any.
    fn find(&self, css: &str) -> Option<String> {
        let found = self.command(
            "POST",
            &self.session_path("/elements"),
            json!({"using": "css selector", "value": css}),
        );
        found[0][ELEMENT].as_str().map(str::to_owned)
    }

    fn wait_for(&self, css: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(found) = self.find(css) {
                return found;
            }
            if Instant::now() >= deadline {
                let source = self.command("GET", &self.session_path("/source"), json!({}));
                panic!(
                    "timed out waiting for {css}; the page is:\n{}",
                    source.as_str().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn text(&self, css: &str) -> String {
        let element = self.wait_for(css);
        self.command(
            "GET",
            &self.session_path(&format!("/element/{element}/text")),
            json!({}),
        )
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    fn click(&self, css: &str) {
        let element = self.wait_for(css);
        self.command(
            "POST",
            &self.session_path(&format!("/element/{element}/click")),
            json!({}),
        );
    }

    fn type_into(&self, css: &str, text: &str) {
        let element = self.wait_for(css);
        self.command(
            "POST",
            &self.session_path(&format!("/element/{element}/clear")),
            json!({}),
        );
        self.command(
            "POST",
            &self.session_path(&format!("/element/{element}/value")),
            json!({ "text": text }),
        );
    }

    /// Runs `script` in the page; its return value.
    fn script(&self, script: &str) -> Value {
        self.command(
            "POST",
            &self.session_path("/execute/sync"),
            json!({ "script": script, "args": [] }),
        )
    }

    fn screenshot(&self) -> Vec<u8> {
        let png = self.command("GET", &self.session_path("/screenshot"), json!({}));
        base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = self
                .agent
                .delete(format!("{}/session/{}", self.base, self.session))
                .call();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A webhook receiver on loopback: each request's head and body, answered `200`.
fn receiver() -> (String, mpsc::Receiver<http::Request<Vec<u8>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let (sender, received) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(stream) = stream else { continue };
            if let Some(request) = read_request(stream) {
                if sender.send(request).is_err() {
                    return;
                }
            }
        }
    });
    (url, received)
}

fn read_request(mut stream: TcpStream) -> Option<http::Request<Vec<u8>>> {
    stream.set_read_timeout(Some(WAIT)).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let path = line.split_whitespace().nth(1)?.to_owned();
    let mut builder = http::Request::builder().method("POST").uri(path);
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        let (name, value) = header.split_once(':')?;
        if name.eq_ignore_ascii_case("content-length") {
            length = value.trim().parse().ok()?;
        }
        builder = builder.header(name.trim(), value.trim());
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body).ok()?;
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .ok()?;
    builder.body(body).ok()
}

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/kyc-cli/data")
        .join(name)
}

#[test]
fn a_session_is_rejected_from_the_console_in_a_real_browser() {
    let (Some(chromium), Some(chromedriver)) = (
        tool("KYC_CHROMIUM", "/usr/bin/chromium"),
        tool("KYC_CHROMEDRIVER", "/usr/bin/chromedriver"),
    ) else {
        assert!(
            std::env::var_os("KYC_REQUIRE_BROWSER").is_none(),
            "KYC_REQUIRE_BROWSER is set but chromium or chromedriver is missing"
        );
        eprintln!(
            "skipped: no /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium \
             chromium-driver, or set KYC_CHROMIUM and KYC_CHROMEDRIVER)"
        );
        return;
    };

    // The simulator leaves sessions in PROCESSING for a decision, and signs its webhooks.
    let (webhook_url, webhooks) = receiver();
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .default_outcome(Outcome::Manual)
            .webhook_url(&webhook_url),
    )
    .unwrap();

    // A KYC flow through kyc-ureq.
    let config = Config::builder(Environment::Sandbox)
        .base_url(server.base_url())
        .audience(server.audience())
        .build()
        .unwrap();
    let client = kyc_ureq::Client::new(
        config,
        Credentials::new(server.client_id(), server.client_secret()),
    );
    let user = "usr-console-browser";
    let id = client
        .create_session(&CreateSession::new(user, Country::Arg))
        .unwrap()
        .id;
    for (document, file) in [
        (DocumentType::Selfie, "selfie.jpg"),
        (DocumentType::IdentityCardFront, "identity-card-front.png"),
        (DocumentType::IdentityCardBack, "identity-card-back.png"),
    ] {
        client
            .upload_path(id.clone(), user, document, sample(file))
            .unwrap();
    }
    assert_eq!(
        client.get_session(id.clone()).unwrap().status,
        Some(SessionStatus::Processing)
    );

    // The console shows the session; the page rejects it with a reason.
    let driver = Driver::start(&chromedriver, &chromium);
    driver.goto(&server.console_url());
    let row = format!("#sessions tr[data-session='{id}']");
    driver.wait_for(&row);
    assert!(
        driver.text(&row).contains("PROCESSING"),
        "{}",
        driver.text(&row)
    );
    driver.click(&row);
    eventually("the session's detail", || {
        (driver.text("#detail-id") == id.as_str()).then_some(())
    });
    // The three uploads' previews loaded as images (not a 401 or 404 behind an <img>).
    eventually("the previews", || {
        let loaded = driver.script(
            "const imgs = [...document.querySelectorAll('#detail-files img')];\n\
             return imgs.length === 3 && imgs.every(i => i.complete && i.naturalWidth > 0);",
        );
        (loaded == json!(true)).then_some(())
    });
    driver.type_into("#reject-reason", "FACE_MISMATCH");
    driver.click("#reject-button");

    // The client reads the decision, a signed webhook carries it, and the page shows it.
    let session = eventually("NOT_VALIDATED through the client", || {
        let session = client.get_session(id.clone()).unwrap();
        (session.status == Some(SessionStatus::NotValidated)).then_some(session)
    });
    assert_eq!(session.reason.as_deref(), Some("FACE_MISMATCH"));
    let verifier = Verifier::new(WebhookKeys::new().with(
        server.webhook_api_key(),
        WebhookSecret::from_base64(server.webhook_secret()).unwrap(),
    ))
    .expected_endpoint("/hooks");
    let delivery = webhooks.recv_timeout(WAIT).expect("a webhook delivery");
    match verifier
        .verify_request(&delivery, SystemTime::now())
        .unwrap()
    {
        Event::ValidationSession(n) => {
            assert_eq!(n.session_id.as_str(), id.as_str());
            assert_eq!(n.status, SessionStatus::NotValidated);
            assert_eq!(n.reason.as_deref(), Some("FACE_MISMATCH"));
        }
        other => panic!("unexpected event {other:?}"),
    }
    eventually("the page to show the decision and the delivery", || {
        (driver.text("#detail-status").contains("NOT_VALIDATED")
            && driver.text("#detail-webhooks").contains("delivered 200"))
        .then_some(())
    });

    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-after-reject.png");
    let png = driver.screenshot();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    std::fs::write(&shot, png).unwrap();
    eprintln!("console screenshot: {}", shot.display());
}
