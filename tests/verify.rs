//! `throng verify`: the compiled storefront recording replays against a fresh shop with every
//! step matching; with one correlation removed (the extractor deleted and the recorded value
//! pasted where it was used, as naive converters do), verify reports the first divergence and
//! names the missing correlation.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn throng(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_throng"))
        .args(args)
        .output()
        .expect("run throng")
}

/// Compiles the storefront HAR into `dir/s.yaml` (+ its `.env` sidecar).
fn compiled(dir: &Path) -> PathBuf {
    let har = dir.join("shop-checkout.har");
    std::fs::write(&har, throng_shop::STOREFRONT_HAR).unwrap();
    let yaml = dir.join("s.yaml");
    let o = throng(&[
        "compile",
        har.to_str().unwrap(),
        "-o",
        yaml.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    yaml
}

#[test]
fn the_compiled_storefront_matches_its_recording() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let yaml = compiled(dir.path());
    let o = throng(&[
        "verify",
        yaml.to_str().unwrap(),
        "--base-url",
        &shop.base_url(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| {
            l.trim_end().ends_with("match") || l.contains("differs") || l.contains("failed")
        })
        .collect();
    assert!(rows.len() >= 15, "a row per step: {stdout}");
    assert!(
        rows.iter().all(|r| r.trim_end().ends_with(" match")),
        "{stdout}"
    );
    assert!(
        stdout.contains("every step matches the recording"),
        "{stdout}"
    );
}

#[test]
fn a_removed_correlation_is_the_first_divergence_and_is_named() {
    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let yaml = compiled(dir.path());
    let har: serde_json::Value = serde_json::from_str(throng_shop::STOREFRONT_HAR).unwrap();
    // The token the recording's sign-up returned: valid only on the shop that recorded it.
    let recorded_token = har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["request"]["url"]
                .as_str()
                .unwrap()
                .ends_with("/auth/register")
        })
        .find_map(|e| {
            let body: serde_json::Value =
                serde_json::from_str(e["response"]["content"]["text"].as_str()?).ok()?;
            body["token"].as_str().map(str::to_string)
        })
        .expect("the recording signs up");
    let text = std::fs::read_to_string(&yaml).unwrap();
    let extractor =
        regex::Regex::new(r"\n\s*extract:\n(\s*#[^\n]*\n)?\s*token: \{json: \$\.token\}").unwrap();
    assert!(
        extractor.is_match(&text),
        "the compiled scenario extracts the token:\n{text}"
    );
    let broken = extractor
        .replace(&text, "")
        .replace("{{ token }}", &recorded_token);
    let broken_yaml = dir.path().join("broken.yaml");
    std::fs::write(&broken_yaml, broken).unwrap();
    std::fs::copy(dir.path().join("s.env"), dir.path().join("broken.env")).unwrap();

    let o = throng(&[
        "verify",
        broken_yaml.to_str().unwrap(),
        "--har",
        dir.path().join("shop-checkout.har").to_str().unwrap(),
        "--base-url",
        &shop.base_url(),
    ]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Public pages still work with a stale token; the first write that needs it does not.
    assert!(
        stdout.contains("first divergence: step `POST /cart/items`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("status: 201 recorded, 401 replayed"),
        "{stdout}"
    );
    assert!(
        stdout.contains("first appeared in the recorded response of `POST /auth/register`"),
        "{stdout}"
    );
    assert!(
        stdout.contains(r#"Missing correlation: add `extract: {token: {json: "$.token"}}` to step `POST /auth/register`"#),
        "{stdout}"
    );
    assert!(
        stdout.contains("In this run that response held"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(&recorded_token),
        "tokens are shortened on the console: {stdout}"
    );
}
