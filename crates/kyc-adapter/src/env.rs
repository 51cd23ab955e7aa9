//! Configuration from environment variables: `POMELO_CLIENT_ID`, `POMELO_CLIENT_SECRET`,
//! `POMELO_ENV`, `POMELO_BASE_URL`, `POMELO_AUDIENCE`.

use std::fmt;

use kyc_core::{Config, Credentials, Environment, InvalidInput};

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
    Config(InvalidInput),
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

/// Reads the variables through `lookup` (the process environment in production, a map in tests):
/// `POMELO_CLIENT_ID`, `POMELO_CLIENT_SECRET` (required), `POMELO_ENV` (`production`, `sandbox`
/// or `stage`; default `sandbox`), `POMELO_BASE_URL` and `POMELO_AUDIENCE` (optional overrides).
///
/// # Errors
///
/// [`FromEnvError`] for a missing or unusable variable, or what `lookup` reports.
pub fn from_lookup(
    lookup: impl Fn(&'static str) -> Result<Option<String>, FromEnvError>,
) -> Result<(Config, Credentials), FromEnvError> {
    let present = |name| -> Result<Option<String>, FromEnvError> {
        Ok(lookup(name)?.filter(|v| !v.trim().is_empty()))
    };
    let required = |name| present(name)?.ok_or(FromEnvError::Missing { variable: name });
    let client_id = required(ENV_CLIENT_ID)?;
    let client_secret = required(ENV_CLIENT_SECRET)?;
    let environment = match present(ENV_ENVIRONMENT)? {
        None => Environment::Sandbox,
        Some(name) => Environment::from_name(&name).ok_or(FromEnvError::Invalid {
            variable: ENV_ENVIRONMENT,
            reason: "expected production, sandbox or stage",
        })?,
    };
    let mut builder = Config::builder(environment);
    if let Some(url) = present(ENV_BASE_URL)? {
        builder = builder.base_url(url.trim());
    }
    if let Some(audience) = present(ENV_AUDIENCE)? {
        builder = builder.audience(audience.trim());
    }
    let config = builder.build().map_err(FromEnvError::Config)?;
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
            Err(FromEnvError::Config(InvalidInput::InsecureBaseUrl))
        ));
    }
}
