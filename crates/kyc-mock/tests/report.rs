//! A person's report (issue #28): what the create carried (`personal_data` exactly as sent,
//! `user_id`) and where the session stands (`status`, `reason`, `steps`, `files`), member for
//! member as docs/wire-conventions.md's Report line says.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)] // tests: panics are failures

mod common;

use std::collections::BTreeSet;

use common::{Client, instant_server};
use serde_json::{Value, json};

/// Creates a KYC session for `user_id` with `data.personal_data` (when given); its id.
fn create(client: &Client, token: &str, user_id: &str, personal_data: Option<Value>) -> String {
    let mut body = json!({
        "flow_type": "kyc-cards", "country": "ARG", "integration_method": "API",
        "data": {"user_id": user_id, "terms_data": {"version": "3", "accept": true}},
    });
    if let Some(personal_data) = personal_data {
        body["data"]["personal_data"] = personal_data;
    }
    let reply = client.post_json("/identity/v2/sessions", Some(token), &body);
    assert_eq!(
        reply.status,
        201,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["data"]["id"].as_str().unwrap().to_owned()
}

fn report(client: &Client, token: &str, id: &str) -> Value {
    let reply = client.get(&format!("/identity/v1/sessions/{id}/report"), token);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    reply.json()["data"].clone()
}

fn members(value: &Value) -> BTreeSet<&str> {
    value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// The report agrees with the session object on everything they share.
fn assert_follows_the_session(report: &Value, session: &Value) {
    for member in ["id", "user_id", "status", "reason", "steps", "files"] {
        assert_eq!(report[member], session[member], "{member}");
    }
}

#[test]
fn a_persons_report_carries_the_personal_data_the_create_sent() {
    let server = instant_server();
    let client = Client::new(&server);
    let token = client.token(&server);
    let personal_data = json!({
        "first_name": "Diego", "last_name": "Pomelo", "document_number": "30111222",
        "birthdate": "1998-08-20", "nationality": "ARG",
        "address": {"street_name": "Av. Corrientes", "street_number": 300, "floor": null},
        "phones": ["+54 11 5555 0000"], "pep": false, "salary": 48000.5,
        "a_member_pomelo_does_not_document": {"kept": true}
    });
    let id = create(&client, &token, "usr-report", Some(personal_data.clone()));

    // Before any document: the form and the terms are done, the rest waits.
    let early = report(&client, &token, &id);
    assert_eq!(
        members(&early),
        BTreeSet::from([
            "id",
            "user_id",
            "status",
            "reason",
            "personal_data",
            "steps",
            "files"
        ])
    );
    assert_eq!(early["personal_data"], personal_data);
    assert_eq!(early["user_id"], "usr-report");
    assert_eq!(early["status"], "IN_PROGRESS");
    assert_eq!(early["files"], json!([]));
    assert_follows_the_session(&early, &client.session(&token, &id));

    client.upload_all(&token, &id, "usr-report");
    let done = report(&client, &token, &id);
    assert_eq!(done["personal_data"], personal_data);
    assert_eq!(done["status"], "VALIDATED");
    assert_eq!(done["reason"], Value::Null);
    let documents: Vec<&str> = done["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["type_document"].as_str().unwrap())
        .collect();
    assert_eq!(
        documents,
        ["selfie", "identity-card-front", "identity-card-back"]
    );
    assert_follows_the_session(&done, &client.session(&token, &id));
}

#[test]
fn a_rejected_persons_report_says_why_and_which_step_failed() {
    let server = instant_server();
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = create(
        &client,
        &token,
        "usr-not-validated",
        Some(json!({"first_name": "Ana"})),
    );
    client.upload_all(&token, &id, "usr-not-validated");
    let report = report(&client, &token, &id);
    assert_eq!(report["status"], "NOT_VALIDATED");
    assert_eq!(report["reason"], "DOCUMENT_MISMATCH");
    let failed: Vec<&str> = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["status"] == "FAILED")
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["selfie_document_match"]);
    assert_eq!(report["personal_data"], json!({"first_name": "Ana"}));
    assert_follows_the_session(&report, &client.session(&token, &id));
}

#[test]
fn without_personal_data_the_report_has_an_empty_object() {
    let server = instant_server();
    let client = Client::new(&server);
    let token = client.token(&server);
    let id = create(&client, &token, "usr-bare", None);
    let report = report(&client, &token, &id);
    assert_eq!(report["personal_data"], json!({}));
    assert_eq!(report["user_id"], "usr-bare");
    // The form step waits for the data the create did not bring.
    let form = report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "form_completed")
        .unwrap();
    assert_eq!(form["status"], "PENDING");
}
