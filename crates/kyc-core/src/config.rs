//! Where the client talks to: environment, base URL, OAuth audience, the paths the reference leaves
//! uncertain, and the limits the library enforces before sending.

use core::net::IpAddr;
use std::fmt;
use std::time::Duration;

use url::Url;

use crate::error::{ConfigError, InvalidInput};

/// Which Pomelo environment to call (API reference §2).
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum Environment {
    /// `https://api.pomelo.la`, audience `https://auth.pomelo.la`.
    Production,
    /// `https://api-sandbox.pomelo.la`, audience `https://auth-staging.pomelo.la`.
    Sandbox,
    /// `https://api-stage.pomelo.la`. Pomelo does not publish its audience; the staging audience is
    /// the default and [`ConfigBuilder::audience`] overrides it.
    Stage,
    /// Any base URL and audience: a proxy, a regional host, or the local simulator.
    Custom {
        /// The API base URL (may carry a path prefix).
        base_url: String,
        /// The OAuth audience.
        audience: String,
    },
}

impl Environment {
    fn defaults(&self) -> (&str, &str) {
        match self {
            Environment::Production => ("https://api.pomelo.la", "https://auth.pomelo.la"),
            Environment::Sandbox => (
                "https://api-sandbox.pomelo.la",
                "https://auth-staging.pomelo.la",
            ),
            Environment::Stage => (
                "https://api-stage.pomelo.la",
                "https://auth-staging.pomelo.la",
            ),
            Environment::Custom { base_url, audience } => (base_url, audience),
        }
    }

    /// Reads `production`, `sandbox` or `stage` (any case); `None` for anything else.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        match name.trim().to_ascii_lowercase().as_str() {
            "production" | "prod" => Some(Environment::Production),
            "sandbox" => Some(Environment::Sandbox),
            "stage" | "staging" => Some(Environment::Stage),
            _ => None,
        }
    }
}

/// Path templates for the operations whose path the reference leaves uncertain (decision 10).
/// `{session_id}` is replaced by the percent-encoded session id.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Paths {
    /// Get session; default `/identity/v1/sessions/{session_id}` (decision 1).
    pub get_session: String,
    /// Cancel session; default `/identity/v1/sessions/{session_id}` (decision 2).
    pub cancel_session: String,
    /// Search sessions; default `/identity/v1/sessions` (decision 4).
    pub search_sessions: String,
    /// Clean validations; default `/clean_validations` (decision 5).
    pub clean_validations: String,
}

impl Default for Paths {
    fn default() -> Self {
        Self {
            get_session: "/identity/v1/sessions/{session_id}".to_owned(),
            cancel_session: "/identity/v1/sessions/{session_id}".to_owned(),
            search_sessions: "/identity/v1/sessions".to_owned(),
            clean_validations: "/clean_validations".to_owned(),
        }
    }
}

/// Default upload limit: 16 MiB. Pomelo publishes none (reference §10); identity photos and PDFs
/// are far smaller, and the limit is configurable.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 16 * 1024 * 1024;

/// Default safety margin before a token's expiry at which it is no longer handed out.
pub const DEFAULT_TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// Default cap on the pages one walk over a search fetches ([`Pager`](crate::Pager)): 1,000
/// (100,000 sessions at the largest page size).
pub const DEFAULT_MAX_PAGES: u32 = 1000;

/// A validated client configuration. Build it with [`Config::builder`] or [`Config::new`].
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    pub(crate) environment: Environment,
    pub(crate) base_url: Url,
    pub(crate) audience: String,
    pub(crate) paths: Paths,
    pub(crate) max_upload_bytes: u64,
    pub(crate) token_margin: Duration,
    pub(crate) first_page: u32,
    pub(crate) max_pages: u32,
    pub(crate) test_operations_anywhere: bool,
    /// The base URL parsed once as a request target: every request reuses its scheme and
    /// authority (reference-counted, not parsed again) and prefixes its path.
    pub(crate) origin: Origin,
}

/// The parts of the base URL every request target shares.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) struct Origin {
    scheme: http::uri::Scheme,
    authority: http::uri::Authority,
    /// The base URL's path without its trailing `/` (empty for most configurations).
    prefix: String,
}

impl Origin {
    fn parse(base_url: &Url) -> Result<Self, ConfigError> {
        let invalid = ConfigError::InvalidBaseUrl {
            reason: "the URL is not a valid request target",
        };
        let parts = http::Uri::try_from(base_url.as_str())
            .map_err(|_| invalid.clone())?
            .into_parts();
        let (Some(scheme), Some(authority)) = (parts.scheme, parts.authority) else {
            return Err(invalid);
        };
        let prefix = parts
            .path_and_query
            .as_ref()
            .map_or("", |p| p.path())
            .trim_end_matches('/')
            .to_owned();
        Ok(Self {
            scheme,
            authority,
            prefix,
        })
    }
}

