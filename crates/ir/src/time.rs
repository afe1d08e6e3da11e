//! Durations, think times and arrival rates as they are written in scenario files.
//!
//! Scenario files spell time with units ("500ms", "2s", "1m30s") so that a bare
//! number is never ambiguous; these parsers are the single place that grammar lives.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Parses "1h", "2m", "30s", "500ms", "250us", "1.5s" and sums like "1m30s".
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration".into());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "invalid duration `{text}`: expected a number, like 500ms or 2s"
            ));
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| {
            format!(
                "invalid duration `{text}`: `{}` is not a number",
                &rest[..num_len]
            )
        })?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let seconds = match unit.trim() {
            "h" => 3600.0,
            "m" | "min" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "" => {
                return Err(format!(
                "invalid duration `{text}`: missing unit (use h, m, s, ms or us, e.g. `{value}s`)"
            ))
            }
            other => {
                return Err(format!(
                    "invalid duration `{text}`: unknown unit `{other}` (use h, m, s, ms or us)"
                ))
            }
        };
        total += value * seconds;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total > 1e9 {
        return Err(format!("invalid duration `{text}`: too large"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Writes a duration in the shortest exact form the parser reads back.
pub fn format_duration(d: Duration) -> String {
    let us = d.as_micros();
    if us == 0 {
        return "0s".into();
    }
    if us % 1_000_000 == 0 {
        let s = us / 1_000_000;
        if s % 3600 == 0 {
            return format!("{}h", s / 3600);
        }
        if s % 60 == 0 {
            return format!("{}m", s / 60);
        }
        return format!("{s}s");
    }
    if us % 1000 == 0 {
        return format!("{}ms", us / 1000);
    }
    format!("{us}us")
}

/// serde adapter for `Duration` fields written as "500ms".
pub mod duration_serde {
    use super::*;
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format_duration(*d))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = DurationText::deserialize(d)?;
        parse_duration(&text.0).map_err(serde::de::Error::custom)
    }
}

/// serde adapter for `Option<Duration>` fields.
pub mod opt_duration_serde {
    use super::*;
    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_str(&format_duration(*d)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text = DurationText::deserialize(d)?;
        parse_duration(&text.0)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

/// Accepts a string, and turns a bare number into a helpful error instead of a type error.
struct DurationText(String);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(f64),
        }
        match Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom("expected a duration with a unit, like 500ms or 2s")
        })? {
            Raw::Text(t) => Ok(DurationText(t)),
            Raw::Number(n) => Err(serde::de::Error::custom(format!(
                "invalid duration `{n}`: missing unit (use h, m, s, ms or us, e.g. `{n}s`)"
            ))),
        }
    }
}

/// The pause a virtual user takes after a step: fixed, or uniform over a range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Think {
    Fixed(Duration),
    Uniform { min: Duration, max: Duration },
}

impl Think {
    /// Parses "2s" or "1s..3s".
    pub fn parse(text: &str) -> Result<Think, String> {
        match text.split_once("..") {
            Some((a, b)) => {
                let min = parse_duration(a)?;
                let max = parse_duration(b)?;
                if min > max {
                    return Err(format!(
                        "invalid think time `{text}`: the range's start is after its end"
                    ));
                }
                Ok(Think::Uniform { min, max })
            }
            None => Ok(Think::Fixed(parse_duration(text)?)),
        }
    }

    pub fn min(&self) -> Duration {
        match *self {
            Think::Fixed(d) => d,
            Think::Uniform { min, .. } => min,
        }
    }

    pub fn max(&self) -> Duration {
        match *self {
            Think::Fixed(d) => d,
            Think::Uniform { max, .. } => max,
        }
    }
}

impl fmt::Display for Think {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Think::Fixed(d) => f.write_str(&format_duration(d)),
            Think::Uniform { min, max } => {
                write!(f, "{}..{}", format_duration(min), format_duration(max))
            }
        }
    }
}

impl Serialize for Think {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Think {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = DurationText::deserialize(d)?;
        Think::parse(&text.0).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Think {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Think".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A fixed pause (\"2s\") or a uniform range (\"1s..3s\")",
            "pattern": r"^\s*[0-9.]+\s*(h|m|min|s|ms|us)(\s*\.\.\s*[0-9.]+\s*(h|m|min|s|ms|us))?\s*$"
        })
    }
}

/// An arrival rate: iterations started per second (open model).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    per_second: f64,
}

impl Rate {
    pub fn per_second(per_second: f64) -> Result<Rate, String> {
        if per_second.is_finite() && per_second > 0.0 {
            Ok(Rate { per_second })
        } else {
            Err(format!("invalid rate `{per_second}`: must be above zero"))
        }
    }

    /// Parses "50/s", "3000/m", "10/1s", "5/500ms" or a bare number (per second).
    pub fn parse(text: &str) -> Result<Rate, String> {
        let t = text.trim();
        let (count, per) = match t.split_once('/') {
            Some((c, p)) => (c.trim(), p.trim()),
            None => (t, "s"),
        };
        let count: f64 = count
            .parse()
            .map_err(|_| format!("invalid rate `{text}`: expected a count like 50/s"))?;
        let per = if per.starts_with(|c: char| c.is_ascii_digit()) {
            parse_duration(per)?
        } else {
            parse_duration(&format!("1{per}")).map_err(|_| {
                format!("invalid rate `{text}`: unknown period `{per}` (use /s, /m or /h)")
            })?
        };
        if per.is_zero() {
            return Err(format!("invalid rate `{text}`: zero period"));
        }
        Rate::per_second(count / per.as_secs_f64())
            .map_err(|_| format!("invalid rate `{text}`: must be above zero"))
    }

    pub fn as_per_second(&self) -> f64 {
        self.per_second
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/s", self.per_second)
    }
}

impl Serialize for Rate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(f64),
        }
        match Raw::deserialize(d)
            .map_err(|_| serde::de::Error::custom("expected a rate, like 50/s"))?
        {
            Raw::Text(t) => Rate::parse(&t),
            Raw::Number(n) => Rate::per_second(n),
        }
        .map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Rate {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Rate".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Iterations started per period: \"50/s\", \"3000/m\", or a number per second",
            "anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string", "pattern": r"^\s*[0-9.]+\s*/\s*[0-9.]*\s*(h|m|s|ms)\s*$"}]
        })
    }
}

/// JSON Schema for a duration string, used through `#[schemars(schema_with)]`.
pub fn duration_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "description": "A duration with a unit: \"500ms\", \"2s\", \"1m30s\"",
        "pattern": r"^\s*([0-9.]+\s*(h|m|min|s|ms|us)\s*)+$"
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("10").unwrap_err().contains("missing unit"));
        assert!(parse_duration("3 parsecs").is_err());
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn think_and_rate() {
        assert_eq!(
            Think::parse("1s..3s").unwrap(),
            Think::Uniform {
                min: Duration::from_secs(1),
                max: Duration::from_secs(3)
            }
        );
        assert!(Think::parse("3s..1s").is_err());
        assert_eq!(Rate::parse("50/s").unwrap().as_per_second(), 50.0);
        assert_eq!(Rate::parse("120/m").unwrap().as_per_second(), 2.0);
        assert_eq!(Rate::parse("5/500ms").unwrap().as_per_second(), 10.0);
        assert!(Rate::parse("0/s").is_err());
        assert!(Rate::parse("fast").is_err());
    }
}
