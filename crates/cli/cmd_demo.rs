//! `throng demo`: the whole loop in one command, touching nothing beyond loopback.
//!
//! Starts the bundled shop on a free 127.0.0.1 port, compiles the bundled storefront
//! recording (HAR) and the shop's OpenAPI document into scenario files, mixes them with a
//! browse-and-search share into one open-model load, runs it, prints the summary, writes
//! the HTML report, and stops the shop. The scenario files stay in `--keep DIR` for editing.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use throng_compiler::openapi::{Flow, OpenApiOptions};
use throng_compiler::CompileOptions;
use throng_ir::{JsonTemplate, LoadSpec, Plan, Rate, Template, Threshold};
use throng_runner::RunOptions;

use crate::execute::run_plan;
use crate::output::{check_writable, write_html, write_private};

const BROWSE_YAML: &str = include_str!("../../templates/demo-browse.yaml");

#[derive(clap::Args)]
pub struct Args {
    /// Keep the generated scenarios, recording, spec and results in this folder
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// How long the mixed load runs
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Iterations started per second (open model)
    #[arg(long, default_value = "20/s")]
    rate: String,
    /// Where to write the HTML report
    #[arg(long, value_name = "FILE", default_value = "throng-report.html")]
    report: PathBuf,
    /// Print only the final summary
    #[arg(long)]
    quiet: bool,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    throng_ir::parse_duration(s)
}

/// A folder for the demo's files that is removed at the end unless the user keeps it.
struct Workdir {
    path: PathBuf,
    keep: bool,
}