/// The hosts of Pomelo's test environments, where test-only operations may run.
const TEST_HOSTS: [&str; 2] = ["api-sandbox.pomelo.la", "api-stage.pomelo.la"];

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("base_url", &self.base_url.as_str())
            .field("audience", &self.audience)
            .field("paths", &self.paths)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("token_margin", &self.token_margin)
            .field("first_page", &self.first_page)
            .field("max_pages", &self.max_pages)
            .field("test_operations_anywhere", &self.test_operations_anywhere)
            .finish()
    }
}

impl Config {
    /// The configuration of a named environment with every default.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidBaseUrl`] or [`ConfigError::InsecureBaseUrl`] for a
    /// [`Environment::Custom`] base URL that is not usable.
    pub fn new(environment: Environment) -> Result<Self, ConfigError> {
        Self::builder(environment).build()
    }

    /// Starts a configuration for `environment`.
    pub fn builder(environment: Environment) -> ConfigBuilder {
        ConfigBuilder {
            environment,
            base_url: None,
            audience: None,
            paths: Paths::default(),
            max_upload_bytes: DEFAULT_MAX_UPLOAD_BYTES,
            token_margin: DEFAULT_TOKEN_MARGIN,
            first_page: 0,
            max_pages: DEFAULT_MAX_PAGES,
            allow_insecure_http: false,
            test_operations_anywhere: false,
        }
    }

    /// The API base URL every path is appended to.
    #[must_use]
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The OAuth audience sent with token requests.
    #[must_use]
    pub fn audience(&self) -> &str {
        &self.audience
    }

    /// The configured environment.
    #[must_use]
    pub fn environment(&self) -> &Environment {
        &self.environment
    }

    /// The path templates in use.
    #[must_use]
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Largest file [`crate::UploadFile`] accepts, in bytes.
    #[must_use]
    pub fn max_upload_bytes(&self) -> u64 {
        self.max_upload_bytes
    }

    /// How long before its expiry a cached token stops being handed out.
    #[must_use]
    pub fn token_margin(&self) -> Duration {
        self.token_margin
    }

    /// The number of a search's first page: `0` (the default, decision 4) or `1`.
    #[must_use]
    pub fn first_page(&self) -> u32 {
        self.first_page
    }

    /// The most pages one walk over a search fetches.
    #[must_use]
    pub fn max_pages(&self) -> u32 {
        self.max_pages
    }

    /// Whether this configuration may target Pomelo's production API: the production
    /// environment, or any host that is not one of Pomelo's test hosts nor loopback (compared
    /// without case and without a trailing dot), unless
    /// [`ConfigBuilder::danger_allow_test_operations_on_any_host`] was set. Test-only operations
    /// (clean validations) refuse to run then: an allow-list, so that a proxy, an IP address or a
    /// spelling of production's host cannot slip through.
    #[must_use]
    pub fn is_production(&self) -> bool {
        if self.test_operations_anywhere {
            return false;
        }
        if matches!(self.environment, Environment::Production) {
            return true;
        }
        let host = self
            .base_url
            .host_str()
            .unwrap_or_default()
            .trim_end_matches('.')
            .to_ascii_lowercase();
        !(is_loopback(&self.base_url) || TEST_HOSTS.contains(&host.as_str()))
    }

    /// Joins the base URL with an already-encoded path and query (`/a/b?x=y`).
    /// The request target for `path_and_query` (which starts with `/`), under the base URL.
    ///
    /// Built from the parts parsed once in [`ConfigBuilder::build`]: only the path is checked
    /// here (parsing the whole URL again cost a tenth of `build_request`, issue #13 target 5).
    pub(crate) fn uri(&self, path_and_query: String) -> Result<http::Uri, InvalidInput> {
        let origin = &self.origin;
        let path = if origin.prefix.is_empty() {
            path_and_query
        } else {
            let mut joined = String::with_capacity(origin.prefix.len() + path_and_query.len());
            joined.push_str(&origin.prefix);
            joined.push_str(&path_and_query);
            joined
        };
        let invalid = || InvalidInput::InvalidRequestTarget;
        let path = http::uri::PathAndQuery::from_maybe_shared(bytes::Bytes::from(path))
            .map_err(|_| invalid())?;
        let mut parts = http::uri::Parts::default();
        parts.scheme = Some(origin.scheme.clone());
        parts.authority = Some(origin.authority.clone());
        parts.path_and_query = Some(path);
        http::Uri::from_parts(parts).map_err(|_| invalid())
    }

    /// The URL for `path_and_query`, as text.
    #[cfg(test)]
    pub(crate) fn url(&self, path_and_query: &str) -> String {
        self.uri(path_and_query.to_owned())
            .map(|u| u.to_string())
            .unwrap_or_default()
    }
}

