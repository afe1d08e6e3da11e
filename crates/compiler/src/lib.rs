//! throng-compiler: front ends that turn recordings into scenario YAML.
//!
//! [`compile`] reads a HAR file and writes a readable, editable scenario whose
//! server-made values (tokens, CSRF, ids) are *correlated*: extracted from the response
//! where they first appeared and templated into the requests that send them back, so the
//! scenario replays without hand edits. Secrets go to a sidecar `.env`, never the YAML.
//!
//! Pipeline: [`har`] (lenient parse) → `filter` (what becomes a step) → `correlate`
//! (inference) → [`emit`] (minijinja template) → `throng_ir::load_str` (the output is
//! validated before it is returned).

mod correlate;
mod draft;
pub mod emit;
mod filter;
pub mod har;
pub mod openapi;
mod util;
pub mod verify;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Flags of `throng compile`.
#[derive(Debug, Clone)]
pub struct CompileOptions {
    /// Scenario name; defaults to the input file's stem.
    pub name: Option<String>,
    /// Hosts treated as first-party (subdomains included); empty = inferred.
    pub include_hosts: Vec<String>,
    /// Hosts always dropped.
    pub exclude_hosts: Vec<String>,
    /// Keep static assets (images, scripts, styles, fonts).
    pub keep_static: bool,
    /// Emit recorded idle gaps as `think`.
    pub think: bool,
    /// Upper bound for a single think time.
    pub max_think: Duration,
    /// How steps' `source.har` names the recording (relative to the scenario's folder);
    /// defaults to the input path as given.
    pub har_label: Option<String>,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions {
            name: None,
            include_hosts: Vec::new(),
            exclude_hosts: Vec::new(),
            keep_static: false,
            think: true,
            max_think: Duration::from_secs(10),
            har_label: None,
        }
    }
}

/// A compiled scenario: the YAML, the secrets for its sidecar `.env`, and what happened.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub yaml: String,
    /// `(NAME, recorded value)` for the sidecar file (`throng_ir::envfile::render`).
    pub env: Vec<(String, String)>,
    pub report: CompileReport,
}

/// What the compiler did with a recording, for the stderr summary and tests.
#[derive(Debug, Clone, Default)]
pub struct CompileReport {
    pub entries_read: usize,
    pub kept: usize,
    /// Reason → number of entries dropped for it.
    pub dropped: BTreeMap<String, usize>,
    /// Third-party hosts dropped, with request counts.
    pub dropped_hosts: BTreeMap<String, usize>,
    /// Entries that could not be read at all: `(index, why)`.
    pub skipped: Vec<(usize, String)>,
    pub correlations: Vec<Correlation>,
    pub suggestions: Vec<Suggestion>,
    /// Names of the sidecar variables holding secrets.
    pub secrets: Vec<String>,
    /// Client-generated values replaced by generators.
    pub generated: Vec<String>,
    pub warnings: Vec<String>,
}

/// A value templated from the response where it first appeared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Correlation {
    pub var: String,
    /// `METHOD /path` of the producing step.
    pub from_step: String,
    /// The extractor, described (`$.token`, `header location`).
    pub extractor: String,
    /// How many requests send it.
    pub uses: usize,
}

/// A weak match left as a comment for a human to decide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub value: String,
    pub slot: String,
    pub used_in: String,
    pub from: String,
}

impl fmt::Display for CompileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dropped: usize = self.dropped.values().sum();
        writeln!(
            f,
            "{} entries read, {} kept as steps, {} dropped",
            self.entries_read, self.kept, dropped
        )?;
        for (why, n) in &self.dropped {
            writeln!(f, "  dropped {n}: {why}")?;
        }
        if !self.dropped_hosts.is_empty() {
            let mut hosts: Vec<(&String, &usize)> = self.dropped_hosts.iter().collect();
            hosts.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
            let shown: Vec<String> = hosts
                .iter()
                .take(5)
                .map(|(h, n)| format!("{h} ({n})"))
                .collect();
            let more = hosts.len().saturating_sub(5);
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            writeln!(f, "  third-party hosts: {}{more}", shown.join(", "))?;
        }
        for (i, why) in &self.skipped {
            writeln!(f, "  skipped entry {i}: {why}")?;
        }
        writeln!(
            f,
            "correlations: {} applied, {} suggested",
            self.correlations.len(),
            self.suggestions.len()
        )?;
        for c in &self.correlations {
            writeln!(
                f,
                "  {} <- {} {} (used {}x)",
                c.var, c.from_step, c.extractor, c.uses
            )?;
        }
        if !self.generated.is_empty() {
            writeln!(f, "generated values: {}", self.generated.len())?;
        }
        if !self.secrets.is_empty() {
            writeln!(
                f,
                "secrets moved to the sidecar .env: {}",
                self.secrets.join(", ")
            )?;
        }
        for w in &self.warnings {
            writeln!(f, "warning: {w}")?;
        }
        Ok(())
    }
}

