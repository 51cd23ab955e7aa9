//! KYB, companies (reference §9): the create body for a company and its partners (§9.1), the
//! additional (employee) session (§9.2), and the members of a KYB report (§9.5).
//!
//! KYB uses the same endpoints as KYC: the creates below go to `POST /identity/v2/sessions` and
//! answer a [`SessionCreated`](crate::SessionCreated) (without `url`); uploads go to the company's entity
//! (`company-document`, [`UploadFile::kyb`](crate::UploadFile::kyb)) or a partner's; get, cancel,
//! search and the report are the KYC operations, and [`Report`](crate::Report) carries the KYB
//! members typed here.
//!
//! The typed members are exactly those of Pomelo's two documented examples; anything else a
//! server sends, or an account expects, lives in `extra` (sent and kept as is). Values that may
//! identify a person or a one-person company (names, tax ids, addresses, incomes) are listed by
//! name only in `Debug`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::endpoint::IdempotencyKey;
use crate::enums::{Country, FlowType, IntegrationMethod, PartnerType};
use crate::error::InvalidInput;
use crate::model::{Extra, Number, Scalar, list};
use crate::secret::{Pii, debug_set_members};
use crate::session::{
    CreateWire, CreateWireRef, PersonalData, TermsData, check_create, create_builder,
    create_endpoint,
};
use crate::time::{CalendarDate, Timestamp};

/// A postal address: every member Pomelo shows in its KYB create example (`street_name`,
/// `street_number`, `complement`, `zip_code`, `neighborhood`) and report example
/// (`building_number`, `complements`, `city`, `state`, `country`). Each is a string or a number
/// as sent or received ([`Scalar`]); any other member is in `extra`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Address {
    /// Street.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_name: Option<Scalar>,
    /// Number in the street (the create example's spelling; a JSON number there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_number: Option<Scalar>,
    /// Number in the street (the report example's spelling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building_number: Option<Scalar>,
    /// Floor, flat… (the create example's spelling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complement: Option<Scalar>,
    /// Floor, flat… (the report example's spelling).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complements: Option<Scalar>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip_code: Option<Scalar>,
    /// Neighbourhood.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neighborhood: Option<Scalar>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<Scalar>,
    /// State or province.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<Scalar>,
    /// Country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<Scalar>,
    /// Any other member, sent and kept as is.
    #[serde(flatten)]
    pub extra: Extra,
}

debug_set_members!(Address {
    show: [],
    set: [
        street_name,
        street_number,
        building_number,
        complement,
        complements,
        zip_code,
        neighborhood,
        city,
        state,
        country,
    ],
});

/// The company of a KYB session (`data.company`, reference §9.1): its Pomelo id (`cmp-…`, from
/// the Company API) and what Pomelo's example sends with it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Company {
    /// The Pomelo company id (`cmp-…`): required.
    pub id: String,
    /// Whether the company is a Brazilian MEI (individual micro-entrepreneur).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_mei: Option<bool>,
    /// Tax id (`29.086.892/0001-77`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fiscal_id: Option<Pii>,
    /// Annual income (a JSON number, `2000` in the example).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annual_income: Option<Number>,
    /// Legal nature code (`2135`, Brazil's "natureza jurídica").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_nature: Option<Scalar>,
    /// Any other member, sent as is.
    #[serde(flatten)]
    pub extra: Extra,
}

debug_set_members!(Company {
    show: [id, is_mei],
    set: [fiscal_id, annual_income, legal_nature],
});

impl Company {
    /// The company `id` (`cmp-…`), with nothing else set.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            is_mei: None,
            fiscal_id: None,
            annual_income: None,
            legal_nature: None,
            extra: Extra::default(),
        }
    }
}

/// An owner or legal representative sent with a KYB create (`data.partners[]`, reference §9.1).
///
/// The person's own members (`full_name`, `birthdate`, `nationality`, `fiscal_id`,
/// `mother_name`, `phone`, `address`, and any other in its `extra`) are a [`PersonalData`],
/// written at the same level as the partner's members, as in Pomelo's example.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Partner {
    /// The partner's Pomelo user id (`usr-…`): required.
    pub id: String,
    /// The partner's role (`legal-representative-main`).
    pub partner_type: PartnerType,
    /// How the partner relates to the company (the example: `["CompanyName"]`).
    #[serde(
        default,
        deserialize_with = "list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub company_relationship: Vec<String>,
    /// The partner's participation in the company (the example: `["example_value"]`).
    #[serde(
        default,
        deserialize_with = "list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub corporate_participation: Vec<String>,
    /// Whether the partner is a politically exposed person.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pep: Option<bool>,
    /// The partner's salary (a JSON number).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salary: Option<Number>,
    /// The person's data, at the partner's level on the wire.
    #[serde(flatten)]
    pub person: PersonalData,
}

