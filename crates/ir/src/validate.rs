//! The semantic pass over a deserialized [`Plan`], and the wording of serde's errors.
//!
//! Deserialization has already checked every node alone; this pass checks relations
//! between nodes. serde keeps no spans after deserializing, so [`Locator`] finds the line
//! of a problem by walking the source text the same way a reader would: to the scenario,
//! then the step, then the offending text.

use std::collections::{BTreeSet, HashSet};
use std::path::{Component, Path};
use std::sync::LazyLock;

use regex::Regex;

use crate::plan::Plan;
use crate::stream::{StepKind, MESSAGE_SEQ};
use crate::template::{Template, BUILTIN_FUNCTIONS, BUILTIN_VARIABLES};
use crate::threshold::{Metric, Scope};
use crate::Diagnostic;

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

/// Runs every cross-node check and resolves data files; returns all problems found.
pub(crate) fn validate(plan: &mut Plan, src: &str, file: &str, base_dir: &Path) -> Vec<Diagnostic> {
    let loc = Locator::new(src);
    let mut out = Vec::new();
    let mut report = |(line, column): (usize, usize), message: String| {
        out.push(Diagnostic {
            file: file.to_string(),
            line,
            column,
            message,
        });
    };

    // Data feeders: files inside the scenario's folder, with a header row.
    for (name, feeder) in plan.data.iter_mut() {
        let at = loc.key_in_section("data", name);
        if feeder.csv.is_absolute()
            || feeder
                .csv
                .components()
                .any(|c| matches!(c, Component::ParentDir))
        {
            report(at, format!(
                "data `{name}`: `{}` must be a path inside the scenario's folder (no absolute paths, no `..`)",
                feeder.csv.display()
            ));
            continue;
        }
        let resolved = base_dir.join(&feeder.csv);
        match read_header(&resolved) {
            Ok(columns) => {
                feeder.columns = columns;
                feeder.resolved = resolved;
            }
            Err(e) => report(at, format!("data `{name}`: {e}")),
        }
    }

    // Variables: each may use builtins, earlier variables and data rows.
    let mut defined: BTreeSet<String> = BTreeSet::new();
    let data_names: HashSet<&str> = plan.data.keys().map(String::as_str).collect();
    for (name, value) in &plan.vars {
        for t in value.templates() {
            check_refs(t, &defined, plan, &mut |msg| {
                report(loc.key_in_section("vars", name), msg)
            });
        }
        defined.insert(name.clone());
    }
    if data_names.iter().any(|d| defined.contains(*d)) {
        let clash = data_names
            .iter()
            .find(|d| defined.contains(**d))
            .copied()
            .unwrap_or_default();
        report(
            loc.key_in_section("data", clash),
            format!("`{clash}` is both a variable and a data feeder"),
        );
    }
    for s in &plan.secrets {
        if !defined.contains(s) {
            report(
                loc.text_from(0, s),
                format!("secret `{s}` is not a variable in `vars`"),
            );
        }
    }
    for (h, t) in &plan.defaults.headers {
        check_refs(t, &defined, plan, &mut |msg| {
            report(
                loc.key_in_section("defaults", h),
                format!("defaults header `{h}`: {msg}"),
            )
        });
    }
    if let Err(e) = plan.load.resolve() {
        report(loc.section("load"), format!("load: {e}"));
    }

    if plan.scenarios.is_empty() {
        report(
            loc.section("scenarios"),
            "`scenarios` is empty: a plan needs at least one scenario".into(),
        );
    }
    let mut scenario_names = HashSet::new();
    let mut all_steps: HashSet<&str> = HashSet::new();
    for (si, scenario) in plan.scenarios.iter().enumerate() {
        let s_line = loc.step(plan, si, None);
        if !scenario_names.insert(scenario.name.as_str()) {
            report(
                s_line,
                format!("scenario name `{}` is used twice", scenario.name),
            );
        }
        if scenario.weight == 0 {
            report(
                s_line,
                format!("scenario `{}`: weight must be at least 1", scenario.name),
            );
        }
        if scenario.steps.is_empty() {
            report(s_line, format!("scenario `{}` has no steps", scenario.name));
        }
        let mut known = defined.clone();
        let mut step_names = HashSet::new();
        for (ti, step) in scenario.steps.iter().enumerate() {
            let step_at = loc.step(plan, si, Some(ti));
            all_steps.insert(step.name.as_str());
            if !step_names.insert(step.name.as_str()) {
                report(
                    step_at,
                    format!(
                        "step name `{}` is used twice in scenario `{}`",
                        step.name, scenario.name
                    ),
                );
            }
            for t in step.request.templates() {
                check_refs(t, &known, plan, &mut |msg| {
                    report(
                        loc.text_after(step_at.0, t.source()),
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
                        report(
                            loc.text_after(step_at.0, t.source()),
                            format!("step `{}`: {msg}", step.name),
                        )
                    });
                }
            }
            for name in step.extract.keys() {
                if BUILTIN_VARIABLES.contains(&name.as_str())
                    || BUILTIN_FUNCTIONS.contains(&name.as_str())
                {
                    report(
                        loc.text_after(step_at.0, name),
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
                        report(
                            loc.text_after(step_at.0, t.source()),
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
            report(
                loc.text_from(0, th.expr()),
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
                report(
                    loc.text_from(0, th.expr()),
                    format!(
                        "threshold `{}`: {kind} `{name}` {why}, so it has no messages",
                        th.expr()
                    ),
                );
            }
        }
    }
    out
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
                        .unwrap_or_else(|| format!(" (columns: {})", feeder.columns.join(", ")));
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
            t.source()
        ));
    }
}

fn read_header(path: &Path) -> Result<Vec<String>, String> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_path(path)
        .map_err(|e| format!("cannot read {}: {}", path.display(), csv_reason(&e)))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {}", path.display(), csv_reason(&e)))?;
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
    Ok(columns)
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.to_string(),
        _ => e.to_string(),
    }
}

