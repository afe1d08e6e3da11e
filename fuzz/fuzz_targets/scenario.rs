//! The scenario loader: any UTF-8 text through `throng_ir::load_str` (nesting guard,
//! YAML parse, serde model, validation of templates, durations, checks, thresholds and
//! data files). Data files resolve against `fixtures/scenarios`, so `data/users.csv` and
//! `data/search-terms.csv` exist.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let base = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/scenarios"));
    if let Ok(plan) = throng_ir::load_str(text, "fuzz.yaml", base) {
        // What `throng compile` and `throng validate` do with a loaded plan.
        let _ = throng_ir::to_yaml(&plan);
    }
});
