//! Snapshots of the YAML compiled from every real HAR in the shared corpus and from the
//! shop recording, each with its compile report; every output must validate.

use std::path::{Path, PathBuf};

use throng_compiler::{compile, CompileOptions};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/har")
}

fn snapshot_of(path: &Path, label: &str) -> String {
    let opts = CompileOptions {
        har_label: Some(label.to_string()),
        ..CompileOptions::default()
    };
    let c = compile(path, &opts).unwrap_or_else(|e| panic!("{label}: {e}"));
    throng_ir::load_str(&c.yaml, label, Path::new(".")).unwrap_or_else(|e| panic!("{label}: {e}"));
    let env: Vec<String> = c
        .env
        .iter()
        .map(|(k, _)| format!("{k}=<redacted>"))
        .collect();
    format!(
        "{}\n#---- report ----\n{}#---- sidecar ----\n{}\n",
        c.yaml,
        c.report,
        env.join("\n")
    )
}

macro_rules! corpus_snapshot {
    ($test:ident, $file:literal) => {
        #[test]
        fn $test() {
            let path = corpus_dir().join($file);
            let out = snapshot_of(&path, concat!("../shared/corpus/har/", $file));
            insta::assert_snapshot!(stringify!($test), out);
        }
    };
}

corpus_snapshot!(cnn_chrome, "cnn-chrome.har");
corpus_snapshot!(devtools_uuid, "devtools-uuid.har");
corpus_snapshot!(fiddler_login, "fiddler-login.har");
corpus_snapshot!(finance_api, "finance-api.har");
corpus_snapshot!(
    gatling_firefox56_redirect_post,
    "gatling-firefox56_redirect-post.har"
);
corpus_snapshot!(mitmproxy_diff_data, "mitmproxy-diff_data.har");
corpus_snapshot!(mitmproxy_firefox, "mitmproxy-firefox.har");
corpus_snapshot!(playwright_har_redirect, "playwright-har-redirect.har");
corpus_snapshot!(postman_echo, "postman-echo.har");
corpus_snapshot!(testerhome_login, "testerhome-login.har");

#[test]
fn every_corpus_file_is_covered() {
    let mut n = 0;
    for e in std::fs::read_dir(corpus_dir()).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "har") {
            n += 1;
        }
    }
    assert_eq!(n, 10, "a new corpus file needs a snapshot test above");
}

#[test]
fn shop_checkout() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/har/shop-checkout.har");
    if !path.exists() {
        eprintln!("fixtures/har/shop-checkout.har not recorded yet; skipping");
        return;
    }
    let out = snapshot_of(&path, "../fixtures/har/shop-checkout.har");
    // The journey's server-made values must all be correlated.
    for needle in [
        "token: {json: $.token}",
        "item_id: {json: $.item.id}",
        "cart_id: {json: $.cart.id}",
        "order_id: {json: $.order_id}",
        "authorization: \"Bearer {{ token }}\"",
        "email: \"pat-{{ uuid() }}@example.com\"",
    ] {
        assert!(out.contains(needle), "missing `{needle}`:\n{out}");
    }
    insta::assert_snapshot!("shop_checkout", out);
}
