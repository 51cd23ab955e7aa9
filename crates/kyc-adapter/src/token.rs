//! What a client's `token()` returns.

use std::time::SystemTime;

use kyc_core::{AccessToken, TokenCache};

/// The current access token, its type and when it expires, as a client's `token()` returns it.
#[derive(Clone, PartialEq, Eq, Debug)]
#[non_exhaustive]
pub struct TokenInfo {
    /// The bearer token (`Debug` redacts it).
    pub access_token: AccessToken,
    /// The token type the server gave (`Bearer` when it gave none).
    pub token_type: String,
    /// When it expires, as the token response said.
    pub expires_at: Option<SystemTime>,
}

impl TokenInfo {
    /// `token` with the type and expiry `cache` holds for it.
    #[must_use]
    pub fn from_cache(cache: &TokenCache, token: &AccessToken) -> Self {
        Self {
            access_token: token.clone(),
            token_type: cache.token_type().unwrap_or("Bearer").to_owned(),
            expires_at: cache.expires_at(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kyc_core::{RequestToken, parse_response};
    use std::time::{Duration, UNIX_EPOCH};

    fn cache_with(body: &str) -> (TokenCache, AccessToken) {
        let response = http::Response::builder()
            .status(200)
            .body(body.as_bytes().to_vec())
            .unwrap();
        let grant = parse_response::<RequestToken<'_>, _>(&response).unwrap();
        let mut cache = TokenCache::new(Duration::from_secs(60));
        let token = cache.store(grant, UNIX_EPOCH).clone();
        (cache, token)
    }

    #[test]
    fn carries_the_servers_token_type_and_expiry() {
        let (cache, token) =
            cache_with(r#"{"access_token":"t1","token_type":"DPoP","expires_in":600}"#);
        let info = TokenInfo::from_cache(&cache, &token);
        assert_eq!(info.token_type, "DPoP");
        assert_eq!(info.expires_at, Some(UNIX_EPOCH + Duration::from_secs(600)));
        assert_eq!(info.access_token, AccessToken::new("t1"));
        assert!(!format!("{info:?}").contains("t1\""));
        let (cache, token) = cache_with(r#"{"access_token":"t2","expires_in":600}"#);
        assert_eq!(TokenInfo::from_cache(&cache, &token).token_type, "Bearer");
    }
}
