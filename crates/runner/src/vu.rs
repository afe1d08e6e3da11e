//! A virtual user: runs iterations of a scenario, step by step, with its own variables and
//! randomness, handing each step to `step` with its user agent (connections, cookie jar).
//! A panic in an iteration is caught by the engine and ended here (`Vu::crashed`).
//!
//! Uses `step`, `plan`, `client` (to make a VU's agent), `feeders`, `trace` and
//! `report::metrics`.

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use minijinja::Value;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use throng_ir::{OnFail, Think};

use crate::client::Agent;
use crate::feeders::FeederData;
use crate::plan::{Program, ScenarioPlan};
use crate::report::metrics::{Category, RequestRecord, Shards};
use crate::step::{Env, User};

/// State shared by every VU of a run.
pub struct Shared {
    pub program: Program,
    pub feeders: Vec<FeederData>,
    pub shards: Shards,
    pub no_think: bool,
    pub run_seed: u64,
    /// Set when no new iteration may start (end of duration, signal, data exhausted).
    pub stop_new: AtomicBool,
    pub iteration_limit: Option<u64>,
    pub iterations_claimed: AtomicU64,
    /// Iterations running right now, for the timeline's `vus`.
    pub active: AtomicU64,
    pub data_exhausted: AtomicBool,
    /// This process's share of the load.
    pub segment: throng_ir::Segment,
    /// The run's TLS client, shared by every VU's connections.
    pub tls: crate::client::Tls,
    /// Where trace events go; None: no tracing, nothing captured.
    pub trace: Option<crate::trace::TraceSink>,
}

impl Shared {
    /// Reserves one iteration of the total budget; false when none is left or the run is ending.
    pub fn claim_iteration(&self) -> bool {
        if self.stop_new.load(Ordering::Relaxed) {
            return false;
        }
        match self.iteration_limit {
            Some(n) => self.iterations_claimed.fetch_add(1, Ordering::Relaxed) < n,
            None => true,
        }
    }

    pub fn more_iterations(&self) -> bool {
        !self.stop_new.load(Ordering::Relaxed)
            && self
                .iteration_limit
                .is_none_or(|n| self.iterations_claimed.load(Ordering::Relaxed) < n)
    }
}

/// How an iteration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IterEnd {
    Done {
        failed: bool,
    },
    /// A unique feeder ran out: the iteration did not start and the run should end.
    NoData,
}

pub struct Vu {
    /// 1-based, global.
    pub id: u64,
    pub(crate) iteration: u64,
    /// The scenario of the running iteration.
    pub(crate) scenario: usize,
    /// What keys this iteration's randomness, independent of how the load is split:
    /// (global VU, its iteration) in the closed model, the global arrival in the open one.
    key: [u64; 2],
    /// What its steps work with: connections, cookie jar, request timer, randomness.
    user: User,
    /// The step the running iteration is in, to attribute a panic to it.
    at_step: usize,
}

fn seed(parts: &[u64]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    parts.hash(&mut h);
    h.finish()
}

/// An iteration's variables: the run's constant ones, shared by every VU, under a small
/// overlay of what this iteration set (vu, iteration, feeder rows, computed and extracted
/// variables; a later value of a name replaces the earlier one). Seen by templates as a map.
#[derive(Debug, Clone)]
pub(crate) struct Vars {
    base: Arc<BTreeMap<String, Value>>,
    over: Vec<(Arc<str>, Value)>,
}

impl Vars {
    fn set(&mut self, k: Arc<str>, v: Value) {
        match self.over.iter_mut().find(|(n, _)| *n == k) {
            Some(e) => e.1 = v,
            None => self.over.push((k, v)),
        }
    }

    /// The template context: a snapshot of the variables now.
    fn ctx(&self) -> Value {
        Value::from_object(self.clone())
    }
}

impl minijinja::value::Object for Vars {
    fn repr(self: &Arc<Self>) -> minijinja::value::ObjectRepr {
        minijinja::value::ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.get_value_by_str(key.as_str()?)
    }

    fn get_value_by_str(self: &Arc<Self>, key: &str) -> Option<Value> {
        match self.over.iter().find(|(n, _)| &**n == key) {
            Some((_, v)) => Some(v.clone()),
            None => self.base.get(key).cloned(),
        }
    }

