//! `kyc mock` as a child process, and `kyc demo`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use crate::support::{WEBHOOK_SECRET, kyc, wait};

/// A running `kyc mock`, killed when dropped if it is still running.
struct MockProcess {
    child: Child,
    started: Value,
    stderr: mpsc::Receiver<String>,
}

impl MockProcess {
    fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kyc"))
            .arg("mock")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (line_tx, line_rx) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let _ = line_tx.send(line);
            // Keep reading, so a later line would be seen by the assertion below.
            let mut rest = String::new();
            let _ = reader.read_to_string(&mut rest);
            let _ = line_tx.send(rest);
        });
        let (err_tx, err_rx) = mpsc::channel();
        let mut stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            let _ = err_tx.send(text);
        });
        let line = match line_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("kyc mock printed nothing within 20 s");
            }
        };
        let started: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("the start line is one JSON object ({e}): {line:?}"));
        Self {
            child,
            started,
            stderr: err_rx,
        }
    }

    fn get(&self, name: &str) -> &str {
        self.started[name].as_str().unwrap()
    }

    /// `kyc <globals for this simulator> args`.
    fn kyc(&self, args: &[&str]) -> crate::support::Run {
        let mut all = vec![
            "--base-url",
            self.get("base_url"),
            "--audience",
            self.get("audience"),
            "--client-id",
            self.get("client_id"),
            "--client-secret",
            self.get("client_secret"),
        ];
        all.extend_from_slice(args);
        crate::support::run_unchecked(&all, &[], None)
    }
}

