//! The HAR front end: any bytes through `compile_bytes` (UTF-8 check, JSON parse, HAR
//! model, filtering, correlation, YAML emission, and the validation of the output).
#![no_main]

use libfuzzer_sys::fuzz_target;
use throng_compiler::{compile_bytes, CompileOptions};

fuzz_target!(|data: &[u8]| {
    let _ = compile_bytes(data, "fuzz.har", &CompileOptions::default());
});
