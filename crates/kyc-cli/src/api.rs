//! The commands that call the API: arguments become kyc-core endpoints, each run through one
//! generic function ([`call`]) over kyc-ureq's one generic entry; results become JSON and errors
//! become [`Failure`]s. A command is its clap definition (`cli.rs`) and the endpoint it builds
//! here, once.
//!
//! Every request is first checked with kyc-core's [`kyc_core::validate`]: whatever kyc-core
//! refuses (a malformed search, an empty or unsupported file, `clean` on production…) is
//! reported as `invalid_input` before the credentials are even looked at, and before any request,
//! the token request included, leaves this machine.

use std::io::IsTerminal as _;
use std::time::SystemTime;

use kyc_core::{
    CleanValidations, Company, Config, Country, CreateAdditionalSession, CreateKybSession,
    CreateSession, Credentials, Date, DocumentType, Endpoint, FlowType, IdempotencyKey,
    IntegrationMethod, Pagination, Partner, PersonalData, Pii, RequestToken, RevokeToken,
    SearchSessions, Session, SessionStatus, Sort, TermsData, UploadFile,
};
use kyc_ureq::{Client, Source};
use serde::{Deserialize, Serialize};

use crate::cli::{
    CleanArgs, CreateArgs, GlobalArgs, MethodName, SearchArgs, TokenArgs, UploadArgs,
};
use crate::failure::Failure;
use crate::progress;
use crate::{input, output, time};

/// The configuration and credentials the global options describe.
struct Api {
    config: Config,
    global_client_id: Option<String>,
    global_client_secret: Option<String>,
    timeout: Option<std::time::Duration>,
}

/// A set, non-blank option value.
fn present(value: Option<&String>) -> Option<&str> {
    value.map(|v| v.trim()).filter(|v| !v.is_empty())
}

impl Api {
    /// Builds the kyc-core configuration from the global options (each also its `POMELO_*`
    /// variable), through the same reader both adapters' `from_env` use.
    fn new(global: &GlobalArgs) -> Result<Self, Failure> {
        Ok(Self {
            config: config(global)?,
            global_client_id: present(global.client_id.as_ref()).map(str::to_owned),
            global_client_secret: match &global.client_secret_file {
                Some(path) => Some(crate::webhook::read_secret_file(
                    "--client-secret-file",
                    path,
                )?),
                None => global.client_secret.clone(),
            }
            .filter(|s| !s.trim().is_empty()),
            timeout: global.timeout,
        })
    }

    /// The client credentials; both are required by every command that calls the API.
    fn credentials(&self) -> Result<Credentials, Failure> {
        let id = self.global_client_id.clone().ok_or_else(|| {
            Failure::invalid_input("no client id: pass --client-id or set POMELO_CLIENT_ID")
        })?;
        let secret = self.global_client_secret.clone().ok_or_else(|| {
            Failure::invalid_input(
                "no client secret: set POMELO_CLIENT_SECRET or pass --client-secret-file",
            )
        })?;
        Ok(Credentials::new(id, secret))
    }

    /// Checks `endpoint` and the credentials, then makes the client.
    fn client_for<E: Endpoint>(&self, endpoint: &E) -> Result<Client, Failure> {
        kyc_core::validate(&self.config, endpoint).map_err(Failure::from)?;
        self.client()
    }

    /// Checks the credentials, then makes the client.
    fn client(&self) -> Result<Client, Failure> {
        let credentials = self.credentials()?;
        let mut builder = Client::builder(self.config.clone(), credentials);
        if let Some(timeout) = self.timeout {
            builder = builder.overall_timeout(timeout);
        }
        Ok(builder.build())
    }
}

/// The configuration the global options describe. A refused value names its option and variable.
pub(crate) fn config(global: &GlobalArgs) -> Result<Config, Failure> {
    config_with(global, |b| b)
}

/// As [`config`], with `extra` applied to the builder (a `danger_` opt-in of one command).
fn config_with(
    global: &GlobalArgs,
    extra: impl FnOnce(kyc_core::ConfigBuilder) -> kyc_core::ConfigBuilder,
) -> Result<Config, Failure> {
    use kyc_adapter::env as e;
    let environment = match global.environment {
        kyc_core::Environment::Production => "production",
        kyc_core::Environment::Stage => "stage",
        _ => "sandbox",
    };
    let lookup = |name: &'static str| -> Result<Option<String>, e::FromEnvError> {
        let value = match name {
            e::ENV_ENVIRONMENT => Some(environment.to_owned()),
            e::ENV_BASE_URL => global.base_url.clone(),
            e::ENV_AUDIENCE => global.audience.clone(),
            e::ENV_GET_SESSION_PATH => global.get_session_path.clone(),
            e::ENV_CANCEL_SESSION_PATH => global.cancel_session_path.clone(),
            e::ENV_SEARCH_SESSIONS_PATH => global.search_sessions_path.clone(),
            e::ENV_CLEAN_VALIDATIONS_PATH => global.clean_validations_path.clone(),
            e::ENV_FIRST_PAGE => global.first_page.clone(),
            e::ENV_MAX_PAGES => global.max_pages.clone(),
            _ => None,
        };
        Ok(value)
    };
    let refused = |error: e::FromEnvError| match &error {
        e::FromEnvError::Invalid { variable, reason } => {
            let flag = e::setting(variable).map_or("", |s| s.flag);
            Failure::invalid_input(format!("{flag} ({variable}): {reason}"))
        }
        e::FromEnvError::Config(input) => Failure::from(input),
        other => Failure::invalid_input(other.to_string()),
    };
    let builder = e::builder_from_lookup(&lookup).map_err(refused)?;
    e::build(extra(builder)).map_err(refused)
}

