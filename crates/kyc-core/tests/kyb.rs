//! KYB (issue #15): Pomelo's documented create body (reference §9.1) built from the typed
//! model, its documented report (§9.5) read into it, and both tolerant of what Pomelo does not
//! promise.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use kyc_core::kyb::CodeDescription;
use kyc_core::{
    Address, Company, Config, Country, CreateAdditionalSession, CreateKybSession, Environment,
    GetReport, IdempotencyKey, Partner, PartnerType, PersonalData, Pii, Report, Scalar, TermsData,
    build_request, parse_response,
};
use serde_json::{Value, json};

fn data(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// Pomelo's documented create example, built member by member from the typed model.
fn documented_create() -> CreateKybSession {
    let mut company = Company::new("cmp-2HPUYx0n9USSNwSkP5G0gY1I2TO");
    company.is_mei = Some(true);
    company.fiscal_id = Some(Pii::new("29.086.892/0001-77"));
    company.annual_income = Some(2000.into());
    company.legal_nature = Some(Scalar::from(2135));

    let mut address = Address::default();
    address.street_name = Some("Av. Corrientes".into());
    address.street_number = Some(Scalar::from(300));
    address.complement = Some("A".into());
    address.zip_code = Some("12345-678".into());
    address.neighborhood = Some("Villa Crespo".into());
    let mut person = PersonalData::default();
    person.fiscal_id = Some(Pii::new("123.456.789-10"));
    person.full_name = Some(Pii::new("Diego Pomelo"));
    person.birthdate = Some(Pii::new("1998-08-20"));
    person.nationality = Some("BRA".into());
    person.mother_name = Some(Pii::new("Maria Pomelo"));
    person.phone = Some(Pii::new("+55 11 97487 2510"));
    person.address = Some(address);
    let mut partner = Partner::new(
        "usr-2HPUYx0n9USSNwSkP5G0gY1I2TO",
        PartnerType::LegalRepresentativeMain,
    )
    .person(person);
    partner.company_relationship = vec!["CompanyName".into()];
    partner.corporate_participation = vec!["example_value".into()];
    partner.pep = Some(false);
    partner.salary = Some(48000.into());

    CreateKybSession::new(company, Country::Bra)
        .partner(partner)
        .terms_data(TermsData::accepted("1", "2022-05-13T19:47:13.340Z"))
}

#[test]
fn the_typed_build_of_the_documented_create_sends_the_documented_body() {
    let documented = data("requests/documented_create_kyb.json")["body"].clone();
    let config = Config::new(Environment::Sandbox).unwrap();
    let token = kyc_core::AccessToken::new("t");
    let key = IdempotencyKey::from_random_bytes([7; 16]);
    let request = build_request(&config, &documented_create(), Some(&token), Some(&key)).unwrap();
    assert_eq!(request.method(), http::Method::POST);
    assert_eq!(request.uri().path(), "/identity/v2/sessions");
    assert!(request.headers().contains_key("x-idempotency-key"));
    let sent: Value = serde_json::from_slice(&request.into_body().into_bytes()).unwrap();
    assert_eq!(sent, documented);

    // The same body read back into the model and written again is unchanged.
    let read: CreateKybSession = serde_json::from_value(documented.clone()).unwrap();
    assert_eq!(read, documented_create());
    assert_eq!(serde_json::to_value(&read).unwrap(), documented);
}

#[test]
fn members_the_model_does_not_know_are_sent_as_given() {
    let mut create = documented_create();
    create
        .company
        .extra
        .0
        .insert("trade_name".into(), json!("Pomelo"));
    create.partners[0]
        .person
        .extra
        .0
        .insert("email".into(), json!("diego@pomelo.la"));
    let body = serde_json::to_value(&create).unwrap();
    assert_eq!(body["data"]["company"]["trade_name"], "Pomelo");
    assert_eq!(body["data"]["partners"][0]["email"], "diego@pomelo.la");
    let back: CreateKybSession = serde_json::from_value(body).unwrap();
    assert_eq!(back, create);
}

#[test]
fn the_additional_session_sends_company_user_and_personal_data() {
    let mut person = PersonalData::default();
    person.full_name = Some(Pii::new("Ana Souza"));
    let create = CreateAdditionalSession::new(
        "cmp-f3d23x0n9USSNwSkP5G0gY1I2TO",
        "usr-2HPUYx0n9USSNwSkP5G0gY1I2TO",
        Country::Bra,
    )
    .personal_data(person);
    assert_eq!(
        serde_json::to_value(&create).unwrap(),
        json!({
            "flow_type": "kyb-cards-additional", "country": "BRA", "integration_method": "API",
            "data": {"company_id": "cmp-f3d23x0n9USSNwSkP5G0gY1I2TO",
                     "user_id": "usr-2HPUYx0n9USSNwSkP5G0gY1I2TO",
                     "personal_data": {"full_name": "Ana Souza"}}
        })
    );
}

fn report_response(body: &Value) -> http::Response<Vec<u8>> {
    http::Response::builder()
        .status(200)
        .body(serde_json::to_vec(body).unwrap())
        .unwrap()
}

#[test]
fn the_documented_report_reads_into_the_typed_kyb_members() {
    let body = data("responses/documented_kyb_report.json")["body"].clone();
    let report: Report = parse_response::<GetReport, _>(&report_response(&body)).unwrap();
    assert!(report.is_kyb());
    assert!(report.extra.is_empty(), "{:?}", report.extra);
    let company = report.company_data.as_ref().unwrap();
    assert_eq!(company.is_mei, Some(true));
    assert_eq!(
        company.registration_date.as_ref().and_then(|d| d.date()),
        Some(kyc_core::jiff::civil::date(2019, 2, 4))
    );
    assert_eq!(
        company.id_fiscal.as_ref().and_then(Scalar::as_str),
        Some("29.086.892/0001-77")
    );
    let nature: &CodeDescription = company.juridic_nature.as_ref().unwrap();
    assert_eq!(
        nature.code.as_ref().map(ToString::to_string).as_deref(),
        Some("2135")
    );
    let address = company.address.as_ref().unwrap();
    assert_eq!(
        address.city.as_ref().and_then(Scalar::as_str),
        Some("São Paulo")
    );
    assert_eq!(
        company.economic_activity[0].activity_type.as_deref(),
        Some("primary")
    );
    assert!(company.extra.is_empty() && address.extra.is_empty());

    let request = &report.documentation_request[0];
    assert_eq!(request.operator_id.as_deref(), Some("op-1"));
    assert!(request.request_date.as_ref().unwrap().instant().is_some());
    let proof = &report.documentation_proof[0];
    assert_eq!(
        proof.size.as_ref().and_then(kyc_core::Number::as_f64),
        Some(0.00085)
    );
    assert_eq!(proof.valid, Some(true));
    assert_eq!(proof.file_name.as_deref(), Some("Untitled_document.pdf"));
    let partner = &report.partners[0];
    let document = partner.document_data.as_ref().unwrap();
    assert_eq!(
        document.date_of_expiry.as_ref().and_then(|d| d.date()),
        Some(kyc_core::jiff::civil::date(2025, 3, 1))
    );
    assert_eq!(
        partner
            .person_data
            .as_ref()
            .unwrap()
            .id_fiscal
            .as_ref()
            .and_then(Scalar::as_str),
        Some("123.456.789-10")
    );
    // Written back, the report is the body it was read from.
    assert_eq!(serde_json::to_value(&report).unwrap(), body["data"]);
}

#[test]
fn an_individuals_report_is_not_kyb_and_keeps_its_members() {
    // Issue #28: a person's report types the members the wire conventions fix (it kept them all
    // in `extra` before); what it does not type stays in `extra`, as received.
    let body = json!({"data": {"id": "iss-1", "status": "NOT_VALIDATED", "user_id": "usr-1",
        "reason": "document expired",
        "personal_data": {"first_name": "Ana", "full_name": "Ana Souza", "nationality": "BRA"},
        "steps": [{"name": "ocr", "status": "FAILED"}],
        "files": [{"id": "fil-1", "type_document": "selfie", "size": 12}],
        "checks": {"score": 3}}});
    let report = parse_response::<GetReport, _>(&report_response(&body)).unwrap();
    assert!(!report.is_kyb());
    assert_eq!(report.user_id.as_deref(), Some("usr-1"));
    assert_eq!(report.reason.as_deref(), Some("document expired"));
    let personal = report.personal_data.as_ref().unwrap();
    assert_eq!(
        personal.full_name.as_ref().unwrap().expose_secret(),
        "Ana Souza"
    );
    assert_eq!(personal.nationality.as_deref(), Some("BRA"));
    assert!(personal.extra.get("first_name").is_some());
    assert_eq!(report.steps.len(), 1);
    assert_eq!(report.files.first().and_then(|f| f.size_bytes()), Some(12));
    assert!(report.extra.get("checks").is_some());
    assert_eq!(serde_json::to_value(&report).unwrap(), body["data"]);
    // A member of another shape than the one typed stays in `extra`, the report still reads.
    let odd = json!({"data": {"id": "iss-1", "steps": {"ocr": "FAILED"}, "personal_data": 7}});
    let report = parse_response::<GetReport, _>(&report_response(&odd)).unwrap();
    assert!(report.steps.is_empty() && report.personal_data.is_none());
    assert_eq!(serde_json::to_value(&report).unwrap(), odd["data"]);
}

/// Every path into a JSON value, as object keys and array indices.
fn paths(value: &Value, prefix: &mut Vec<Value>, out: &mut Vec<Vec<Value>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                prefix.push(json!(k));
                out.push(prefix.clone());
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prefix.push(json!(i));
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// Applies `f` to the parent of `path` and the last step.
fn at(
    value: &mut Value,
    path: &[Value],
    f: impl FnOnce(&mut serde_json::Map<String, Value>, &str),
) {
    let (last, parents) = path.split_last().unwrap();
    let mut node = value;
    for step in parents {
        node = match step {
            Value::String(k) => &mut node[k.as_str()],
            Value::Number(i) => &mut node[i.as_u64().unwrap() as usize],
            _ => unreachable!(),
        };
    }
    f(node.as_object_mut().unwrap(), last.as_str().unwrap());
}

#[test]
fn every_member_of_the_documented_report_but_the_id_may_be_null_absent_or_any_number() {
    let body = data("responses/documented_kyb_report.json")["body"].clone();
    let mut all = Vec::new();
    paths(&body["data"], &mut Vec::new(), &mut all);
    assert!(all.len() > 40, "{} paths", all.len());
    for path in all.iter().filter(|p| p.as_slice() != [json!("id")]) {
        for change in ["null", "absent", "number"] {
            let mut data = body["data"].clone();
            let mut applies = true;
            at(&mut data, path, |parent, key| match change {
                "null" => {
                    parent.insert(key.to_owned(), Value::Null);
                }
                "absent" => {
                    parent.remove(key);
                }
                _ => {
                    // A number where the example has a string or a number: every member whose
                    // example is a scalar other than a bool or a name accepts one.
                    let keep = matches!(parent.get(key), Some(Value::String(_) | Value::Number(_)))
                        && !matches!(
                            key,
                            "trade_name"
                                | "legal_name"
                                | "email"
                                | "description"
                                | "url"
                                | "file_name"
                                | "operator_id"
                                | "reason"
                                | "type"
                                | "id"
                        );
                    applies = keep;
                    if keep {
                        parent.insert(key.to_owned(), json!(0.5));
                    }
                }
            });
            if !applies {
                continue;
            }
            let result = parse_response::<GetReport, _>(&report_response(&json!({ "data": data })));
            assert!(result.is_ok(), "{change} at {path:?}: {result:?}");
        }
    }
    // The id is what a report cannot do without.
    let mut data = body["data"].clone();
    data.as_object_mut().unwrap().remove("id");
    assert!(parse_response::<GetReport, _>(&report_response(&json!({ "data": data }))).is_err());
}

#[test]
fn a_kyb_member_of_another_shape_stays_in_extra_and_the_report_still_reads() {
    let body = data("responses/documented_kyb_report.json")["body"].clone();
    for (pointer, value) in [
        ("/data/documentation_proof/0/size", json!("0.00085")),
        ("/data/documentation_request/0/operator_id", json!(12)),
        ("/data/company_data/is_mei", json!("N")),
        ("/data/company_data/economic_activity", json!({"code": "1"})),
        ("/data/partners", json!({"id": "iss-1"})),
    ] {
        let mut changed = body.clone();
        *changed.pointer_mut(pointer).unwrap() = value;
        let report = parse_response::<GetReport, _>(&report_response(&changed))
            .unwrap_or_else(|e| panic!("{pointer}: {e}"));
        let member = pointer.split('/').nth(2).unwrap();
        assert!(
            report.extra.get(member).is_some(),
            "{pointer}: kept in extra"
        );
        // Nothing lost: written back, the report is what was received.
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            changed["data"],
            "{pointer}"
        );
    }
    // `null` entries of a list are skipped; an address member of any JSON type reads.
    let mut changed = body.clone();
    changed["data"]["documentation_proof"]
        .as_array_mut()
        .unwrap()
        .push(Value::Null);
    changed["data"]["company_data"]["address"]["state"] = json!(false);
    let report = parse_response::<GetReport, _>(&report_response(&changed)).unwrap();
    assert_eq!(report.documentation_proof.len(), 1);
    let address = report.company_data.unwrap().address.unwrap();
    assert_eq!(address.state, Some(Scalar::Other(json!(false))));
}
