//! One `Debug` policy for personal data (issue #18): every public type, built from responses,
//! requests and deliveries full of marker strings where a person's data or free text goes, prints
//! none of them. Ids, statuses and enums stay visible.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::{Instant, SystemTime};

use kyc_core::webhook::{Event, WebhookKeys, WebhookSecret};
use kyc_core::{
    Call, CallError, CleanValidations, Config, Country, CreateSession, Credentials, DocumentType,
    Environment, GetReport, GetSession, Now, PersonalData, Pii, RequestToken, SearchSessions,
    Settings, TermsData, UploadFile, build_request, parse_response,
};
use serde_json::json;

const MARKERS: [&str; 7] = [
    "MARKER-NAME",
    "MARKER-DOCNUMBER",
    "MARKER-REASON",
    "MARKER-URL",
    "MARKER-FILENAME",
    "MARKER-FREE",
    "MARKER-SECRET",
];

fn response(status: u16, body: &serde_json::Value) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(status)
        .header("x-request-id", "req-1")
        .body(serde_json::to_vec(body).unwrap())
        .unwrap()
}

fn session() -> serde_json::Value {
    json!({
        "id": "iss-1", "user_id": "usr-1", "status": "NOT_VALIDATED",
        "reason": "MARKER-REASON", "url": "https://x/MARKER-URL", "country": "ARG",
        "steps": [{"name": "ocr", "status": "FAILED", "note": "MARKER-FREE"}],
        "files": [{"id": "fil-1", "file_name": "MARKER-FILENAME.jpg", "size": 12, "comment": "MARKER-FREE"}],
        "personal_data": {"full_name": "MARKER-NAME", "document_number": "MARKER-DOCNUMBER"}
    })
}

