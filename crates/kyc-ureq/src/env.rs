//! Configuration from environment variables: the reading is `kyc_adapter::env`'s, shared by both
//! adapters; this module only builds the client from it.

pub use kyc_adapter::env::{
    ENV_AUDIENCE, ENV_BASE_URL, ENV_CLIENT_ID, ENV_CLIENT_SECRET, ENV_ENVIRONMENT, FromEnvError,
};

use crate::client::{Client, ClientBuilder};

impl ClientBuilder {
    /// A builder configured from `POMELO_CLIENT_ID`, `POMELO_CLIENT_SECRET` (required),
    /// `POMELO_ENV` (`production`, `sandbox` or `stage`; default `sandbox`), `POMELO_BASE_URL` and
    /// `POMELO_AUDIENCE` (optional overrides).
    ///
    /// # Errors
    ///
    /// [`FromEnvError`] for a missing or unusable variable.
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
