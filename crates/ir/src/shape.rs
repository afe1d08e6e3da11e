//! Traffic shapes: named load presets (constant, ramp, steps, spike, wave, daily) that
//! compile to plain [`Stage`]s, so the runner only ever executes linear ramps.
//!
//! A shape's values are VUs in the closed model and iterations per second in the open one;
//! which model applies is decided by the rest of `load` (see [`crate::LoadSpec::resolve`]).

use std::f64::consts::PI;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::time::duration_schema;

/// Linear pieces per wave period: enough that the ramps stay within 2% of a sine.
const WAVE_PIECES: u32 = 16;

/// A named traffic shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Shape {
    /// The same target throughout.
    Constant {
        target: f64,
        #[serde(with = "crate::time::duration_serde")]
        #[schemars(schema_with = "duration_schema")]
        duration: Duration,
    },
    /// A straight line from `from` to `to`.
    Ramp {
        from: f64,
        to: f64,
        #[serde(with = "crate::time::duration_serde")]
        #[schemars(schema_with = "duration_schema")]
        duration: Duration,
    },
    /// A staircase: `steps` equal levels from `from` to `to`, each held for `step_duration`
    /// (capacity testing: find the level where errors or latency break).
    Steps {
        from: f64,
        to: f64,
        steps: u32,
        #[serde(with = "crate::time::duration_serde")]
        #[schemars(schema_with = "duration_schema")]
        step_duration: Duration,
    },
    /// `base` for `before`, a climb to `peak` over `ramp`, `peak` held for `hold`, a drop
    /// back over `ramp`, then `base` for `after` (flash sales, spikes).
    Spike {
        base: f64,
        peak: f64,
        #[serde(with = "crate::time::duration_serde")]
        #[schemars(schema_with = "duration_schema")]
        before: Duration,
        #[serde(with = "crate::time::duration_serde")]
        #[schemars(schema_with = "duration_schema")]
        ramp: Duration,
        #[serde(with = "crate::time::duration_serde")]
        #[schemars(schema_with = "duration_schema")]
        hold: Duration,
        #[serde(with = "crate::time::duration_serde")]
        #[schemars(schema_with = "duration_schema")]
        after: Duration,
    },
    /// A sine between `min` and `max`, starting at `min`, for `cycles` periods.
    Wave {
        min: f64,
        max: f64,
        #[serde(with = "crate::time::duration_serde")]
        #[schemars(schema_with = "duration_schema")]
        period: Duration,
        #[serde(default = "one")]
        cycles: u32,
    },
    /// A day compressed into `cycle`: night at `min`, a morning ramp, the late-morning peak,
    /// a lunch dip, the afternoon plateau, an evening decline, back to `min`.
    Daily {
        min: f64,
        peak: f64,
        #[serde(with = "crate::time::duration_serde")]
        #[schemars(schema_with = "duration_schema")]
        cycle: Duration,
    },
}

fn one() -> u32 {
    1
}

/// The daily curve as (hour of a 24-hour day, share of the way from `min` to `peak`).
pub const DAILY_CURVE: [(f64, f64); 11] = [
    (0.0, 0.0),  // midnight
    (6.0, 0.0),  // night
    (9.0, 0.6),  // morning ramp
    (10.0, 1.0), // peak
    (12.0, 1.0),
    (12.5, 0.8), // lunch dip
    (14.0, 0.8),
    (14.5, 0.9), // afternoon
    (18.0, 0.9),
    (22.0, 0.4), // evening decline
    (24.0, 0.0),
];

impl Shape {
    /// The value at time zero.
    pub fn start(&self) -> f64 {
        match *self {
            Shape::Constant { target, .. } => target,
            Shape::Ramp { from, .. } | Shape::Steps { from, .. } => from,
            Shape::Spike { base, .. } => base,
            Shape::Wave { min, .. } | Shape::Daily { min, .. } => min,
        }
    }

