//! Running a plan from the command line: a multi-thread runtime with one worker per core (on
//! one core, a current-thread runtime: no hand-offs between the thread that waits on the run
//! and the worker, which cost a context switch each), and SIGINT/SIGTERM turned into a
//! graceful stop, then an immediate one on the second signal.

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
    raise_open_file_limit();
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let rt = if workers == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("throng-vu")
            .enable_all()
            .build()?
    };
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
    // Tasks of VUs may still be parked (an abandoned stream, say); don't wait for them.
    rt.shutdown_timeout(Duration::from_millis(100));
    Ok(result)
}

/// Raises the soft open-file limit to the hard one: every VU holds a socket per origin, and
/// the usual soft limit (1024) is below a run of a few thousand VUs while the hard one rarely
/// is. Harmless when already high enough; a failure leaves the limit as it was.
fn raise_open_file_limit() {
    #[cfg(unix)]
    // SAFETY: getrlimit/setrlimit only read/write the struct passed by reference.
    unsafe {
        let mut lim = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            // macOS refuses more than OPEN_MAX for the soft limit of an unlimited hard one.
            let want = if lim.rlim_max == libc::RLIM_INFINITY {
                1 << 20
            } else {
                lim.rlim_max
            };
            if want > lim.rlim_cur {
                lim.rlim_cur = want;
                libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            }
        }
    }
}
