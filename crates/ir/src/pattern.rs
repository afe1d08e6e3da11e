//! Pre-compiled regular expressions and JSONPath queries, kept with their source text.
//!
//! Both are compiled when a scenario loads, so a typo is a load error with a line number
//! and the runner never compiles one per request.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A regular expression (Rust `regex` syntax).
#[derive(Clone)]
pub struct Pattern {
    regex: regex::Regex,
}

impl Pattern {
    pub fn parse(source: &str) -> Result<Pattern, String> {
        regex::Regex::new(source)
            .map(|regex| Pattern { regex })
            .map_err(|e| {
                format!(
                    "invalid regular expression `{source}`: {}",
                    one_line(&e.to_string())
                )
            })
    }
    pub fn regex(&self) -> &regex::Regex {
        &self.regex
    }
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }
}

fn one_line(s: &str) -> String {
    s.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pattern({:?})", self.as_str())
    }
}

impl Serialize for Pattern {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Pattern::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Pattern {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Pattern".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "regex"})
    }
}

/// An RFC 9535 JSONPath query such as `$.user.id` or `$.items[*].id`.
#[derive(Clone)]
pub struct JsonPath {
    source: String,
    path: serde_json_path::JsonPath,
    /// For a simple path (`$.a.b[0].c`), its selectors: such a path selects at most one node,
    /// found by walking them.
    simple: Option<Vec<Selector>>,
}

/// One selector of a simple path: a member name, or a non-negative array index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    Name(String),
    Index(usize),
}

impl JsonPath {
    pub fn parse(source: &str) -> Result<JsonPath, String> {
        serde_json_path::JsonPath::parse(source)
            .map(|path| JsonPath {
                source: source.to_string(),
                path,
                simple: simple_selectors(source),
            })
            .map_err(|e| format!("invalid JSONPath `{source}`: {}", one_line(&e.to_string())))
    }
    pub fn as_str(&self) -> &str {
        &self.source
    }
    /// The selectors of a simple path (names and non-negative indexes only), else None.
    pub fn selectors(&self) -> Option<&[Selector]> {
        self.simple.as_deref()
    }
    /// Every node the query selects, in document order.
    pub fn query<'v>(&self, value: &'v serde_json::Value) -> Vec<&'v serde_json::Value> {
        let Some(selectors) = &self.simple else {
            return self.path.query(value).all();
        };
        let mut node = value;
        for s in selectors {
            let next = match s {
                Selector::Name(n) => node.as_object().and_then(|o| o.get(n)),
                Selector::Index(i) => node.as_array().and_then(|a| a.get(*i)),
            };
            match next {
                Some(n) => node = n,
                None => return Vec::new(),
            }
        }
        vec![node]
    }
}

/// `$`, then `.name` (letters, digits, `_`, non-ASCII; not starting with a digit) or `[N]`.
fn simple_selectors(p: &str) -> Option<Vec<Selector>> {
    let rest = p.strip_prefix('$')?;
    let b = rest.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] >= 0x80)
                {
                    j += 1;
                }
                if j == start || b[start].is_ascii_digit() {
                    return None;
                }
                out.push(Selector::Name(rest[start..j].to_string()));
                i = j;
            }
            b'[' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j].is_ascii_digit() {
                    j += 1;
                }
                if j == start || j >= b.len() || b[j] != b']' || (j - start > 1 && b[start] == b'0')
                {
                    return None;
                }
                out.push(Selector::Index(rest[start..j].parse().ok()?));
                i = j + 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

impl PartialEq for JsonPath {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl fmt::Debug for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JsonPath({:?})", self.source)
    }
}

impl Serialize for JsonPath {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for JsonPath {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        JsonPath::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for JsonPath {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "JsonPath".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^\\$", "description": "An RFC 9535 JSONPath, like $.user.id"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn simple_paths_are_walked_and_select_what_the_full_engine_selects() {
        let docs = [
            json!({"a": {"b": [10, {"c": "x"}]}, "n": null, "ü": 1, "0": "zero"}),
            json!([{"a": 1}, [2, 3]]),
            json!("text"),
            json!({"a": [], "b": {}}),
        ];
        let simple = [
            "$",
            "$.a",
            "$.a.b",
            "$.a.b[0]",
            "$.a.b[1].c",
            "$.a.b[2]",
            "$.n",
            "$.n.x",
            "$.ü",
            "$[0].a",
            "$[1][1]",
            "$[5]",
            "$.a[0]",
            "$.b.c",
        ];
        for source in simple {
            let p = JsonPath::parse(source).unwrap();
            assert!(p.selectors().is_some(), "{source} is simple");
            for doc in &docs {
                assert_eq!(p.query(doc), p.path.query(doc).all(), "{source} on {doc}");
            }
        }
        for source in [
            "$..a", "$.a[*]", "$.a[-1]", "$['a']", "$.a[0:1]", "$[?@.a]", "$.0", "$[01]",
        ] {
            if let Ok(p) = JsonPath::parse(source) {
                assert!(p.selectors().is_none(), "{source} is not simple");
            }
        }
    }
}
