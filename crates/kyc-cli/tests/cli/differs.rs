//! "When your Pomelo account differs", through `kyc`: the simulator plays each alternative, and
//! the option or `POMELO_*` variable the README names makes the normal commands work.

use kyc_mock::{Alternative, MockConfig};

use crate::support::{Sim, kyc_with, sample};

#[test]
fn the_get_session_path_is_corrected_by_option_and_by_variable() {
    let sim = Sim::with(MockConfig::new().alternative(Alternative::SingularGetPath));
    let id = sim.create("usr-path", "ARG");
    let plain = sim.kyc(&["session", "get", &id]);
    assert_eq!(plain.code, 1, "{plain:#?}");
    assert!(
        plain.stderr.starts_with("error[api]: 404"),
        "{}",
        plain.stderr
    );
    let by_option = sim.kyc(&[
        "--get-session-path",
        "/identity/v1/session/{session_id}",
        "session",
        "get",
        &id,
    ]);
    assert_eq!(by_option.json()["id"], id.as_str());
    let globals = sim.globals();
    let mut args: Vec<&str> = globals.iter().map(String::as_str).collect();
    args.extend(["session", "get", &id]);
    let by_variable = kyc_with(
        &args,
        &[(
            "POMELO_GET_SESSION_PATH",
            "/identity/v1/session/{session_id}",
        )],
        None,
    );
    assert_eq!(by_variable.json()["id"], id.as_str());
}

#[test]
fn a_bad_setting_is_refused_before_any_request_naming_option_and_variable() {
    let sim = Sim::start();
    for (args, named) in [
        (
            vec![
                "--get-session-path",
                "/identity/v1/session/",
                "session",
                "get",
                "iss-1",
            ],
            "--get-session-path (POMELO_GET_SESSION_PATH)",
        ),
        (
            vec!["--first-page", "2", "session", "search"],
            "--first-page (POMELO_FIRST_PAGE)",
        ),
        (
            vec!["--max-pages", "none", "session", "search"],
            "--max-pages (POMELO_MAX_PAGES)",
        ),
    ] {
        let run = sim.kyc(&args);
        assert_eq!(run.code, 2, "{run:#?}");
        assert!(
            run.stderr.starts_with("error[invalid_input]: "),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(named), "{}", run.stderr);
    }
    assert!(sim.paths().is_empty(), "nothing was sent");
}

