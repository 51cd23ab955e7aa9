//! The scenarios. Each writes its transcript through [`Ctx::check`]; [`conform`] compares both
//! clients, and the assertions after it check what the scenario is about on each run.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, SystemTime};

use kyc_core::webhook::{Event, Verifier, WebhookKeys, WebhookSecret};
use kyc_core::{
    CancelSession, CleanValidations, Company, Country, CreateAdditionalSession, CreateKybSession,
    CreateSession, DocumentType, GetReport, GetSession, Partner, PartnerType, PersonalData, Pii,
    RetryPolicy, Scalar, SearchSessions, SessionStatus, TermsData, UploadFile,
};
use kyc_mock::{Fault, Route};

use crate::adapter::{From, Settings};
use crate::{Ctx, conform, conform_with, mock};

const TOKEN: &str = "/oauth/token";
const CREATE: &str = "/identity/v2/sessions";
const SEARCH: &str = "/identity/v1/sessions";

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../crates/kyc-cli/data")
        .join(name)
}

fn new_session(ctx: &mut Ctx, user: &str) -> String {
    let created = ctx.client.execute(&CreateSession::new(user, Country::Arg));
    ctx.check("create_session", created).unwrap().id.0
}

fn count(run_requests: &[kyc_mock::RecordedRequest], method: &str, path: &str) -> usize {
    run_requests
        .iter()
        .filter(|r| r.method == method && r.path == path)
        .count()
}

#[test]
fn every_operation() {
    let runs = conform(mock(), Settings::default(), |ctx| {
        let user = "usr-every-operation";
        let token = ctx.client.token();
        ctx.check("token", token).unwrap();
        let id = new_session(ctx, user);
        let selfie = ctx.client.upload(
            &UploadFile::new(&id, user, DocumentType::Selfie),
            From::Path(PathBuf::from(&data("selfie.jpg"))),
        );
        ctx.check("upload_path", selfie).unwrap();
        let front = std::fs::read(data("identity-card-front.png")).unwrap();
        let len = front.len() as u64;
        let front = ctx.client.upload(
            &UploadFile::new(&id, user, DocumentType::IdentityCardFront).file_name("front.png"),
            From::Reader { bytes: front, len },
        );
        ctx.check("upload_reader", front).unwrap();
        let back = std::fs::read(data("identity-card-back.png")).unwrap();
        let back = ctx.client.upload(
            &UploadFile::new(&id, user, DocumentType::IdentityCardBack).file_name("back.png"),
            From::Bytes(back),
        );
        ctx.check("upload_bytes", back).unwrap();
        let session = ctx.client.execute(&GetSession::new(&id));
        let session = ctx.check("get_session", session).unwrap();
        assert_eq!(session.status, Some(SessionStatus::Validated));
        assert_eq!(session.files.len(), 3);
        let report = ctx.client.execute(&GetReport::new(&id));
        ctx.check("report", report).unwrap();
        let page = ctx.client.execute(&SearchSessions::new().user_id(user));
        ctx.check("search_sessions", page).unwrap();
        let (all, pages) = ctx.client.search_all(SearchSessions::new().user_id(user));
        ctx.note(format!(
            "search_all: {} items over {pages} pages",
            all.len()
        ));
        for item in all {
            ctx.check("search_all item", item).unwrap();
        }
        let other = new_session(ctx, user);
        let cancelled = ctx.client.execute(&CancelSession::new(&other));
        let cancelled = ctx.check("cancel_session", cancelled).unwrap().unwrap();
        assert_eq!(cancelled.status, Some(SessionStatus::Cancelled));
        let again = ctx.client.execute(&CancelSession::new(&other));
        assert_eq!(
            ctx.check("cancel again", again).unwrap_err().status,
            Some(409)
        );
        let cleaned = ctx.client.execute(&CleanValidations::user_id(user));
        ctx.check("clean_validations", cleaned).unwrap();
        let revoked = ctx.client.revoke_token();
        ctx.check("revoke_token", revoked).unwrap();
        let gone = ctx.client.execute(&GetSession::new(&id));
        assert_eq!(
            ctx.check("get after clean", gone).unwrap_err().status,
            Some(404)
        );
    });
    for run in &runs {
        assert_eq!(
            count(&run.requests, "POST", TOKEN),
            2,
            "{}: a new token after revoke",
            run.adapter
        );
    }
}

