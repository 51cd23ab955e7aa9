//! Property tests over the public API: request bodies and queries round-trip through independent
//! parsers, nothing panics on arbitrary responses, and `Debug` never shows a secret.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::task::{Context, Poll, Waker};
use std::time::UNIX_EPOCH;

use kyc_core::{
    AccessToken, CancelSession, CleanValidations, Config, Country, CreateSession, Credentials,
    Date, DocumentType, Environment, Error, Extra, FlowType, GetReport, GetSession, IdempotencyKey,
    IntegrationMethod, PersonalData, Pii, RequestToken, SearchSessions, SessionStatus, Sort,
    TermsData, TokenGrant, UploadFile, build_request, parse_response,
};
use proptest::prelude::*;

fn config() -> Config {
    Config::builder(Environment::Sandbox)
        .max_upload_bytes(1 << 20)
        .build()
        .unwrap()
}

fn token() -> AccessToken {
    AccessToken::new("token-abc")
}

fn key() -> IdempotencyKey {
    IdempotencyKey::from_random_bytes([1; 16])
}

// ---------------------------------------------------------------- create session body

fn open_enum_text() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ARG".to_owned()),
        Just("kyc-accounts".to_owned()),
        "[A-Za-z-]{1,12}"
    ]
}

fn personal_data() -> impl Strategy<Value = PersonalData> {
    (
        proptest::option::of("\\PC{0,20}"),
        proptest::option::of("[0-9]{6,10}"),
        proptest::option::of("[0-9]{4}-[0-9]{2}-[0-9]{2}"),
        proptest::collection::btree_map("x_[a-z]{1,8}", "\\PC{0,10}", 0..3),
    )
        .prop_map(|(first, doc, birth, extra)| {
            let mut data = PersonalData::default();
            data.full_name = first.map(Pii::new);
            data.fiscal_id = doc.map(Pii::new);
            data.birthdate = birth.map(Pii::new);
            data.extra = Extra(extra.into_iter().map(|(k, v)| (k, v.into())).collect());
            data
        })
}

prop_compose! {
    fn create_session()(
        user in "\\PC{1,30}",
        country in open_enum_text(),
        flow in open_enum_text(),
        method in prop_oneof![Just("API".to_owned()), Just("WEB".to_owned()), "[A-Z]{1,5}"],
        personal in proptest::option::of(personal_data()),
        terms in proptest::option::of(("[0-9.]{1,5}", any::<bool>(), "\\PC{0,25}")),
    ) -> CreateSession {
        let mut create = CreateSession::new(user, Country::from(country))
            .flow_type(FlowType::from(flow))
            .integration_method(IntegrationMethod::from(method));
        if let Some(p) = personal {
            create = create.personal_data(p);
        }
        if let Some((version, accept, date)) = terms {
            let mut t = TermsData::accepted(version, date);
            t.accept = accept;
            create = create.terms_data(t);
        }
        create
    }
}

proptest! {
    #[test]
    fn create_session_body_round_trips(create in create_session()) {
        prop_assume!(!create.user_id.trim().is_empty());
        let req = build_request(&config(), &create, Some(&token()), Some(&key())).unwrap();
        let body: serde_json::Value = serde_json::from_slice(req.body().as_ref()).unwrap();
        // The documented wire shape (reference §5.1).
        prop_assert_eq!(body["flow_type"].as_str(), Some(create.flow_type.as_str()));
        prop_assert_eq!(body["country"].as_str(), Some(create.country.as_str()));
        prop_assert_eq!(body["integration_method"].as_str(), Some(create.integration_method.as_str()));
        prop_assert_eq!(body["data"]["user_id"].as_str(), Some(create.user_id.as_str()));
        let back: CreateSession = serde_json::from_value(body).unwrap();
        prop_assert_eq!(back, create);
    }
}

// ---------------------------------------------------------------- multipart

/// Polls a future that never waits (multer over an in-memory stream) to completion.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000 {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
    }
    panic!("an in-memory multipart parse did not finish");
}

struct Part {
    name: Option<String>,
    file_name: Option<String>,
    content_type: Option<String>,
    bytes: Vec<u8>,
}