/// The settings the global options describe (configuration, credentials, timeout), for commands
/// that run their own clients (`kyc doctor`).
pub(crate) fn settings(global: &GlobalArgs) -> Result<kyc_core::Settings, Failure> {
    let api = Api::new(global)?;
    let credentials = api.credentials()?;
    let mut settings = kyc_core::Settings::new(api.config, credentials);
    if let Some(timeout) = api.timeout {
        settings.overall_timeout = timeout;
    }
    Ok(settings)
}

/// Runs `endpoint` as one call: checked first (refused input exits 2 before anything is sent),
/// then sent through kyc-ureq with its retries. Every API command ends here, or in [`upload`]'s
/// one upload entry.
pub(crate) fn call<E: Endpoint>(global: &GlobalArgs, endpoint: &E) -> Result<E::Output, Failure> {
    Api::new(global)?.call(endpoint)
}

/// [`call`], its result printed as JSON.
pub(crate) fn print<E: Endpoint>(global: &GlobalArgs, endpoint: &E) -> Result<(), Failure>
where
    E::Output: Serialize,
{
    output::json(&call(global, endpoint)?)
}

impl Api {
    fn call<E: Endpoint>(&self, endpoint: &E) -> Result<E::Output, Failure> {
        self.client_for(endpoint)?
            .execute(endpoint)
            .map_err(|e| Failure::client(&e))
    }
}

/// `kyc token`.
#[derive(Serialize)]
struct TokenOutput<'a> {
    token_type: &'a str,
    expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<&'a str>,
}

pub(crate) fn token(global: &GlobalArgs, args: &TokenArgs) -> Result<(), Failure> {
    let api = Api::new(global)?;
    let credentials = api.credentials()?;
    let request = RequestToken {
        credentials: &credentials,
    };
    let sent_at = SystemTime::now();
    let grant = api
        .client_for(&request)?
        .execute(&request)
        .map_err(|e| Failure::token(&e))?;
    output::json(&TokenOutput {
        token_type: &grant.token_type,
        expires_at: time::rfc3339(grant.expires_at(sent_at)),
        access_token: args.reveal.then(|| grant.access_token.expose_secret()),
    })
}

/// `kyc revoke`.
pub(crate) fn revoke(global: &GlobalArgs) -> Result<(), Failure> {
    let api = Api::new(global)?;
    let credentials = api.credentials()?;
    api.call(&RevokeToken {
        credentials: &credentials,
    })?;
    output::json(&serde_json::json!({"revoked": true}))
}

/// `kyc session create`: KYC, KYB (`--kyb`) or an employee's (`--company-id`).
pub(crate) fn create_session(global: &GlobalArgs, args: &CreateArgs) -> Result<(), Failure> {
    let method = match args.integration_method {
        MethodName::Api => IntegrationMethod::Api,
        MethodName::Web => IntegrationMethod::Web,
    };
    let country = Country::parse(&args.country);
    let flow = args.flow_type.as_deref().map(FlowType::parse);
    let terms = match (&args.terms_version, &args.terms_accepted_at) {
        (Some(version), Some(date)) => Some(TermsData::accepted(version.as_str(), date.as_str())),
        _ => None,
    };
    let key = idempotency_key(args.idempotency_key.as_deref())?;
    let personal = args
        .personal_data
        .as_deref()
        .map(|source| json_input::<PersonalData>("--personal-data", source, Shape::Object))
        .transpose()?;
    let user_id = args.user_id.as_deref().unwrap_or_default();
    let created = if args.kyb {
        // --terms-* over the file's.
        let create = kyb_data(args)?
            .create(country, terms)
            .integration_method(method);
        let create = match flow {
            Some(flow) => create.flow_type(flow),
            None => create,
        };
        call(global, &create.idempotency_key(key.clone()))?
    } else if let Some(company_id) = &args.company_id {
        let mut create = CreateAdditionalSession::new(company_id.as_str(), user_id, country);
        create.integration_method = method;
        if let Some(flow) = flow {
            create = create.flow_type(flow);
        }
        if let Some(personal) = personal {
            create = create.personal_data(personal);
        }
        call(global, &create.idempotency_key(key.clone()))?
    } else {
        let mut create = CreateSession::new(user_id, country).integration_method(method);
        if let Some(flow) = flow {
            create = create.flow_type(flow);
        }
        if let Some(personal) = personal {
            create = create.personal_data(personal);
        }
        if let Some(terms) = terms {
            create = create.terms_data(terms);
        }
        call(global, &create.idempotency_key(key.clone()))?
    };
    output::json(&Keyed {
        value: &created,
        idempotency_key: key.as_str(),
    })
}

