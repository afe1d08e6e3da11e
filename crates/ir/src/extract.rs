//! Extractors: how a value is taken from a response to become a variable.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::pattern::{JsonPath, Pattern};

/// Where an extracted value comes from. A missing value fails the step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "RawExtractor", into = "RawExtractor")]
#[schemars(with = "RawExtractor")]
pub enum Extractor {
    /// A JSONPath query on a JSON body: the first match, or every match as a list.
    Json { path: JsonPath, all: bool },
    /// A regular expression on the body text: the capture group (default the first).
    Regex { pattern: Pattern, group: usize },
    /// An HTML element by CSS selector: an attribute's value, or the element's text.
    Css {
        selector: String,
        attr: Option<String>,
    },
    /// A response header's value.
    Header(String),
    /// A cookie's value from the VU's cookie jar after the response.
    Cookie(String),
}

impl Extractor {
    /// Whether the response body must be read to extract the value.
    pub fn needs_body(&self) -> bool {
        matches!(
            self,
            Extractor::Json { .. } | Extractor::Regex { .. } | Extractor::Css { .. }
        )
    }

    /// A short human description, for failure messages: "$.token", "header Location".
    pub fn describe(&self) -> String {
        match self {
            Extractor::Json { path, .. } => path.as_str().to_string(),
            Extractor::Regex { pattern, .. } => format!("regex {}", pattern.as_str()),
            Extractor::Css {
                selector,
                attr: Some(a),
            } => format!("css {selector} @{a}"),
            Extractor::Css {
                selector,
                attr: None,
            } => format!("css {selector}"),
            Extractor::Header(h) => format!("header {h}"),
            Extractor::Cookie(c) => format!("cookie {c}"),
        }
    }
}

/// An extractor as written: exactly one of `json`, `regex`, `css`, `header`, `cookie`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawExtractor {
    /// JSONPath, e.g. `$.token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<JsonPath>,
    /// With `json`: keep every match as a list.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all: bool,
    /// Regular expression; the first capture group is the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<Pattern>,
    /// With `regex`: which capture group (default 1, or 0 without groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<usize>,
    /// CSS selector on an HTML body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub css: Option<String>,
    /// With `css`: the attribute to read (default: the element's text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attr: Option<String>,
    /// Response header name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Cookie name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<String>,
}

impl TryFrom<RawExtractor> for Extractor {
    type Error = String;
    fn try_from(r: RawExtractor) -> Result<Self, String> {
        let kinds: Vec<&str> = [
            r.json.as_ref().map(|_| "json"),
            r.regex.as_ref().map(|_| "regex"),
            r.css.as_ref().map(|_| "css"),
            r.header.as_ref().map(|_| "header"),
            r.cookie.as_ref().map(|_| "cookie"),
        ]
        .into_iter()
        .flatten()
        .collect();
        match kinds.len() {
            0 => {
                return Err(
                    "an extractor needs one of `json`, `regex`, `css`, `header` or `cookie`".into(),
                )
            }
            1 => {}
            _ => {
                return Err(format!(
                    "an extractor has exactly one kind, found `{}`",
                    kinds.join("` and `")
                ))
            }
        }
        if r.all && r.json.is_none() {
            return Err("`all` goes with a `json` extractor".into());
        }
        if r.group.is_some() && r.regex.is_none() {
            return Err("`group` goes with a `regex` extractor".into());
        }
        if r.attr.is_some() && r.css.is_none() {
            return Err("`attr` goes with a `css` extractor".into());
        }
        Ok(if let Some(path) = r.json {
            Extractor::Json { path, all: r.all }
        } else if let Some(pattern) = r.regex {
            let groups = pattern.regex().captures_len() - 1;
            let group = r.group.unwrap_or(if groups > 0 { 1 } else { 0 });
            if group > groups {
                return Err(format!(
                    "regex `{}` has {groups} capture group(s), so group {group} does not exist",
                    pattern.as_str()
                ));
            }
            Extractor::Regex { pattern, group }
        } else if let Some(selector) = r.css {
            if selector.trim().is_empty() {
                return Err("empty CSS selector".into());
            }
            Extractor::Css {
                selector,
                attr: r.attr,
            }
        } else if let Some(h) = r.header {
            Extractor::Header(h)
        } else {
            Extractor::Cookie(r.cookie.unwrap_or_default())
        })
    }
}

impl From<Extractor> for RawExtractor {
    fn from(e: Extractor) -> Self {
        let mut r = RawExtractor::default();
        match e {
            Extractor::Json { path, all } => {
                r.json = Some(path);
                r.all = all;
            }
            Extractor::Regex { pattern, group } => {
                let default = if pattern.regex().captures_len() > 1 {
                    1
                } else {
                    0
                };
                r.group = (group != default).then_some(group);
                r.regex = Some(pattern);
            }
            Extractor::Css { selector, attr } => {
                r.css = Some(selector);
                r.attr = attr;
            }
            Extractor::Header(h) => r.header = Some(h),
            Extractor::Cookie(c) => r.cookie = Some(c),
        }
        r
    }
}
