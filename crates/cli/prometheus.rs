//! `--prometheus ADDR`: serves the live metrics at `GET /metrics` in the Prometheus text
//! format while the run lasts, so a Grafana dashboard can watch a long run. The text is
//! rendered once a second from the runner's snapshot; a scrape only copies it.

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use throng_runner::{LiveSnapshot, Observer};

/// The latest exposition text.
#[derive(Default)]
pub struct Exposition(Mutex<String>);

impl Observer for Exposition {
    fn tick(&self, s: &LiveSnapshot) {
        let text = throng_runner::prometheus_text(s);
        if let Ok(mut t) = self.0.lock() {
            *t = text;
        }
    }
}

/// Binds the endpoint before the run starts, so a taken port or a bad address is bad input.
pub fn bind(addr: &str) -> Result<TcpListener, String> {
    let parsed: SocketAddr = addr
        .parse()
        .map_err(|_| format!("--prometheus `{addr}`: expected IP:PORT, e.g. 127.0.0.1:9464"))?;
    let listener = TcpListener::bind(parsed)
        .map_err(|e| format!("--prometheus {addr}: cannot listen: {e}"))?;
    listener
        .set_nonblocking(true)
        .map_err(|e| format!("--prometheus {addr}: {e}"))?;
    Ok(listener)
}

/// Serves `/metrics` until the task is dropped.
pub async fn serve(listener: TcpListener, exposition: Arc<Exposition>) {
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let exposition = exposition.clone();
            async move {
                let body = exposition.0.lock().map(|t| t.clone()).unwrap_or_default();
                (
                    [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    body,
                )
            }
        }),
    );
    let _ = axum::serve(listener, app).await;
}
