//! The semantic pass over a deserialized [`Plan`], and the wording of serde's errors.
//!
//! Deserialization has already checked every node alone; this pass checks relations
//! between nodes. serde keeps no spans after deserializing, so [`Locator`] finds the line
//! of a problem by walking the source text the same way a reader would: to the scenario,
//! then the step, then the offending text (indexing the text once, so that locating stays
//! linear in the size of the file).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::{Component, Path};
use std::sync::LazyLock;

use regex::Regex;

use crate::plan::Plan;
use crate::source::BoundedReader;
use crate::stream::{StepKind, MESSAGE_SEQ};
use crate::template::{snippet, Template, BUILTIN_FUNCTIONS, BUILTIN_VARIABLES};
use crate::threshold::{Metric, Scope};
use crate::{Diagnostic, MAX_DATA_BYTES};

static TRAILING_LOCATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r",?\s+at line \d+ column \d+").expect("static regex"));
static UNKNOWN_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"unknown (?:field|variant) `([^`]*)`, expected (.*)$").expect("static regex")
});
static BACKTICKED: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"`([^`]*)`").expect("static regex"));

/// Rewords a serde/YAML error: drops the trailing location (the diagnostic carries it)
/// and suggests the closest known key for a misspelt one.
pub(crate) fn explain_serde_error(message: &str) -> String {
    let msg = TRAILING_LOCATION.replace(message.trim(), "").to_string();
    let Some(c) = UNKNOWN_NAME.captures(&msg) else {
        return msg;
    };
    let typo = &c[1];
    let known: Vec<&str> = BACKTICKED
        .captures_iter(&c[2])
        .map(|m| m.get(1).map_or("", |g| g.as_str()))
        .collect();
    match closest(typo, known.iter().copied()) {
        Some(s) => format!("{msg}; did you mean `{s}`?"),
        None => msg,
    }
}

/// The candidate nearest to `typo`, if it is near enough to be a likely typo.
pub(crate) fn closest<'a>(
    typo: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .map(|c| {
            let prefix =
                typo.len().min(c.len()) >= 3 && (typo.starts_with(c) || c.starts_with(typo));
            let score = strsim::normalized_damerau_levenshtein(typo, c);
            (if prefix { score.max(0.6) } else { score }, c)
        })
        .filter(|(score, _)| *score >= 0.6)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// serde places errors at the start of the enclosing node; when the message quotes the
/// offending text, point at that text instead if it appears shortly after.
pub(crate) fn refine_location(
    src: &str,
    message: &str,
    line: usize,
    column: usize,
) -> (usize, usize) {
    let Some(quoted) = BACKTICKED
        .captures(message)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str())
    else {
        return (line, column);
    };
    if quoted.is_empty() || message.contains("unknown field") {
        return (line, column);
    }
    for (i, l) in src
        .lines()
        .enumerate()
        .skip(line.saturating_sub(1))
        .take(40)
    {
        if let Some(c) = l.find(quoted) {
            return (i + 1, l[..c].chars().count() + 1);
        }
    }
    (line, column)
}

/// At most this many problems are reported per file (then a count of the rest): a
/// generated file with one mistake per step should not print a million lines, and each
/// problem's location costs a search of the text.
pub(crate) const MAX_DIAGNOSTICS: usize = 100;

/// Messages longer than this (in characters) are cut: they quote the input.
pub(crate) const MAX_MESSAGE_CHARS: usize = 1000;

/// Collects diagnostics up to [`MAX_DIAGNOSTICS`]; locations are computed only for the
/// problems kept.
struct Report<'f> {
    file: &'f str,
    out: Vec<Diagnostic>,
    dropped: usize,
}

impl Report<'_> {
    fn add(&mut self, at: impl FnOnce() -> (usize, usize), message: String) {
        if self.out.len() >= MAX_DIAGNOSTICS {
            self.dropped += 1;
            return;
        }
        let (line, column) = at();
        self.out.push(Diagnostic {
            file: self.file.to_string(),
            line,
            column,
            message: cut_message(message),
        });
    }

    fn finish(mut self) -> Vec<Diagnostic> {
        if self.dropped > 0 {
            let (line, column) = self
                .out
                .last()
                .map(|d| (d.line, d.column))
                .unwrap_or((1, 1));
            self.out.push(Diagnostic {
                file: self.file.to_string(),
                line,
                column,
                message: format!(
                    "{} more problems not shown (only the first {MAX_DIAGNOSTICS} are)",
                    self.dropped
                ),
            });
        }
        self.out
    }
}

