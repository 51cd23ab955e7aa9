//! Configuration from `POMELO_*` variables: the one reader of them, for both adapters'
//! `from_env` and for `kyc`, whose options feed the same lookup ([`SETTINGS`] pairs each variable
//! with its option). Every choice this project made where Pomelo's reference is silent can be
//! changed here without a release.

use std::fmt;

use kyc_core::{Config, ConfigBuilder, ConfigError, Credentials, Environment};

/// The client id variable (required).
pub const ENV_CLIENT_ID: &str = "POMELO_CLIENT_ID";
/// The client secret variable (required).
pub const ENV_CLIENT_SECRET: &str = "POMELO_CLIENT_SECRET";
/// The environment variable: `production`, `sandbox` or `stage` (default `sandbox`).
pub const ENV_ENVIRONMENT: &str = "POMELO_ENV";
/// The base URL variable (optional): overrides the environment's host, e.g. the local simulator.
pub const ENV_BASE_URL: &str = "POMELO_BASE_URL";
/// The OAuth audience variable (optional): overrides the environment's audience.
pub const ENV_AUDIENCE: &str = "POMELO_AUDIENCE";
/// The get-session path template (optional; decision 1), e.g. `/identity/v1/session/{session_id}`.
pub const ENV_GET_SESSION_PATH: &str = "POMELO_GET_SESSION_PATH";
/// The cancel-session path template (optional; decision 2).
pub const ENV_CANCEL_SESSION_PATH: &str = "POMELO_CANCEL_SESSION_PATH";
/// The search-sessions path (optional; decision 4).
pub const ENV_SEARCH_SESSIONS_PATH: &str = "POMELO_SEARCH_SESSIONS_PATH";
/// The clean-validations path (optional; decision 5).
pub const ENV_CLEAN_VALIDATIONS_PATH: &str = "POMELO_CLEAN_VALIDATIONS_PATH";
/// The number of a search's first page, `0` or `1` (optional; decision 4, default `0`).
pub const ENV_FIRST_PAGE: &str = "POMELO_FIRST_PAGE";
/// The most pages one walk over a search fetches (optional; default 1000).
pub const ENV_MAX_PAGES: &str = "POMELO_MAX_PAGES";

/// One configuration setting: its variable, the `kyc` option that sets the same value, and what it
/// is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct Setting {
    /// The environment variable.
    pub variable: &'static str,
    /// The `kyc` option (global, before or after the command).
    pub flag: &'static str,
    /// What it sets.
    pub what: &'static str,
}

/// Every configuration setting but the credentials, in the order `kyc --help` lists them.
pub const SETTINGS: &[Setting] = &[
    Setting {
        variable: ENV_ENVIRONMENT,
        flag: "--env",
        what: "production, sandbox or stage (default sandbox)",
    },
    Setting {
        variable: ENV_BASE_URL,
        flag: "--base-url",
        what: "the API base URL, overriding the environment's",
    },
    Setting {
        variable: ENV_AUDIENCE,
        flag: "--audience",
        what: "the OAuth audience, overriding the environment's",
    },
    Setting {
        variable: ENV_GET_SESSION_PATH,
        flag: "--get-session-path",
        what: "get-session path template, with {session_id}",
    },
    Setting {
        variable: ENV_CANCEL_SESSION_PATH,
        flag: "--cancel-session-path",
        what: "cancel-session path template, with {session_id}",
    },
    Setting {
        variable: ENV_SEARCH_SESSIONS_PATH,
        flag: "--search-sessions-path",
        what: "search-sessions path",
    },
    Setting {
        variable: ENV_CLEAN_VALIDATIONS_PATH,
        flag: "--clean-validations-path",
        what: "clean-validations path",
    },
    Setting {
        variable: ENV_FIRST_PAGE,
        flag: "--first-page",
        what: "the number of a search's first page: 0 or 1 (default 0)",
    },
    Setting {
        variable: ENV_MAX_PAGES,
        flag: "--max-pages",
        what: "the most pages one search walk fetches (default 1000)",
    },
];