debug_set_members!(Partner {
    show: [id, partner_type, person],
    set: [company_relationship, corporate_participation, pep, salary],
    no_extra,
});

impl Partner {
    /// Partner `id` (`usr-…`) in the role `partner_type`, with no other data.
    pub fn new(id: impl Into<String>, partner_type: PartnerType) -> Self {
        Self {
            id: id.into(),
            partner_type,
            company_relationship: Vec::new(),
            corporate_participation: Vec::new(),
            pep: None,
            salary: None,
            person: PersonalData::default(),
        }
    }

    /// Sets the person's data.
    #[must_use]
    pub fn person(mut self, person: PersonalData) -> Self {
        self.person = person;
        self
    }
}

/// `POST /identity/v2/sessions` with a KYB flow (reference §9.1): validates a company with its
/// partners. The answer has no `url` (KYB runs through the API only).
///
/// Refused before sending: an empty company or partner id, and a flow type that is KYC or
/// additional ([`InvalidInput::FlowMismatch`]). An empty partner list is sent as is: Pomelo does
/// not say whether it accepts one, so the server decides.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct CreateKybSession {
    /// The flow; `kyb-cards` by default.
    pub flow_type: FlowType,
    /// The company's country (`BRA` or `ARG` in the reference).
    pub country: Country,
    /// `API`, the only method the reference lists for KYB.
    pub integration_method: IntegrationMethod,
    /// The company.
    pub company: Company,
    /// Its owners and legal representatives.
    pub partners: Vec<Partner>,
    /// Terms acceptance, when collected.
    pub terms_data: Option<TermsData>,
    /// The caller's idempotency key, sent instead of one drawn for the call. Not in the body.
    pub key: Option<IdempotencyKey>,
}

impl CreateKybSession {
    /// A `kyb-cards` session through the API for `company` in `country`, with no partner yet.
    pub fn new(company: Company, country: Country) -> Self {
        Self {
            flow_type: FlowType::KybCards,
            country,
            integration_method: IntegrationMethod::Api,
            company,
            partners: Vec::new(),
            terms_data: None,
            key: None,
        }
    }

    /// A `kyb-cards` session through the API in `country` for the company, partners and terms
    /// of a create body's `data`.
    fn from_data(data: KybData, country: Country) -> Self {
        Self {
            partners: data.partners,
            terms_data: data.terms_data,
            ..Self::new(data.company, country)
        }
    }

    /// Adds a partner.
    #[must_use]
    pub fn partner(mut self, partner: Partner) -> Self {
        self.partners.push(partner);
        self
    }
}

create_builder!(CreateKybSession, terms_data: TermsData => "Sets the terms acceptance.");

/// The members of `data` in a KYB create body: `company`, `partners`, `terms_data`, and nothing
/// else (a misspelt member is an error rather than a partner list or terms silently left out).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KybData {
    company: Company,
    /// Absent or `null`: none.
    #[serde(default, deserialize_with = "list")]
    partners: Vec<Partner>,
    #[serde(default)]
    terms_data: Option<TermsData>,
}

#[derive(Serialize)]
struct KybDataRef<'a> {
    company: &'a Company,
    partners: &'a [Partner],
    #[serde(skip_serializing_if = "Option::is_none")]
    terms_data: Option<&'a TermsData>,
}

