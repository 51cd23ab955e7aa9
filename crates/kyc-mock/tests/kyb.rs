//! KYB over real HTTP (issue #15): the strict create, company and partner uploads, the outcome
//! rule read from the company id, the signed webhook, the report in the shape of Pomelo's
//! documented example, and the additional (employee) session of a validated company.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: panics are failures

mod common;

use std::time::Duration;

use common::{Client, JPEG, PDF, Receiver, instant_server};
use kyc_mock::{MockConfig, MockServer};
use serde_json::{Value, json};

const PARTNER: &str = "usr-2HPUYx0n9USSNwSkP5G0gY1I2TO";

/// Pomelo's documented KYB create body (reference §9.1) for `company`.
fn kyb_body(company: &str) -> Value {
    json!({
        "flow_type": "kyb-cards", "country": "BRA", "integration_method": "API",
        "data": {
            "company": {"id": company, "is_mei": true, "fiscal_id": "29.086.892/0001-77",
                        "annual_income": 2000, "legal_nature": 2135},
            "partners": [{
                "id": PARTNER, "partner_type": "legal-representative-main",
                "company_relationship": ["CompanyName"], "corporate_participation": ["example_value"],
                "fiscal_id": "123.456.789-10", "full_name": "Diego Pomelo", "birthdate": "1998-08-20",
                "nationality": "BRA", "mother_name": "Maria Pomelo", "phone": "+55 11 97487 2510",
                "pep": false, "salary": 48000,
                "address": {"street_name": "Av. Corrientes", "street_number": 300, "complement": "A",
                            "zip_code": "12345-678", "neighborhood": "Villa Crespo"}
            }],
            "terms_data": {"version": "1", "accept": true, "date": "2022-05-13T19:47:13.340Z"}
        }
    })
}

fn create(client: &Client, token: &str, body: &Value) -> String {
    let reply = client.post_json("/identity/v2/sessions", Some(token), body);
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let data = &reply.json()["data"];
    assert!(data.get("url").is_none(), "KYB answers no url: {data}");
    data["id"].as_str().unwrap().to_owned()
}

fn upload(client: &Client, token: &str, session: &str, entity: &str, doc: &str) -> u16 {
    let (name, kind, data) = if doc == "company-document" {
        ("Untitled_document.pdf", "application/pdf", PDF)
    } else {
        ("doc.jpg", "image/jpeg", JPEG)
    };
    client
        .upload(token, session, entity, doc, name, kind, data)
        .status
}

fn upload_partner(client: &Client, token: &str, session: &str) {
    for doc in ["selfie", "identity-card-front", "identity-card-back"] {
        assert_eq!(upload(client, token, session, PARTNER, doc), 201, "{doc}");
    }
}

