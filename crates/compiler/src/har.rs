//! The HAR front end's reader: a lenient model of HAR 1.1/1.2 built over
//! `serde_json::Value`, because real exports (Chrome, Firefox, Playwright, mitmproxy,
//! Charles, Fiddler) disagree on which fields exist, their types and their nullability.
//! A strict serde model would reject whole files for one odd entry; here a bad entry is
//! skipped with a reason and the rest of the recording is still compiled.

use base64::Engine as _;
use serde_json::Value;

use crate::util::parse_rfc3339_ms;

/// A parsed recording: its usable entries and the ones that had to be skipped.
#[derive(Debug, Clone, Default)]
pub struct Har {
    pub creator: String,
    pub entries: Vec<Entry>,
    /// `(index in log.entries, why)` for entries that could not be read.
    pub skipped: Vec<(usize, String)>,
    pub total: usize,
}

/// One request/response pair, normalised.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    /// Index in the HAR's `log.entries`, for provenance.
    pub index: usize,
    pub start_ms: f64,
    pub duration_ms: f64,
    pub method: String,
    pub url: String,
    /// Request headers in recorded order and case; duplicate `cookie` headers joined.
    pub req_headers: Vec<(String, String)>,
    pub req_body: Option<PostData>,
    /// 0 when the browser recorded no response (canceled, blocked).
    pub status: i64,
    pub resp_headers: Vec<(String, String)>,
    pub resp_mime: String,
    /// The response text, base64-decoded; `None` when the export left it out.
    pub resp_body: Option<String>,
    pub redirect_url: String,
    pub resource_type: Option<String>,
    pub error: Option<String>,
    /// `(name, value)` set by this response, from `Set-Cookie` and `response.cookies`.
    pub set_cookies: Vec<(String, String)>,
}

impl Entry {
    pub fn end_ms(&self) -> f64 {
        self.start_ms + self.duration_ms.max(0.0)
    }

    pub fn req_header(&self, name: &str) -> Option<&str> {
        header(&self.req_headers, name)
    }