#[test]
fn search_all_walks_a_one_based_server_and_stops_on_one_that_ignores_page_number() {
    let one_based = Sim::with(MockConfig::new().alternative(Alternative::OneBasedPages));
    for _ in 0..5 {
        one_based.create("usr-pages", "ARG");
    }
    let all = one_based
        .kyc(&[
            "session",
            "search",
            "--user-id",
            "usr-pages",
            "--page-size",
            "2",
            "--all",
        ])
        .json();
    assert_eq!(all.as_array().unwrap().len(), 5, "{all}");

    let ignoring = Sim::with(MockConfig::new().alternative(Alternative::IgnoresPageNumber));
    for _ in 0..5 {
        ignoring.create("usr-pages", "ARG");
    }
    let run = ignoring.kyc(&[
        "session",
        "search",
        "--user-id",
        "usr-pages",
        "--page-size",
        "2",
        "--all",
    ]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(run.stderr.contains("ignore page[number]"), "{}", run.stderr);
    let searches = ignoring
        .paths()
        .iter()
        .filter(|p| *p == "/identity/v1/sessions")
        .count();
    assert_eq!(
        searches, 2,
        "bounded: the first page, then one that brought nothing new"
    );
}

#[test]
fn create_and_upload_report_their_idempotency_key_and_take_the_callers() {
    let sim = Sim::with(MockConfig::new().alternative(Alternative::FractionalSizes));
    let created = sim
        .kyc(&[
            "session",
            "create",
            "--country",
            "ARG",
            "--user-id",
            "usr-key",
        ])
        .json();
    let drawn = created["idempotency_key"].as_str().unwrap();
    assert_eq!(drawn.len(), 32, "{created}");
    let id = created["id"].as_str().unwrap();
    let selfie = sample("selfie.jpg");
    let uploaded = sim
        .kyc(&[
            "upload",
            "--session",
            id,
            "--entity",
            "usr-key",
            "--type",
            "selfie",
            "--idempotency-key",
            "job-9-selfie",
            &selfie,
        ])
        .json();
    assert_eq!(uploaded["idempotency_key"], "job-9-selfie");
    assert!(
        uploaded["size"].as_f64().unwrap() < 0.001,
        "a fractional size: {uploaded}"
    );
    let sent: Vec<_> = sim
        .server
        .requests()
        .into_iter()
        .filter_map(|r| r.header("x-idempotency-key").map(str::to_owned))
        .collect();
    assert_eq!(sent, [drawn, "job-9-selfie"]);
    // A refused key is refused before any request.
    let bad = sim.kyc(&[
        "session",
        "create",
        "--country",
        "ARG",
        "--user-id",
        "usr-key",
        "--idempotency-key",
        "a b",
    ]);
    assert_eq!(bad.code, 2, "{bad:#?}");
}

#[test]
fn a_failed_create_names_its_key() {
    let sim = Sim::start();
    sim.server.inject_fault(
        kyc_mock::Route::CreateSession,
        kyc_mock::Fault::status(400),
        1,
    );
    let run = sim.kyc(&[
        "session",
        "create",
        "--country",
        "ARG",
        "--user-id",
        "usr-k",
        "--idempotency-key",
        "job-1",
    ]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .lines()
            .next()
            .unwrap()
            .contains("(idempotency key job-1)"),
        "{}",
        run.stderr
    );
}

#[test]
fn following_the_mock_printout_works_with_the_default_sandbox_audience() {
    // `kyc mock` prints its own audience; a client left on the sandbox default is accepted too.
    let sim = Sim::start();
    let run = kyc_with(
        &[
            "--base-url",
            sim.server.base_url(),
            "--client-id",
            sim.server.client_id(),
            "--client-secret",
            crate::support::CLIENT_SECRET,
            "token",
        ],
        &[],
        None,
    );
    assert_eq!(run.json()["token_type"], "Bearer");
}

#[test]
fn a_format_the_library_does_not_detect_is_sent_with_its_content_type() {
    let sim = Sim::with(MockConfig::new().alternative(Alternative::MoreFormats));
    let id = sim.create("usr-heic", "ARG");
    let dir = crate::support::temp_dir("heic");
    let path = dir.join("selfie.heic");
    std::fs::write(
        &path,
        b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00heic photo bytes",
    )
    .unwrap();
    let path = path.to_string_lossy().into_owned();
    let args = [
        "upload",
        "--session",
        &id,
        "--entity",
        "usr-heic",
        "--type",
        "selfie",
    ];
    let refused = sim.kyc(&[&args[..], &[path.as_str()]].concat());
    assert_eq!(refused.code, 2, "not detected, no type given: {refused:#?}");
    assert!(
        refused.stderr.contains("give its content type"),
        "{}",
        refused.stderr
    );
    let bad = sim.kyc(&[&args[..], &["--content-type", "heic", path.as_str()]].concat());
    assert_eq!(bad.code, 2, "{bad:#?}");
    let sent = sim
        .kyc(&[&args[..], &["--content-type", "image/heic", path.as_str()]].concat())
        .json();
    assert_eq!(sent["content_type"], "image/heic", "{sent}");
    let upload = sim
        .server
        .requests()
        .into_iter()
        .find(|r| r.path.contains("/files/"))
        .unwrap();
    assert!(String::from_utf8_lossy(&upload.body).contains("Content-Type: image/heic\r\n"));
}
