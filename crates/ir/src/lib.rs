//! throng-ir: the scenario format every other part of throng speaks.
//!
//! A scenario file (YAML) is loaded into a [`Plan`]: serde types whose every grammar
//! (durations, rates, templates, JSONPaths, regexes, thresholds, checks) is parsed on the way
//! in, followed by a semantic pass ([`validate`]) that checks what one node cannot see alone:
//! variables defined before use, data columns that exist, thresholds naming real steps.
//! Errors come back as `FILE:LINE:COLUMN: message` [`Diagnostic`]s.
//!
//! This crate depends on no other throng crate; the compiler writes this format and the
//! runner executes it.

pub mod check;
pub mod envfile;
pub mod extract;
pub mod load;
pub mod pattern;
pub mod plan;
pub mod segment;
pub mod shape;
pub mod stream;
pub mod template;
pub mod threshold;
pub mod time;
mod validate;

use std::fmt;
use std::path::{Path, PathBuf};

pub use check::{Check, Comparison, StatusExpect, ValueExpect};
pub use extract::Extractor;
pub use load::{Load, LoadModel, LoadSpec, Stage};
pub use pattern::{JsonPath, Pattern};
pub use plan::{
    Body, Defaults, Feeder, OnFail, Part, Pick, Plan, Provenance, Request, Scenario, Step,
};
pub use segment::Segment;
pub use shape::Shape;
pub use stream::{Reply, Sse, StepKind, Ws};
pub use template::{JsonTemplate, Template};
pub use threshold::{LatencyStat, Metric, Op, Scope, Threshold};
pub use time::{format_duration, parse_duration, Rate, Think};

/// A problem found in a scenario file, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )
    }
}

/// Why a scenario file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{}: cannot read: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", join_lines(.0))]
    Invalid(Vec<Diagnostic>),
}

impl LoadError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            LoadError::Invalid(d) => d,
            LoadError::Read { .. } => &[],
        }
    }
}

fn join_lines(d: &[Diagnostic]) -> String {
    d.iter()
        .map(Diagnostic::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Files larger than this are refused before parsing: no real scenario comes close.
pub const MAX_SCENARIO_BYTES: u64 = 16 * 1024 * 1024;

/// Loads and validates a scenario file; data files are resolved relative to its folder.
pub fn load(path: &Path) -> Result<Plan, LoadError> {
    let read_err = |source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    let label = path.display().to_string();
    if meta.len() > MAX_SCENARIO_BYTES {
        return Err(LoadError::Invalid(vec![Diagnostic {
            file: label,
            line: 1,
            column: 1,
            message: format!(
                "file is {} bytes; scenario files are limited to {MAX_SCENARIO_BYTES}",
                meta.len()
            ),
        }]));
    }
    let bytes = std::fs::read(path).map_err(read_err)?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let before = &e.as_bytes()[..at];
            let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
            let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
            return Err(LoadError::Invalid(vec![Diagnostic {
                file: label,
                line,
                column,
                message: "invalid UTF-8: scenario files are UTF-8 text".into(),
            }]));
        }
    };
    let base = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    load_str(&text, &label, &base)
}

/// Loads and validates scenario text; `file` labels diagnostics, `base_dir` resolves data files.
pub fn load_str(text: &str, file: &str, base_dir: &Path) -> Result<Plan, LoadError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Err((line, column)) = check_nesting(text) {
        return Err(LoadError::Invalid(vec![Diagnostic {
            file: file.to_string(),
            line,
            column,
            message: format!("flow collections nested deeper than {MAX_NESTING} levels"),
        }]));
    }
    let mut plan: Plan = yaml_serde::from_str(text).map_err(|e| {
        let (line, column) = e
            .location()
            .map(|l| (l.line(), l.column()))
            .unwrap_or((1, 1));
        let message = validate::explain_serde_error(&e.to_string());
        let (line, column) = validate::refine_location(text, &message, line, column);
        LoadError::Invalid(vec![Diagnostic {
            file: file.to_string(),
            line,
            column,
            message,
        }])
    })?;
    let diagnostics = validate::validate(&mut plan, text, file, base_dir);
    if diagnostics.is_empty() {
        Ok(plan)
    } else {
        Err(LoadError::Invalid(diagnostics))
    }
}

/// Deeper `[`/`{` nesting than this is refused before parsing: the YAML parser's own
/// recursion limit fires only after a scan that grows quadratically with the depth.
pub const MAX_NESTING: usize = 64;

/// Finds the first flow bracket nested deeper than [`MAX_NESTING`], outside quoted strings
/// and comments; returns its 1-based line and column.
fn check_nesting(text: &str) -> Result<(), (usize, usize)> {
    let (mut depth, mut line, mut col) = (0usize, 1usize, 0usize);
    let mut quote: Option<char> = None;
    let mut prev_significant = '\n';
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        col += 1;
        if c == '\n' {
            line += 1;
            col = 0;
            prev_significant = '\n';
            if quote == Some('#') {
                quote = None;
            }
            continue;
        }
        match quote {
            Some('"') => {
                if c == '\\' {
                    chars.next();
                    col += 1;
                } else if c == '"' {
                    quote = None;
                }
                continue;
            }
            Some('\'') => {
                if c == '\'' {
                    if chars.peek() == Some(&'\'') {
                        chars.next();
                        col += 1;
                    } else {
                        quote = None;
                    }
                }
                continue;
            }
            Some(_) => continue,
            None => {}
        }
        match c {
            // A quote opens a string only where a scalar may start, as in `key: "x"` or `["x"]`.
            '"' | '\'' if matches!(prev_significant, ':' | '-' | '[' | '{' | ',' | '?' | '\n') => {
                quote = Some(c)
            }
            '#' if matches!(prev_significant, ' ' | '\t' | '\n') => quote = Some('#'),
            '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err((line, col));
                }
            }
            ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == ' ' || c == '\t' {
            if prev_significant == '\n' {
                continue;
            }
            prev_significant = if matches!(prev_significant, ':' | '-' | '[' | '{' | ',' | '?') {
                prev_significant
            } else {
                ' '
            };
        } else {
            prev_significant = c;
        }
    }
    Ok(())
}

/// The plan as YAML, in the same format it is read from.
pub fn to_yaml(plan: &Plan) -> String {
    yaml_serde::to_string(plan).unwrap_or_else(|e| format!("# cannot serialize: {e}\n"))
}

/// The JSON Schema of the scenario format, for editors.
pub fn json_schema() -> serde_json::Value {
    let schema = schemars::schema_for!(Plan);
    serde_json::to_value(schema).unwrap_or_default()
}