/// The [`Setting`] of `variable`.
#[must_use]
pub fn setting(variable: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.variable == variable)
}

/// Why a client could not be configured from the environment. Never shows a variable's value.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub enum FromEnvError {
    /// A required variable is unset or empty.
    Missing {
        /// The variable's name.
        variable: &'static str,
    },
    /// A variable's value is unusable.
    Invalid {
        /// The variable's name.
        variable: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The configuration built from the variables is refused (e.g. a base URL that is not https).
    Config(ConfigError),
}

impl fmt::Display for FromEnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FromEnvError::Missing { variable } => write!(f, "{variable} is not set"),
            FromEnvError::Invalid { variable, reason } => write!(f, "{variable}: {reason}"),
            FromEnvError::Config(e) => write!(f, "configuration from the environment: {e}"),
        }
    }
}

impl std::error::Error for FromEnvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            FromEnvError::Config(e) => Some(e),
            _ => None,
        }
    }
}

/// Reads the configuration through `lookup` (the process environment, a map in tests, or `kyc`'s
/// options): `POMELO_ENV` (`production`, `sandbox` or `stage`; default `sandbox`) and every
/// optional override in [`SETTINGS`]. A blank value is unset.
///
/// # Errors
///
/// [`FromEnvError::Invalid`] naming the variable whose value is refused, or what `lookup`
/// reports.
pub fn config_from_lookup(
    lookup: &impl Fn(&'static str) -> Result<Option<String>, FromEnvError>,
) -> Result<Config, FromEnvError> {
    build(builder_from_lookup(lookup)?)
}

/// As [`config_from_lookup`], the builder before it is built (to add settings no variable
/// holds, such as a `danger_` opt-in).
///
/// # Errors
///
/// [`FromEnvError::Invalid`] naming the variable whose value is refused.
pub fn builder_from_lookup(
    lookup: &impl Fn(&'static str) -> Result<Option<String>, FromEnvError>,
) -> Result<ConfigBuilder, FromEnvError> {
    let present = |name| -> Result<Option<String>, FromEnvError> {
        Ok(lookup(name)?
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty()))
    };
    let environment = match present(ENV_ENVIRONMENT)? {
        None => Environment::Sandbox,
        Some(name) => Environment::from_name(&name).ok_or(FromEnvError::Invalid {
            variable: ENV_ENVIRONMENT,
            reason: "expected production, sandbox or stage",
        })?,
    };
    let mut builder = Config::builder(environment);
    let overrides: [(&'static str, Override); 6] = [
        (ENV_BASE_URL, ConfigBuilder::base_url),
        (ENV_AUDIENCE, ConfigBuilder::audience),
        (ENV_GET_SESSION_PATH, ConfigBuilder::get_session_path),
        (ENV_CANCEL_SESSION_PATH, ConfigBuilder::cancel_session_path),
        (
            ENV_SEARCH_SESSIONS_PATH,
            ConfigBuilder::search_sessions_path,
        ),
        (
            ENV_CLEAN_VALIDATIONS_PATH,
            ConfigBuilder::clean_validations_path,
        ),
    ];
    for (variable, set) in overrides {
        if let Some(value) = present(variable)? {
            builder = set(builder, value);
        }
    }
    if let Some(first) = present(ENV_FIRST_PAGE)? {
        let first = match first.as_str() {
            "0" => 0,
            "1" => 1,
            _ => {
                return Err(FromEnvError::Invalid {
                    variable: ENV_FIRST_PAGE,
                    reason: "expected 0 or 1",
                });
            }
        };
        builder = builder.first_page(first);
    }
    if let Some(pages) = present(ENV_MAX_PAGES)? {
        let pages = pages
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or(FromEnvError::Invalid {
                variable: ENV_MAX_PAGES,
                reason: "expected a whole number of pages, at least 1",
            })?;
        builder = builder.max_pages(pages);
    }
    Ok(builder)
}

/// Builds `builder`; a refused value is blamed on the variable that gave it.
///
/// # Errors
///
/// [`FromEnvError::Invalid`] naming the variable, or [`FromEnvError::Config`].
pub fn build(builder: ConfigBuilder) -> Result<Config, FromEnvError> {
    builder.build().map_err(|e| match blame(&e) {
        Some(variable) => FromEnvError::Invalid {
            variable,
            reason: reason_of(&e),
        },
        None => FromEnvError::Config(e),
    })
}

/// A builder setter that takes a variable's value.
type Override = fn(ConfigBuilder, String) -> ConfigBuilder;

/// The variable whose value a configuration error is about.
fn blame(e: &ConfigError) -> Option<&'static str> {
    match e {
        ConfigError::InvalidBaseUrl { .. } | ConfigError::InsecureBaseUrl => Some(ENV_BASE_URL),
        ConfigError::Empty { what: "audience" } => Some(ENV_AUDIENCE),
        ConfigError::InvalidPathTemplate { operation, .. } => match *operation {
            "get session" => Some(ENV_GET_SESSION_PATH),
            "cancel session" => Some(ENV_CANCEL_SESSION_PATH),
            "search sessions" => Some(ENV_SEARCH_SESSIONS_PATH),
            "clean validations" => Some(ENV_CLEAN_VALIDATIONS_PATH),
            _ => None,
        },
        _ => None,
    }
}

fn reason_of(e: &ConfigError) -> &'static str {
    match e {
        ConfigError::InvalidBaseUrl { reason }
        | ConfigError::InvalidPathTemplate { reason, .. } => reason,
        ConfigError::InsecureBaseUrl => "plain http:// only to a loopback host",
        _ => "not a usable value",
    }
}