    pub fn resp_header(&self, name: &str) -> Option<&str> {
        header(&self.resp_headers, name)
    }
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A request body as recorded.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostData {
    pub mime: String,
    pub text: String,
    pub params: Vec<Param>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Param {
    pub name: String,
    pub value: String,
    pub file_name: Option<String>,
    pub content_type: Option<String>,
}

/// Why a document is not a usable HAR (the caller adds the file name).
#[derive(Debug)]
pub enum HarError {
    NotHar(String),
    NoUsableEntry {
        total: usize,
        first_reason: Option<String>,
    },
}

/// Reads the `log.entries` of an already-parsed JSON document.
pub fn from_value(doc: &Value) -> Result<Har, HarError> {
    let log = doc
        .get("log")
        .filter(|l| l.is_object())
        .ok_or_else(|| HarError::NotHar("no `log` object: not a HAR file".into()))?;
    let entries = log
        .get("entries")
        .and_then(Value::as_array)
        .ok_or_else(|| HarError::NotHar("no `log.entries` list: not a HAR file".into()))?;
    let creator = ["name", "version"]
        .iter()
        .filter_map(|k| {
            log.pointer(&format!("/creator/{k}"))
                .and_then(Value::as_str)
        })
        .collect::<Vec<_>>()
        .join(" ");
    let mut har = Har {
        creator,
        total: entries.len(),
        ..Har::default()
    };
    for (i, e) in entries.iter().enumerate() {
        match entry(i, e) {
            Ok(entry) => har.entries.push(entry),
            Err(why) => har.skipped.push((i, why)),
        }
    }
    if har.entries.is_empty() {
        return Err(HarError::NoUsableEntry {
            total: har.total,
            first_reason: har.skipped.first().map(|(i, w)| format!("entry {i}: {w}")),
        });
    }
    Ok(har)
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn num(v: &Value, key: &str) -> Option<f64> {
    match v.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(t) => t.trim().parse().ok(),
        _ => None,
    }
}

fn name_values(v: Option<&Value>) -> Vec<(String, String)> {
    v.and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|h| {
                    let name = h.get("name")?.as_str()?;
                    let value = match h.get("value") {
                        Some(Value::String(t)) => t.clone(),
                        Some(Value::Null) | None => String::new(),
                        Some(other) => other.to_string(),
                    };
                    Some((name.to_string(), value))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn entry(index: usize, e: &Value) -> Result<Entry, String> {
    let req = e
        .get("request")
        .filter(|r| r.is_object())
        .ok_or("no `request` object")?;
    let url = s(req, "url").trim().to_string();
    if url.is_empty() {
        return Err("request has no `url`".into());
    }
    let method = s(req, "method").trim().to_ascii_uppercase();
    if method.is_empty() || !method.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
        return Err(format!("request has no usable `method` ({method:?})"));
    }
    // Wall time rather than `_monotonicTime`: monotonic clocks of different pages differ.
    let start_ms = parse_rfc3339_ms(s(e, "startedDateTime")).unwrap_or(index as f64);
    let duration_ms = num(e, "time")
        .filter(|t| t.is_finite() && *t >= 0.0)
        .unwrap_or_else(|| {
            e.get("timings")
                .and_then(Value::as_object)
                .map(|t| {
                    t.values()
                        .filter_map(Value::as_f64)
                        .filter(|v| *v > 0.0)
                        .sum()
                })
                .unwrap_or(0.0)
        });

    let mut req_headers: Vec<(String, String)> = Vec::new();
    for (k, v) in name_values(req.get("headers")) {
        // HTTP/2 splits cookies into crumbs; one header keeps later lookups simple.
        if k.eq_ignore_ascii_case("cookie") {
            if let Some(existing) = req_headers
                .iter_mut()
                .find(|(n, _)| n.eq_ignore_ascii_case("cookie"))
            {
                existing.1 = format!("{}; {v}", existing.1);
                continue;
            }
        }
        req_headers.push((k, v));
    }

    let req_body = req.get("postData").filter(|p| p.is_object()).and_then(|p| {
        let params = p
            .get("params")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|x| {
                        Some(Param {
                            name: x.get("name")?.as_str()?.to_string(),
                            value: s(x, "value").to_string(),
                            file_name: x
                                .get("fileName")
                                .and_then(Value::as_str)
                                .map(str::to_string),
                            content_type: x
                                .get("contentType")
                                .and_then(Value::as_str)
                                .map(str::to_string),
                        })
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let text = s(p, "text").to_string();
        let mut mime = s(p, "mimeType").to_string();
        if mime.is_empty() {
            mime = crate::har::header(&req_headers, "content-type")
                .unwrap_or("")
                .to_string();
        }
        (!text.is_empty() || !params.is_empty()).then_some(PostData { mime, text, params })
    });

    let resp = e.get("response").filter(|r| r.is_object());
    let empty = Value::Null;
    let resp = resp.unwrap_or(&empty);
    let status = num(resp, "status").map(|s| s as i64).unwrap_or(0);
    let resp_headers = name_values(resp.get("headers"));
    let content = resp.get("content").unwrap_or(&empty);
    let resp_mime = s(content, "mimeType").to_string();
    let resp_body = body_text(content);
    let mut set_cookies: Vec<(String, String)> = resp_headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("set-cookie"))
        // Some exporters fold several Set-Cookie headers into one value with newlines.
        .flat_map(|(_, v)| v.lines().map(str::to_string).collect::<Vec<_>>())
        .filter_map(|line| {
            let first = line.split(';').next()?;
            let (n, v) = first.split_once('=')?;
            Some((n.trim().to_string(), v.trim().trim_matches('"').to_string()))
        })
        .collect();
    for (n, v) in name_values(resp.get("cookies")) {
        if !set_cookies.iter().any(|(k, _)| *k == n) {
            set_cookies.push((n, v));
        }
    }
    let error = e
        .get("_error")
        .or_else(|| resp.get("_error"))
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    Ok(Entry {
        index,
        start_ms,
        duration_ms,
        method,
        url,
        req_headers,
        req_body,
        status,
        resp_headers,
        resp_mime,
        resp_body,
        redirect_url: s(resp, "redirectURL").to_string(),
        resource_type: e
            .get("_resourceType")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase),
        error,
        set_cookies,
    })
}

/// The response text, or `None` when the export did not keep it (a `_file`
/// reference, a comment such as "Response bodies are not included", or nothing).
fn body_text(content: &Value) -> Option<String> {
    let text = content.get("text").and_then(Value::as_str)?;
    if text.is_empty() {
        return None;
    }
    if s(content, "encoding").eq_ignore_ascii_case("base64") {
        let cleaned: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(cleaned)
            .ok()?;
        return String::from_utf8(bytes).ok();
    }
    Some(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lenient_entries() {
        let doc = json!({"log": {"version": "1.1", "entries": [
            {"startedDateTime": "2024-01-01T00:00:00Z", "time": null,
             "timings": {"send": 1, "wait": 10, "receive": -1},
             "request": {"method": "post", "url": "http://h/x", "headers": [
                {"name": ":authority", "value": "h"}, {"name": "cookie", "value": "a=1"}, {"name": "cookie", "value": "b=2"}],
                "postData": {"mimeType": "application/json", "text": "{\"a\":1}"}},
             "response": {"status": 200, "headers": [{"name": "Set-Cookie", "value": "sid=abc; Path=/"}],
                "content": {"mimeType": "text/plain", "encoding": "base64", "text": "aGVsbG8="}}},
            {"request": null},
            {"request": {"method": "GET", "url": "http://h/y"}}
        ]}});
        let har = from_value(&doc).unwrap();
        assert_eq!(har.entries.len(), 2);
        assert_eq!(har.skipped.len(), 1);
        let e = &har.entries[0];
        assert_eq!(e.method, "POST");
        assert_eq!(e.duration_ms, 11.0);
        assert_eq!(e.req_header("cookie"), Some("a=1; b=2"));
        assert_eq!(e.resp_body.as_deref(), Some("hello"));
        assert_eq!(e.set_cookies, vec![("sid".to_string(), "abc".to_string())]);
        assert_eq!(har.entries[1].status, 0);
        assert!(matches!(
            from_value(&json!({"log": {}})),
            Err(HarError::NotHar(_))
        ));
        assert!(matches!(
            from_value(&json!({"log": {"entries": [1]}})),
            Err(HarError::NoUsableEntry { .. })
        ));
    }
}
