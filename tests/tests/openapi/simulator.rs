//! The simulator's answers are what the document says they are: for each request of a flow
//! through every operation (people, companies, employees; successes and refusals), the status is
//! one the operation documents, and the body and headers fit that response's description, member
//! for member (strictly: no member the document does not name, no value an open set does not
//! list). Its webhooks fit the document's `webhooks`.

use std::collections::BTreeSet;
use std::time::Duration;

use http::HeaderMap;
use kyc_mock::{MockConfig, MockServer};
use serde_json::{Value, json};

use crate::schema::Validator;
use crate::{document, find_operation};

const JPEG: &[u8] = b"\xFF\xD8\xFF\xE0 a tiny JPEG";
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n a tiny PNG";
const PDF: &[u8] = b"%PDF-1.4 a tiny PDF";

pub(crate) fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

/// An answer as it came.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Vec<u8>,
}

/// Sends requests to one simulator and checks every answer against the document.
struct Checker {
    doc: Value,
    agent: ureq::Agent,
    base: String,
    token: String,
    /// `operationId status` of every answer checked.
    seen: BTreeSet<String>,
    problems: Vec<String>,
}

/// A request body: none, JSON, or any bytes with their content type.
enum Body<'a> {
    None,
    Json(Value),
    Raw(&'a str, Vec<u8>),
}

impl Checker {
    fn new(server: &MockServer) -> Self {
        Self {
            doc: document(),
            agent: agent(),
            base: server.base_url().to_owned(),
            token: String::new(),
            seen: BTreeSet::new(),
            problems: Vec::new(),
        }
    }

    fn credentials(server: &MockServer) -> Value {
        json!({"client_id": server.client_id(), "client_secret": server.client_secret(),
               "audience": server.audience(), "grant_type": "client_credentials"})
    }

    /// Sends `method path` (with the bearer token when `auth`), checks the answer, and returns
    /// its status and JSON body.
    fn send(&mut self, method: &str, path: &str, body: Body<'_>, auth: bool) -> (u16, Value) {
        self.send_with(method, path, body, auth, &[])
    }

    fn send_with(
        &mut self,
        method: &str,
        path: &str,
        body: Body<'_>,
        auth: bool,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if auth {
            request = request.header("authorization", format!("Bearer {}", self.token));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = match body {
            Body::None => self.agent.run(request.body(()).unwrap()),
            Body::Json(value) => self.agent.run(
                request
                    .header("content-type", "application/json")
                    .body(value.to_string().into_bytes())
                    .unwrap(),
            ),
            Body::Raw(content_type, bytes) => self.agent.run(
                request
                    .header("content-type", content_type)
                    .body(bytes)
                    .unwrap(),
            ),
        };
        let mut response = response.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let answer = Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.body_mut().read_to_vec().unwrap(),
        };
        let json = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
        let problems = self.problems_of(method, path, &answer);
        self.problems.extend(
            problems
                .into_iter()
                .map(|p| format!("{method} {path} → {}: {p}", answer.status)),
        );
        (answer.status, json)
    }

