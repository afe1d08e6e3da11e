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

pub mod calendar;
pub mod check;
pub mod codec;
pub mod envfile;
pub mod extract;
pub mod load;
pub mod pattern;
pub mod plan;
pub mod request;
pub mod segment;
pub mod shape;
pub mod source;
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
pub use source::{read_bounded, ReadError};
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
    /// The file could not be read (missing, not a regular file, ...): `PATH: reason`.
    #[error("{0}")]
    Read(#[from] ReadError),
    #[error("{}", join_lines(.0))]
    Invalid(Vec<Diagnostic>),
}

impl LoadError {
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            LoadError::Invalid(d) => d,
            LoadError::Read(_) => &[],
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

/// CSV data files larger than this are refused when a plan loads. Validation streams
/// them (one row at a time), so this bounds time, not memory.
pub const MAX_DATA_BYTES: u64 = 256 * 1024 * 1024;

/// Loads and validates a scenario file; data files are resolved relative to its folder.
///
/// The file must be a regular file of at most [`MAX_SCENARIO_BYTES`]: devices, FIFOs and
/// directories are refused (`PATH: not a regular file`) without being read.
pub fn load(path: &Path) -> Result<Plan, LoadError> {
    let label = path.display().to_string();
    let bytes = match source::read_bounded(path, MAX_SCENARIO_BYTES) {
        Ok(bytes) => bytes,
        Err(ReadError::TooLarge { size, .. }) => {
            let size = match size {
                Some(n) => format!("{n} bytes"),
                None => format!("more than {MAX_SCENARIO_BYTES} bytes"),
            };
            return Err(LoadError::Invalid(vec![Diagnostic {
                file: label,
                line: 1,
                column: 1,
                message: format!(
                    "file is {size}; scenario files are limited to {MAX_SCENARIO_BYTES}"
                ),
            }]));
        }
        Err(e) => return Err(e.into()),
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let (line, column) =
                source::utf8_error_position(e.as_bytes(), e.utf8_error().valid_up_to());
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
    if let Err(e) = check_nesting(text) {
        return Err(LoadError::Invalid(vec![Diagnostic {
            file: file.to_string(),
            line: e.line,
            column: e.column,
            message: e.to_string(),
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
            message: validate::cut_message(message),
        }])
    })?;
    let diagnostics = validate::validate(&mut plan, text, file, base_dir);
    if diagnostics.is_empty() {
        Ok(plan)
    } else {
        Err(LoadError::Invalid(diagnostics))
    }
}

/// Deeper nesting than this is refused before parsing: the YAML parser's own recursion
/// limit fires only after a scan that grows quadratically with the depth. Flow brackets
/// (`[`/`{`) and block (indentation) levels are each held to it.
pub const MAX_NESTING: usize = 64;

/// Where a YAML (or JSON) text nests deeper than [`MAX_NESTING`]; see [`check_nesting`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NestingError {
    /// 1-based line of the opening bracket, or of the line whose indentation is too deep.
    pub line: usize,
    /// 1-based column (in characters) of that bracket or of the line's first node.
    pub column: usize,
    /// `true` for `[`/`{` flow collections, `false` for block (indentation) nesting.
    pub flow: bool,
}

impl fmt::Display for NestingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.flow {
            write!(
                f,
                "flow collections nested deeper than {MAX_NESTING} levels"
            )
        } else {
            write!(
                f,
                "block collections (indentation) nested deeper than {MAX_NESTING} levels"
            )
        }
    }
}

