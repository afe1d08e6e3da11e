//! Judging a response: extractors (json, regex, css, header, cookie) and checks, with
//! failure messages that show the expected and the actual value.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::HeaderMap;
use minijinja::Value;
use throng_ir::{Check, Extractor, ValueExpect};

use crate::client::CookieJar;
use crate::plan::CheckPlan;

/// Response headers as checks and extractors read them: a `HeaderMap` (streams), or an
/// HTTP/1.1 head as it arrived, read without building a map.
pub trait Headers {
    /// The values of header `name` (any case) that are text, in order.
    fn values_of<'a>(&'a self, name: &str) -> Vec<&'a str>;
    /// The header names, lower case, each once, in order.
    fn names(&self) -> Vec<String>;
}

impl Headers for HeaderMap {
    fn values_of<'a>(&'a self, name: &str) -> Vec<&'a str> {
        self.get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    fn names(&self) -> Vec<String> {
        self.keys().map(|k| k.as_str().to_string()).collect()
    }
}

impl Headers for crate::client::h1::Head {
    fn values_of<'a>(&'a self, name: &str) -> Vec<&'a str> {
        self.values(name)
            .filter_map(|v| std::str::from_utf8(v).ok())
            .collect()
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for n in self.names() {
            let n = String::from_utf8_lossy(n).to_ascii_lowercase();
            if !names.contains(&n) {
                names.push(n);
            }
        }
        names
    }
}

/// The parts of a response checks and extractors look at.
pub struct Seen<'a> {
    pub status: u16,
    pub headers: &'a dyn Headers,
    pub body: Option<&'a Bytes>,
    pub elapsed: Duration,
    /// Parsed lazily, once, and shared by every JSON check and extractor of the step.
    pub json: Option<Result<serde_json::Value, String>>,
    /// What `body` is, for failure messages: "body", or a stream's "data" / "reply".
    pub label: &'static str,
    /// Parse only what the step's JSON paths reach (see `jsonprune`); None: the whole body.
    pub prune: Option<&'a crate::plan::prune::Prune>,
}

