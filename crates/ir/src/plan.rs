//! The scenario file's types: a [`Plan`] holds variables, data feeders, a load model,
//! thresholds and one or more [`Scenario`]s of [`Step`]s.
//!
//! These types are both the YAML contract (serde, JSON Schema) and the validated model:
//! every field that has a grammar (durations, rates, templates, thresholds, checks) is
//! parsed while deserializing, so a loaded `Plan` cannot hold a malformed one.

use std::path::PathBuf;
use std::time::Duration;

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::check::Check;
use crate::extract::Extractor;
use crate::load::LoadSpec;
pub use crate::request::{Body, Method, Part, RawRequest, Request};
use crate::stream::{RawSse, RawWs, StepKind};
use crate::template::{JsonTemplate, Template};
use crate::threshold::Threshold;
use crate::time::{duration_schema, Think};

/// One scenario file: shared settings and the scenarios that run under one load.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "throng scenario file")]
pub struct Plan {
    /// Format version; only 1 exists.
    pub version: FormatVersion,
    /// Name of the test, shown in reports.
    #[serde(deserialize_with = "de_name")]
    pub name: String,
    /// Template variables shared by every step; values may themselves be templates.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub vars: IndexMap<String, JsonTemplate>,
    /// Names of variables whose values are redacted in traces, logs and reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// Settings applied to every step unless the step overrides them.
    #[serde(default, skip_serializing_if = "Defaults::is_empty")]
    pub defaults: Defaults,
    /// Data feeders: one row per iteration, exposed as `{{ feeder.column }}`.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub data: IndexMap<String, Feeder>,
    /// The default load; command-line flags override each field.
    #[serde(default, skip_serializing_if = "LoadSpec::is_empty")]
    pub load: LoadSpec,
    /// Conditions checked at the end of a run; any breach makes `throng run` exit 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<Threshold>,
    /// The user journeys; each iteration runs one, picked by weight.
    pub scenarios: Vec<Scenario>,
}

impl Plan {
    pub fn step_count(&self) -> usize {
        self.scenarios.iter().map(|s| s.steps.len()).sum()
    }
}

/// Reads a name (of the plan, a scenario or a step) as text only: YAML would silently turn
/// `name: 12345` or `name: yes` into a string, losing the original spelling (`012`, `1.50`),
/// so names that are not text are refused with a hint to quote them.
fn de_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    struct Name;
    impl serde::de::Visitor<'_> for Name {
        type Value = String;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("text (quote a number or a boolean meant as a name, as in \"123\")")
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_string<E: serde::de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
    }
    d.deserialize_any(Name)
}

/// The format version number; anything other than 1 is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(transparent)]
pub struct FormatVersion(#[schemars(range(min = 1, max = 1))] pub u32);

impl<'de> Deserialize<'de> for FormatVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = u32::deserialize(d)?;
        if v == 1 {
            Ok(FormatVersion(1))
        } else {
            Err(serde::de::Error::custom(format!(
                "unsupported format version {v}: this throng reads version 1"
            )))
        }
    }
}

/// Settings that apply to every step unless overridden.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Headers sent with every request (a step's own headers win).
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub headers: IndexMap<String, Template>,
    /// Request timeout (default 30s).
    #[serde(
        default,
        with = "crate::time::opt_duration_serde",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "duration_schema")]
    pub timeout: Option<Duration>,
    /// Pause after each step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think: Option<Think>,
    /// Whether redirects are followed (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// What a failed step does (default `stop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_fail: Option<OnFail>,
}

impl Defaults {
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty()
            && self.timeout.is_none()
            && self.think.is_none()
            && self.follow_redirects.is_none()
            && self.on_fail.is_none()
    }
}

/// A CSV data source; each iteration takes one row.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Feeder {
    /// Path of a CSV file with a header row, relative to the scenario file's folder.
    pub csv: PathBuf,
    /// How rows are handed out.
    #[serde(default)]
    pub pick: Pick,
    /// The CSV's columns, read from its header row when the plan is loaded.
    #[serde(skip)]
    pub columns: Vec<String>,
    /// The file's resolved location, set when the plan is loaded.
    #[serde(skip)]
    pub resolved: PathBuf,
}

/// How a feeder hands out rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Pick {
    /// One shared cursor over the rows, wrapping at the end.
    #[default]
    Sequential,
    /// A random row each time.
    Random,
    /// Each row at most once; the run ends cleanly when rows run out.
    Unique,
}

