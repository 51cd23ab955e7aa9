//! Failures: each KIND with its exit code, nothing on stdout, and nothing sent when the input is
//! refused.

use kyc_mock::{Fault, Route};

use crate::support::{CLIENT_SECRET, Sim, kyc, kyc_with};

#[test]
fn an_api_error_is_api_with_the_status_first() {
    let sim = Sim::start();
    let run = sim.kyc(&["session", "get", "iss-does-not-exist"]);
    let message = run.failure("api", 1);
    assert!(message.starts_with("404"), "{message}");
    assert!(message.contains("[request id req-"), "{message}");
    // The server's explanation follows on the next lines.
    assert!(
        run.stderr
            .lines()
            .nth(1)
            .is_some_and(|l| l.starts_with("  "))
    );
}

#[test]
fn a_closed_port_is_transport() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let run = kyc(&[
        "--base-url",
        &url,
        "--client-id",
        "cli",
        "--client-secret",
        CLIENT_SECRET,
        "--timeout",
        "5",
        "session",
        "get",
        "iss-1",
    ]);
    let message = run.failure("transport", 1);
    assert!(message.contains("connect"), "{message}");
}

#[test]
fn a_refused_token_request_is_auth() {
    let sim = Sim::start();
    let globals = sim.globals();
    let mut args: Vec<&str> = globals.iter().map(String::as_str).collect();
    let wrong = "wrong-secret-Yd93";
    args[9] = wrong;
    for command in [&["token"][..], &["session", "get", "iss-1"]] {
        let mut all = args.clone();
        all.extend_from_slice(command);
        let run = kyc(&all);
        let message = run.failure("auth", 1);
        assert!(message.contains("401"), "{message}");
        assert!(!run.stderr.contains(wrong), "{run:#?}");
    }
    let paths = sim.paths();
    assert!(paths.iter().all(|p| p == "/oauth/token"), "{paths:?}");
}

#[test]
fn an_unreadable_token_answer_is_auth_and_an_unreadable_session_is_decode() {
    let sim = Sim::start();
    sim.server
        .inject_fault(Route::Token, Fault::NonJsonBody { status: 200 }, 1);
    sim.kyc(&["token"]).failure("auth", 1);
    sim.server
        .inject_fault(Route::GetSession, Fault::NonJsonBody { status: 200 }, 1);
    let message = sim.kyc(&["session", "get", "iss-1"]).failure("decode", 1);
    assert!(message.contains("200"), "{message}");
}

#[test]
fn retries_are_made_before_reporting() {
    let sim = Sim::start();
    sim.server
        .inject_fault(Route::GetSession, Fault::status(503), 1);
    let id = sim.create("usr-retry", "ARG");
    let session = sim.kyc(&["session", "get", &id]).json();
    assert_eq!(session["id"], id.as_str());
    sim.server
        .inject_fault(Route::GetSession, Fault::status(503), 10);
    let message = sim
        .kyc(&["--timeout", "20", "session", "get", &id])
        .failure("api", 1);
    assert!(message.starts_with("503"), "{message}");
}

#[test]
fn refused_input_exits_2_before_any_request() {
    let sim = Sim::start();
    let cases: [(&[&str], &str); 6] = [
        (
            &["session", "search", "--created-from", "2024-02-30"],
            "--created-from",
        ),
        (
            &["session", "search", "--created-to", "13/05/2024"],
            "--created-to",
        ),
        (
            &[
                "session",
                "search",
                "--created-from",
                "2024-05-02",
                "--created-to",
                "2024-05-01",
            ],
            "after",
        ),
        (&["session", "search", "--filter", "country"], "FIELD=VALUE"),
        (&["session", "search", "--filter", "a b=c"], "filter"),
        (&["session", "search", "--page-size", "0"], "page"),
    ];
    for (args, expected) in cases {
        let message = sim.kyc(args).failure("invalid_input", 2);
        assert!(message.contains(expected), "{expected:?} in {message:?}");
    }
    let message = sim
        .kyc(&["session", "create", "--country", "ARG", "--user-id", " "])
        .failure("invalid_input", 2);
    assert!(message.contains("user id"), "{message}");
    assert!(sim.server.requests().is_empty(), "{:?}", sim.paths());
}

#[test]
fn missing_credentials_and_unusable_urls_are_invalid_input() {
    let sim = Sim::start();
    let url = sim.server.base_url();
    let message = kyc(&["--base-url", url, "session", "get", "iss-1"]).failure("invalid_input", 2);
    assert!(message.contains("POMELO_CLIENT_ID"), "{message}");
    let message =
        kyc(&["--base-url", url, "--client-id", "c", "token"]).failure("invalid_input", 2);
    assert!(message.contains("POMELO_CLIENT_SECRET"), "{message}");
    // Plain http to a host that is not loopback is refused by kyc-core, before any request.
    let message = kyc(&[
        "--base-url",
        "http://api.invalid",
        "--client-id",
        "c",
        "--client-secret",
        CLIENT_SECRET,
        "token",
    ])
    .failure("invalid_input", 2);
    assert!(message.contains("http://"), "{message}");
    kyc(&["--base-url", "not a url", "token"]).failure("invalid_input", 2);
    assert!(sim.server.requests().is_empty());
}

/// A server on loopback that answers the token request, then every other request with `400`
/// and an error body carrying CR, LF and ESC in every field.
fn hostile_server() -> String {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(8).flatten() {
            let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            let token = line.contains("/oauth/token");
            let mut length = 0usize;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header.trim().is_empty() {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let _ = reader
                .by_ref()
                .take(length as u64)
                .read_to_end(&mut Vec::new());
            let evil = "x\r\n\u{1b}[2Kerror[ok]: done\u{7}";
            let (status, body) = if token {
                (
                    "200 OK",
                    r#"{"access_token":"t","expires_in":600}"#.to_owned(),
                )
            } else {
                (
                    "400 Bad Request",
                    serde_json::json!({"error": {"message": evil, "details": [{"code": evil, "detail": evil}]}})
                        .to_string(),
                )
            };
            let mut stream = stream;
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nx-request-id: req-1\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn server_text_cannot_forge_lines_or_terminal_sequences_on_stderr() {
    let url = hostile_server();
    let run = kyc_with(
        &[
            "--base-url",
            &url,
            "--client-id",
            "c",
            "--client-secret",
            "s",
            "session",
            "get",
            "iss-1",
        ],
        &[],
        None,
    );
    assert_eq!(run.code, 1, "{run:#?}");
    let first = run.stderr.lines().next().unwrap();
    assert!(first.starts_with("error[api]: 400"), "{first}");
    for (i, line) in run.stderr.lines().enumerate() {
        assert!(i == 0 || line.starts_with("  "), "a forged line: {line:?}");
    }
    assert!(
        !run.stderr
            .bytes()
            .any(|b| (b < 0x20 && b != b'\n') || b == 0x7f),
        "a raw control byte: {:?}",
        run.stderr
    );
}