#[test]
fn a_kyb_flow_then_an_employee_of_the_validated_company() {
    let runs = conform(mock(), Settings::default(), |ctx| {
        let company_id = "cmp-conformance-1";
        let partner_id = "usr-partner-1";
        let mut company = Company::new(company_id);
        company.fiscal_id = Some(Pii::new("29.086.892/0001-77"));
        company.legal_nature = Some(Scalar::from(2135));
        let mut person = PersonalData::default();
        person.full_name = Some(Pii::new("Diego Pomelo"));
        person.fiscal_id = Some(Pii::new("123.456.789-10"));
        let partner = Partner::new(partner_id, PartnerType::LegalRepresentativeMain).person(person);
        let create = CreateKybSession::new(company, Country::Bra)
            .partner(partner)
            .terms_data(TermsData::accepted("1", "2022-05-13T19:47:13.340Z"));
        let created = ctx.client.execute(&create);
        let created = ctx.check("create_kyb_session", created).unwrap();
        assert!(created.url.is_none(), "KYB answers no url");
        let id = created.id.0;

        let pdf = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
        let document = |kyb| {
            UploadFile::from_bytes(
                id.as_str(),
                company_id,
                DocumentType::CompanyDocument,
                "contrato-social.pdf",
                pdf.clone(),
            )
            .country(Country::Bra)
            .kyb(kyb)
        };
        let refused = ctx.client.execute(&document(false));
        assert_eq!(
            ctx.check("company-document outside KYB", refused)
                .unwrap_err()
                .kind,
            "invalid_input"
        );
        let uploaded = ctx.client.execute(&document(true));
        ctx.check("upload company-document", uploaded).unwrap();
        for (doc, file) in [
            (DocumentType::Selfie, "selfie.jpg"),
            (DocumentType::IdentityCardFront, "identity-card-front.png"),
            (DocumentType::IdentityCardBack, "identity-card-back.png"),
        ] {
            let up = ctx.client.upload(
                &UploadFile::new(&id, partner_id, doc),
                From::Path(PathBuf::from(&data(file))),
            );
            ctx.check("upload partner document", up).unwrap();
        }
        let session = ctx.client.execute(&GetSession::new(&id));
        let session = ctx.check("get KYB session", session).unwrap();
        assert_eq!(session.status, Some(SessionStatus::Validated));
        assert_eq!(session.company_id.as_deref(), Some(company_id));
        let report = ctx.client.execute(&GetReport::new(&id));
        let report = ctx.check("KYB report", report).unwrap();
        assert!(report.is_kyb());
        let company_data = report.company_data.as_ref().unwrap();
        assert_eq!(
            company_data.id_fiscal.as_ref().and_then(Scalar::as_str),
            Some("29.086.892/0001-77")
        );
        assert_eq!(report.documentation_proof.len(), 1);
        assert_eq!(report.documentation_proof[0].valid, Some(true));
        assert_eq!(report.partners[0].id.as_deref(), Some(partner_id));

        let employee = CreateAdditionalSession::new(company_id, "usr-employee-1", Country::Bra);
        let created = ctx.client.execute(&employee);
        let id = ctx
            .check("create_additional_session", created)
            .unwrap()
            .id
            .0;
        for (doc, file) in [
            (DocumentType::Selfie, "selfie.jpg"),
            (DocumentType::IdentityCardFront, "identity-card-front.png"),
            (DocumentType::IdentityCardBack, "identity-card-back.png"),
        ] {
            let up = ctx.client.upload(
                &UploadFile::new(&id, "usr-employee-1", doc),
                From::Path(PathBuf::from(&data(file))),
            );
            ctx.check("upload employee document", up).unwrap();
        }
        let session = ctx.client.execute(&GetSession::new(&id));
        let session = ctx.check("get employee session", session).unwrap();
        assert_eq!(session.status, Some(SessionStatus::Validated));
        assert_eq!(session.company_id.as_deref(), Some(company_id));
    });
    for run in &runs {
        assert_eq!(count(&run.requests, "POST", CREATE), 2, "{}", run.adapter);
    }
}