impl Seen<'_> {
    fn text(&self) -> std::borrow::Cow<'_, str> {
        match self.body {
            Some(b) => String::from_utf8_lossy(b),
            None => "".into(),
        }
    }

    fn json(&mut self) -> Result<&serde_json::Value, String> {
        if self.json.is_none() {
            if let (Some(tree), Some(b)) = (self.prune, self.body) {
                if let Ok(v) = tree.parse(b) {
                    self.json = Some(Ok(v));
                    return Ok(self.json.as_ref().and_then(|j| j.as_ref().ok()).unwrap());
                }
            }
            let parsed = match self.body {
                Some(b) if !b.is_empty() => serde_json::from_slice(b).map_err(|e| {
                    let ct = self.content_type();
                    if ct.contains("json") {
                        format!(
                            "the {} is not JSON: a {}-byte {ct} {} that does not parse ({e})",
                            self.label,
                            b.len(),
                            self.label
                        )
                    } else {
                        format!("the {} is not JSON: {}", self.label, self.describe_raw())
                    }
                }),
                _ => Err(format!("the {} is empty", self.label)),
            };
            self.json = Some(parsed);
        }
        match self.json.as_ref() {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(e.clone()),
            None => Err("no body".into()),
        }
    }

    /// The whole document, even when `json` is a pruned one.
    fn whole_json(&mut self) -> Result<std::borrow::Cow<'_, serde_json::Value>, String> {
        if self.prune.is_none() {
            return self.json().map(std::borrow::Cow::Borrowed);
        }
        let body = self
            .body
            .ok_or_else(|| format!("the {} is empty", self.label))?;
        serde_json::from_slice(body)
            .map(std::borrow::Cow::Owned)
            .map_err(|e| format!("the {} is not JSON ({e})", self.label))
    }

    /// The response's media type without parameters, or `no content type`.
    fn content_type(&self) -> String {
        self.headers
            .values_of("content-type")
            .first()
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase()
            })
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "untyped".into())
    }

    /// What the body is, for failure messages: "a 412-byte JSON body whose keys are id,
    /// status, total", "a 412-byte JSON array of 3 items", "a 2048-byte text/html body",
    /// "an empty body".
    pub fn describe_body(&mut self) -> String {
        let label = self.label;
        let size = match self.body {
            Some(b) if !b.is_empty() => b.len(),
            _ => return format!("an empty {label}"),
        };
        if self.prune.take().is_some() && matches!(self.json, Some(Ok(_))) {
            // Only part of the document was built: describe the whole one.
            self.json = None;
        }
        if let Ok(doc) = self.json() {
            return match doc {
                serde_json::Value::Object(m) if m.is_empty() => {
                    format!("a {size}-byte JSON {label} that is an empty object")
                }
                serde_json::Value::Object(m) => {
                    let mut keys: Vec<&str> = m.keys().take(8).map(String::as_str).collect();
                    if m.len() > 8 {
                        keys.push("…");
                    }
                    format!(
                        "a {size}-byte JSON {label} whose keys are {}",
                        keys.join(", ")
                    )
                }
                serde_json::Value::Array(a) => format!(
                    "a {size}-byte JSON array of {} item{}",
                    a.len(),
                    if a.len() == 1 { "" } else { "s" }
                ),
                other => format!("a {size}-byte JSON {label} holding {}", show(other)),
            };
        }
        self.describe_raw()
    }

    /// The body's size and content type, without looking inside.
    fn describe_raw(&self) -> String {
        match self.body {
            Some(b) if !b.is_empty() => {
                format!("a {}-byte {} {}", b.len(), self.content_type(), self.label)
            }
            _ => format!("an empty {}", self.label),
        }
    }

    /// Whether the body parses as JSON (parsing it once, if not yet).
    fn is_json(&mut self) -> bool {
        self.json().is_ok()
    }

    /// A short excerpt of the body for failure messages.
    pub fn snippet(&self) -> String {
        let text = self.text();
        let t = text.trim();
        if t.is_empty() {
            return String::new();
        }
        let cut: String = t.chars().take(160).collect();
        let cut = cut.replace(['\n', '\r'], " ");
        let label = self.label;
        if t.chars().count() > 160 {
            format!(" ({label}: {cut}…)")
        } else {
            format!(" ({label}: {cut})")
        }
    }
}

fn header_value(headers: &dyn Headers, name: &str) -> Option<String> {
    let all = headers.values_of(name);
    if all.is_empty() {
        None
    } else {
        Some(all.join(", "))
    }
}

/// The names of a response's headers, for "no such header" messages.
fn header_names(headers: &dyn Headers) -> String {
    let names = headers.names();
    if names.is_empty() {
        return "none".into();
    }
    names.join(", ")
}

fn json_to_value(v: &serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(v))
}