    fn enumerate(self: &Arc<Self>) -> minijinja::value::Enumerator {
        let mut keys: std::collections::BTreeSet<&str> =
            self.base.keys().map(String::as_str).collect();
        keys.extend(self.over.iter().map(|(k, _)| &**k));
        minijinja::value::Enumerator::Values(keys.into_iter().map(Value::from).collect())
    }
}

/// What a VU's steps read of the run, and who is running them.
fn env(sh: &Shared, vu: u64, iteration: u64, scenario: usize) -> Env<'_> {
    Env {
        secrets: &sh.program.secrets,
        shards: &sh.shards,
        trace: sh.trace.as_ref(),
        vu,
        iteration,
        scenario: &sh.program.scenarios[scenario].name,
    }
}

/// The text a panic carried (`panic!("...")` gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    match (
        payload.downcast_ref::<&str>(),
        payload.downcast_ref::<String>(),
    ) {
        (Some(s), _) => (*s).to_string(),
        (_, Some(s)) => s.clone(),
        _ => "a panic without a message".to_string(),
    }
}

/// Records one failed request of category `internal` for `step`.
pub(crate) fn record_internal(sh: &Shared, step: usize, message: &str) {
    sh.shards.local().request(RequestRecord {
        step,
        service: Duration::ZERO,
        error: Some((Category::Internal, None, message)),
        checks_passed: 0,
        checks_failed: 0,
        status: None,
    });
}

/// A pause drawn from a think time.
pub fn think_duration(t: &Think, rng: &mut impl Rng) -> Duration {
    match *t {
        Think::Fixed(d) => d,
        Think::Uniform { min, max } if max > min => {
            Duration::from_nanos(rng.random_range(min.as_nanos() as u64..=max.as_nanos() as u64))
        }
        Think::Uniform { min, .. } => min,
    }
}

impl Vu {
    pub fn new(id: u64, run_seed: u64, tls: &crate::client::Tls) -> Vu {
        Vu {
            id,
            iteration: 0,
            scenario: 0,
            key: [id, 0],
            user: User {
                agent: Agent::new(tls.clone()),
                timer: None,
                rng: SmallRng::seed_from_u64(seed(&[run_seed, id])),
            },
            at_step: 0,
        }
    }

