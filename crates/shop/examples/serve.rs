//! Stand-alone shop server for scripts: `cargo run -p throng-shop --example serve -- [ADDR] [--seed-users N]`.
//!
//! Prints `listening on http://ADDR` as its first stdout line (the same line
//! `throng shop` prints) so callers can bind port 0 and read the real port.

use std::io::Write as _;

use throng_shop::{serve, Shop, ShopOptions};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> std::io::Result<()> {
    let mut addr = "127.0.0.1:8080".to_owned();
    let mut opts = ShopOptions::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--seed-users" => {
                let n = args.next().unwrap_or_default();
                opts.seed_users = n.parse().map_err(|_| {
                    std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        format!("bad --seed-users {n:?}"),
                    )
                })?;
            }
            "--addr" => addr = args.next().unwrap_or(addr),
            other => addr = other.to_owned(),
        }
    }
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let bound = listener.local_addr()?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "listening on http://{bound}")?;
    out.flush()?;
    drop(out);
    serve(listener, Shop::new(opts), shutdown_signal()).await
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
