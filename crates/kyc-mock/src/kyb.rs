//! KYB sessions (reference §9): the strict check of a KYB and an additional create body, which
//! entity takes which document, and the report in the shape of Pomelo's documented example.

use std::time::SystemTime;

use serde_json::{Map, Value, json};

use crate::clock::rfc3339;
use crate::handlers::{required_string, unknown_members};
use crate::session::{FileRecord, Session, Status, allowed_documents};

/// The main KYB flows (a company and its partners).
pub(crate) const KYB_FLOWS: [&str; 2] = ["kyb-cards", "kyb-accounts"];
/// The additional (employee) flow.
pub(crate) const ADDITIONAL_FLOW: &str = "kyb-cards-additional";
/// Countries where Pomelo runs KYB (reference §9).
pub(crate) const KYB_COUNTRIES: [&str; 2] = ["ARG", "BRA"];
/// The company's document type, the only one its entity takes.
pub(crate) const COMPANY_DOCUMENT: &str = "company-document";
/// Most partners one KYB session takes.
const MAX_PARTNERS: usize = 50;

/// The company and partners of a KYB session, as they were sent.
#[derive(Clone, Debug)]
pub(crate) struct Kyb {
    pub(crate) company: Map<String, Value>,
    pub(crate) partners: Vec<Map<String, Value>>,
    /// Documents asked for again: (reason, when).
    pub(crate) requests: Vec<(String, SystemTime)>,
}

impl Kyb {
    /// The company's id.
    pub(crate) fn company_id(&self) -> &str {
        self.company
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// Whether `entity` is one of the partners.
    pub(crate) fn is_partner(&self, entity: &str) -> bool {
        self.partners
            .iter()
            .any(|p| p.get("id").and_then(Value::as_str) == Some(entity))
    }

    fn partner_ids(&self) -> impl Iterator<Item = &str> {
        self.partners
            .iter()
            .filter_map(|p| p.get("id").and_then(Value::as_str))
    }
}

/// What kind of create a body is, from its `flow_type`.
pub(crate) enum Kind {
    Kyc,
    Kyb,
    Additional,
}

impl Kind {
    pub(crate) fn of(flow_type: &str) -> Kind {
        if KYB_FLOWS.contains(&flow_type) {
            Kind::Kyb
        } else if flow_type == ADDITIONAL_FLOW {
            Kind::Additional
        } else {
            Kind::Kyc
        }
    }
}

fn optional(
    map: &Map<String, Value>,
    name: &str,
    at: &str,
    what: &str,
    fits: fn(&Value) -> bool,
    problems: &mut Vec<String>,
) {
    if let Some(value) = map.get(name) {
        if !fits(value) {
            problems.push(format!("`{at}{name}` must be {what}"));
        }
    }
}

fn string_list(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|items| items.iter().all(Value::is_string))
}

fn is_day(value: &Value) -> bool {
    value.as_str().and_then(crate::clock::parse_date).is_some()
}

