//! Bad input through the built binary: `throng validate`, `compile` and `run` on malformed,
//! hostile and huge files must exit 2 with a message on stderr that names the file, never
//! panic, and finish within bounded time and memory.
//!
//! The hand-made inputs live in `fixtures/bad/` and are listed in one table below (one test
//! per row); inputs too big to commit are generated at test time in a temp folder.
//! Regression inputs found by the fuzzers (`fuzz/`) go in `fixtures/bad/fuzz/` and are all
//! run by `fuzz_regressions`.
//!
//! Each child runs under `sh -c 'ulimit -v ...'` (so a runaway allocation cannot take the
//! machine down), `/usr/bin/time -f %M` (peak RSS, when present) and `timeout -s KILL`
//! (so a hang fails the test instead of hanging the suite).
//!
//! The rows whose fix belongs to `throng-ir` (scenario loading and validation, templates)
//! are grouped at the end, under "Waiting on throng-ir"; everything above holds for the
//! compiler and the CLI.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Wall-time bound for one invocation on a small input: each takes well under a second
/// (debug build), so this leaves room for two busy cores and a parallel test run.
const TIME_BOUND: Duration = Duration::from_secs(20);
/// Wall-time bound for the 50 MB HAR. Measured (debug build, two cores): about 9 s of CPU,
/// 10-18 s of wall time with other builds running; the same run took over 7 minutes when
/// correlation was quadratic.
const BIG_TIME_BOUND: Duration = Duration::from_secs(45);
/// Peak resident memory bound for one invocation.
const RSS_BOUND_KB: u64 = 1024 * 1024;
/// Address-space cap for the child: a guard for the machine, well above `RSS_BOUND_KB`.
const ADDRESS_SPACE_KB: u64 = 4 * 1024 * 1024;
/// The child is killed after this long (a hang shows as a failed time bound).
const KILL_AFTER_SECS: u64 = 90;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bad_dir() -> PathBuf {
    root().join("fixtures/bad")
}

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
    max_rss_kb: Option<u64>,
}

impl Outcome {
    fn describe(&self) -> String {
        let cut = |s: &str| {
            if s.len() > 3000 {
                let mut end = 3000;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                format!("{}... ({} bytes)", &s[..end], s.len())
            } else {
                s.to_string()
            }
        };
        format!(
            "exit {:?} after {:.2?}, peak RSS {:?} kB\n--- stderr:\n{}\n--- stdout:\n{}",
            self.code,
            self.elapsed,
            self.max_rss_kb,
            cut(&self.stderr),
            cut(&self.stdout)
        )
    }
}

fn tool(path: &str) -> Option<&str> {
    Path::new(path).exists().then_some(path)
}

/// Runs `throng ARGS...` from the repository root, bounded as described at the top.
fn throng<I, S>(args: I) -> Outcome
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let rss = tempfile::NamedTempFile::new().expect("temp file");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!(
            "ulimit -v {ADDRESS_SPACE_KB} 2>/dev/null; exec \"$@\""
        ))
        .arg("sh");
    let time = tool("/usr/bin/time");
    if let Some(time) = time {
        cmd.arg(time).arg("-f").arg("%M").arg("-o").arg(rss.path());
    }
    if let Some(timeout) = tool("/usr/bin/timeout").or(tool("/bin/timeout")) {
        cmd.args([timeout, "-s", "KILL", &KILL_AFTER_SECS.to_string()]);
    }
    cmd.arg(env!("CARGO_BIN_EXE_throng"));
    cmd.args(args);
    cmd.current_dir(root())
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null());
    let start = Instant::now();
    let out = cmd.output().expect("run throng");
    let elapsed = start.elapsed();
    // GNU time writes "Command exited with non-zero status N" first, the figure last.
    let max_rss_kb = time.and_then(|_| {
        std::fs::read_to_string(rss.path())
            .ok()?
            .lines()
            .rev()
            .find_map(|l| l.trim().parse().ok())
    });
    Outcome {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        elapsed,
        max_rss_kb,
    }
}

