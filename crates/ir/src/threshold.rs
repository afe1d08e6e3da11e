//! Thresholds: pass/fail conditions on a run's results, such as `p95 < 500ms` or
//! `step[add to cart].error_rate < 1%`.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::parse_duration;

/// A parsed threshold expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub scope: Scope,
    pub metric: Metric,
    pub op: Op,
    /// Milliseconds for latency metrics, a ratio (0..1) for rates, a count per second for `rps`.
    pub bound: f64,
    source: String,
}

/// Which requests a threshold looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    All,
    Step(String),
    Scenario(String),
}

/// What a threshold measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Latency(LatencyStat),
    /// Per-message latency of `sse` and `ws` steps (`message_p95`): the time between
    /// events, or a message's round trip.
    MessageLatency(LatencyStat),
    ErrorRate,
    Rps,
    Checks,
}

/// A latency statistic from the HDR histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyStat {
    Min,
    Mean,
    P50,
    P90,
    P95,
    P99,
    P999,
    Max,
}

impl LatencyStat {
    /// The percentile (0..100) or None for min, mean and max.
    pub fn percentile(self) -> Option<f64> {
        match self {
            LatencyStat::P50 => Some(50.0),
            LatencyStat::P90 => Some(90.0),
            LatencyStat::P95 => Some(95.0),
            LatencyStat::P99 => Some(99.0),
            LatencyStat::P999 => Some(99.9),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

impl Op {
    pub fn holds(self, actual: f64, bound: f64) -> bool {
        match self {
            Op::Lt => actual < bound,
            Op::Le => actual <= bound,
            Op::Gt => actual > bound,
            Op::Ge => actual >= bound,
        }
    }
}

impl Threshold {
    pub fn parse(text: &str) -> Result<Threshold, String> {
        let src = text.trim();
        let err = |why: &str| format!("invalid threshold `{src}`: {why}");
        let (scope, rest) = if let Some(r) = src.strip_prefix("step[") {
            let (name, rest) = r
                .split_once("].")
                .ok_or_else(|| err("expected `step[NAME].metric`"))?;
            (Scope::Step(name.to_string()), rest)
        } else if let Some(r) = src.strip_prefix("scenario[") {
            let (name, rest) = r
                .split_once("].")
                .ok_or_else(|| err("expected `scenario[NAME].metric`"))?;
            (Scope::Scenario(name.to_string()), rest)
        } else {
            (Scope::All, src)
        };
        let op_at = rest
            .find(['<', '>'])
            .ok_or_else(|| err("expected a comparison with < or >"))?;
        let metric_text = rest[..op_at].trim();
        let after = &rest[op_at..];
        let (op, value_text) = if let Some(v) = after.strip_prefix("<=") {
            (Op::Le, v)
        } else if let Some(v) = after.strip_prefix(">=") {
            (Op::Ge, v)
        } else if let Some(v) = after.strip_prefix('<') {
            (Op::Lt, v)
        } else {
            (Op::Gt, &after[1..])
        };
        let value_text = value_text.trim();
        let (message, stat_text) = match metric_text.strip_prefix("message_") {
            Some(stat) => (true, stat),
            None => (false, metric_text),
        };
        let metric = match stat_text {
            "min" => Metric::Latency(LatencyStat::Min),
            "mean" | "avg" => Metric::Latency(LatencyStat::Mean),
            "p50" | "median" => Metric::Latency(LatencyStat::P50),
            "p90" => Metric::Latency(LatencyStat::P90),
            "p95" => Metric::Latency(LatencyStat::P95),
            "p99" => Metric::Latency(LatencyStat::P99),
            "p999" | "p99.9" => Metric::Latency(LatencyStat::P999),
            "max" => Metric::Latency(LatencyStat::Max),
            "error_rate" => Metric::ErrorRate,
            "rps" => Metric::Rps,
            "checks" => Metric::Checks,
            _ => {
                return Err(err(&format!(
                    "unknown metric `{metric_text}` (use p50, p90, p95, p99, p999, min, max, mean, error_rate, rps or checks; message_p95 and the like for stream messages)"
                )))
            }
        };
        let metric = match metric {
            Metric::Latency(stat) if message => Metric::MessageLatency(stat),
            _ if message => {
                return Err(err(&format!(
                    "unknown metric `{metric_text}`: `message_` goes with a latency such as message_p95"
                )))
            }
            m => m,
        };
        let bound = match metric {
            Metric::Latency(_) | Metric::MessageLatency(_) => {
                parse_duration(value_text)
                    .map_err(|e| err(&e))?
                    .as_secs_f64()
                    * 1000.0
            }
            Metric::ErrorRate | Metric::Checks => parse_ratio(value_text).map_err(|e| err(&e))?,
            Metric::Rps => value_text
                .trim_end_matches("/s")
                .parse::<f64>()
                .map_err(|_| err(&format!("`{value_text}` is not a number")))?,
        };
        Ok(Threshold {
            scope,
            metric,
            op,
            bound,
            source: src.to_string(),
        })
    }

    /// The expression as written.
    pub fn expr(&self) -> &str {
        &self.source
    }

    /// Whether `abort_on_fail` may stop a run early: the metric can only get worse or stays settled.
    pub fn is_abortable(&self) -> bool {
        matches!(
            (self.metric, self.op),
            (Metric::Latency(LatencyStat::Max), Op::Lt | Op::Le)
        ) || matches!(self.metric, Metric::ErrorRate)
    }
}

fn parse_ratio(text: &str) -> Result<f64, String> {
    let (num, scale) = match text.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (text, 1.0),
    };
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not a ratio like 1% or 0.01"))?;
    let r = v / scale;
    if !(0.0..=1.0).contains(&r) {
        return Err(format!("`{text}` is outside 0% to 100%"));
    }
    Ok(r)
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl Serialize for Threshold {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Threshold::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

impl JsonSchema for Threshold {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Threshold".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "[step[NAME].|scenario[NAME].]([message_](p50|p90|p95|p99|p999|min|max|mean)|error_rate|rps|checks) (<|<=|>|>=) VALUE",
            "pattern": r"^\s*((step|scenario)\[[^\]]+\]\.)?((message_)?(p50|median|p90|p95|p99|p999|p99\.9|min|max|mean|avg)|error_rate|rps|checks)\s*(<=|>=|<|>)\s*\S+\s*$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let t = Threshold::parse("p95 < 500ms").unwrap();
        assert_eq!(
            (t.scope.clone(), t.metric, t.op, t.bound),
            (Scope::All, Metric::Latency(LatencyStat::P95), Op::Lt, 500.0)
        );
        let t = Threshold::parse("error_rate < 1%").unwrap();
        assert!((t.bound - 0.01).abs() < 1e-12);
        let t = Threshold::parse("step[add to cart].p99 < 800ms").unwrap();
        assert_eq!(t.scope, Scope::Step("add to cart".into()));
        let t = Threshold::parse("scenario[checkout].rps > 10").unwrap();
        assert_eq!((t.metric, t.op, t.bound), (Metric::Rps, Op::Gt, 10.0));
        assert!(Threshold::parse("p97 < 1s").is_err());
        assert!(Threshold::parse("p95 < 500")
            .unwrap_err()
            .contains("missing unit"));
        assert!(Threshold::parse("checks > 150%").is_err());
        let t = Threshold::parse("step[echo].message_p95 < 20ms").unwrap();
        assert_eq!(
            (t.metric, t.bound),
            (Metric::MessageLatency(LatencyStat::P95), 20.0)
        );
        assert!(Threshold::parse("message_rps > 1").is_err());
    }
}
