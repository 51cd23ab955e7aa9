//! KYB creates (reference §9): the strict check of a company's create body (company, partners,
//! terms) and of an additional (employee) one. The report is `report.rs`'s; which entity takes
//! which document, `session.rs`'s.

use serde_json::{Map, Value};

use crate::json::{is_string_list, optional, required_string, unknown_members};
use crate::subject::Company;

/// The main KYB flows (a company and its partners).
pub(crate) const KYB_FLOWS: [&str; 2] = ["kyb-cards", "kyb-accounts"];
/// The additional (employee) flow.
pub(crate) const ADDITIONAL_FLOW: &str = "kyb-cards-additional";
/// Countries where Pomelo runs KYB (reference §9).
pub(crate) const KYB_COUNTRIES: [&str; 2] = ["ARG", "BRA"];
/// Most partners one KYB session takes.
const MAX_PARTNERS: usize = 50;

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

fn is_day(value: &Value) -> bool {
    value.as_str().and_then(crate::clock::parse_date).is_some()
}

/// Checks `data` of a KYB create: `company`, `partners` and `terms_data`, each member of the
/// documented example with its documented type. Other members of the company and of a partner
/// are kept (an account may send more); other members of `data` are refused.
pub(crate) fn check_company_data(
    data: &Map<String, Value>,
    problems: &mut Vec<String>,
) -> Option<Company> {
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
                        is_string_list,
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
    let kyb = Company {
        data: company?,
        partners,
        requests: Vec::new(),
    };
    let company_id = kyb.id().to_owned();
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
        let kyb = check_company_data(documented.as_object().unwrap(), &mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(kyb.unwrap().id(), "cmp-1");

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
            check_company_data(body.as_object().unwrap(), &mut problems);
            assert!(
                problems.iter().any(|p| p.starts_with(problem)),
                "{path}: {problems:?}"
            );
        }
        let mut body = documented.clone();
        body.as_object_mut().unwrap().remove("company");
        let mut problems = Vec::new();
        assert!(check_company_data(body.as_object().unwrap(), &mut problems).is_none());
        assert_eq!(problems, ["`data.company` is required"]);
    }
}
