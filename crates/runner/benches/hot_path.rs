//! Micro-benchmarks of the request path's pieces (`cargo bench -p throng-runner`): rendering
//! the shop journey's templates, judging its JSON checks and extractors on shop-sized bodies
//! (the pruned parse against the whole one), recording a request in a VU's histograms, and
//! the cookie jar. The end-to-end figures, against peers, are `bench/run.sh`'s.

use std::collections::{BTreeMap, HashMap};
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderMap;
use minijinja::Value;
use throng_runner::hot::{
    check, compile, extract, BodyPlan, CookieJar, Program, Recorder, RequestRecord, Seen,
};

fn journey() -> Program {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/scenarios/shop-journey.yaml");
    let plan = throng_ir::load(&path).expect("the journey fixture loads");
    compile(&plan, &[], Arc::new(HashMap::new())).expect("and compiles")
}

/// The variables of an iteration halfway through the journey.
fn context() -> Value {
    let vars: BTreeMap<&str, Value> = [
        ("base_url", "http://127.0.0.1:8080"),
        ("email", "shopper-5c1e3b9e@example.com"),
        ("password", "SecurePass123!"),
        (
            "token",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1LTQyIn0.c2lnbmF0dXJl",
        ),
        ("product_id", "prod-1"),
        ("second_product_id", "prod-2"),
        ("item_id", "item-17"),
        ("cart_id", "cart-9"),
        ("order_id", "ord-3"),
    ]
    .into_iter()
    .map(|(k, v)| (k, Value::from(v)))
    .chain([("vu", Value::from(7)), ("iteration", Value::from(3))])
    .collect();
    Value::from(vars)
}

/// A product list as the shop serves it for `GET /products?limit=20` (about 4.5 KB).
fn product_list() -> Bytes {
    let products: Vec<serde_json::Value> = (1..=20)
        .map(|i| {
            serde_json::json!({
                "id": format!("prod-{i}"), "name": format!("Deluxe Speaker {i}"),
                "description": format!("A deluxe speaker made for the office. Model TH-{i:04}."),
                "price": 700.29 + i as f64, "category": "electronics", "stock": 485 - i,
                "image_url": format!("/images/prod-{i}.svg"),
            })
        })
        .collect();
    let doc = serde_json::json!({"products": products, "total": 60, "page": 1, "limit": 20, "total_pages": 3});
    Bytes::from(serde_json::to_vec(&doc).unwrap())
}

fn templates(c: &mut Criterion) {
    let program = journey();
    let ctx = context();
    let steps = &program.scenarios[0].steps;
    let mut g = c.benchmark_group("template");
    g.bench_function("journey: every URL, header and JSON body (10 steps)", |b| {
        let mut out = Vec::with_capacity(512);
        b.iter(|| {
            for st in steps {
                black_box(st.url.render(&ctx).unwrap());
                for (_, t) in &st.headers {
                    black_box(t.render(&ctx).unwrap());
                }
                if let BodyPlan::Json(j) = &st.body {
                    out.clear();
                    j.write(&ctx, &mut out).unwrap();
                    black_box(&out);
                }
            }
        })
    });
    let bearer = steps
        .iter()
        .flat_map(|s| &s.headers)
        .map(|(_, t)| t)
        .next()
        .expect("a templated header");
    g.bench_function("header `Bearer {{ token }}`", |b| {
        b.iter(|| black_box(bearer.render(&ctx).unwrap()))
    });
    g.finish();
}

fn json(c: &mut Criterion) {
    let program = journey();
    let ctx = context();
    let browse = program.scenarios[0]
        .steps
        .iter()
        .find(|s| s.name == "browse products")
        .expect("the browse step");
    let body = product_list();
    let headers = HeaderMap::new();
    let jar = CookieJar::default();
    let mut g = c.benchmark_group("jsonpath");
    for (label, prune) in [
        ("pruned parse", browse.prune.as_ref()),
        ("whole parse", None),
    ] {
        g.bench_function(
            format!("browse products, 2 extractors + 2 checks, 4.5 KB body, {label}"),
            |b| {
                b.iter(|| {
                    let mut seen = Seen {
                        status: 200,
                        headers: &headers,
                        body: Some(&body),
                        elapsed: Duration::from_millis(3),
                        json: None,
                        label: "body",
                        prune,
                    };
                    for c in &browse.checks {
                        black_box(check(c, &mut seen, &ctx)).unwrap();
                    }
                    for x in &browse.extract {
                        black_box(extract(&x.name, &x.extractor, &mut seen, &jar, "127.0.0.1"))
                            .unwrap();
                    }
                })
            },
        );
    }
    g.finish();
}