/// Refuses YAML (or JSON) text nested deeper than [`MAX_NESTING`], in one linear scan and
/// before any parser sees it; returns the first place that goes too deep.
///
/// Counts flow brackets (`[`, `{`) outside quoted strings and comments, and block
/// collections by indentation: each `- `, `? ` or `key:` that opens a node to the right of
/// the enclosing ones is one level (`- - - x` is three). Block scalar contents (`|`, `>`)
/// and lines inside brackets or quotes do not count as block levels. The scan is a guard,
/// not a parser: it may under-count unusual layouts, which the parser then handles.
pub fn check_nesting(text: &str) -> Result<(), NestingError> {
    // Flow state carried across lines.
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut block = Block::default();
    // Inside a block scalar: lines indented deeper than this are its text.
    let mut block_scalar: Option<usize> = None;
    for (index, raw) in text.split('\n').enumerate() {
        let line_no = index + 1;
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let indent = line.bytes().take_while(|&b| b == b' ').count();
        let content = &line[indent..];
        if let Some(limit) = block_scalar {
            if content.trim().is_empty() || indent > limit {
                continue;
            }
            block_scalar = None;
        }
        if quote == Some('#') {
            quote = None;
        }
        if depth == 0 && quote.is_none() {
            if indent == 0 && (content.starts_with("---") || content.starts_with("...")) {
                block = Block::default();
            } else if let Some((innermost, value)) = block.line(content, indent) {
                if let Some(&(col, _)) = block.open.get(MAX_NESTING) {
                    return Err(NestingError {
                        line: line_no,
                        column: line[..col].chars().count() + 1,
                        flow: false,
                    });
                }
                if opens_block_scalar(value) {
                    block_scalar = Some(innermost);
                }
            } else if opens_block_scalar(content) {
                block_scalar = Some(indent);
            }
        }
        scan_flow(line, line_no, &mut depth, &mut quote)?;
    }
    Ok(())
}

/// The open block collections while scanning: (column, is a sequence), innermost last.
#[derive(Default)]
struct Block {
    open: Vec<(usize, bool)>,
    /// The column of a `key:` whose value starts on a later line: a `- ` sequence at that
    /// same column is its value (YAML allows it), not a sibling.
    awaiting: Option<usize>,
}

impl Block {
    /// Updates the open collections for one line (outside brackets and quotes) starting
    /// at column `indent`; when the line opens any (`- `, `? `, `: ` or a `key:`), returns
    /// the column of its innermost node and the text of that node's value; `None` for a
    /// scalar or a comment.
    fn line<'t>(&mut self, content: &'t str, indent: usize) -> Option<(usize, &'t str)> {
        let mut rest = content;
        let mut col = indent;
        let mut innermost = None;
        loop {
            let b = rest.as_bytes();
            let indicator = matches!(b.first(), Some(b'-' | b'?' | b':'))
                && matches!(b.get(1), None | Some(b' ' | b'\t'));
            if !indicator {
                break;
            }
            self.push(col, b[0] == b'-');
            innermost = Some(col);
            let after = &rest[1..];
            let skipped = after.len() - after.trim_start_matches([' ', '\t']).len();
            col += 1 + skipped;
            rest = &after[skipped..];
        }
        if let Some(value) = key_value(rest) {
            self.push(col, false);
            let first = value
                .split([' ', '\t'])
                .find(|w| !w.is_empty() && !w.starts_with(['&', '!']))
                .unwrap_or("");
            self.awaiting = (first.is_empty() || first.starts_with('#')).then_some(col);
            return Some((col, value));
        }
        if innermost.is_some() {
            self.awaiting = None;
        }
        innermost.map(|col| (col, rest))
    }

    fn push(&mut self, col: usize, seq: bool) {
        let nested_value = seq && self.awaiting == Some(col);
        while let Some(&(top, _)) = self.open.last() {
            if top > col || (top == col && !nested_value) {
                self.open.pop();
            } else {
                break;
            }
        }
        self.awaiting = None;
        self.open.push((col, seq));
    }
}

/// When `rest` begins with a mapping key (plain or quoted text followed by `:` and a
/// space or the end of the line, before any comment), the text after the `:`.
fn key_value(rest: &str) -> Option<&str> {
    fn after_colon(s: &str) -> Option<&str> {
        s.strip_prefix(':')
            .filter(|r| r.is_empty() || r.starts_with([' ', '\t']))
    }
    match rest.chars().next() {
        None | Some('#' | '[' | '{' | '|' | '>' | '%' | '@' | '`') => None,
        Some(q @ ('"' | '\'')) => {
            let mut chars = rest.char_indices().skip(1);
            while let Some((i, c)) = chars.next() {
                if q == '"' && c == '\\' {
                    chars.next();
                } else if c == q {
                    if q == '\'' && rest[i + 1..].starts_with('\'') {
                        chars.next();
                        continue;
                    }
                    return after_colon(rest[i + 1..].trim_start_matches([' ', '\t']));
                }
            }
            None
        }
        Some(_) => {
            let mut prev = ' ';
            for (i, c) in rest.char_indices() {
                if c == '#' && matches!(prev, ' ' | '\t') {
                    return None;
                }
                if c == ':' {
                    if let Some(value) = after_colon(&rest[i..]) {
                        return Some(value);
                    }
                }
                prev = c;
            }
            None
        }
    }
}

