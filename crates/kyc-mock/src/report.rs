//! `GET /identity/v1/sessions/{session_id}/report`: a person's report from what the create carried, and
//! a company's in the shape of Pomelo's documented KYB report.

use std::time::SystemTime;

use serde_json::{Value, json};

use crate::clock::rfc3339;
use crate::session::{FileRecord, Session, Status};
use crate::subject::{Company, Subject};

/// The report object of docs/wire-conventions.md for `session`.
pub(crate) fn report_json(base_url: &str, session: &Session) -> Value {
    match &session.subject {
        Subject::Company(company) => company_report(base_url, session, company),
        Subject::Person(_) | Subject::Employee { .. } => person_report(session),
    }
}

/// A person's report: the session's status, reason, steps and files, and `personal_data` as the
/// create sent it (`{}` when it sent none), beside `user_id` (and an employee's `company_id`).
fn person_report(session: &Session) -> Value {
    let personal_data = match &session.subject {
        Subject::Person(person) | Subject::Employee { person, .. } => person.personal_data.clone(),
        Subject::Company(_) => None,
    };
    let mut report = json!({
        "id": session.id,
        "status": session.status.as_str(),
        "reason": session.reason,
        "personal_data": personal_data.unwrap_or_else(|| json!({})),
        "steps": session.steps,
        "files": session.files,
    });
    if let Some(map) = report.as_object_mut() {
        map.extend(session.subject.members());
    }
    report
}

fn day(t: SystemTime) -> String {
    rfc3339(t).chars().take(10).collect()
}

/// Ten years after the day `issue` (`YYYY-MM-DD`); 29 February becomes 28 February.
fn ten_years_after(issue: &str) -> String {
    let year: u32 = issue.get(..4).and_then(|y| y.parse().ok()).unwrap_or(2000);
    let rest = match issue.get(4..) {
        Some("-02-29") | None => "-02-28",
        Some(rest) => rest,
    };
    format!("{:04}{rest}", year + 10)
}

fn file_json(base_url: &str, session: &Session, file: &FileRecord) -> Value {
    json!({
        "url": format!("{base_url}/identity/v1/sessions/{}/files/{}", session.id, file.id),
        "created_at": rfc3339(file.created_at),
        // Megabytes, fractional, as in Pomelo's example (`0.00085`).
        "size": file.size as f64 / 1_000_000.0,
        "file_name": file.file_name,
        "valid": session.status == Status::Validated,
    })
}

/// The report of a company (KYB) session, in the shape of Pomelo's documented example (reference §9.5),
/// with the session's status and reason beside it as in a KYC report. Values Pomelo would read
/// from registries (names, activities) are made up from what the create sent.
fn company_report(base_url: &str, session: &Session, kyb: &Company) -> Value {
    let company = &kyb.data;
    // A member the create sent as text, else `null`: a company's other members are kept
    // unchecked, and the report promises text or `null` for these (docs/openapi.json).
    let text = |name: &str| {
        company
            .get(name)
            .filter(|v| v.is_string())
            .cloned()
            .unwrap_or(Value::Null)
    };
    let nature = company.get("legal_nature").map(|v| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    let description = match nature.as_deref() {
        Some("2135") => "Empresário (Individual)",
        Some("2062") => "Sociedade Empresária Limitada",
        Some(_) => "Natureza jurídica simulada",
        None => "",
    };
    let address = company
        .get("address")
        .and_then(Value::as_object)
        .or_else(|| {
            kyb.partners
                .first()
                .and_then(|p| p.get("address")?.as_object())
        });
    let address = address.map(|a| {
        json!({
            "street_name": a.get("street_name"),
            "building_number": a.get("building_number").or_else(|| a.get("street_number")),
            "zip_code": a.get("zip_code"),
            "neighborhood": a.get("neighborhood"),
            "complements": a.get("complements").or_else(|| a.get("complement")),
            "city": a.get("city"),
            "state": a.get("state"),
            "country": a.get("country").cloned().unwrap_or_else(|| json!(session.country)),
        })
    });
    let legal_name = Some(text("legal_name"))
        .filter(|v| !v.is_null())
        .unwrap_or_else(|| json!(format!("Empresa simulada {}", kyb.id())));
    let company_data = json!({
        "is_mei": company.get("is_mei").and_then(Value::as_bool).unwrap_or(false),
        "registration_date": day(session.created_at),
        "id_fiscal": text("fiscal_id"),
        "trade_name": Some(text("trade_name")).filter(|v| !v.is_null()).unwrap_or_else(|| legal_name.clone()),
        "legal_name": legal_name,
        "juridic_nature": nature.map(|code| json!({"code": code, "description": description})),
        "email": text("email"),
        "address": address,
        "economic_activity": [{
            "code": "6201-5/01",
            "description": "Desenvolvimento de programas de computador sob encomenda",
            "type": "primary",
        }],
    });
    let requests: Vec<Value> = kyb
        .requests
        .iter()
        .map(|(reason, at)| {
            json!({"operator_id": "kyc-mock", "reason": reason, "request_date": rfc3339(*at)})
        })
        .collect();
    let proofs: Vec<Value> = session
        .files
        .iter()
        .filter(|f| f.entity_id == kyb.id())
        .map(|f| file_json(base_url, session, f))
        .collect();
    let partners: Vec<Value> = kyb
        .partners
        .iter()
        .map(|p| {
            let id = p.get("id").and_then(Value::as_str).unwrap_or_default();
            let document = session
                .files
                .iter()
                .find(|f| f.entity_id == id && f.type_document.ends_with("-front"));
            let document_data = document.map(|f| {
                let issue = day(f.created_at);
                json!({
                    "date_of_issue": issue,
                    "date_of_expiry": ten_years_after(&issue),
                    "procedure_number": f.id.trim_start_matches("fil-"),
                })
            });
            json!({
                "id": id,
                "document_data": document_data,
                "person_data": {
                    "id_fiscal": p.get("fiscal_id"),
                    "full_name": p.get("full_name"),
                    "birthdate": p.get("birthdate"),
                    "nationality": p.get("nationality"),
                },
            })
        })
        .collect();
    json!({
        "id": session.id,
        "status": session.status.as_str(),
        "reason": session.reason,
        "company_data": company_data,
        "documentation_request": requests,
        "documentation_proof": proofs,
        "partners": partners,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_years_keep_the_day_except_a_leap_day() {
        assert_eq!(ten_years_after("2026-12-03"), "2036-12-03");
        assert_eq!(ten_years_after("2024-02-29"), "2034-02-28");
    }
}