impl Drop for Workdir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let rate = Rate::parse(&args.rate).map_err(|e| anyhow::anyhow!("--rate: {e}"))?;
    check_writable(&args.report).map_err(|e| anyhow::anyhow!(e))?;
    let dir = match &args.keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            Workdir {
                path: d.clone(),
                keep: true,
            }
        }
        None => {
            let d = std::env::temp_dir().join(format!("throng-demo-{}", std::process::id()));
            std::fs::create_dir_all(&d)
                .with_context(|| format!("cannot create {}", d.display()))?;
            Workdir {
                path: d,
                keep: false,
            }
        }
    };
    let say = |n: u32, text: String| {
        if !args.quiet {
            eprintln!("[{n}/5] {text}");
        }
    };

    let shop = throng_shop::spawn(throng_shop::ShopOptions::default());
    let base = shop.base_url();
    say(
        1,
        format!("started the demo shop at {base} (loopback only; stopped at the end)"),
    );

    let har = dir.path.join("storefront.har");
    std::fs::write(&har, throng_shop::STOREFRONT_HAR)
        .with_context(|| format!("cannot write {}", har.display()))?;
    let storefront = throng_compiler::compile_bytes(
        throng_shop::STOREFRONT_HAR.as_bytes(),
        "storefront.har",
        &CompileOptions {
            name: Some("storefront".into()),
            think: true,
            max_think: Duration::from_secs(1),
            har_label: Some("storefront.har".into()),
            ..CompileOptions::default()
        },
    )?;
    let storefront_yaml = dir.path.join("storefront.yaml");
    write(&storefront_yaml, &storefront.yaml)?;
    write_private(
        &throng_ir::envfile::sidecar_path(&storefront_yaml),
        &throng_ir::envfile::render(&storefront.env),
    )?;
    say(
        2,
        format!(
            "compiled a browser recording of the storefront ({} requests) into {} steps with {} inferred correlations: {}",
            storefront.report.entries_read,
            storefront.report.kept,
            storefront.report.correlations.len(),
            storefront_yaml.display()
        ),
    );

    let spec = dir.path.join("shop-openapi.json");
    std::fs::write(&spec, throng_shop::OPENAPI_JSON)
        .with_context(|| format!("cannot write {}", spec.display()))?;
    let api = throng_compiler::openapi::compile_spec(
        &spec,
        &OpenApiOptions {
            name: Some("api".into()),
            // The smoke flow calls /delay and /stream, whose deliberate slowness would
            // drown the mix's percentiles; the CRUD flows are the API's real journeys.
            flows: vec![Flow::Crud],
            ..OpenApiOptions::default()
        },
    )?;
    let api_yaml = dir.path.join("api.yaml");
    write(&api_yaml, &api.yaml)?;
    say(
        3,
        format!(
            "compiled the shop's OpenAPI document ({} operations) into chained flows: {}",
            api.report.covered(),
            api_yaml.display()
        ),
    );

    let browse_yaml = dir.path.join("browse.yaml");
    write(&browse_yaml, BROWSE_YAML)?;
    let parts = vec![
        (retarget(throng_ir::load(&browse_yaml)?, &base), 4),
        (retarget(throng_ir::load(&storefront_yaml)?, &base), 3),
        (retarget(throng_ir::load(&api_yaml)?, &base), 1),
    ];
    let mut mix = Plan::combine("throng-demo", parts).map_err(|e| anyhow::anyhow!(e))?;
    mix.load = LoadSpec {
        rate: Some(rate),
        duration: Some(args.duration),
        max_vus: Some(500),
        ..LoadSpec::default()
    };
    mix.thresholds = ["error_rate < 1%", "p95 < 500ms", "checks > 99%"]
        .iter()
        .map(|t| Threshold::parse(t).map_err(|e| anyhow::anyhow!(e)))
        .collect::<anyhow::Result<_>>()?;
    let mix_yaml = dir.path.join("demo-mix.yaml");
    write(&mix_yaml, &format!("# The demo's mixed load, written by `throng demo`. Re-run it against a shop:\n#   throng shop --addr 127.0.0.1:8080 &\n#   throng run {} --base-url http://127.0.0.1:8080\n{}", mix_yaml.display(), throng_ir::to_yaml(&mix)))?;
    write_private(
        &throng_ir::envfile::sidecar_path(&mix_yaml),
        &throng_ir::envfile::render(&storefront.env),
    )?;
    // Load the file back: the run executes exactly what the user can open and edit.
    let mix = throng_ir::load(&mix_yaml)?;
    let shares: Vec<String> = {
        let total: u32 = mix.scenarios.iter().map(|s| s.weight).sum();
        mix.scenarios
            .iter()
            .map(|s| format!("{} {}%", s.name, s.weight * 100 / total.max(1)))
            .collect()
    };
    say(
        4,
        format!(
            "running {} iterations/s for {} (open model) over a mix of {}",
            rate.as_per_second(),
            throng_ir::format_duration(args.duration),
            shares.join(", ")
        ),
    );
    let opts = RunOptions {
        base_url: Some(base.clone()),
        env: throng_runner::sidecar_env(&mix_yaml)?,
        grace: Duration::from_secs(5),
        quiet: args.quiet,
        progress_every: Duration::from_secs(5),
        live: (!args.quiet).then(|| {
            throng_runner::LiveFeed(std::sync::Arc::new(crate::progress::Progress::for_stderr(
                Duration::from_secs(5),
            )))
        }),
        ..RunOptions::default()
    };
    let results = match run_plan(mix, opts, None)? {
        Ok(r) => r,
        Err(e) => bail!("the demo run failed to start: {e}"),
    };
    println!("{}", results.summary());
    let results_json = dir.path.join("results.json");
    results
        .write_json(&results_json)
        .with_context(|| format!("cannot write {}", results_json.display()))?;
    write_html(&results, &args.report)?;
    drop(shop);
    say(
        5,
        format!(
            "wrote {} and stopped the shop{}",
            args.report.display(),
            if dir.keep {
                format!(
                    "; scenarios, recording, spec and results are in {}",
                    dir.path.display()
                )
            } else {
                String::new()
            }
        ),
    );
    Ok(ExitCode::from(results.exit_code()))
}

/// Points a plan at the running shop (the recorded and documented origins differ).
fn retarget(mut plan: Plan, base: &str) -> Plan {
    if let Ok(t) = Template::parse(base) {
        plan.vars.insert("base_url".into(), JsonTemplate::String(t));
    }
    plan
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}