/// Bounded time and memory, no panic: what every invocation here must hold to.
fn assert_bounded(out: &Outcome, what: &str) {
    assert_bounded_within(out, what, TIME_BOUND);
}

fn assert_bounded_within(out: &Outcome, what: &str, time_bound: Duration) {
    assert!(
        !out.stderr.contains("panicked"),
        "{what}: panicked\n{}",
        out.describe()
    );
    assert!(
        out.elapsed < time_bound,
        "{what}: took {:.2?} (bound {time_bound:?})\n{}",
        out.elapsed,
        out.describe()
    );
    if let Some(kb) = out.max_rss_kb {
        assert!(
            kb < RSS_BOUND_KB,
            "{what}: peak RSS {kb} kB (bound {RSS_BOUND_KB} kB)\n{}",
            out.describe()
        );
    }
}

/// Exit 2, a message naming `file` (by its file name) and containing `fragment`.
fn assert_rejected(out: &Outcome, what: &str, file: &Path, fragment: &str) {
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.display().to_string());
    assert_rejected_naming(out, what, &name, fragment);
}

/// Exit 2, a message containing `name` (the file at fault) and `fragment`.
fn assert_rejected_naming(out: &Outcome, what: &str, name: &str, fragment: &str) {
    assert_bounded(out, what);
    assert_eq!(out.code, Some(2), "{what}: exit code\n{}", out.describe());
    assert!(
        out.stderr.contains(name),
        "{what}: stderr does not name `{name}`\n{}",
        out.describe()
    );
    assert!(
        out.stderr.contains(fragment),
        "{what}: stderr lacks `{fragment}`\n{}",
        out.describe()
    );
    assert!(
        !out.stdout.contains("version:"),
        "{what}: a scenario was printed although the input was refused\n{}",
        out.describe()
    );
}

/// One row of the table: `throng SUBCOMMAND fixtures/bad/FILE` must be refused.
fn bad_file(sub: &str, file: &str, fragment: &str) {
    let path = bad_dir().join(file);
    assert!(path.exists(), "missing fixture {}", path.display());
    let mut args: Vec<OsString> = vec![sub.into(), path.clone().into()];
    if sub == "run" {
        args.extend(["--quiet".into(), "--duration".into(), "2s".into()]);
    }
    let out = throng(&args);
    let what = format!("throng {sub} {file}");
    if sub == "run" {
        // `run` fails on the data file, which its message names: the stem is shared.
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        assert_rejected_naming(&out, &what, &stem, fragment);
    } else {
        assert_rejected(&out, &what, &path, fragment);
    }
}

macro_rules! bad_files {
    ($( $test:ident: $sub:literal $file:literal => $fragment:literal; )*) => {
        $(
            #[test]
            fn $test() {
                bad_file($sub, $file, $fragment);
            }
        )*
    };
}