    /// How `answer` departs from the document's description of `method path`.
    fn problems_of(&mut self, method: &str, path: &str, answer: &Answer) -> Vec<String> {
        let doc = &self.doc;
        let validator = Validator::strict(doc);
        let path = path.split('?').next().unwrap();
        let Some(found) = find_operation(doc, method, path) else {
            return vec!["no such operation".to_owned()];
        };
        let responses = &found.operation["responses"];
        let status = answer.status.to_string();
        let range = format!("{}XX", answer.status / 100);
        let Some(response) = [status.as_str(), range.as_str(), "default"]
            .iter()
            .find_map(|s| responses.get(*s))
        else {
            return vec![format!("status {status} is not documented")];
        };
        let response = validator.resolve(response);
        let id = found.operation["operationId"].as_str().unwrap();
        self.seen.insert(format!("{id} {status}"));
        let mut problems = Vec::new();
        for (name, header) in response["headers"].as_object().into_iter().flatten() {
            let header = validator.resolve(header);
            match answer.headers.get(name) {
                Some(value) => problems.extend(validator.errors(
                    &header["schema"],
                    &Value::String(value.to_str().unwrap().to_owned()),
                )),
                None if header["required"] == true => {
                    problems.push(format!("no {name} header"));
                }
                None => {}
            }
        }
        match response["content"].as_object() {
            None if answer.body.is_empty() => {}
            None => problems.push("a body where none is documented".to_owned()),
            Some(content) => {
                let content_type = answer
                    .headers
                    .get("content-type")
                    .map_or("", |v| v.to_str().unwrap());
                match content.get(content_type) {
                    None => {
                        problems.push(format!("content type `{content_type}` is not documented"))
                    }
                    Some(media) => match serde_json::from_slice::<Value>(&answer.body) {
                        Ok(body) => problems.extend(validator.errors(&media["schema"], &body)),
                        Err(e) => problems.push(format!("not JSON: {e}")),
                    },
                }
            }
        }
        problems
    }
}

/// A multipart body with one part `file`.
fn file(name: &str, content_type: &str, bytes: &[u8]) -> Body<'static> {
    let mut body = format!(
        "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: {content_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(b"\r\n--b0undary--\r\n");
    Body::Raw("multipart/form-data; boundary=b0undary", body)
}

fn upload_path(session: &str, entity: &str, document: &str) -> String {
    format!("/identity/v1/sessions/{session}/entities/{entity}/files/{document}")
}

