//! Load models: how many virtual users, or how many iterations per second, for how long.
//!
//! [`LoadSpec`] is what a file or the command line says, field by field, so that flags can
//! override single fields; [`LoadSpec::resolve`] turns it into the one [`Load`] the runner
//! executes, and is where conflicting or incomplete specs are refused.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::shape::Shape;
pub use crate::shape::Stage;
use crate::time::{duration_schema, format_duration, Rate};

/// The load as written; every field optional so layers can be overlaid.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LoadSpec {
    /// Closed model: this many looping virtual users (the start value when `stages` ramp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<u32>,
    /// Open model: iterations started per second (the start value when `stages` ramp).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<Rate>,
    /// How long to run.
    #[serde(
        default,
        with = "crate::time::opt_duration_serde",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(schema_with = "duration_schema")]
    pub duration: Option<Duration>,
    /// Total iterations, shared by all virtual users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iterations: Option<u64>,
    /// Linear ramps of the VU count (closed) or the rate (open).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<Stage>,
    /// Open model: the pool of virtual users; iterations with no free VU are dropped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_vus: Option<u32>,
    /// A named traffic shape that generates the stages (instead of writing `stages`).
    #[serde(
        default,
        with = "yaml_serde::with::singleton_map",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<Shape>")]
    pub shape: Option<Shape>,
}

/// Which population model drives iterations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LoadModel {
    /// A fixed or ramping number of VUs, each looping iterations back to back.
    Closed { vus: u32 },
    /// Iterations start on a schedule, whatever the response times, from a pool of VUs.
    Open { rate: Rate, max_vus: u32 },
}

/// A resolved load: a model, its ramps, and when it ends.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub model: LoadModel,
    pub stages: Vec<Stage>,
    /// Stop after this long (None: only the iteration count ends the run).
    pub duration: Option<Duration>,
    /// Stop after this many iterations in total.
    pub iterations: Option<u64>,
}

impl LoadSpec {
    pub fn is_empty(&self) -> bool {
        *self == LoadSpec::default()
    }

    /// Fields set in `over` replace those in `self`; choosing a model clears the other one.
    pub fn overlay(&self, over: &LoadSpec) -> LoadSpec {
        let mut out = self.clone();
        if over.vus.is_some() {
            out.vus = over.vus;
            out.rate = None;
        }
        if over.rate.is_some() {
            out.rate = over.rate;
            out.vus = None;
        }
        if over.duration.is_some() {
            out.duration = over.duration;
            out.iterations = over.iterations;
        }
        if over.iterations.is_some() {
            out.iterations = over.iterations;
            if over.duration.is_none() {
                out.duration = None;
            }
        }
        if !over.stages.is_empty() {
            out.stages = over.stages.clone();
        }
        if over.max_vus.is_some() {
            out.max_vus = over.max_vus;
        }
        if over.shape.is_some() {
            out.shape = over.shape.clone();
            out.stages.clear();
        }
        out
    }

    /// The load to execute. With nothing specified: 1 VU, 1 iteration (a smoke run).
    ///
    /// With a `shape`, the shape supplies the start value and the stages; `rate` or `max_vus`
    /// being present selects the open model, otherwise the shape counts VUs.
    pub fn resolve(&self) -> Result<Load, String> {
        if let Some(shape) = &self.shape {
            if !self.stages.is_empty() {
                return Err(
                    "`shape` generates the stages: give `shape` or `stages`, not both".into(),
                );
            }
            shape.check().map_err(|e| format!("shape: {e}"))?;
            let mut flat = self.clone();
            flat.shape = None;
            flat.stages = shape.stages();
            let start = shape.start();
            if self.rate.is_some() || self.max_vus.is_some() {
                // A zero start rate is legal in a shape; the scheduler simply waits for the ramp.
                flat.rate = Some(Rate::per_second(start.max(1e-9))?);
                flat.vus = None;
            } else {
                flat.vus = Some(start.round() as u32);
            }
            return flat.resolve();
        }
        if self.vus.is_some() && self.rate.is_some() {
            return Err(
                "`vus` (closed model) and `rate` (open model) exclude each other: pick one".into(),
            );
        }
        if self.max_vus.is_some() && self.rate.is_none() {
            return Err("`max_vus` sizes the open model's pool: it needs `rate`".into());
        }
        if self.iterations == Some(0) {
            return Err("`iterations` must be at least 1".into());
        }
        if self.duration == Some(Duration::ZERO) {
            return Err("`duration` must be above zero".into());
        }
        let ramp: Duration = self.stages.iter().map(|s| s.duration).sum();
        let duration = match (self.duration, self.stages.is_empty()) {
            (Some(d), _) => Some(d),
            (None, false) => Some(ramp),
            (None, true) => None,
        };
        let model = if let Some(rate) = self.rate {
            let peak = self
                .stages
                .iter()
                .map(|s| s.target)
                .fold(rate.as_per_second(), f64::max);
            LoadModel::Open {
                rate,
                max_vus: self.max_vus.unwrap_or_else(|| default_pool(peak)),
            }
        } else {
            let peak = self.stages.iter().map(|s| s.target).fold(0.0, f64::max);
            let vus = self
                .vus
                .unwrap_or(if self.stages.is_empty() { 1 } else { 0 });
            if vus == 0 && peak == 0.0 {
                return Err(
                    "a closed model needs at least one VU (`vus` or a stage target)".into(),
                );
            }
            LoadModel::Closed { vus }
        };
        if let LoadModel::Open { .. } = model {
            if duration.is_none() && self.iterations.is_none() {
                return Err(
                    "an open model (`rate`) needs a `duration`, `stages` or `iterations`".into(),
                );
            }
        }
        let iterations = match (self.iterations, duration) {
            (Some(n), _) => Some(n),
            (None, Some(_)) => None,
            // Closed model with no end given: each VU runs one iteration.
            (None, None) => Some(match model {
                LoadModel::Closed { vus } => vus.max(1) as u64,
                LoadModel::Open { .. } => 1,
            }),
        };
        Ok(Load {
            model,
            stages: self.stages.clone(),
            duration,
            iterations,
        })
    }
}