/// Cuts a message above [`MAX_MESSAGE_CHARS`], saying how long it was.
pub(crate) fn cut_message(message: String) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => message,
        Some((end, _)) => format!("{}... ({} bytes in all)", &message[..end], message.len()),
    }
}

/// Runs every cross-node check and resolves data files; returns all problems found (at
/// most [`MAX_DIAGNOSTICS`], then a count of the rest).
pub(crate) fn validate(plan: &mut Plan, src: &str, file: &str, base_dir: &Path) -> Vec<Diagnostic> {
    let loc = Locator::new(src);
    let mut rep = Report {
        file,
        out: Vec::new(),
        dropped: 0,
    };

    // Data feeders: files inside the scenario's folder, with a header row and even rows.
    for (name, feeder) in plan.data.iter_mut() {
        let at = || loc.key_in_section("data", name);
        if feeder.csv.is_absolute()
            || feeder
                .csv
                .components()
                .any(|c| matches!(c, Component::ParentDir))
        {
            rep.add(at, format!(
                "data `{name}`: `{}` must be a path inside the scenario's folder (no absolute paths, no `..`)",
                feeder.csv.display()
            ));
            continue;
        }
        let resolved = base_dir.join(&feeder.csv);
        match read_csv(&resolved) {
            Ok(columns) => {
                feeder.columns = columns;
                feeder.resolved = resolved;
            }
            Err(e) => rep.add(at, format!("data `{name}`: {e}")),
        }
    }

    // Variables: each may use builtins, earlier variables and data rows.
    let mut defined: BTreeSet<String> = BTreeSet::new();
    let data_names: HashSet<&str> = plan.data.keys().map(String::as_str).collect();
    for (name, value) in &plan.vars {
        for t in value.templates() {
            check_refs(t, &defined, plan, &mut |msg| {
                rep.add(|| loc.key_in_section("vars", name), msg)
            });
        }
        defined.insert(name.clone());
    }
    if let Some(clash) = data_names.iter().find(|d| defined.contains(**d)).copied() {
        rep.add(
            || loc.key_in_section("data", clash),
            format!("`{clash}` is both a variable and a data feeder"),
        );
    }
    for s in &plan.secrets {
        if !defined.contains(s) {
            rep.add(
                || loc.text_in_section("secrets", s),
                format!("secret `{s}` is not a variable in `vars`"),
            );
        }
    }
    for (h, t) in &plan.defaults.headers {
        check_refs(t, &defined, plan, &mut |msg| {
            rep.add(
                || loc.key_in_section("defaults", h),
                format!("defaults header `{h}`: {msg}"),
            )
        });
    }
    if let Err(e) = plan.load.resolve() {
        rep.add(|| loc.section("load"), format!("load: {e}"));
    }

    if plan.scenarios.is_empty() {
        rep.add(
            || loc.section("scenarios"),
            "`scenarios` is empty: a plan needs at least one scenario".into(),
        );
    }
    let steps = loc.index_steps(plan);
    let mut scenario_names = HashSet::new();
    let mut all_steps: HashSet<&str> = HashSet::new();
    for (si, scenario) in plan.scenarios.iter().enumerate() {
        let s_line = steps.scenario(si).at;
        if !scenario_names.insert(scenario.name.as_str()) {
            rep.add(
                || s_line,
                format!("scenario name `{}` is used twice", scenario.name),
            );
        }
        if scenario.weight == 0 {
            rep.add(
                || s_line,
                format!("scenario `{}`: weight must be at least 1", scenario.name),
            );
        }
        if scenario.steps.is_empty() {
            rep.add(
                || s_line,
                format!("scenario `{}` has no steps", scenario.name),
            );
        }
        let mut known = defined.clone();
        let mut step_names = HashSet::new();
        for (ti, step) in scenario.steps.iter().enumerate() {
            let span = steps.step(si, ti);
            all_steps.insert(step.name.as_str());
            if !step_names.insert(step.name.as_str()) {
                rep.add(
                    || span.at,
                    format!(
                        "step name `{}` is used twice in scenario `{}`",
                        step.name, scenario.name
                    ),
                );
            }
            for t in step.request.templates() {
                check_refs(t, &known, plan, &mut |msg| {
                    rep.add(
                        || loc.text_in(span, t.source()),
                        format!("step `{}`: {msg}", step.name),
                    )
                });
            }
            let messages = step.kind.message_templates();
            if !messages.is_empty() {
                let mut with_seq = known.clone();
                with_seq.insert(MESSAGE_SEQ.to_string());
                for t in messages {
                    check_refs(t, &with_seq, plan, &mut |msg| {
                        rep.add(
                            || loc.text_in(span, t.source()),
                            format!("step `{}`: {msg}", step.name),
                        )
                    });
                }
            }
            for name in step.extract.keys() {
                if BUILTIN_VARIABLES.contains(&name.as_str())
                    || BUILTIN_FUNCTIONS.contains(&name.as_str())
                {
                    rep.add(
                        || loc.text_in(span, name),
                        format!(
                            "step `{}`: `{name}` is a builtin and cannot be extracted into",
                            step.name
                        ),
                    );
                }
                known.insert(name.clone());
            }
            for c in &step.check {
                for t in c.templates() {
                    check_refs(t, &known, plan, &mut |msg| {
                        rep.add(
                            || loc.text_in(span, t.source()),
                            format!("step `{}`: {msg}", step.name),
                        )
                    });
                }
            }
        }
    }
    for th in &plan.thresholds {
        let (kind, name, exists) = match &th.scope {
            Scope::All => continue,
            Scope::Step(n) => ("step", n, all_steps.contains(n.as_str())),
            Scope::Scenario(n) => ("scenario", n, scenario_names.contains(n.as_str())),
        };
        if !exists {
            let known: Vec<&str> = if kind == "step" {
                all_steps.iter().copied().collect()
            } else {
                scenario_names.iter().copied().collect()
            };
            let hint = closest(name, known.into_iter())
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            rep.add(
                || loc.text_in_section("thresholds", th.expr()),
                format!("threshold `{}`: no {kind} named `{name}`{hint}", th.expr()),
            );
            continue;
        }
        // Only streams have messages: a message threshold elsewhere would pass on no data.
        if matches!(th.metric, Metric::MessageLatency(_)) {
            let streams = plan
                .scenarios
                .iter()
                .filter(|s| kind == "step" || &s.name == name)
                .flat_map(|s| &s.steps)
                .filter(|st| kind == "scenario" || &st.name == name)
                .any(|st| st.kind != StepKind::Http);
            if !streams {
                let why = if kind == "step" {
                    "is not an `sse` or `ws` step"
                } else {
                    "has no `sse` or `ws` step"
                };
                rep.add(
                    || loc.text_in_section("thresholds", th.expr()),
                    format!(
                        "threshold `{}`: {kind} `{name}` {why}, so it has no messages",
                        th.expr()
                    ),
                );
            }
        }
    }
    rep.finish()
}

