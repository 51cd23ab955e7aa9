//! `kyc` and KYB (issue #15): a company's session from `--data` or `--company`/`--partners`,
//! the company's document and the partner's, the typed report, and an employee's session.

use serde_json::{Value, json};

use crate::support::{Sim, sample, temp_dir};

fn documented_data() -> Value {
    serde_json::from_slice(&std::fs::read(sample("kyb.json")).unwrap()).unwrap()
}

/// The bodies of the create requests the simulator received, in order.
fn creates(sim: &Sim) -> Vec<Value> {
    sim.server
        .requests()
        .into_iter()
        .filter(|r| r.path == "/identity/v2/sessions")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

const COMPANY: &str = "cmp-2HPUYx0n9USSNwSkP5G0gY1I2TO";
const PARTNER: &str = "usr-2HPUYx0n9USSNwSkP5G0gY1I2TO";

fn upload(
    sim: &Sim,
    session: &str,
    entity: &str,
    doc: &str,
    file: &str,
    kyb: bool,
) -> crate::support::Run {
    let path = sample(file);
    let mut args = vec![
        "upload",
        "--session",
        session,
        "--entity",
        entity,
        "--type",
        doc,
        "--country",
        "BRA",
    ];
    if kyb {
        args.push("--kyb");
    }
    args.push(&path);
    sim.kyc(&args)
}

#[test]
fn a_kyb_session_from_data_runs_to_a_typed_report_and_an_employee_session() {
    let sim = Sim::start();
    let data = serde_json::to_vec(&documented_data()).unwrap();
    let created = sim
        .kyc_stdin(
            &[
                "session",
                "create",
                "--kyb",
                "--country",
                "BRA",
                "--data",
                "-",
            ],
            Some(&data),
        )
        .json();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(created.get("url").is_none(), "{created}");
    assert!(created["idempotency_key"].is_string());
    // What was sent is Pomelo's documented body.
    let body = creates(&sim).remove(0);
    assert_eq!(
        body,
        json!({"flow_type": "kyb-cards", "country": "BRA", "integration_method": "API",
               "data": documented_data()})
    );

    // The company's document only as KYB, refused before sending otherwise.
    let refused = upload(
        &sim,
        &id,
        COMPANY,
        "company-document",
        "company-document.pdf",
        false,
    );
    refused.failure("invalid_input", 2);
    let stored = upload(
        &sim,
        &id,
        COMPANY,
        "company-document",
        "company-document.pdf",
        true,
    )
    .json();
    assert_eq!(stored["type_document"], "company-document");
    assert_eq!(stored["content_type"], "application/pdf");
    for (doc, file) in [
        ("selfie", "selfie.jpg"),
        ("identity-card-front", "identity-card-front.png"),
        ("identity-card-back", "identity-card-back.png"),
    ] {
        upload(&sim, &id, PARTNER, doc, file, true).json();
    }
    let session = sim.kyc(&["session", "get", &id]).json();
    assert_eq!(session["status"], "VALIDATED");
    assert_eq!(session["company_id"], COMPANY);

    let report = sim.kyc(&["session", "report", &id]).json();
    assert_eq!(report["company_data"]["id_fiscal"], "29.086.892/0001-77");
    assert_eq!(report["company_data"]["juridic_nature"]["code"], "2135");
    assert_eq!(report["documentation_proof"][0]["valid"], true);
    assert_eq!(
        report["documentation_proof"][0]["file_name"],
        "company-document.pdf"
    );
    assert_eq!(report["partners"][0]["id"], PARTNER);
    assert_eq!(
        report["partners"][0]["person_data"]["id_fiscal"],
        "123.456.789-10"
    );

    let employee = sim
        .kyc(&[
            "session",
            "create",
            "--country",
            "BRA",
            "--company-id",
            COMPANY,
            "--user-id",
            "usr-employee-1",
        ])
        .json();
    let employee_id = employee["id"].as_str().unwrap();
    let sent = creates(&sim);
    assert_eq!(sent[1]["flow_type"], "kyb-cards-additional");
    assert_eq!(
        sent[1]["data"],
        json!({"company_id": COMPANY, "user_id": "usr-employee-1"})
    );
    let session = sim.kyc(&["session", "get", employee_id]).json();
    assert_eq!(session["company_id"], COMPANY);
    assert_eq!(session["user_id"], "usr-employee-1");
}

#[test]
fn company_and_partners_files_with_terms_make_the_same_body() {
    let sim = Sim::start();
    let dir = temp_dir("kyb-files");
    let data = documented_data();
    let company = dir.join("company.json");
    let partners = dir.join("partners.json");
    std::fs::write(&company, serde_json::to_vec(&data["company"]).unwrap()).unwrap();
    std::fs::write(&partners, serde_json::to_vec(&data["partners"]).unwrap()).unwrap();
    let created = sim.kyc(&[
        "session",
        "create",
        "--kyb",
        "--country",
        "BRA",
        "--flow-type",
        "kyb-accounts",
        "--company",
        company.to_str().unwrap(),
        "--partners",
        partners.to_str().unwrap(),
        "--terms-version",
        "1",
        "--terms-accepted-at",
        "2022-05-13T19:47:13.340Z",
    ]);
    created.json();
    let body = creates(&sim).remove(0);
    assert_eq!(body["flow_type"], "kyb-accounts");
    assert_eq!(body["data"], data);
}

#[test]
fn kyb_input_errors_name_the_member_never_the_value_and_send_nothing() {
    let sim = Sim::start();
    let create = [
        "session",
        "create",
        "--kyb",
        "--country",
        "BRA",
        "--data",
        "-",
    ];
    let mut data = documented_data();
    data["partners"][0].as_object_mut().unwrap().remove("id");
    let run = sim.kyc_stdin(&create, Some(&serde_json::to_vec(&data).unwrap()));
    let message = run.failure("invalid_input", 2);
    assert!(
        message.contains("partners[0]") && message.contains("id"),
        "{message}"
    );
    let mut data = documented_data();
    data["partners"][0]["pep"] = json!("Diego Pomelo");
    let run = sim.kyc_stdin(&create, Some(&serde_json::to_vec(&data).unwrap()));
    let message = run.failure("invalid_input", 2);
    assert!(message.contains("partners[0].pep"), "{message}");
    assert!(!run.stderr.contains("Diego"), "{run:#?}");
    let run = sim.kyc_stdin(&create, Some(b"[]"));
    run.failure("invalid_input", 2);
    // A KYC flow for a KYB create is refused before sending.
    let run = sim.kyc_stdin(
        &[
            "session",
            "create",
            "--kyb",
            "--country",
            "BRA",
            "--flow-type",
            "kyc-accounts",
            "--data",
            "-",
        ],
        Some(&serde_json::to_vec(&documented_data()).unwrap()),
    );
    assert!(
        run.failure("invalid_input", 2).contains("flow type"),
        "{run:#?}"
    );
    // --kyb alone, or with a person's user id, is a usage error.
    let run = sim.kyc(&["session", "create", "--kyb", "--country", "BRA"]);
    assert_eq!(run.code, 2, "{run:#?}");
    let run = sim.kyc(&[
        "session",
        "create",
        "--kyb",
        "--country",
        "BRA",
        "--user-id",
        "usr-1",
    ]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(sim.server.requests().is_empty(), "nothing was sent");
}