#[test]
fn concurrent_calls_share_one_token_request() {
    let runs = conform(mock(), Settings::default(), |ctx| {
        let found = ctx
            .client
            .concurrent_searches(12, &SearchSessions::new().user_id("usr-c"));
        ctx.note(format!("{found:?}"));
        // A second wave reuses the cached token.
        let found = ctx
            .client
            .concurrent_searches(4, &SearchSessions::new().user_id("usr-c"));
        ctx.note(format!("{found:?}"));
    });
    for run in &runs {
        assert_eq!(count(&run.requests, "POST", TOKEN), 1, "{}", run.adapter);
        assert_eq!(count(&run.requests, "GET", SEARCH), 16, "{}", run.adapter);
    }
}

#[test]
fn a_client_shared_by_many_callers_reuses_its_connections() {
    // Found by kyc-bench's shared_clients: with ureq's default pool (3 idle connections per host)
    // 16 threads sharing one kyc-ureq client opened hundreds of connections a second.
    let runs = conform(mock(), Settings::default(), |ctx| {
        for _ in 0..10 {
            let found = ctx
                .client
                .concurrent_searches(16, &SearchSessions::new().user_id("usr-c"));
            ctx.note(format!("{found:?}"));
        }
    });
    for run in &runs {
        assert_eq!(count(&run.requests, "GET", SEARCH), 160, "{}", run.adapter);
        // About one per caller (16, plus the token request's), not a dozen per wave.
        assert!(
            run.stats.connections <= 24,
            "{}: {} connections for 10 waves of 16 callers",
            run.adapter,
            run.stats.connections
        );
    }
}

#[test]
fn the_token_is_refreshed_when_it_nears_expiry() {
    // A 4 s token: the cache's margin (capped at half the lifetime) makes it stale after 2 s.
    let mock = mock().token_lifetime(Duration::from_secs(4));
    let runs = conform(mock, Settings::default(), |ctx| {
        for _ in 0..2 {
            let page = ctx.client.execute(&SearchSessions::new());
            ctx.check("search", page).unwrap();
        }
        std::thread::sleep(Duration::from_millis(2_200));
        let page = ctx.client.execute(&SearchSessions::new());
        ctx.check("search after 2.2 s", page).unwrap();
    });
    for run in &runs {
        assert_eq!(count(&run.requests, "POST", TOKEN), 2, "{}", run.adapter);
        assert!(
            run.requests
                .iter()
                .all(|r| r.path == TOKEN || r.header("authorization").is_some()),
            "no 401 was needed"
        );
    }
}

#[test]
fn a_401_brings_one_refresh_and_one_replay() {
    let runs = conform(mock(), Settings::default(), |ctx| {
        let id = new_session(ctx, "usr-401");
        // Another process revokes the token: this client's cached token is now refused.
        let other = ctx.another_client(&ctx.settings.clone());
        let revoked = other.revoke_token();
        ctx.check("revoke elsewhere", revoked).unwrap();
        let session = ctx.client.execute(&GetSession::new(&id));
        ctx.check("get_session", session).unwrap();
    });
    for run in &runs {
        let gets: Vec<_> = run.requests.iter().filter(|r| r.method == "GET").collect();
        assert_eq!(
            gets.len(),
            2,
            "{}: the refused call and its replay",
            run.adapter
        );
        assert_ne!(
            gets[0].header("authorization"),
            gets[1].header("authorization")
        );
        assert_eq!(count(&run.requests, "POST", TOKEN), 2);
    }
}