/// Why a recording could not be compiled. Every message names the input file.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a regular file (a directory, device or FIFO); only regular files are read", path.display())]
    NotAFile { path: PathBuf },
    #[error("{}: {what}; HAR files are limited to {limit} bytes ({} MiB)", path.display(), limit >> 20)]
    TooLarge {
        path: PathBuf,
        what: String,
        limit: u64,
    },
    #[error("{file}:{line}:{column}: invalid UTF-8: a HAR file is UTF-8 JSON")]
    NotUtf8 {
        file: String,
        line: usize,
        column: usize,
    },
    #[error("{file}:{line}:{column}: not valid JSON: {message}")]
    Json {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    NotHar { file: String, message: String },
    #[error("{file}: no usable entry among {total} in log.entries{}", first.as_ref().map(|f| format!(" ({f})")).unwrap_or_default())]
    NoUsableEntry {
        file: String,
        total: usize,
        first: Option<String>,
    },
    #[error("{file}: {what} input is not supported yet; `throng compile` reads HAR recordings")]
    Unsupported { file: String, what: String },
    #[error(
        "{file}: every entry was filtered out ({reasons}); try --include-host or --keep-static"
    )]
    NothingKept { file: String, reasons: String },
    #[error("{file}: internal error: the compiled scenario does not validate:\n{message}")]
    Invalid { file: String, message: String },
}

/// HAR files larger than this are refused before parsing (a parsed recording takes a few
/// times its size in memory).
pub const MAX_HAR_BYTES: u64 = 256 << 20;

impl CompileError {
    fn from_read(path: &Path, e: util::ReadCapped, limit: u64) -> Self {
        let path = path.to_path_buf();
        match e {
            util::ReadCapped::Io(source) => CompileError::Read { path, source },
            util::ReadCapped::NotAFile => CompileError::NotAFile { path },
            too_large @ util::ReadCapped::TooLarge(_) => CompileError::TooLarge {
                path,
                what: too_large.to_string(),
                limit,
            },
        }
    }
}

/// The input formats `compile` recognises by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    Har,
    OpenApi,
}

/// Which front end reads the file at `path`, decided by content, not by extension: a HAR is
/// JSON whose top level holds `log`; an OpenAPI or Swagger document (JSON or YAML) holds
/// `openapi` or `swagger`. Only the start of the file is examined, so huge HARs are not
/// parsed twice.
pub fn detect_path(path: &Path) -> Result<InputKind, CompileError> {
    use std::io::Read;
    let mut head = Vec::with_capacity(64 * 1024);
    // A FIFO would block the open and a device never ends: only regular files are read.
    let meta = std::fs::metadata(path).map_err(|source| CompileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.is_file() {
        return Err(CompileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    std::fs::File::open(path)
        .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
        .map_err(|source| CompileError::Read {
            path: path.to_path_buf(),
            source,
        })?;
    let text =
        String::from_utf8_lossy(head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head)).into_owned();
    let first = text.trim_start().chars().next();
    if first == Some('{') {
        let key = regex::Regex::new(r#""(log|openapi|swagger)"\s*:"#).expect("static regex");
        return Ok(
            match key.captures(&text).map(|c| c[1].to_string()).as_deref() {
                Some("openapi") | Some("swagger") => InputKind::OpenApi,
                _ => InputKind::Har,
            },
        );
    }
    let key = regex::Regex::new(r"(?m)^['\x22]?(openapi|swagger|arazzo)['\x22]?\s*:")
        .expect("static regex");
    Ok(if key.is_match(&text) {
        InputKind::OpenApi
    } else {
        InputKind::Har
    })
}

/// Compiles the recording at `input`.
pub fn compile(input: &Path, opts: &CompileOptions) -> Result<Compiled, CompileError> {
    let bytes = util::read_capped(input, MAX_HAR_BYTES)
        .map_err(|e| CompileError::from_read(input, e, MAX_HAR_BYTES))?;
    let label = input.display().to_string();
    let mut opts = opts.clone();
    if opts.name.is_none() {
        opts.name = input.file_stem().map(|s| s.to_string_lossy().into_owned());
    }
    if opts.har_label.is_none() {
        opts.har_label = Some(label.clone());
    }
    compile_bytes(&bytes, &label, &opts)
}

/// Compiles recording bytes; `file` labels error messages.
pub fn compile_bytes(
    bytes: &[u8],
    file: &str,
    opts: &CompileOptions,
) -> Result<Compiled, CompileError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let (line, column) = line_col(&bytes[..e.valid_up_to()]);
        CompileError::NotUtf8 {
            file: file.to_string(),
            line,
            column,
        }
    })?;
    let (kind, doc) = detect(text, file)?;
    match kind {
        // The OpenAPI front end plugs in here; it will produce the same `Draft`.
        InputKind::OpenApi => Err(CompileError::Unsupported {
            file: file.to_string(),
            what: "OpenAPI".into(),
        }),
        InputKind::Har => compile_har(&doc, file, opts),
    }
}

