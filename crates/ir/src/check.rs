//! Checks: conditions a response must meet for its step to pass.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::pattern::{JsonPath, Pattern};
use crate::template::{JsonTemplate, Template};
use crate::time::{duration_schema, format_duration};

/// One condition on a response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(try_from = "RawCheck", into = "RawCheck")]
#[schemars(with = "RawCheck")]
pub enum Check {
    Status(StatusExpect),
    Json {
        path: JsonPath,
        expect: ValueExpect,
    },
    BodyContains(Template),
    BodyMatches(Pattern),
    Header {
        name: String,
        expect: ValueExpect,
    },
    DurationUnder(Duration),
    /// The JSON body validates against this JSON Schema.
    Schema(serde_json::Value),
}

impl Check {
    /// Whether the response body must be read to evaluate the check.
    pub fn needs_body(&self) -> bool {
        matches!(
            self,
            Check::Json { .. } | Check::BodyContains(_) | Check::BodyMatches(_) | Check::Schema(_)
        )
    }

    /// Templates the check renders per response.
    pub fn templates(&self) -> Vec<&Template> {
        match self {
            Check::BodyContains(t) => vec![t],
            Check::Json {
                expect: ValueExpect::Equals(j),
                ..
            }
            | Check::Header {
                expect: ValueExpect::Equals(j),
                ..
            } => j.templates(),
            _ => Vec::new(),
        }
    }
}

/// What a JSONPath match or a header value must be.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueExpect {
    Exists,
    Equals(JsonTemplate),
    Matches(Pattern),
    Compare(Comparison, f64),
}

/// A numeric comparison against a fixed bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Comparison {
    pub fn holds(self, actual: f64, bound: f64) -> bool {
        match self {
            Comparison::Lt => actual < bound,
            Comparison::Le => actual <= bound,
            Comparison::Gt => actual > bound,
            Comparison::Ge => actual >= bound,
        }
    }
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Lt => "<",
            Comparison::Le => "<=",
            Comparison::Gt => ">",
            Comparison::Ge => ">=",
        }
    }
}

/// The accepted status codes: one code, a list, or a class such as `2xx`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatusExpect {
    Code(u16),
    AnyOf(Vec<u16>),
    Class(u8),
}

impl StatusExpect {
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            StatusExpect::Code(c) => *c == status,
            StatusExpect::AnyOf(list) => list.contains(&status),
            StatusExpect::Class(c) => status / 100 == *c as u16,
        }
    }
}

impl fmt::Display for StatusExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusExpect::Code(c) => write!(f, "{c}"),
            StatusExpect::AnyOf(l) => {
                write!(
                    f,
                    "{}",
                    l.iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(" or ")
                )
            }
            StatusExpect::Class(c) => write!(f, "{c}xx"),
        }
    }
}

fn status_code(v: i64) -> Result<u16, String> {
    if (100..=599).contains(&v) {
        Ok(v as u16)
    } else {
        Err(format!("invalid HTTP status {v}: expected 100 to 599"))
    }
}

impl<'de> Deserialize<'de> for StatusExpect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Code(i64),
            List(Vec<i64>),
            Text(String),
        }
        let raw = Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a status: 200, [200, 201] or 2xx"))?;
        match raw {
            Raw::Code(c) => status_code(c).map(StatusExpect::Code),
            Raw::List(l) if l.is_empty() => Err("an empty status list accepts nothing".into()),
            Raw::List(l) => l
                .into_iter()
                .map(status_code)
                .collect::<Result<_, _>>()
                .map(StatusExpect::AnyOf),
            Raw::Text(t) => {
                let t = t.trim().to_ascii_lowercase();
                match t.as_bytes() {
                    [c @ b'1'..=b'5', b'x', b'x'] => Ok(StatusExpect::Class(c - b'0')),
                    _ => match t.parse::<i64>() {
                        Ok(c) => status_code(c).map(StatusExpect::Code),
                        Err(_) => Err(format!(
                            "invalid status `{t}`: expected a code like 200 or a class like 2xx"
                        )),
                    },
                }
            }
        }
        .map_err(serde::de::Error::custom)
    }
}

impl Serialize for StatusExpect {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            StatusExpect::Code(c) => s.serialize_u16(*c),
            StatusExpect::AnyOf(l) => l.serialize(s),
            StatusExpect::Class(_) => s.collect_str(self),
        }
    }
}

impl JsonSchema for StatusExpect {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "StatusExpect".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A status code, a list of codes, or a class like \"2xx\"",
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "array", "items": {"type": "integer", "minimum": 100, "maximum": 599}, "minItems": 1},
                {"type": "string", "pattern": "^[1-5][xX][xX]$"}
            ]
        })
    }
}

/// A check as written: one of `status`, `json`, `body_contains`, `body_matches`, `header`,
/// `duration_under`, `schema`; `json` and `header` take at most one of `equals`, `matches`,
/// `lt`, `le`, `gt`, `ge`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusExpect>,
    /// JSONPath that must match (and meet the modifier, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json: Option<JsonPath>,
    /// Header that must be present (and meet the modifier, if any).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub equals: Option<JsonTemplate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matches: Option<Pattern>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lt: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub le: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gt: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ge: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<Template>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_matches: Option<Pattern>,
    #[serde(
        default,
        with = "crate::time::opt_duration_serde",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "duration_schema")]
    pub duration_under: Option<Duration>,
    /// A JSON Schema the JSON body must satisfy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<serde_json::Value>,
}