impl Drop for MockProcess {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[test]
fn kyc_mock_prints_how_to_reach_it_serves_and_stops_on_sigterm() {
    let mut mock = MockProcess::spawn(&["--port", "0"]);
    let base_url = mock.get("base_url").to_owned();
    assert!(
        base_url.starts_with("http://127.0.0.1:"),
        "{}",
        mock.started
    );
    assert_eq!(mock.get("client_id"), kyc_mock::DEFAULT_CLIENT_ID);
    assert_eq!(mock.get("client_secret"), kyc_mock::DEFAULT_CLIENT_SECRET);
    assert_eq!(
        mock.get("webhook_api_key"),
        kyc_mock::DEFAULT_WEBHOOK_API_KEY
    );
    assert_eq!(mock.get("webhook_secret"), kyc_mock::DEFAULT_WEBHOOK_SECRET);
    assert_eq!(mock.started["webhook_url"], Value::Null);
    // The console (issue #17): its URL carries the admin token printed beside it.
    let token = mock.get("admin_token").to_owned();
    assert_eq!(token.len(), 32);
    assert_eq!(
        mock.get("console_url"),
        format!("{base_url}/_console/?token={token}")
    );
    // The API it plays, as a document (issue #27).
    assert_eq!(mock.get("openapi_url"), format!("{base_url}/openapi.json"));

    let created = mock.kyc(&[
        "session",
        "create",
        "--country",
        "ARG",
        "--user-id",
        "usr-m",
    ]);
    assert_eq!(created.code, 0, "{created:#?}");
    let found = mock.kyc(&["session", "search", "--all"]);
    assert_eq!(found.code, 0, "{found:#?}");
    let found: Value = serde_json::from_str(&found.stdout).unwrap();
    assert_eq!(found[0]["user_id"], "usr-m");

    let pid = mock.child.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(killed.success());
    let code = wait(&mut mock.child, Duration::from_secs(10));
    assert_eq!(code, 0, "a stop signal is a normal end");
    let stderr = mock.stderr.recv_timeout(Duration::from_secs(5)).unwrap();
    assert!(stderr.contains("stopped"), "{stderr}");
}

#[test]
fn kyc_openapi_prints_the_document_the_simulator_serves() {
    let run = kyc(&["openapi"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    assert_eq!(run.stdout, kyc_mock::OPENAPI);
    let document: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(document["openapi"], "3.1.0");
}

#[test]
fn kyc_mock_signs_webhooks_with_the_given_key_and_never_prints_the_secret() {
    let receiver = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_url = format!("http://{}/hooks/identity", receiver.local_addr().unwrap());
    let mock = MockProcess::spawn(&[
        "--webhook-url",
        &hook_url,
        "--api-key",
        "cli-test-key=",
        "--secret",
        WEBHOOK_SECRET,
    ]);
    assert_eq!(mock.get("webhook_api_key"), "cli-test-key=");
    assert_eq!(mock.get("webhook_url"), hook_url);
    assert!(
        mock.started.get("webhook_secret").is_none(),
        "{}",
        mock.started
    );
    assert!(!mock.started.to_string().contains(WEBHOOK_SECRET));

    // Take a session through to its outcome: the simulator then posts a signed webhook.
    let id: Value = serde_json::from_str(
        &mock
            .kyc(&[
                "session",
                "create",
                "--country",
                "ARG",
                "--user-id",
                "usr-hook",
            ])
            .stdout,
    )
    .unwrap();
    let id = id["id"].as_str().unwrap().to_owned();
    for (kind, file) in [
        ("selfie", "selfie.jpg"),
        ("identity-card-front", "identity-card-front.png"),
        ("identity-card-back", "identity-card-back.png"),
    ] {
        let path = crate::support::sample(file);
        let run = mock.kyc(&[
            "upload",
            "--session",
            &id,
            "--entity",
            "usr-hook",
            "--type",
            kind,
            &path,
        ]);
        assert_eq!(run.code, 0, "{run:#?}");
    }
    let (headers, body) = receive_one(&receiver);

    // What the simulator sent verifies with `kyc webhook verify` and the same key pair.
    let dir = crate::support::temp_dir("mock-hook");
    let body_file = dir.join("body.json");
    std::fs::write(&body_file, &body).unwrap();
    let secret = format!("cli-test-key=:{WEBHOOK_SECRET}");
    let mut args = vec![
        "webhook",
        "verify",
        "--secret",
        &secret,
        "--endpoint",
        "/hooks/identity",
        "--body",
        body_file.to_str().unwrap(),
    ];
    for header in &headers {
        args.extend(["--header", header.as_str()]);
    }
    let verified = kyc(&args).json();
    assert_eq!(verified["type"], "validation_session");
    assert_eq!(verified["event"]["data"]["session_id"], id.as_str());
}

/// Accepts one webhook delivery (within 20 s), answers `200`, returns its `X-` headers as
/// `Name: value` lines and its body.
fn receive_one(listener: &TcpListener) -> (Vec<String>, Vec<u8>) {
    listener.set_nonblocking(true).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut stream = loop {
        match listener.accept() {
            Ok((stream, _)) => break stream,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("no webhook delivery within 20 s: {e}"),
        }
    };
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut headers = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap();
            }
            if name.to_ascii_lowercase().starts_with("x-") {
                headers.push(format!("{name}: {}", value.trim()));
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .unwrap();
    (headers, body)
}

#[test]
fn kyc_demo_runs_the_whole_flow() {
    let run = kyc(&["demo"]);
    assert_eq!(run.code, 0, "{run:#?}");
    for step in [
        "simulator │",
        "token │",
        "upload │",
        "webhook │ signature verified",
        "report │",
    ] {
        assert!(run.stdout.contains(step), "{step:?} in {}", run.stdout);
    }
    assert!(run.stdout.contains("is VALIDATED"), "{}", run.stdout);
    // Then the KYB flow (issue #15): the company's document, a second verified webhook and the
    // typed report.
    for step in [
        "kyb │ created iss-",
        "company-document",
        "juridic nature 2135",
        "1 of 1 company documents valid, 1 partner(s)",
    ] {
        assert!(run.stdout.contains(step), "{step:?} in {}", run.stdout);
    }
    let verified = run.stdout.matches("signature verified: session iss-");
    assert_eq!(verified.count(), 2, "{}", run.stdout);
    // Then the tracker (issue #25): one verdict from a webhook, one found by a poll because the
    // simulator dropped its webhook.
    for step in [
        "tracker │ kyc-track receives webhooks",
        "verdict │ VALIDATED for iss-",
        "from the webhook; key iss-",
        "network │ the simulator now drops every webhook",
        "from a poll after",
        "the webhook was dropped",
        "0 verdicts lost, none handed over twice",
    ] {
        assert!(run.stdout.contains(step), "{step:?} in {}", run.stdout);
    }
    assert!(
        run.stdout
            .trim_end()
            .ends_with("KYC, KYB and tracked flows complete.")
    );
}
