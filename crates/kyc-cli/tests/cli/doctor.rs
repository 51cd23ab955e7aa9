//! `kyc doctor` against the simulator: every check `ok` on the default simulator, and, for each
//! alternative the simulator plays, `differs` with exactly the setting that makes the normal
//! commands work (applied and tried). It never sends a request that changes state.

use std::time::Duration;

use kyc_mock::{Alternative, MockConfig};
use serde_json::Value;

use crate::support::{Sim, kyc_with, sample, temp_dir};

/// A simulator whose webhooks go nowhere (their attempts are recorded: the capture comes from
/// there), with `sessions` sessions of `usr-doctor`, the first of them validated.
fn sim(config: MockConfig, sessions: usize) -> (Sim, String) {
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/identity", dead.local_addr().unwrap());
    drop(dead);
    let sim = Sim::with(config.webhook_url(url).webhook_max_attempts(1));
    let first = sim.create("usr-doctor", "ARG");
    for _ in 1..sessions {
        sim.create("usr-doctor", "ARG");
    }
    (sim, first)
}

/// Completes the session's documents so the simulator signs a notification, and writes the
/// delivery it attempted as a capture file; returns the file and the `--secret` value.
fn capture(sim: &Sim, session: &str, dir: &std::path::Path) -> (String, String) {
    for (kind, file) in [
        ("selfie", "selfie.jpg"),
        ("identity-card-front", "identity-card-front.png"),
        ("identity-card-back", "identity-card-back.png"),
    ] {
        let path = sample(file);
        sim.kyc(&[
            "upload",
            "--session",
            session,
            "--entity",
            "usr-doctor",
            "--type",
            kind,
            &path,
        ])
        .json();
    }
    let delivery = sim
        .server
        .wait_for_webhook_deliveries(1, Duration::from_secs(10))
        .into_iter()
        .next()
        .unwrap();
    let attempt = delivery.attempts.first().unwrap();
    let mut text = format!("POST {} HTTP/1.1\r\n", delivery.endpoint).into_bytes();
    for (name, value) in &attempt.headers {
        text.extend(format!("{name}: {value}\r\n").into_bytes());
    }
    text.extend(b"\r\n");
    text.extend(&delivery.body);
    let path = dir.join("delivery.http");
    std::fs::write(&path, text).unwrap();
    let secret = format!(
        "{}:{}",
        sim.server.webhook_api_key(),
        sim.server.webhook_secret()
    );
    (path.to_string_lossy().into_owned(), secret)
}

/// `kyc doctor` with the simulator's globals and `args`: the exit code and the checks by name.
fn doctor(sim: &Sim, args: &[&str], env: &[(&str, &str)]) -> (i32, Value) {
    let globals = sim.globals();
    let mut all: Vec<&str> = globals.iter().map(String::as_str).collect();
    all.push("doctor");
    all.extend_from_slice(args);
    let run = crate::support::run_unchecked(&all, env, None);
    let report: Value = serde_json::from_str(&run.stdout).unwrap_or_else(|_| panic!("{run:#?}"));
    let mut by_name = serde_json::Map::new();
    for check in report["checks"].as_array().unwrap() {
        by_name.insert(check["name"].as_str().unwrap().to_owned(), check.clone());
    }
    (run.code, Value::Object(by_name))
}

fn verdict(checks: &Value, name: &str) -> (String, Value) {
    let check = &checks[name];
    (
        check["verdict"].as_str().unwrap().to_owned(),
        check["setting"].clone(),
    )
}

#[test]
fn every_check_is_ok_against_the_default_simulator_and_nothing_changes() {
    let (sim, session) = sim(MockConfig::new(), 3);
    let dir = temp_dir("doctor-ok");
    let (file, secret) = capture(&sim, &session, &dir);
    let before = sim.server.requests().len();
    let env_file = dir.join("pomelo.env");
    let env_file = env_file.to_string_lossy().into_owned();
    let (code, checks) = doctor(
        &sim,
        &[
            "--session",
            &session,
            "--webhook-file",
            &file,
            "--env-file",
            &env_file,
        ],
        &[("POMELO_WEBHOOK_SECRETS", &secret)],
    );
    for name in [
        "credentials",
        "clock",
        "get_session_path",
        "search",
        "webhook",
        "error_body",
    ] {
        assert_eq!(
            verdict(&checks, name),
            ("ok".to_owned(), Value::Null),
            "{name}: {}",
            checks[name]
        );
    }
    assert_eq!(code, 0);
    let sent: Vec<_> = sim.server.requests().into_iter().skip(before).collect();
    assert!(sent.len() <= 10, "{} requests", sent.len());
    for request in &sent {
        assert!(
            request.method == "GET" || (request.method == "POST" && request.path == "/oauth/token"),
            "{} {} changes state",
            request.method,
            request.path
        );
    }
    let env = std::fs::read_to_string(&env_file).unwrap();
    assert!(
        env.lines().all(|l| l.starts_with('#')),
        "nothing to set: {env}"
    );
    // No secret or personal data in the report.
    let report = checks.to_string();
    for secret in crate::support::SECRETS {
        assert!(!report.contains(secret));
    }
    assert!(
        !report.contains("usr-doctor"),
        "user ids are values, not shown"
    );
}

