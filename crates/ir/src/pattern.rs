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
}

impl JsonPath {
    pub fn parse(source: &str) -> Result<JsonPath, String> {
        serde_json_path::JsonPath::parse(source)
            .map(|path| JsonPath {
                source: source.to_string(),
                path,
            })
            .map_err(|e| format!("invalid JSONPath `{source}`: {}", one_line(&e.to_string())))
    }
    pub fn as_str(&self) -> &str {
        &self.source
    }
    /// Every node the query selects, in document order.
    pub fn query<'v>(&self, value: &'v serde_json::Value) -> Vec<&'v serde_json::Value> {
        self.path.query(value).all()
    }
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