/// Reads the session until `done` says it is (bounded), and returns its last state.
fn until(checker: &mut Checker, session: &str, done: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..500 {
        let (_, got) = checker.send(
            "GET",
            &format!("/identity/v1/sessions/{session}"),
            Body::None,
            true,
        );
        if done(&got["data"]) {
            return got["data"].clone();
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("session {session} did not get there");
}

/// A person's session in `country`, with its documents uploaded: its id.
fn person_with_documents(checker: &mut Checker, user: &str, country: &str) -> String {
    let (status, created) = checker.send(
        "POST",
        "/identity/v2/sessions",
        Body::Json(json!({"flow_type": "kyc-accounts", "country": country,
                          "integration_method": "API", "data": {"user_id": user}})),
        true,
    );
    assert_eq!(status, 201, "{created}");
    let id = created["data"]["id"].as_str().unwrap().to_owned();
    for (document, body) in [
        ("selfie", file("me.jpg", "image/jpeg", JPEG)),
        ("identity-card-front", file("front.png", "image/png", PNG)),
        (
            "identity-card-back",
            file("back.pdf", "application/pdf", PDF),
        ),
    ] {
        let (status, _) = checker.send("POST", &upload_path(&id, user, document), body, true);
        assert_eq!(status, 201);
    }
    id
}

fn final_status(session: &Value) -> bool {
    !matches!(
        session["status"].as_str(),
        Some("IN_PROGRESS" | "PROCESSING")
    )
}

#[test]
fn the_simulator_answers_every_operation_as_the_document_says() {
    // Webhooks go to a port nobody listens on: each delivery is tried once and logged whole.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let server = MockServer::start(
        MockConfig::new()
            .processing_delay(Duration::ZERO)
            .webhook_url(format!("http://{closed}/hooks/identity"))
            .webhook_max_attempts(1)
            .notify_processing(true),
    )
    .unwrap();
    let mut c = Checker::new(&server);
    let credentials = Checker::credentials(&server);

    // Tokens.
    let (status, grant) = c.send(
        "POST",
        "/oauth/token",
        Body::Json(credentials.clone()),
        false,
    );
    assert_eq!(status, 200);
    c.token = grant["access_token"].as_str().unwrap().to_owned();
    let mut wrong = credentials.clone();
    wrong["client_secret"] = "nope".into();
    assert_eq!(
        c.send("POST", "/oauth/token", Body::Json(wrong), false).0,
        401
    );
    let mut elsewhere = credentials.clone();
    elsewhere["audience"] = "https://example.com".into();
    assert_eq!(
        c.send("POST", "/oauth/token", Body::Json(elsewhere), false)
            .0,
        400
    );
    let text = Body::Raw("text/plain", credentials.to_string().into_bytes());
    assert_eq!(c.send("POST", "/oauth/token", text, false).0, 415);

    // A person: refusals, then a session that is validated.
    let kyc = json!({"flow_type": "kyc-accounts", "country": "ARG", "integration_method": "API",
                     "data": {"user_id": "usr-person-1",
                              "personal_data": {"full_name": "Ana Souza", "document_number": "30123456"},
                              "terms_data": {"version": "1", "accept": true, "date": "2022-05-13T19:47:13.340Z"}}});
    assert_eq!(
        c.send(
            "POST",
            "/identity/v2/sessions",
            Body::Json(kyc.clone()),
            false
        )
        .0,
        401
    );
    let mut broken = kyc.clone();
    broken["country"] = "ZZZ".into();
    assert_eq!(
        c.send("POST", "/identity/v2/sessions", Body::Json(broken), true)
            .0,
        400
    );
    let mut huge = kyc.clone();
    huge["data"]["personal_data"]["notes"] = "x".repeat(20_000).into();
    assert_eq!(
        c.send("POST", "/identity/v2/sessions", Body::Json(huge), true)
            .0,
        413
    );
    let key = [("x-idempotency-key", "person-1-create")];
    let (status, created) = c.send_with(
        "POST",
        "/identity/v2/sessions",
        Body::Json(kyc.clone()),
        true,
        &key,
    );
    assert_eq!(status, 201);
    let replayed = c.send_with(
        "POST",
        "/identity/v2/sessions",
        Body::Json(kyc.clone()),
        true,
        &key,
    );
    assert_eq!(replayed, (201, created.clone()));
    let mut other = kyc.clone();
    other["country"] = "BRA".into();
    assert_eq!(
        c.send_with(
            "POST",
            "/identity/v2/sessions",
            Body::Json(other),
            true,
            &key
        )
        .0,
        409
    );
    let person = created["data"]["id"].as_str().unwrap().to_owned();
    let session_path = format!("/identity/v1/sessions/{person}");
    assert_eq!(c.send("GET", &session_path, Body::None, true).0, 200);
    for (document, body) in [
        ("selfie", file("me.jpg", "image/jpeg", JPEG)),
        ("identity-card-front", file("front.png", "image/png", PNG)),
    ] {
        let path = upload_path(&person, "usr-person-1", document);
        assert_eq!(c.send("POST", &path, body, true).0, 201);
    }
    let wrong_entity = upload_path(&person, "usr-someone-else", "identity-card-back");
    assert_eq!(
        c.send(
            "POST",
            &wrong_entity,
            file("b.pdf", "application/pdf", PDF),
            true
        )
        .0,
        400
    );
    let not_in_arg = upload_path(&person, "usr-person-1", "driver-license-front");
    assert_eq!(
        c.send("POST", &not_in_arg, file("d.jpg", "image/jpeg", JPEG), true)
            .0,
        400
    );
    let back = upload_path(&person, "usr-person-1", "identity-card-back");
    let not_a_pdf = file("back.pdf", "application/pdf", JPEG);
    assert_eq!(c.send("POST", &back, not_a_pdf, true).0, 400);
    let not_multipart = Body::Raw("application/octet-stream", PDF.to_vec());
    assert_eq!(c.send("POST", &back, not_multipart, true).0, 415);
    let nowhere = upload_path("iss-nowhere", "usr-person-1", "identity-card-back");
    assert_eq!(
        c.send(
            "POST",
            &nowhere,
            file("b.pdf", "application/pdf", PDF),
            true
        )
        .0,
        404
    );
    assert_eq!(
        c.send("POST", &back, file("b.pdf", "application/pdf", PDF), true)
            .0,
        201
    );
    until(&mut c, &person, final_status);
    assert_eq!(
        c.send("POST", &back, file("b.pdf", "application/pdf", PDF), true)
            .0,
        409
    );
    assert_eq!(c.send("GET", &session_path, Body::None, true).0, 200);
    assert_eq!(
        c.send("GET", &format!("{session_path}?x=1"), Body::None, true)
            .0,
        400
    );
    assert_eq!(c.send("GET", &session_path, Body::None, false).0, 401);
    assert_eq!(
        c.send("GET", "/identity/v1/sessions/iss-nowhere", Body::None, true)
            .0,
        404
    );
    assert_eq!(
        c.send("GET", &format!("{session_path}/report"), Body::None, true)
            .0,
        200
    );
    assert_eq!(
        c.send(
            "GET",
            "/identity/v1/sessions/iss-nowhere/report",
            Body::None,
            true
        )
        .0,
        404
    );
    assert_eq!(c.send("DELETE", &session_path, Body::None, true).0, 409);

    // Asked for a file again, then validated; refused; cancelled.
    let again = person_with_documents(&mut c, "usr-needs-file-1", "BRA");
    until(&mut c, &again, |s| {
        !s["files"].as_array().unwrap().is_empty() && s["status"] == "IN_PROGRESS"
    });
    let back = upload_path(&again, "usr-needs-file-1", "identity-card-back");
    assert_eq!(
        c.send("POST", &back, file("b.png", "image/png", PNG), true)
            .0,
        201
    );
    until(&mut c, &again, final_status);
    let refused = person_with_documents(&mut c, "usr-not-validated-1", "ARG");
    let refused = until(&mut c, &refused, final_status);
    assert_eq!(refused["status"], "NOT_VALIDATED");
    let (_, waiting) = c.send(
        "POST",
        "/identity/v2/sessions",
        Body::Json(
            json!({"flow_type": "kyc-cards", "country": "CHL", "integration_method": "WEB",
                          "data": {"user_id": "usr-cancelled-1"}}),
        ),
        true,
    );
    let waiting = format!(
        "/identity/v1/sessions/{}",
        waiting["data"]["id"].as_str().unwrap()
    );
    assert_eq!(c.send("DELETE", &waiting, Body::None, true).0, 200);
    assert_eq!(
        c.send(
            "DELETE",
            "/identity/v1/sessions/iss-nowhere",
            Body::None,
            true
        )
        .0,
        404
    );

    // A company: Pomelo's documented example, its documents, its report; then an employee.
    let documented: Value = serde_json::from_str(include_str!(
        "../../../crates/kyc-core/tests/data/requests/documented_create_kyb.json"
    ))
    .unwrap();
    let kyb = documented["body"].clone();
    let company = kyb["data"]["company"]["id"].as_str().unwrap().to_owned();
    let partner = kyb["data"]["partners"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let employee = json!({"flow_type": "kyb-cards-additional", "country": "BRA",
                          "integration_method": "API",
                          "data": {"company_id": company, "user_id": "usr-employee-1"}});
    assert_eq!(
        c.send(
            "POST",
            "/identity/v2/sessions",
            Body::Json(employee.clone()),
            true
        )
        .0,
        409
    );
    let (status, created) = c.send(
        "POST",
        "/identity/v2/sessions",
        Body::Json(kyb.clone()),
        true,
    );
    assert_eq!(status, 201);
    let business = created["data"]["id"].as_str().unwrap().to_owned();
    let report = format!("/identity/v1/sessions/{business}/report");
    assert_eq!(c.send("GET", &report, Body::None, true).0, 200);
    let proof = upload_path(&business, &company, "company-document");
    assert_eq!(
        c.send(
            "POST",
            &proof,
            file("bylaws.pdf", "application/pdf", PDF),
            true
        )
        .0,
        201
    );
    for (document, body) in [
        ("selfie", file("me.jpg", "image/jpeg", JPEG)),
        ("identity-card-front", file("front.png", "image/png", PNG)),
        (
            "identity-card-back",
            file("back.pdf", "application/pdf", PDF),
        ),
    ] {
        let path = upload_path(&business, &partner, document);
        assert_eq!(c.send("POST", &path, body, true).0, 201);
    }
    until(&mut c, &business, final_status);
    assert_eq!(c.send("GET", &report, Body::None, true).0, 200);
    let (status, hired) = c.send("POST", "/identity/v2/sessions", Body::Json(employee), true);
    assert_eq!(status, 201);
    let hired = hired["data"]["id"].as_str().unwrap();
    assert_eq!(
        c.send(
            "GET",
            &format!("/identity/v1/sessions/{hired}/report"),
            Body::None,
            true
        )
        .0,
        200
    );
    // A company whose other members are not text: what the report repeats of them still fits.
    let mut odd = kyb.clone();
    odd["data"]["company"]["id"] = "cmp-odd-1".into();
    for (name, value) in [
        ("trade_name", json!(5)),
        ("legal_name", json!(["x"])),
        ("email", json!(false)),
        ("address", json!({"city": 7})),
    ] {
        odd["data"]["company"][name] = value;
    }
    odd["data"]["partners"][0]["id"] = "usr-odd-partner-1".into();
    let (status, created) = c.send("POST", "/identity/v2/sessions", Body::Json(odd), true);
    assert_eq!(status, 201);
    let odd_report = format!(
        "/identity/v1/sessions/{}/report",
        created["data"]["id"].as_str().unwrap()
    );
    assert_eq!(c.send("GET", &odd_report, Body::None, true).0, 200);

    // Search: every filter, sorting and paging; refusals.
    let search = "/identity/v1/sessions?filter[status]=VALIDATED,NOT_VALIDATED&filter[user_id]=usr-person-1,cmp-2HPUYx0n9USSNwSkP5G0gY1I2TO\
                  &filter[country]=ARG,BRA&filter[flow_type]=kyc-accounts,kyb-cards\
                  &filter[created_at][from]=2000-01-01&filter[created_at][to]=9999-12-31\
                  &sort=-updated_at,status&page[size]=2&page[number]=0";
    let (status, page) = c.send("GET", search, Body::None, true);
    assert_eq!(status, 200);
    assert_eq!(page["meta"]["pagination"]["total_items"], 2, "{page}");
    assert_eq!(
        c.send("GET", "/identity/v1/sessions", Body::None, true).0,
        200
    );
    assert_eq!(
        c.send(
            "GET",
            "/identity/v1/sessions?page[number]=99",
            Body::None,
            true
        )
        .0,
        200
    );
    assert_eq!(
        c.send(
            "GET",
            "/identity/v1/sessions?filter[status]=LOST",
            Body::None,
            true
        )
        .0,
        400
    );
    let too_far = "/identity/v1/sessions?page[number]=9007199254740992";
    assert_eq!(c.send("GET", too_far, Body::None, true).0, 400);
    assert_eq!(
        c.send("GET", "/identity/v1/sessions", Body::None, false).0,
        401
    );

    // Clean validations; revoke.
    let by_user = Body::Json(json!({"user_id": "usr-not-validated-1"}));
    assert_eq!(c.send("POST", "/clean_validations", by_user, true).0, 200);
    let by_document = Body::Json(json!({"document_number": "30123456"}));
    assert_eq!(
        c.send("POST", "/clean_validations", by_document, true).0,
        200
    );
    assert_eq!(
        c.send("POST", "/clean_validations", Body::Json(json!({})), true)
            .0,
        400
    );
    let mut stranger = credentials.clone();
    stranger["client_id"] = "someone-else".into();
    assert_eq!(
        c.send("POST", "/oauth/token/revoke", Body::Json(stranger), false)
            .0,
        401
    );
    assert_eq!(
        c.send(
            "POST",
            "/oauth/token/revoke",
            Body::Json(credentials),
            false
        )
        .0,
        200
    );
    assert_eq!(c.send("GET", &session_path, Body::None, true).0, 401);

    // Webhooks: every delivery fits the document's description of its notification.
    assert!(server.wait_for_settled_webhooks(Duration::from_secs(30)));
    let deliveries = server.webhook_deliveries();
    let doc = document();
    let validator = Validator::strict(&doc);
    let mut kinds = BTreeSet::new();
    for delivery in &deliveries {
        let body: Value = serde_json::from_slice(&delivery.body).unwrap();
        let webhook = doc["webhooks"]
            .as_object()
            .unwrap()
            .values()
            .map(|w| &w["post"])
            .find(|w| {
                let schema =
                    validator.resolve(&w["requestBody"]["content"]["application/json"]["schema"]);
                schema["properties"]["event_type"]["const"] == body["event_type"]
            })
            .unwrap_or_else(|| panic!("no webhook for {body}"));
        kinds.insert(webhook["operationId"].as_str().unwrap().to_owned());
        let schema = &webhook["requestBody"]["content"]["application/json"]["schema"];
        let what = format!("webhook {}", body["event_type"]);
        c.problems.extend(
            validator
                .errors(schema, &body)
                .into_iter()
                .map(|p| format!("{what}: {p}")),
        );
        let sent = &delivery.attempts[0].headers;
        for header in webhook["parameters"].as_array().unwrap() {
            let name = header["name"].as_str().unwrap();
            match sent.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
                Some((_, value)) => c.problems.extend(
                    validator
                        .errors(&header["schema"], &Value::String(value.clone()))
                        .into_iter()
                        .map(|p| format!("{what} {name}: {p}")),
                ),
                None => c.problems.push(format!("{what}: no {name}")),
            }
        }
    }
    assert_eq!(kinds.len(), 2, "both notifications were seen: {kinds:?}");
    assert!(deliveries.len() >= 8, "{} deliveries", deliveries.len());

    assert!(c.problems.is_empty(), "{}", c.problems.join("\n"));
    // Every operation answered its success and some refusal, each checked.
    let doc = document();
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item
            .as_object()
            .unwrap()
            .values()
            .filter(|o| o.get("operationId").is_some())
        {
            let id = operation["operationId"].as_str().unwrap();
            let statuses: Vec<&String> = c
                .seen
                .iter()
                .filter(|s| s.starts_with(&format!("{id} ")))
                .collect();
            assert!(
                statuses
                    .iter()
                    .any(|s| s.ends_with(" 200") || s.ends_with(" 201")),
                "{id}: {statuses:?}"
            );
            assert!(
                statuses.iter().any(|s| s.contains(" 4")),
                "{id}: {statuses:?}"
            );
        }
    }
}

#[test]
fn a_full_session_store_answers_as_documented() {
    let server = MockServer::start(MockConfig::new().max_sessions(1)).unwrap();
    let mut c = Checker::new(&server);
    let (_, grant) = c.send(
        "POST",
        "/oauth/token",
        Body::Json(Checker::credentials(&server)),
        false,
    );
    c.token = grant["access_token"].as_str().unwrap().to_owned();
    let create = json!({"flow_type": "kyc-accounts", "country": "ARG", "integration_method": "API",
                        "data": {"user_id": "usr-1"}});
    assert_eq!(
        c.send(
            "POST",
            "/identity/v2/sessions",
            Body::Json(create.clone()),
            true
        )
        .0,
        201
    );
    assert_eq!(
        c.send("POST", "/identity/v2/sessions", Body::Json(create), true)
            .0,
        507
    );
    assert!(c.problems.is_empty(), "{}", c.problems.join("\n"));
}