// The table: test name, subcommand, file in fixtures/bad/, a fragment stderr must contain.
bad_files! {
    // --- throng validate: scenario YAML ---
    validate_truncated: "validate" "truncated.yaml" => "truncated.yaml:7:";
    validate_steps_is_string: "validate" "steps-is-string.yaml" => "steps-is-string.yaml:5:12: scenarios[0].steps: invalid type: string";
    validate_scenarios_is_string: "validate" "scenarios-is-string.yaml" => "expected a sequence";
    validate_url_is_map: "validate" "url-is-map.yaml" => "url-is-map.yaml:8:";
    validate_version_bigint: "validate" "version-bigint.yaml" => "version-bigint.yaml:1:10: version";
    validate_billion_laughs: "validate" "billion-laughs.yaml" => "repetition limit exceeded";
    validate_invalid_utf8: "validate" "invalid-utf8.yaml" => "invalid-utf8.yaml:2:11: invalid UTF-8";
    validate_bom_garbage: "validate" "bom-garbage.yaml" => "bom-garbage.yaml:1:";
    validate_empty: "validate" "empty.yaml" => "missing field `version`";
    validate_tabs_indent: "validate" "tabs-indent.yaml" => "tabs-indent.yaml:4:1";
    validate_duplicate_keys: "validate" "duplicate-keys.yaml" => "duplicate field `name`";
    validate_csv_no_header: "validate" "csv-no-header.yaml" => "has no column `email`";
    validate_csv_missing_file: "validate" "csv-missing-file.yaml" => "no-such-file.csv";
    validate_template_include: "validate" "template-include.yaml" => "template tag `include` is not allowed";
    validate_template_import: "validate" "template-import.yaml" => "template tag `import` is not allowed";
    validate_template_unclosed: "validate" "template-unclosed.yaml" => "invalid template";

    // --- throng compile: HAR ---
    compile_not_json: "compile" "not-json.har" => "not-json.har:1:1: not valid JSON";
    compile_truncated_har: "compile" "truncated.har" => "truncated.har:2:";
    compile_array_har: "compile" "array.har" => "no `log` object";
    compile_log_without_entries: "compile" "log-without-entries.har" => "no `log.entries` list";
    compile_entries_is_object: "compile" "entries-is-object.har" => "no `log.entries` list";
    compile_entries_wrong_types: "compile" "entries-wrong-types.har" => "no usable entry among 6";
    compile_invalid_utf8_har: "compile" "invalid-utf8.har" => "invalid-utf8.har:2:61: invalid UTF-8";
    compile_all_canceled: "compile" "all-canceled.har" => "2 failed or canceled";
    compile_bigint_status: "compile" "bigint-status.har" => "bigint-status.har:1:";

    // --- throng compile: OpenAPI / Swagger ---
    openapi_cyclic_ref: "compile" "openapi-cyclic-ref.yaml" => "ref";
    openapi_cyclic_ref_across_files: "compile" "openapi-cyclic-file-a.yaml" => "ref";
    openapi_ref_missing_file: "compile" "openapi-ref-missing-file.yaml" => "does-not-exist.yaml";
    openapi_ref_to_dev_zero: "compile" "openapi-ref-dev-zero.yaml" => "/dev/zero";
    openapi_paths_list: "compile" "openapi-paths-list.yaml" => "`paths` must be a mapping";
    openapi_paths_string: "compile" "openapi-paths-string.yaml" => "`paths` must be a mapping";
    swagger2_broken_definitions_ref: "compile" "swagger2-broken-definitions-ref.yaml" => "#/definitions/Missing";
    openapi_bigint: "compile" "openapi-bigint.yaml" => "openapi-bigint.yaml:";
    openapi_yaml_bomb: "compile" "openapi-yaml-bomb.yaml" => "repetition limit exceeded";
    openapi_truncated_json: "compile" "openapi-truncated.json" => "openapi-truncated.json:1:";
    openapi_ref_remote_url: "compile" "openapi-ref-remote-url.yaml" => "is not fetched";
    openapi_ref_percent_multibyte: "compile" "openapi-ref-percent-multibyte.yaml" => "`$ref: '#/components/schemas/%aé'` points at nothing";

    // --- throng run ---
    run_csv_ragged: "run" "csv-ragged.yaml" => "csv-ragged.csv: CSV error";
}

/// Every file in fixtures/bad/ that is an input (not a CSV or a `$ref` target) is in the table.
#[test]
fn every_fixture_is_in_the_table() {
    let src = std::fs::read_to_string(root().join("tests/bad_input.rs")).expect("read self");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(bad_dir()).expect("fixtures/bad") {
        let path = entry.expect("entry").path();
        let name = path
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let helper = name.ends_with(".csv")
            || name.ends_with("-b.yaml")
            || name.ends_with(".md")
            || path.is_dir();
        if !helper && !src.contains(&format!("\"{name}\"")) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "fixtures/bad files not in the table: {missing:?}"
    );
}

