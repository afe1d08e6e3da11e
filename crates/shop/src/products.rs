//! Product listing (paging, category filter, search) and product detail.

use axum::{
    extract::{Path, State},
    http::Uri,
    Json,
};
use serde_json::json;

use crate::{
    error::{parse_param, query_map, ApiError},
    state::AppState,
};

const DEFAULT_LIMIT: u64 = 20;
const MAX_LIMIT: u64 = 100;

pub async fn list(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<serde_json::Value>, ApiError> {
    let params = query_map(&uri)?;
    let page: u64 = parse_param(&params, "page")?.unwrap_or(1);
    let limit: u64 = parse_param(&params, "limit")?.unwrap_or(DEFAULT_LIMIT);
    if page < 1 {
        return Err(ApiError::bad_request("page must be >= 1"));
    }
    if limit < 1 {
        return Err(ApiError::bad_request("limit must be >= 1"));
    }
    let limit = limit.min(MAX_LIMIT);
    let category = params
        .get("category")
        .map(|c| c.trim().to_lowercase())
        .filter(|c| !c.is_empty());
    let search = params
        .get("search")
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty());

    let matches = state.catalog.all().iter().filter(|p| {
        category.as_deref().is_none_or(|c| p.category == c)
            && search.as_deref().is_none_or(|s| p.haystack.contains(s))
    });
    let mut total = 0u64;
    let skip = (page - 1).saturating_mul(limit);
    let mut products = Vec::with_capacity(limit as usize);
    for p in matches {
        if total >= skip && (products.len() as u64) < limit {
            products.push(p);
        }
        total += 1;
    }
    Ok(Json(json!({
        "products": products,
        "total": total,
        "page": page,
        "limit": limit,
        "total_pages": total.div_ceil(limit),
    })))
}

pub async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = state.catalog.get(&id).ok_or(ApiError::NotFound)?;
    Ok(Json(json!(p)))
}