/// Reports each variable `t` reads that is neither defined, a data column nor a builtin.
fn check_refs(
    t: &Template,
    defined: &BTreeSet<String>,
    plan: &Plan,
    report: &mut dyn FnMut(String),
) {
    for r in t.references() {
        let mut parts = r.split('.');
        let root = parts.next().unwrap_or(r);
        if let Some(feeder) = plan.data.get(root) {
            if let Some(col) = parts.next() {
                if !feeder.columns.is_empty() && !feeder.columns.iter().any(|c| c == col) {
                    let hint = closest(col, feeder.columns.iter().map(String::as_str))
                        .map(|s| format!("; did you mean `{s}`?"))
                        .unwrap_or_else(|| {
                            format!(
                                " (columns: {}){}",
                                snippet(&feeder.columns.join(", ")),
                                header_looks_like_data(feeder)
                            )
                        });
                    report(format!("data `{root}` has no column `{col}`{hint}"));
                }
            }
            continue;
        }
        if defined.contains(root) {
            continue;
        }
        let candidates = defined
            .iter()
            .map(String::as_str)
            .chain(plan.data.keys().map(String::as_str))
            .chain(BUILTIN_VARIABLES.iter().copied());
        let hint = closest(root, candidates)
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        report(format!(
            "undefined variable `{root}` in `{}`: define it in `vars`, a data feeder or an earlier step's `extract`{hint}",
            snippet(t.source())
        ));
    }
}