// --- inputs that once panicked but are valid: compiled, exit 0 ---

#[test]
fn compile_html_entity_multibyte() {
    // `&aaaaaaaaaaé;` in an HTML attribute: the entity decoder cut `é` in two (exit 101).
    let path = bad_dir().join("html-entity-multibyte.har");
    let out = throng([OsStr::new("compile"), path.as_os_str()]);
    let what = "throng compile html-entity-multibyte.har";
    assert_bounded(&out, what);
    assert_eq!(out.code, Some(0), "{what}: exit code\n{}", out.describe());
    assert!(
        out.stdout.contains("version:"),
        "{what}: no scenario\n{}",
        out.describe()
    );
    // The recording's accept-encoding is kept, once, in the defaults.
    assert!(
        out.stdout
            .contains("accept-encoding: \"gzip, deflate, br, zstd\""),
        "{what}: accept-encoding dropped\n{}",
        out.describe()
    );
}

// --- flags of `throng run` ---

fn bad_run_flags(flags: &[&str], fragment: &str) {
    let scenario = root().join("fixtures/run/health.yaml");
    let mut args: Vec<OsString> = vec!["run".into(), scenario.into()];
    args.extend(flags.iter().map(OsString::from));
    let out = throng(&args);
    let what = format!("throng run health.yaml {}", flags.join(" "));
    assert_bounded(&out, &what);
    assert_eq!(out.code, Some(2), "{what}\n{}", out.describe());
    assert!(
        out.stderr.contains(fragment),
        "{what}: stderr lacks `{fragment}`\n{}",
        out.describe()
    );
}

#[test]
fn run_vus_not_a_number() {
    bad_run_flags(&["--vus", "abc"], "--vus");
}

#[test]
fn run_rate_zero() {
    bad_run_flags(&["--rate", "0/s"], "0/s");
}

#[test]
fn run_duration_forever() {
    bad_run_flags(&["--duration", "forever"], "--duration");
}

// --- special files: their size says 0, reading them never ends ---

#[test]
fn compile_dev_zero() {
    let out = throng(["compile", "/dev/zero"]);
    assert_rejected(
        &out,
        "throng compile /dev/zero",
        Path::new("/dev/zero"),
        "/dev/zero",
    );
}

// --- generated inputs ---

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write input");
    path
}

#[test]
fn validate_flow_nesting_100k() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("version: 1\nname: deep\nvars:\n  x: ");
    text.push_str(&"[".repeat(100_000));
    text.push_str(&"]".repeat(100_000));
    text.push_str("\nscenarios: []\n");
    let path = write(dir.path(), "deep-flow.yaml", text.as_bytes());
    let out = throng([OsStr::new("validate"), path.as_os_str()]);
    assert_rejected(&out, "validate deep-flow.yaml", &path, "deep-flow.yaml:4:");
    assert!(
        out.stderr.contains("nested deeper than"),
        "{}",
        out.describe()
    );
}

#[test]
fn validate_block_nesting_deep() {
    // Block (indentation) nesting is not caught by the flow-bracket guard.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("version: 1\nname: deep\nvars:\n");
    for depth in 1..5_000 {
        text.push_str(&" ".repeat(depth));
        text.push_str("- \n");
    }
    let path = write(dir.path(), "deep-block.yaml", text.as_bytes());
    let out = throng([OsStr::new("validate"), path.as_os_str()]);
    assert_rejected(&out, "validate deep-block.yaml", &path, "deep-block.yaml:");
}

/// One step of a generated scenario, about 300 bytes.
fn step(i: usize) -> String {
    format!(
        "      - name: step {i}\n        request:\n          method: POST\n          url: \"{{{{ base_url }}}}/items/{i}?q={{{{ uuid() }}}}\"\n          headers: {{x-step: \"{i}\"}}\n          json: {{id: {i}, name: \"item {i}\", tags: [a, b, c]}}\n        check:\n          - status: 201\n"
    )
}

