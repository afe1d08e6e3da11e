//! End-to-end tests of every route over real HTTP on 127.0.0.1.

use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use throng_shop::{spawn, RunningShop, ShopOptions};

struct Ctx {
    shop: RunningShop,
    http: Client,
}

impl Ctx {
    fn new() -> Self {
        Self::with(ShopOptions::default())
    }
    fn with(opts: ShopOptions) -> Self {
        Ctx {
            shop: spawn(opts),
            http: Client::new(),
        }
    }
    fn url(&self, path: &str) -> String {
        format!("{}{}", self.shop.base_url(), path)
    }
    async fn get(&self, path: &str, token: Option<&str>) -> (StatusCode, Value) {
        let mut req = self.http.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        decode(req.send().await.expect("request")).await
    }
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        decode(req.send().await.expect("request")).await
    }
    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (StatusCode, Value) {
        self.send(reqwest::Method::POST, path, token, Some(body))
            .await
    }
    async fn register(&self, email: &str) -> (String, Value) {
        let (s, v) = self
            .post(
                "/auth/register",
                None,
                json!({"email": email, "password": "secret123", "name": "Test User"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        (
            v["token"].as_str().expect("token").to_owned(),
            v["user"].clone(),
        )
    }
}

async fn decode(resp: reqwest::Response) -> (StatusCode, Value) {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, v)
}

fn checkout_body(cart_id: &str, token: &str) -> Value {
    json!({
        "cart_id": cart_id,
        "shipping_address": {"street": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701", "country": "US"},
        "payment": {"method": "card", "card_token": token},
    })
}

#[tokio::test]
async fn health_status_metrics() {
    let c = Ctx::new();
    let (s, v) = c.get("/health", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["status"], "healthy");
    let ts = v["timestamp"].as_str().expect("timestamp");
    assert!(
        ts.len() == 24 && ts.ends_with('Z') && &ts[10..11] == "T",
        "{ts}"
    );

    c.get("/products/prod-1", None).await;
    c.get("/products/prod-2", None).await;
    c.get("/nope", None).await;
    let (s, v) = c.get("/status", None).await;
    assert_eq!(s, 200);
    for k in [
        "status",
        "timestamp",
        "uptime_seconds",
        "requests_processed",
        "version",
    ] {
        assert!(v.get(k).is_some(), "status lacks {k}: {v}");
    }
    assert!(v["requests_processed"].as_u64().expect("count") >= 4);

    let text = c
        .http
        .get(c.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        text.contains(r#"http_requests_total{method="GET",path="/products/{id}",status="200"} 2"#),
        "{text}"
    );
    assert!(text.contains(r#"http_requests_total{method="GET",path="unmatched",status="404"} 1"#));
    assert!(text.contains("http_request_duration_seconds_bucket{"));
    assert!(text.contains("# TYPE http_requests_total counter"));
    assert!(c.shop.shop.stats().requests_processed >= 5);
}

#[tokio::test]
async fn products_listing_search_and_detail() {
    let c = Ctx::new();
    let (s, v) = c.get("/products", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["total"], 1000);
    assert_eq!(v["page"], 1);
    assert_eq!(v["limit"], 20);
    assert_eq!(v["total_pages"], 50);
    let list = v["products"].as_array().expect("products");
    assert_eq!(list.len(), 20);
    assert_eq!(list[0]["id"], "prod-1");
    for p in list {
        let price = p["price"].as_f64().expect("price");
        assert!((9.99..=1999.99).contains(&price));
        assert!(((price * 100.0).round() / 100.0 - price).abs() < 1e-9);
        for k in [
            "id",
            "name",
            "description",
            "category",
            "stock",
            "image_url",
        ] {
            assert!(p.get(k).is_some());
        }
    }

    let (_, v) = c.get("/products?page=3&limit=500", None).await;
    assert_eq!(v["limit"], 100);
    assert_eq!(v["products"][0]["id"], "prod-201");

    let (_, v) = c.get("/products?category=books&limit=100", None).await;
    let books = v["products"].as_array().expect("books");
    assert!(!books.is_empty() && books.iter().all(|p| p["category"] == "books"));
    let book_total = v["total"].as_u64().expect("total");
    let mut sum = 0;
    for cat in ["electronics", "clothing", "books", "sports", "home"] {
        sum += c.get(&format!("/products?category={cat}"), None).await.1["total"]
            .as_u64()
            .expect("total");
    }
    assert_eq!(sum, 1000);
    assert!(book_total > 0);

    let (_, v) = c.get("/products?search=HEADPHONES&limit=100", None).await;
    let found = v["products"].as_array().expect("found");
    assert!(!found.is_empty());
    assert!(found.iter().all(|p| {
        let hay = format!("{} {}", p["name"], p["description"]).to_lowercase();
        hay.contains("headphones")
    }));
    let (_, v) = c.get("/products?search=zzzznotthere", None).await;
    assert_eq!(v["total"], 0);
    assert_eq!(v["products"], json!([]));

    for bad in ["page=0", "page=abc", "limit=0", "limit=-5", "page=1.5"] {
        let (s, v) = c.get(&format!("/products?{bad}"), None).await;
        assert_eq!(s, 400, "{bad}");
        assert!(v["error"].is_string());
    }

    let (s, v) = c.get("/products/prod-42", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["id"], "prod-42");
    let (s, v) = c.get("/products/prod-9999", None).await;
    assert_eq!(s, 404);
    assert_eq!(v, json!({"error": "Not Found"}));

    let r = c
        .http
        .get(c.url("/images/prod-42.svg"))
        .send()
        .await
        .expect("svg");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/svg+xml");
    assert_eq!(c.get("/images/prod-0.svg", None).await.0, 404);
}

#[tokio::test]
async fn auth_flow_and_failures() {
    let c = Ctx::new();
    let (token, user) = c.register("Alice@Example.com").await;
    assert_eq!(user["email"], "alice@example.com");
    assert_eq!(token.split('.').count(), 3);

    let (s, v) = c
        .post(
            "/auth/register",
            None,
            json!({"email": "alice@example.com", "password": "x", "name": "A"}),
        )
        .await;
    assert_eq!(s, 409);
    assert_eq!(v, json!({"error": "email already registered"}));

    for bad in [
        json!({"email": "bob@example.com", "password": "pw"}),
        json!({"email": "not-an-email", "password": "pw", "name": "B"}),
        json!({"email": 5, "password": "pw", "name": "B"}),
        json!([1, 2]),
    ] {
        let (s, v) = c.post("/auth/register", None, bad.clone()).await;
        assert_eq!(s, 400, "{bad}");
        assert!(v["error"].is_string());
    }
    let r = c
        .http
        .post(c.url("/auth/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.expect("json error");
    assert!(v["error"].as_str().expect("msg").contains("invalid JSON"));

    let (s, v) = c
        .post(
            "/auth/login",
            None,
            json!({"email": "alice@example.com", "password": "secret123"}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(v["user"]["id"], user["id"]);
    let login_token = v["token"].as_str().expect("token").to_owned();
    let (s, _) = c
        .post(
            "/auth/login",
            None,
            json!({"email": "alice@example.com", "password": "wrong"}),
        )
        .await;
    assert_eq!(s, 401);
    let (s, _) = c
        .post(
            "/auth/login",
            None,
            json!({"email": "nobody@example.com", "password": "secret123"}),
        )
        .await;
    assert_eq!(s, 401);

    let (s, me) = c.get("/users/me", Some(&token)).await;
    assert_eq!(s, 200);
    assert_eq!(me["id"], user["id"]);
    assert_eq!(me["name"], "Test User");
    assert!(me["created_at"].is_string());

    // Protected routes reject missing, malformed and tampered tokens.
    let tampered = format!("{}x", &token[..token.len() - 1]);
    for t in [
        None,
        Some("garbage"),
        Some(tampered.as_str()),
        Some("a.b.c"),
    ] {
        for path in ["/users/me", "/cart", "/orders", "/orders/order-1"] {
            let (s, v) = c.get(path, t).await;
            assert_eq!(s, 401, "{path} {t:?}");
            assert_eq!(v, json!({"error": "Unauthorized"}));
        }
    }
    let r = c
        .http
        .get(c.url("/users/me"))
        .header("authorization", format!("Basic {token}"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 401);

    // Logout revokes only the token used.
    let (s, v) = c
        .send(reqwest::Method::POST, "/auth/logout", Some(&token), None)
        .await;
    assert_eq!(s, 200);
    assert!(v["message"].is_string());
    assert_eq!(c.get("/users/me", Some(&token)).await.0, 401);
    assert_eq!(
        c.send(reqwest::Method::POST, "/auth/logout", Some(&token), None)
            .await
            .0,
        401
    );
    assert_eq!(c.get("/users/me", Some(&login_token)).await.0, 200);
}

#[tokio::test]
async fn seeded_users_can_log_in() {
    let c = Ctx::with(ShopOptions { seed_users: 3 });
    let csv = c.shop.shop.seeded_users_csv();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "email,password,name");
    assert_eq!(lines.len(), 4);
    let r = c
        .http
        .get(c.url("/admin/users.csv"))
        .send()
        .await
        .expect("csv");
    assert_eq!(r.text().await.expect("text"), csv);
    for line in &lines[1..] {
        let f: Vec<&str> = line.split(',').collect();
        let (s, v) = c
            .post(
                "/auth/login",
                None,
                json!({"email": f[0], "password": f[1]}),
            )
            .await;
        assert_eq!(s, 200, "{line}");
        assert_eq!(v["user"]["name"], f[2]);
    }
    let (s, v) = c.get("/admin/stats", None).await;
    assert_eq!(s, 200);
    assert_eq!(v["users"], 3);
}

#[tokio::test]
async fn cart_checkout_and_orders() {
    let c = Ctx::new();
    let (token, user) = c.register("carol@example.com").await;
    let t = Some(token.as_str());

    let (s, cart) = c.get("/cart", t).await;
    assert_eq!(s, 200);
    let cart_id = cart["id"].as_str().expect("cart id").to_owned();
    assert!(cart_id.starts_with("cart-"));
    assert_eq!(cart["user_id"], user["id"]);
    assert_eq!(cart["items"], json!([]));
    assert_eq!(cart["total"], 0.0);

    let p1 = c.get("/products/prod-1", None).await.1;
    let p2 = c.get("/products/prod-2", None).await.1;
    let (s, v) = c
        .post(
            "/cart/items",
            t,
            json!({"product_id": "prod-1", "quantity": 2}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let item1 = v["item"]["id"].as_str().expect("item id").to_owned();
    assert!(item1.starts_with("item-"));
    assert_eq!(v["cart"]["id"], cart_id.as_str());
    assert_eq!(v["item"]["quantity"], 2);
    let (s, v) = c
        .post(
            "/cart/items",
            t,
            json!({"product_id": "prod-2", "quantity": 1}),
        )
        .await;
    assert_eq!(s, 201);
    let item2 = v["item"]["id"].as_str().expect("item id").to_owned();
    assert_eq!(v["cart"]["items"].as_array().expect("items").len(), 2);

    for bad in [
        json!({"product_id": "prod-1", "quantity": 0}),
        json!({"product_id": "prod-1", "quantity": -1}),
        json!({"product_id": "prod-0", "quantity": 1}),
        json!({"quantity": 1}),
        json!({"product_id": "prod-1", "quantity": "two"}),
    ] {
        let (s, v) = c.post("/cart/items", t, bad.clone()).await;
        assert_eq!(s, 400, "{bad}");
        assert!(v["error"].is_string());
    }

    let (s, cart) = c
        .send(
            reqwest::Method::PUT,
            &format!("/cart/items/{item1}"),
            t,
            Some(json!({"quantity": 3})),
        )
        .await;
    assert_eq!(s, 200);
    let cents = |v: &Value| (v.as_f64().expect("money") * 100.0).round() as i64;
    let sub = cents(&p1["price"]) * 3 + cents(&p2["price"]);
    assert_eq!(cents(&cart["subtotal"]), sub);
    let tax = (sub * 8 + 50) / 100;
    assert_eq!(cents(&cart["tax"]), tax);
    let ship = if sub < 5000 { 599 } else { 0 };
    assert_eq!(cents(&cart["shipping"]), ship);
    assert_eq!(cents(&cart["total"]), sub + tax + ship);
    let line = &cart["items"][0];
    assert_eq!(cents(&line["subtotal"]), cents(&p1["price"]) * 3);

    let put_path = format!("/cart/items/{item1}");
    let (s, _) = c
        .send(
            reqwest::Method::PUT,
            &put_path,
            t,
            Some(json!({"quantity": 0})),
        )
        .await;
    assert_eq!(s, 400);
    let (s, _) = c
        .send(
            reqwest::Method::PUT,
            "/cart/items/item-999999",
            t,
            Some(json!({"quantity": 1})),
        )
        .await;
    assert_eq!(s, 404);
    assert_eq!(
        c.send(reqwest::Method::DELETE, "/cart/items/item-999999", t, None)
            .await
            .0,
        404
    );

    // Checkout failures leave the cart intact.
    let (s, _) = c
        .post("/checkout", t, checkout_body("cart-999999", "tok_visa"))
        .await;
    assert_eq!(s, 400);
    let (s, v) = c
        .post(
            "/checkout",
            t,
            checkout_body(&cart_id, "tok_chargeDeclined"),
        )
        .await;
    assert_eq!(s, 402);
    assert_eq!(v, json!({"error": "payment declined"}));
    let mut no_zip = checkout_body(&cart_id, "tok_visa");
    no_zip["shipping_address"]["zip"] = json!("");
    assert_eq!(c.post("/checkout", t, no_zip).await.0, 400);
    assert_eq!(
        c.post("/checkout", t, json!({"cart_id": cart_id})).await.0,
        400
    );
    assert_eq!(
        c.get("/cart", t).await.1["items"]
            .as_array()
            .expect("items")
            .len(),
        2
    );

    let (s, placed) = c
        .post("/checkout", t, checkout_body(&cart_id, "tok_mastercard"))
        .await;
    assert_eq!(s, 201, "{placed}");
    assert_eq!(placed["status"], "confirmed");
    let conf = placed["confirmation_number"].as_str().expect("conf");
    assert!(
        conf.len() == 12
            && conf.starts_with("ORD-")
            && conf[4..].bytes().all(|b| b.is_ascii_digit())
    );
    assert_eq!(cents(&placed["total"]), sub + tax + ship);
    let order_id = placed["order_id"].as_str().expect("order id").to_owned();

    let (_, cart) = c.get("/cart", t).await;
    assert_eq!(cart["items"], json!([]));
    assert_eq!(cart["id"], cart_id.as_str());
    assert_eq!(
        c.post("/checkout", t, checkout_body(&cart_id, "tok_visa"))
            .await
            .0,
        400
    );

    let (s, order) = c.get(&format!("/orders/{order_id}"), t).await;
    assert_eq!(s, 200);
    assert_eq!(order["user_id"], user["id"]);
    assert_eq!(order["items"].as_array().expect("items").len(), 2);
    assert_eq!(order["billing_address"], order["shipping_address"]);
    assert_eq!(order["confirmation_number"], conf);
    let (s, list) = c.get("/orders", t).await;
    assert_eq!(s, 200);
    assert_eq!(list["orders"][0]["id"], order_id.as_str());

    // Another user can't see it.
    let (other, _) = c.register("dave@example.com").await;
    assert_eq!(
        c.get(&format!("/orders/{order_id}"), Some(&other)).await.0,
        404
    );
    assert_eq!(c.get("/orders", Some(&other)).await.1["orders"], json!([]));

    // Item removal and cart clearing.
    let (_, v) = c
        .post("/cart/items", t, json!({"product_id": "prod-5"}))
        .await;
    let id = v["item"]["id"].as_str().expect("id").to_owned();
    assert_eq!(v["item"]["quantity"], 1);
    let (s, v) = c
        .send(
            reqwest::Method::DELETE,
            &format!("/cart/items/{id}"),
            t,
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert!(v["message"].is_string());
    c.post("/cart/items", t, json!({"product_id": "prod-5"}))
        .await;
    let (s, _) = c.send(reqwest::Method::DELETE, "/cart", t, None).await;
    assert_eq!(s, 200);
    assert_eq!(c.get("/cart", t).await.1["items"], json!([]));
    let _ = item2;

    let stats = c.shop.shop.stats();
    assert_eq!(stats.orders, 1);
    assert_eq!(stats.distinct_order_users, 1);
    assert_eq!(stats.users, 2);
}

#[tokio::test]
async fn card_tokens() {
    let c = Ctx::new();
    let (token, _) = c.register("erin@example.com").await;
    let t = Some(token.as_str());
    for (card, ok) in [
        ("tok_visa", true),
        ("tok_amex", true),
        ("tok_visa_4242", true),
        ("tok_visa_", false),
        ("tok_discover", false),
    ] {
        let (_, v) = c
            .post(
                "/cart/items",
                t,
                json!({"product_id": "prod-7", "quantity": 1}),
            )
            .await;
        let cart_id = v["cart"]["id"].as_str().expect("cart").to_owned();
        let (s, _) = c.post("/checkout", t, checkout_body(&cart_id, card)).await;
        assert_eq!(s, if ok { 201 } else { 402 }, "{card}");
    }
}

#[tokio::test]
async fn variations_and_faults() {
    let c = Ctx::new();
    for (q, ct) in [
        ("", "application/octet-stream"),
        ("?format=json", "application/json"),
        ("?format=xml", "application/xml"),
    ] {
        for n in [0usize, 5, 64, 1000] {
            let r = c
                .http
                .get(c.url(&format!("/bytes/{n}{q}")))
                .send()
                .await
                .expect("bytes");
            assert_eq!(r.status(), 200);
            assert_eq!(r.headers()["content-type"], ct);
            let body = r.bytes().await.expect("body");
            if n >= 20 || q.is_empty() {
                assert_eq!(body.len(), n, "{n}{q}");
            }
            if q == "?format=json" {
                let v: Value = serde_json::from_slice(&body).expect("valid json");
                assert!(v["data"].is_string());
            }
        }
    }
    let r = c
        .http
        .get(c.url("/bytes/99999999999"))
        .send()
        .await
        .expect("big");
    assert_eq!(r.bytes().await.expect("body").len(), 10 * 1024 * 1024);
    assert_eq!(c.get("/bytes/abc", None).await.0, 400);
    assert_eq!(c.get("/bytes/5?format=yaml", None).await.0, 400);

    let r = c.http.get(c.url("/csv")).send().await.expect("csv");
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/csv"));
    let text = r.text().await.expect("text");
    assert!(text.starts_with("id,name,category,price,stock\n"));
    assert_eq!(text.lines().count(), 101);
    let r = c.http.get(c.url("/html")).send().await.expect("html");
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/html"));
    assert!(r.text().await.expect("text").contains("<table"));

    let start = std::time::Instant::now();
    let (s, v) = c.get("/delay/150", None).await;
    assert_eq!(s, 200);
    assert_eq!(v, json!({"delayed_ms": 150}));
    assert!(start.elapsed().as_millis() >= 150);
    let (s, v) = c.get("/delay/random?max=50", None).await;
    assert_eq!(s, 200);
    assert!(v["delayed_ms"].as_u64().expect("ms") <= 50);
    assert_eq!(c.get("/delay/abc", None).await.0, 400);
    assert_eq!(c.get("/delay/random?max=x", None).await.0, 400);

    for code in [400u16, 404, 418, 429, 499, 500, 503, 599] {
        let (s, v) = c.get(&format!("/error/{code}"), None).await;
        assert_eq!(s.as_u16(), code);
        assert!(v["error"].is_string());
    }
    let (s, v) = c.get("/error/200", None).await;
    assert_eq!(s, 400);
    assert!(v["error"].is_string());
    assert_eq!(c.get("/error/xyz", None).await.0, 400);

    // Unknown route and wrong method are JSON errors too.
    let (s, v) = c.get("/definitely/not/here", None).await;
    assert_eq!(s, 404);
    assert_eq!(v, json!({"error": "Not Found"}));
    let (s, v) = c.send(reqwest::Method::DELETE, "/health", None, None).await;
    assert_eq!(s, 405);
    assert!(v["error"].is_string());
}

#[tokio::test]
async fn static_pages_and_spec() {
    let c = Ctx::new();
    let r = c.http.get(c.url("/")).send().await.expect("index");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/html"));
    let html = r.text().await.expect("html");
    assert!(html.contains("/static/app.js"));
    assert!(!html.contains("http://") && !html.contains("https://"));
    let r = c
        .http
        .get(c.url("/static/app.js"))
        .send()
        .await
        .expect("js");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ct")
        .contains("javascript"));
    let (s, v) = c.get("/openapi.json", None).await;
    assert_eq!(s, 200);
    assert!(v["openapi"].as_str().expect("version").starts_with("3."));
}

#[tokio::test]
async fn server_sent_events() {
    let c = Ctx::new();
    let r = c
        .http
        .get(c.url("/stream?events=5&interval_ms=10"))
        .send()
        .await
        .expect("sse");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .expect("ct")
        .starts_with("text/event-stream"));
    let body = r.text().await.expect("stream ends");
    let events: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).expect("event json"))
        .collect();
    assert_eq!(events.len(), 5);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["id"], i as u64 + 1);
        assert!(e["message"].is_string() && e["timestamp"].is_string());
    }
    assert_eq!(c.get("/stream?events=x", None).await.0, 400);
}

#[tokio::test]
async fn websocket_echo() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let c = Ctx::new();
    let url = format!("ws://{}/ws/echo", c.shop.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("connect");
    ws.send(Message::text(r#"{"type":"ping","data":{"n":42}}"#))
        .await
        .expect("send");
    let reply = ws.next().await.expect("reply").expect("frame");
    let v: Value = serde_json::from_str(reply.to_text().expect("text")).expect("json");
    assert_eq!(v["type"], "pong");
    assert_eq!(v["data"], json!({"n": 42}));
    assert!(v["timestamp"].is_string());
    ws.send(Message::text("hello")).await.expect("send");
    let reply = ws.next().await.expect("reply").expect("frame");
    assert_eq!(reply.to_text().expect("text"), "hello");
    ws.close(None).await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_shoppers() {
    let c = std::sync::Arc::new(Ctx::new());
    let mut tasks = Vec::new();
    for n in 0..50u32 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let (token, user) = c.register(&format!("shopper{n}@example.com")).await;
            let t = Some(token.as_str());
            // Each shopper buys a distinct product so a crossed cart would show.
            let product = format!("prod-{}", n + 1);
            let (s, v) = c
                .post(
                    "/cart/items",
                    t,
                    json!({"product_id": product, "quantity": n + 1}),
                )
                .await;
            assert_eq!(s, 201, "{v}");
            let cart_id = v["cart"]["id"].as_str().expect("cart").to_owned();
            let (s, v) = c
                .post("/checkout", t, checkout_body(&cart_id, "tok_visa"))
                .await;
            assert_eq!(s, 201, "{v}");
            let order_id = v["order_id"].as_str().expect("order").to_owned();
            let (s, order) = c.get(&format!("/orders/{order_id}"), t).await;
            assert_eq!(s, 200);
            assert_eq!(order["user_id"], user["id"]);
            let items = order["items"].as_array().expect("items");
            assert_eq!(items.len(), 1);
            assert_eq!(items[0]["product_id"], product.as_str());
            assert_eq!(items[0]["quantity"], n + 1);
            (cart_id, order_id)
        }));
    }
    let mut carts = std::collections::HashSet::new();
    let mut orders = std::collections::HashSet::new();
    for t in tasks {
        let (cart, order) = t.await.expect("shopper task");
        carts.insert(cart);
        orders.insert(order);
    }
    assert_eq!(carts.len(), 50);
    assert_eq!(orders.len(), 50);
    let stats = c.shop.shop.stats();
    assert_eq!(stats.orders, 50);
    assert_eq!(stats.distinct_order_users, 50);
    assert_eq!(stats.users, 50);
    assert_eq!(stats.carts, 50);
    let (_, v) = c.get("/admin/stats", None).await;
    assert_eq!(v["orders"], 50);
    assert_eq!(v["distinct_order_users"], 50);
}

#[test]
fn spawn_works_outside_a_runtime_and_stops_on_drop() {
    let shop = spawn(ShopOptions::default());
    let addr = shop.addr;
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    use std::io::{Read, Write};
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains("\"healthy\""));
    drop(shop);
    assert!(std::net::TcpStream::connect(addr).is_err());
}