impl Serialize for CreateKybSession {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        CreateWireRef {
            flow_type: &self.flow_type,
            country: &self.country,
            integration_method: &self.integration_method,
            data: KybDataRef {
                company: &self.company,
                partners: &self.partners,
                terms_data: self.terms_data.as_ref(),
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for CreateKybSession {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = CreateWire::<KybData>::deserialize(d)?;
        Ok(Self {
            flow_type: w.flow_type,
            integration_method: w.integration_method,
            ..Self::from_data(w.data, w.country)
        })
    }
}

create_endpoint!(CreateKybSession, |create| {
    let mut ids = vec![("company id", create.company.id.as_str())];
    ids.extend(
        create
            .partners
            .iter()
            .map(|p| ("partner id", p.id.as_str())),
    );
    ids.extend([
        ("flow type", create.flow_type.as_str()),
        ("country", create.country.as_str()),
        ("integration method", create.integration_method.as_str()),
    ]);
    // A partner's personal data must not repeat the partner's own members: the body would carry
    // the key twice.
    const OWN: [&str; 6] = [
        "id",
        "partner_type",
        "company_relationship",
        "corporate_participation",
        "pep",
        "salary",
    ];
    if create
        .partners
        .iter()
        .any(|p| OWN.iter().any(|own| p.person.extra.get(own).is_some()))
    {
        return Err(InvalidInput::DuplicateMember {
            what: "a partner's personal data",
        });
    }
    let flow = &create.flow_type;
    // Any flow that is neither KYC nor additional: an unknown `kyb-…` flow goes as given.
    let fits = !flow.as_str().starts_with("kyc-") && !flow.is_additional();
    check_create("a KYB create", flow, fits, &ids)
});

/// `POST /identity/v2/sessions` with an additional flow (reference §9.2): validates an employee
/// (`user_id`) of a company already validated (`company_id`).
///
/// Refused before sending: an empty company or user id, and a flow type that is KYC or main KYB
/// ([`InvalidInput::FlowMismatch`]).
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct CreateAdditionalSession {
    /// The flow; `kyb-cards-additional` by default.
    pub flow_type: FlowType,
    /// The company's country.
    pub country: Country,
    /// `API`.
    pub integration_method: IntegrationMethod,
    /// The validated company (`cmp-…`).
    pub company_id: String,
    /// The employee's Pomelo user id (`usr-…`).
    pub user_id: String,
    /// The employee's data, when known (Pomelo does not publish its members).
    pub personal_data: Option<PersonalData>,
    /// The caller's idempotency key. Not in the body.
    pub key: Option<IdempotencyKey>,
}

impl CreateAdditionalSession {
    /// A `kyb-cards-additional` session for `user_id`, employee of `company_id`, in `country`.
    pub fn new(
        company_id: impl Into<String>,
        user_id: impl Into<String>,
        country: Country,
    ) -> Self {
        Self {
            flow_type: FlowType::KybCardsAdditional,
            country,
            integration_method: IntegrationMethod::Api,
            company_id: company_id.into(),
            user_id: user_id.into(),
            personal_data: None,
            key: None,
        }
    }
}

create_builder!(CreateAdditionalSession, personal_data: PersonalData => "Sets the employee's data.");

#[derive(Serialize)]
struct AdditionalDataRef<'a> {
    company_id: &'a str,
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    personal_data: Option<&'a PersonalData>,
}

impl Serialize for CreateAdditionalSession {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        CreateWireRef {
            flow_type: &self.flow_type,
            country: &self.country,
            integration_method: &self.integration_method,
            data: AdditionalDataRef {
                company_id: &self.company_id,
                user_id: &self.user_id,
                personal_data: self.personal_data.as_ref(),
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for CreateAdditionalSession {
    /// Reads the body [`Serialize`] writes (so a create can be stored and sent again).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Data {
            company_id: String,
            user_id: String,
            #[serde(default)]
            personal_data: Option<PersonalData>,
        }
        let w = CreateWire::<Data>::deserialize(d)?;
        Ok(Self {
            flow_type: w.flow_type,
            country: w.country,
            integration_method: w.integration_method,
            company_id: w.data.company_id,
            user_id: w.data.user_id,
            personal_data: w.data.personal_data,
            key: None,
        })
    }
}

create_endpoint!(CreateAdditionalSession, |create| {
    let flow = &create.flow_type;
    let fits = flow.is_additional();
    check_create(
        "an additional (employee) create",
        flow,
        fits,
        &[
            ("company id", create.company_id.as_str()),
            ("user id", create.user_id.as_str()),
            ("flow type", flow.as_str()),
            ("country", create.country.as_str()),
            ("integration method", create.integration_method.as_str()),
        ],
    )
});

/// A code with its description (`juridic_nature` of a KYB report).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CodeDescription {
    /// The code (`2135`), text or number as received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Scalar>,
    /// What it means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One of the company's economic activities (`economic_activity[]`).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EconomicActivity {
    /// The activity code (Brazil's CNAE, `6201-5/01`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<Scalar>,
    /// What it means.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `primary`, or another rank (the member `type` on the wire).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub activity_type: Option<String>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

/// The company as Pomelo found it (`company_data` of a KYB report, reference §9.5).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CompanyData {
    /// Whether the company is a Brazilian MEI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_mei: Option<bool>,
    /// When the company was registered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_date: Option<CalendarDate>,
    /// Tax id (the report's spelling, `id_fiscal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_fiscal: Option<Scalar>,
    /// Trade name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_name: Option<Pii>,
    /// Legal name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_name: Option<Pii>,
    /// Legal nature, code and description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub juridic_nature: Option<CodeDescription>,
    /// Contact e-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<Pii>,
    /// Registered address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Economic activities (absent or `null`: none).
    #[serde(
        default,
        deserialize_with = "list",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub economic_activity: Vec<EconomicActivity>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

debug_set_members!(CompanyData {
    show: [is_mei, juridic_nature, economic_activity],
    set: [
        registration_date,
        id_fiscal,
        trade_name,
        legal_name,
        email,
        address
    ],
});

/// A document Pomelo's operators asked for (`documentation_request[]`).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DocumentationRequest {
    /// Who asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator_id: Option<String>,
    /// Why (free text: shown in `Debug` only by length).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_date: Option<Timestamp>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

impl fmt::Debug for DocumentationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DocumentationRequest")
            .field("operator_id", &self.operator_id)
            .field("reason", &crate::secret::Redacted(self.reason.as_deref()))
            .field("request_date", &self.request_date)
            .field("extra", &self.extra)
            .finish()
    }
}

