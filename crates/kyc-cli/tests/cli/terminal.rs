//! What a server sends cannot act on the terminal `kyc` prints to: on a terminal, stdout's JSON
//! carries C1 controls and bidirectional overrides as `\u` escapes; piped, it is serde_json's
//! bytes. The terminal is a pseudo-terminal from util-linux's `script`; without it, the terminal
//! half says it skipped (the escaping itself is tested in `src/output.rs`).

use std::process::{Command, Stdio};

use kyc_core::webhook::{WebhookSecret, sign};

use crate::support::{WEBHOOK_SECRET, kyc};

const API_KEY: &str = "terminal-test-key";
const ENDPOINT: &str = "/webhooks/identity";
const NOW: u64 = 1_715_629_633;
/// A notification whose reason holds a C1 CSI (U+009B), NEL (U+0085) and a right-to-left override.
const BODY: &str = "{\"data\":{\"session_id\":\"iss-1\",\"status\":\"NOT_VALIDATED\",\
                    \"reason\":\"x\u{9b}2J\u{85}\u{202e}txt.exe\"}}";

/// `kyc webhook verify` arguments for BODY, written to a file in `dir`.
fn verify_args(dir: &std::path::Path) -> Vec<String> {
    let body = dir.join("event.json");
    std::fs::write(&body, BODY).unwrap();
    let secret = WebhookSecret::from_base64(WEBHOOK_SECRET).unwrap();
    let signed = sign(API_KEY, &secret, ENDPOINT, NOW, BODY.as_bytes());
    let mut args: Vec<String> = [
        "webhook",
        "verify",
        "--secret",
        &format!("{API_KEY}:{WEBHOOK_SECRET}"),
        "--now",
        &NOW.to_string(),
        "--body",
        body.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec();
    for header in [
        format!("X-Api-Key: {}", signed.api_key),
        format!("X-Signature: {}", signed.signature),
        format!("X-Timestamp: {}", signed.timestamp),
        format!("X-Endpoint: {}", signed.endpoint),
    ] {
        args.extend(["--header".to_owned(), header]);
    }
    args
}

#[test]
fn piped_stdout_is_serde_json_unchanged() {
    let dir = crate::support::temp_dir("terminal-piped");
    let args = verify_args(&dir);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = kyc(&args);
    let printed = run.json();
    assert_eq!(
        printed["event"]["data"]["reason"],
        "x\u{9b}2J\u{85}\u{202e}txt.exe"
    );
    assert!(run.stdout.contains('\u{202e}'), "{run:#?}");
}

#[test]
fn on_a_terminal_c1_controls_and_bidi_overrides_are_escaped() {
    let dir = crate::support::temp_dir("terminal-tty");
    let quoted: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_kyc").to_owned())
        .chain(verify_args(&dir))
        .map(|arg| {
            assert!(!arg.contains('\''), "{arg}");
            format!("'{arg}'")
        })
        .collect();
    // `script -q -e -c CMD /dev/null`: runs CMD with a pseudo-terminal as its stdout, copies what
    // it printed to ours, and exits with CMD's status.
    let mut script = Command::new("script");
    script
        .args(["-q", "-e", "-c", &quoted.join(" "), "/dev/null"])
        .stdin(Stdio::null());
    for (name, _) in std::env::vars() {
        if name.starts_with("POMELO_") {
            script.env_remove(name);
        }
    }
    let output = match script.output() {
        Ok(output) => output,
        Err(e) => {
            eprintln!("skipped: util-linux `script` is not available ({e})");
            return;
        }
    };
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "{:?} {stdout} {stderr}",
        output.status
    );
    for c in ['\u{9b}', '\u{85}', '\u{202e}'] {
        assert!(!stdout.contains(c), "{c:?} reached the terminal: {stdout}");
    }
    assert!(
        stdout.contains(r#""reason": "x\u009b2J\u0085\u202etxt.exe""#),
        "{stdout}"
    );
    // Still one JSON document meaning the same (the terminal turns newlines into CR LF).
    let json: serde_json::Value = serde_json::from_str(&stdout.replace("\r\n", "\n")).unwrap();
    assert_eq!(
        json["event"]["data"]["reason"],
        "x\u{9b}2J\u{85}\u{202e}txt.exe"
    );
}