/// The company, partners and terms of a KYB create, as `--data FILE.json` holds them:
/// `company`, `partners`, `terms_data`, and nothing else (a misspelt member is an error rather
/// than a partner list or terms silently left out).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KybData {
    pub(crate) company: Company,
    #[serde(default, deserialize_with = "list")]
    pub(crate) partners: Vec<Partner>,
    #[serde(default)]
    pub(crate) terms_data: Option<TermsData>,
}

/// A list that may be `null` (none).
fn list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Partner>, D::Error> {
    Ok(Option::<Vec<Partner>>::deserialize(d)?.unwrap_or_default())
}

impl KybData {
    /// The `kyb-cards` create of this company and its partners in `country`, with `terms` over
    /// the file's.
    pub(crate) fn create(self, country: Country, terms: Option<TermsData>) -> CreateKybSession {
        let mut create = self
            .partners
            .into_iter()
            .fold(CreateKybSession::new(self.company, country), |c, p| {
                c.partner(p)
            });
        if let Some(terms) = terms.or(self.terms_data) {
            create = create.terms_data(terms);
        }
        create
    }
}

/// The company, partners and terms of `--data`, or of `--company` and `--partners`.
fn kyb_data(args: &CreateArgs) -> Result<KybData, Failure> {
    if let Some(source) = &args.data {
        return json_input("--data", source, Shape::Object);
    }
    match (&args.company, &args.partners) {
        (Some(company), Some(partners)) => Ok(KybData {
            company: json_input("--company", company, Shape::Object)?,
            partners: json_input("--partners", partners, Shape::Array)?,
            terms_data: None,
        }),
        _ => Err(Failure::invalid_input(
            "--kyb needs --company and --partners, or --data",
        )),
    }
}

/// A created object's JSON with the idempotency key it was created under.
#[derive(Serialize)]
struct Keyed<'a, T: Serialize> {
    #[serde(flatten)]
    value: &'a T,
    idempotency_key: &'a str,
}

/// `--idempotency-key`, or one drawn now so that it can be printed.
fn idempotency_key(given: Option<&str>) -> Result<IdempotencyKey, Failure> {
    match given {
        Some(key) => IdempotencyKey::new(key)
            .map_err(|e| Failure::invalid_input(format!("--idempotency-key: {e}"))),
        None => kyc_ureq::new_idempotency_key().map_err(|e| Failure::client(&e)),
    }
}

/// The JSON shape an input argument must have.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    Object,
    Array,
}

/// Reads a `FILE|-` argument holding JSON of `shape` into `T`. Errors name a position or a
/// member, never a value (values are personal data).
fn json_input<T: serde::de::DeserializeOwned>(
    what: &str,
    source: &str,
    shape: Shape,
) -> Result<T, Failure> {
    let bytes = input::read(what, source)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        Failure::invalid_input(format!(
            "{what} is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    match shape {
        Shape::Object if !value.is_object() => {
            return Err(Failure::invalid_input(format!(
                "{what} must be a JSON object"
            )));
        }
        Shape::Array if !value.is_array() => {
            return Err(Failure::invalid_input(format!(
                "{what} must be a JSON array"
            )));
        }
        _ => {}
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        // serde names a missing member in its message (`missing field `id``), never a value.
        let why = if inner.starts_with("missing field") {
            inner
                .split(" at line")
                .next()
                .unwrap_or_default()
                .to_owned()
        } else {
            "has the wrong type".to_owned()
        };
        Failure::invalid_input(format!("{what}: member `{path}` {why}"))
    })
}

/// `kyc session search`.
pub(crate) fn search(global: &GlobalArgs, args: &SearchArgs) -> Result<(), Failure> {
    let search = search_request(args)?;
    if args.all {
        let api = Api::new(global)?;
        let sessions = api
            .client_for(&search)?
            .search_all(search)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Failure::client(&e))?;
        return output::json(&sessions);
    }
    let page = call(global, &search)?;
    output::json(&Page {
        data: &page.sessions,
        meta: Meta {
            pagination: page.pagination.as_ref(),
        },
    })
}