/// A document received for the company (`documentation_proof[]`).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DocumentationProof {
    /// Where Pomelo keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// When it was received.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Timestamp>,
    /// Its size as Pomelo gives it: any JSON number, kept exactly (`0.00085` in the example,
    /// apparently megabytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<Number>,
    /// The file name sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Whether Pomelo accepted it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

impl fmt::Debug for DocumentationProof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use crate::secret::Redacted;
        f.debug_struct("DocumentationProof")
            .field("url", &Redacted(self.url.as_deref()))
            .field("created_at", &self.created_at)
            .field("size", &self.size)
            .field("file_name", &Redacted(self.file_name.as_deref()))
            .field("valid", &self.valid)
            .field("extra", &self.extra)
            .finish()
    }
}

/// A partner's identity document as read (`partners[].document_data`).
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DocumentData {
    /// Date of issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_issue: Option<CalendarDate>,
    /// Date of expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_of_expiry: Option<CalendarDate>,
    /// The document's procedure number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub procedure_number: Option<Scalar>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

debug_set_members!(DocumentData {
    show: [],
    set: [date_of_issue, date_of_expiry, procedure_number],
});

/// A partner's personal data as read (`partners[].person_data`): Pomelo's example shows only
/// `id_fiscal`; everything else is in `extra`.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PersonData {
    /// Tax id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_fiscal: Option<Scalar>,
    /// Members this version does not model (names, birth date…).
    #[serde(flatten)]
    pub extra: Extra,
}

debug_set_members!(PersonData {
    show: [],
    set: [id_fiscal],
});

/// A partner in a KYB report (`partners[]`).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReportPartner {
    /// The partner's id (an `iss-…` id in Pomelo's example: its own validation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The partner's identity document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_data: Option<DocumentData>,
    /// The partner's personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_data: Option<PersonData>,
    /// Members this version does not model.
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Config, Endpoint};

    #[test]
    fn flows_of_the_other_kinds_are_refused_before_sending() {
        let config = Config::new(crate::Environment::Sandbox).unwrap();
        let kyb = CreateKybSession::new(Company::new("cmp-1"), Country::Bra)
            .partner(Partner::new("usr-1", PartnerType::LegalRepresentativeMain));
        assert!(kyb.body(&config, None).is_ok());
        for flow in [
            "kyc-accounts",
            "kyc-cards",
            "kyb-cards-additional",
            "kyc-new",
            "kyb-accounts-additional",
        ] {
            let err = kyb
                .clone()
                .flow_type(FlowType::parse(flow))
                .body(&config, None)
                .unwrap_err();
            assert!(matches!(err, InvalidInput::FlowMismatch { .. }), "{flow}");
        }
        assert!(
            kyb.clone()
                .flow_type(FlowType::parse("kyb-new"))
                .body(&config, None)
                .is_ok()
        );
        let mut doubled = Partner::new("usr-2", PartnerType::LegalRepresentativeMain);
        doubled.person.extra.0.insert("pep".into(), true.into());
        assert_eq!(
            kyb.clone()
                .partner(doubled)
                .body(&config, None)
                .unwrap_err(),
            InvalidInput::DuplicateMember {
                what: "a partner's personal data"
            }
        );
        let blank_partner = kyb
            .clone()
            .partner(Partner::new(" ", PartnerType::LegalRepresentativeMain));
        assert_eq!(
            blank_partner.body(&config, None).unwrap_err(),
            InvalidInput::Empty { what: "partner id" }
        );
        let additional = CreateAdditionalSession::new("cmp-1", "usr-2", Country::Arg);
        assert!(additional.body(&config, None).is_ok());
        for flow in ["kyc-accounts", "kyb-cards", "kyb-accounts", "kyb-loans"] {
            assert!(
                additional
                    .clone()
                    .flow_type(FlowType::parse(flow))
                    .body(&config, None)
                    .is_err(),
                "{flow}"
            );
        }
        assert_eq!(
            CreateAdditionalSession::new("cmp-1", "", Country::Arg)
                .body(&config, None)
                .unwrap_err(),
            InvalidInput::Empty { what: "user id" }
        );
    }
}
