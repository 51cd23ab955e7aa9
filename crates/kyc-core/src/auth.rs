//! OAuth client-credentials: the token and revoke requests, and [`TokenCache`], the state machine
//! that decides whether a cached token may still be used. Who fetches a new one, and what the
//! other callers do meanwhile, is [`TokenSlot`](crate::TokenSlot)'s.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use http::header::HeaderValue;
use http::{HeaderMap, Method, StatusCode};
use serde::{Deserialize, Serialize};

use crate::body::Body;
use crate::config::Config;
use crate::endpoint::{self, Endpoint, IdempotencyKey};
use crate::error::{BodySnippet, DecodeError, DecodeReason, Error, InvalidInput};
use crate::secret::{AccessToken, ClientSecret, Credentials};

/// Lifetime assumed for a token whose response gives neither `expires_in` nor a JWT `exp`: short, so
/// a token of unknown life is replaced early rather than used after it died.
pub const UNKNOWN_TOKEN_LIFETIME: Duration = Duration::from_secs(300);

#[derive(Serialize)]
struct ClientCredentialsBody<'a> {
    client_id: &'a str,
    client_secret: &'a ClientSecret,
    audience: &'a str,
    grant_type: &'static str,
}

/// Refuses empty credentials, before any request.
pub(crate) fn check_credentials(credentials: &Credentials) -> Result<(), InvalidInput> {
    if credentials.client_id.is_empty() {
        return Err(InvalidInput::Empty { what: "client id" });
    }
    if credentials.client_secret.expose_secret().is_empty() {
        return Err(InvalidInput::Empty {
            what: "client secret",
        });
    }
    Ok(())
}

/// The client-credentials body for `audience` (the token request, its revocation, and the
/// doctor's probe with another audience).
pub(crate) fn credentials_body(
    audience: &str,
    credentials: &Credentials,
) -> Result<(Option<HeaderValue>, Body), InvalidInput> {
    check_credentials(credentials)?;
    endpoint::json_body(&ClientCredentialsBody {
        client_id: &credentials.client_id,
        client_secret: &credentials.client_secret,
        audience,
        grant_type: "client_credentials",
    })
}

/// `POST /oauth/token` with the client-credentials grant (reference §3.1).
#[derive(Debug, Clone)]
pub struct RequestToken<'a> {
    /// The client's credentials.
    pub credentials: &'a Credentials,
}

impl Endpoint for RequestToken<'_> {
    type Output = TokenGrant;
    type Body = Body;
    const METHOD: Method = Method::POST;
    const AUTHENTICATED: bool = false;

    fn idempotent() -> bool {
        // Pomelo returns the same token until it expires: asking twice changes nothing.
        true
    }

    fn path_and_query(&self, _: &Config) -> Result<String, InvalidInput> {
        Ok("/oauth/token".to_owned())
    }

    fn body(
        &self,
        config: &Config,
        _: Option<&IdempotencyKey>,
    ) -> Result<(Option<HeaderValue>, Body), InvalidInput> {
        credentials_body(config.audience(), self.credentials)
    }

    fn parse(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Result<TokenGrant, Error> {
        #[derive(Deserialize)]
        struct Wire {
            access_token: AccessToken,
            #[serde(default)]
            token_type: Option<String>,
            #[serde(default)]
            expires_in: Option<serde_json::Number>,
            #[serde(default)]
            scope: Option<String>,
        }
        let wire: Wire = endpoint::decode_json(status, headers, body)?;
        if !endpoint::usable_as_bearer(&wire.access_token) {
            // A token that cannot go into a header would fail every call until it expired: it is
            // a broken token response, never cached.
            return Err(DecodeError {
                status,
                request_id: crate::error::request_id(headers),
                path: "access_token".to_owned(),
                reason: DecodeReason::Data,
                raw_body: BodySnippet::new(&[]),
            }
            .into());
        }
        let expires_in = wire
            .expires_in
            .and_then(|n| {
                n.as_u64()
                    .or_else(|| n.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))
            })
            .map(Duration::from_secs);
        let jwt_expiry = jwt_exp(wire.access_token.expose_secret());
        Ok(TokenGrant {
            access_token: wire.access_token,
            token_type: wire.token_type.unwrap_or_else(|| "Bearer".to_owned()),
            expires_in,
            jwt_expiry,
            scope: wire.scope,
        })
    }
}

/// `POST /oauth/token/revoke` (reference §3.3): Pomelo drops its cached token, so the next token
/// request issues a new one.
#[derive(Debug, Clone)]
pub struct RevokeToken<'a> {
    /// The client's credentials.
    pub credentials: &'a Credentials,
}

