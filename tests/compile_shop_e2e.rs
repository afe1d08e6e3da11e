//! The storefront recording compiled with no flags replays under load against the bundled
//! shop: every iteration registers its own user and places its own order.

use std::path::Path;
use std::process::Command;

#[test]
fn compiled_shop_recording_replays_under_load() {
    let har = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/har/shop-checkout.har");
    if !har.exists() {
        eprintln!("fixtures/har/shop-checkout.har not recorded yet; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("shop.yaml");
    let c = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("compile")
        .arg(&har)
        .arg("-o")
        .arg(&yaml)
        .output()
        .unwrap();
    assert_eq!(
        c.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&c.stderr)
    );

    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let results = dir.path().join("results.json");
    let r = Command::new(env!("CARGO_BIN_EXE_throng"))
        .arg("run")
        .arg(&yaml)
        .args([
            "--base-url",
            &shop.base_url(),
            "--vus",
            "10",
            "--iterations",
            "50",
            "--no-think",
            "--quiet",
        ])
        .arg("--out")
        .arg(&results)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout);
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(
        r.status.code(),
        Some(0),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&results).unwrap()).unwrap();
    let t = &json["totals"];
    assert_eq!(t["iterations"], 50, "{t}");
    assert_eq!(t["failed_iterations"], 0, "{t}");
    assert_eq!(t["failed_requests"], 0, "errors: {}", json["errors"]);
    assert_eq!(t["checks_failed"], 0, "{t}");

    let stats = shop.shop.stats();
    assert_eq!(stats.users, 50, "each iteration signs up a new user");
    assert_eq!(stats.orders, 50);
    assert_eq!(
        stats.distinct_order_users, 50,
        "each user placed their own order"
    );
}
