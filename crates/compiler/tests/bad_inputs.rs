//! The compiler's refusals of bad input, as messages: every one names the file, and the
//! `$ref` or the limit at fault. The binary's exit codes and time bounds for the same files
//! are checked by `tests/bad_input.rs` at the workspace root.

use std::path::{Path, PathBuf};

use throng_compiler::openapi::{compile_spec, OpenApiOptions};
use throng_compiler::{compile, CompileOptions};

fn bad_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bad")
}

/// The error message for compiling `path`, with the fixtures folder shortened.
fn spec_error(path: &Path) -> String {
    match compile_spec(path, &OpenApiOptions::default()) {
        Ok(out) => panic!("{} compiled:\n{}", path.display(), out.yaml),
        Err(e) => e
            .to_string()
            .replace(&bad_dir().display().to_string(), "fixtures/bad"),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn bad_spec_messages() {
    let files = [
        "openapi-cyclic-ref.yaml",
        "openapi-cyclic-file-a.yaml",
        "openapi-ref-missing-file.yaml",
        "openapi-ref-dev-zero.yaml",
        "swagger2-broken-definitions-ref.yaml",
        "openapi-ref-percent-multibyte.yaml",
    ];
    let messages: Vec<String> = files
        .iter()
        .map(|f| spec_error(&bad_dir().join(f)))
        .collect();
    insta::assert_snapshot!(messages.join("\n\n"));
}

#[test]
fn recursive_schema_still_compiles() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "tree.yaml",
        r##"openapi: 3.0.0
info: {title: Tree, version: "1"}
servers: [{url: "http://127.0.0.1:9"}]
paths:
  /nodes:
    post:
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Alias'}
      responses:
        "201":
          description: created
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Node'}
components:
  schemas:
    Alias: {$ref: '#/components/schemas/Node'}
    Node:
      type: object
      required: [name]
      properties:
        name: {type: string}
        parent: {$ref: '#/components/schemas/Node'}
        children: {type: array, items: {$ref: '#/components/schemas/Node'}}
        other: {allOf: [{$ref: '#/components/schemas/Alias'}]}
"##,
    );
    let out = compile_spec(&path, &OpenApiOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    assert!(out.yaml.contains("/nodes"), "{}", out.yaml);
}

#[test]
fn dangling_ref_in_an_example_or_extension_is_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "data.yaml",
        r##"openapi: 3.0.0
info: {title: Data, version: "1"}
servers: [{url: "http://127.0.0.1:9"}]
x-notes: {$ref: '#/nowhere'}
paths:
  /things:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema: {type: object}
              example: {$ref: '#/nowhere'}
"##,
    );
    compile_spec(&path, &OpenApiOptions::default()).unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn deep_nesting_is_refused_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let flow = format!(
        "openapi: 3.0.0\ninfo: {{title: deep, version: '1'}}\npaths: {{}}\nx-deep: {}\n",
        "[".repeat(100_000)
    );
    let path = write(dir.path(), "flow.yaml", &flow);
    let msg = spec_error(&path);
    assert!(msg.contains("flow.yaml:4:"), "{msg}");
    assert!(msg.contains("nested deeper than"), "{msg}");

    let json = format!(
        "{{\"openapi\": \"3.0.0\", \"paths\": {{}}, \"x\": {}",
        "[".repeat(100_000)
    );
    let path = write(dir.path(), "deep.json", &json);
    let msg = spec_error(&path);
    assert!(msg.contains("deep.json:1:"), "{msg}");

    let mut block = String::from("openapi: 3.0.0\ninfo: {title: deep, version: '1'}\npaths:\n");
    for depth in 1..200 {
        block.push_str(&" ".repeat(depth * 2));
        block.push_str(&format!("k{depth}:\n"));
    }
    let path = write(dir.path(), "block.yaml", &block);
    let msg = spec_error(&path);
    assert!(msg.contains("block.yaml:"), "{msg}");
    assert!(msg.contains("block collections"), "{msg}");
}

#[test]
fn special_files_are_not_read() {
    let msg = spec_error(Path::new("/dev/zero"));
    assert!(msg.starts_with("/dev/zero: not a regular file"), "{msg}");
    let err = compile(Path::new("/dev/zero"), &CompileOptions::default()).unwrap_err();
    assert!(
        err.to_string().starts_with("/dev/zero: not a regular file"),
        "{err}"
    );
    let err = throng_compiler::detect_path(Path::new("/dev/zero")).unwrap_err();
    assert!(
        err.to_string().starts_with("/dev/zero: not a regular file"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let err = compile(dir.path(), &CompileOptions::default()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

#[test]
fn remote_refs_are_refused_not_fetched() {
    let msg = spec_error(&bad_dir().join("openapi-ref-remote-url.yaml"));
    assert_eq!(
        msg,
        "fixtures/bad/openapi-ref-remote-url.yaml: remote reference `http://127.0.0.1:9/schemas/item.yaml#/Item` is not fetched: the compiler never reads the network; download the document and refer to the local copy"
    );
    // In a referenced file, the message says which.
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "item.yaml",
        "Item: {$ref: 'https://example.invalid/x.yaml#/Y'}\n",
    );
    let root = write(
        dir.path(),
        "api.yaml",
        "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: 'item.yaml#/Item'}\n",
    );
    let msg = spec_error(&root);
    assert!(
        msg.contains("api.yaml: remote reference `https://example.invalid/x.yaml#/Y` (in "),
        "{msg}"
    );
    assert!(msg.contains("item.yaml) is not fetched"), "{msg}");
}