fn big_scenario(bytes: usize) -> String {
    let mut text = String::from(
        "version: 1\nname: big\nvars:\n  base_url: http://127.0.0.1:9\nscenarios:\n  - name: s\n    steps:\n",
    );
    let mut i = 0;
    while text.len() < bytes {
        text.push_str(&step(i));
        i += 1;
    }
    text
}

#[test]
fn validate_20mb_scenario() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "huge.yaml", big_scenario(20 << 20).as_bytes());
    let out = throng([OsStr::new("validate"), path.as_os_str()]);
    assert_rejected(&out, "validate huge.yaml (20 MB)", &path, "limited to");
}

#[test]
fn compile_json_nesting_100k() {
    let dir = tempfile::tempdir().unwrap();
    let text = "[".repeat(100_000);
    let path = write(dir.path(), "deep.har", text.as_bytes());
    let out = throng([OsStr::new("compile"), path.as_os_str()]);
    assert_rejected(&out, "compile deep.har", &path, "deep.har:1:");
}

#[test]
fn compile_json_nesting_100k_inside_entries() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("{\"log\": {\"entries\": [");
    text.push_str(&"{\"a\": [".repeat(50_000));
    let path = write(dir.path(), "deep-entries.har", text.as_bytes());
    let out = throng([OsStr::new("compile"), path.as_os_str()]);
    assert_rejected(
        &out,
        "compile deep-entries.har",
        &path,
        "deep-entries.har:1:",
    );
}

/// A 50 MB recording: 400 entries of one host, each with a ~125 kB JSON response that
/// carries ids, tokens and links the next requests send back, so correlation has work.
fn big_har(target: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(target + (1 << 20));
    out.extend_from_slice(b"{\"log\": {\"version\": \"1.2\", \"creator\": {\"name\": \"gen\", \"version\": \"1\"}, \"entries\": [\n");
    let mut i = 0usize;
    while out.len() < target {
        if i > 0 {
            out.extend_from_slice(b",\n");
        }
        let mut items = String::new();
        for k in 0..1_000 {
            if k > 0 {
                items.push(',');
            }
            items.push_str(&format!(
                "{{\\\"id\\\": \\\"id-{i}-{k:04}-8f14e45fceea167a5a36dedd4bea2543\\\", \\\"href\\\": \\\"/items/{i}/{k}\\\", \\\"n\\\": {k}}}"
            ));
        }
        let body = format!(
            "{{\\\"token\\\": \\\"tok-{i}-c4ca4238a0b923820dcc509a6f75849b\\\", \\\"next\\\": \\\"/page/{}\\\", \\\"items\\\": [{items}]}}",
            i + 1
        );
        let prev = i.saturating_sub(1);
        let entry = format!(
            concat!(
                "{{\"startedDateTime\": \"2024-01-01T00:{m:02}:{s:02}.000Z\", \"time\": 12,",
                " \"request\": {{\"method\": \"POST\", \"url\": \"http://127.0.0.1:9/page/{i}?after=id-{prev}-0999-8f14e45fceea167a5a36dedd4bea2543\",",
                " \"httpVersion\": \"HTTP/1.1\", \"headers\": [{{\"name\": \"authorization\", \"value\": \"Bearer tok-{prev}-c4ca4238a0b923820dcc509a6f75849b\"}},",
                " {{\"name\": \"content-type\", \"value\": \"application/json\"}}], \"queryString\": [], \"cookies\": [], \"headersSize\": -1, \"bodySize\": 40,",
                " \"postData\": {{\"mimeType\": \"application/json\", \"text\": \"{{\\\"id\\\": \\\"id-{prev}-0001-8f14e45fceea167a5a36dedd4bea2543\\\"}}\"}}}},",
                " \"response\": {{\"status\": 200, \"statusText\": \"OK\", \"httpVersion\": \"HTTP/1.1\",",
                " \"headers\": [{{\"name\": \"content-type\", \"value\": \"application/json\"}}], \"cookies\": [],",
                " \"content\": {{\"size\": {len}, \"mimeType\": \"application/json\", \"text\": \"{body}\"}},",
                " \"redirectURL\": \"\", \"headersSize\": -1, \"bodySize\": {len}}},",
                " \"cache\": {{}}, \"timings\": {{\"send\": 1, \"wait\": 10, \"receive\": 1}}}}"
            ),
            m = (i / 60) % 60,
            s = i % 60,
            i = i,
            prev = prev,
            len = body.len(),
            body = body,
        );
        out.extend_from_slice(entry.as_bytes());
        i += 1;
    }
    out.extend_from_slice(b"\n]}}\n");
    out
}

