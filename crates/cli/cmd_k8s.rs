//! `throng k8s SCENARIO --parallelism N`: Kubernetes manifests that run a scenario as an
//! Indexed Job, one load segment per pod, rendered from `templates/k8s-job.yaml.j2`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use minijinja::value::{Serde, Value};
use serde::Serialize;

const TEMPLATE: &str = include_str!("../../templates/k8s-job.yaml.j2");

#[derive(clap::Args)]
pub struct Args {
    /// The scenario file (its data files and sidecar .env go along)
    scenario: PathBuf,
    /// Number of pods; each runs segment JOB_COMPLETION_INDEX/N of the load
    #[arg(long)]
    parallelism: u32,
    /// Container image with the throng binary (see the Dockerfile)
    #[arg(long, default_value = "throng:latest")]
    image: String,
    /// Namespace for every object
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Job name (default: throng- plus the scenario's name)
    #[arg(long)]
    name: Option<String>,
    /// Directory inside the pods where results files are written
    #[arg(long, default_value = "/results")]
    results_dir: String,
    /// PersistentVolumeClaim to mount at --results-dir (default: an emptyDir; results also go to the log)
    #[arg(long)]
    results_claim: Option<String>,
    /// Shared start instant (unix ms or RFC 3339); default: now plus --start-delay
    #[arg(long)]
    start_at: Option<String>,
    /// With no --start-at: how far ahead of now the pods start together
    #[arg(long, default_value = "2m", value_parser = parse_duration)]
    start_delay: Duration,
    /// CPU request and limit per pod
    #[arg(long, default_value = "1")]
    cpu: String,
    /// Memory request and limit per pod
    #[arg(long, default_value = "512Mi")]
    memory: String,
    /// Extra arguments passed to `throng run` in every pod (e.g. --duration=5m)
    #[arg(long = "run-arg", allow_hyphen_values = true)]
    run_args: Vec<String>,
    /// Write the manifests here instead of stdout
    #[arg(short, long)]
    out: Option<PathBuf>,
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    throng_ir::parse_duration(s)
}

#[derive(Serialize)]
struct File {
    key: String,
    path: String,
    content: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.parallelism == 0 || args.parallelism > 10_000 {
        bail!("--parallelism must be between 1 and 10000");
    }
    let plan = throng_ir::load(&args.scenario)?;
    let scenario_file = file_name(&args.scenario)?;
    let mut files = vec![File {
        key: config_key(&scenario_file),
        path: scenario_file.clone(),
        content: read(&args.scenario)?,
    }];
    for feeder in plan.data.values() {
        let path = feeder.csv.to_string_lossy().replace('\\', "/");
        if files.iter().any(|f| f.path == path) {
            continue;
        }
        files.push(File {
            key: config_key(&path),
            path,
            content: read(&feeder.resolved)?,
        });
    }
    let sidecar = throng_ir::envfile::sidecar_path(&args.scenario);
    let secrets = if sidecar.exists() {
        let path = file_name(&sidecar)?;
        Some(File {
            key: config_key(&path),
            path,
            content: read(&sidecar)?,
        })
    } else {
        None
    };
    let job = args
        .name
        .clone()
        .unwrap_or_else(|| dns_label(&format!("throng-{}", plan.name)));
    if job.is_empty() || job.len() > 52 || !is_dns_label(&job) {
        bail!("job name `{job}` must be a DNS label of at most 52 characters (lowercase letters, digits, '-')");
    }
    let start_at = match &args.start_at {
        Some(s) => s.clone(),
        None => {
            let at = SystemTime::now() + args.start_delay;
            at.duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
                .to_string()
        }
    };
    let mut env = minijinja::Environment::new();
    env.add_template("k8s", TEMPLATE)?;
    let yaml = env.get_template("k8s")?.render(minijinja::context! {
        name => plan.name,
        job => job,
        namespace => args.namespace,
        parallelism => args.parallelism,
        image => args.image,
        scenario_file => scenario_file,
        files => Value::from(Serde(&files)),
        secrets => Value::from(Serde(&secrets)),
        start_at => start_at,
        results_dir => args.results_dir,
        results_claim => args.results_claim,
        cpu => args.cpu,
        memory => args.memory,
        extra_args => args.run_args,
    })? + "\n";
    match &args.out {
        Some(path) => std::fs::write(path, yaml)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{yaml}"),
    }
    Ok(ExitCode::SUCCESS)
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

fn file_name(path: &Path) -> anyhow::Result<String> {
    Ok(path
        .file_name()
        .with_context(|| format!("{} has no file name", path.display()))?
        .to_string_lossy()
        .to_string())
}

/// ConfigMap keys allow `[-._a-zA-Z0-9]`; folders are restored by the volume's `items`.
fn config_key(path: &str) -> String {
    path.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn dns_label(text: &str) -> String {
    let mut out = String::new();
    for c in text.to_ascii_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(52);
    out.trim_matches('-').to_string()
}

fn is_dns_label(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}
