//! The template wrapper: `Template::parse` (forbidden-tag check, syntax check, reference
//! collection, expression detection), then a render with throng's environment
//! (`template::environment`) and an empty context. Errors are expected; panics and hangs
//! are not.
#![no_main]

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use minijinja::Environment;
use throng_ir::Template;

static ENV: LazyLock<Environment<'static>> =
    LazyLock::new(|| throng_ir::template::environment(Arc::new(HashMap::new())));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(t) = Template::parse(text) else {
        return;
    };
    let _ = t.references();
    if let Some(expr) = t.as_expression() {
        if let Ok(e) = ENV.compile_expression(expr) {
            let _ = e.eval(minijinja::context! {});
        }
    }
    let _ = ENV.render_str(t.source(), minijinja::context! {});
});