/// Parses a multipart body with `multer`, an implementation independent of ours.
fn parse_multipart(content_type: &str, body: Vec<u8>) -> Vec<Part> {
    let boundary = multer::parse_boundary(content_type).unwrap();
    let stream = futures_util::stream::once(async move {
        Ok::<_, std::convert::Infallible>(bytes::Bytes::from(body))
    });
    let mut multipart = multer::Multipart::new(stream, boundary);
    block_on(async move {
        let mut parts = Vec::new();
        while let Some(field) = multipart.next_field().await.unwrap() {
            let name = field.name().map(str::to_owned);
            let file_name = field.file_name().map(str::to_owned);
            let content_type = field.content_type().map(ToString::to_string);
            let bytes = field.bytes().await.unwrap().to_vec();
            parts.push(Part {
                name,
                file_name,
                content_type,
                bytes,
            });
        }
        parts
    })
}

fn magic() -> impl Strategy<Value = (&'static [u8], &'static str)> {
    prop_oneof![
        Just((&[0xFF, 0xD8, 0xFF][..], "image/jpeg")),
        Just((
            &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A][..],
            "image/png"
        )),
        Just((&b"%PDF-"[..], "application/pdf")),
    ]
}

proptest! {
    #[test]
    fn multipart_body_parses_back_into_the_same_part(
        (magic, mime) in magic(),
        rest in proptest::collection::vec(any::<u8>(), 0..4096),
        name in "[A-Za-z0-9 ._()-]{1,30}",
        key_bytes in any::<[u8; 16]>(),
    ) {
        let mut file = magic.to_vec();
        file.extend_from_slice(&rest);
        let upload = UploadFile::from_bytes("iss-1", "usr-1", DocumentType::Selfie, name.clone(), file.clone())
            .country(Country::Arg);
        let key = IdempotencyKey::from_random_bytes(key_bytes);
        let req = build_request(&config(), &upload, Some(&token()), Some(&key)).unwrap();
        let content_type = req.headers()["content-type"].to_str().unwrap().to_owned();
        let boundary = content_type.split("boundary=").nth(1).unwrap().to_owned();
        prop_assert!(!file.windows(boundary.len()).any(|w| w == boundary.as_bytes()));
        let declared: u64 = req.headers()["content-length"].to_str().unwrap().parse().unwrap();
        let body = req.into_body().into_bytes().unwrap();
        prop_assert_eq!(declared, body.len() as u64);
        let parts = parse_multipart(&content_type, body);
        prop_assert_eq!(parts.len(), 1);
        let part = &parts[0];
        prop_assert_eq!(part.name.as_deref(), Some("file"));
        let trimmed = name.trim();
        let expected_name = if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
            let ext = match mime { "image/jpeg" => "jpg", "image/png" => "png", _ => "pdf" };
            format!("selfie.{ext}")
        } else {
            trimmed.to_owned()
        };
        prop_assert_eq!(part.file_name.as_deref(), Some(expected_name.as_str()));
        prop_assert_eq!(part.content_type.as_deref(), Some(mime));
        prop_assert_eq!(&part.bytes, &file);
    }

    #[test]
    fn a_streamed_upload_sends_the_same_bytes_as_an_in_memory_one(
        rest in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let mut file = vec![0xFF, 0xD8, 0xFF];
        file.extend_from_slice(&rest);
        let in_memory = UploadFile::from_bytes("iss-1", "usr-1", DocumentType::Selfie, "a.jpg", file.clone());
        let streamed = UploadFile::from_stream("iss-1", "usr-1", DocumentType::Selfie, "a.jpg", &file[..file.len().min(8)], file.len() as u64);
        let a = build_request(&config(), &in_memory, Some(&token()), Some(&key())).unwrap();
        let b = build_request(&config(), &streamed, Some(&token()), Some(&key())).unwrap();
        prop_assert_eq!(a.headers(), b.headers());
        let mut streamed_bytes = Vec::new();
        std::io::Read::read_to_end(&mut b.into_body().into_reader(file.as_slice()), &mut streamed_bytes).unwrap();
        prop_assert_eq!(a.into_body().into_bytes().unwrap(), streamed_bytes);
    }
}

#[test]
fn a_stream_that_disagrees_with_its_length_fails_instead_of_sending_a_wrong_body() {
    let upload = UploadFile::from_stream(
        "iss-1",
        "u",
        DocumentType::Selfie,
        "a.jpg",
        &[0xFF, 0xD8, 0xFF],
        10,
    );
    for file in [&[0xFF, 0xD8, 0xFF][..], &[0xFF; 11][..]] {
        let req = build_request(&config(), &upload, Some(&token()), Some(&key())).unwrap();
        let mut out = Vec::new();
        let err = std::io::Read::read_to_end(&mut req.into_body().into_reader(file), &mut out)
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    }
}