/// A hint when a CSV's first line holds values rather than column names (no header row).
fn header_looks_like_data(feeder: &crate::plan::Feeder) -> String {
    let value = feeder.columns.iter().find(|c| {
        c.parse::<f64>().is_ok() || c.contains('@') || c.contains("://") || c.contains(' ')
    });
    match value {
        Some(v) => format!(
            "; the first line of {} must be a header row naming the columns, and `{}` looks like a value: is the header missing?",
            feeder.csv.display(),
            snippet(v)
        ),
        None => String::new(),
    }
}

/// Reads a CSV data file through: a header row naming every column, then rows with as many
/// fields as the header (the runner refuses ragged rows too, but only when a run starts).
/// Streams the file, within [`MAX_DATA_BYTES`], holding one row at a time.
fn read_csv(path: &Path) -> Result<Vec<String>, String> {
    let reader = BoundedReader::open(path, MAX_DATA_BYTES).map_err(|e| e.to_string())?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(reader);
    let fail = |reader: &csv::Reader<BoundedReader>, e: csv::Error| {
        if reader.get_ref().exceeded() {
            return reader.get_ref().too_large().to_string();
        }
        match e.kind() {
            csv::ErrorKind::Io(io) => format!("{}: cannot read: {io}", path.display()),
            csv::ErrorKind::Utf8 { pos, .. } => format!(
                "{}: CSV error: line {}: invalid UTF-8: data files are UTF-8 text",
                path.display(),
                pos.as_ref().map_or(0, |p| p.line())
            ),
            _ => format!("{}: CSV error: {}", path.display(), snippet(&e.to_string())),
        }
    };
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => return Err(fail(&reader, e)),
    };
    let columns: Vec<String> = headers.iter().map(|h| h.trim().to_string()).collect();
    if columns.is_empty() || columns.iter().all(String::is_empty) {
        return Err(format!(
            "{}: the first line must be a header row naming the columns",
            path.display()
        ));
    }
    if let Some(empty) = columns.iter().position(String::is_empty) {
        return Err(format!(
            "{}: header column {} has no name",
            path.display(),
            empty + 1
        ));
    }
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                if let csv::ErrorKind::UnequalLengths { pos, len, .. } = e.kind() {
                    let line = pos.as_ref().map_or(0, |p| p.line());
                    return Err(format!(
                        "{}: CSV error: line {line} has {len} field{}, but the header row has {} ({})",
                        path.display(),
                        if *len == 1 { "" } else { "s" },
                        columns.len(),
                        snippet(&columns.join(", "))
                    ));
                }
                return Err(fail(&reader, e));
            }
        }
    }
    Ok(columns)
}

/// A step's place in the source: its `name:` line, and the line (1-based, exclusive) where
/// the next located step or scenario starts, which bounds searches for its text.
#[derive(Debug, Clone, Copy)]
struct Span {
    at: (usize, usize),
    end: usize,
}

/// Where each scenario and step is, found in one walk over the source.
struct StepIndex {
    /// Scenarios and their steps in walk order: scenario `si` at `starts[si]`, its step
    /// `ti` right after at `starts[si] + 1 + ti`.
    spans: Vec<Span>,
    starts: Vec<usize>,
}

impl StepIndex {
    fn scenario(&self, si: usize) -> Span {
        self.spans[self.starts[si]]
    }

    fn step(&self, si: usize, ti: usize) -> Span {
        self.spans[self.starts[si] + 1 + ti]
    }
}

/// Finds where things are in the source text; 1-based (line, column) pairs.
///
/// Every lookup is bounded: the text is indexed once (top-level sections, the keys of
/// `data`, `vars` and `defaults`, every `name:` line), scenarios and steps are placed in
/// one walk ([`Locator::index_steps`]), and text inside a step is searched only within
/// that step's lines, so validating a file is linear in its size.
struct Locator<'a> {
    lines: Vec<&'a str>,
    /// Top-level key → index of its first line.
    sections: HashMap<&'a str, usize>,
    /// (section, key) → first (line, column) of `key:` inside `data`, `vars` or `defaults`.
    keys: HashMap<(&'static str, &'a str), (usize, usize)>,
}

/// The sections whose nested keys [`Locator::key_in_section`] finds.
const KEYED_SECTIONS: [&str; 3] = ["data", "vars", "defaults"];