    /// The shape as linear stages starting from [`Shape::start`].
    pub fn stages(&self) -> Vec<Stage> {
        let st = |duration: Duration, target: f64| Stage { duration, target };
        match *self {
            Shape::Constant { target, duration } => vec![st(duration, target)],
            Shape::Ramp { to, duration, .. } => vec![st(duration, to)],
            Shape::Steps {
                from,
                to,
                steps,
                step_duration,
            } => {
                let n = steps.max(1);
                (0..n)
                    .flat_map(|i| {
                        let level = if n == 1 {
                            to
                        } else {
                            from + (to - from) * i as f64 / (n - 1) as f64
                        };
                        [st(Duration::ZERO, level), st(step_duration, level)]
                    })
                    .collect()
            }
            Shape::Spike {
                base,
                peak,
                before,
                ramp,
                hold,
                after,
            } => vec![
                st(before, base),
                st(ramp, peak),
                st(hold, peak),
                st(ramp, base),
                st(after, base),
            ],
            Shape::Wave {
                min,
                max,
                period,
                cycles,
            } => {
                let piece = period / WAVE_PIECES;
                (1..=WAVE_PIECES * cycles.max(1))
                    .map(|k| {
                        let phase = 2.0 * PI * k as f64 / WAVE_PIECES as f64;
                        st(piece, min + (max - min) * (1.0 - phase.cos()) / 2.0)
                    })
                    .collect()
            }
            Shape::Daily { min, peak, cycle } => DAILY_CURVE
                .windows(2)
                .filter(|w| w[1].0 > w[0].0)
                .map(|w| {
                    st(
                        cycle.mul_f64((w[1].0 - w[0].0) / 24.0),
                        min + (peak - min) * w[1].1,
                    )
                })
                .collect(),
        }
    }

    /// Refuses shapes whose numbers cannot describe a load.
    pub fn check(&self) -> Result<(), String> {
        let values: Vec<f64> = match *self {
            Shape::Constant { target, .. } => vec![target],
            Shape::Ramp { from, to, .. } | Shape::Steps { from, to, .. } => vec![from, to],
            Shape::Spike { base, peak, .. } => vec![base, peak],
            Shape::Wave { min, max, .. } => vec![min, max],
            Shape::Daily { min, peak, .. } => vec![min, peak],
        };
        if values.iter().any(|v| !v.is_finite() || *v < 0.0) {
            return Err("shape values must be zero or more".into());
        }
        match *self {
            Shape::Wave {
                min, max, period, ..
            } if min > max || period.is_zero() => {
                Err("wave: needs min <= max and a non-zero period".into())
            }
            Shape::Daily { min, peak, cycle } if min > peak || cycle.is_zero() => {
                Err("daily: needs min <= peak and a non-zero cycle".into())
            }
            Shape::Steps { steps: 0, .. } => Err("steps: needs at least one step".into()),
            _ if self
                .stages()
                .iter()
                .map(|s| s.duration)
                .sum::<Duration>()
                .is_zero() =>
            {
                Err("the shape lasts no time at all".into())
            }
            _ => Ok(()),
        }
    }
}

/// A linear ramp from the previous target to `target` over `duration`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    #[serde(with = "crate::time::duration_serde")]
    #[schemars(schema_with = "duration_schema")]
    pub duration: Duration,
    /// VUs (closed model) or iterations per second (open model) at the stage's end.
    pub target: f64,
}