#[test]
fn a_kyb_session_validates_once_the_company_and_every_partner_are_documented() {
    let receiver = Receiver::start();
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .webhook_url(receiver.url("/hooks")),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let company = "cmp-2HPUYx0n9USSNwSkP5G0gY1I2TO";
    let id = create(&client, &token, &kyb_body(company));

    // The company's entity takes only its document; a partner's only a person's documents.
    assert_eq!(upload(&client, &token, &id, company, "selfie"), 400);
    assert_eq!(
        upload(&client, &token, &id, PARTNER, "company-document"),
        400
    );
    assert_eq!(upload(&client, &token, &id, "usr-stranger", "selfie"), 400);
    assert_eq!(
        upload(&client, &token, &id, company, "company-document"),
        201
    );
    assert_eq!(client.session(&token, &id)["status"], "IN_PROGRESS");
    upload_partner(&client, &token, &id);

    let session = client.session(&token, &id);
    assert_eq!(session["status"], "VALIDATED");
    assert_eq!(session["company_id"], company);
    assert!(session.get("user_id").is_none(), "{session}");
    assert_eq!(session["files"].as_array().unwrap().len(), 4);
    let hooks = receiver.wait_for(1);
    let event = hooks[0].json();
    assert_eq!(event["data"]["status"], "VALIDATED");
    assert_eq!(event["data"]["company_id"], company);
    assert_eq!(event["data"]["flow_type"], "kyb-cards");

    // The report has exactly the members of Pomelo's documented example, and the status.
    let report = client.get(&format!("/identity/v1/sessions/{id}/report"), &token);
    assert_eq!(report.status, 200);
    let data = &report.json()["data"];
    let mut members: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    members.sort_unstable();
    assert_eq!(
        members,
        [
            "company_data",
            "documentation_proof",
            "documentation_request",
            "id",
            "partners",
            "reason",
            "status"
        ]
    );
    let company_data = &data["company_data"];
    for member in [
        "is_mei",
        "registration_date",
        "id_fiscal",
        "trade_name",
        "legal_name",
        "juridic_nature",
        "email",
        "address",
        "economic_activity",
    ] {
        assert!(
            company_data.get(member).is_some(),
            "company_data.{member}: {company_data}"
        );
    }
    assert_eq!(company_data["id_fiscal"], "29.086.892/0001-77");
    assert_eq!(company_data["juridic_nature"]["code"], "2135");
    assert_eq!(company_data["address"]["building_number"], 300);
    assert_eq!(company_data["economic_activity"][0]["type"], "primary");
    let proof = &data["documentation_proof"][0];
    assert_eq!(proof["file_name"], "Untitled_document.pdf");
    assert_eq!(proof["valid"], true);
    let size = proof["size"].as_f64().unwrap();
    assert!(size > 0.0 && size < 0.001, "megabytes, fractional: {size}");
    assert_eq!(data["documentation_proof"].as_array().unwrap().len(), 1);
    assert_eq!(data["documentation_request"], json!([]));
    let partner = &data["partners"][0];
    assert_eq!(partner["id"], PARTNER);
    assert_eq!(partner["person_data"]["id_fiscal"], "123.456.789-10");
    let document = &partner["document_data"];
    assert_eq!(document["date_of_issue"].as_str().unwrap().len(), 10);
    assert!(document["procedure_number"].is_string());
}

#[test]
fn needs_file_on_the_company_asks_for_its_document_and_records_the_request() {
    let receiver = Receiver::start();
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .webhook_url(receiver.url("/status"))
            .required_file_webhook_url(receiver.url("/required")),
    )
    .unwrap();
    let client = Client::new(&server);
    let token = client.token(&server);
    let company = "cmp-needs-file-1";
    let id = create(&client, &token, &kyb_body(company));
    assert_eq!(
        upload(&client, &token, &id, company, "company-document"),
        201
    );
    upload_partner(&client, &token, &id);
    let hooks = receiver.wait_for(1);
    let required = hooks[0].json();
    assert_eq!(required["event_type"], "identity.session.required_file");
    assert_eq!(required["data"]["entity_id"], company);
    assert_eq!(
        required["data"]["required_documents"],
        json!(["company-document"])
    );
    assert_eq!(client.session(&token, &id)["status"], "IN_PROGRESS");

    assert_eq!(
        upload(&client, &token, &id, company, "company-document"),
        201
    );
    let hooks = receiver.wait_for(2);
    assert_eq!(hooks[1].json()["data"]["status"], "VALIDATED");
    let report = client
        .get(&format!("/identity/v1/sessions/{id}/report"), &token)
        .json();
    let requests = report["data"]["documentation_request"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0]["reason"], "ILLEGIBLE_DOCUMENT");
    assert!(requests[0]["request_date"].is_string());
}

