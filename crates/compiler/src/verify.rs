//! `throng verify`'s judgment: one replayed iteration of a compiled scenario compared, step by
//! step, with the HAR entries it was compiled from (each step's `source: {har, entry}`).
//!
//! A step matches when the status is the recorded one, the media type is the same, and a
//! JSON body has the recorded shape (keys and value types; values are ignored, since ids,
//! tokens and timestamps differ on every run). For the first step that does not, the
//! verification names what differs and looks for the usual cause: a value the server made
//! during the recording (it appeared in an earlier recorded response) that the scenario
//! still sends as a hard-coded literal. The hint names the step it came from and the
//! extractor that would carry it.
//!
//! The runner is not a dependency: the binary maps what it observed to [`Observed`].

use serde_json::Value;
use throng_ir::Step;

use crate::har::{Entry, Har};

/// Shape differences reported per step, at most.
const MAX_DIFFS: usize = 12;
/// Literals shorter than this are too likely to match by chance (`1`, `id`, `true`).
const MIN_LITERAL: usize = 4;

/// What the replay of one step produced.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub step: String,
    /// The HAR entry the step was compiled from.
    pub entry: Option<usize>,
    pub status: Option<u16>,
    pub content_type: Option<String>,
    pub body: Option<String>,
    /// Why the step got no response (connect, timeout...), if it did not.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Match,
    Differs(Vec<String>),
    Failed(String),
    /// The step has no `source` entry in this recording: nothing to compare with.
    NotRecorded,
}

impl Verdict {
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Match => "match",
            Verdict::Differs(_) => "differs",
            Verdict::Failed(_) => "failed",
            Verdict::NotRecorded => "not recorded",
        }
    }
}

#[derive(Debug, Clone)]
pub struct StepVerdict {
    pub step: String,
    pub entry: Option<usize>,
    /// Recorded status and media type.
    pub recorded: Option<(i64, String)>,
    /// Replayed status and media type.
    pub replayed: Option<(u16, String)>,
    pub verdict: Verdict,
}

/// A value the server made during the recording that the scenario sends as a literal.
#[derive(Debug, Clone, PartialEq)]
pub struct Hint {
    pub literal: String,
    /// The step whose recorded response first held it.
    pub producer: String,
    /// An extractor for that step, as YAML (`{json: $.token}`).
    pub extractor: String,
    /// A variable name for it.
    pub variable: String,
    /// What the same place held in this run's response, when it differs.
    pub replayed: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Divergence {
    pub step: String,
    pub reasons: Vec<String>,
    pub hints: Vec<Hint>,
}

#[derive(Debug, Clone)]
pub struct Verification {
    pub steps: Vec<StepVerdict>,
    pub first_divergence: Option<Divergence>,
}

impl Verification {
    pub fn all_match(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s.verdict, Verdict::Match | Verdict::NotRecorded))
            && self.first_divergence.is_none()
    }
}

/// Reads the recording a scenario was compiled from, bounded like `throng compile`'s input.
pub fn load_recording(path: &std::path::Path) -> Result<Har, String> {
    let bytes = crate::util::read_capped(path, crate::MAX_HAR_BYTES)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
        format!(
            "{}:{}:{}: not a HAR file: {e}",
            path.display(),
            e.line(),
            e.column()
        )
    })?;
    crate::har::from_value(&doc).map_err(|e| match e {
        crate::har::HarError::NotHar(why) => format!("{}: not a HAR file: {why}", path.display()),
        crate::har::HarError::NoUsableEntry { total, .. } => {
            format!("{}: none of its {total} entries is usable", path.display())
        }
    })
}

