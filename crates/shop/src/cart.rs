//! The per-user shopping cart. Money is kept in integer cents and only turned
//! into 2-decimal numbers when rendered.

use axum::{
    extract::{Path, State},
    http::StatusCode,
    response::IntoResponse,
    Json,
};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::{
    auth::AuthUser,
    catalog::cents_to_money,
    error::{ApiError, JsonBody},
    state::{AppState, Cart, CartItem},
};

/// Bounds quantities so `quantity * price` can never overflow.
const MAX_QUANTITY: i64 = 10_000;
const TAX_PERCENT: i64 = 8;
const FREE_SHIPPING_CENTS: i64 = 5_000;
const SHIPPING_CENTS: i64 = 599;

pub struct Totals {
    pub subtotal: i64,
    pub tax: i64,
    pub shipping: i64,
    pub total: i64,
}

pub fn totals(items: &[CartItem]) -> Totals {
    let subtotal: i64 = items
        .iter()
        .map(|i| i.price_cents * i64::from(i.quantity))
        .sum();
    // Round half up to the cent.
    let tax = (subtotal * TAX_PERCENT + 50) / 100;
    let shipping = if items.is_empty() || subtotal >= FREE_SHIPPING_CENTS {
        0
    } else {
        SHIPPING_CENTS
    };
    Totals {
        subtotal,
        tax,
        shipping,
        total: subtotal + tax + shipping,
    }
}

pub fn item_json(i: &CartItem) -> Value {
    json!({
        "id": i.id,
        "product_id": i.product_id,
        "name": i.name,
        "quantity": i.quantity,
        "price": cents_to_money(i.price_cents),
        "subtotal": cents_to_money(i.price_cents * i64::from(i.quantity)),
    })
}

pub fn cart_json(cart: &Cart) -> Value {
    let t = totals(&cart.items);
    json!({
        "id": cart.id,
        "user_id": cart.user_id,
        "items": cart.items.iter().map(item_json).collect::<Vec<_>>(),
        "subtotal": cents_to_money(t.subtotal),
        "tax": cents_to_money(t.tax),
        "shipping": cents_to_money(t.shipping),
        "total": cents_to_money(t.total),
    })
}

fn check_quantity(q: i64) -> Result<u32, ApiError> {
    if (1..=MAX_QUANTITY).contains(&q) {
        Ok(q as u32)
    } else {
        Err(ApiError::bad_request(format!(
            "quantity must be between 1 and {MAX_QUANTITY}"
        )))
    }
}

pub async fn get(State(state): State<AppState>, auth: AuthUser) -> Json<Value> {
    Json(state.with_cart(&auth.user.id, |c| cart_json(c)))
}

#[derive(Deserialize)]
pub struct AddItem {
    #[serde(default)]
    product_id: String,
    #[serde(default = "one")]
    quantity: i64,
}

fn one() -> i64 {
    1
}

pub async fn add_item(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(req): JsonBody<AddItem>,
) -> Result<impl IntoResponse, ApiError> {
    let quantity = check_quantity(req.quantity)?;
    let product = state
        .catalog
        .get(req.product_id.trim())
        .ok_or_else(|| ApiError::bad_request("unknown product"))?;
    let new_id = state.next_item_id();
    let body = state.with_cart(&auth.user.id, |cart| {
        // Adding a product already in the cart bumps that line instead of duplicating it.
        let idx = match cart.items.iter().position(|i| i.product_id == product.id) {
            Some(idx) => {
                let merged = i64::from(cart.items[idx].quantity) + i64::from(quantity);
                cart.items[idx].quantity = check_quantity(merged)?;
                idx
            }
            None => {
                cart.items.push(CartItem {
                    id: new_id,
                    product_id: product.id.clone(),
                    name: product.name.clone(),
                    quantity,
                    price_cents: product.price_cents,
                });
                cart.items.len() - 1
            }
        };
        Ok::<_, ApiError>(json!({ "cart": cart_json(cart), "item": item_json(&cart.items[idx]) }))
    })?;
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize)]
pub struct UpdateItem {
    quantity: i64,
}

pub async fn update_item(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(item_id): Path<String>,
    JsonBody(req): JsonBody<UpdateItem>,
) -> Result<Json<Value>, ApiError> {
    state.with_cart(&auth.user.id, |cart| {
        let item = cart
            .items
            .iter_mut()
            .find(|i| i.id == item_id)
            .ok_or(ApiError::NotFound)?;
        item.quantity = check_quantity(req.quantity)?;
        Ok(Json(cart_json(cart)))
    })
}

pub async fn remove_item(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(item_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state.with_cart(&auth.user.id, |cart| {
        let before = cart.items.len();
        cart.items.retain(|i| i.id != item_id);
        if cart.items.len() == before {
            return Err(ApiError::NotFound);
        }
        Ok(Json(json!({ "message": "item removed" })))
    })
}

pub async fn clear(State(state): State<AppState>, auth: AuthUser) -> Json<Value> {
    state.with_cart(&auth.user.id, |cart| cart.items.clear());
    Json(json!({ "message": "cart cleared" }))
}