/// Reads the configuration and the credentials through `lookup`: `POMELO_CLIENT_ID` and
/// `POMELO_CLIENT_SECRET` (required), and everything [`config_from_lookup`] reads.
///
/// # Errors
///
/// [`FromEnvError`] for a missing or unusable variable, or what `lookup` reports.
pub fn from_lookup(
    lookup: impl Fn(&'static str) -> Result<Option<String>, FromEnvError>,
) -> Result<(Config, Credentials), FromEnvError> {
    let required = |name| -> Result<String, FromEnvError> {
        lookup(name)?
            .filter(|v| !v.trim().is_empty())
            .ok_or(FromEnvError::Missing { variable: name })
    };
    let client_id = required(ENV_CLIENT_ID)?;
    let client_secret = required(ENV_CLIENT_SECRET)?;
    let config = config_from_lookup(&lookup)?;
    Ok((config, Credentials::new(client_id.trim(), client_secret)))
}

/// Reads one variable of the process environment: `None` when unset.
///
/// # Errors
///
/// [`FromEnvError::Invalid`] when the value is not valid UTF-8.
pub fn process_env(name: &'static str) -> Result<Option<String>, FromEnvError> {
    match std::env::var(name) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(FromEnvError::Invalid {
            variable: name,
            reason: "not valid UTF-8",
        }),
    }
}