    fn pick<'p>(&mut self, program: &'p Program) -> &'p ScenarioPlan {
        if program.scenarios.len() == 1 {
            return &program.scenarios[0];
        }
        let mut r = self.user.rng.random_range(0..program.total_weight);
        for s in &program.scenarios {
            if r < s.weight as u64 {
                return s;
            }
            r -= s.weight as u64;
        }
        &program.scenarios[0]
    }

    /// Starts an iteration: counts it and reseeds the VU's randomness (scenario choice,
    /// random rows, think times) from the run seed and the global key.
    pub fn begin(&mut self, sh: &Shared, arrival: Option<u64>) {
        self.iteration += 1;
        self.key = match arrival {
            Some(k) => [u64::MAX, k],
            None => [self.id, self.iteration],
        };
        self.user.rng = SmallRng::seed_from_u64(seed(&[sh.run_seed, self.key[0], self.key[1]]));
    }

    /// The scenario an iteration will run, picked before it starts so an interrupted
    /// iteration can be attributed.
    pub fn choose(&mut self, sh: &Shared) -> usize {
        self.pick(&sh.program).index
    }

    /// Runs one iteration of scenario `scenario`; `intended` is when it should have started.
    pub async fn iteration(&mut self, sh: &Shared, scenario: usize, intended: Instant) -> IterEnd {
        let scen = &sh.program.scenarios[scenario];
        self.scenario = scenario;
        let mut vars = Vars {
            base: sh.program.fixed_vars.clone(),
            over: Vec::with_capacity(2 + sh.feeders.len() + sh.program.var_keys.len()),
        };
        vars.set(sh.program.key_vu.clone(), Value::from(self.id));
        vars.set(
            sh.program.key_iteration.clone(),
            Value::from(self.iteration),
        );
        for f in &sh.feeders {
            match f.next(&mut self.user.rng) {
                Some(row) => {
                    vars.set(Arc::from(f.name.as_str()), row);
                }
                None => {
                    sh.data_exhausted.store(true, Ordering::Relaxed);
                    sh.stop_new.store(true, Ordering::Relaxed);
                    return IterEnd::NoData;
                }
            }
        }
        throng_ir::template::reseed(seed(&[sh.run_seed, self.key[0], self.key[1], 0]));
        for ((k, j), key) in sh.program.vars.iter().zip(&sh.program.var_keys) {
            if matches!(j, crate::plan::Json::Lit(_)) {
                continue;
            }
            let ctx = vars.ctx();
            match j.render_value(&ctx) {
                Ok(v) => {
                    vars.set(key.clone(), v);
                }
                Err(e) => {
                    let first = &scen.steps[0];
                    let msg = sh.program.secrets.message(
                        format!("variable `{k}`: {e}"),
                        &vars.ctx(),
                        &[],
                    );
                    if let Some(t) = &sh.trace {
                        let mut ev = env(sh, self.id, self.iteration, self.scenario)
                            .event(first, Duration::ZERO);
                        ev.failed = true;
                        ev.error = Some(crate::trace::TraceError {
                            category: Category::Template.as_str(),
                            message: msg.clone(),
                        });
                        t.emit(ev);
                    }
                    sh.shards.local().request(RequestRecord {
                        step: first.id,
                        service: Duration::ZERO,
                        error: Some((Category::Template, None, &msg)),
                        checks_passed: 0,
                        checks_failed: 0,
                        status: None,
                    });
                    sh.shards
                        .local()
                        .iteration(scen.index, intended.elapsed(), true, false);
                    return IterEnd::Done { failed: true };
                }
            }
        }
        self.user.agent.jar.clear();
        self.at_step = scen.steps[0].id;
        let mut ctx = vars.ctx();
        let mut failed = false;
        let last = scen.steps.len().saturating_sub(1);
        for (i, step) in scen.steps.iter().enumerate() {
            throng_ir::template::reseed(seed(&[
                sh.run_seed,
                self.key[0],
                self.key[1],
                step.id as u64 + 1,
            ]));
            self.at_step = step.id;
            let env = env(sh, self.id, self.iteration, self.scenario);
            let r = crate::step::run(&mut self.user, &env, step, &ctx).await;
            if !r.extracted.is_empty() {
                for (k, v) in r.extracted {
                    vars.set(Arc::from(k), v);
                }
                ctx = vars.ctx();
            }
            if r.failed {
                failed = true;
                if step.on_fail == OnFail::Stop {
                    break;
                }
            }
            // No pause after the last step: it would only delay the next iteration's start
            // and inflate the iteration latency.
            if i < last && !sh.no_think {
                if let Some(t) = &step.think {
                    let d = think_duration(t, &mut self.user.rng);
                    if !d.is_zero() {
                        tokio::time::sleep(d).await;
                    }
                }
            }
        }
        sh.shards
            .local()
            .iteration(scen.index, intended.elapsed(), failed, false);
        IterEnd::Done { failed }
    }

    /// Ends an iteration that panicked: an `internal` error for the step it was in, the
    /// iteration failed, and the VU's connections dropped (one may be mid-exchange), so the
    /// VU can go on with its next iteration.
    pub(crate) fn crashed(
        &mut self,
        sh: &Shared,
        scenario: usize,
        intended: Instant,
        payload: &(dyn std::any::Any + Send),
    ) -> IterEnd {
        let step = sh
            .program
            .scenarios
            .iter()
            .flat_map(|s| &s.steps)
            .find(|st| st.id == self.at_step)
            .map_or("?", |st| st.name.as_str());
        let why = panic_message(payload);
        record_internal(
            sh,
            self.at_step,
            &format!(
                "throng panicked in step `{step}` and abandoned the iteration: {why} \
                 (a bug in throng, not in the target: please report it)"
            ),
        );
        self.user.agent.reset(sh.tls.clone());
        self.user.timer = None;
        sh.shards
            .local()
            .iteration(scenario, intended.elapsed(), true, false);
        IterEnd::Done { failed: true }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn think_times_stay_in_range() {
        let mut rng = SmallRng::seed_from_u64(3);
        let t = Think::Uniform {
            min: Duration::from_millis(100),
            max: Duration::from_millis(300),
        };
        let mut lo = Duration::MAX;
        let mut hi = Duration::ZERO;
        for _ in 0..2000 {
            let d = think_duration(&t, &mut rng);
            assert!(d >= Duration::from_millis(100) && d <= Duration::from_millis(300));
            lo = lo.min(d);
            hi = hi.max(d);
        }
        assert!(lo < Duration::from_millis(110) && hi > Duration::from_millis(290));
        assert_eq!(
            think_duration(&Think::Fixed(Duration::from_secs(2)), &mut rng),
            Duration::from_secs(2)
        );
    }
}