impl Stage {
    /// Parses the command-line form `DURATION:TARGET`, e.g. `30s:100`.
    pub fn parse(text: &str) -> Result<Stage, String> {
        let (d, t) = text.split_once(':').ok_or_else(|| {
            format!("invalid stage `{text}`: expected DURATION:TARGET, like 30s:100")
        })?;
        let duration = crate::time::parse_duration(d)?;
        let target: f64 = t
            .trim()
            .trim_end_matches("/s")
            .parse()
            .map_err(|_| format!("invalid stage `{text}`: target `{t}` is not a number"))?;
        if !(target >= 0.0 && target.is_finite()) {
            return Err(format!(
                "invalid stage `{text}`: target must be zero or more"
            ));
        }
        Ok(Stage { duration, target })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::{LoadModel, LoadSpec};
    use crate::time::Rate;

    fn open(shape: Shape) -> crate::load::Load {
        LoadSpec {
            rate: Some(Rate::per_second(1.0).unwrap()),
            shape: Some(shape),
            ..Default::default()
        }
        .resolve()
        .unwrap()
    }

    fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s)
    }

    #[test]
    fn constant_holds_its_target() {
        let l = open(Shape::Constant {
            target: 50.0,
            duration: secs(60.0),
        });
        assert_eq!(l.duration, Some(secs(60.0)));
        for t in [0.0, 10.0, 59.9] {
            assert_eq!(l.target_at(secs(t)), 50.0);
        }
        assert!(matches!(l.model, LoadModel::Open { rate, .. } if rate.as_per_second() == 50.0));
    }

    #[test]
    fn ramp_is_a_straight_line() {
        let l = open(Shape::Ramp {
            from: 10.0,
            to: 110.0,
            duration: secs(100.0),
        });
        for t in [0.0, 25.0, 50.0, 99.0] {
            assert!((l.target_at(secs(t)) - (10.0 + t)).abs() < 1e-9, "t={t}");
        }
    }

    #[test]
    fn steps_hold_equal_levels() {
        let l = open(Shape::Steps {
            from: 100.0,
            to: 400.0,
            steps: 4,
            step_duration: secs(10.0),
        });
        assert_eq!(l.duration, Some(secs(40.0)));
        for (t, want) in [
            (0.5, 100.0),
            (9.9, 100.0),
            (10.1, 200.0),
            (25.0, 300.0),
            (39.0, 400.0),
        ] {
            assert_eq!(l.target_at(secs(t)), want, "t={t}");
        }
    }

    #[test]
    fn spike_climbs_holds_and_returns() {
        let l = open(Shape::Spike {
            base: 10.0,
            peak: 110.0,
            before: secs(10.0),
            ramp: secs(10.0),
            hold: secs(20.0),
            after: secs(10.0),
        });
        assert_eq!(l.duration, Some(secs(60.0)));
        for (t, want) in [
            (5.0, 10.0),
            (15.0, 60.0),
            (30.0, 110.0),
            (45.0, 60.0),
            (55.0, 10.0),
        ] {
            assert!(
                (l.target_at(secs(t)) - want).abs() < 1e-9,
                "t={t}: {}",
                l.target_at(secs(t))
            );
        }
    }

    #[test]
    fn wave_follows_its_sine() {
        let (min, max, p) = (10.0, 90.0, 64.0);
        let l = open(Shape::Wave {
            min,
            max,
            period: secs(p),
            cycles: 2,
        });
        assert_eq!(l.duration, Some(secs(2.0 * p)));
        for i in 0..256 {
            let t = i as f64 * 0.5;
            let exact = min + (max - min) * (1.0 - (2.0 * PI * t / p).cos()) / 2.0;
            let got = l.target_at(secs(t));
            assert!(
                (got - exact).abs() <= 0.02 * (max - min),
                "t={t}: {got} vs {exact}"
            );
        }
        assert!((l.target_at(secs(p / 2.0)) - max).abs() < 1e-9);
    }

    #[test]
    fn daily_matches_its_curve() {
        let cycle = 240.0; // ten seconds per hour
        let l = open(Shape::Daily {
            min: 20.0,
            peak: 220.0,
            cycle: secs(cycle),
        });
        assert_eq!(l.duration, Some(secs(cycle)));
        for (hour, share) in [
            (3.0, 0.0),
            (7.5, 0.3),
            (11.0, 1.0),
            (13.0, 0.8),
            (16.0, 0.9),
            (20.0, 0.65),
            (23.0, 0.2),
        ] {
            let got = l.target_at(secs(cycle * hour / 24.0));
            let want = 20.0 + 200.0 * share;
            assert!((got - want).abs() < 1e-6, "hour {hour}: {got} vs {want}");
        }
    }

    #[test]
    fn closed_model_uses_the_shape_for_vus() {
        let l = LoadSpec {
            shape: Some(Shape::Ramp {
                from: 1.0,
                to: 5.0,
                duration: secs(4.0),
            }),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert_eq!(l.model, LoadModel::Closed { vus: 1 });
        assert_eq!(l.target_at(secs(2.0)), 3.0);
    }
}
