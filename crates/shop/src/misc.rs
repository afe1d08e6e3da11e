//! Health/status/metrics, response-shape variations, fault injection, static
//! files and admin endpoints: the routes that exist to exercise a load tester
//! rather than to model the shop.

use std::time::Duration;

use axum::{
    extract::{Path, State},
    http::{header, StatusCode, Uri},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::{
    catalog::CATEGORIES,
    error::{parse_param, query_map, ApiError},
    state::AppState,
    timefmt,
};

const MAX_BYTES: u64 = 10 * 1024 * 1024;
const MAX_DELAY_MS: u64 = 30_000;

static INDEX_HTML: &str = include_str!("../static/index.html");
static APP_JS: &str = include_str!("../static/app.js");
use crate::OPENAPI_JSON;

pub async fn health() -> Response {
    // Hand-built body: this route is benchmarked, and it's one short format!.
    let body = format!(
        "{{\"status\":\"healthy\",\"timestamp\":\"{}\"}}",
        timefmt::now_rfc3339()
    );
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub async fn status(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(json!({
        "status": "healthy",
        "timestamp": timefmt::now_rfc3339(),
        "uptime_seconds": state.started.elapsed().as_secs(),
        "requests_processed": state.metrics.requests_processed(),
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(state.started.elapsed()),
    )
        .into_response()
}

pub async fn bytes(Path(n): Path<String>, uri: Uri) -> Result<Response, ApiError> {
    let n: u64 = n
        .parse()
        .map_err(|_| ApiError::bad_request("n must be a non-negative integer"))?;
    let n = n.min(MAX_BYTES) as usize;
    let params = query_map(&uri)?;
    let format = params.get("format").map(String::as_str).unwrap_or("binary");
    let (content_type, body) = match format {
        "binary" | "raw" => (
            "application/octet-stream",
            (0..n).map(|i| b'a' + (i % 26) as u8).collect::<Vec<u8>>(),
        ),
        // Pad the payload so the whole document is exactly n bytes when n fits the wrapper.
        "json" => ("application/json", wrap(n, b"{\"data\":\"", b"\"}")),
        "xml" => ("application/xml", wrap(n, b"<data>", b"</data>")),
        other => {
            return Err(ApiError::bad_request(format!(
                "unknown format {other:?}: use json, xml or binary"
            )))
        }
    };
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

fn wrap(n: usize, open: &[u8], close: &[u8]) -> Vec<u8> {
    let fill = n.saturating_sub(open.len() + close.len());
    let mut v = Vec::with_capacity(open.len() + fill + close.len());
    v.extend_from_slice(open);
    v.extend(std::iter::repeat_n(b'x', fill));
    v.extend_from_slice(close);
    v
}

pub async fn csv(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let params = query_map(&uri)?;
    let rows: usize = parse_param(&params, "rows")?.unwrap_or(100).min(1000);
    let mut out = String::from("id,name,category,price,stock\n");
    for p in state.catalog.all().iter().take(rows) {
        out.push_str(&format!(
            "{},{},{},{:.2},{}\n",
            p.id, p.name, p.category, p.price, p.stock
        ));
    }
    Ok(([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], out).into_response())
}

pub async fn html(State(state): State<AppState>) -> Response {
    let mut rows = String::new();
    for p in state.catalog.all().iter().take(20) {
        rows.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>\n",
            p.id, p.name, p.category, p.price
        ));
    }
    let body = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>throng shop: products</title></head>\n\
         <body><h1>Products</h1>\n<table id=\"products\"><thead><tr><th>id</th><th>name</th><th>category</th><th>price</th></tr></thead>\n\
         <tbody>\n{rows}</tbody></table></body></html>\n"
    );
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

pub async fn delay(Path(ms): Path<String>) -> Result<Json<serde_json::Value>, ApiError> {
    let ms: u64 = ms
        .parse()
        .map_err(|_| ApiError::bad_request("ms must be a non-negative integer"))?;
    Ok(sleep_for(ms.min(MAX_DELAY_MS)).await)
}

pub async fn delay_random(uri: Uri) -> Result<Json<serde_json::Value>, ApiError> {
    let params = query_map(&uri)?;
    let max: u64 = parse_param(&params, "max")?
        .unwrap_or(1000)
        .min(MAX_DELAY_MS);
    let ms = rand::random_range(0..=max);
    Ok(sleep_for(ms).await)
}

async fn sleep_for(ms: u64) -> Json<serde_json::Value> {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Json(json!({ "delayed_ms": ms }))
}

pub async fn error(Path(code): Path<String>) -> ApiError {
    match code
        .parse::<u16>()
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
    {
        Some(status) if status.is_client_error() || status.is_server_error() => ApiError::Status(
            status,
            status
                .canonical_reason()
                .unwrap_or("Unknown Error")
                .to_owned(),
        ),
        _ => ApiError::bad_request(format!("unsupported status code {code:?}: use 400-599")),
    }
}

pub async fn image(
    State(state): State<AppState>,
    Path(file): Path<String>,
) -> Result<Response, ApiError> {
    let id = file.strip_suffix(".svg").ok_or(ApiError::NotFound)?;
    let p = state.catalog.get(id).ok_or(ApiError::NotFound)?;
    let hue = CATEGORIES
        .iter()
        .position(|c| *c == p.category)
        .unwrap_or(0)
        * 70;
    let initial = p.name.chars().next().unwrap_or('?');
    let svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"160\" height=\"120\" viewBox=\"0 0 160 120\">\
         <rect width=\"160\" height=\"120\" fill=\"hsl({hue},55%,82%)\"/>\
         <text x=\"80\" y=\"74\" font-size=\"44\" text-anchor=\"middle\" font-family=\"sans-serif\" fill=\"hsl({hue},45%,30%)\">{initial}</text></svg>"
    );
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        svg,
    )
        .into_response())
}

pub async fn index() -> Response {
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        INDEX_HTML,
    )
        .into_response()
}

pub async fn app_js() -> Response {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        APP_JS,
    )
        .into_response()
}

pub async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI_JSON).into_response()
}

pub async fn admin_stats(State(state): State<AppState>) -> Json<crate::ShopStats> {
    Json(crate::stats_of(&state))
}

pub async fn admin_users_csv(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/csv; charset=utf-8")],
        state.seeded_csv.clone(),
    )
        .into_response()
}

pub async fn not_found() -> ApiError {
    ApiError::NotFound
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::Status(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed".into())
}