#[test]
fn a_429_waits_for_its_retry_after_and_a_503_is_retried_up_to_max_attempts() {
    let runs = conform(mock(), Settings::default(), |ctx| {
        let token = ctx.client.token();
        ctx.check("token", token).unwrap();
        ctx.server
            .inject_fault(Route::SearchSessions, Fault::too_many_requests(1), 1);
        let page = ctx.client.execute(&SearchSessions::new());
        ctx.check("after 429", page).unwrap();
        ctx.server
            .inject_fault(Route::SearchSessions, Fault::status(503), 2);
        let page = ctx.client.execute(&SearchSessions::new());
        ctx.check("after two 503", page).unwrap();
        ctx.server
            .inject_fault(Route::SearchSessions, Fault::status(503), 10);
        let page = ctx.client.execute(&SearchSessions::new());
        assert_eq!(ctx.check("always 503", page).unwrap_err().status, Some(503));
        ctx.server.clear_faults();
    });
    for run in &runs {
        assert!(
            run.elapsed >= Duration::from_secs(1),
            "{}: Retry-After honoured",
            run.adapter
        );
        assert_eq!(
            count(&run.requests, "GET", SEARCH),
            2 + 3 + 4,
            "{}",
            run.adapter
        );
    }
}

#[test]
fn a_create_is_retried_with_one_idempotency_key_and_the_next_call_draws_another() {
    let runs = conform(mock(), Settings::default(), |ctx| {
        ctx.server
            .inject_fault(Route::CreateSession, Fault::status(503), 1);
        ctx.server
            .inject_fault(Route::CreateSession, Fault::DropConnection, 1);
        ctx.server
            .inject_fault(Route::CreateSession, Fault::status(502), 1);
        new_session(ctx, "usr-key");
        ctx.note(format!("sessions stored: {}", ctx.server.session_count()));
        new_session(ctx, "usr-key");
    });
    for run in &runs {
        let creates: Vec<_> = run.requests.iter().filter(|r| r.path == CREATE).collect();
        assert_eq!(creates.len(), 5);
        let key = creates[0].header("x-idempotency-key").unwrap();
        assert_eq!(key.len(), 32);
        assert!(
            creates[..4]
                .iter()
                .all(|c| c.header("x-idempotency-key") == Some(key))
        );
        assert_ne!(creates[4].header("x-idempotency-key"), Some(key));
    }
}

#[test]
fn a_keyless_post_is_not_retried_once_the_server_may_have_it() {
    let runs = conform(mock(), Settings::default(), |ctx| {
        let token = ctx.client.token();
        ctx.check("token", token).unwrap();
        ctx.server
            .inject_fault(Route::CleanValidations, Fault::DropConnection, 1);
        let dropped = ctx.client.execute(&CleanValidations::user_id("usr-x"));
        let failure = ctx.check("dropped", dropped).unwrap_err();
        assert_eq!(failure.detail, "Connection reached=true");
        ctx.server
            .inject_fault(Route::CleanValidations, Fault::status(503), 1);
        let refused = ctx.client.execute(&CleanValidations::user_id("usr-x"));
        assert_eq!(ctx.check("503", refused).unwrap_err().status, Some(503));
    });
    for run in &runs {
        assert_eq!(
            count(&run.requests, "POST", "/clean_validations"),
            2,
            "{}",
            run.adapter
        );
    }
}