impl TryFrom<RawCheck> for Check {
    type Error = String;
    fn try_from(r: RawCheck) -> Result<Self, String> {
        let kinds: Vec<&str> = [
            r.status.as_ref().map(|_| "status"),
            r.json.as_ref().map(|_| "json"),
            r.header.as_ref().map(|_| "header"),
            r.body_contains.as_ref().map(|_| "body_contains"),
            r.body_matches.as_ref().map(|_| "body_matches"),
            r.duration_under.as_ref().map(|_| "duration_under"),
            r.schema.as_ref().map(|_| "schema"),
        ]
        .into_iter()
        .flatten()
        .collect();
        match kinds.len() {
            0 => {
                return Err("a check needs one of `status`, `json`, `header`, `body_contains`, `body_matches`, `duration_under` or `schema`".into())
            }
            1 => {}
            _ => return Err(format!("one check per list item, found `{}`", kinds.join("` and `"))),
        }
        let mut modifiers = Vec::new();
        if let Some(e) = r.equals {
            modifiers.push(("equals", ValueExpect::Equals(e)));
        }
        if let Some(m) = r.matches {
            modifiers.push(("matches", ValueExpect::Matches(m)));
        }
        for (name, value, cmp) in [
            ("lt", r.lt, Comparison::Lt),
            ("le", r.le, Comparison::Le),
            ("gt", r.gt, Comparison::Gt),
            ("ge", r.ge, Comparison::Ge),
        ] {
            if let Some(v) = value {
                modifiers.push((name, ValueExpect::Compare(cmp, v)));
            }
        }
        if modifiers.len() > 1 {
            let names: Vec<_> = modifiers.iter().map(|m| m.0).collect();
            return Err(format!(
                "a check takes one of equals/matches/lt/le/gt/ge, found `{}`",
                names.join("` and `")
            ));
        }
        let modifier = modifiers.pop();
        if let Some((name, _)) = &modifier {
            if r.json.is_none() && r.header.is_none() {
                return Err(format!("`{name}` goes with a `json` or `header` check"));
            }
        }
        let expect = modifier.map(|m| m.1).unwrap_or(ValueExpect::Exists);
        Ok(if let Some(s) = r.status {
            Check::Status(s)
        } else if let Some(path) = r.json {
            Check::Json { path, expect }
        } else if let Some(name) = r.header {
            Check::Header { name, expect }
        } else if let Some(t) = r.body_contains {
            Check::BodyContains(t)
        } else if let Some(p) = r.body_matches {
            Check::BodyMatches(p)
        } else if let Some(d) = r.duration_under {
            Check::DurationUnder(d)
        } else {
            Check::Schema(r.schema.unwrap_or_default())
        })
    }
}

impl From<Check> for RawCheck {
    fn from(c: Check) -> Self {
        let mut r = RawCheck::default();
        let put = |r: &mut RawCheck, e: ValueExpect| match e {
            ValueExpect::Exists => {}
            ValueExpect::Equals(v) => r.equals = Some(v),
            ValueExpect::Matches(m) => r.matches = Some(m),
            ValueExpect::Compare(Comparison::Lt, v) => r.lt = Some(v),
            ValueExpect::Compare(Comparison::Le, v) => r.le = Some(v),
            ValueExpect::Compare(Comparison::Gt, v) => r.gt = Some(v),
            ValueExpect::Compare(Comparison::Ge, v) => r.ge = Some(v),
        };
        match c {
            Check::Status(s) => r.status = Some(s),
            Check::Json { path, expect } => {
                r.json = Some(path);
                put(&mut r, expect);
            }
            Check::Header { name, expect } => {
                r.header = Some(name);
                put(&mut r, expect);
            }
            Check::BodyContains(t) => r.body_contains = Some(t),
            Check::BodyMatches(p) => r.body_matches = Some(p),
            Check::DurationUnder(d) => r.duration_under = Some(d),
            Check::Schema(s) => r.schema = Some(s),
        }
        r
    }
}

impl fmt::Display for ValueExpect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueExpect::Exists => f.write_str("exists"),
            ValueExpect::Equals(v) => write!(f, "equals {}", v.to_json()),
            ValueExpect::Matches(p) => write!(f, "matches /{}/", p.as_str()),
            ValueExpect::Compare(c, v) => write!(f, "{} {v}", c.symbol()),
        }
    }
}

/// The check as one line of text, used in reports and failure messages.
impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Status(s) => write!(f, "status {s}"),
            Check::Json { path, expect } => write!(f, "json {} {expect}", path.as_str()),
            Check::Header { name, expect } => write!(f, "header {name} {expect}"),
            Check::BodyContains(t) => write!(f, "body contains {:?}", t.source()),
            Check::BodyMatches(p) => write!(f, "body matches /{}/", p.as_str()),
            Check::DurationUnder(d) => write!(f, "duration under {}", format_duration(*d)),
            Check::Schema(_) => f.write_str("body matches schema"),
        }
    }
}