#[test]
fn compile_50mb_har() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = big_har(50 << 20);
    assert!(
        serde_json::from_slice::<serde_json::Value>(&bytes).is_ok(),
        "generator makes JSON"
    );
    let path = write(dir.path(), "huge.har", &bytes);
    let out_file = dir.path().join("huge.yaml");
    let out = throng([
        OsStr::new("compile"),
        path.as_os_str(),
        OsStr::new("-o"),
        out_file.as_os_str(),
    ]);
    assert_bounded_within(&out, "compile huge.har (50 MB)", BIG_TIME_BOUND);
    assert!(matches!(out.code, Some(0 | 2)), "{}", out.describe());
    if out.code == Some(2) {
        assert!(out.stderr.contains("huge.har"), "{}", out.describe());
    } else {
        // The output is validated by the compiler before it is written: check it was.
        let yaml = std::fs::read_to_string(&out_file).expect("compiled scenario");
        assert!(
            yaml.contains("extract:"),
            "no correlation in the compiled scenario"
        );
    }
}

#[test]
fn openapi_yaml_flow_nesting_100k() {
    let dir = tempfile::tempdir().unwrap();
    let mut text =
        String::from("openapi: 3.0.0\ninfo: {title: deep, version: '1'}\npaths: {}\nx-deep: ");
    text.push_str(&"[".repeat(100_000));
    let path = write(dir.path(), "deep-openapi.yaml", text.as_bytes());
    let out = throng([OsStr::new("compile"), path.as_os_str()]);
    assert_rejected(
        &out,
        "compile deep-openapi.yaml",
        &path,
        "deep-openapi.yaml",
    );
}

#[test]
fn openapi_json_nesting_100k() {
    // JSON in a `.yaml` file: a failed JSON parse falls back to the YAML parser.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("{\"openapi\": \"3.0.0\", \"info\": {\"title\": \"deep\", \"version\": \"1\"}, \"paths\": {}, \"x-deep\": ");
    text.push_str(&"[".repeat(100_000));
    let path = write(dir.path(), "deep-openapi-json.yaml", text.as_bytes());
    let out = throng([OsStr::new("compile"), path.as_os_str()]);
    assert_rejected(
        &out,
        "compile deep-openapi-json.yaml",
        &path,
        "deep-openapi-json.yaml",
    );
}

#[test]
fn openapi_remote_refs_are_never_fetched() {
    // The committed fixture points at a closed port and an invalid domain; this copy points
    // at a listener of ours, which must see no connection.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().unwrap().port();
    let text = std::fs::read_to_string(bad_dir().join("openapi-ref-remote-url.yaml"))
        .unwrap()
        .replace("127.0.0.1:9", &format!("127.0.0.1:{port}"))
        .replace(
            "https://example.invalid",
            &format!("http://127.0.0.1:{port}"),
        );
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "openapi-ref-remote-url.yaml", text.as_bytes());
    let out = throng([OsStr::new("compile"), path.as_os_str()]);
    assert_bounded(&out, "compile openapi-ref-remote-url.yaml");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        Ok((_, peer)) => panic!(
            "the compiler connected to {port} from {peer}\n{}",
            out.describe()
        ),
        Err(e) => panic!("accept: {e}"),
    }
    // Refused, and the user is told the refs were not fetched.
    assert_rejected(
        &out,
        "compile openapi-ref-remote-url.yaml",
        &path,
        "is not fetched",
    );
    // And the committed fixture itself behaves the same.
    let out = throng(["compile", "fixtures/bad/openapi-ref-remote-url.yaml"]);
    assert_rejected(
        &out,
        "compile fixtures/bad/openapi-ref-remote-url.yaml",
        Path::new("openapi-ref-remote-url.yaml"),
        "is not fetched",
    );
}