impl<'a> Locator<'a> {
    fn new(src: &'a str) -> Self {
        let lines: Vec<&'a str> = src.lines().collect();
        let mut sections = HashMap::new();
        for (i, l) in lines.iter().enumerate() {
            if l.starts_with([' ', '\t', '#']) {
                continue;
            }
            if let Some(colon) = l.find(':') {
                sections.entry(l[..colon].trim_end()).or_insert(i);
            }
        }
        let mut keys = HashMap::new();
        for section in KEYED_SECTIONS {
            let Some(&start) = sections.get(section) else {
                continue;
            };
            for (i, l) in lines.iter().enumerate().skip(start + 1) {
                if !l.starts_with([' ', '\t'])
                    && !l.trim().is_empty()
                    && !l.trim_start().starts_with('#')
                {
                    break;
                }
                let t = l.trim_start();
                if let Some(key) = key_of(t) {
                    keys.entry((section, key))
                        .or_insert((i + 1, l.len() - t.len() + 1));
                }
            }
        }
        Locator {
            lines,
            sections,
            keys,
        }
    }

    /// The line of a top-level key such as `load:`.
    fn section(&self, key: &str) -> (usize, usize) {
        self.sections
            .get(key)
            .map(|&i| (i + 1, 1))
            .unwrap_or((1, 1))
    }

    /// Lines `[start, end)` of a top-level section: from its key to the next top-level line.
    fn section_lines(&self, key: &str) -> Option<(usize, usize)> {
        let start = *self.sections.get(key)?;
        let end = self.lines[start + 1..]
            .iter()
            .position(|l| {
                !l.starts_with([' ', '\t']) && !l.trim().is_empty() && !l.starts_with('#')
            })
            .map_or(self.lines.len(), |n| start + 1 + n);
        Some((start, end))
    }

    /// A key nested under a top-level section: `vars:` then `  name:`.
    fn key_in_section(&self, section: &'static str, key: &str) -> (usize, usize) {
        if let Some(&at) = self.keys.get(&(section, key)) {
            return at;
        }
        self.sections
            .get(section)
            .map(|&i| (i + 1, 1))
            .unwrap_or((1, 1))
    }

    /// The first occurrence of `text` within a top-level section; falls back to its key.
    fn text_in_section(&self, section: &str, text: &str) -> (usize, usize) {
        let Some((start, end)) = self.section_lines(section) else {
            return (1, 1);
        };
        self.find(start, end, text).unwrap_or((start + 1, 1))
    }

    /// `text` (its first line) searched within a step's lines; falls back to the step.
    fn text_in(&self, span: Span, text: &str) -> (usize, usize) {
        let probe = text.lines().next().unwrap_or(text);
        self.find(
            span.at.0.saturating_sub(1),
            span.end.saturating_sub(1),
            probe,
        )
        .unwrap_or((span.at.0, 1))
    }

    /// The first occurrence of `text` in lines `[from, to)` (0-based indices).
    fn find(&self, from: usize, to: usize, text: &str) -> Option<(usize, usize)> {
        let to = to.min(self.lines.len());
        (from..to).find_map(|i| {
            let l = self.lines[i];
            l.find(text).map(|c| (i + 1, l[..c].chars().count() + 1))
        })
    }

    /// Places every scenario and step at its `name:` line, walking them in order from the
    /// `scenarios:` key: each name is the first matching `name:` line after the previous
    /// one found (an unfound name takes the previous place).
    fn index_steps(&self, plan: &Plan) -> StepIndex {
        let total = plan.scenarios.len() + plan.step_count();
        let mut spans = Vec::with_capacity(total);
        let mut starts = Vec::with_capacity(plan.scenarios.len());
        let Some(&first) = self.sections.get("scenarios") else {
            for s in &plan.scenarios {
                starts.push(spans.len());
                spans.extend((0..=s.steps.len()).map(|_| Span {
                    at: (1, 1),
                    end: self.lines.len() + 1,
                }));
            }
            return StepIndex { spans, starts };
        };
        // Every `name: VALUE` line from the section on, by value, in line order.
        let mut names: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, l) in self.lines.iter().enumerate().skip(first) {
            if let Some(v) = name_value(l) {
                names.entry(v).or_default().push(i);
            }
        }
        let mut cursor = first;
        let mut found = (first + 1, 1);
        let mut place = |name: &str| {
            if let Some(at) = names.get(name) {
                let k = at.partition_point(|&i| i < cursor);
                if let Some(&i) = at.get(k) {
                    cursor = i + 1;
                    found = (i + 1, 1);
                }
            }
            Span { at: found, end: 0 }
        };
        for s in &plan.scenarios {
            starts.push(spans.len());
            spans.push(place(&s.name));
            for st in &s.steps {
                spans.push(place(&st.name));
            }
        }
        // Each span ends where the next one at a later line starts (lines only grow).
        let mut end = self.lines.len() + 1;
        for i in (0..spans.len()).rev() {
            if let Some(next) = spans.get(i + 1) {
                if next.at.0 > spans[i].at.0 {
                    end = next.at.0;
                }
            }
            spans[i].end = end;
        }
        StepIndex { spans, starts }
    }
}