/// Finds where things are in the source text; 1-based (line, column) pairs.
struct Locator<'a> {
    lines: Vec<&'a str>,
}

impl<'a> Locator<'a> {
    fn new(src: &'a str) -> Self {
        Locator {
            lines: src.lines().collect(),
        }
    }

    /// The line of a top-level key such as `load:`.
    fn section(&self, key: &str) -> (usize, usize) {
        self.section_index(key)
            .map(|i| (i + 1, 1))
            .unwrap_or((1, 1))
    }

    fn section_index(&self, key: &str) -> Option<usize> {
        self.lines.iter().position(|l| {
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
    }

    /// A key nested under a top-level section: `vars:` then `  name:`.
    fn key_in_section(&self, section: &str, key: &str) -> (usize, usize) {
        let Some(start) = self.section_index(section) else {
            return (1, 1);
        };
        for (i, l) in self.lines.iter().enumerate().skip(start + 1) {
            if !l.starts_with([' ', '\t'])
                && !l.trim().is_empty()
                && !l.trim_start().starts_with('#')
            {
                break;
            }
            let t = l.trim_start();
            let unquoted = t.trim_start_matches(['"', '\'']);
            if unquoted.starts_with(key)
                && unquoted[key.len()..]
                    .trim_start_matches(['"', '\''])
                    .trim_start()
                    .starts_with(':')
            {
                return (i + 1, l.len() - t.len() + 1);
            }
        }
        (start + 1, 1)
    }

    /// The first occurrence of `text` at or after line index `from`.
    fn text_from(&self, from: usize, text: &str) -> (usize, usize) {
        for (i, l) in self.lines.iter().enumerate().skip(from) {
            if let Some(c) = l.find(text) {
                return (i + 1, l[..c].chars().count() + 1);
            }
        }
        (from + 1, 1)
    }

    /// `text` searched from a 1-based line; falls back to that line.
    fn text_after(&self, line: usize, text: &str) -> (usize, usize) {
        let probe = text.lines().next().unwrap_or(text);
        let from = line.saturating_sub(1);
        for (i, l) in self.lines.iter().enumerate().skip(from) {
            if let Some(c) = l.find(probe) {
                return (i + 1, l[..c].chars().count() + 1);
            }
        }
        (line, 1)
    }

    /// The `name:` line of scenario `si` (or of its step `ti`), walking scenarios in order.
    fn step(&self, plan: &Plan, si: usize, ti: Option<usize>) -> (usize, usize) {
        let Some(mut cursor) = self.section_index("scenarios") else {
            return (1, 1);
        };
        let mut found = (cursor + 1, 1);
        for (s, scenario) in plan.scenarios.iter().enumerate().take(si + 1) {
            if let Some(i) = self.name_line(cursor, &scenario.name) {
                cursor = i + 1;
                found = (i + 1, 1);
            }
            let last = if s == si {
                ti.map(|t| t + 1).unwrap_or(0)
            } else {
                scenario.steps.len()
            };
            for step in scenario.steps.iter().take(last) {
                if let Some(i) = self.name_line(cursor, &step.name) {
                    cursor = i + 1;
                    found = (i + 1, 1);
                }
            }
        }
        found
    }

    fn name_line(&self, from: usize, name: &str) -> Option<usize> {
        self.lines.iter().enumerate().skip(from).find_map(|(i, l)| {
            let t = l.trim_start().trim_start_matches('-').trim_start();
            let v = t
                .strip_prefix("name")?
                .trim_start()
                .strip_prefix(':')?
                .trim();
            let v = v
                .split(" #")
                .next()
                .unwrap_or(v)
                .trim()
                .trim_matches(['"', '\'']);
            (v == name).then_some(i)
        })
    }
}
