//! Configuration from environment variables: the reading is `kyc_adapter::env`'s, shared by both
//! adapters; this module only builds the client from it.

pub use kyc_adapter::env::{
    ENV_AUDIENCE, ENV_BASE_URL, ENV_CANCEL_SESSION_PATH, ENV_CLEAN_VALIDATIONS_PATH, ENV_CLIENT_ID,
    ENV_CLIENT_SECRET, ENV_ENVIRONMENT, ENV_FIRST_PAGE, ENV_GET_SESSION_PATH, ENV_MAX_PAGES,
    ENV_SEARCH_SESSIONS_PATH, FromEnvError, SETTINGS, Setting,
};

use crate::client::{Client, ClientBuilder};

impl ClientBuilder {
    /// A builder configured from `POMELO_CLIENT_ID`, `POMELO_CLIENT_SECRET` (required),
    /// `POMELO_ENV` (`production`, `sandbox` or `stage`; default `sandbox`), and every optional
    /// override in [`SETTINGS`]: `POMELO_BASE_URL`, `POMELO_AUDIENCE`, the path templates
    /// (`POMELO_GET_SESSION_PATH`, `POMELO_CANCEL_SESSION_PATH`, `POMELO_SEARCH_SESSIONS_PATH`,
    /// `POMELO_CLEAN_VALIDATIONS_PATH`), `POMELO_FIRST_PAGE` and `POMELO_MAX_PAGES`. `kyc` reads
    /// the same variables.
    ///
    /// # Errors
    ///
    /// [`FromEnvError`] for a missing variable, or one whose value is refused (it names it).
    pub fn from_env() -> Result<ClientBuilder, FromEnvError> {
        let (config, credentials) = kyc_adapter::env::from_process_env()?;
        Ok(Client::builder(config, credentials))
    }
}

impl Client {
    /// A client with every default, configured from the environment as
    /// [`ClientBuilder::from_env`] says.
    ///
    /// # Errors
    ///
    /// [`FromEnvError`] for a missing or unusable variable.
    pub fn from_env() -> Result<Client, FromEnvError> {
        ClientBuilder::from_env().map(ClientBuilder::build)
    }
}