impl Endpoint for RevokeToken<'_> {
    type Output = ();
    type Body = Body;
    const METHOD: Method = Method::POST;
    const AUTHENTICATED: bool = false;

    fn idempotent() -> bool {
        true
    }

    fn path_and_query(&self, _: &Config) -> Result<String, InvalidInput> {
        Ok("/oauth/token/revoke".to_owned())
    }

    fn body(
        &self,
        config: &Config,
        _: Option<&IdempotencyKey>,
    ) -> Result<(Option<HeaderValue>, Body), InvalidInput> {
        credentials_body(config.audience(), self.credentials)
    }

    fn parse(_: StatusCode, _: &HeaderMap, _: &[u8]) -> Result<(), Error> {
        Ok(())
    }
}

/// A token response: the token and what it says about its own expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TokenGrant {
    /// The bearer token.
    pub access_token: AccessToken,
    /// `token_type`, `Bearer` when absent.
    pub token_type: String,
    /// `expires_in`, when the response has it.
    pub expires_in: Option<Duration>,
    /// The JWT's `exp` claim, when the token is a readable JWT.
    pub jwt_expiry: Option<SystemTime>,
    /// `scope`, when present.
    pub scope: Option<String>,
}

impl TokenGrant {
    /// When the token expires, given that the response arrived at `now`: `now + expires_in` when
    /// present, otherwise the JWT `exp`, otherwise `now +` [`UNKNOWN_TOKEN_LIFETIME`].
    #[must_use]
    pub fn expires_at(&self, now: SystemTime) -> SystemTime {
        self.expires_in
            .and_then(|d| now.checked_add(d))
            .or(self.jwt_expiry)
            .or_else(|| now.checked_add(UNKNOWN_TOKEN_LIFETIME))
            .unwrap_or(now)
    }
}

/// Reads the `exp` claim of a JWT without verifying it (the client only needs to know when to
/// refresh; the server verifies).
fn jwt_exp(token: &str) -> Option<SystemTime> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine.decode(payload).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?;
    let secs = exp
        .as_u64()
        .or_else(|| exp.as_f64().filter(|f| *f >= 0.0).map(|f| f as u64))?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs))
}

#[derive(Debug, Clone)]
struct Cached {
    token: AccessToken,
    token_type: String,
    expires_at: SystemTime,
    refresh_at: SystemTime,
}

/// The token cache state machine. It never reads a clock: every call takes `now`.
///
/// A token is handed out only while `now < expires_at - margin`, where the margin is the
/// configured one capped at half the token's lifetime (so a token that lives less than twice the
/// margin is still usable for its first half instead of being refetched forever).
#[derive(Debug, Clone)]
pub(crate) struct TokenCache {
    margin: Duration,
    cached: Option<Cached>,
}

impl TokenCache {
    /// An empty cache that stops handing out a token `margin` before it expires.
    #[must_use]
    pub(crate) fn new(margin: Duration) -> Self {
        Self {
            margin,
            cached: None,
        }
    }

    /// The cached token, if it may still be used at `now`.
    #[must_use]
    pub(crate) fn valid_token(&self, now: SystemTime) -> Option<&AccessToken> {
        self.cached
            .as_ref()
            .filter(|c| now < c.refresh_at)
            .map(|c| &c.token)
    }

    /// Stores a freshly received grant (received at `now`) and returns its token.
    pub(crate) fn store(&mut self, grant: TokenGrant, now: SystemTime) -> &AccessToken {
        let expires_at = grant.expires_at(now);
        let lifetime = expires_at.duration_since(now).unwrap_or_default();
        let margin = self.margin.min(lifetime / 2);
        let refresh_at = expires_at.checked_sub(margin).unwrap_or(expires_at);
        &self
            .cached
            .insert(Cached {
                token: grant.access_token,
                token_type: grant.token_type,
                expires_at,
                refresh_at,
            })
            .token
    }

    /// Reacts to a `401` that answered a call made with `rejected`: drops the cached token if it is
    /// that very token and returns `true`. A 401 for an older token (another thread already
    /// refreshed) leaves the newer one alone and returns `false`.
    pub(crate) fn on_unauthorized(&mut self, rejected: &AccessToken) -> bool {
        if self.cached.as_ref().is_some_and(|c| &c.token == rejected) {
            self.cached = None;
            true
        } else {
            false
        }
    }

    /// Forgets the cached token (after a revoke, for instance).
    pub(crate) fn clear(&mut self) {
        self.cached = None;
    }

    /// The cached token's `token_type` (`Bearer` unless the server said otherwise), if there is one.
    #[must_use]
    pub(crate) fn token_type(&self) -> Option<&str> {
        self.cached.as_ref().map(|c| c.token_type.as_str())
    }

