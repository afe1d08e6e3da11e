//! Library-level runs against the in-process shop and tiny local servers.

use std::path::Path;

use throng_ir::LoadSpec;
use throng_runner::{run, RunOptions, Stopper};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn shop_journey_library_run() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let plan = throng_ir::load(&fixture("scenarios/shop-journey.yaml")).unwrap();
    let opts = RunOptions {
        base_url: Some(shop.base_url()),
        load: LoadSpec {
            vus: Some(20),
            iterations: Some(200),
            ..Default::default()
        },
        no_think: true,
        quiet: true,
        ..Default::default()
    };
    let r = rt().block_on(run(plan, opts, Stopper::new())).unwrap();
    println!("{}", r.summary());
    assert_eq!(r.totals.iterations, 200);
    assert_eq!(r.totals.requests, 2000);
    assert_eq!(r.totals.failed_requests, 0, "{:?}", r.errors);
    assert_eq!(r.connections.opened, 20);
    let stats = shop.shop.stats();
    assert_eq!(stats.orders, 200);
    assert_eq!(stats.distinct_order_users, 200);
    assert_eq!(r.exit_code(), 0);
}