/// The key a (trimmed) line starts with, quotes removed: `"a": 1` and `a : 1` give `a`.
fn key_of(t: &str) -> Option<&str> {
    if let Some(q) = t.chars().next().filter(|c| matches!(c, '"' | '\'')) {
        let close = t[1..].find(q)? + 1;
        let rest = t[close + 1..].trim_start();
        return rest.starts_with(':').then(|| &t[1..close]);
    }
    let colon = t.find(':')?;
    Some(t[..colon].trim_end())
}

/// The value of a `name:` line (as in `- name: x`), without quotes or a trailing comment.
fn name_value(l: &str) -> Option<&str> {
    let t = l.trim_start().trim_start_matches('-').trim_start();
    let v = t
        .strip_prefix("name")?
        .trim_start()
        .strip_prefix(':')?
        .trim();
    let v = v.split(" #").next().unwrap_or(v);
    Some(v.trim().trim_matches(['"', '\'']))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use crate::{load_str, LoadError};

    fn scenario(steps: usize, bad: impl Fn(usize) -> bool) -> String {
        let mut text = String::from(
            "version: 1\nname: big\nvars:\n  base_url: http://127.0.0.1:9\nscenarios:\n  - name: s\n    steps:\n",
        );
        for i in 0..steps {
            let var = if bad(i) { "base_ur" } else { "base_url" };
            text.push_str(&format!(
                "      - name: step {i}\n        request:\n          method: POST\n          url: \"{{{{ {var} }}}}/items/{i}\"\n          json: {{id: {i}, tags: [a, b]}}\n        check:\n          - status: 201\n"
            ));
        }
        text
    }

    fn errors(text: &str) -> Vec<String> {
        match load_str(text, "t.yaml", std::path::Path::new(".")) {
            Ok(_) => Vec::new(),
            Err(e) => e.diagnostics().iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn steps_are_located_in_one_pass() {
        // 20k steps, 140k lines: rescanning per step (the old way) took minutes here.
        let started = std::time::Instant::now();
        let text = scenario(20_000, |i| i == 17_345);
        let errs = errors(&text);
        let line = 8 + 17_345 * 7 + 3;
        assert_eq!(
            errs,
            [format!("t.yaml:{line}:17: step `step 17345`: undefined variable `base_ur` in `{{{{ base_ur }}}}/items/17345`: define it in `vars`, a data feeder or an earlier step's `extract`; did you mean `base_url`?")]
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn text_is_searched_within_its_step() {
        // The same template in an earlier step must not be taken for this step's.
        let text = "version: 1\nname: t\nscenarios:\n  - name: s\n    steps:\n      - name: a\n        request: {url: \"http://x/{{ nope }}\"}\n        extract: {nope: {header: x}}\n      - name: b\n        request: {url: \"http://x/{{ nope2 }}\"}\n      - name: c\n        request:\n          url: http://x/c\n          headers:\n            x: \"{{ nope2 }}\"\n";
        let errs = errors(text);
        assert_eq!(errs.len(), 3, "{errs:#?}");
        assert!(errs[0].starts_with("t.yaml:7:25: step `a`"), "{}", errs[0]);
        assert!(errs[1].starts_with("t.yaml:10:25: step `b`"), "{}", errs[1]);
        assert!(errs[2].starts_with("t.yaml:15:17: step `c`"), "{}", errs[2]);
    }

    #[test]
    fn steps_written_as_flow_mappings_fall_back_without_rescanning() {
        let mut text = String::from("version: 1\nname: t\nscenarios:\n  - name: s\n    steps:\n");
        for i in 0..3_000 {
            text.push_str(&format!(
                "      - {{name: s{i}, request: {{url: \"http://x/{{{{ v{i} }}}}\"}}}}\n"
            ));
        }
        let errs = errors(&text);
        assert_eq!(errs.len(), super::MAX_DIAGNOSTICS + 1);
        assert!(errs[0].starts_with("t.yaml:6:"), "{}", errs[0]);
        assert!(
            errs.last()
                .unwrap()
                .ends_with("2900 more problems not shown (only the first 100 are)"),
            "{}",
            errs.last().unwrap()
        );
    }

    #[test]
    fn long_templates_are_cut_in_messages() {
        let long = "x".repeat(100_000);
        let text = format!(
            "version: 1\nname: t\nscenarios:\n  - name: s\n    steps:\n      - name: a\n        request: {{url: \"http://x/{{{{ nope }}}}{long}\"}}\n"
        );
        let errs = errors(&text);
        assert_eq!(errs.len(), 1);
        assert!(errs[0].len() < 1_000, "{} bytes", errs[0].len());
        assert!(errs[0].contains("... (100019 bytes)"), "{}", errs[0]);
    }

    fn data_dir(name: &str, csv: &[u8]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("throng-ir-csv-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("users.csv"), csv).unwrap();
        dir
    }

    fn with_csv(name: &str, csv: &[u8]) -> Result<crate::Plan, LoadError> {
        let dir = data_dir(name, csv);
        let text = "version: 1\nname: t\ndata:\n  users: {csv: users.csv}\nscenarios:\n  - name: s\n    steps:\n      - name: a\n        request: {url: \"http://x/{{ users.email }}\"}\n";
        load_str(text, "t.yaml", &dir)
    }

    #[test]
    fn ragged_csv_rows_are_refused_with_their_line() {
        let e = with_csv("ragged", b"email,password\na@x,1\nb@x\nc@x,3,4\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("t.yaml:4:3: data `users`: "), "{msg}");
        assert!(
            msg.ends_with("users.csv: CSV error: line 3 has 1 field, but the header row has 2 (email, password)"),
            "{msg}"
        );
        let plan = with_csv("even", b"email,password\na@x,1\nb@x,2\n").unwrap();
        assert_eq!(plan.data["users"].columns, ["email", "password"]);
    }

    #[test]
    fn csv_without_a_header_is_explained() {
        let e = with_csv("no-header", b"a@x.com,pw1\nb@x.com,pw2\n").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("data `users` has no column `email` (columns: a@x.com, pw1); the first line of users.csv must be a header row naming the columns, and `a@x.com` looks like a value: is the header missing?"), "{msg}");
        let e = with_csv("empty", b"").unwrap_err();
        assert!(
            e.to_string()
                .ends_with("users.csv: the first line must be a header row naming the columns"),
            "{e}"
        );
        let e = with_csv("utf8", b"email\na@x\n\xff\xfe\n").unwrap_err();
        assert!(
            e.to_string().ends_with(
                "users.csv: CSV error: line 3: invalid UTF-8: data files are UTF-8 text"
            ),
            "{e}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_csv_that_is_a_device_is_refused_without_reading_it() {
        let dir = data_dir("device", b"");
        std::fs::remove_file(dir.join("users.csv")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", dir.join("users.csv")).unwrap();
        let text = "version: 1\nname: t\ndata:\n  users: {csv: users.csv}\nscenarios:\n  - name: s\n    steps:\n      - name: a\n        request: {url: \"http://x/{{ users.email }}\"}\n";
        let e = load_str(text, "t.yaml", &dir).unwrap_err();
        assert!(
            e.to_string().ends_with("users.csv: not a regular file"),
            "{e}"
        );
    }

    #[test]
    fn names_must_be_text() {
        let e = errors("version: 1\nname: 12345\nscenarios:\n  - name: s\n    steps:\n      - name: a\n        request: {url: \"http://x/\"}\n");
        assert_eq!(e, ["t.yaml:2:7: name: invalid type: integer `12345`, expected text (quote a number or a boolean meant as a name, as in \"123\")"]);
        let e = errors("version: 1\nname: t\nscenarios:\n  - name: s\n    steps:\n      - name: true\n        request: {url: \"http://x/\"}\n");
        assert_eq!(e.len(), 1);
        assert!(
            e[0].contains("invalid type: boolean `true`, expected text"),
            "{}",
            e[0]
        );
        // Quoted, they are text.
        let ok = errors("version: 1\nname: \"12345\"\nscenarios:\n  - name: '1'\n    steps:\n      - name: \"2\"\n        request: {url: \"http://x/\"}\n");
        assert!(ok.is_empty(), "{ok:?}");
    }
}