#[test]
fn the_kyb_create_is_checked_strictly() {
    let server = instant_server();
    let client = Client::new(&server);
    let token = client.token(&server);
    let mut cases = Vec::new();
    for (pointer, value) in [
        ("/country", json!("CHL")),
        ("/integration_method", json!("WEB")),
        ("/data/company/is_mei", json!("true")),
        ("/data/company/fiscal_id", json!(29086892)),
        ("/data/partners", json!([])),
        ("/data/partners/0/birthdate", json!("20/08/1998")),
        ("/data/partners/0/salary", json!("48000")),
        ("/data/partners/0/id", json!("cmp-1")),
        ("/data/terms_data", json!(null)),
    ] {
        let mut body = kyb_body("cmp-1");
        *body.pointer_mut(pointer).unwrap() = value;
        cases.push((pointer, body));
    }
    let mut no_company = kyb_body("cmp-1");
    no_company["data"]
        .as_object_mut()
        .unwrap()
        .remove("company");
    cases.push(("no company", no_company));
    let mut with_user = kyb_body("cmp-1");
    with_user["data"]["user_id"] = json!("usr-1");
    cases.push(("a KYC member", with_user));
    for (what, body) in cases {
        let reply = client.post_json("/identity/v2/sessions", Some(&token), &body);
        assert_eq!(
            reply.status,
            400,
            "{what}: {}",
            String::from_utf8_lossy(&reply.body)
        );
        assert_eq!(reply.error_code(), "invalid_body", "{what}");
    }
    // Members Pomelo's example does not show are kept, not refused.
    let mut more = kyb_body("cmp-2");
    more["data"]["company"]["trade_name"] = json!("Pomelo");
    more["data"]["partners"][0]["email"] = json!("diego@pomelo.la");
    create(&client, &token, &more);
}

#[test]
fn an_additional_session_needs_a_validated_company() {
    let server = instant_server();
    let client = Client::new(&server);
    let token = client.token(&server);
    let company = "cmp-f3d23x0n9USSNwSkP5G0gY1I2TO";
    let employee = json!({
        "flow_type": "kyb-cards-additional", "country": "BRA", "integration_method": "API",
        "data": {"company_id": company, "user_id": "usr-employee-1",
                 "personal_data": {"full_name": "Ana Souza"}}
    });
    let early = client.post_json("/identity/v2/sessions", Some(&token), &employee);
    assert_eq!(
        early.status,
        409,
        "{}",
        String::from_utf8_lossy(&early.body)
    );

    let kyb = create(&client, &token, &kyb_body(company));
    assert_eq!(
        upload(&client, &token, &kyb, company, "company-document"),
        201
    );
    upload_partner(&client, &token, &kyb);
    assert_eq!(client.session(&token, &kyb)["status"], "VALIDATED");

    let reply = client.post_json("/identity/v2/sessions", Some(&token), &employee);
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let id = reply.json()["data"]["id"].as_str().unwrap().to_owned();
    client.upload_all(&token, &id, "usr-employee-1");
    let session = client.session(&token, &id);
    assert_eq!(session["status"], "VALIDATED");
    assert_eq!(session["user_id"], "usr-employee-1");
    assert_eq!(session["company_id"], company);
    assert_eq!(session["flow_type"], "kyb-cards-additional");

    let mut bad = employee.clone();
    bad["data"].as_object_mut().unwrap().remove("company_id");
    assert_eq!(
        client
            .post_json("/identity/v2/sessions", Some(&token), &bad)
            .status,
        400
    );
}

#[test]
fn an_employees_report_has_both_ids_and_the_persons_data() {
    let server = instant_server();
    let client = Client::new(&server);
    let token = client.token(&server);
    let company = "cmp-r3p0rtx0n9USSNwSkP5G0gY1I2TO";
    let kyb = create(&client, &token, &kyb_body(company));
    assert_eq!(
        upload(&client, &token, &kyb, company, "company-document"),
        201
    );
    upload_partner(&client, &token, &kyb);
    let personal_data = json!({"full_name": "Ana Souza", "document_number": "123.456.789-10"});
    let employee = json!({
        "flow_type": "kyb-cards-additional", "country": "BRA", "integration_method": "API",
        "data": {"company_id": company, "user_id": "usr-employee-2", "personal_data": personal_data}
    });
    let reply = client.post_json("/identity/v2/sessions", Some(&token), &employee);
    assert_eq!(reply.status, 201);
    let id = reply.json()["data"]["id"].as_str().unwrap().to_owned();
    client.upload_all(&token, &id, "usr-employee-2");
    let report = client.get(&format!("/identity/v1/sessions/{id}/report"), &token);
    assert_eq!(report.status, 200);
    let data = &report.json()["data"];
    assert_eq!(data["user_id"], "usr-employee-2");
    assert_eq!(data["company_id"], company);
    assert_eq!(data["personal_data"], personal_data);
    assert_eq!(data["status"], "VALIDATED");
    // A person's report, not a company's.
    assert!(data.get("company_data").is_none(), "{data}");
}
