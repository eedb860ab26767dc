//! Starting and stopping a simulator: [`start`], [`start_blocking`], [`MockServer`].

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::oneshot;

use crate::config::MockConfig;
use crate::data::World;
use crate::error::MockError;
use crate::faults::{Faults, Latency};
use crate::ids::Kind;
use crate::ratelimit::RateLimiter;
use crate::render::time;
use crate::routes::{router, AppState};
use crate::stats::{Recorder, Stats};
use crate::truth::Dataset;

/// A running simulator. Dropping it (or calling [`MockServer::shutdown`]) stops it.
pub struct MockServer {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub base_url: String,
    state: Arc<AppState>,
    shutdown: Option<oneshot::Sender<()>>,
    background: Option<Background>,
}

/// The runtime thread of [`start_blocking`].
struct Background {
    stop: std::sync::mpsc::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

/// What `POST /__mock/churn` (or [`MockServer::churn`]) changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChurnReport {
    /// When the changes happened (RFC 3339); every new log entry has this `created_at`.
    pub at: String,
    /// IDs of the new triggered incidents.
    pub created: Vec<String>,
    /// IDs of the incidents that were resolved.
    pub resolved: Vec<String>,
}

/// Starts a simulator on `127.0.0.1` with a free port.
///
/// # Errors
/// [`MockError::InvalidConfig`] for out-of-range settings, [`MockError::Bind`] if no
/// loopback port can be bound.
pub async fn start(config: MockConfig) -> Result<MockServer, MockError> {
    start_on_port(config, 0).await
}

/// Like [`start`], on a chosen loopback port (0 picks a free one).
///
/// # Errors
/// As [`start`].
pub async fn start_on_port(config: MockConfig, port: u16) -> Result<MockServer, MockError> {
    let plan = config.plan()?;
    let world = Arc::new(World::new(plan));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.map_err(MockError::Bind)?;
    let addr = listener.local_addr().map_err(MockError::Bind)?;
    let base_url = format!("http://{addr}");
    let state = Arc::new(AppState {
        world: Arc::clone(&world),
        base_url: base_url.clone(),
        token: config.token.clone(),
        account_token: config.account_token.clone(),
        latency: Latency::new(
            config.seed,
            Duration::from_millis(config.latency_ms),
            Duration::from_millis(config.latency_jitter_ms),
        ),
        missing_abilities: config.missing_abilities.clone(),
        limiter: RateLimiter::new(config.rate_limit_rpm, Duration::from_secs(config.rate_limit_window_secs)),
        faults: Faults::new(config.seed, config.fail_rate),
        stats: Recorder::default(),
    });
    let app = router(Arc::clone(&state));
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        // Not a graceful shutdown: idle keep-alive connections must not keep it alive.
        tokio::select! {
            _ = axum::serve(listener, app) => {}
            _ = rx => {}
        }
    });
    world.prebuild_log_index();
    Ok(MockServer { base_url, state, shutdown: Some(tx), background: None })
}

/// Like [`start`], but runs its own tokio runtime on a background thread, for tests
/// that are not async.
///
/// # Errors
/// As [`start`], plus [`MockError::Runtime`] if the runtime cannot be created.
pub fn start_blocking(config: MockConfig) -> Result<MockServer, MockError> {
    let (server_tx, server_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("pagerduty-mock".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = server_tx.send(Err(MockError::Runtime(e.to_string())));
                    return;
                }
            };
            let started = rt.block_on(start(config));
            let ok = started.is_ok();
            let _ = server_tx.send(started);
            if ok {
                // The runtime's workers serve; this thread only waits for the stop signal.
                let _ = stop_rx.recv();
            }
            rt.shutdown_background();
        })
        .map_err(|e| MockError::Runtime(e.to_string()))?;
    let mut server =
        server_rx.recv().map_err(|_| MockError::Runtime("the runtime thread exited before starting".into()))??;
    server.background = Some(Background { stop: stop_tx, thread });
    Ok(server)
}

impl MockServer {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Request counters (the same data as `GET /__mock/stats`).
    pub fn stats(&self) -> Stats {
        self.state.stats.snapshot()
    }

    /// Clears the request counters.
    pub fn reset_stats(&self) {
        self.state.stats.reset();
    }

    /// Adds `new` triggered incidents and resolves `resolve` open ones, now.
    pub fn churn(&self, new: u64, resolve: u64) -> ChurnReport {
        apply_churn(&self.state.world, new, resolve)
    }

    /// Ground truth about the served data, including churn.
    pub fn dataset(&self) -> Dataset {
        Dataset::new(Arc::clone(&self.state.world))
    }

    /// Stops the server.
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.state.world.cancel_background_work();
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(bg) = self.background.take() {
            drop(bg.stop);
            let _ = bg.thread.join();
        }
    }
}

impl std::fmt::Debug for MockServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockServer").field("base_url", &self.base_url).finish_non_exhaustive()
    }
}

/// Applies a churn at the current wall-clock time (or later, to stay after all data).
pub(crate) fn apply_churn(world: &World, new: u64, resolve: u64) -> ChurnReport {
    let wall = chrono::Utc::now().timestamp();
    let (at, created, resolved) = world.churn(new, resolve, wall);
    let ids = |ns: Vec<u64>| ns.into_iter().map(|n| world.ids.encode(Kind::Incident, n)).collect();
    ChurnReport { at: time(at), created: ids(created), resolved: ids(resolved) }
}
