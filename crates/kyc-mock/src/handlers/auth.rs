//! `POST /oauth/token`, `POST /oauth/token/revoke`, and the bearer check of identity calls.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use http::header::AUTHORIZATION;
use http::{HeaderMap, StatusCode};
use serde_json::json;
use sha2::Sha256;

use super::request::{Call, json_object};
use crate::clock::unix_seconds;
use crate::http::{ApiError, HandlerResult, json};
use crate::json::{required_string, unknown_members};
use crate::state::{IssuedToken, Shared};

/// Scopes written into issued tokens (Pomelo's identity scope names are not known).
const SCOPE: &str = "identity:sessions:read identity:sessions:write identity:files:write";

/// Checks the token request body shared by token and revoke.
fn check_client(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let map = json_object(headers, body)?;
    let fields = ["client_id", "client_secret", "audience", "grant_type"];
    let mut problems = unknown_members(&map, &fields, "");
    let mut values = Vec::new();
    for field in fields {
        match required_string(&map, field, "") {
            Ok(v) => values.push(v),
            Err(p) => problems.push(p),
        }
    }
    let [client_id, client_secret, audience, grant_type] = values.as_slice() else {
        return Err(ApiError::many(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the token request body is invalid",
            problems,
        ));
    };
    if !problems.is_empty() {
        return Err(ApiError::many(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "the token request body is invalid",
            problems,
        ));
    }
    let config = &shared.config;
    if *client_id != config.client_id || *client_secret != config.client_secret {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client_id or wrong client_secret",
        ));
    }
    if *grant_type != "client_credentials" {
        return Err(ApiError::bad_request(
            "unsupported_grant_type",
            format!("grant_type must be client_credentials, got `{grant_type}`"),
        ));
    }
    let known = !config.strict_audience && crate::config::KNOWN_AUDIENCES.contains(audience);
    if *audience != config.audience && !known {
        return Err(ApiError::bad_request(
            "invalid_audience",
            format!("audience `{audience}` is not served here"),
        ));
    }
    Ok(())
}

/// `POST /oauth/token`: the current token while it is usable, else a new one.
pub(crate) fn token(shared: &Arc<Shared>, call: &Call<'_>) -> HandlerResult {
    check_client(shared, &call.parts.headers, call.body)?;
    let now = shared.clock.now();
    let mut state = shared.lock();
    state.stats.tokens_issued += 1;
    let token = match &state.token {
        Some(t) if t.usable(now) => t.clone(),
        _ => {
            let issued = issue(shared, now);
            state.token = Some(issued.clone());
            issued
        }
    };
    drop(state);
    let left = token.expires_at.duration_since(now).unwrap_or_default();
    let expires_in = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    Ok(json(
        StatusCode::OK,
        &json!({
            "access_token": token.value,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": SCOPE,
        }),
    ))
}

/// `POST /oauth/token/revoke`: the cached token stops working; the next token request gets a new one.
pub(crate) fn revoke(shared: &Arc<Shared>, call: &Call<'_>) -> HandlerResult {
    check_client(shared, &call.parts.headers, call.body)?;
    if let Some(token) = shared.lock().token.as_mut() {
        token.revoked = true;
    }
    Ok(json(StatusCode::OK, &json!({})))
}

/// A JWT-shaped token (HS256 over header.payload with the simulator's random key).
fn issue(shared: &Shared, now: std::time::SystemTime) -> IssuedToken {
    let config = &shared.config;
    let expires_at = now.checked_add(config.token_lifetime).unwrap_or(now);
    let iat = unix_seconds(now);
    let lifetime = config.token_lifetime;
    let exp = iat + lifetime.as_secs() + u64::from(lifetime.subsec_nanos() > 0);
    let header = json!({ "alg": "HS256", "typ": "JWT", "kid": "kyc-mock" });
    let payload = json!({
        "iss": format!("{}/", shared.base_url),
        "sub": format!("{}@clients", config.client_id),
        "aud": config.audience,
        "iat": iat,
        "exp": exp,
        "scope": SCOPE,
        "gty": "client-credentials",
        "jti": shared.ids.id("", 16),
    });
    let signing_input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let signature = Hmac::<Sha256>::new_from_slice(&shared.jwt_key)
        .map(|mac| {
            mac.chain_update(signing_input.as_bytes())
                .finalize()
                .into_bytes()
                .to_vec()
        })
        .unwrap_or_default();
    IssuedToken {
        value: format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)),
        expires_at,
        revoked: false,
    }
}

/// Requires `Authorization: Bearer <the current, unexpired, unrevoked token>`.
pub(crate) fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), ApiError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let value = match (values.next(), values.next()) {
        (None, _) => return Err(ApiError::unauthorized("missing Authorization header")),
        (Some(_), Some(_)) => {
            return Err(ApiError::unauthorized("more than one Authorization header"));
        }
        (Some(v), None) => v,
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?;
    let presented = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::unauthorized("Authorization must be `Bearer <access_token>`"))?;
    let now = shared.clock.now();
    let state = shared.lock();
    match &state.token {
        Some(t) if t.value == presented && t.revoked => {
            Err(ApiError::unauthorized("the access token was revoked"))
        }
        Some(t) if t.value == presented && !t.usable(now) => {
            Err(ApiError::unauthorized("the access token has expired"))
        }
        Some(t) if t.value == presented => Ok(()),
        _ => Err(ApiError::unauthorized("unknown access token")),
    }
}