/// True when `value` (a node's text, after any `key:` or `- `) is a block scalar header:
/// `|` or `>`, maybe after an anchor or a tag, maybe with chomping and indentation
/// indicators, then nothing but a comment. `a |` is plain text, not a header.
fn opens_block_scalar(value: &str) -> bool {
    let mut words = value
        .split([' ', '\t'])
        .filter(|w| !w.is_empty())
        .skip_while(|w| w.starts_with(['&', '!']));
    let Some(head) = words.next() else {
        return false;
    };
    let Some(indicators) = head.strip_prefix(['|', '>']) else {
        return false;
    };
    indicators.len() <= 2
        && indicators
            .chars()
            .all(|c| c == '+' || c == '-' || c.is_ascii_digit())
        && words.next().is_none_or(|w| w.starts_with('#'))
}

/// Counts flow brackets on one line, outside quoted strings and comments; the quote state
/// carries over to the next line. Works on bytes: every character that matters is ASCII.
fn scan_flow(
    line: &str,
    line_no: usize,
    depth: &mut usize,
    quote: &mut Option<char>,
) -> Result<(), NestingError> {
    let bytes = line.as_bytes();
    let mut prev_significant = b'\n';
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        i += 1;
        match *quote {
            Some('"') => {
                if c == b'\\' {
                    i += 1;
                } else if c == b'"' {
                    *quote = None;
                }
                continue;
            }
            Some('\'') => {
                if c == b'\'' {
                    if bytes.get(i) == Some(&b'\'') {
                        i += 1;
                    } else {
                        *quote = None;
                    }
                }
                continue;
            }
            Some(_) => return Ok(()),
            None => {}
        }
        match c {
            // A quote opens a string only where a scalar may start, as in `key: "x"` or `["x"]`.
            b'"' | b'\''
                if matches!(
                    prev_significant,
                    b':' | b'-' | b'[' | b'{' | b',' | b'?' | b'\n'
                ) =>
            {
                *quote = Some(c as char)
            }
            b'#' if matches!(prev_significant, b' ' | b'\t' | b'\n') => {
                *quote = Some('#');
                return Ok(());
            }
            b'[' | b'{' => {
                *depth += 1;
                if *depth > MAX_NESTING {
                    return Err(NestingError {
                        line: line_no,
                        column: line[..i - 1].chars().count() + 1,
                        flow: true,
                    });
                }
            }
            b']' | b'}' => *depth = depth.saturating_sub(1),
            _ => {}
        }
        if c == b' ' || c == b'\t' {
            if prev_significant == b'\n' {
                continue;
            }
            if !matches!(prev_significant, b':' | b'-' | b'[' | b'{' | b',' | b'?') {
                prev_significant = b' ';
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn block_err(text: &str) -> NestingError {
        let e = check_nesting(text).expect_err("too deep");
        assert!(!e.flow, "{e:?}");
        e
    }

    #[test]
    fn deep_flow_nesting_is_located() {
        let text = format!("a: 1\nb: {}", "[".repeat(100));
        let e = check_nesting(&text).unwrap_err();
        assert_eq!((e.line, e.column, e.flow), (2, 4 + MAX_NESTING, true));
        assert_eq!(
            e.to_string(),
            "flow collections nested deeper than 64 levels"
        );
        check_nesting(&format!("a: {}{}", "[".repeat(64), "]".repeat(64))).unwrap();
    }

    #[test]
    fn deep_block_sequences_are_refused() {
        // The shape of the bad_input test: `- ` items each indented one more.
        let mut text = String::from("version: 1\nvars:\n");
        for depth in 1..5_000 {
            text.push_str(&" ".repeat(depth));
            text.push_str("- \n");
        }
        let e = block_err(&text);
        // `vars:` is level 1, so the 64th `- ` (line 66) is level 65.
        assert_eq!((e.line, e.column), (66, 65));
        assert!(e.to_string().contains("indentation"), "{e}");
    }

    #[test]
    fn deep_block_mappings_and_compact_sequences_are_refused() {
        let mut text = String::new();
        for depth in 0..70 {
            text.push_str(&"  ".repeat(depth));
            text.push_str(&format!("k{depth}:\n"));
        }
        assert_eq!(block_err(&text).line, 65);
        // `- - - x` opens one level per dash on a single line.
        let text = format!("{}x\n", "- ".repeat(70));
        let e = block_err(&text);
        assert_eq!((e.line, e.column), (1, 2 * 64 + 1));
    }

    #[test]
    fn siblings_and_dedents_do_not_add_up() {
        // Thousands of steps at the same depth are shallow.
        let mut text = String::from("version: 1\nscenarios:\n  - name: s\n    steps:\n");
        for i in 0..5_000 {
            text.push_str(&format!(
                "      - name: step {i}\n        request:\n          url: http://x/{i}\n          json:\n            a:\n              b: [1, {{c: d}}]\n"
            ));
        }
        check_nesting(&text).unwrap();
        // Going 60 deep and back, many times over, stays at 60.
        let mut text = String::new();
        for _ in 0..3 {
            for depth in 0..60 {
                text.push_str(&"  ".repeat(depth));
                text.push_str("- k:\n");
            }
        }
        assert!(check_nesting(&text).is_err(), "each `- k:` is two levels");
        let mut text = String::new();
        for _ in 0..3 {
            for depth in 0..60 {
                text.push_str(&" ".repeat(depth));
                text.push_str("k:\n");
            }
        }
        check_nesting(&text).unwrap();
    }

    #[test]
    fn block_scalars_quotes_and_brackets_are_not_block_levels() {
        // A block scalar's text may be indented any way it likes.
        let mut text = String::from("a:\n  script: |\n");
        for depth in 0..200 {
            text.push_str(&" ".repeat(4 + depth));
            text.push_str("- x: [ {\n");
        }
        text.push_str("  next: >-\n");
        for depth in 0..200 {
            text.push_str(&" ".repeat(4 + depth));
            text.push_str("k: v\n");
        }
        text.push_str("b: 1\n");
        check_nesting(&text).unwrap();
        // With properties and indicators; and a `|` inside plain text opens nothing.
        let brackets = "[".repeat(100);
        check_nesting(&format!("a: &x !!str |-2 # text\n   {brackets}\nb: 1\n")).unwrap();
        check_nesting(&format!("- >+\n  {brackets}\n")).unwrap();
        let e = check_nesting(&format!("a: b |\n  c: {brackets}\n")).unwrap_err();
        assert_eq!((e.line, e.flow), (2, true));
        let e = check_nesting(&format!("a: |x\n  {brackets}\n")).unwrap_err();
        assert_eq!((e.line, e.flow), (2, true));
        // Pretty-printed JSON: indentation inside brackets is not block nesting.
        let mut json = String::new();
        for depth in 0..40 {
            json.push_str(&"  ".repeat(depth));
            json.push_str("{\"k\":\n");
        }
        json.push_str(&"}".repeat(40));
        check_nesting(&json).unwrap();
        // A quoted string running over lines with deep indentation.
        let mut text = String::from("a: \"start\n");
        for depth in 0..100 {
            text.push_str(&" ".repeat(depth + 1));
            text.push_str("- k: v\n");
        }
        text.push_str(" end\"\nb: 1\n");
        check_nesting(&text).unwrap();
    }

    #[test]
    fn deep_block_yaml_is_refused_by_load_with_its_location() {
        let mut text = String::from("version: 1\nname: deep\nvars:\n");
        for depth in 1..5_000 {
            text.push_str(&" ".repeat(depth));
            text.push_str("- \n");
        }
        let started = std::time::Instant::now();
        let err = load_str(&text, "deep-block.yaml", Path::new(".")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "deep-block.yaml:67:65: block collections (indentation) nested deeper than 64 levels"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn load_refuses_special_files_and_big_files() {
        #[cfg(unix)]
        {
            let e = load(Path::new("/dev/zero")).unwrap_err();
            assert_eq!(e.to_string(), "/dev/zero: not a regular file");
            assert!(matches!(e, LoadError::Read(ReadError::NotAFile { .. })));
        }
        let e = load(&std::env::temp_dir()).unwrap_err();
        assert!(e.to_string().ends_with(": not a regular file"), "{e}");
        let e = load(Path::new("/no/such/scenario.yaml")).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("/no/such/scenario.yaml: cannot read: "),
            "{e}"
        );
    }
}