/// [`from_lookup`] over the process environment.
///
/// # Errors
///
/// [`FromEnvError`] for a missing or unusable variable.
pub fn from_process_env() -> Result<(Config, Credentials), FromEnvError> {
    from_lookup(process_env)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<(Config, Credentials), FromEnvError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        from_lookup(|name| Ok(map.get(name).cloned()))
    }

    #[test]
    fn defaults_to_sandbox_and_needs_both_credentials() {
        let (config, creds) =
            read(&[(ENV_CLIENT_ID, "cli"), (ENV_CLIENT_SECRET, "s3cret")]).unwrap();
        assert_eq!(config.base_url().as_str(), "https://api-sandbox.pomelo.la/");
        assert_eq!(creds.client_id, "cli");
        assert_eq!(creds.client_secret.expose_secret(), "s3cret");
        assert_eq!(
            read(&[(ENV_CLIENT_ID, "cli")]).unwrap_err(),
            FromEnvError::Missing {
                variable: ENV_CLIENT_SECRET
            }
        );
        assert_eq!(
            read(&[(ENV_CLIENT_ID, " "), (ENV_CLIENT_SECRET, "x")]).unwrap_err(),
            FromEnvError::Missing {
                variable: ENV_CLIENT_ID
            }
        );
    }

    #[test]
    fn every_guess_is_overridden_and_a_bad_value_names_its_variable() {
        let base = [(ENV_CLIENT_ID, "cli"), (ENV_CLIENT_SECRET, "s")];
        let (config, _) = read(&[
            base[0],
            base[1],
            (ENV_GET_SESSION_PATH, "/identity/v1/session/{session_id}"),
            (ENV_CANCEL_SESSION_PATH, "/identity/v1/session/{session_id}"),
            (ENV_SEARCH_SESSIONS_PATH, "/identity/v1/sessions/search"),
            (ENV_CLEAN_VALIDATIONS_PATH, "/identity/v1/clean_validations"),
            (ENV_FIRST_PAGE, "1"),
            (ENV_MAX_PAGES, " 25 "),
        ])
        .unwrap();
        assert_eq!(
            config.paths().get_session,
            "/identity/v1/session/{session_id}"
        );
        assert_eq!(
            config.paths().cancel_session,
            "/identity/v1/session/{session_id}"
        );
        assert_eq!(
            config.paths().search_sessions,
            "/identity/v1/sessions/search"
        );
        assert_eq!(
            config.paths().clean_validations,
            "/identity/v1/clean_validations"
        );
        assert_eq!((config.first_page(), config.max_pages()), (1, 25));
        for (variable, value) in [
            (ENV_GET_SESSION_PATH, "/identity/v1/session/"),
            (ENV_SEARCH_SESSIONS_PATH, "identity/v1/sessions"),
            (ENV_FIRST_PAGE, "2"),
            (ENV_MAX_PAGES, "0"),
            (ENV_BASE_URL, "ftp://x"),
        ] {
            match read(&[base[0], base[1], (variable, value)]) {
                Err(FromEnvError::Invalid { variable: v, .. }) => assert_eq!(v, variable),
                other => panic!("{variable}={value}: {other:?}"),
            }
        }
        for s in SETTINGS {
            assert_eq!(setting(s.variable), Some(s));
            assert!(s.flag.starts_with("--"));
        }
    }

    #[test]
    fn environment_base_url_and_audience_are_read() {
        let base = [(ENV_CLIENT_ID, "cli"), (ENV_CLIENT_SECRET, "s")];
        let (prod, _) = read(&[base[0], base[1], (ENV_ENVIRONMENT, "production")]).unwrap();
        assert!(prod.is_production());
        let (local, _) = read(&[
            base[0],
            base[1],
            (ENV_BASE_URL, "http://127.0.0.1:9000"),
            (ENV_AUDIENCE, "https://aud"),
        ])
        .unwrap();
        assert_eq!(local.base_url().as_str(), "http://127.0.0.1:9000/");
        assert_eq!(local.audience(), "https://aud");
        assert!(matches!(
            read(&[base[0], base[1], (ENV_ENVIRONMENT, "moon")]),
            Err(FromEnvError::Invalid {
                variable: ENV_ENVIRONMENT,
                ..
            })
        ));
        assert!(matches!(
            read(&[base[0], base[1], (ENV_BASE_URL, "http://example.com")]),
            Err(FromEnvError::Invalid {
                variable: ENV_BASE_URL,
                ..
            })
        ));
    }
}