#[test]
fn no_type_prints_a_marker() {
    let mut shown = Vec::new();
    let get = parse_response::<GetSession, _>(&response(200, &json!({"data": session()}))).unwrap();
    shown.push(format!("{get:?} {:?} {:?}", get.files, get.steps));
    let created = parse_response::<CreateSession, _>(&response(
        201,
        &json!({"data": {"id": "iss-1", "url": "https://x/MARKER-URL", "note": "MARKER-FREE"}}),
    ))
    .unwrap();
    shown.push(format!("{created:?}"));
    let report =
        parse_response::<GetReport, _>(&response(200, &json!({"data": session()}))).unwrap();
    shown.push(format!("{report:?}"));
    let page = parse_response::<SearchSessions, _>(&response(
        200,
        &json!({"data": [session()], "meta": {"pagination": {"total_pages": 1, "note": "MARKER-FREE"}}}),
    ))
    .unwrap();
    shown.push(format!("{page:?}"));

    // Errors whose bodies echo personal data.
    let api = parse_response::<GetSession, _>(&response(
        400,
        &json!({"error": {"message": "MARKER-NAME", "details": [{"code": "x", "detail": "MARKER-DOCNUMBER"}]}}),
    ))
    .unwrap_err();
    let decode = parse_response::<GetSession, _>(&response(
        200,
        &json!({"data": {"id": 7, "x": "MARKER-FREE"}}),
    ))
    .unwrap_err();
    shown.push(format!("{api:?} {api} {decode:?} {decode}"));
    let keyed = CallError::new(api)
        .in_token_stage()
        .with_idempotency_key(Some(kyc_core::IdempotencyKey::new("key-1").unwrap()));
    shown.push(format!("{keyed:?} {keyed}"));

    // Requests built from personal data.
    let config = Config::new(Environment::Sandbox).unwrap();
    let mut personal = PersonalData::default();
    personal.full_name = Some(Pii::new("MARKER-NAME"));
    personal.fiscal_id = Some(Pii::new("MARKER-DOCNUMBER"));
    personal.extra.0.insert("note".into(), json!("MARKER-FREE"));
    let create = CreateSession::new("usr-1", Country::Bra)
        .personal_data(personal)
        .terms_data(TermsData::accepted("v1", "2024-01-01T00:00:00Z"));
    let key = kyc_core::IdempotencyKey::from_random_bytes([1; 16]);
    let token = kyc_core::AccessToken::new("MARKER-SECRET");
    let request = build_request(&config, &create, Some(&token), Some(&key)).unwrap();
    shown.push(format!("{create:?} {request:?}"));
    let upload = UploadFile::from_bytes(
        "iss-1",
        "usr-1",
        DocumentType::Selfie,
        "MARKER-FILENAME.jpg",
        b"\xFF\xD8\xFF MARKER-FREE".to_vec(),
    );
    let upload_request = build_request(&config, &upload, Some(&token), Some(&key)).unwrap();
    shown.push(format!("{upload:?} {upload_request:?}"));
    let clean = CleanValidations::document_number("MARKER-DOCNUMBER");
    shown.push(format!(
        "{clean:?} {:?}",
        build_request(&config, &clean, Some(&token), None).unwrap()
    ));
    let credentials = Credentials::new("cli-1", "MARKER-SECRET");
    let settings = Settings::new(config.clone(), credentials.clone());
    shown.push(format!("{credentials:?} {settings:?}"));
    let grant = parse_response::<RequestToken<'_>, _>(&response(
        200,
        &json!({"access_token": "MARKER-SECRET"}),
    ))
    .unwrap();
    shown.push(format!("{grant:?}"));
    let now = Now::new(Instant::now(), SystemTime::now());
    let call = Call::new(&settings, &create, [0; 16], now).unwrap();
    shown.push(format!("{call:?}"));

    // KYB: a create and a report full of markers.
    let mut company = kyc_core::Company::new("cmp-1");
    company.fiscal_id = Some(Pii::new("MARKER-DOCNUMBER"));
    company.legal_nature = Some("MARKER-FREE".into());
    let mut address = kyc_core::Address::default();
    address.street_name = Some("MARKER-FREE".into());
    let mut partner_person = PersonalData::default();
    partner_person.full_name = Some(Pii::new("MARKER-NAME"));
    partner_person.address = Some(address);
    let mut partner =
        kyc_core::Partner::new("usr-1", kyc_core::PartnerType::LegalRepresentativeMain)
            .person(partner_person);
    partner.company_relationship = vec!["MARKER-FREE".into()];
    let kyb = kyc_core::CreateKybSession::new(company, Country::Bra).partner(partner);
    let kyb_request = build_request(&config, &kyb, Some(&token), Some(&key)).unwrap();
    shown.push(format!("{kyb:?} {kyb_request:?}"));
    let additional = kyc_core::CreateAdditionalSession::new("cmp-1", "usr-1", Country::Bra)
        .personal_data(create.personal_data.clone().unwrap());
    shown.push(format!("{additional:?}"));
    let kyb_report = parse_response::<GetReport, _>(&response(
        200,
        &json!({"data": {"id": "iss-1",
            "company_data": {"id_fiscal": "MARKER-DOCNUMBER", "trade_name": "MARKER-NAME",
                "legal_name": "MARKER-NAME", "email": "MARKER-FREE", "registration_date": "MARKER-FREE",
                "juridic_nature": {"code": "2135", "description": "d"},
                "address": {"street_name": "MARKER-FREE", "building_number": 7, "city": "MARKER-FREE"},
                "economic_activity": [{"code": "1", "type": "primary"}], "note": "MARKER-FREE"},
            "documentation_request": [{"operator_id": "op-1", "reason": "MARKER-REASON"}],
            "documentation_proof": [{"url": "https://x/MARKER-URL", "file_name": "MARKER-FILENAME.pdf", "size": 0.5}],
            "partners": [{"id": "iss-2", "document_data": {"procedure_number": "MARKER-DOCNUMBER",
                "date_of_issue": "MARKER-FREE"}, "person_data": {"id_fiscal": "MARKER-DOCNUMBER", "name": "MARKER-NAME"}}]}}),
    ))
    .unwrap();
    shown.push(format!("{kyb_report:?}"));
    assert!(kyb_report.is_kyb());

    // Webhook deliveries.
    for body in [
        json!({"event_type": "identity.session.status_changed", "data": {"session_id": "iss-1", "status": "NOT_VALIDATED", "reason": "MARKER-REASON", "name": "MARKER-NAME"}}),
        json!({"event_type": "identity.session.required_file", "data": {"session_id": "iss-1", "required_documents": ["selfie"], "reason": "MARKER-REASON"}}),
        json!({"something": "MARKER-FREE"}),
    ] {
        shown.push(format!("{:?}", Event::from_json(body.clone())));
    }
    let keys = WebhookKeys::new().with(
        "k",
        WebhookSecret::from_base64("uC8fVXzXMyaw1PseV452i6ozQwIIa4olcSpjuvn5E4E=").unwrap(),
    );
    shown.push(format!("{keys:?}"));

    let all = shown.join("\n");
    for marker in MARKERS {
        assert!(!all.contains(marker), "{marker} shown in:\n{all}");
    }
    // What stays visible.
    for visible in [
        "iss-1",
        "usr-1",
        "NotValidated",
        "fil-1",
        "req-1",
        "cmp-1",
        "op-1",
        "iss-2",
    ] {
        assert!(all.contains(visible), "{visible} hidden");
    }
}
