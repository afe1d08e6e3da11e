//! throng-shop: the bundled demo e-commerce API that load tests run against.
//!
//! All state is in memory and seeded deterministically (1000 products, and
//! optionally N pre-created users), so runs are reproducible. The server is
//! plain axum; [`spawn`] starts one on its own thread and runtime so tests in
//! any crate can use it whether or not they are async.

mod auth;
mod cart;
mod catalog;
mod error;
mod metrics;
mod misc;
mod orders;
mod products;
mod state;
mod stream;
mod timefmt;

use std::{future::Future, net::SocketAddr, sync::Arc, thread::JoinHandle, time::Duration};

use axum::{
    routing::{on, MethodFilter, MethodRouter},
    serve::ListenerExt,
    Router,
};
use serde::{Deserialize, Serialize};

pub use error::ApiError;

/// The shop's OpenAPI 3.1 document, as served at `GET /openapi.json`.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// A browser recording (HAR) of a person using the storefront: register, browse, search,
/// fill a cart, check out, view the order. `throng demo` compiles it.
pub const STOREFRONT_HAR: &str = include_str!("../../../fixtures/har/shop-checkout.har");
use state::{read, AppState, ShopState};

/// How the shop is set up at start.
#[derive(Debug, Clone, Default)]
pub struct ShopOptions {
    /// Users created at start; their credentials come from [`Shop::seeded_users_csv`].
    pub seed_users: usize,
}

/// Counts for tests and `GET /admin/stats`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ShopStats {
    pub users: usize,
    pub orders: usize,
    pub distinct_order_users: usize,
    pub carts: usize,
    pub requests_processed: u64,
}

/// The shop's shared state. Cloning is cheap and clones share everything.
#[derive(Clone)]
pub struct Shop {
    state: AppState,
}

impl Shop {
    pub fn new(opts: ShopOptions) -> Shop {
        Shop {
            state: Arc::new(ShopState::new(opts.seed_users)),
        }
    }

    /// Every route, with request counting applied.
    pub fn router(&self) -> Router {
        let mut router: Router<AppState> = Router::new();
        for r in routes() {
            router = router.route(r.path, r.handler);
        }
        router
            .fallback(misc::not_found)
            .method_not_allowed_fallback(misc::method_not_allowed)
            .layer(axum::middleware::from_fn_with_state(
                self.state.clone(),
                metrics::track,
            ))
            .with_state(self.state.clone())
    }

    pub fn stats(&self) -> ShopStats {
        stats_of(&self.state)
    }

    /// `email,password,name` header plus one line per pre-created user.
    pub fn seeded_users_csv(&self) -> String {
        self.state.seeded_csv.clone()
    }
}

pub(crate) fn stats_of(state: &ShopState) -> ShopStats {
    let (orders, distinct_order_users) = {
        let o = read(&state.orders);
        (o.by_id.len(), o.by_user.len())
    };
    ShopStats {
        users: read(&state.users).by_id.len(),
        orders,
        distinct_order_users,
        carts: state::lock(&state.carts).len(),
        requests_processed: state.metrics.requests_processed(),
    }
}

struct RouteDef {
    method: &'static str,
    path: &'static str,
    handler: MethodRouter<AppState>,
}

/// One line per (method, path) so the route list below is the single source
/// for both the router and [`route_list`] (which the OpenAPI test checks).
macro_rules! routes {
    ($($method:ident $path:literal => $handler:expr),* $(,)?) => {
        vec![$(RouteDef {
            method: stringify!($method),
            path: $path,
            handler: on(MethodFilter::$method, $handler),
        }),*]
    };
}

fn routes() -> Vec<RouteDef> {
    routes![
        GET "/" => misc::index,
        GET "/static/app.js" => misc::app_js,
        GET "/images/{file}" => misc::image,
        GET "/openapi.json" => misc::openapi,
        GET "/health" => misc::health,
        GET "/status" => misc::status,
        GET "/metrics" => misc::metrics,
        GET "/products" => products::list,
        GET "/products/{id}" => products::get,
        POST "/auth/register" => auth::register,
        POST "/auth/login" => auth::login,
        POST "/auth/logout" => auth::logout,
        GET "/users/me" => auth::me,
        GET "/cart" => cart::get,
        DELETE "/cart" => cart::clear,
        POST "/cart/items" => cart::add_item,
        PUT "/cart/items/{item_id}" => cart::update_item,
        DELETE "/cart/items/{item_id}" => cart::remove_item,
        POST "/checkout" => orders::checkout,
        GET "/orders" => orders::list,
        GET "/orders/{id}" => orders::get,
        GET "/bytes/{n}" => misc::bytes,
        GET "/csv" => misc::csv,
        GET "/html" => misc::html,
        GET "/delay/random" => misc::delay_random,
        GET "/delay/{ms}" => misc::delay,
        GET "/error/{code}" => misc::error,
        GET "/stream" => stream::sse,
        GET "/ws/echo" => stream::ws_echo,
        GET "/admin/stats" => misc::admin_stats,
        GET "/admin/users.csv" => misc::admin_users_csv,
    ]
}

/// Every `(METHOD, path template)` the router serves, in axum's `{param}` syntax.
#[doc(hidden)]
pub fn route_list() -> Vec<(&'static str, &'static str)> {
    routes().into_iter().map(|r| (r.method, r.path)).collect()
}

/// Serves the shop on `listener` until `shutdown` resolves, then drains
/// in-flight requests. The caller already knows the address from the listener.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shop: Shop,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // Small request/response pairs: Nagle would add latency for nothing.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, shop.router())
        .with_graceful_shutdown(shutdown)
        .await
}

/// A shop serving on 127.0.0.1 in the background; dropping it stops the server.
pub struct RunningShop {
    pub addr: SocketAddr,
    pub shop: Shop,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
}

impl RunningShop {
    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for RunningShop {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a shop on 127.0.0.1:0 on a dedicated thread with its own 2-worker
/// runtime, so it works from sync tests and from inside another runtime alike.
///
/// Panics if no loopback port can be bound or the runtime can't be built:
/// it is a test helper and there is nothing sensible to return instead.
pub fn spawn(opts: ShopOptions) -> RunningShop {
    let shop = Shop::new(opts);
    let listener =
        std::net::TcpListener::bind("127.0.0.1:0").expect("throng-shop: bind 127.0.0.1:0");
    listener
        .set_nonblocking(true)
        .expect("throng-shop: set listener non-blocking");
    let addr = listener
        .local_addr()
        .expect("throng-shop: listener address");
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let server_shop = shop.clone();
    let thread = std::thread::Builder::new()
        .name("throng-shop".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("throng-shop-worker")
                .enable_all()
                .build()
                .expect("throng-shop: build runtime");
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let mut graceful_rx = stop_rx.clone();
                let graceful = async move {
                    let _ = graceful_rx.wait_for(|stopped| *stopped).await;
                };
                let mut deadline_rx = stop_rx;
                // Open streams or websockets would stall a graceful drain forever;
                // give in-flight requests a second, then drop everything.
                let deadline = async move {
                    let _ = deadline_rx.wait_for(|stopped| *stopped).await;
                    tokio::time::sleep(Duration::from_secs(1)).await;
                };
                tokio::select! {
                    _ = serve(listener, server_shop, graceful) => {}
                    _ = deadline => {}
                }
            });
            rt.shutdown_timeout(Duration::from_millis(200));
        })
        .expect("throng-shop: spawn server thread");
    RunningShop {
        addr,
        shop,
        stop,
        thread: Some(thread),
    }
}
