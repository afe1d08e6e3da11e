//! `throng shop`: serve the bundled demo e-commerce API until interrupted.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args)]
pub struct Args {
    /// Address to listen on; port 0 picks a free port (the first stdout line tells which)
    #[arg(long, default_value = "127.0.0.1:8080")]
    addr: SocketAddr,
    /// Pre-create this many users (user1@example.com ... with password SecurePass123!)
    #[arg(long, default_value_t = 0)]
    seed_users: usize,
    /// With --seed-users: write the users as CSV (email,password,name) to this file
    #[arg(long, requires = "seed_users")]
    users_csv: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let shop = throng_shop::Shop::new(throng_shop::ShopOptions {
        seed_users: args.seed_users,
    });
    if let Some(path) = &args.users_csv {
        std::fs::write(path, shop.seeded_users_csv())
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let bound = listener.local_addr()?;
        // Scripts read the port from this first line, so it must reach them now.
        println!("listening on http://{bound}");
        std::io::stdout().flush()?;
        throng_shop::serve(listener, shop, shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Resolves on Ctrl-C or SIGTERM, so containers and scripts can stop the shop cleanly.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
