//! The one error type every handler returns, and the JSON body extractor.
//!
//! Load tests deliberately send garbage, so every failure must turn into a
//! `{"error": ...}` body with a 4xx status rather than a panic or a bare 500.

use axum::{
    body::Bytes,
    extract::{FromRequest, Request},
    http::StatusCode,
    response::{IntoResponse, Response},
    Json,
};
use serde::de::DeserializeOwned;

/// A failure that maps onto an HTTP status and a JSON error body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Unauthorized")]
    Unauthorized,
    #[error("{0}")]
    InvalidCredentials(&'static str),
    #[error("payment declined")]
    PaymentDeclined,
    #[error("Not Found")]
    NotFound,
    #[error("{0}")]
    Conflict(&'static str),
    #[error("{1}")]
    Status(StatusCode, String),
}

impl ApiError {
    pub fn bad_request(msg: impl Into<String>) -> Self {
        ApiError::BadRequest(msg.into())
    }

    fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized | ApiError::InvalidCredentials(_) => StatusCode::UNAUTHORIZED,
            ApiError::PaymentDeclined => StatusCode::PAYMENT_REQUIRED,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Status(code, _) => *code,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.to_string() });
        (self.status(), Json(body)).into_response()
    }
}

/// Like `axum::Json`, but every rejection is our 400 `{"error"}` shape and the
/// Content-Type header is not required (recorded traffic is often sloppy).
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("could not read request body: {e}")))?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request("request body must be a JSON object"));
        }
        serde_json::from_slice(&bytes)
            .map(JsonBody)
            .map_err(|e| ApiError::bad_request(format!("invalid JSON body: {e}")))
    }
}

/// Parses the query string into a map, turning malformed input into a 400.
pub fn query_map(
    uri: &axum::http::Uri,
) -> Result<std::collections::HashMap<String, String>, ApiError> {
    axum::extract::Query::<std::collections::HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| ApiError::bad_request(format!("invalid query string: {e}")))
}

/// Parses an optional numeric query parameter, naming it in the 400 message.
pub fn parse_param<T: std::str::FromStr>(
    params: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    match params.get(name) {
        None => Ok(None),
        Some(raw) => raw
            .trim()
            .parse::<T>()
            .map(Some)
            .map_err(|_| ApiError::bad_request(format!("invalid value for '{name}': {raw:?}"))),
    }
}
