//! Accounts and bearer tokens: register, login, logout, `/users/me`, and the
//! `AuthUser` extractor that guards every protected route.
//!
//! Tokens are HS256 JWTs signed with a per-process random key, so a token from
//! one shop run never works against another.

use std::sync::Arc;

use axum::{
    extract::{FromRequestParts, State},
    http::{header::AUTHORIZATION, request::Parts, StatusCode},
    response::IntoResponse,
    Json,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine as _};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::Sha256;

use crate::{
    error::{ApiError, JsonBody},
    state::{AppState, RegisterError, User},
    timefmt,
};

const TOKEN_TTL_SECS: u64 = 24 * 3600;
/// base64url of `{"alg":"HS256","typ":"JWT"}`; we only ever issue this header.
const JWT_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub email: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

fn mac(key: &[u8]) -> Hmac<Sha256> {
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

pub fn issue_token(key: &[u8], user: &User) -> String {
    let now = timefmt::unix_now();
    let claims = Claims {
        sub: user.id.clone(),
        email: user.email.clone(),
        iat: now,
        exp: now + TOKEN_TTL_SECS,
        jti: uuid::Uuid::new_v4().to_string(),
    };
    // Serialising a struct of strings and integers cannot fail.
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap_or_default());
    let signing_input = format!("{JWT_HEADER}.{payload}");
    let mut m = mac(key);
    m.update(signing_input.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    format!("{signing_input}.{sig}")
}

/// Verifies signature and expiry; anything malformed is simply "no claims".
pub fn verify_token(key: &[u8], token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (header, payload, sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || header != JWT_HEADER {
        return None;
    }
    let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
    let mut m = mac(key);
    m.update(header.as_bytes());
    m.update(b".");
    m.update(payload.as_bytes());
    m.verify_slice(&sig).ok()?;
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (claims.exp > timefmt::unix_now()).then_some(claims)
}

/// The authenticated caller of a protected route.
pub struct AuthUser {
    pub user: Arc<User>,
    pub claims: Claims,
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(ApiError::Unauthorized)?;
        let (scheme, token) = header
            .trim()
            .split_once(' ')
            .ok_or(ApiError::Unauthorized)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(ApiError::Unauthorized);
        }
        let claims = verify_token(&state.jwt_key, token.trim()).ok_or(ApiError::Unauthorized)?;
        if state.is_revoked(&claims.jti) {
            return Err(ApiError::Unauthorized);
        }
        let user = state
            .user_by_id(&claims.sub)
            .ok_or(ApiError::Unauthorized)?;
        Ok(AuthUser { user, claims })
    }
}

#[derive(Deserialize)]
pub struct RegisterRequest {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
pub struct LoginRequest {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control())
        && email.len() <= 254
}

fn auth_response(state: &AppState, user: &User) -> serde_json::Value {
    json!({
        "user": { "id": user.id, "email": user.email, "name": user.name },
        "token": issue_token(&state.jwt_key, user),
    })
}

pub async fn register(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let email = req.email.trim();
    let name = req.name.trim();
    if email.is_empty() || req.password.is_empty() || name.is_empty() {
        return Err(ApiError::bad_request(
            "email, password and name are required",
        ));
    }
    if !valid_email(email) {
        return Err(ApiError::bad_request("invalid email address"));
    }
    let user = state
        .register(email, &req.password, name)
        .map_err(|RegisterError::Duplicate| ApiError::Conflict("email already registered"))?;
    Ok((StatusCode::CREATED, Json(auth_response(&state, &user))))
}

pub async fn login(
    State(state): State<AppState>,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<impl IntoResponse, ApiError> {
    if req.email.trim().is_empty() || req.password.is_empty() {
        return Err(ApiError::bad_request("email and password are required"));
    }
    let user = state
        .user_by_email(req.email.trim())
        .filter(|u| u.check_password(&req.password))
        .ok_or(ApiError::InvalidCredentials("invalid email or password"))?;
    Ok(Json(auth_response(&state, &user)))
}

pub async fn logout(State(state): State<AppState>, auth: AuthUser) -> impl IntoResponse {
    state.revoke(&auth.claims.jti, auth.claims.exp);
    Json(json!({ "message": "logged out" }))
}

pub async fn me(auth: AuthUser) -> impl IntoResponse {
    let u = &auth.user;
    Json(json!({ "id": u.id, "email": u.email, "name": u.name, "created_at": u.created_at }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_rules() {
        assert!(valid_email("a@b.co"));
        assert!(!valid_email("ab.co"));
        assert!(!valid_email("@b.co"));
        assert!(!valid_email("a@bco"));
        assert!(!valid_email("a b@b.co"));
        assert!(!valid_email("a@b@c.co"));
    }

    #[test]
    fn token_roundtrip_and_tamper() {
        let state = crate::state::ShopState::new(1);
        let user = state.user_by_email("user1@example.com").expect("seeded");
        let t = issue_token(&state.jwt_key, &user);
        let c = verify_token(&state.jwt_key, &t).expect("valid");
        assert_eq!(c.sub, user.id);
        assert!(verify_token(&[0u8; 32], &t).is_none());
        assert!(verify_token(&state.jwt_key, &format!("{t}x")).is_none());
        assert!(verify_token(&state.jwt_key, "a.b").is_none());
        assert!(verify_token(&state.jwt_key, "").is_none());
    }
}
