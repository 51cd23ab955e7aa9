//! Session operations with JSON or empty bodies: create, get, cancel, report, clean validations.

use http::header::HeaderValue;
use http::{HeaderMap, Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::body::Body;
use crate::config::Config;
use crate::endpoint::{self, Endpoint, IdempotencyKey, session_path};
use crate::enums::{Country, FlowType, IntegrationMethod};
use crate::error::{Error, InvalidInput};
use crate::kyb::Address;
use crate::model::{CleanResult, Extra, Report, Session, SessionId};
use crate::secret::{Pii, debug_set_members};

/// The person's data sent with create session.
///
/// What Pomelo publishes: for KYC, nothing (`data.personal_data` is collapsed in its docs,
/// reference §5.1 and §12.1); for KYB partners (§9.1), the members `full_name`, `birthdate`
/// (`YYYY-MM-DD`), `nationality`, `fiscal_id`, `mother_name`, `phone` and `address` (an object:
/// `street_name`, `street_number`, `complement`, `zip_code`, `neighborhood`). The typed members
/// below are exactly those published names, so that nothing here is a guess; any other member
/// your account expects (`document_number`, `email`…) goes into `extra`, sent as is (`kyc
/// session create --personal-data` takes the whole JSON object). Values that identify the person
/// are [`Pii`]; `Debug` lists which members are set, never their values.
#[derive(Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PersonalData {
    /// Full name, as in Pomelo's KYB partner example.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_name: Option<Pii>,
    /// Birth date, `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub birthdate: Option<Pii>,
    /// Nationality, ISO 3166-1 alpha-3 (`BRA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nationality: Option<String>,
    /// Tax id (`123.456.789-10`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fiscal_id: Option<Pii>,
    /// Mother's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mother_name: Option<Pii>,
    /// Phone number (`+55 11 97487 2510`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Pii>,
    /// Postal address (Pomelo's example: `street_name`, `street_number`, `complement`,
    /// `zip_code`, `neighborhood`; any other member in its `extra`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Any other member, sent as is.
    #[serde(flatten)]
    pub extra: Extra,
}

debug_set_members!(PersonalData {
    show: [],
    set: [
        full_name,
        birthdate,
        nationality,
        fiscal_id,
        mother_name,
        phone,
        address
    ],
});

/// Terms-and-conditions acceptance (the KYB shape, reference §9.1; assumed for KYC).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TermsData {
    /// Version of the terms accepted.
    pub version: String,
    /// Whether they were accepted.
    pub accept: bool,
    /// When, RFC 3339 UTC with milliseconds (e.g. `2022-05-13T19:47:13.340Z`).
    pub date: String,
}

impl TermsData {
    /// Terms `version` accepted at `date`.
    pub fn accepted(version: impl Into<String>, date: impl Into<String>) -> Self {
        Self {
            version: version.into(),
            accept: true,
            date: date.into(),
        }
    }
}

/// `POST /identity/v2/sessions` (reference §5.1): starts a KYC session for a Pomelo user.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct CreateSession {
    /// The flow; `kyc-accounts` by default.
    pub flow_type: FlowType,
    /// The person's country.
    pub country: Country,
    /// `API` (documents uploaded by the integrator, the default) or `WEB`.
    pub integration_method: IntegrationMethod,
    /// The Pomelo user id (`usr-…`).
    pub user_id: String,
    /// The person's data, when known.
    pub personal_data: Option<PersonalData>,
    /// Terms acceptance, when collected.
    pub terms_data: Option<TermsData>,
    /// The caller's idempotency key, sent instead of one drawn for the call (see
    /// [`CreateSession::idempotency_key`]). Not part of the body.
    pub key: Option<IdempotencyKey>,
}

impl CreateSession {
    /// A `kyc-accounts` session through the API for `user_id` in `country`.
    pub fn new(user_id: impl Into<String>, country: Country) -> Self {
        Self {
            flow_type: FlowType::KycAccounts,
            country,
            integration_method: IntegrationMethod::Api,
            user_id: user_id.into(),
            personal_data: None,
            terms_data: None,
            key: None,
        }
    }
}

create_builder!(CreateSession, personal_data: PersonalData => "Sets the person's data.", terms_data: TermsData => "Sets the terms acceptance.");

/// The envelope every create sends (KYC, KYB, additional), owned, for reading a body back
/// (tests, simulators, files): the three members and the create's own `data`.
#[derive(Deserialize)]
pub(crate) struct CreateWire<D> {
    pub(crate) flow_type: FlowType,
    pub(crate) country: Country,
    pub(crate) integration_method: IntegrationMethod,
    pub(crate) data: D,
}

#[derive(Deserialize)]
struct CreateDataWire {
    user_id: String,
    #[serde(default)]
    personal_data: Option<PersonalData>,
    #[serde(default)]
    terms_data: Option<TermsData>,
}

