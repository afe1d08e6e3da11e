//! Running a plan from the command line: a multi-thread runtime with one worker per core,
//! and SIGINT/SIGTERM turned into a graceful stop, then an immediate one on the second signal.

use std::time::Duration;

use throng_ir::Plan;
use throng_runner::results::RunResults;
use throng_runner::{RunError, RunOptions, Stopper};

/// A metrics endpoint served while the run lasts (`--prometheus`).
pub type Endpoint = (
    std::net::TcpListener,
    std::sync::Arc<crate::prometheus::Exposition>,
);

/// Runs `plan` to completion or interruption; results come back either way.
pub fn run_plan(
    plan: Plan,
    opts: RunOptions,
    endpoint: Option<Endpoint>,
) -> anyhow::Result<Result<RunResults, RunError>> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("throng-vu")
        .enable_all()
        .build()?;
    let server = endpoint
        .map(|(listener, exposition)| rt.spawn(crate::prometheus::serve(listener, exposition)));
    let result = rt.block_on(async move {
        let stopper = Stopper::new();
        let signals = stopper.clone();
        let listener = tokio::spawn(async move {
            #[cfg(unix)]
            {
                use tokio::signal::unix::{signal, SignalKind};
                let (Ok(mut int), Ok(mut term)) = (
                    signal(SignalKind::interrupt()),
                    signal(SignalKind::terminate()),
                ) else {
                    return;
                };
                loop {
                    tokio::select! {
                        _ = int.recv() => {}
                        _ = term.recv() => {}
                    }
                    signals.escalate();
                }
            }
            #[cfg(not(unix))]
            loop {
                if tokio::signal::ctrl_c().await.is_err() {
                    return;
                }
                signals.escalate();
            }
        });
        let r = throng_runner::run(plan, opts, stopper).await;
        listener.abort();
        r
    });
    if let Some(server) = server {
        server.abort();
    }
    // Connection tasks of VUs may still be parked; don't wait for them.
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(result)
}