/// A named user journey.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(deserialize_with = "de_name")]
    pub name: String,
    /// Relative share of iterations when there are several scenarios (default 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub weight: u32,
    pub steps: Vec<Step>,
}

fn one() -> u32 {
    1
}
fn is_one(v: &u32) -> bool {
    *v == 1
}

/// One exchange with the server (a request, an event stream or a WebSocket session) and
/// what to take from and assert about what came back.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "RawStep", into = "RawStep")]
#[schemars(with = "RawStep")]
pub struct Step {
    pub name: String,
    /// The HTTP request; for `sse` and `ws` steps, the GET that opens the stream (its URL,
    /// query and headers), so templates and default headers treat every kind alike.
    pub request: Request,
    /// Whether the step is a plain request or a stream, and the stream's own settings.
    pub kind: StepKind,
    pub extract: IndexMap<String, Extractor>,
    pub check: Vec<Check>,
    pub think: Option<Think>,
    pub on_fail: Option<OnFail>,
    pub follow_redirects: Option<bool>,
    pub timeout: Option<Duration>,
    pub source: Option<Provenance>,
}

impl Step {
    /// Every template of the step's request (or stream handshake) and of its stream's
    /// messages; message templates may also read `seq` (see [`StepKind::message_templates`]).
    pub fn templates(&self) -> Vec<&Template> {
        let mut out = self.request.templates();
        out.extend(self.kind.message_templates());
        out
    }
}

/// A step as written: exactly one of `request`, `sse` or `ws`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStep {
    #[serde(deserialize_with = "de_name")]
    pub name: String,
    /// An HTTP request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<Request>,
    /// A Server-Sent Events stream, read event by event. Body checks (`json`,
    /// `body_contains`, `body_matches`, `schema`) apply to every event's data; body
    /// extractors read the last event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sse: Option<RawSse>,
    /// A WebSocket: each message is sent and its reply awaited. Body checks apply to every
    /// reply; body extractors read the last reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws: Option<RawWs>,
    /// Values taken from the response; they become variables for later steps.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub extract: IndexMap<String, Extractor>,
    /// Conditions on the response; any failure fails the step.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub check: Vec<Check>,
    /// Pause after this step (overrides `defaults.think`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub think: Option<Think>,
    /// What a failure does: `stop` ends the iteration, `continue` goes on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_fail: Option<OnFail>,
    /// Follow redirects (default true); false shows the 3xx to checks and extractors.
    /// Only for `request` steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<bool>,
    /// Request timeout (overrides `defaults.timeout`); for `sse` and `ws` steps, the whole
    /// session from connecting to the last event or reply.
    #[serde(
        default,
        with = "crate::time::opt_duration_serde",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "duration_schema")]
    pub timeout: Option<Duration>,
    /// Where this step came from when it was compiled from a recording.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Provenance>,
}

impl TryFrom<RawStep> for Step {
    type Error = String;
    fn try_from(raw: RawStep) -> Result<Self, String> {
        // serde places step-level errors on the list of steps, so name the step (last: the
        // first quoted text is what the diagnostic's location points at).
        let named = |e: String| format!("{e}, in step `{}`", raw.name);
        let kinds: Vec<&str> = [
            raw.request.as_ref().map(|_| "request"),
            raw.sse.as_ref().map(|_| "sse"),
            raw.ws.as_ref().map(|_| "ws"),
        ]
        .into_iter()
        .flatten()
        .collect();
        if kinds.len() > 1 {
            return Err(named(format!(
                "a step has one of `request`, `sse` or `ws`, found `{}`",
                kinds.join("` and `")
            )));
        }
        let (request, kind) = match (raw.request, raw.sse, raw.ws) {
            (Some(r), _, _) => (r, StepKind::Http),
            (_, Some(s), _) => {
                let (r, s) = s.split().map_err(named)?;
                (r, StepKind::Sse(s))
            }
            (_, _, Some(w)) => {
                let (r, w) = w.split().map_err(named)?;
                (r, StepKind::Ws(w))
            }
            _ => {
                return Err(format!(
                    "step `{}` needs one of `request`, `sse` or `ws`",
                    raw.name
                ))
            }
        };
        if raw.follow_redirects.is_some() && kind != StepKind::Http {
            return Err(named(format!(
                "`follow_redirects` goes with a `request` step, not `{}`",
                kind.key()
            )));
        }
        Ok(Step {
            name: raw.name,
            request,
            kind,
            extract: raw.extract,
            check: raw.check,
            think: raw.think,
            on_fail: raw.on_fail,
            follow_redirects: raw.follow_redirects,
            timeout: raw.timeout,
            source: raw.source,
        })
    }
}