/// Runs extractor `name`; Err carries the whole failure message, saying what was there
/// instead: `extract order_id: $.order_id matched nothing in a 412-byte JSON body whose
/// keys are id, status, total`.
pub fn extract(
    name: &str,
    e: &Extractor,
    seen: &mut Seen<'_>,
    jar: &CookieJar,
    host: &str,
) -> Result<Value, String> {
    let nothing = |seen: &mut Seen<'_>, what: String| {
        let body = seen.describe_body();
        // An excerpt helps when the body is not a JSON document whose keys say enough.
        let excerpt = if seen.is_json() {
            String::new()
        } else {
            seen.snippet()
        };
        format!("extract {name}: {what} matched nothing in {body}{excerpt}")
    };
    match e {
        Extractor::Json { path, all } => {
            let doc = match seen.json() {
                Ok(d) => d,
                Err(why) => {
                    return Err(format!(
                        "extract {name}: {}: {why}{}",
                        path.as_str(),
                        seen.snippet()
                    ))
                }
            };
            let found = path.query(doc);
            if *all {
                Ok(Value::from(
                    found.into_iter().map(json_to_value).collect::<Vec<_>>(),
                ))
            } else {
                match found.first() {
                    Some(v) => Ok(json_to_value(v)),
                    None => Err(nothing(seen, path.as_str().to_string())),
                }
            }
        }
        Extractor::Regex { pattern, group } => {
            let found = {
                let text = seen.text();
                pattern
                    .regex()
                    .captures(&text)
                    .map(|c| c.get(*group).map(|m| m.as_str().to_string()))
            };
            match found {
                Some(Some(v)) => Ok(Value::from(v)),
                Some(None) => Err(format!(
                    "extract {name}: regex `{}` matched, but its group {group} took no part",
                    pattern.as_str()
                )),
                None => Err(nothing(seen, format!("regex `{}`", pattern.as_str()))),
            }
        }
        Extractor::Css { selector, attr } => {
            let found = css_extract(&seen.text(), selector, attr.as_deref());
            match found {
                Some(v) => Ok(Value::from(v)),
                None => {
                    let what = match attr {
                        Some(a) => format!("css `{selector}` (attribute {a})"),
                        None => format!("css `{selector}`"),
                    };
                    Err(nothing(seen, what))
                }
            }
        }
        Extractor::Header(h) => header_value(seen.headers, h)
            .map(Value::from)
            .ok_or_else(|| {
                format!(
                    "extract {name}: no `{h}` header in the {} response (headers: {})",
                    seen.status,
                    header_names(seen.headers)
                )
            }),
        Extractor::Cookie(c) => jar
            .value(c, host, SystemTime::now())
            .map(Value::from)
            .ok_or_else(|| {
                let names = jar.names();
                format!(
                    "extract {name}: no cookie `{c}` for {host} (the jar has {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                )
            }),
    }
}

/// The first element matching `selector`: an attribute's value, or its text.
pub fn css_extract(html: &str, selector: &str, attr: Option<&str>) -> Option<String> {
    let dom = tl::parse(html, tl::ParserOptions::default()).ok()?;
    let parser = dom.parser();
    let node = dom.query_selector(selector)?.next()?.get(parser)?;
    let tag = node.as_tag()?;
    match attr {
        Some(a) => tag
            .attributes()
            .get(a)
            .flatten()
            .map(|v| v.as_utf8_str().into_owned()),
        None => Some(tag.inner_text(parser).trim().to_string()),
    }
}

fn json_loose_eq(actual: &serde_json::Value, expected: &serde_json::Value) -> bool {
    use serde_json::Value as J;
    match (actual, expected) {
        (J::Number(a), J::Number(b)) => a.as_f64() == b.as_f64(),
        // A rendered template yields text; compare by text when one side is a string.
        (J::String(a), b) if !b.is_string() => a == &b.to_string(),
        (a, J::String(b)) if !a.is_string() => &a.to_string() == b,
        (a, b) => a == b,
    }
}

