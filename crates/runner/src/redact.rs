//! Redaction: the one place that decides what of a request or response may leave the
//! runner. Everything the runner reports (trace events, failure messages in results, and
//! through them the summary, HTML and JUnit reports) goes through here first.
//!
//! - The values of `Authorization`, `Proxy-Authorization`, `Cookie` and `Set-Cookie` headers
//!   become `[redacted]` (cookie names are kept: `session=[redacted]`).
//! - Every occurrence of a secret variable's value (the plan's `secrets`, plus variables
//!   that a templated credential header reads, such as `token` in `Bearer {{ token }}`) of
//!   at least [`MIN_SECRET_LEN`] characters becomes `[redacted:NAME]`, also in its
//!   percent-encoded and JSON-escaped forms.
//! - Credentials seen in such headers within one trace event (and literal credential
//!   headers of the plan) become `[redacted]` wherever else they appear in that event.

use std::borrow::Cow;

use minijinja::Value;
use throng_ir::Plan;

/// What a hidden header value is replaced with.
pub const REDACTED: &str = "[redacted]";
/// Shorter secret values are not searched for: they would hide ordinary text.
pub const MIN_SECRET_LEN: usize = 4;

/// Headers whose values are credentials.
pub fn is_sensitive_header(name: &str) -> bool {
    [
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
    ]
    .iter()
    .any(|h| h.eq_ignore_ascii_case(name))
}

fn is_cookie_header(name: &str) -> bool {
    name.eq_ignore_ascii_case("cookie") || name.eq_ignore_ascii_case("set-cookie")
}

/// A sensitive header's value as it may be shown: cookie names and `Set-Cookie` attributes
/// kept, every value `[redacted]`. Other headers' values are returned unchanged.
pub fn mask_header(name: &str, value: &str) -> String {
    if !is_sensitive_header(name) {
        return value.to_string();
    }
    if name.eq_ignore_ascii_case("cookie") {
        return value
            .split(';')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) => format!("{}={REDACTED}", k.trim()),
                None => REDACTED.to_string(),
            })
            .collect::<Vec<_>>()
            .join("; ");
    }
    if name.eq_ignore_ascii_case("set-cookie") {
        let mut parts = value.split(';');
        let first = match parts.next().and_then(|p| p.split_once('=')) {
            Some((k, _)) => format!("{}={REDACTED}", k.trim()),
            None => REDACTED.to_string(),
        };
        return std::iter::once(first)
            .chain(parts.map(|a| a.trim().to_string()))
            .collect::<Vec<_>>()
            .join("; ");
    }
    REDACTED.to_string()
}

/// The credentials inside a sensitive header's value: the whole value, the part after an
/// auth scheme (`Bearer xyz` → `xyz`), each cookie's value.
pub fn credentials(name: &str, value: &str) -> Vec<String> {
    let mut out = Vec::new();
    if is_cookie_header(name) {
        let pairs: Vec<&str> = if name.eq_ignore_ascii_case("cookie") {
            value.split(';').collect()
        } else {
            value.split(';').take(1).collect()
        };
        for p in pairs {
            if let Some((_, v)) = p.split_once('=') {
                out.push(v.trim().trim_matches('"').to_string());
            }
        }
    } else if is_sensitive_header(name) {
        let v = value.trim();
        out.push(v.to_string());
        if let Some((_, cred)) = v.split_once(' ') {
            out.push(cred.trim().to_string());
        }
    }
    out.retain(|v| v.len() >= MIN_SECRET_LEN);
    out
}

/// What is secret in a plan, known once per run: the names of secret variables (whose
/// values are read per iteration) and the literal credentials of its headers.
#[derive(Debug, Clone, Default)]
pub struct Secrets {
    names: Vec<String>,
    literal: Vec<String>,
}