#[test]
fn a_singular_get_path_is_found_and_its_setting_makes_get_work() {
    let (sim, session) = sim(
        MockConfig::new().alternative(Alternative::SingularGetPath),
        2,
    );
    let (_, checks) = doctor(&sim, &["--session", &session], &[]);
    let setting = "POMELO_GET_SESSION_PATH=/identity/v1/session/{session_id}";
    assert_eq!(
        verdict(&checks, "get_session_path"),
        ("differs".to_owned(), Value::from(setting))
    );
    let (name, value) = setting.split_once('=').unwrap();
    let globals = sim.globals();
    let mut args: Vec<&str> = globals.iter().map(String::as_str).collect();
    args.extend(["session", "get", &session]);
    assert_eq!(
        kyc_with(&args, &[(name, value)], None).json()["id"],
        session.as_str()
    );
    // Without --session, the check says what it needs.
    let (_, checks) = doctor(&sim, &[], &[]);
    assert_eq!(verdict(&checks, "get_session_path").0, "unknown");
}

#[test]
fn page_numbering_is_found() {
    let (one_based, _) = sim(MockConfig::new().alternative(Alternative::OneBasedPages), 3);
    let (_, checks) = doctor(&one_based, &[], &[]);
    assert_eq!(
        verdict(&checks, "search"),
        ("differs".to_owned(), Value::from("POMELO_FIRST_PAGE=1"))
    );
    let globals = one_based.globals();
    let mut args: Vec<&str> = globals.iter().map(String::as_str).collect();
    args.extend([
        "session",
        "search",
        "--user-id",
        "usr-doctor",
        "--page-size",
        "1",
        "--all",
    ]);
    let all = kyc_with(&args, &[("POMELO_FIRST_PAGE", "1")], None).json();
    assert_eq!(all.as_array().unwrap().len(), 3, "{all}");

    let (ignoring, _) = sim(
        MockConfig::new().alternative(Alternative::IgnoresPageNumber),
        3,
    );
    let (_, checks) = doctor(&ignoring, &[], &[]);
    assert_eq!(
        verdict(&checks, "search"),
        ("differs".to_owned(), Value::Null)
    );
    assert!(
        checks["search"]["detail"]
            .as_str()
            .unwrap()
            .contains("ignores page[number]")
    );
}

#[test]
fn hex_digests_another_audience_and_a_skewed_clock_are_found() {
    let (sim, session) = sim(MockConfig::new().alternative(Alternative::HexSignatures), 1);
    let dir = temp_dir("doctor-hex");
    let (file, secret) = capture(&sim, &session, &dir);
    let secrets = dir.join("secrets.txt");
    std::fs::write(&secrets, format!("{secret}\n")).unwrap();
    let (_, checks) = doctor(
        &sim,
        &[
            "--webhook-file",
            &file,
            "--secret-file",
            &secrets.to_string_lossy(),
        ],
        &[],
    );
    // Both encodings are accepted: nothing to change (issue #28 changed this from `differs`).
    assert_eq!(verdict(&checks, "webhook"), ("ok".to_owned(), Value::Null));
    assert!(
        checks["webhook"]["detail"]
            .as_str()
            .unwrap()
            .contains("hex")
    );

    let dev = "https://auth-dev.pomelo.la";
    let strict = Sim::with(MockConfig::new().audience(dev).strict_audience(true));
    // The globals name the simulator's own audience: leave it to the sandbox default here.
    let args = [
        "--base-url",
        strict.server.base_url(),
        "--client-id",
        strict.server.client_id(),
        "--client-secret",
        crate::support::CLIENT_SECRET,
        "doctor",
    ];
    let run = crate::support::run_unchecked(&args, &[], None);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let credentials = &report["checks"][0];
    assert_eq!(credentials["verdict"], "differs", "{credentials}");
    assert_eq!(credentials["setting"], format!("POMELO_AUDIENCE={dev}"));
    let mut create = args.to_vec();
    create.pop();
    create.extend([
        "session",
        "create",
        "--country",
        "ARG",
        "--user-id",
        "usr-aud",
    ]);
    assert!(kyc_with(&create, &[("POMELO_AUDIENCE", dev)], None).json()["id"].is_string());

    strict.server.advance_clock(Duration::from_secs(90));
    let run = crate::support::run_unchecked(&args, &[("POMELO_AUDIENCE", dev)], None);
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    let clock = &report["checks"][1];
    assert_eq!(
        (clock["name"].as_str(), clock["verdict"].as_str()),
        (Some("clock"), Some("differs")),
        "{clock}"
    );
}

#[test]
fn a_failed_check_exits_1_with_the_report_on_stdout() {
    let sim = Sim::start();
    let globals = sim.globals();
    let mut args: Vec<&str> = globals.iter().map(String::as_str).collect();
    let wrong = args.iter().position(|a| *a == "--client-secret").unwrap() + 1;
    args[wrong] = "wrong-secret";
    args.push("doctor");
    let run = crate::support::run_unchecked(&args, &[], None);
    assert_eq!(run.code, 1, "{run:#?}");
    let report: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(report["checks"][0]["verdict"], "failed");
    // The clock could not be asked: it says so instead of blaming a missing Date header.
    let clock = &report["checks"][1];
    assert_eq!(clock["verdict"], "unknown", "{clock}");
    let detail = clock["detail"].as_str().unwrap();
    assert!(
        detail.contains("could not ask") && !detail.contains("Date header"),
        "{detail}"
    );
    assert!(
        run.stderr.starts_with("error[checks_failed]"),
        "{}",
        run.stderr
    );
}