#[test]
fn uploads_are_refused_before_sending_when_they_cannot_succeed() {
    use kyc_core::InvalidInput::*;
    let refuse = |upload: UploadFile| match build_request(
        &config(),
        &upload,
        Some(&token()),
        Some(&key()),
    ) {
        Err(Error::InvalidInput(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let jpeg = vec![0xFF, 0xD8, 0xFF, 0];
    assert_eq!(
        refuse(UploadFile::from_bytes(
            "s",
            "u",
            DocumentType::Selfie,
            "a",
            vec![]
        )),
        EmptyFile
    );
    assert_eq!(
        refuse(UploadFile::from_stream(
            "s",
            "u",
            DocumentType::Selfie,
            "a",
            &jpeg,
            (1 << 20) + 1
        )),
        FileTooLarge {
            size: (1 << 20) + 1,
            limit: 1 << 20
        }
    );
    assert_eq!(
        refuse(UploadFile::from_bytes(
            "s",
            "u",
            DocumentType::Selfie,
            "a",
            b"GIF89a".to_vec()
        )),
        UnsupportedFileType
    );
    assert!(matches!(
        refuse(
            UploadFile::from_bytes(
                "s",
                "u",
                DocumentType::DriverLicenseFront,
                "a",
                jpeg.clone()
            )
            .country(Country::Arg)
        ),
        DocumentTypeNotAllowed { .. }
    ));
    assert!(matches!(
        refuse(UploadFile::from_bytes(
            "..",
            "u",
            DocumentType::Selfie,
            "a",
            jpeg.clone()
        )),
        InvalidId { .. }
    ));
    let no_key = build_request(
        &config(),
        &UploadFile::from_bytes("s", "u", DocumentType::Selfie, "a", jpeg),
        Some(&token()),
        None,
    );
    assert!(matches!(
        no_key,
        Err(Error::InvalidInput(MissingIdempotencyKey))
    ));
}

// ---------------------------------------------------------------- search query

fn status() -> impl Strategy<Value = SessionStatus> {
    prop_oneof![
        proptest::sample::select(SessionStatus::KNOWN.to_vec()),
        "[A-Z_ ]{1,12}".prop_map(SessionStatus::from),
    ]
}

prop_compose! {
    fn search()(
        statuses in proptest::collection::vec(status(), 0..3),
        user in proptest::option::of("\\PC{1,20}"),
        from in proptest::option::of((2000u16..2030, 1u8..13, 1u8..29)),
        custom in proptest::collection::btree_map("[a-z_]{1,10}(\\[[a-z]{1,5}\\])?", "\\PC{0,15}", 0..3),
        sort in proptest::collection::vec(("[a-z_.]{1,10}", any::<bool>()), 0..3),
        size in proptest::option::of(1u32..500),
        number in proptest::option::of(0u32..50),
    ) -> SearchSessions {
        let mut s = SearchSessions::new();
        for st in statuses { s = s.status(st); }
        if let Some(u) = user { s = s.user_id(u); }
        if let Some((y, m, d)) = from { s = s.created_from(Date::new(y, m, d).unwrap()); }
        for (k, v) in custom {
            if !matches!(k.as_str(), "status" | "user_id") && !k.starts_with("created_at") {
                s = s.filter(format!("x_{k}"), v);
            }
        }
        for (field, desc) in sort { s = s.sort(if desc { Sort::desc(field) } else { Sort::asc(field) }); }
        if let Some(size) = size { s = s.page_size(size); }
        if let Some(n) = number { s = s.page_number(n); }
        s
    }
}

proptest! {
    #[test]
    fn search_query_round_trips_through_the_url_crate(search in search()) {
        let expected = search.query_pairs().unwrap();
        let req = build_request(&config(), &search, Some(&token()), None).unwrap();
        let url = url::Url::parse(&req.uri().to_string()).unwrap();
        prop_assert_eq!(url.path(), "/identity/v1/sessions");
        let got: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        prop_assert_eq!(got, expected.clone());
        // Lists split back into their items.
        if let Some((_, statuses)) = expected.iter().find(|(k, _)| k == "filter[status]") {
            let raw = url.query().unwrap().split('&').find(|p| p.starts_with("filter[status]=")).unwrap();
            prop_assert_eq!(raw.split('=').nth(1).unwrap().split(',').count(), statuses.split(',').count());
        }
    }
}

#[test]
fn search_query_uses_pomelos_syntax() {
    let search = SearchSessions::new()
        .status(SessionStatus::Validated)
        .status(SessionStatus::NotValidated)
        .user_id("usr-1")
        .created_from(Date::parse("2021-07-27").unwrap())
        .created_to(Date::parse("2021-07-28").unwrap())
        .filter("country", "ARG")
        .sort(Sort::parse("-created_at"))
        .sort(Sort::asc("status"))
        .page_size(50)
        .page_number(2);
    let req = build_request(&config(), &search, Some(&token()), None).unwrap();
    assert_eq!(
        req.uri().to_string(),
        "https://api-sandbox.pomelo.la/identity/v1/sessions?filter[status]=VALIDATED,NOT_VALIDATED\
         &filter[user_id]=usr-1&filter[created_at][from]=2021-07-27&filter[created_at][to]=2021-07-28\
         &filter[country]=ARG&sort=-created_at,status&page[size]=50&page[number]=2"
    );
    assert_eq!(req.method(), "GET");
    assert!(req.headers().get("x-idempotency-key").is_none());
    assert!(
        SearchSessions::new()
            .status("A,B".into())
            .query_pairs()
            .is_err()
    );
    assert!(
        SearchSessions::new()
            .filter("status", "X")
            .status(SessionStatus::Validated)
            .query_pairs()
            .is_err()
    );
    assert!(
        SearchSessions::new()
            .filter("a]b", "X")
            .query_pairs()
            .is_err()
    );
    assert!(SearchSessions::new().page_size(0).query_pairs().is_err());
    assert!(Date::parse("2023-02-29").is_err() && Date::parse("2024-02-29").is_ok());
}

// ---------------------------------------------------------------- paths

#[test]
fn every_session_path_encodes_the_id_as_one_segment() {
    let c = config();
    let id = "../../oauth/token?x=1#f";
    let enc = "..%2F..%2Foauth%2Ftoken%3Fx%3D1%23f";
    let get = build_request(&c, &GetSession::new(id), Some(&token()), None).unwrap();
    assert_eq!(get.uri().path(), format!("/identity/v1/sessions/{enc}"));
    let cancel = build_request(&c, &CancelSession::new(id), Some(&token()), None).unwrap();
    assert_eq!(cancel.method(), "DELETE");
    assert_eq!(cancel.uri().path(), format!("/identity/v1/sessions/{enc}"));
    let report = build_request(&c, &GetReport::new(id), Some(&token()), None).unwrap();
    assert_eq!(
        report.uri().path(),
        format!("/identity/v1/sessions/{enc}/report")
    );
    assert!(get.uri().query().is_none());
}

#[test]
fn configured_paths_are_used() {
    let c = Config::builder(Environment::Sandbox)
        .get_session_path("/identity/v1/session/{session_id}")
        .clean_validations_path("/identity/v1/clean_validations")
        .build()
        .unwrap();
    let get = build_request(&c, &GetSession::new("iss-1"), Some(&token()), None).unwrap();
    assert_eq!(get.uri().path(), "/identity/v1/session/iss-1");
    let clean = build_request(
        &c,
        &CleanValidations::user_id("usr-1"),
        Some(&token()),
        None,
    )
    .unwrap();
    assert_eq!(clean.uri().path(), "/identity/v1/clean_validations");
}

#[test]
fn clean_validations_prefers_the_user_id_and_never_runs_in_production() {
    let c = config();
    let both = CleanValidations::new(Some("usr-1".into()), Some(Pii::new("30123456"))).unwrap();
    let req = build_request(&c, &both, Some(&token()), None).unwrap();
    let body: serde_json::Value = serde_json::from_slice(req.body().as_ref()).unwrap();
    assert_eq!(body, serde_json::json!({"user_id": "usr-1"}));
    let by_doc = CleanValidations::document_number("30123456");
    let req = build_request(&c, &by_doc, Some(&token()), None).unwrap();
    assert_eq!(req.body().as_ref(), br#"{"document_number":"30123456"}"#);
    assert!(!format!("{by_doc:?} {req:?}").contains("30123456"));
    assert!(CleanValidations::new(None, None).is_err());
    let prod = Config::new(Environment::Production).unwrap();
    assert!(matches!(
        build_request(&prod, &both, Some(&token()), None),
        Err(Error::InvalidInput(
            kyc_core::InvalidInput::RefusedInProduction { .. }
        ))
    ));
}

// ---------------------------------------------------------------- no panics

fn any_response() -> impl Strategy<Value = http::Response<Vec<u8>>> {
    let body = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        "\\{\"data\":\\{\"id\":\"[a-z]{0,4}\",\"status\":(1|null|\"X\"|\\[\\]),\"steps\":\\[\\{\\}\\]\\}\\}".prop_map(String::into_bytes),
        "\\{\"data\":\\[\\{\"id\":\"a\"\\}\\],\"meta\":(\\{\\}|null|\\{\"pagination\":\\{\"total_pages\":-1\\}\\})\\}".prop_map(String::into_bytes),
        "\\{\"access_token\":\"[a-zA-Z0-9._-]{0,40}\",\"expires_in\":(-?[0-9]{1,25}|1e400|null)\\}".prop_map(String::into_bytes),
        "\\{\"error\":(\\{\\}|\\[\\]|\\{\"details\":\\[1\\]\\})\\}".prop_map(String::into_bytes),
    ];
    let headers = proptest::collection::vec(
        ("[a-z-]{1,12}", proptest::collection::vec(32u8..127, 0..20)),
        0..4,
    );
    (100u16..1000, headers, body).prop_map(|(status, headers, body)| {
        let mut b = http::Response::builder().status(status);
        for (k, v) in headers {
            b = b.header(k, v);
        }
        b.body(body).unwrap()
    })
}

proptest! {
    #[test]
    fn parsers_never_panic(response in any_response()) {
        let _ = parse_response::<CreateSession, _>(&response);
        let _ = parse_response::<GetSession, _>(&response);
        let _ = parse_response::<CancelSession, _>(&response);
        let _ = parse_response::<GetReport, _>(&response);
        let _ = parse_response::<SearchSessions, _>(&response);
        let _ = parse_response::<UploadFile, _>(&response);
        let _ = parse_response::<CleanValidations, _>(&response);
        if let Ok(grant) = parse_response::<RequestToken<'_>, _>(&response) {
            let _ = grant.expires_at(UNIX_EPOCH);
        }
        let ok = response.status().is_success();
        prop_assert!(ok || parse_response::<GetSession, _>(&response).is_err());
    }
}

// ---------------------------------------------------------------- secrets in Debug

proptest! {
    #[test]
    fn debug_output_never_contains_a_generated_secret(
        secret in "[A-Za-z0-9]{12,40}",
        access in "[A-Za-z0-9]{12,40}",
        document in "[0-9]{8,11}",
    ) {
        let creds = Credentials::new("client-id", secret.clone());
        let c = config();
        let token_request = build_request(&c, &RequestToken { credentials: &creds }, None, None).unwrap();
        let body = serde_json::json!({"access_token": access, "expires_in": 3600});
        let response = http::Response::builder().status(200).body(serde_json::to_vec(&body).unwrap()).unwrap();
        let grant: TokenGrant = parse_response::<RequestToken<'_>, _>(&response).unwrap();
        let token = grant.access_token.clone();
        let mut personal = PersonalData::default();
        personal.fiscal_id = Some(Pii::new(document.clone()));
        personal.full_name = Some(Pii::new(document.clone()));
        let create = CreateSession::new("usr-1", Country::Bra).personal_data(personal);
        let create_request = build_request(&c, &create, Some(&token), Some(&key())).unwrap();
        let get_request = build_request(&c, &GetSession::new("iss-1"), Some(&token), None).unwrap();
        let refused = build_request(&c, &GetSession::new(""), Some(&token), None).unwrap_err();
        let shown = format!(
            "{creds:?} {c:?} {token_request:?} {grant:?} {token:?} {create:?} \
             {create_request:?} {get_request:?} {refused:?} {refused}"
        );
        prop_assert!(!shown.contains(&secret));
        prop_assert!(!shown.contains(&access));
        prop_assert!(!shown.contains(&document));
        // The values are still on the wire where they belong.
        prop_assert!(String::from_utf8_lossy(create_request.body().as_ref()).contains(&document));
        prop_assert_eq!(get_request.headers()["authorization"].to_str().unwrap(), format!("Bearer {access}"));
    }
}