/// The same envelope, borrowed, for writing a body: serialising copies nothing (the copies of
/// the personal data were a third of the cost of building the request, issue #8 target 2).
#[derive(Serialize)]
pub(crate) struct CreateWireRef<'a, D> {
    pub(crate) flow_type: &'a FlowType,
    pub(crate) country: &'a Country,
    pub(crate) integration_method: &'a IntegrationMethod,
    pub(crate) data: D,
}

#[derive(Serialize)]
struct CreateDataWireRef<'a> {
    user_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    personal_data: Option<&'a PersonalData>,
    #[serde(skip_serializing_if = "Option::is_none")]
    terms_data: Option<&'a TermsData>,
}

impl Serialize for CreateSession {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        CreateWireRef {
            flow_type: &self.flow_type,
            country: &self.country,
            integration_method: &self.integration_method,
            data: CreateDataWireRef {
                user_id: &self.user_id,
                personal_data: self.personal_data.as_ref(),
                terms_data: self.terms_data.as_ref(),
            },
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for CreateSession {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let w = CreateWire::<CreateDataWire>::deserialize(d)?;
        Ok(Self {
            flow_type: w.flow_type,
            country: w.country,
            integration_method: w.integration_method,
            user_id: w.data.user_id,
            personal_data: w.data.personal_data,
            terms_data: w.data.terms_data,
            key: None,
        })
    }
}

create_endpoint!(CreateSession, |create| {
    // A KYB flow takes another body: `CreateKybSession` or `CreateAdditionalSession`.
    check_create(
        "a person's (KYC) create",
        &create.flow_type,
        !create.flow_type.is_kyb(),
        &[
            ("user id", create.user_id.as_str()),
            ("flow type", create.flow_type.as_str()),
            ("country", create.country.as_str()),
            ("integration method", create.integration_method.as_str()),
        ],
    )
});

/// What every create refuses before sending: a blank value among `required` (named as given),
/// then a flow that belongs to another kind of create (`fits` false).
pub(crate) fn check_create(
    operation: &'static str,
    flow_type: &FlowType,
    fits: bool,
    required: &[(&'static str, &str)],
) -> Result<(), InvalidInput> {
    for &(what, value) in required {
        // (Stops at the first visible character, where `trim` would scan both ends.)
        if value.chars().all(char::is_whitespace) {
            return Err(InvalidInput::Empty { what });
        }
    }
    if !fits {
        return Err(InvalidInput::FlowMismatch {
            flow_type: flow_type.to_string(),
            operation,
        });
    }
    Ok(())
}

/// The builder methods every create shares (`idempotency_key`, `flow_type`,
/// `integration_method`) and the optional members given after the type.
macro_rules! create_builder {
    ($ty:ident $(, $field:ident : $value:ty => $doc:literal)* $(,)?) => {
        impl $ty {
            /// Sends this key in `x-idempotency-key` on every attempt, instead of one drawn for
            /// the call: a job stores the key before it creates, and after a crash or a timeout
            /// creates again under the same key. Pomelo has not published whether Identity
            /// honours the header (reference §4.5): check with Pomelo before relying on it to
            /// prevent duplicates, or make the retry policy never resend a create
            /// ([`RetryPolicy::resend_creates`](crate::RetryPolicy::resend_creates)).
            #[must_use]
            pub fn idempotency_key(mut self, key: crate::IdempotencyKey) -> Self {
                self.key = Some(key);
                self
            }

            /// Sets the flow type.
            #[must_use]
            pub fn flow_type(mut self, flow_type: crate::FlowType) -> Self {
                self.flow_type = flow_type;
                self
            }

            /// Sets the integration method.
            #[must_use]
            pub fn integration_method(mut self, method: crate::IntegrationMethod) -> Self {
                self.integration_method = method;
                self
            }

            $(
                #[doc = $doc]
                #[must_use]
                pub fn $field(mut self, value: $value) -> Self {
                    self.$field = Some(value);
                    self
                }
            )*
        }
    };
}
pub(crate) use create_builder;

/// `Endpoint` for a create: `POST /identity/v2/sessions` with the type's JSON body, its `key`
/// as the idempotency key, answering [`SessionCreated`]. `$check` refuses input before the body
/// is serialised.
macro_rules! create_endpoint {
    ($ty:ty, $check:expr) => {
        impl crate::Endpoint for $ty {
            type Output = crate::SessionCreated;
            type Body = crate::Body;
            const METHOD: http::Method = http::Method::POST;
            const CREATES: bool = true;

            fn idempotency_key(&self) -> Option<&crate::IdempotencyKey> {
                self.key.as_ref()
            }

            fn path_and_query(&self, _: &crate::Config) -> Result<String, crate::InvalidInput> {
                Ok("/identity/v2/sessions".to_owned())
            }

            #[inline]
            fn body(
                &self,
                _: &crate::Config,
                _: Option<&crate::IdempotencyKey>,
            ) -> Result<(Option<http::HeaderValue>, crate::Body), crate::InvalidInput> {
                let check: fn(&$ty) -> Result<(), crate::InvalidInput> = $check;
                check(self)?;
                crate::endpoint::json_body(self)
            }

            fn parse(
                status: http::StatusCode,
                headers: &http::HeaderMap,
                body: &[u8],
            ) -> Result<crate::SessionCreated, crate::Error> {
                crate::endpoint::decode_data(status, headers, body)
            }
        }
    };
}
pub(crate) use create_endpoint;

/// Declares a body-less endpoint on one session.
macro_rules! session_endpoint {
    (
        $(#[$meta:meta])*
        $name:ident, $method:ident, $template:expr, $output:ty, $parse:expr
    ) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Debug)]
        pub struct $name {
            /// The session.
            pub session_id: SessionId,
        }

        impl $name {
            /// For session `session_id`.
            pub fn new(session_id: impl Into<SessionId>) -> Self {
                Self { session_id: session_id.into() }
            }
        }

        impl Endpoint for $name {
            type Output = $output;
            type Body = Body;
            const METHOD: Method = Method::$method;

            fn path_and_query(&self, config: &Config) -> Result<String, InvalidInput> {
                let template: fn(&Config) -> &str = $template;
                session_path(template(config), self.session_id.as_str())
            }

            fn body(
                &self,
                _: &Config,
                _: Option<&IdempotencyKey>,
            ) -> Result<(Option<HeaderValue>, Body), InvalidInput> {
                Ok((None, Body::empty()))
            }

            fn parse(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<$output, Error> {
                $parse(status, headers, body)
            }
        }
    };
}

session_endpoint! {
    /// `GET /identity/v1/sessions/{id}` (decision 1; path configurable).
    GetSession, GET, |c| &c.paths().get_session, Session, endpoint::decode_data
}

session_endpoint! {
    /// `DELETE /identity/v1/sessions/{id}` (decision 2; path configurable). The response is not
    /// documented: the session when the server returns it, `None` for an empty body.
    CancelSession, DELETE, |c| &c.paths().cancel_session, Option<Session>,
    endpoint::decode_optional_data
}

session_endpoint! {
    /// `GET /identity/v1/sessions/{id}/report` (reference §5.5).
    GetReport, GET, |_| "/identity/v1/sessions/{session_id}/report", Report, endpoint::decode_data
}

/// `POST /clean_validations` (decision 5): deletes a user's validation data in a **test**
/// environment. Refused before sending when the configuration targets production.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CleanValidations {
    user_id: Option<String>,
    document_number: Option<Pii>,
}

impl CleanValidations {
    /// By user id.
    pub fn user_id(user_id: impl Into<String>) -> Self {
        Self {
            user_id: Some(user_id.into()),
            document_number: None,
        }
    }