/// Checks `data` of a KYB create: `company`, `partners` and `terms_data`, each member of the
/// documented example with its documented type. Other members of the company and of a partner
/// are kept (an account may send more); other members of `data` are refused.
pub(crate) fn check_kyb_data(data: &Map<String, Value>, problems: &mut Vec<String>) -> Option<Kyb> {
    problems.extend(unknown_members(
        data,
        &["company", "partners", "terms_data"],
        "data.",
    ));
    let company = match data.get("company") {
        Some(Value::Object(company)) => {
            for name in ["id", "fiscal_id"] {
                if let Err(p) = required_string(company, name, "data.company.") {
                    problems.push(p);
                }
            }
            let at = "data.company.";
            optional(
                company,
                "is_mei",
                at,
                "a boolean",
                Value::is_boolean,
                problems,
            );
            optional(
                company,
                "annual_income",
                at,
                "a number",
                Value::is_number,
                problems,
            );
            optional(
                company,
                "legal_nature",
                at,
                "a number or a string",
                |v| v.is_number() || v.is_string(),
                problems,
            );
            optional(
                company,
                "address",
                at,
                "an object",
                Value::is_object,
                problems,
            );
            Some(company.clone())
        }
        Some(_) => {
            problems.push("`data.company` must be an object".to_owned());
            None
        }
        None => {
            problems.push("`data.company` is required".to_owned());
            None
        }
    };
    let mut partners = Vec::new();
    match data.get("partners") {
        Some(Value::Array(list)) if list.is_empty() => {
            problems.push("`data.partners` needs at least one partner".to_owned());
        }
        Some(Value::Array(list)) if list.len() > MAX_PARTNERS => {
            problems.push(format!(
                "`data.partners` takes at most {MAX_PARTNERS} partners"
            ));
        }
        Some(Value::Array(list)) => {
            for (i, partner) in list.iter().enumerate() {
                let at = format!("data.partners[{i}].");
                let Some(p) = partner.as_object() else {
                    problems.push(format!("`data.partners[{i}]` must be an object"));
                    continue;
                };
                for name in ["id", "partner_type", "full_name", "fiscal_id"] {
                    if let Err(problem) = required_string(p, name, &at) {
                        problems.push(problem);
                    }
                }
                optional(p, "birthdate", &at, "a YYYY-MM-DD date", is_day, problems);
                optional(p, "pep", &at, "a boolean", Value::is_boolean, problems);
                optional(p, "salary", &at, "a number", Value::is_number, problems);
                optional(
                    p,
                    "nationality",
                    &at,
                    "a string",
                    Value::is_string,
                    problems,
                );
                optional(p, "address", &at, "an object", Value::is_object, problems);
                for list_name in ["company_relationship", "corporate_participation"] {
                    optional(
                        p,
                        list_name,
                        &at,
                        "a list of strings",
                        string_list,
                        problems,
                    );
                }
                partners.push(p.clone());
            }
        }
        Some(_) => problems.push("`data.partners` must be a list".to_owned()),
        None => problems.push("`data.partners` is required".to_owned()),
    }
    match data.get("terms_data") {
        Some(Value::Object(terms)) => {
            problems.extend(unknown_members(
                terms,
                &["version", "accept", "date"],
                "data.terms_data.",
            ));
            for name in ["version", "date"] {
                if let Err(p) = required_string(terms, name, "data.terms_data.") {
                    problems.push(p);
                }
            }
            if !terms.get("accept").is_some_and(Value::is_boolean) {
                problems.push("`data.terms_data.accept` must be a boolean".to_owned());
            }
        }
        Some(_) => problems.push("`data.terms_data` must be an object".to_owned()),
        None => problems.push("`data.terms_data` is required".to_owned()),
    }
    let kyb = Kyb {
        company: company?,
        partners,
        requests: Vec::new(),
    };
    let company_id = kyb.company_id().to_owned();
    let mut seen = Vec::new();
    for id in kyb.partner_ids() {
        if id == company_id || seen.contains(&id) {
            problems.push(format!(
                "partner id `{id}` is used twice (partners and the company are separate entities)"
            ));
        }
        seen.push(id);
    }
    Some(kyb)
}

/// Checks `data` of an additional create: `company_id`, `user_id` and an optional
/// `personal_data` object. Returns the company id.
pub(crate) fn check_additional_data(
    data: &Map<String, Value>,
    problems: &mut Vec<String>,
) -> String {
    problems.extend(unknown_members(
        data,
        &["company_id", "user_id", "personal_data"],
        "data.",
    ));
    optional(
        data,
        "personal_data",
        "data.",
        "an object",
        Value::is_object,
        problems,
    );
    match required_string(data, "company_id", "data.") {
        Ok(id) => id.to_owned(),
        Err(p) => {
            problems.push(p);
            String::new()
        }
    }
}

/// Every document type some entity of `session` may upload (what a required-file request may
/// ask for): the person's documents of its country, and for KYB the company's too.
pub(crate) fn session_documents(session: &Session) -> Vec<&'static str> {
    let mut all = allowed_documents(&session.country).to_vec();
    if session.kyb.is_some() {
        all.push(COMPANY_DOCUMENT);
    }
    all
}

