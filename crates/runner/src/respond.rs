//! Judging a response: extractors (json, regex, css, header, cookie) and checks, with
//! failure messages that show the expected and the actual value.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::HeaderMap;
use minijinja::Value;
use throng_ir::{Check, Extractor, ValueExpect};

use crate::cookies::CookieJar;
use crate::program::CheckPlan;

/// The parts of a response checks and extractors look at.
pub struct Seen<'a> {
    pub status: u16,
    pub headers: &'a HeaderMap,
    pub body: Option<&'a Bytes>,
    pub elapsed: Duration,
    /// Parsed lazily, once, and shared by every JSON check and extractor of the step.
    pub json: Option<Result<serde_json::Value, String>>,
    /// What `body` is, for failure messages: "body", or a stream's "data" / "reply".
    pub label: &'static str,
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
            let parsed = match self.body {
                Some(b) => serde_json::from_slice(b)
                    .map_err(|e| format!("{} is not JSON: {e}", self.label)),
                None => Err("no body".into()),
            };
            self.json = Some(parsed);
        }
        match self.json.as_ref() {
            Some(Ok(v)) => Ok(v),
            Some(Err(e)) => Err(e.clone()),
            None => Err("no body".into()),
        }
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

fn header_value(headers: &HeaderMap, name: &str) -> Option<String> {
    let all: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if all.is_empty() {
        None
    } else {
        Some(all.join(", "))
    }
}

fn json_to_value(v: &serde_json::Value) -> Value {
    Value::from(minijinja::value::Serde(v))
}

/// Runs one extractor; Err carries the failure message.
pub fn extract(
    e: &Extractor,
    seen: &mut Seen<'_>,
    jar: &CookieJar,
    host: &str,
) -> Result<Value, String> {
    let missing = || format!("extract {}: not found", e.describe());
    match e {
        Extractor::Json { path, all } => {
            let doc = seen.json()?;
            let found = path.query(doc);
            if *all {
                Ok(Value::from(
                    found.into_iter().map(json_to_value).collect::<Vec<_>>(),
                ))
            } else {
                found.first().map(|v| json_to_value(v)).ok_or_else(missing)
            }
        }
        Extractor::Regex { pattern, group } => {
            let text = seen.text();
            pattern
                .regex()
                .captures(&text)
                .and_then(|c| c.get(*group))
                .map(|m| Value::from(m.as_str()))
                .ok_or_else(missing)
        }
        Extractor::Css { selector, attr } => {
            let text = seen.text();
            css_extract(&text, selector, attr.as_deref())
                .map(Value::from)
                .ok_or_else(missing)
        }
        Extractor::Header(h) => header_value(seen.headers, h)
            .map(Value::from)
            .ok_or_else(missing),
        Extractor::Cookie(c) => jar
            .value(c, host, SystemTime::now())
            .map(Value::from)
            .ok_or_else(missing),
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
    operand: Option<&crate::program::Json>,
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
                None => Err("got nothing".into()),
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
                Err("not found".into())
            }
        }
        Check::BodyMatches(p) => {
            if p.regex().is_match(&seen.text()) {
                Ok(())
            } else {
                Err("no match".into())
            }
        }
        Check::Header { name, expect } => match header_value(seen.headers, name) {
            None => Err("header missing".into()),
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
            let doc = seen.json()?;
            match &c.schema {
                Some(v) => match v.iter_errors(doc).next() {
                    None => Ok(()),
                    Some(e) => Err(format!("{} at {}", e, e.instance_path())),
                },
                None => Ok(()),
            }
        }
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

    #[test]
    fn loose_equality_between_rendered_text_and_json() {
        use serde_json::json;
        assert!(json_loose_eq(&json!(2), &json!(2.0)));
        assert!(json_loose_eq(&json!(2), &json!("2")));
        assert!(json_loose_eq(&json!("a"), &json!("a")));
        assert!(!json_loose_eq(&json!("a"), &json!("b")));
    }
}