    /// By identity document number.
    pub fn document_number(number: impl Into<Pii>) -> Self {
        Self {
            user_id: None,
            document_number: Some(number.into()),
        }
    }

    /// From either or both; the user id wins when both are given (reference §5.7).
    ///
    /// # Errors
    ///
    /// [`InvalidInput::Empty`] when neither is given (or both are empty).
    pub fn new(
        user_id: Option<String>,
        document_number: Option<Pii>,
    ) -> Result<Self, InvalidInput> {
        match (user_id, document_number) {
            (Some(u), _) if !u.is_empty() => Ok(Self::user_id(u)),
            (_, Some(d)) if !d.expose_secret().is_empty() => Ok(Self::document_number(d)),
            _ => Err(InvalidInput::Empty {
                what: "user id or document number",
            }),
        }
    }
}

impl Endpoint for CleanValidations {
    type Output = CleanResult;
    type Body = Body;
    const METHOD: Method = Method::POST;

    fn path_and_query(&self, config: &Config) -> Result<String, InvalidInput> {
        if config.is_production() {
            return Err(InvalidInput::RefusedInProduction {
                operation: "clean validations",
            });
        }
        Ok(config.paths().clean_validations.clone())
    }

    fn body(
        &self,
        _: &Config,
        _: Option<&IdempotencyKey>,
    ) -> Result<(Option<HeaderValue>, Body), InvalidInput> {
        let body = match (&self.user_id, &self.document_number) {
            (Some(u), _) if !u.is_empty() => serde_json::json!({ "user_id": u }),
            (_, Some(d)) if !d.expose_secret().is_empty() => {
                serde_json::json!({ "document_number": d.expose_secret() })
            }
            _ => {
                return Err(InvalidInput::Empty {
                    what: "user id or document number",
                });
            }
        };
        endpoint::json_body(&body)
    }

    fn parse(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<CleanResult, Error> {
        endpoint::decode_optional_data(status, headers, body).map(Option::unwrap_or_default)
    }
}