impl From<Step> for RawStep {
    fn from(s: Step) -> Self {
        let (request, sse, ws) = match s.kind {
            StepKind::Http => (Some(s.request), None, None),
            StepKind::Sse(sse) => (None, Some(RawSse::join(s.request, sse)), None),
            StepKind::Ws(ws) => (None, None, Some(RawWs::join(s.request, ws))),
        };
        RawStep {
            name: s.name,
            request,
            sse,
            ws,
            extract: s.extract,
            check: s.check,
            think: s.think,
            on_fail: s.on_fail,
            follow_redirects: s.follow_redirects,
            timeout: s.timeout,
            source: s.source,
        }
    }
}

/// The recording a compiled step came from, for `throng verify`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The HAR file, relative to the scenario file's folder or absolute.
    pub har: String,
    /// Index of the entry in the HAR's `log.entries`.
    pub entry: usize,
}

/// What a failed step does to the rest of its iteration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFail {
    #[default]
    Stop,
    Continue,
}

impl Plan {
    /// Moves `defaults` into every step that does not override them, so the steps mean the
    /// same thing outside this plan (the first step of [`Plan::combine`]).
    pub fn inline_defaults(mut self) -> Plan {
        let d = std::mem::take(&mut self.defaults);
        for step in self.scenarios.iter_mut().flat_map(|s| s.steps.iter_mut()) {
            for (k, v) in &d.headers {
                if !step
                    .request
                    .headers
                    .keys()
                    .any(|h| h.eq_ignore_ascii_case(k))
                {
                    step.request.headers.insert(k.clone(), v.clone());
                }
            }
            step.timeout = step.timeout.or(d.timeout);
            step.think = step.think.or(d.think);
            if step.kind == StepKind::Http {
                step.follow_redirects = step.follow_redirects.or(d.follow_redirects);
            }
            step.on_fail = step.on_fail.or(d.on_fail);
        }
        self
    }

    /// Combines plans into one whose iterations are shared out by weight: each plan's
    /// scenario weights are scaled by its own weight. Variables, data feeders and secrets
    /// are united (the same name must mean the same thing in every plan); thresholds and
    /// load are left to the caller.
    pub fn combine(name: &str, parts: Vec<(Plan, u32)>) -> Result<Plan, String> {
        let mut out = Plan {
            version: FormatVersion(1),
            name: name.to_string(),
            vars: IndexMap::new(),
            secrets: Vec::new(),
            defaults: Defaults::default(),
            data: IndexMap::new(),
            load: LoadSpec::default(),
            thresholds: Vec::new(),
            scenarios: Vec::new(),
        };
        for (plan, weight) in parts {
            let plan = plan.inline_defaults();
            for (k, v) in plan.vars {
                match out.vars.get(&k) {
                    Some(existing) if *existing != v => {
                        return Err(format!(
                            "variable `{k}` differs between `{}` and an earlier plan",
                            plan.name
                        ))
                    }
                    Some(_) => {}
                    None => {
                        out.vars.insert(k, v);
                    }
                }
            }
            for (k, f) in plan.data {
                match out.data.get(&k) {
                    Some(existing)
                        if existing.resolved != f.resolved || existing.pick != f.pick =>
                    {
                        return Err(format!(
                            "data feeder `{k}` differs between `{}` and an earlier plan",
                            plan.name
                        ))
                    }
                    Some(_) => {}
                    None => {
                        out.data.insert(k, f);
                    }
                }
            }
            for s in plan.secrets {
                if !out.secrets.contains(&s) {
                    out.secrets.push(s);
                }
            }
            for mut s in plan.scenarios {
                if out.scenarios.iter().any(|o| o.name == s.name) {
                    s.name = format!("{} ({})", s.name, plan.name);
                }
                s.weight = s.weight.saturating_mul(weight.max(1));
                out.scenarios.push(s);
            }
        }
        Ok(out)
    }
}
