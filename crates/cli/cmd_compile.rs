//! `throng compile INPUT`: HAR recordings and OpenAPI specs into scenario YAML.
//!
//! The library does the work; this module maps flags to `CompileOptions`, writes the
//! YAML and its sidecar `.env`, and prints the compile report on stderr.

use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use throng_compiler::openapi::{Flow, OpenApiOptions};
use throng_compiler::{CompileOptions, InputKind};

#[derive(clap::Args)]
pub struct Args {
    /// A HAR file or an OpenAPI document
    input: PathBuf,
    /// Write the scenario here instead of stdout (secrets go to OUT.env beside it)
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// Scenario name (default: the input file's name)
    #[arg(long)]
    name: Option<String>,
    /// Treat this host (and its subdomains) as first-party; repeatable
    #[arg(long = "include-host", value_name = "HOST")]
    include_host: Vec<String>,
    /// Drop requests to this host (and its subdomains); repeatable
    #[arg(long = "exclude-host", value_name = "HOST")]
    exclude_host: Vec<String>,
    /// Keep static assets (images, scripts, styles, fonts)
    #[arg(long)]
    keep_static: bool,
    /// Do not turn recorded pauses into think times
    #[arg(long)]
    no_think: bool,
    /// Longest think time kept from the recording
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    max_think: Duration,
    /// OpenAPI: the base URL (default: the spec's first server)
    #[arg(long, value_name = "URL")]
    base_url: Option<String>,
    /// OpenAPI: only operations whose operationId or `METHOD /path` matches
    #[arg(long, value_name = "REGEX")]
    operations: Option<String>,
    /// OpenAPI: which flows to emit (crud, smoke; default both)
    #[arg(long, value_name = "FLOWS", value_delimiter = ',', value_parser = parse_flow)]
    flows: Vec<Flow>,
}

fn parse_flow(s: &str) -> Result<Flow, String> {
    match s.trim() {
        "crud" => Ok(Flow::Crud),
        "smoke" => Ok(Flow::Smoke),
        other => Err(format!("unknown flow `{other}` (use crud, smoke)")),
    }
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    throng_ir::parse_duration(s)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if throng_compiler::detect_path(&args.input)? == InputKind::OpenApi {
        return compile_openapi(&args);
    }
    let har_label = match &args.out {
        Some(out) => relative_to_scenario(&args.input, out),
        None => args.input.display().to_string(),
    };
    let opts = CompileOptions {
        name: args.name.clone(),
        include_hosts: args.include_host.clone(),
        exclude_hosts: args.exclude_host.clone(),
        keep_static: args.keep_static,
        think: !args.no_think,
        max_think: args.max_think,
        har_label: Some(har_label),
    };
    let compiled = throng_compiler::compile(&args.input, &opts)?;
    let mut err = std::io::stderr().lock();
    match &args.out {
        Some(out) => {
            std::fs::write(out, &compiled.yaml)
                .with_context(|| format!("{}: cannot write", out.display()))?;
            if !compiled.env.is_empty() {
                let sidecar = throng_ir::envfile::sidecar_path(out);
                crate::output::write_private(&sidecar, &throng_ir::envfile::render(&compiled.env))
                    .with_context(|| format!("{}: cannot write", sidecar.display()))?;
                writeln!(
                    err,
                    "secrets written to {} (mode 0600), not to the YAML",
                    sidecar.display()
                )
                .ok();
            }
            writeln!(err, "wrote {}", out.display()).ok();
        }
        None => {
            std::io::stdout()
                .lock()
                .write_all(compiled.yaml.as_bytes())?;
            if !compiled.env.is_empty() {
                writeln!(
                    err,
                    "secrets ({}) were left out of the YAML; use -o to write them to a sidecar .env, or set them in the environment",
                    compiled.env.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")
                )
                .ok();
            }
        }
    }
    write!(err, "{}", compiled.report).ok();
    Ok(ExitCode::SUCCESS)
}

/// The input's path as seen from the scenario's folder, so `source.har` resolves there.
fn relative_to_scenario(input: &Path, out: &Path) -> String {
    let abs = |p: &Path| p.canonicalize().or_else(|_| std::path::absolute(p)).ok();
    let out_dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (Some(inp), Some(dir)) = (abs(input), abs(out_dir)) else {
        return input.display().to_string();
    };
    let (a, b) = (components(&inp), components(&dir));
    let common = a.iter().zip(b.iter()).take_while(|(x, y)| x == y).count();
    if common == 0 {
        return inp.display().to_string();
    }
    let mut rel = PathBuf::new();
    for _ in common..b.len() {
        rel.push("..");
    }
    for c in &a[common..] {
        rel.push(c.as_os_str());
    }
    rel.display().to_string()
}

fn components(p: &Path) -> Vec<Component<'_>> {
    p.components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect()
}

fn compile_openapi(args: &Args) -> anyhow::Result<ExitCode> {
    let operations = match &args.operations {
        Some(r) => Some(regex::Regex::new(r).map_err(|e| anyhow::anyhow!("--operations: {e}"))?),
        None => None,
    };
    let opts = OpenApiOptions {
        base_url: args.base_url.clone(),
        operations,
        flows: args.flows.clone(),
        name: args.name.clone(),
    };
    let compiled = throng_compiler::openapi::compile_spec(&args.input, &opts)?;
    let mut err = std::io::stderr().lock();
    match &args.out {
        Some(out) => {
            std::fs::write(out, &compiled.yaml)
                .with_context(|| format!("{}: cannot write", out.display()))?;
            writeln!(err, "wrote {}", out.display()).ok();
        }
        None => std::io::stdout()
            .lock()
            .write_all(compiled.yaml.as_bytes())?,
    }
    write!(err, "{}", compiled.report).ok();
    Ok(ExitCode::SUCCESS)
}