#[test]
fn dropped_connections_are_retried_for_a_get_and_an_upload_from_a_path() {
    let runs = conform(mock(), Settings::default(), |ctx| {
        let id = new_session(ctx, "usr-drop");
        ctx.server
            .inject_fault(Route::GetSession, Fault::DropConnection, 2);
        let session = ctx.client.execute(&GetSession::new(&id));
        ctx.check("get_session", session).unwrap();
        ctx.server
            .inject_fault(Route::UploadFile, Fault::DropConnection, 1);
        let uploaded = ctx.client.upload(
            &UploadFile::new(&id, "usr-drop", DocumentType::Selfie),
            From::Path(PathBuf::from(&data("selfie.jpg"))),
        );
        ctx.check("upload_path", uploaded).unwrap();
    });
    let file_len = std::fs::metadata(data("selfie.jpg")).unwrap().len();
    for run in &runs {
        let uploads: Vec<_> = run
            .requests
            .iter()
            .filter(|r| r.path.contains("/files/"))
            .collect();
        assert_eq!(uploads.len(), 2);
        for u in &uploads {
            assert!(
                u.header("transfer-encoding").is_none(),
                "{}: never chunked",
                run.adapter
            );
            let declared: u64 = u.header("content-length").unwrap().parse().unwrap();
            assert_eq!(declared, u.body.len() as u64);
            assert!(declared > file_len);
        }
        assert_eq!(
            uploads[0].body, uploads[1].body,
            "the same bytes on the retry"
        );
    }
}

#[test]
fn an_upload_from_a_reader_is_not_retried_after_its_bytes_were_sent() {
    let runs = conform(mock(), Settings::default(), |ctx| {
        let id = new_session(ctx, "usr-reader");
        ctx.server
            .inject_fault(Route::UploadFile, Fault::status(503), 1);
        let bytes = std::fs::read(data("selfie.jpg")).unwrap();
        let len = bytes.len() as u64;
        let failed = ctx.client.upload(
            &UploadFile::new(&id, "usr-reader", DocumentType::Selfie).file_name("s.jpg"),
            From::Reader {
                bytes: bytes.clone(),
                len,
            },
        );
        assert_eq!(ctx.check("503", failed).unwrap_err().status, Some(503));
        let short = ctx.client.upload(
            &UploadFile::new(&id, "usr-reader", DocumentType::Selfie).file_name("s.jpg"),
            From::Reader {
                bytes,
                len: len + 10,
            },
        );
        let failure = ctx.check("shorter than declared", short).unwrap_err();
        assert_eq!(
            (failure.kind, failure.detail.as_str()),
            ("source", "LengthChanged")
        );
    });
    for run in &runs {
        // The 503 once; the short reader's attempt broke off mid-body, so the simulator may not
        // record it, and it is never retried.
        let uploads = run
            .requests
            .iter()
            .filter(|r| r.path.contains("/files/"))
            .count();
        assert!(uploads <= 2, "{}: {uploads}", run.adapter);
    }
}

#[test]
fn broken_bodies_are_typed_errors() {
    let settings = Settings {
        retry: RetryPolicy::never(),
        ..Settings::default()
    };
    conform(mock(), settings, |ctx| {
        let token = ctx.client.token();
        ctx.check("token", token).unwrap();
        let search = SearchSessions::new();
        ctx.server
            .inject_fault(Route::SearchSessions, Fault::TruncatedBody, 1);
        let truncated = ctx.client.execute(&search);
        assert_eq!(
            ctx.check("truncated", truncated).unwrap_err().detail,
            "Connection reached=true"
        );
        ctx.server
            .inject_fault(Route::SearchSessions, Fault::NonJsonBody { status: 200 }, 1);
        let text = ctx.client.execute(&search);
        assert_eq!(ctx.check("text 200", text).unwrap_err().kind, "decode");
        ctx.server
            .inject_fault(Route::SearchSessions, Fault::NonJsonBody { status: 500 }, 1);
        let text = ctx.client.execute(&search);
        assert_eq!(ctx.check("text 500", text).unwrap_err().kind, "api");
        ctx.server.inject_fault(
            Route::SearchSessions,
            Fault::HtmlErrorPage { status: 502 },
            1,
        );
        let html = ctx.client.execute(&search);
        assert_eq!(ctx.check("html 502", html).unwrap_err().status, Some(502));
    });
}

