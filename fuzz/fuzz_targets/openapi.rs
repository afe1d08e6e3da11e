//! The OpenAPI front end: the bytes are written to a spec file and compiled with
//! `openapi::compile_spec` (parse, `$ref` bundling, Swagger 2 conversion, schema
//! normalisation, chaining, synthesis, YAML emission and validation). There is no
//! in-memory entry point, so each run writes one small file in a per-process folder.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use throng_compiler::openapi::{compile_spec, OpenApiOptions};

static SPEC: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("throng-fuzz-openapi-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("spec.yaml")
});

fuzz_target!(|data: &[u8]| {
    // Keep `$ref`s away from special files: /dev/zero and FIFOs are covered by
    // tests/bad_input.rs, and here they would only make the fuzzer run out of memory.
    if data.windows(5).any(|w| w == b"/dev/" || w == b"/proc") {
        return;
    }
    std::fs::write(&*SPEC, data).expect("write spec");
    let _ = compile_spec(&SPEC, &OpenApiOptions::default());
});
