//! The `kyc-mock` program: banner, serving, argument errors and stopping on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: panics are failures

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_kyc-mock");

#[test]
fn help_and_bad_arguments() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("--webhook-url"));
    for args in [
        &["--port"][..],
        &["--port", "x"],
        &["--frobnicate", "1"],
        &["--outcome", "maybe"],
        &["--fault-rate", "1.5"],
        &["--fault-rate", "often"],
        &["--max-sessions", "-1"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
    let out = Command::new(BIN)
        .args(["--bind", "0.0.0.0"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "non-loopback needs --allow-non-loopback"
    );
}

#[cfg(unix)]
#[test]
fn serves_with_the_printed_credentials_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .args([
            "--port",
            "0",
            "--client-id",
            "bin-id",
            "--client-secret",
            "bin-secret",
            "--api-key",
            "k1",
            "--webhook-seed",
            "7",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = std::collections::HashMap::new();
    // Up to the last line of the banner (bounded).
    for line in lines.by_ref().take(30) {
        let line = line.unwrap();
        if line.starts_with("Press Ctrl-C") {
            break;
        }
        if let Some((k, v)) = line.split_once('=') {
            banner.insert(k.to_owned(), v.to_owned());
        }
    }
    assert_eq!(banner["client_id"], "bin-id");
    // A secret given to the binary is never printed back (issue #18).
    assert_eq!(banner["client_secret"], "(as given)");
    assert_eq!(banner["webhook_api_key"], "k1");
    // The chaos's seed, to replay a run (issue #25).
    assert_eq!(banner["webhook_seed"], "7");
    // The console (issue #17): its URL carries the admin token printed beside it.
    assert_eq!(banner["admin_token"].len(), 32);
    assert_eq!(
        banner["console_url"],
        format!(
            "{}/_console/?token={}",
            banner["base_url"], banner["admin_token"]
        )
    );
    // The description of the API it plays (issue #27).
    assert_eq!(
        banner["openapi_url"],
        format!("{}/openapi.json", banner["base_url"])
    );
    let addr = banner["base_url"]
        .strip_prefix("http://")
        .unwrap()
        .to_owned();
    assert!(addr.starts_with("127.0.0.1:"));

    let body = format!(
        r#"{{"client_id":"bin-id","client_secret":"bin-secret","audience":"{}","grant_type":"client_credentials"}}"#,
        banner["audience"]
    );
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    write!(
        stream,
        "POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("access_token"));

    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l == "kyc-mock stopped"), "{rest:?}");
    assert!(TcpStream::connect(&addr).is_err());
}