#[test]
fn a_response_over_the_body_limit_is_refused_not_truncated() {
    let settings = Settings {
        retry: RetryPolicy::never(),
        max_response_body: Some(4096),
        ..Settings::default()
    };
    conform(mock(), settings, |ctx| {
        for _ in 0..20 {
            new_session(ctx, "usr-limit");
        }
        let page = ctx
            .client
            .execute(&SearchSessions::new().user_id("usr-limit").page_size(20));
        let failure = ctx.check("twenty sessions", page).unwrap_err();
        assert_eq!(
            failure.detail,
            "ResponseTooLarge { limit: 4096 } reached=true"
        );
    });
}

#[test]
fn an_attempt_that_outlives_its_timeout_is_a_timeout_error() {
    let settings = Settings {
        retry: RetryPolicy::never(),
        attempt_timeout: Duration::from_millis(300),
        ..Settings::default()
    };
    let runs = conform(mock(), settings, |ctx| {
        let token = ctx.client.token();
        ctx.check("token", token).unwrap();
        ctx.server.inject_fault(
            Route::SearchSessions,
            Fault::Delay(Duration::from_secs(3)),
            1,
        );
        let slow = ctx.client.execute(&SearchSessions::new());
        assert_eq!(
            ctx.check("slow", slow).unwrap_err().detail,
            "Timeout reached=true"
        );
    });
    for run in &runs {
        assert!(
            run.elapsed < Duration::from_secs(2),
            "{}: {:?}",
            run.adapter,
            run.elapsed
        );
    }
}

#[test]
fn a_server_that_trickles_its_head_or_body_is_cut_within_the_attempt_budget() {
    let settings = Settings {
        retry: RetryPolicy::never(),
        attempt_timeout: Duration::from_millis(800),
        ..Settings::default()
    };
    let runs = conform(mock(), settings, |ctx| {
        let token = ctx.client.token();
        ctx.check("token", token).unwrap();
        let search = SearchSessions::new();
        for (what, head_after, body_over) in [
            ("silent", Duration::from_secs(5), Duration::ZERO),
            (
                "slow head, then body",
                Duration::from_millis(600),
                Duration::from_millis(600),
            ),
            ("slow body", Duration::ZERO, Duration::from_secs(3)),
        ] {
            ctx.server.inject_fault(
                Route::SearchSessions,
                Fault::Trickle {
                    head_after,
                    body_over,
                },
                1,
            );
            let started = std::time::Instant::now();
            let cut = ctx.client.execute(&search);
            let elapsed = started.elapsed();
            assert_eq!(
                ctx.check(what, cut).unwrap_err().detail,
                "Timeout reached=true",
                "{what}"
            );
            // The attempt's whole budget (0.8 s), plus the 1 s of slack at most.
            assert!(
                elapsed < Duration::from_millis(1_800),
                "{what}: {elapsed:?}"
            );
        }
    });
    for run in &runs {
        assert_eq!(count(&run.requests, "GET", SEARCH), 3, "{}", run.adapter);
    }
}

#[test]
fn a_call_never_outlives_its_overall_deadline() {
    // The case, halved: attempt 2 s, call 2.5 s, head after 1.5 s, body over 1.5 s more.
    let settings = Settings {
        retry: RetryPolicy::never(),
        attempt_timeout: Duration::from_secs(2),
        overall_timeout: Duration::from_millis(2_500),
        ..Settings::default()
    };
    conform(mock(), settings, |ctx| {
        ctx.server.inject_fault(
            Route::SearchSessions,
            Fault::Trickle {
                head_after: Duration::from_millis(1_500),
                body_over: Duration::from_millis(1_500),
            },
            1,
        );
        let started = std::time::Instant::now();
        let slow = ctx.client.execute(&SearchSessions::new());
        let elapsed = started.elapsed();
        assert_eq!(
            ctx.check("slow", slow).unwrap_err().detail,
            "Timeout reached=true"
        );
        assert!(elapsed < Duration::from_millis(3_500), "{elapsed:?}");
    });
}