fn histograms(c: &mut Criterion) {
    let mut rec = Recorder::new(10, 1);
    let mut i = 0u64;
    c.bench_function(
        "histogram: record one request (step, status, latency)",
        |b| {
            b.iter(|| {
                i = i.wrapping_add(7919);
                rec.request(RequestRecord {
                    step: (i % 10) as usize,
                    service: Duration::from_micros(200 + i % 50_000),
                    error: None,
                    checks_passed: 2,
                    checks_failed: 0,
                    status: Some(200),
                });
            })
        },
    );
}

fn cookies(c: &mut Criterion) {
    let now = SystemTime::now();
    let mut jar = CookieJar::default();
    for (i, name) in ["session", "csrftoken", "cart", "locale", "ab"]
        .iter()
        .enumerate()
    {
        jar.store(
            &format!("{name}=value-{i}; Path=/; HttpOnly"),
            "shop.test",
            "/",
            false,
            now,
        );
    }
    // A jar as a real site leaves it: cookies for the host, its parent domain, a sibling,
    // deeper paths and a Secure one, 20 in all.
    let mut mixed = CookieJar::default();
    for i in 0..20 {
        let header = match i % 5 {
            0 => format!("host{i}=v{i}; Path=/"),
            1 => format!("dom{i}=v{i}; Domain=shop.test; Path=/"),
            2 => format!("deep{i}=v{i}; Path=/cart"),
            3 => format!("sec{i}=v{i}; Secure; SameSite=None; Path=/"),
            _ => format!("other{i}=v{i}; Path=/"),
        };
        let host = if i % 5 == 4 {
            "api.shop.test"
        } else {
            "www.shop.test"
        };
        mixed.store(&header, host, "/", true, now);
    }
    let mut g = c.benchmark_group("cookies");
    g.bench_function("Cookie header for a request (5 cookies)", |b| {
        b.iter(|| black_box(jar.header_for("shop.test", "/cart/items", false, now)))
    });
    g.bench_function("Cookie header for a request (20 cookies, 16 sent)", |b| {
        b.iter(|| black_box(mixed.header_for("www.shop.test", "/cart/items", true, now)))
    });
    g.bench_function("Cookie header when none applies (5 cookies)", |b| {
        b.iter(|| black_box(jar.header_for("elsewhere.test", "/", false, now)))
    });
    g.bench_function("store a Set-Cookie", |b| {
        b.iter(|| {
            jar.store(
                "session=rotated; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax",
                "shop.test",
                "/auth",
                false,
                now,
            )
        })
    });
    g.bench_function("store a Set-Cookie with Expires (IMF-fixdate)", |b| {
        b.iter(|| {
            jar.store(
                "csrftoken=rotated; Path=/; Expires=Wed, 21 Oct 2099 07:28:00 GMT; Secure",
                "shop.test",
                "/auth",
                true,
                now,
            )
        })
    });
    g.bench_function(
        "store a Set-Cookie with Expires (RFC 6265 fallback form)",
        |b| {
            b.iter(|| {
                jar.store(
                    "cart=rotated; Path=/; Expires=Thursday, 21-Oct-2100 07:28:00 UTC",
                    "shop.test",
                    "/auth",
                    false,
                    now,
                )
            })
        },
    );
    g.bench_function(
        "store a Set-Cookie with Domain (public suffix check)",
        |b| {
            b.iter(|| {
                jar.store(
                    "locale=en; Domain=shop.test; Path=/",
                    "shop.test",
                    "/auth",
                    false,
                    now,
                )
            })
        },
    );
    g.bench_function(
        "a login response: 3 Set-Cookie into an empty jar, then a request",
        |b| {
            let mut fresh = CookieJar::default();
            b.iter(|| {
                fresh.clear();
                for h in [
                    "session=abc123; Path=/; HttpOnly; SameSite=Lax",
                    "csrftoken=tok; Path=/; Max-Age=31449600",
                    "ab=b; Path=/; Expires=Wed, 21 Oct 2099 07:28:00 GMT",
                ] {
                    fresh.store(h, "shop.test", "/login", false, now);
                }
                black_box(fresh.header_for("shop.test", "/cart", false, now))
            })
        },
    );
    g.finish();
}

criterion_group!(benches, templates, json, histograms, cookies);
criterion_main!(benches);