// --- limits of `throng compile` ---

#[test]
fn compile_fifo_is_not_opened() {
    // Opening a FIFO for reading blocks until a writer comes: it must be refused unopened.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pipe.har");
    let made = Command::new("mkfifo").arg(&path).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("mkfifo unavailable: skipped");
        return;
    }
    let out = throng([OsStr::new("compile"), path.as_os_str()]);
    assert_rejected(
        &out,
        "compile pipe.har (a FIFO)",
        &path,
        "not a regular file",
    );
}

#[test]
fn compile_directory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recording.har");
    std::fs::create_dir(&path).unwrap();
    let out = throng([OsStr::new("compile"), path.as_os_str()]);
    assert_rejected(
        &out,
        "compile recording.har/ (a directory)",
        &path,
        "not a regular file",
    );
}

#[test]
fn compile_har_over_the_size_limit() {
    // A sparse file: its size is checked before anything is read.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "huge-sparse.har", b"{\"log\": {\"entries\": [");
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len((256 << 20) + 1)
        .unwrap();
    let out = throng([OsStr::new("compile"), path.as_os_str()]);
    assert_rejected(
        &out,
        "compile huge-sparse.har (256 MiB + 1)",
        &path,
        "limited to",
    );
}

#[test]
fn openapi_over_the_size_limit() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "huge-sparse.yaml",
        b"openapi: 3.0.0\npaths: {}\n",
    );
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len((64 << 20) + 1)
        .unwrap();
    let out = throng([OsStr::new("compile"), path.as_os_str()]);
    assert_rejected(
        &out,
        "compile huge-sparse.yaml (64 MiB + 1)",
        &path,
        "limited to",
    );
}

#[test]
fn openapi_yaml_block_nesting_deep() {
    let dir = tempfile::tempdir().unwrap();
    let mut text =
        String::from("openapi: 3.0.0\ninfo: {title: deep, version: '1'}\npaths: {}\nx-deep:\n");
    for depth in 1..5_000 {
        text.push_str(&" ".repeat(depth));
        text.push_str("- \n");
    }
    let path = write(dir.path(), "deep-block-openapi.yaml", text.as_bytes());
    let out = throng([OsStr::new("compile"), path.as_os_str()]);
    assert_rejected(
        &out,
        "compile deep-block-openapi.yaml",
        &path,
        "deep-block-openapi.yaml:",
    );
    assert!(
        out.stderr.contains("nested deeper than"),
        "{}",
        out.describe()
    );
}

#[test]
fn openapi_ref_chain_through_many_files_terminates() {
    // file-0 -> file-1 -> ... -> file-199 -> file-0: bundled once each, then refused as a loop.
    let dir = tempfile::tempdir().unwrap();
    let n = 200;
    for i in 1..n {
        let next = (i + 1) % n;
        let body = format!("T: {{$ref: 'chain-{next}.yaml#/T'}}\n");
        write(dir.path(), &format!("chain-{i}.yaml"), body.as_bytes());
    }
    let root = "openapi: 3.0.0\ninfo: {title: chain, version: '1'}\npaths:\n  /x:\n    get:\n      responses:\n        '200':\n          description: ok\n          content:\n            application/json:\n              schema: {$ref: 'chain-1.yaml#/T'}\nT: {$ref: 'chain-1.yaml#/T'}\n";
    let path = write(dir.path(), "chain-0.yaml", root.as_bytes());
    let out = throng([OsStr::new("compile"), path.as_os_str()]);
    assert_rejected(&out, "compile chain-0.yaml", &path, "references loop");
}

