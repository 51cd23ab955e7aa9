//! The commands that call the API, against the simulator: JSON shapes and what was sent.

use crate::support::{Sim, is_rfc3339_utc, kyc_with, run_unchecked, sample, temp_dir};

#[test]
fn token_prints_type_and_expiry_and_the_token_only_with_reveal() {
    let sim = Sim::start();
    // Sessions and tokens both live 24 h in the simulator, whose own RFC 3339 writer dates the
    // sessions: the token's expiry lies between those of a session created before and after.
    let before = sim.create("usr-before", "ARG");
    let token = sim.kyc(&["token"]).json();
    let after = sim.create("usr-after", "ARG");
    let object = token.as_object().unwrap();
    assert_eq!(object.len(), 2, "{token}");
    assert_eq!(token["token_type"], "Bearer");
    let expires_at = token["expires_at"].as_str().unwrap();
    assert!(is_rfc3339_utc(expires_at), "{expires_at}");
    let expiry = |id: &str| {
        sim.kyc(&["session", "get", id]).json()["expiration_at"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (lower, upper) = (expiry(&before), expiry(&after));
    assert!(
        lower.as_str() <= expires_at && expires_at <= upper.as_str(),
        "{lower} <= {expires_at} <= {upper}"
    );

    let globals = sim.globals();
    let mut args: Vec<&str> = globals.iter().map(String::as_str).collect();
    args.extend(["token", "--reveal"]);
    let revealed = run_unchecked(&args, &[], None);
    assert_eq!(revealed.code, 0, "{revealed:#?}");
    let revealed: serde_json::Value = serde_json::from_str(&revealed.stdout).unwrap();
    let access_token = revealed["access_token"].as_str().unwrap();
    assert_eq!(access_token.split('.').count(), 3, "a JWT: {access_token}");
    assert!(!revealed.to_string().contains(crate::support::CLIENT_SECRET));
}

#[test]
fn revoke_drops_the_token_at_pomelo_so_the_next_one_is_new() {
    let sim = Sim::start();
    let reveal = || sim.kyc(&["token", "--reveal"]).json()["access_token"].clone();
    let first = reveal();
    assert_eq!(
        first,
        reveal(),
        "Pomelo returns the same token until it expires"
    );
    assert_eq!(
        sim.kyc(&["revoke"]).json(),
        serde_json::json!({"revoked": true})
    );
    let revoke = sim
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/oauth/token/revoke")
        .count();
    assert_eq!(revoke, 1);
    assert_ne!(first, reveal(), "a new token after the revocation");
}

#[test]
fn global_options_come_from_the_environment_too() {
    let sim = Sim::start();
    let env = [
        ("POMELO_ENV", "sandbox"),
        ("POMELO_BASE_URL", sim.server.base_url()),
        ("POMELO_AUDIENCE", sim.server.audience()),
        ("POMELO_CLIENT_ID", sim.server.client_id()),
        ("POMELO_CLIENT_SECRET", crate::support::CLIENT_SECRET),
    ];
    let token = kyc_with(&["token"], &env, None).json();
    assert_eq!(token["token_type"], "Bearer");
    // The environment variable is read...
    let found = kyc_with(&["session", "search"], &env, None).json();
    assert_eq!(found["data"], serde_json::json!([]));
    // ...and an option on the command line wins over it.
    let run = kyc_with(
        &["--client-id", "someone-else", "session", "search"],
        &env,
        None,
    );
    run.failure("auth", 1);
}

#[test]
fn session_create_sends_personal_data_and_terms_and_prints_the_new_session() {
    let sim = Sim::start();
    let personal = br#"{"first_name": "Ana", "document_number": "30111222", "pet": "cat"}"#;
    let created = sim
        .kyc_stdin(
            &[
                "session",
                "create",
                "--country",
                "BRA",
                "--user-id",
                "usr-create-1",
                "--integration-method",
                "web",
                "--personal-data",
                "-",
                "--terms-version",
                "v3",
                "--terms-accepted-at",
                "2024-05-13T19:47:13.340Z",
            ],
            Some(personal),
        )
        .json();
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("iss-"), "{created}");
    assert!(created["expiration_at"].is_string() && created["url"].is_string());

    let sent = sim
        .server
        .requests()
        .into_iter()
        .find(|r| r.path == "/identity/v2/sessions")
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(body["country"], "BRA");
    assert_eq!(body["flow_type"], "kyc-accounts");
    assert_eq!(body["integration_method"], "WEB");
    assert_eq!(body["data"]["user_id"], "usr-create-1");
    assert_eq!(body["data"]["personal_data"]["first_name"], "Ana");
    assert_eq!(body["data"]["personal_data"]["pet"], "cat");
    assert_eq!(body["data"]["terms_data"]["version"], "v3");
    assert_eq!(body["data"]["terms_data"]["accept"], true);
    assert_eq!(
        body["data"]["terms_data"]["date"],
        "2024-05-13T19:47:13.340Z"
    );

    let session = sim.kyc(&["session", "get", id]).json();
    assert_eq!(session["id"], id);
    assert_eq!(session["user_id"], "usr-create-1");
    assert_eq!(session["status"], "IN_PROGRESS");
    assert_eq!(session["country"], "BRA");
    assert!(session["steps"].as_array().is_some_and(|s| !s.is_empty()));
}

#[test]
fn personal_data_errors_name_the_member_not_the_value() {
    let sim = Sim::start();
    let args = [
        "session",
        "create",
        "--country",
        "ARG",
        "--user-id",
        "usr-1",
        "--personal-data",
        "-",
    ];
    let run = sim.kyc_stdin(&args, Some(br#"{"full_name": 30111222}"#));
    let message = run.failure("invalid_input", 2);
    assert!(message.contains("full_name"), "{message}");
    assert!(!run.stderr.contains("30111222"), "{run:#?}");
    let run = sim.kyc_stdin(&args, Some(b"[1, 2]"));
    run.failure("invalid_input", 2);
    let run = sim.kyc_stdin(&args, Some(b"{\"first_name\": \"Ana\""));
    assert!(run.failure("invalid_input", 2).contains("line 1"));
    assert!(sim.server.requests().is_empty(), "nothing was sent");
}

#[test]
fn cancel_prints_the_cancelled_session_and_report_the_report() {
    let sim = Sim::start();
    let id = sim.create("usr-cancel", "ARG");
    let cancelled = sim.kyc(&["session", "cancel", &id]).json();
    assert_eq!(cancelled["id"], id.as_str());
    assert_eq!(cancelled["status"], "CANCELLED");
    let again = sim.kyc(&["session", "cancel", &id]);
    assert!(again.failure("api", 1).starts_with("409"), "{again:#?}");

    let report = sim.kyc(&["session", "report", &id]).json();
    assert_eq!(report["id"], id.as_str());
    assert_eq!(report["status"], "CANCELLED");
    assert_eq!(report["user_id"], "usr-cancel");
}

#[test]
fn search_prints_one_page_with_its_meta_and_sends_every_filter() {
    let sim = Sim::start();
    for user in ["usr-s1", "usr-s2", "usr-s3"] {
        sim.create(user, "ARG");
    }
    sim.create("usr-s4", "BRA");
    let page = sim
        .kyc(&[
            "session",
            "search",
            "--status",
            "IN_PROGRESS",
            "--status",
            "PROCESSING",
            "--filter",
            "country=ARG",
            "--created-from",
            "2000-01-01",
            "--created-to",
            "9999-12-31",
            "--sort",
            "-user_id",
            "--sort",
            "created_at",
            "--page-size",
            "2",
            "--page",
            "0",
        ])
        .json();
    let object = page.as_object().unwrap();
    assert_eq!(object.len(), 2, "{page}");
    let users: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(users, ["usr-s3", "usr-s2"], "descending by user id");
    let pagination = &page["meta"]["pagination"];
    assert_eq!(pagination["total_items"], 3);
    assert_eq!(pagination["total_pages"], 2);
    assert_eq!(pagination["page_size"], 2);
    assert_eq!(pagination["current_page"], 0);

    let query = sim
        .server
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path == "/identity/v1/sessions")
        .and_then(|r| r.query)
        .unwrap();
    for part in [
        "filter[status]=IN_PROGRESS,PROCESSING",
        "filter[country]=ARG",
        "filter[created_at][from]=2000-01-01",
        "filter[created_at][to]=9999-12-31",
        "sort=-user_id,created_at",
        "page[size]=2",
        "page[number]=0",
    ] {
        assert!(query.contains(part), "{part} in {query}");
    }

    let second = sim
        .kyc(&[
            "session",
            "search",
            "--user-id",
            "usr-s4",
            "--page",
            "0",
            "--sort",
            "-created_at",
        ])
        .json();
    assert_eq!(second["data"].as_array().unwrap().len(), 1);
    assert_eq!(second["data"][0]["country"], "BRA");
}

#[test]
fn search_all_walks_every_page_into_one_array() {
    let sim = Sim::start();
    let mut ids: Vec<String> = (0..5)
        .map(|i| sim.create(&format!("usr-all-{i}"), "ARG"))
        .collect();
    sim.server.clear_requests();
    let all = sim
        .kyc(&[
            "session",
            "search",
            "--all",
            "--page-size",
            "2",
            "--sort",
            "created_at",
        ])
        .json();
    let mut found: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(found, ids, "every session, in creation order");
    found.sort();
    ids.sort();
    assert_eq!(found, ids);
    let pages = sim
        .paths()
        .iter()
        .filter(|p| *p == "/identity/v1/sessions")
        .count();
    assert_eq!(pages, 3, "5 sessions at 2 a page");

    let none = sim
        .kyc(&["session", "search", "--all", "--user-id", "usr-nobody"])
        .json();
    assert_eq!(none, serde_json::json!([]));
}

#[test]
fn upload_streams_the_file_and_prints_what_was_stored() {
    let sim = Sim::start();
    let id = sim.create("usr-up", "ARG");
    let selfie = sample("selfie.jpg");
    let info = sim
        .kyc(&[
            "upload",
            "--session",
            &id,
            "--entity",
            "usr-up",
            "--type",
            "selfie",
            &selfie,
        ])
        .json();
    assert_eq!(info["type_document"], "selfie");
    assert_eq!(info["content_type"], "image/jpeg");
    assert_eq!(info["file_name"], "selfie.jpg");
    assert_eq!(info["size"], 159);
    assert!(info["id"].as_str().unwrap().starts_with("fil-"));

    // With --country, the same through the prepared upload; the session then completes.
    for (kind, file) in [
        ("identity-card-front", "identity-card-front.png"),
        ("identity-card-back", "identity-card-back.png"),
    ] {
        let path = sample(file);
        let info = sim
            .kyc(&[
                "upload",
                "--session",
                &id,
                "--entity",
                "usr-up",
                "--type",
                kind,
                "--country",
                "ARG",
                &path,
            ])
            .json();
        assert_eq!(info["content_type"], "image/png");
        assert_eq!(info["type_document"], kind);
    }
    let session = sim.kyc(&["session", "get", &id]).json();
    assert_eq!(session["files"].as_array().unwrap().len(), 3);
    assert_eq!(session["status"], "VALIDATED");
    let uploaded = sim
        .server
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/files/selfie"))
        .unwrap();
    let original = std::fs::read(&selfie).unwrap();
    assert!(
        uploaded
            .body
            .windows(original.len())
            .any(|w| w == original.as_slice()),
        "the file's bytes were sent whole"
    );
}

#[test]
fn upload_refuses_bad_files_before_any_request() {
    let sim = Sim::start();
    let dir = temp_dir("bad-files");
    let empty = dir.join("empty.jpg");
    std::fs::write(&empty, b"").unwrap();
    let text = dir.join("notes.txt");
    std::fs::write(&text, b"not an image").unwrap();
    let missing = dir.join("missing.png");
    let selfie = sample("selfie.jpg");
    let cases: [(&[&str], &str); 4] = [
        (&["--type", "selfie", empty.to_str().unwrap()], "empty"),
        (
            &["--type", "selfie", text.to_str().unwrap()],
            "JPEG, PNG or PDF",
        ),
        (
            &["--type", "selfie", missing.to_str().unwrap()],
            "missing.png",
        ),
        (
            &[
                "--type",
                "driver-license-front",
                "--country",
                "ARG",
                &selfie,
            ],
            "not accepted in ARG",
        ),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["upload", "--session", "iss-x", "--entity", "usr-x"];
        args.extend_from_slice(extra);
        let run = sim.kyc(&args);
        let message = run.failure("invalid_input", 2);
        assert!(message.contains(expected), "{expected:?} in {message:?}");
    }
    assert!(sim.server.requests().is_empty(), "{:?}", sim.paths());
}

#[test]
fn clean_deletes_by_user_id_or_document_number() {
    let sim = Sim::start();
    sim.create("usr-clean", "ARG");
    sim.create("usr-clean", "ARG");
    sim.kyc_stdin(
        &[
            "session",
            "create",
            "--country",
            "ARG",
            "--user-id",
            "usr-doc",
            "--personal-data",
            "-",
        ],
        Some(br#"{"document_number": "30999888"}"#),
    )
    .json();
    let cleaned = sim.kyc(&["clean", "--user-id", "usr-clean"]).json();
    assert_eq!(cleaned, serde_json::json!({"deleted_sessions": 2}));
    let cleaned = sim.kyc(&["clean", "--document-number", "30999888"]).json();
    assert_eq!(cleaned["deleted_sessions"], 1);
    assert_eq!(sim.server.session_count(), 0);
}

#[test]
fn clean_is_refused_for_production_before_any_request() {
    let sim = Sim::start();
    let globals = sim.globals();
    let mut args: Vec<&str> = globals.iter().map(String::as_str).collect();
    // `--env production` with the simulator's URL: the environment alone decides.
    args[1] = "production";
    args.extend(["clean", "--user-id", "usr-1"]);
    let run = crate::support::kyc(&args);
    let message = run.failure("invalid_input", 2);
    assert!(message.contains("production"), "{message}");
    let env = [("POMELO_ENV", "production")];
    let run = kyc_with(&["clean", "--document-number", "30111222"], &env, None);
    run.failure("invalid_input", 2);
    assert!(!run.stderr.contains("30111222"));
    assert!(sim.server.requests().is_empty(), "{:?}", sim.paths());
}

#[test]
fn no_access_token_appears_unless_revealed() {
    let sim = Sim::start();
    let id = sim.create("usr-leak", "ARG");
    let mut printed = String::new();
    for args in [
        vec!["token"],
        vec!["session", "get", id.as_str()],
        vec!["session", "get", "iss-missing"],
        vec!["session", "search", "--all"],
        vec!["session", "report", id.as_str()],
        vec!["session", "cancel", id.as_str()],
        vec!["clean", "--user-id", "usr-leak"],
    ] {
        printed.push_str(&sim.kyc(&args).all_output());
    }
    let tokens: Vec<String> = sim
        .server
        .requests()
        .iter()
        .filter_map(|r| r.header("authorization"))
        .filter_map(|h| h.strip_prefix("Bearer "))
        .map(str::to_owned)
        .collect();
    assert!(!tokens.is_empty());
    for token in tokens {
        assert!(!printed.contains(&token), "a token leaked");
    }
}

#[test]
fn an_upload_with_a_country_keeps_its_retries() {
    let sim = Sim::start();
    let id = sim.create("usr-retry", "ARG");
    sim.server.inject_fault(
        kyc_mock::Route::UploadFile,
        kyc_mock::Fault::DropConnection,
        1,
    );
    let selfie = sample("selfie.jpg");
    let uploaded = sim
        .kyc(&[
            "upload",
            "--session",
            &id,
            "--entity",
            "usr-retry",
            "--type",
            "selfie",
            "--country",
            "ARG",
            &selfie,
        ])
        .json();
    assert!(uploaded["id"].is_string(), "{uploaded}");
    let uploads: Vec<_> = sim
        .server
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/files/"))
        .collect();
    assert_eq!(uploads.len(), 2, "the dropped attempt, then its retry");
    assert_eq!(
        uploads[0].body, uploads[1].body,
        "the same bytes, from the same open file"
    );
}