/// A pool for iterations lasting up to five seconds at the peak rate (at least 50); VUs are
/// created only when needed, so an unused pool costs nothing.
fn default_pool(peak_rate: f64) -> u32 {
    ((peak_rate * 5.0).ceil() as u32).clamp(50, 100_000)
}

impl Load {
    /// The target (VUs or rate per second) at `elapsed`, following the stages' linear ramps.
    pub fn target_at(&self, elapsed: Duration) -> f64 {
        let start = match self.model {
            LoadModel::Closed { vus } => vus as f64,
            LoadModel::Open { rate, .. } => rate.as_per_second(),
        };
        let mut from = start;
        let mut t0 = Duration::ZERO;
        for s in &self.stages {
            let t1 = t0 + s.duration;
            if elapsed < t1 {
                let frac = if s.duration.is_zero() {
                    1.0
                } else {
                    (elapsed - t0).as_secs_f64() / s.duration.as_secs_f64()
                };
                return from + (s.target - from) * frac;
            }
            from = s.target;
            t0 = t1;
        }
        if self.stages.is_empty() {
            start
        } else {
            from
        }
    }

    /// One line for summaries: "20 VUs for 30s", "200/s for 1m (pool 400)".
    pub fn describe(&self) -> String {
        let model = match self.model {
            LoadModel::Closed { vus } if self.stages.is_empty() => format!("{vus} VUs"),
            LoadModel::Closed { .. } => {
                let peak = self.stages.iter().map(|s| s.target).fold(0.0, f64::max);
                format!("ramping VUs (peak {peak})")
            }
            LoadModel::Open { rate, max_vus } => {
                format!("{} iterations/s (pool {max_vus})", rate.as_per_second())
            }
        };
        let end = match (self.duration, self.iterations) {
            (Some(d), Some(n)) => format!("{n} iterations within {}", format_duration(d)),
            (Some(d), None) => format!("for {}", format_duration(d)),
            (None, Some(n)) => format!("{n} iterations"),
            (None, None) => String::new(),
        };
        format!("{model}, {end}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smoke_default_and_conflicts() {
        let l = LoadSpec::default().resolve().unwrap();
        assert_eq!(l.model, LoadModel::Closed { vus: 1 });
        assert_eq!(l.iterations, Some(1));
        let both = LoadSpec {
            vus: Some(2),
            rate: Some(Rate::parse("5/s").unwrap()),
            ..Default::default()
        };
        assert!(both.resolve().unwrap_err().contains("exclude"));
        let open = LoadSpec {
            rate: Some(Rate::parse("5/s").unwrap()),
            ..Default::default()
        };
        assert!(open.resolve().is_err());
    }

    #[test]
    fn overlay_switches_model_and_end() {
        let file = LoadSpec {
            rate: Some(Rate::parse("5/s").unwrap()),
            duration: Some(Duration::from_secs(30)),
            ..Default::default()
        };
        let flags = LoadSpec {
            vus: Some(3),
            iterations: Some(9),
            ..Default::default()
        };
        let l = file.overlay(&flags).resolve().unwrap();
        assert_eq!(l.model, LoadModel::Closed { vus: 3 });
        assert_eq!((l.duration, l.iterations), (None, Some(9)));
    }

    #[test]
    fn stages_ramp_linearly() {
        let spec = LoadSpec {
            vus: Some(0),
            stages: vec![
                Stage::parse("10s:100").unwrap(),
                Stage::parse("10s:100").unwrap(),
            ],
            ..Default::default()
        };
        let l = spec.resolve().unwrap();
        assert_eq!(l.duration, Some(Duration::from_secs(20)));
        assert_eq!(l.target_at(Duration::from_secs(5)), 50.0);
        assert_eq!(l.target_at(Duration::from_secs(15)), 100.0);
    }
}