/// One page of `kyc session search`, as the API sends it: `{"data": [...], "meta": {...}}`.
#[derive(Serialize)]
struct Page<'a> {
    data: &'a [Session],
    meta: Meta<'a>,
}

/// A page's `meta`: `{"pagination": {...}}`, or `{}` when the server sent no pagination.
#[derive(Serialize)]
struct Meta<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pagination: Option<&'a Pagination>,
}

fn search_request(args: &SearchArgs) -> Result<SearchSessions, Failure> {
    let mut search = SearchSessions::new();
    for status in &args.statuses {
        search = search.status(SessionStatus::parse(status));
    }
    if let Some(user_id) = &args.user_id {
        search = search.user_id(user_id.as_str());
    }
    if let Some(date) = &args.created_from {
        search = search.created_from(date_arg("--created-from", date)?);
    }
    if let Some(date) = &args.created_to {
        search = search.created_to(date_arg("--created-to", date)?);
    }
    for filter in &args.filters {
        let (field, value) = filter.split_once('=').ok_or_else(|| {
            Failure::invalid_input(format!("--filter `{filter}`: expected FIELD=VALUE"))
        })?;
        search = search.filter(field, value);
    }
    for sort in &args.sorts {
        search = search.sort(Sort::parse(sort));
    }
    if let Some(size) = args.page_size {
        search = search.page_size(size);
    }
    if let Some(page) = args.page {
        search = search.page_number(page);
    }
    Ok(search)
}

fn date_arg(option: &str, text: &str) -> Result<Date, Failure> {
    Date::parse(text).map_err(|e| Failure::invalid_input(format!("{option} `{text}`: {e}")))
}

/// `kyc upload`: through kyc-ureq's one upload entry, streamed from the path (opened once:
/// every retry reads the same file from its start, with a progress line of its own on a
/// terminal).
pub(crate) fn upload(global: &GlobalArgs, args: &UploadArgs) -> Result<(), Failure> {
    let api = Api::new(global)?;
    let path = args.file.as_path();
    let (leading, len) = measure(path)?;
    let mut upload = UploadFile::new(
        args.session.as_str(),
        args.entity.as_str(),
        DocumentType::parse(&args.document_type),
    )
    .kyb(args.kyb);
    if let Some(country) = &args.country {
        upload = upload.country(Country::parse(country));
    }
    if let Some(content_type) = &args.content_type {
        upload = upload.content_type(content_type.trim());
    }
    let key = idempotency_key(args.idempotency_key.as_deref())?;
    let upload = upload.idempotency_key(key.clone());
    // Checked as it will be sent (format, size, document type), before the credentials.
    let client = api.client_for(&upload.clone().with_stream(&leading, len))?;
    let source = Source::path(path);
    let info = if std::io::stderr().is_terminal() {
        let name = kyc_adapter::file_name_of(path);
        let bar = progress::upload_bar(len, &name);
        let shown = bar.clone();
        let result = client.upload(
            &upload,
            source.observed(move |reader| progress::observed(&shown, reader)),
        );
        // The finished line stays; a failed upload's bar is left where it stopped.
        if result.is_ok() {
            bar.finish();
        } else {
            bar.abandon();
        }
        result
    } else {
        client.upload(&upload, source)
    }
    .map_err(|e| Failure::client(&e))?;
    output::json(&Keyed {
        value: &info,
        idempotency_key: key.as_str(),
    })
}

/// The file's first bytes (for format detection) and its length.
fn measure(path: &std::path::Path) -> Result<(Vec<u8>, u64), Failure> {
    use std::io::Read as _;
    let open_failure =
        |e: std::io::Error| Failure::invalid_input(format!("cannot read {}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(open_failure)?;
    let len = file.metadata().map_err(open_failure)?.len();
    let mut leading = Vec::with_capacity(kyc_core::FileKind::SNIFF_LEN);
    file.take(kyc_core::FileKind::SNIFF_LEN as u64)
        .read_to_end(&mut leading)
        .map_err(open_failure)?;
    Ok((leading, len))
}

/// `kyc clean`.
pub(crate) fn clean(global: &GlobalArgs, args: &CleanArgs) -> Result<(), Failure> {
    let mut api = Api::new(global)?;
    if args.danger_allow_test_operations_on_any_host {
        api.config = config_with(global, |b| b.danger_allow_test_operations_on_any_host())?;
    }
    let document_number = match args.document_number.as_deref() {
        Some("-") => {
            let bytes = input::read("--document-number", "-")?;
            let text = String::from_utf8(bytes).map_err(|_| {
                Failure::invalid_input("--document-number -: stdin is not UTF-8 text")
            })?;
            Some(Pii::new(text.trim()))
        }
        other => other.map(Pii::new),
    };
    let clean = CleanValidations::new(args.user_id.clone(), document_number)?;
    output::json(&api.call(&clean)?)
}