/// The media type of a content type: `application/json; charset=utf-8` → `application/json`.
fn media_type(ct: &str) -> String {
    ct.split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Differences in keys and value types between a recorded and a replayed JSON value.
/// Arrays compare their first elements; null is compatible with anything (optional fields).
pub fn shape_diff(recorded: &Value, replayed: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_at("$", recorded, replayed, &mut out);
    out
}

fn diff_at(path: &str, a: &Value, b: &Value, out: &mut Vec<String>) {
    if out.len() >= MAX_DIFFS {
        return;
    }
    match (a, b) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(x), Value::Object(y)) => {
            for (k, va) in x {
                let p = format!("{path}.{k}");
                match y.get(k) {
                    Some(vb) => diff_at(&p, va, vb, out),
                    // A field recorded as null is optional: absent is the same shape.
                    None if va.is_null() => {}
                    None => out.push(format!(
                        "{p}: recorded ({}), missing in the replay",
                        json_kind(va)
                    )),
                }
                if out.len() >= MAX_DIFFS {
                    return;
                }
            }
            for (k, vb) in y {
                if !x.contains_key(k) && out.len() < MAX_DIFFS {
                    out.push(format!("{path}.{k}: new in the replay ({})", json_kind(vb)));
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if let (Some(va), Some(vb)) = (x.first(), y.first()) {
                diff_at(&format!("{path}[0]"), va, vb, out);
            }
        }
        _ if json_kind(a) != json_kind(b) => out.push(format!(
            "{path}: {} recorded, {} replayed",
            json_kind(a),
            json_kind(b)
        )),
        _ => {}
    }
}

fn recorded_entry(har: &Har, index: usize) -> Option<&Entry> {
    har.entries.iter().find(|e| e.index == index)
}

fn judge(entry: &Entry, seen: &Observed) -> Verdict {
    if let Some(e) = &seen.error {
        return Verdict::Failed(e.clone());
    }
    let Some(status) = seen.status else {
        return Verdict::Failed("no response".into());
    };
    let mut reasons = Vec::new();
    if i64::from(status) != entry.status {
        reasons.push(format!(
            "status: {} recorded, {status} replayed",
            entry.status
        ));
    }
    let recorded_type = media_type(&entry.resp_mime);
    let replayed_type = media_type(seen.content_type.as_deref().unwrap_or(""));
    if !recorded_type.is_empty() && recorded_type != replayed_type {
        reasons.push(format!(
            "content type: {recorded_type} recorded, {} replayed",
            if replayed_type.is_empty() {
                "none"
            } else {
                &replayed_type
            }
        ));
    }
    if reasons.is_empty() && recorded_type.contains("json") {
        let recorded = entry
            .resp_body
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok());
        let replayed = seen
            .body
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok());
        match (recorded, replayed) {
            (Some(a), Some(b)) => reasons.extend(shape_diff(&a, &b)),
            (Some(_), None) => reasons.push("body: JSON recorded, not JSON replayed".into()),
            _ => {}
        }
    }
    if reasons.is_empty() {
        Verdict::Match
    } else {
        Verdict::Differs(reasons)
    }
}

/// Compares each observed step with its recorded entry; `steps` are the scenario's steps in
/// the order they ran (for the literals they send and their names).
pub fn verify(har: &Har, steps: &[Step], observed: &[Observed]) -> Verification {
    let mut verdicts = Vec::new();
    let mut first = None;
    for seen in observed {
        let entry = seen.entry.and_then(|i| recorded_entry(har, i));
        let verdict = match entry {
            None => Verdict::NotRecorded,
            Some(e) => judge(e, seen),
        };
        if first.is_none() && matches!(verdict, Verdict::Differs(_) | Verdict::Failed(_)) {
            let reasons = match &verdict {
                Verdict::Differs(r) => r.clone(),
                Verdict::Failed(why) => vec![why.clone()],
                _ => Vec::new(),
            };
            let hints = match (entry, steps.iter().find(|s| s.name == seen.step)) {
                (Some(e), Some(step)) => hints(har, e, step, steps, observed),
                _ => Vec::new(),
            };
            first = Some(Divergence {
                step: seen.step.clone(),
                reasons,
                hints,
            });
        }
        verdicts.push(StepVerdict {
            step: seen.step.clone(),
            entry: seen.entry,
            recorded: entry.map(|e| (e.status, media_type(&e.resp_mime))),
            replayed: seen
                .status
                .map(|s| (s, media_type(seen.content_type.as_deref().unwrap_or("")))),
            verdict,
        });
    }
    Verification {
        steps: verdicts,
        first_divergence: first,
    }
}

/// Values a recorded request sent: path segments, query values, header values (and the
/// words in them, for `Bearer X`), form and JSON body values.
fn request_literals(e: &Entry) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let (path, query) = match e.url.split_once('?') {
        Some((p, q)) => (p, q),
        None => (e.url.as_str(), ""),
    };
    let path = path
        .split("://")
        .nth(1)
        .map_or(path, |rest| rest.find('/').map_or("", |i| &rest[i..]));
    out.extend(path.split('/').map(str::to_string));
    for pair in query.split('&') {
        if let Some((_, v)) = pair.split_once('=') {
            out.push(v.to_string());
        }
    }
    for (_, v) in &e.req_headers {
        out.push(v.clone());
        out.extend(v.split_whitespace().map(str::to_string));
    }
    if let Some(body) = &e.req_body {
        out.extend(body.params.iter().map(|p| p.value.clone()));
        if let Ok(v) = serde_json::from_str::<Value>(&body.text) {
            leaves(&v, &mut |s| out.push(s));
        }
    }
    out.retain(|s| s.len() >= MIN_LITERAL);
    out.sort();
    out.dedup();
    out
}

fn leaves(v: &Value, f: &mut impl FnMut(String)) {
    match v {
        Value::String(s) => f(s.clone()),
        Value::Number(n) => f(n.to_string()),
        Value::Array(a) => a.iter().for_each(|x| leaves(x, f)),
        Value::Object(o) => o.values().for_each(|x| leaves(x, f)),
        _ => {}
    }
}

