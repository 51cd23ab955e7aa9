//! Who a session is about: a person (KYC), a company with its partners (KYB), or a person working
//! for a company whose KYB session is validated (additional). Code matches on the kind of session
//! instead of testing optional fields.

use std::time::SystemTime;

use serde_json::{Map, Value, json};

/// The subject of a session, as its create sent it.
#[derive(Clone, Debug)]
pub(crate) enum Subject {
    /// A KYC session's person.
    Person(Person),
    /// A KYB session's company and partners.
    Company(Company),
    /// An additional session's person, and the company they work for.
    Employee {
        /// The person.
        person: Person,
        /// The company, validated when the session was created.
        company_id: String,
    },
}

/// A person: `data.user_id` and `data.personal_data` of the create.
#[derive(Clone, Debug)]
pub(crate) struct Person {
    pub(crate) user_id: String,
    pub(crate) personal_data: Option<Value>,
}

/// A company: `data.company` and `data.partners` of a KYB create, as sent, and the documents
/// asked for again since.
#[derive(Clone, Debug)]
pub(crate) struct Company {
    pub(crate) data: Map<String, Value>,
    pub(crate) partners: Vec<Map<String, Value>>,
    /// Documents asked for again: (reason, when), for the report's `documentation_request`.
    pub(crate) requests: Vec<(String, SystemTime)>,
}

impl Company {
    /// The company's id (its entity).
    pub(crate) fn id(&self) -> &str {
        self.data
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The partners' ids (their entities).
    pub(crate) fn partner_ids(&self) -> impl Iterator<Item = &str> {
        self.partners
            .iter()
            .filter_map(|p| p.get("id").and_then(Value::as_str))
    }

    /// Whether `entity` is one of the partners.
    pub(crate) fn is_partner(&self, entity: &str) -> bool {
        self.partner_ids().any(|id| id == entity)
    }
}

impl Subject {
    /// The id the outcome markers are read from, and that `filter[user_id]`, `sort=user_id` and
    /// `clean_validations {"user_id"}` act on: the person's user id, or the company's id.
    pub(crate) fn id(&self) -> &str {
        match self {
            Subject::Person(person) | Subject::Employee { person, .. } => &person.user_id,
            Subject::Company(company) => company.id(),
        }
    }

    /// The kind of session, as the admin API names it: `kyc`, `kyb` or `additional`.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Subject::Person(_) => "kyc",
            Subject::Company(_) => "kyb",
            Subject::Employee { .. } => "additional",
        }
    }

    /// The members that name the subject in a session, a webhook and a report: `user_id` for a
    /// person, `company_id` for a company, both for an employee.
    pub(crate) fn members(&self) -> Vec<(String, Value)> {
        match self {
            Subject::Person(person) => vec![("user_id".into(), json!(person.user_id))],
            Subject::Company(company) => vec![("company_id".into(), json!(company.id()))],
            Subject::Employee { person, company_id } => vec![
                ("user_id".into(), json!(person.user_id)),
                ("company_id".into(), json!(company_id)),
            ],
        }
    }

    /// `personal_data.document_number` of a person, which `clean_validations` may delete by.
    pub(crate) fn document_number(&self) -> Option<&str> {
        match self {
            Subject::Person(person) | Subject::Employee { person, .. } => person
                .personal_data
                .as_ref()?
                .get("document_number")?
                .as_str(),
            Subject::Company(_) => None,
        }
    }
}