#[test]
fn the_overall_deadline_bounds_retries() {
    let settings = Settings {
        retry: RetryPolicy::default()
            .max_attempts(50)
            .backoff(Duration::from_millis(1), Duration::from_millis(1)),
        attempt_timeout: Duration::from_millis(300),
        overall_timeout: Duration::from_millis(800),
        ..Settings::default()
    };
    let runs = conform(mock(), settings, |ctx| {
        let token = ctx.client.token();
        ctx.check("token", token).unwrap();
        ctx.server.inject_fault(
            Route::SearchSessions,
            Fault::Delay(Duration::from_secs(3)),
            50,
        );
        let started = std::time::Instant::now();
        let slow = ctx.client.execute(&SearchSessions::new());
        assert_eq!(
            ctx.check("always slow", slow).unwrap_err().detail,
            "Timeout reached=true"
        );
        assert!(started.elapsed() < Duration::from_millis(1_500));
        ctx.server.clear_faults();
    });
    for run in &runs {
        // 0.3 s, 0.3 s, and what is left of the 0.8 s.
        assert_eq!(count(&run.requests, "GET", SEARCH), 3, "{}", run.adapter);
    }
}

#[test]
fn an_unreachable_server_is_a_connect_error_that_never_reached_it() {
    let settings = Settings {
        retry: RetryPolicy::never(),
        unreachable: true,
        ..Settings::default()
    };
    conform(mock(), settings, |ctx| {
        let token = ctx.client.token();
        let failure = ctx.check("token", token).unwrap_err();
        assert_eq!(failure.detail, "Connect reached=false");
        assert!(failure.during_token);
    });
}

#[test]
fn wrong_credentials_are_a_token_error_sent_once() {
    let settings = Settings {
        client_secret: Some("wrong-secret".into()),
        ..Settings::default()
    };
    let runs = conform(mock(), settings, |ctx| {
        let page = ctx.client.execute(&SearchSessions::new());
        let failure = ctx.check("search", page).unwrap_err();
        assert!(failure.during_token);
        assert_eq!(failure.status, Some(401));
    });
    for run in &runs {
        assert_eq!(run.requests.len(), 1, "{}", run.adapter);
    }
}

#[test]
fn search_all_walks_every_page() {
    let runs = conform(mock(), Settings::default(), |ctx| {
        for _ in 0..7 {
            new_session(ctx, "usr-pages");
        }
        new_session(ctx, "usr-someone-else");
        let (all, pages) = ctx.client.search_all(
            SearchSessions::new()
                .user_id("usr-pages")
                .page_size(3)
                .sort(kyc_core::Sort::asc("created_at")),
        );
        ctx.note(format!("{} items over {pages} pages", all.len()));
        assert_eq!((all.len(), pages), (7, 3));
        for item in all {
            ctx.check("item", item).unwrap();
        }
    });
    for run in &runs {
        assert_eq!(count(&run.requests, "GET", SEARCH), 3);
    }
}