/// Builds a [`Config`]; every setting has a default.
#[derive(Clone, Debug)]
#[must_use]
pub struct ConfigBuilder {
    environment: Environment,
    base_url: Option<String>,
    audience: Option<String>,
    paths: Paths,
    max_upload_bytes: u64,
    token_margin: Duration,
    first_page: u32,
    max_pages: u32,
    allow_insecure_http: bool,
    test_operations_anywhere: bool,
}

impl ConfigBuilder {
    /// Overrides the environment's base URL (for example a proxy, or `POMELO_BASE_URL`).
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Overrides the environment's OAuth audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Overrides the get-session path template (must contain `{session_id}`).
    pub fn get_session_path(mut self, template: impl Into<String>) -> Self {
        self.paths.get_session = template.into();
        self
    }

    /// Overrides the cancel-session path template (must contain `{session_id}`).
    pub fn cancel_session_path(mut self, template: impl Into<String>) -> Self {
        self.paths.cancel_session = template.into();
        self
    }

    /// Overrides the search-sessions path.
    pub fn search_sessions_path(mut self, path: impl Into<String>) -> Self {
        self.paths.search_sessions = path.into();
        self
    }

    /// Overrides the clean-validations path.
    pub fn clean_validations_path(mut self, path: impl Into<String>) -> Self {
        self.paths.clean_validations = path.into();
        self
    }

    /// Sets the largest file an upload accepts, in bytes.
    pub fn max_upload_bytes(mut self, limit: u64) -> Self {
        self.max_upload_bytes = limit;
        self
    }

    /// Sets how long before expiry a cached token is replaced.
    pub fn token_margin(mut self, margin: Duration) -> Self {
        self.token_margin = margin;
        self
    }

    /// Sets the number of a search's first page: `0` (default) or `1`, for a server that numbers
    /// pages from 1.
    pub fn first_page(mut self, first: u32) -> Self {
        self.first_page = first;
        self
    }

    /// Sets the most pages one walk over a search fetches (at least 1).
    pub fn max_pages(mut self, pages: u32) -> Self {
        self.max_pages = pages;
        self
    }

    /// Allows test-only operations (clean validations) on a host that is not one of Pomelo's
    /// test hosts nor loopback: a proxy in front of the sandbox, say. If that host leads to
    /// production, the operation deletes real validations.
    pub fn danger_allow_test_operations_on_any_host(mut self) -> Self {
        self.test_operations_anywhere = true;
        self
    }

    /// Allows a plain `http://` base URL on a non-loopback host. Tokens and personal data then
    /// travel unencrypted: only for a trusted network, e.g. a TLS-terminating sidecar.
    pub fn danger_allow_insecure_http(mut self) -> Self {
        self.allow_insecure_http = true;
        self
    }

    /// Validates and builds the configuration.
    ///
    /// # Errors
    ///
    /// - [`ConfigError::InvalidBaseUrl`]: not a URL, no host, a query, fragment or credentials.
    /// - [`ConfigError::InsecureBaseUrl`]: `http://` to a non-loopback host without
    ///   [`ConfigBuilder::danger_allow_insecure_http`].
    /// - [`ConfigError::InvalidPathTemplate`]: a path that does not start with `/`, contains `?`
    ///   or `#`, or a get/cancel template without `{session_id}`.
    /// - [`ConfigError::Empty`]: an empty audience.
    /// - [`ConfigError::InvalidSetting`]: a first page other than 0 or 1, a page cap of 0.
    pub fn build(self) -> Result<Config, ConfigError> {
        let (default_url, default_audience) = self.environment.defaults();
        let raw_url = self.base_url.as_deref().unwrap_or(default_url);
        let audience = self
            .audience
            .as_deref()
            .unwrap_or(default_audience)
            .to_owned();
        let base_url = validate_base_url(raw_url, self.allow_insecure_http)?;
        let origin = Origin::parse(&base_url)?;
        if audience.trim().is_empty() {
            return Err(ConfigError::Empty { what: "audience" });
        }
        let p = &self.paths;
        validate_template("get session", &p.get_session, true)?;
        validate_template("cancel session", &p.cancel_session, true)?;
        validate_template("search sessions", &p.search_sessions, false)?;
        validate_template("clean validations", &p.clean_validations, false)?;
        if self.first_page > 1 {
            return Err(ConfigError::InvalidSetting {
                setting: "first page",
                reason: "must be 0 or 1",
            });
        }
        if self.max_pages == 0 {
            return Err(ConfigError::InvalidSetting {
                setting: "max pages",
                reason: "must be at least 1",
            });
        }
        Ok(Config {
            environment: self.environment,
            base_url,
            audience,
            paths: self.paths,
            max_upload_bytes: self.max_upload_bytes,
            token_margin: self.token_margin,
            first_page: self.first_page,
            max_pages: self.max_pages,
            test_operations_anywhere: self.test_operations_anywhere,
            origin,
        })
    }
}