/// The JSONPath of the first leaf equal to `literal` (a string or a number), if any.
fn find_in_json(v: &Value, literal: &str, path: &mut String) -> bool {
    match v {
        Value::String(s) => s == literal,
        Value::Number(n) => n.to_string() == literal,
        Value::Array(a) => a.iter().enumerate().any(|(i, x)| {
            let len = path.len();
            path.push_str(&format!("[{i}]"));
            let found = find_in_json(x, literal, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        Value::Object(o) => o.iter().any(|(k, x)| {
            let len = path.len();
            path.push('.');
            path.push_str(k);
            let found = find_in_json(x, literal, path);
            if !found {
                path.truncate(len);
            }
            found
        }),
        _ => false,
    }
}

fn value_at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for part in path
        .trim_start_matches('$')
        .split('.')
        .filter(|p| !p.is_empty())
    {
        let (key, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            cur = cur.get(key)?;
        }
        for ix in indexes.split('[').filter(|s| !s.is_empty()) {
            cur = cur.get(ix.trim_end_matches(']').parse::<usize>().ok()?)?;
        }
    }
    Some(cur)
}

/// A variable name from the last key of a JSONPath: `$.cart.id` → `cart_id`.
fn variable_for(path: &str) -> String {
    let parts: Vec<&str> = path
        .trim_start_matches('$')
        .split(['.', '['])
        .filter(|p| !p.is_empty() && !p.ends_with(']'))
        .collect();
    match parts.as_slice() {
        [] => "value".into(),
        [.., parent, "id"] => format!("{parent}_id"),
        [.., last] => last.to_string(),
    }
}

fn hints(
    har: &Har,
    entry: &Entry,
    step: &Step,
    steps: &[Step],
    observed: &[Observed],
) -> Vec<Hint> {
    // Only literals the scenario still sends verbatim: templated ones are already carried.
    let sent = serde_json::to_string(step).unwrap_or_default();
    let mut out = Vec::new();
    for literal in request_literals(entry) {
        if !sent.contains(&literal) {
            continue;
        }
        let earlier = har.entries.iter().filter(|e| e.index < entry.index);
        for producer in earlier {
            let Some(body) = producer.resp_body.as_deref() else {
                continue;
            };
            if !body.contains(&literal) {
                continue;
            }
            let Ok(json) = serde_json::from_str::<Value>(body) else {
                continue;
            };
            let mut path = "$".to_string();
            if !find_in_json(&json, &literal, &mut path) {
                continue;
            }
            let producer_step = steps
                .iter()
                .find(|s| s.source.as_ref().is_some_and(|p| p.entry == producer.index));
            let producer_name = producer_step.map_or_else(
                || {
                    format!(
                        "{} {} (entry {})",
                        producer.method, producer.url, producer.index
                    )
                },
                |s| s.name.clone(),
            );
            let replayed = producer_step
                .and_then(|s| observed.iter().find(|o| o.step == s.name))
                .and_then(|o| o.body.as_deref())
                .and_then(|b| serde_json::from_str::<Value>(b).ok())
                .and_then(|v| value_at(&v, &path).cloned())
                .map(|v| match v {
                    Value::String(s) => s,
                    other => other.to_string(),
                })
                .filter(|v| v != &literal);
            out.push(Hint {
                literal: literal.clone(),
                producer: producer_name,
                extractor: format!("{{json: \"{path}\"}}"),
                variable: variable_for(&path),
                replayed,
            });
            break;
        }
    }
    // A literal found inside a longer one (`Bearer X` and `X`) is the same hint.
    let all: Vec<String> = out.iter().map(|h| h.literal.clone()).collect();
    out.retain(|h| {
        !all.iter()
            .any(|o| o != &h.literal && o.contains(&h.literal))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn shapes_compare_keys_and_types_not_values() {
        let a = json!({"id": "order-1", "total": 12.5, "items": [{"sku": "a", "qty": 1}], "note": null});
        let b =
            json!({"id": "order-9", "total": 99, "items": [{"sku": "b", "qty": 3}], "note": "x"});
        assert!(shape_diff(&a, &b).is_empty());
        let c = json!({"id": 7, "items": [{"sku": "b"}], "extra": true});
        assert_eq!(
            shape_diff(&a, &c),
            [
                "$.id: string recorded, number replayed",
                "$.total: recorded (number), missing in the replay",
                "$.items[0].qty: recorded (number), missing in the replay",
                "$.extra: new in the replay (boolean)",
            ]
        );
    }

    #[test]
    fn values_are_found_by_path_and_named() {
        let v = json!({"cart": {"id": "cart-1", "items": [{"id": "item-7"}]}, "token": "abcd"});
        let mut p = "$".to_string();
        assert!(find_in_json(&v, "item-7", &mut p));
        assert_eq!(p, "$.cart.items[0].id");
        assert_eq!(value_at(&v, &p), Some(&json!("item-7")));
        assert_eq!(variable_for("$.cart.id"), "cart_id");
        assert_eq!(variable_for("$.token"), "token");
        assert_eq!(variable_for("$.cart.items[0].id"), "items_id");
        assert_eq!(
            media_type("application/json; charset=utf-8"),
            "application/json"
        );
    }
}