    /// When the cached token expires, if there is one.
    #[must_use]
    pub(crate) fn expires_at(&self) -> Option<SystemTime> {
        self.cached.as_ref().map(|c| c.expires_at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Environment, build_request, parse_response};
    use proptest::prelude::*;

    fn jwt(exp: u64) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            b64.encode(br#"{"alg":"RS256","typ":"JWT"}"#),
            b64.encode(format!(r#"{{"exp":{exp},"iat":1}}"#))
        )
    }

    fn response(body: &str) -> http::Response<Vec<u8>> {
        http::Response::builder()
            .status(200)
            .body(body.as_bytes().to_vec())
            .unwrap()
    }

    #[test]
    fn token_request_is_a_json_client_credentials_grant() {
        let config = Config::new(Environment::Sandbox).unwrap();
        let creds = Credentials::new("cli-1", "top-secret");
        let req = build_request(
            &config,
            &RequestToken {
                credentials: &creds,
            },
            None,
            None,
        )
        .unwrap();
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri(), "https://api-sandbox.pomelo.la/oauth/token");
        assert_eq!(req.headers()["content-type"], "application/json");
        assert!(req.headers().get("authorization").is_none());
        let body: serde_json::Value = serde_json::from_slice(req.body().as_ref()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"client_id": "cli-1", "client_secret": "top-secret",
                "audience": "https://auth-staging.pomelo.la", "grant_type": "client_credentials"})
        );
        assert!(!format!("{req:?}").contains("top-secret"));
    }

    #[test]
    fn expiry_comes_from_expires_in_then_from_the_jwt() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let with_in = format!(
            r#"{{"access_token":"{}","token_type":"Bearer","expires_in":600}}"#,
            jwt(5_000)
        );
        let grant = parse_response::<RequestToken<'_>, _>(&response(&with_in)).unwrap();
        assert_eq!(grant.expires_at(now), now + Duration::from_secs(600));
        let without = format!(r#"{{"access_token":"{}"}}"#, jwt(5_000));
        let grant = parse_response::<RequestToken<'_>, _>(&response(&without)).unwrap();
        assert_eq!(grant.token_type, "Bearer");
        assert_eq!(
            grant.expires_at(now),
            UNIX_EPOCH + Duration::from_secs(5_000)
        );
        let opaque =
            parse_response::<RequestToken<'_>, _>(&response(r#"{"access_token":"x"}"#)).unwrap();
        assert_eq!(opaque.expires_at(now), now + UNKNOWN_TOKEN_LIFETIME);
    }

    #[test]
    fn a_401_invalidates_only_the_token_it_answered() {
        let now = UNIX_EPOCH;
        let mut cache = TokenCache::new(Duration::from_secs(10));
        let grant = |t: &str| TokenGrant {
            access_token: AccessToken::new(t),
            token_type: "Bearer".into(),
            expires_in: Some(Duration::from_secs(100)),
            jwt_expiry: None,
            scope: None,
        };
        cache.store(grant("old"), now);
        cache.store(grant("new"), now);
        assert!(!cache.on_unauthorized(&AccessToken::new("old")));
        assert_eq!(cache.valid_token(now), Some(&AccessToken::new("new")));
        assert!(cache.on_unauthorized(&AccessToken::new("new")));
        assert_eq!(cache.valid_token(now), None);
    }

    proptest! {
        #[test]
        fn never_hands_out_a_token_past_expiry_minus_margin(
            margin in 0u64..200,
            lifetimes in proptest::collection::vec(0u64..1_000, 1..8),
            steps in proptest::collection::vec(0u64..400, 1..40),
        ) {
            let margin = Duration::from_secs(margin);
            let mut cache = TokenCache::new(margin);
            let mut now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            let mut lifetimes = lifetimes.into_iter().cycle();
            // The deadline the model says the current token must not be used at or after.
            let mut deadline: Option<SystemTime> = None;
            for step in steps {
                now += Duration::from_secs(step);
                if cache.valid_token(now).is_some() {
                    prop_assert!(now < deadline.unwrap());
                    continue;
                }
                let life = Duration::from_secs(lifetimes.next().unwrap());
                let grant = TokenGrant {
                    access_token: AccessToken::new(format!("t{}", life.as_secs())),
                    token_type: "Bearer".into(),
                    expires_in: Some(life),
                    jwt_expiry: None,
                    scope: None,
                };
                cache.store(grant, now);
                deadline = Some(now + life - margin.min(life / 2));
                prop_assert_eq!(cache.valid_token(now).is_some(), now < deadline.unwrap());
                prop_assert_eq!(cache.expires_at(), Some(now + life));
            }
        }
    }
}