// ====================================================================================
// --- Waiting on throng-ir ---
//
// These rows test scenario loading, validation and templates, which `crates/ir` (and the
// runner, for `run`) own; they are kept here so that the whole bad-input contract is in
// one file. See the report of issue #10 for which of them fail today and why.
// ====================================================================================

bad_files! {
    validate_name_is_number: "validate" "name-is-number.yaml" => "name";
    validate_csv_ragged: "validate" "csv-ragged.yaml" => "csv-ragged.csv";
}

#[test]
fn validate_dev_zero() {
    let out = throng(["validate", "/dev/zero"]);
    assert_rejected(
        &out,
        "throng validate /dev/zero",
        Path::new("/dev/zero"),
        "/dev/zero",
    );
}

#[test]
fn validate_scenario_just_under_the_size_limit() {
    // 15 MB, ~50k steps: accepted or refused, but within the same bounds.
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "big.yaml", big_scenario(15 << 20).as_bytes());
    let out = throng([OsStr::new("validate"), path.as_os_str()]);
    assert_bounded(&out, "validate big.yaml (15 MB)");
    assert!(matches!(out.code, Some(0 | 2)), "{}", out.describe());
    if out.code == Some(2) {
        assert!(out.stderr.contains("big.yaml"), "{}", out.describe());
    }
}

// --- regressions found by the fuzzers ---

/// Output bound for the fuzz regressions: a message may quote the input, not explode it.
const OUTPUT_BOUND: usize = 1 << 20;

/// Every file in fixtures/bad/fuzz/ is run with the subcommand its name says:
/// `har-*` and `openapi-*` → `compile`, `scenario-*.yaml` → `validate`, `template-*.yaml`
/// (a template wrapped in a scenario) → `run --vus 1 --iterations 1`, since templates are
/// only rendered by `run`. Other files (raw fuzzer artifacts, notes) are kept for reference.
/// Each must be refused cleanly or accepted, within the time, memory and output bounds and
/// without a panic.
#[test]
fn fuzz_regressions() {
    let dir = bad_dir().join("fuzz");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    let mut failures = Vec::new();
    let mut files: Vec<PathBuf> = entries.map(|e| e.expect("entry").path()).collect();
    files.sort();
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let yaml = name.ends_with(".yaml");
        let mut args: Vec<OsString> = match () {
            _ if name.starts_with("har-") && name.ends_with(".har") => vec!["compile".into()],
            _ if name.starts_with("openapi-") && (yaml || name.ends_with(".json")) => {
                vec!["compile".into()]
            }
            _ if name.starts_with("scenario-") && yaml => vec!["validate".into()],
            _ if name.starts_with("template-") && yaml => vec!["run".into()],
            _ => continue,
        };
        args.push(path.clone().into());
        if args[0] == "run" {
            args.extend(["--vus", "1", "--iterations", "1", "--quiet"].map(OsString::from));
        }
        let out = throng(&args);
        let ok = !out.stderr.contains("panicked")
            && out.elapsed < TIME_BOUND
            && out.max_rss_kb.is_none_or(|kb| kb < RSS_BOUND_KB)
            && out.stdout.len() + out.stderr.len() < OUTPUT_BOUND
            && match out.code {
                Some(0 | 1) => true,
                Some(2) => out.stderr.contains(&name),
                _ => false,
            };
        if !ok {
            failures.push(format!(
                "throng {} {name}: {} bytes of output\n{}",
                args[0].to_string_lossy(),
                out.stdout.len() + out.stderr.len(),
                out.describe()
            ));
        }
    }
    if !failures.is_empty() {
        let mut msg = Vec::new();
        for f in &failures {
            writeln!(msg, "{f}\n").ok();
        }
        panic!("{}", String::from_utf8_lossy(&msg));
    }
}