#[test]
fn each_allowed_file_type_uploads_and_others_are_refused() {
    conform(mock(), Settings::default(), |ctx| {
        let user = "usr-types";
        let id = new_session(ctx, user);
        let jpeg = ctx.client.upload(
            &UploadFile::new(&id, user, DocumentType::Selfie),
            From::Path(PathBuf::from(&data("selfie.jpg"))),
        );
        ctx.check("jpeg", jpeg).unwrap();
        let png = ctx.client.upload(
            &UploadFile::new(&id, user, DocumentType::IdentityCardFront),
            From::Path(PathBuf::from(&data("identity-card-front.png"))),
        );
        ctx.check("png", png).unwrap();
        let pdf =
            b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n";
        let pdf = ctx.client.upload(
            &UploadFile::new(&id, user, DocumentType::IdentityCardBack).file_name("back.pdf"),
            From::Bytes(pdf.to_vec()),
        );
        ctx.check("pdf", pdf).unwrap();
        let sent = ctx.server.requests().len();
        let gif = ctx.client.upload(
            &UploadFile::new(&id, user, DocumentType::Selfie).file_name("x.gif"),
            From::Bytes(b"GIF89a\x01\x00\x01\x00".to_vec()),
        );
        assert_eq!(ctx.check("gif", gif).unwrap_err().kind, "invalid_input");
        let empty = ctx.client.upload(
            &UploadFile::new(&id, user, DocumentType::Selfie).file_name("empty.jpg"),
            From::Bytes(Vec::new()),
        );
        assert_eq!(ctx.check("empty", empty).unwrap_err().kind, "invalid_input");
        let licence = UploadFile::from_bytes(
            id.clone(),
            user,
            DocumentType::DriverLicenseFront,
            "licence.jpg",
            std::fs::read(data("selfie.jpg")).unwrap(),
        )
        .country(Country::Arg);
        let licence = ctx.client.execute(&licence);
        assert_eq!(
            ctx.check("licence in ARG", licence).unwrap_err().kind,
            "invalid_input"
        );
        assert_eq!(ctx.server.requests().len(), sent, "refused before sending");
        let second = new_session(ctx, user);
        let refused = ctx.client.upload(
            &UploadFile::new(&second, user, DocumentType::DriverLicenseFront),
            From::Path(PathBuf::from(&data("selfie.jpg"))),
        );
        assert_eq!(
            ctx.check("refused by the server", refused)
                .unwrap_err()
                .status,
            Some(400)
        );
    });
}

/// A one-shot webhook receiver on loopback: reads one request, answers `200`, hands over its
/// headers and body.
pub(crate) fn receive_one(listener: TcpListener, out: mpsc::Sender<(http::HeaderMap, Vec<u8>)>) {
    let Ok((stream, _)) = listener.accept() else {
        return;
    };
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut headers = http::HeaderMap::new();
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    loop {
        line.clear();
        reader.read_line(&mut line).unwrap();
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').unwrap();
        headers.append(
            http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
            value.trim().parse().unwrap(),
        );
    }
    let len: usize = headers["content-length"].to_str().unwrap().parse().unwrap();
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    let mut stream = stream;
    stream
        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
        .unwrap();
    out.send((headers, body)).unwrap();
}

#[test]
fn the_webhook_flow_ends_in_a_verified_validated_event() {
    // Each run's simulator notifies a receiver of its own.
    let received = std::sync::Mutex::new(None);
    let with_receiver = || {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hooks/identity", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || receive_one(listener, tx));
        *received.lock().unwrap() = Some(rx);
        mock().webhook_url(url)
    };
    conform_with(with_receiver, Settings::default(), |ctx| {
        let user = "usr-webhook";
        let id = new_session(ctx, user);
        for (document, file) in [
            (DocumentType::Selfie, "selfie.jpg"),
            (DocumentType::IdentityCardFront, "identity-card-front.png"),
            (DocumentType::IdentityCardBack, "identity-card-back.png"),
        ] {
            let uploaded = ctx.client.upload(
                &UploadFile::new(&id, user, document),
                From::Path(PathBuf::from(&data(file))),
            );
            ctx.check("upload", uploaded).unwrap();
        }
        let rx = received.lock().unwrap().take().unwrap();
        let (headers, body) = rx.recv_timeout(Duration::from_secs(15)).unwrap();
        let verifier = Verifier::new(WebhookKeys::new().with(
            ctx.server.webhook_api_key(),
            WebhookSecret::from_base64(ctx.server.webhook_secret()).unwrap(),
        ))
        .expected_endpoint("/hooks/identity");
        match verifier.verify(&headers, &body, SystemTime::now()).unwrap() {
            Event::ValidationSession(n) => {
                assert_eq!(n.session_id.as_str(), id);
                ctx.note(format!("webhook verified: {} {}", n.session_id, n.status));
            }
            other => panic!("unexpected event {other:?}"),
        }
        let session = ctx.client.execute(&GetSession::new(&id));
        let session = ctx.check("get_session", session).unwrap();
        assert_eq!(session.status, Some(SessionStatus::Validated));
    });
}