/// The document types `entity` may upload in `session`, or why it may not upload at all.
pub(crate) fn documents_for(session: &Session, entity: &str) -> Result<Vec<&'static str>, String> {
    match &session.kyb {
        Some(kyb) if entity == kyb.company_id() => Ok(vec![COMPANY_DOCUMENT]),
        Some(kyb) if kyb.is_partner(entity) => Ok(allowed_documents(&session.country).to_vec()),
        Some(_) => Err(format!(
            "entity `{entity}` is neither the session's company nor one of its partners"
        )),
        None if entity == session.user_id => Ok(allowed_documents(&session.country).to_vec()),
        None => Err(format!(
            "entity `{entity}` is not the session's user `{}`",
            session.user_id
        )),
    }
}

/// Whether every document a KYB session needs is in: the company's document, and each
/// partner's selfie and document pair.
pub(crate) fn documents_complete(session: &Session, kyb: &Kyb) -> bool {
    session.has_file_of(kyb.company_id(), COMPANY_DOCUMENT)
        && kyb
            .partner_ids()
            .all(|partner| session.person_documents_complete(partner))
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

/// The report of a KYB session, in the shape of Pomelo's documented example (reference §9.5),
/// with the session's status and reason beside it as in a KYC report. Values Pomelo would read
/// from registries (names, activities) are made up from what the create sent.
pub(crate) fn report_json(base_url: &str, session: &Session, kyb: &Kyb) -> Value {
    let company = &kyb.company;
    let text = |name: &str| company.get(name).cloned().unwrap_or(Value::Null);
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
    let legal_name = company
        .get("legal_name")
        .cloned()
        .unwrap_or_else(|| json!(format!("Empresa simulada {}", kyb.company_id())));
    let company_data = json!({
        "is_mei": company.get("is_mei").and_then(Value::as_bool).unwrap_or(false),
        "registration_date": day(session.created_at),
        "id_fiscal": text("fiscal_id"),
        "trade_name": company.get("trade_name").cloned().unwrap_or_else(|| legal_name.clone()),
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
        .filter(|f| f.entity_id == kyb.company_id())
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

    #[test]
    fn the_documented_example_passes_and_each_broken_member_is_named() {
        let documented = json!({
            "company": {"id": "cmp-1", "is_mei": true, "fiscal_id": "29.086.892/0001-77",
                        "annual_income": 2000, "legal_nature": 2135},
            "partners": [{"id": "usr-1", "partner_type": "legal-representative-main",
                          "company_relationship": ["CompanyName"], "corporate_participation": ["x"],
                          "fiscal_id": "123.456.789-10", "full_name": "Diego Pomelo",
                          "birthdate": "1998-08-20", "nationality": "BRA", "pep": false,
                          "salary": 48000, "address": {"street_name": "Av. Corrientes"}}],
            "terms_data": {"version": "1", "accept": true, "date": "2022-05-13T19:47:13.340Z"}
        });
        let mut problems = Vec::new();
        let kyb = check_kyb_data(documented.as_object().unwrap(), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(kyb.unwrap().company_id(), "cmp-1");

        for (path, value, problem) in [
            (
                "/company/is_mei",
                json!("yes"),
                "`data.company.is_mei` must be a boolean",
            ),
            (
                "/partners/0/birthdate",
                json!("20/08/1998"),
                "`data.partners[0].birthdate` must be a YYYY-MM-DD date",
            ),
            (
                "/partners/0/id",
                json!("cmp-1"),
                "partner id `cmp-1` is used twice",
            ),
            (
                "/partners/0/company_relationship",
                json!("CompanyName"),
                "`data.partners[0].company_relationship` must be a list of strings",
            ),
            (
                "/partners",
                json!([]),
                "`data.partners` needs at least one partner",
            ),
            (
                "/terms_data/accept",
                json!("true"),
                "`data.terms_data.accept` must be a boolean",
            ),
        ] {
            let mut body = documented.clone();
            *body.pointer_mut(path).unwrap() = value;
            let mut problems = Vec::new();
            check_kyb_data(body.as_object().unwrap(), &mut problems);
            assert!(
                problems.iter().any(|p| p.starts_with(problem)),
                "{path}: {problems:?}"
            );
        }
        let mut body = documented.clone();
        body.as_object_mut().unwrap().remove("company");
        let mut problems = Vec::new();
        assert!(check_kyb_data(body.as_object().unwrap(), &mut problems).is_none());
        assert_eq!(problems, ["`data.company` is required"]);
    }
}