impl Secrets {
    pub fn of_plan(plan: &Plan) -> Secrets {
        let mut s = Secrets {
            names: plan.secrets.clone(),
            literal: Vec::new(),
        };
        let headers = plan.defaults.headers.iter().chain(
            plan.scenarios
                .iter()
                .flat_map(|sc| sc.steps.iter())
                .flat_map(|st| st.request.headers.iter()),
        );
        for (name, t) in headers {
            if !is_sensitive_header(name.trim()) {
                continue;
            }
            match t.as_literal() {
                Some(l) => {
                    for c in credentials(name.trim(), l) {
                        if !s.literal.contains(&c) {
                            s.literal.push(c);
                        }
                    }
                }
                None => {
                    for r in t.references() {
                        let root = r.split('.').next().unwrap_or(r);
                        let builtin = matches!(root, "vu" | "iteration" | "seq");
                        if !builtin && !s.names.iter().any(|n| n == root) {
                            s.names.push(root.to_string());
                        }
                    }
                }
            }
        }
        s
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty() && self.literal.is_empty()
    }

    pub fn is_secret(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }

    /// A redactor for the variables of `ctx` (a map of variables) and values just
    /// extracted, which are not in `ctx` yet.
    pub fn redactor(&self, ctx: &Value, extracted: &[(String, Value)]) -> Redactor {
        let mut r = Redactor::default();
        for v in &self.literal {
            r.hide(v);
        }
        for name in &self.names {
            for (k, v) in extracted {
                if k == name {
                    r.secret(name, &text_of(v));
                }
            }
            if let Ok(v) = ctx.get_attr(name) {
                if !v.is_undefined() && !v.is_none() {
                    r.secret(name, &text_of(&v));
                }
            }
        }
        r
    }

    /// `message` with every secret replaced; unchanged (and free) when the plan has none.
    pub fn message(&self, message: String, ctx: &Value, extracted: &[(String, Value)]) -> String {
        if self.is_empty() {
            return message;
        }
        match self.redactor(ctx, extracted).text(&message) {
            Cow::Borrowed(_) => message,
            Cow::Owned(o) => o,
        }
    }
}

/// A variable's value as text: strings as they are, anything else as JSON.
pub fn text_of(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None => serde_json::to_string(v).unwrap_or_else(|_| v.to_string()),
    }
}

/// Replaces known secret values in text and bytes.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// (value, replacement), longest value first so a secret containing another is
    /// replaced whole.
    pairs: Vec<(String, String)>,
}

impl Redactor {
    fn add(&mut self, value: &str, replacement: &str) {
        if value.len() < MIN_SECRET_LEN || self.pairs.iter().any(|(v, _)| v == value) {
            return;
        }
        self.pairs
            .push((value.to_string(), replacement.to_string()));
        self.pairs.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
    }

    /// Every occurrence of `value` (raw, percent-encoded, JSON-escaped) becomes
    /// `[redacted:NAME]`.
    pub fn secret(&mut self, name: &str, value: &str) {
        let with = format!("[redacted:{name}]");
        self.add(value, &with);
        self.add(&throng_ir::codec::encode_component(value), &with);
        let json = serde_json::to_string(value).unwrap_or_default();
        if let Some(inner) = json.get(1..json.len().saturating_sub(1)) {
            self.add(inner, &with);
        }
    }

    /// Every occurrence of `value` becomes `[redacted]`.
    pub fn hide(&mut self, value: &str) {
        self.add(value, REDACTED);
    }

    /// Hides the credentials of a sensitive header wherever else they appear.
    pub fn hide_header(&mut self, name: &str, value: &str) {
        for c in credentials(name, value) {
            self.hide(&c);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// `s` with every secret replaced, in one pass (a replacement is never searched again).
    pub fn text<'a>(&self, s: &'a str) -> Cow<'a, str> {
        match self.bytes(s.as_bytes()) {
            Cow::Borrowed(_) => Cow::Borrowed(s),
            // Whole UTF-8 needles replaced by UTF-8 text: still UTF-8.
            Cow::Owned(b) => Cow::Owned(
                String::from_utf8(b)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
            ),
        }
    }

    pub fn string(&self, s: String) -> String {
        match self.text(&s) {
            Cow::Borrowed(_) => s,
            Cow::Owned(o) => o,
        }
    }