fn show(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.len() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

fn expect_value(
    expect: &ValueExpect,
    operand: Option<&crate::plan::Json>,
    actual: &serde_json::Value,
    ctx: &Value,
) -> Result<(), String> {
    match expect {
        ValueExpect::Exists => Ok(()),
        ValueExpect::Equals(_) => {
            let want = operand
                .map(|o| o.render(ctx))
                .transpose()?
                .unwrap_or(serde_json::Value::Null);
            if json_loose_eq(actual, &want) {
                Ok(())
            } else {
                Err(format!("got {}, expected {}", show(actual), show(&want)))
            }
        }
        ValueExpect::Matches(p) => {
            let text = match actual {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if p.regex().is_match(&text) {
                Ok(())
            } else {
                Err(format!("got {}", show(actual)))
            }
        }
        ValueExpect::Compare(cmp, bound) => {
            let n = match actual {
                serde_json::Value::Number(n) => n.as_f64(),
                serde_json::Value::String(s) => s.trim().parse().ok(),
                _ => None,
            };
            match n {
                Some(n) if cmp.holds(n, *bound) => Ok(()),
                Some(_) => Err(format!("got {}", show(actual))),
                None => Err(format!("got {}, not a number", show(actual))),
            }
        }
    }
}

/// Evaluates one check; Err carries "got ..." (the caller prefixes the check's text).
pub fn check(c: &CheckPlan, seen: &mut Seen<'_>, ctx: &Value) -> Result<(), String> {
    match &c.check {
        Check::Status(s) => {
            if s.accepts(seen.status) {
                Ok(())
            } else {
                Err(format!("got {}", seen.status))
            }
        }
        Check::Json { path, expect } => {
            let doc = seen.json()?;
            let found = path.query(doc);
            match found.first() {
                None => Err(format!("matched nothing in {}", seen.describe_body())),
                Some(v) => {
                    let v = (*v).clone();
                    expect_value(expect, c.operand.as_ref(), &v, ctx)
                }
            }
        }
        Check::BodyContains(_) => {
            let needle = match &c.contains {
                Some(t) => t.render(ctx)?,
                None => String::new(),
            };
            if seen.text().contains(&needle) {
                Ok(())
            } else {
                Err(format!("not found in {}", seen.describe_body()))
            }
        }
        Check::BodyMatches(p) => {
            if p.regex().is_match(&seen.text()) {
                Ok(())
            } else {
                Err(format!("no match in {}", seen.describe_body()))
            }
        }
        Check::Header { name, expect } => match header_value(seen.headers, name) {
            None => Err(format!(
                "no `{name}` header (headers: {})",
                header_names(seen.headers)
            )),
            Some(v) => {
                let actual = serde_json::Value::String(v);
                match expect {
                    // Header values are text: `equals` is a case-sensitive text comparison,
                    // except that media types compare without parameters.
                    ValueExpect::Equals(_) => {
                        let want = c
                            .operand
                            .as_ref()
                            .map(|o| o.render(ctx))
                            .transpose()?
                            .unwrap_or_default();
                        let want = match want {
                            serde_json::Value::String(s) => s,
                            other => other.to_string(),
                        };
                        let got = actual.as_str().unwrap_or_default();
                        let bare = got.split(';').next().unwrap_or_default().trim();
                        if got == want || bare == want {
                            Ok(())
                        } else {
                            Err(format!("got {}", show(&actual)))
                        }
                    }
                    other => expect_value(other, None, &actual, ctx),
                }
            }
        },
        Check::DurationUnder(d) => {
            if seen.elapsed < *d {
                Ok(())
            } else {
                Err(format!("took {:.1}ms", seen.elapsed.as_secs_f64() * 1000.0))
            }
        }
        Check::Schema(_) => {
            let Some(v) = &c.schema else {
                return Ok(());
            };
            if v.is_valid(seen.json()?) {
                return Ok(());
            }
            // The message quotes the failing value, which the parsed document may have pruned
            // (the verdict is the same either way): quote it from the whole one.
            let whole = seen.whole_json()?;
            let first = v
                .iter_errors(&whole)
                .next()
                .map(|e| format!("{} at {}", e, e.instance_path()));
            first.map_or(Ok(()), Err)
        }
    }
}

/// What a check expects, for traces: `201`, `equals 2`, `contains "ok"`.
pub fn expected(c: &Check) -> String {
    match c {
        Check::Status(s) => s.to_string(),
        Check::Json { expect, .. } | Check::Header { expect, .. } => expect.to_string(),
        Check::BodyContains(t) => format!("contains {:?}", t.source()),
        Check::BodyMatches(p) => format!("matches /{}/", p.as_str()),
        Check::DurationUnder(d) => format!("under {}", throng_ir::format_duration(*d)),
        Check::Schema(_) => "matches the schema".into(),
    }
}

/// What the response had for a check, for traces: the status, the value at a JSONPath, a
/// header's value, the time taken.
pub fn actual(c: &Check, seen: &mut Seen<'_>) -> String {
    match c {
        Check::Status(_) => seen.status.to_string(),
        Check::Json { path, .. } => match seen.json() {
            Ok(doc) => match path.query(doc).first() {
                Some(v) => show(v),
                None => "nothing".into(),
            },
            Err(e) => e,
        },
        Check::Header { name, .. } => {
            header_value(seen.headers, name).unwrap_or_else(|| "no such header".into())
        }
        Check::BodyContains(_) | Check::BodyMatches(_) | Check::Schema(_) => seen.describe_body(),
        Check::DurationUnder(_) => format!("{:.1}ms", seen.elapsed.as_secs_f64() * 1000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_extracts_attributes_and_text() {
        let html = r#"<html><body><h1> Welcome </h1><form><input name="csrf_token" value="abc123"><a class="next" href="/p/2">next</a></form></body></html>"#;
        assert_eq!(
            css_extract(html, "input[name=csrf_token]", Some("value")).as_deref(),
            Some("abc123")
        );
        assert_eq!(css_extract(html, "h1", None).as_deref(), Some("Welcome"));
        assert_eq!(
            css_extract(html, "a.next", Some("href")).as_deref(),
            Some("/p/2")
        );
        assert_eq!(css_extract(html, "table", None), None);
    }

    fn seen<'a>(headers: &'a HeaderMap, body: &'a Bytes) -> Seen<'a> {
        Seen {
            status: 200,
            headers,
            body: Some(body),
            elapsed: Duration::ZERO,
            json: None,
            label: "body",
            prune: None,
        }
    }

    #[test]
    fn extract_failures_say_what_was_there() {
        let path = |p: &str| Extractor::Json {
            path: throng_ir::JsonPath::parse(p).unwrap(),
            all: false,
        };
        let jar = CookieJar::default();
        let mut h = HeaderMap::new();
        h.insert("content-type", "application/json".parse().unwrap());
        let obj = Bytes::from_static(br#"{"id":1,"status":"ok","total":3}"#);
        let err = extract(
            "order_id",
            &path("$.order_id"),
            &mut seen(&h, &obj),
            &jar,
            "h",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "extract order_id: $.order_id matched nothing in a 32-byte JSON body whose keys are id, status, total"
        );
        let arr = Bytes::from_static(b"[1,2,3]");
        let err = extract("x", &path("$.x"), &mut seen(&h, &arr), &jar, "h").unwrap_err();
        assert_eq!(
            err,
            "extract x: $.x matched nothing in a 7-byte JSON array of 3 items"
        );
        let mut html = HeaderMap::new();
        html.insert("content-type", "text/html; charset=utf-8".parse().unwrap());
        let page = Bytes::from_static(b"<p>hi</p>");
        let err = extract("x", &path("$.x"), &mut seen(&html, &page), &jar, "h").unwrap_err();
        assert_eq!(
            err,
            "extract x: $.x: the body is not JSON: a 9-byte text/html body (body: <p>hi</p>)"
        );
        let re = Extractor::Regex {
            pattern: serde_json::from_value(serde_json::json!("csrf=(\\w+)")).unwrap(),
            group: 1,
        };
        let err = extract("csrf", &re, &mut seen(&html, &page), &jar, "h").unwrap_err();
        assert!(
            err.starts_with(
                "extract csrf: regex `csrf=(\\w+)` matched nothing in a 9-byte text/html body"
            ),
            "{err}"
        );
        let err = extract(
            "next",
            &Extractor::Header("location".into()),
            &mut seen(&html, &page),
            &jar,
            "h",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "extract next: no `location` header in the 200 response (headers: content-type)"
        );
        let err = extract(
            "sid",
            &Extractor::Cookie("session".into()),
            &mut seen(&html, &page),
            &jar,
            "h",
        )
        .unwrap_err();
        assert_eq!(
            err,
            "extract sid: no cookie `session` for h (the jar has none)"
        );
    }

    #[test]
    fn loose_equality_between_rendered_text_and_json() {
        use serde_json::json;
        assert!(json_loose_eq(&json!(2), &json!(2.0)));
        assert!(json_loose_eq(&json!(2), &json!("2")));
        assert!(json_loose_eq(&json!("a"), &json!("a")));
        assert!(!json_loose_eq(&json!("a"), &json!("b")));
    }
}
