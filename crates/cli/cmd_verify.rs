//! `throng verify SCENARIO [--har FILE] [--base-url URL]`: runs each scenario once (one VU, no
//! think times) and compares every step with the HAR entry it was compiled from. Exit 0 when
//! every step matches, 1 otherwise, 2 on bad input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use throng_compiler::verify::{self, Observed, Verdict};
use throng_ir::{LoadSpec, Plan};
use throng_runner::{RunOptions, TraceEvent, TraceSink};

use crate::cmd_run::parse_vars;
use crate::EXIT_BAD_INPUT;

#[derive(clap::Args)]
pub struct Args {
    /// A scenario compiled from a HAR recording
    scenario: PathBuf,
    /// The recording (default: the `source.har` of the scenario's steps, relative to the
    /// scenario's folder)
    #[arg(long, value_name = "FILE")]
    har: Option<PathBuf>,
    /// Replace `vars.base_url`, e.g. http://127.0.0.1:8080
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// Set a variable (repeatable): --var user=alice
    #[arg(long = "var", value_name = "K=V")]
    vars: Vec<String>,
}

fn bad(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(EXIT_BAD_INPUT)
}

/// The recording named by the steps' provenance, resolved against the scenario's folder.
fn recording_of(plan: &Plan, scenario: &Path) -> Option<PathBuf> {
    let har = plan
        .scenarios
        .iter()
        .flat_map(|s| &s.steps)
        .find_map(|st| st.source.as_ref())?;
    let folder = scenario.parent().unwrap_or(Path::new("."));
    Some(folder.join(&har.har))
}

fn observed(e: TraceEvent) -> Observed {
    let response = e.response.as_ref();
    Observed {
        step: e.step,
        entry: e.source.map(|s| s.entry),
        status: response.map(|r| r.status),
        content_type: response.and_then(|r| {
            r.headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-type"))
                .map(|(_, v)| v.clone())
        }),
        body: response
            .and_then(|r| r.body.as_ref())
            .filter(|b| b.encoding == "text")
            .map(|b| b.text.clone()),
        error: if response.is_none() {
            e.error.map(|x| format!("{}: {}", x.category, x.message))
        } else {
            None
        },
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let plan = match throng_ir::load(&args.scenario) {
        Ok(p) => p,
        Err(e) => return Ok(bad(e)),
    };
    let Some(har_path) = args
        .har
        .clone()
        .or_else(|| recording_of(&plan, &args.scenario))
    else {
        return Ok(bad(format!(
            "{}: no step records its source (`source: {{har, entry}}`, written by `throng \
             compile`); name the recording with --har",
            args.scenario.display()
        )));
    };
    let har = match verify::load_recording(&har_path) {
        Ok(h) => h,
        Err(e) => return Ok(bad(e)),
    };
    let vars = match parse_vars(&args.vars) {
        Ok(v) => v,
        Err(e) => return Ok(bad(e)),
    };
    let env = match throng_runner::sidecar_env(&args.scenario) {
        Ok(e) => e,
        Err(e) => return Ok(bad(e)),
    };

    println!(
        "verifying {} against {} ({} entries)",
        args.scenario.display(),
        har_path.display(),
        har.entries.len()
    );
    let mut all_match = true;
    for scenario in &plan.scenarios {
        // One scenario at a time, once, so every step runs and in order.
        let mut one = plan.clone();
        one.scenarios = vec![scenario.clone()];
        one.thresholds.clear();
        let (sink, events) = TraceSink::channel();
        let opts = RunOptions {
            base_url: args.base_url.clone(),
            vars: vars.clone(),
            load: LoadSpec {
                vus: Some(1),
                iterations: Some(1),
                ..Default::default()
            },
            no_think: true,
            quiet: true,
            env: env.clone(),
            trace: Some(sink),
            ..RunOptions::default()
        };
        if let Err(e) = crate::execute::run_plan(one, opts, None)? {
            return Ok(bad(e));
        }
        let seen: Vec<Observed> = events.try_iter().map(observed).collect();
        let result = verify::verify(&har, &scenario.steps, &seen);
        all_match &= result.all_match();
        print_verification(&scenario.name, &result);
    }
    Ok(if all_match {
        println!("every step matches the recording");
        ExitCode::SUCCESS
    } else {
        ExitCode::from(crate::EXIT_FAILED)
    })
}

/// Long values (tokens) shortened for the console: enough to recognise, not to reuse.
fn excerpt(v: &str) -> String {
    if v.chars().count() <= 24 {
        v.to_string()
    } else {
        format!("{}…", v.chars().take(16).collect::<String>())
    }
}

fn print_verification(scenario: &str, v: &verify::Verification) {
    let width = v
        .steps
        .iter()
        .map(|s| s.step.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("\nscenario {scenario}:");
    println!(
        "  {:<width$}  {:<22}  {:<22}  verdict",
        "step", "recorded", "replayed"
    );
    let show = |x: &Option<(String, String)>| match x {
        Some((s, t)) if t.is_empty() => s.clone(),
        Some((s, t)) => format!("{s} {t}"),
        None => "-".to_string(),
    };
    for s in &v.steps {
        let recorded = s.recorded.as_ref().map(|(a, b)| (a.to_string(), b.clone()));
        let replayed = s.replayed.as_ref().map(|(a, b)| (a.to_string(), b.clone()));
        println!(
            "  {:<width$}  {:<22}  {:<22}  {}",
            s.step,
            show(&recorded),
            show(&replayed),
            s.verdict.label()
        );
    }
    if let Some(d) = &v.first_divergence {
        println!("\nfirst divergence: step `{}`", d.step);
        for r in &d.reasons {
            println!("  - {r}");
        }
        for h in &d.hints {
            println!(
                "  hint: `{}` is sent as a literal, but the server made it: it first appeared in \
                 the recorded response of `{}`.",
                excerpt(&h.literal),
                h.producer
            );
            if let Some(now) = &h.replayed {
                println!(
                    "        In this run that response held `{}` instead.",
                    excerpt(now)
                );
            }
            println!(
                "        Missing correlation: add `extract: {{{}: {}}}` to step `{}` and send \
                 `{{{{ {} }}}}` instead of the literal.",
                h.variable, h.extractor, h.producer, h.variable
            );
        }
    }
    for s in &v.steps {
        if let Verdict::Differs(r) = &s.verdict {
            if v.first_divergence
                .as_ref()
                .is_some_and(|d| d.step == s.step)
            {
                continue;
            }
            println!("  `{}` also differs: {}", s.step, r.join("; "));
        }
    }
}
