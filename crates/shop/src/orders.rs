//! Checkout and order history.

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
    cart::totals,
    catalog::cents_to_money,
    error::{ApiError, JsonBody},
    state::{read, Address, AppState, Order, OrderItem, PaymentSummary},
    timefmt,
};

#[derive(Deserialize)]
pub struct Payment {
    #[serde(default)]
    method: String,
    #[serde(default)]
    card_token: String,
}

#[derive(Deserialize)]
pub struct CheckoutRequest {
    #[serde(default)]
    cart_id: String,
    shipping_address: Option<Address>,
    billing_address: Option<Address>,
    payment: Option<Payment>,
}

fn check_address(a: &Address, which: &str) -> Result<(), ApiError> {
    let missing: Vec<&str> = [
        ("street", &a.street),
        ("city", &a.city),
        ("state", &a.state),
        ("zip", &a.zip),
        ("country", &a.country),
    ]
    .iter()
    .filter(|(_, v)| v.trim().is_empty())
    .map(|(k, _)| *k)
    .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(ApiError::bad_request(format!(
            "{which} is missing: {}",
            missing.join(", ")
        )))
    }
}

/// Test card tokens in the style of payment-provider sandboxes.
fn card_brand(token: &str) -> Option<&'static str> {
    match token {
        "tok_visa" => Some("visa"),
        "tok_mastercard" => Some("mastercard"),
        "tok_amex" => Some("amex"),
        t => t
            .strip_prefix("tok_visa_")
            .filter(|s| !s.is_empty())
            .map(|_| "visa"),
    }
}

pub async fn checkout(
    State(state): State<AppState>,
    auth: AuthUser,
    JsonBody(req): JsonBody<CheckoutRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let shipping_address = req
        .shipping_address
        .ok_or_else(|| ApiError::bad_request("shipping_address is required"))?;
    check_address(&shipping_address, "shipping_address")?;
    let billing_address = match req.billing_address {
        Some(b) => {
            check_address(&b, "billing_address")?;
            b
        }
        None => shipping_address.clone(),
    };
    let payment = req
        .payment
        .ok_or_else(|| ApiError::bad_request("payment is required"))?;
    if payment.method.trim().is_empty() || payment.card_token.trim().is_empty() {
        return Err(ApiError::bad_request(
            "payment.method and payment.card_token are required",
        ));
    }

    // Validate and empty the cart in one critical section so a double-submit
    // can't produce two orders from the same items.
    let (cart_id, items) = state.with_cart(&auth.user.id, |cart| {
        if cart.id != req.cart_id {
            return Err(ApiError::bad_request("cart_id does not match your cart"));
        }
        if cart.items.is_empty() {
            return Err(ApiError::bad_request("cart is empty"));
        }
        let brand = card_brand(payment.card_token.trim()).ok_or(ApiError::PaymentDeclined)?;
        Ok((cart.id.clone(), (std::mem::take(&mut cart.items), brand)))
    })?;
    let (items, brand) = items;

    let t = totals(&items);
    let (order_id, confirmation_number) = state.next_order_ids();
    let order = Order {
        id: order_id,
        user_id: auth.user.id.clone(),
        cart_id,
        items: items
            .iter()
            .map(|i| OrderItem {
                id: i.id.clone(),
                product_id: i.product_id.clone(),
                name: i.name.clone(),
                quantity: i.quantity,
                price: cents_to_money(i.price_cents),
                subtotal: cents_to_money(i.price_cents * i64::from(i.quantity)),
            })
            .collect(),
        subtotal: cents_to_money(t.subtotal),
        tax: cents_to_money(t.tax),
        shipping: cents_to_money(t.shipping),
        total: cents_to_money(t.total),
        shipping_address,
        billing_address,
        payment: PaymentSummary {
            method: payment.method.trim().to_owned(),
            card_brand: brand.to_owned(),
        },
        status: "confirmed",
        confirmation_number,
        created_at: timefmt::now_rfc3339(),
    };
    let order = state.insert_order(order);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "order_id": order.id,
            "status": order.status,
            "total": order.total,
            "confirmation_number": order.confirmation_number,
        })),
    ))
}

pub async fn get(
    State(state): State<AppState>,
    auth: AuthUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let orders = read(&state.orders);
    // Someone else's order is reported as missing, not forbidden, so ids can't be probed.
    let order = orders
        .by_id
        .get(&id)
        .filter(|o| o.user_id == auth.user.id)
        .ok_or(ApiError::NotFound)?;
    Ok(Json(json!(order.as_ref())))
}

pub async fn list(State(state): State<AppState>, auth: AuthUser) -> Json<Value> {
    let orders = read(&state.orders);
    let mine: Vec<&Order> = orders
        .by_user
        .get(&auth.user.id)
        .map(|v| v.iter().map(|o| o.as_ref()).collect())
        .unwrap_or_default();
    Json(json!({ "orders": mine }))
}