fn validate_base_url(raw: &str, allow_insecure_http: bool) -> Result<Url, ConfigError> {
    let invalid = |reason| ConfigError::InvalidBaseUrl { reason };
    let url = Url::parse(raw.trim()).map_err(|_| invalid("not an absolute URL"))?;
    if url.cannot_be_a_base() || url.host().is_none() {
        return Err(invalid("the URL has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("the URL must not have a query or fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("the URL must not carry credentials"));
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if allow_insecure_http || is_loopback(&url) => Ok(url),
        "http" => Err(ConfigError::InsecureBaseUrl),
        _ => Err(invalid("the scheme must be https (or http to loopback)")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

fn validate_template(
    operation: &'static str,
    template: &str,
    needs_session_id: bool,
) -> Result<(), ConfigError> {
    let invalid = |reason| ConfigError::InvalidPathTemplate { operation, reason };
    if !template.starts_with('/') {
        return Err(invalid("must start with /"));
    }
    if template.contains(['?', '#'])
        || template
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(invalid("must not contain ?, # or white space"));
    }
    if needs_session_id && !template.contains("{session_id}") {
        return Err(invalid("must contain {session_id}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_environments_have_the_documented_hosts_and_audiences() {
        let prod = Config::new(Environment::Production).unwrap();
        assert_eq!(prod.base_url().as_str(), "https://api.pomelo.la/");
        assert_eq!(prod.audience(), "https://auth.pomelo.la");
        assert!(prod.is_production());
        let sandbox = Config::new(Environment::Sandbox).unwrap();
        assert_eq!(
            sandbox.url("/oauth/token"),
            "https://api-sandbox.pomelo.la/oauth/token"
        );
        assert_eq!(sandbox.audience(), "https://auth-staging.pomelo.la");
        assert!(!sandbox.is_production());
    }

    #[test]
    fn plain_http_only_for_loopback_or_with_the_danger_switch() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9/prefix",
        ] {
            let b = Config::builder(Environment::Sandbox).base_url(ok);
            assert!(b.build().is_ok(), "{ok}");
        }
        let remote = Config::builder(Environment::Sandbox).base_url("http://example.com");
        assert_eq!(remote.clone().build(), Err(ConfigError::InsecureBaseUrl));
        assert!(remote.danger_allow_insecure_http().build().is_ok());
        for bad in [
            "ftp://x",
            "not a url",
            "https://u:p@h",
            "https://h/?q=1",
            "mailto:a@b",
        ] {
            let b = Config::builder(Environment::Sandbox).base_url(bad);
            assert!(
                matches!(b.build(), Err(ConfigError::InvalidBaseUrl { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_prefix_in_the_base_url_is_kept() {
        let c = Config::builder(Environment::Sandbox)
            .base_url("https://proxy.example/pomelo/")
            .build()
            .unwrap();
        assert_eq!(
            c.url("/oauth/token"),
            "https://proxy.example/pomelo/oauth/token"
        );
    }

    #[test]
    fn path_templates_are_checked() {
        let b = Config::builder(Environment::Sandbox).get_session_path("/identity/v1/session/");
        assert!(matches!(
            b.build(),
            Err(ConfigError::InvalidPathTemplate { .. })
        ));
        let b = Config::builder(Environment::Sandbox)
            .get_session_path("/identity/v1/session/{session_id}");
        assert_eq!(
            b.build().unwrap().paths().get_session,
            "/identity/v1/session/{session_id}"
        );
    }

    #[test]
    fn only_test_hosts_and_loopback_allow_test_operations() {
        let production = |url: &str| {
            Config::builder(Environment::Sandbox)
                .base_url(url)
                .build()
                .unwrap()
                .is_production()
        };
        for url in [
            "https://api.pomelo.la",
            "https://api.pomelo.la.",
            "https://API.Pomelo.LA",
            "https://52.0.20.124",
            "https://pomelo-proxy.example.com",
        ] {
            assert!(production(url), "{url}");
        }
        for url in [
            "https://api-sandbox.pomelo.la",
            "https://API-SANDBOX.pomelo.la.",
            "https://api-stage.pomelo.la",
            "http://127.0.0.1:8080",
            "http://localhost:1",
        ] {
            assert!(!production(url), "{url}");
        }
        assert!(
            Config::new(Environment::Production)
                .unwrap()
                .is_production()
        );
        let proxy = Config::builder(Environment::Sandbox)
            .base_url("https://pomelo-proxy.example.com")
            .danger_allow_test_operations_on_any_host()
            .build()
            .unwrap();
        assert!(!proxy.is_production());
    }
}