    /// Byte-level replacement, for bodies that may not be UTF-8.
    pub fn bytes<'a>(&self, b: &'a [u8]) -> Cow<'a, [u8]> {
        if !self
            .pairs
            .iter()
            .any(|(v, _)| find(b, v.as_bytes(), 0).is_some())
        {
            return Cow::Borrowed(b);
        }
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        'scan: while i < b.len() {
            for (v, with) in &self.pairs {
                if b[i..].starts_with(v.as_bytes()) {
                    out.extend_from_slice(with.as_bytes());
                    i += v.len();
                    continue 'scan;
                }
            }
            out.push(b[i]);
            i += 1;
        }
        Cow::Owned(out)
    }

    /// A header's value as it may be shown: masked if sensitive, else with secrets replaced.
    pub fn header(&self, name: &str, value: &str) -> String {
        if is_sensitive_header(name) {
            mask_header(name, value)
        } else {
            self.text(value).into_owned()
        }
    }
}

fn find(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() || hay.len() < needle.len() {
        return None;
    }
    (from..=hay.len() - needle.len()).find(|&i| &hay[i..i + needle.len()] == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_headers_are_masked_keeping_cookie_names() {
        assert_eq!(mask_header("Authorization", "Bearer abc"), "[redacted]");
        assert_eq!(
            mask_header("cookie", "session=abc; theme=dark"),
            "session=[redacted]; theme=[redacted]"
        );
        assert_eq!(
            mask_header("set-cookie", "sid=xyz; Path=/; HttpOnly"),
            "sid=[redacted]; Path=/; HttpOnly"
        );
        assert_eq!(mask_header("accept", "text/html"), "text/html");
        assert_eq!(
            credentials("authorization", "Bearer tok123"),
            vec!["Bearer tok123", "tok123"]
        );
        assert_eq!(credentials("set-cookie", "sid=xyz1; Path=/"), vec!["xyz1"]);
    }

    #[test]
    fn secrets_are_replaced_in_every_form_longest_first() {
        let mut r = Redactor::default();
        r.secret("password", "Pass word!");
        r.secret("short", "abc");
        r.secret("pin", "word");
        assert_eq!(
            r.text("a Pass word! b Pass%20word%21 c word abc"),
            "a [redacted:password] b [redacted:password] c [redacted:pin] abc"
        );
        assert_eq!(
            &*r.bytes(b"\xff Pass word! \xfe"),
            b"\xff [redacted:password] \xfe"
        );
        assert!(matches!(r.text("nothing here"), Cow::Borrowed(_)));
        let mut q = Redactor::default();
        q.secret("p", "say \"hi\" there");
        assert_eq!(
            q.text(r#"{"p":"say \"hi\" there"}"#),
            r#"{"p":"[redacted:p]"}"#
        );
    }

    #[test]
    fn secrets_of_a_plan_include_variables_of_credential_headers() {
        let plan = throng_ir::load_str(
            "version: 1\nname: t\nvars: {base_url: 'http://127.0.0.1:1', key: abcd1234, token: ''}\nsecrets: [key]\nscenarios:\n  - name: s\n    steps:\n      - name: a\n        request:\n          url: '{{ base_url }}/x'\n          headers: {Authorization: 'Bearer {{ token }}', x-api: 'lit', cookie: 'a=literal1'}\n",
            "t.yaml",
            std::path::Path::new("."),
        )
        .unwrap();
        let s = Secrets::of_plan(&plan);
        assert!(s.is_secret("key") && s.is_secret("token") && !s.is_secret("base_url"));
        let ctx = Value::from(minijinja::value::Serde(
            serde_json::json!({"key": "abcd1234", "token": "t0k3n"}),
        ));
        let msg = s.message(
            "abcd1234 t0k3n literal1 new-secret".into(),
            &ctx,
            &[("token".into(), Value::from("new-secret"))],
        );
        assert_eq!(
            msg,
            "[redacted:key] [redacted:token] [redacted] [redacted:token]"
        );
    }
}