/// Recognises the input by content, returning the parsed JSON for HAR.
pub fn detect(text: &str, file: &str) -> Result<(InputKind, serde_json::Value), CompileError> {
    let head = text.trim_start();
    if head.starts_with("openapi:")
        || head.starts_with("swagger:")
        || head.starts_with("\"openapi\":")
    {
        return Ok((InputKind::OpenApi, serde_json::Value::Null));
    }
    let doc: serde_json::Value = serde_json::from_str(text).map_err(|e| CompileError::Json {
        file: file.to_string(),
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or("")
            .to_string(),
    })?;
    if doc.get("openapi").is_some() || doc.get("swagger").is_some() {
        return Ok((InputKind::OpenApi, doc));
    }
    Ok((InputKind::Har, doc))
}

fn line_col(valid: &[u8]) -> (usize, usize) {
    let line = valid.iter().filter(|&&b| b == b'\n').count() + 1;
    let last = valid.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&valid[last..]).chars().count() + 1;
    (line, column)
}

fn compile_har(
    doc: &serde_json::Value,
    file: &str,
    opts: &CompileOptions,
) -> Result<Compiled, CompileError> {
    let parsed = har::from_value(doc).map_err(|e| match e {
        har::HarError::NotHar(message) => CompileError::NotHar {
            file: file.to_string(),
            message,
        },
        har::HarError::NoUsableEntry {
            total,
            first_reason,
        } => CompileError::NoUsableEntry {
            file: file.to_string(),
            total,
            first: first_reason,
        },
    })?;
    let filtered = filter::filter(&parsed, opts);
    if filtered.kept.is_empty() {
        let reasons = filtered
            .dropped
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect::<Vec<_>>()
            .join(", ");
        return Err(CompileError::NothingKept {
            file: file.to_string(),
            reasons,
        });
    }
    let name = opts.name.clone().unwrap_or_else(|| "recording".into());
    let har_label = opts.har_label.clone().unwrap_or_else(|| file.to_string());
    let inferred = correlate::infer(&parsed, &filtered, opts, &name, &har_label);

    let mut report = CompileReport {
        entries_read: parsed.total,
        kept: inferred.draft.steps.len(),
        dropped: filtered.dropped.clone(),
        dropped_hosts: filtered.dropped_hosts.clone(),
        skipped: parsed.skipped.clone(),
        correlations: inferred.correlations,
        suggestions: inferred.suggestions,
        secrets: inferred.env.iter().map(|(k, _)| k.clone()).collect(),
        generated: inferred.generated,
        warnings: inferred.warnings,
    };
    if inferred.collapsed_hops > 0 {
        report.dropped.insert(
            "redirect followed (chain collapsed)".into(),
            inferred.collapsed_hops,
        );
    }
    if !parsed.skipped.is_empty() {
        report
            .dropped
            .insert("unreadable entry".into(), parsed.skipped.len());
    }
    if parsed.entries.iter().all(|e| e.resp_body.is_none()) {
        report.warnings.push("the recording has no response bodies (exported without content?): body correlation was impossible".into());
    }

    let mut draft = inferred.draft;
    draft.header_comments = vec![
        format!(
            "Compiled by `throng compile` from {har_label}{}.",
            if parsed.creator.is_empty() {
                String::new()
            } else {
                format!(" ({})", parsed.creator)
            }
        ),
        format!(
            "{} entries read, {} steps; correlations: {} applied, {} suggested (see comments).",
            report.entries_read,
            report.kept,
            report.correlations.len(),
            report.suggestions.len()
        ),
    ];
    if !report.secrets.is_empty() {
        draft.header_comments.push(format!(
            "Secrets ({}) are read with env(); their recorded values are in the sidecar .env file.",
            report.secrets.join(", ")
        ));
    }
    let yaml = emit::render(&draft).map_err(|message| CompileError::Invalid {
        file: file.to_string(),
        message,
    })?;
    throng_ir::load_str(&yaml, &format!("{file} (compiled)"), Path::new(".")).map_err(|e| {
        CompileError::Invalid {
            file: file.to_string(),
            message: format!("{e}\n---\n{yaml}"),
        }
    })?;
    Ok(Compiled {
        yaml,
        env: inferred.env,
        report,
    })
}
