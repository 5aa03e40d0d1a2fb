//! The background sampler of one data source: every `sampleIntervalSec` a PING and a STATS round over all services and one run of its probes, appended to the data source's [`History`].
//!
//! Lifecycle: started when the data source's [`Connection`](crate::nats::connection::Connection) is
//! created (its first query, health check or resource call), and owned by it: the task is aborted
//! when the connection is dropped (settings changed, so the connection was replaced, or the
//! plugin shuts down), so there is never more than one per data source. Grafana never tells a
//! plugin that a data source was deleted, so the sampler also stops on its own after the data
//! source was not used (no query, resource or health call) for longer than
//! max(retention, 1 hour) — by then every sample it holds has aged out anyway — and asks its
//! owner (through `on_idle`) to close the connection; the next use starts afresh.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::Utc;
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::metrics;
use crate::model::history::{self, History};
use crate::model::micro::{Scope, Verb};
use crate::model::settings::Probe;
use crate::nats::discovery::Discovery;
use crate::nats::probe;

/// Shortest idle time after which a sampler stops.
pub const MIN_IDLE_STOP: Duration = Duration::from_secs(3600);

/// How long a data source may stay unused before its sampler stops: max(retention, 1 h).
pub fn idle_limit(retention: Duration) -> Duration {
    retention.max(MIN_IDLE_STOP)
}

/// Called once when the sampler stops for idleness.
pub type OnIdle = Box<dyn FnOnce() + Send + 'static>;

/// Tuning of a sampler.
#[derive(Clone, Debug)]
pub struct SamplerConfig {
    pub period: Duration,
    pub retention: Duration,
    /// Accounted-bytes budget of the history.
    pub budget: usize,
    pub idle_limit: Duration,
    /// Rounds run back to back at the start (time compressed, for measurements); 0 normally.
    pub fill_rounds: u64,
    /// The data source's probes, run once per period after the STATS round.
    pub probes: Vec<Probe>,
}

struct Shared {
    history: Mutex<History>,
    /// Milliseconds since `epoch` of the latest use.
    last_used_ms: AtomicI64,
    epoch: Instant,
    rounds: AtomicU64,
    stopped: AtomicBool,
}

/// Samplers running in this process (for tests; the metric `natsmicro_history_samplers`).
pub fn running() -> i64 {
    metrics::global().samplers()
}

/// A running sampler; dropping it stops the task.
pub struct Sampler {
    shared: Arc<Shared>,
    config: SamplerConfig,
    task: AbortHandle,
}

impl Drop for Sampler {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Decrements the running count however the task ends (finished, idle or aborted).
struct RunningGuard;

impl RunningGuard {
    fn new() -> Self {
        metrics::global().sampler_running(1);
        RunningGuard
    }
}

impl Drop for RunningGuard {
    fn drop(&mut self) {
        metrics::global().sampler_running(-1);
    }
}

impl Sampler {
    /// Spawn the sampling task on the current tokio runtime.
    pub fn start(discovery: Arc<Discovery>, config: SamplerConfig, on_idle: Option<OnIdle>) -> Self {
        let retention_ms = i64::try_from(config.retention.as_millis()).unwrap_or(i64::MAX);
        let shared = Arc::new(Shared {
            history: Mutex::new(History::new(retention_ms, config.budget)),
            last_used_ms: AtomicI64::new(0),
            epoch: Instant::now(),
            rounds: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
        });
        let running = RunningGuard::new();
        let task = tokio::spawn(run(discovery, Arc::clone(&shared), config.clone(), on_idle, running));
        tracing::info!(
            period_s = config.period.as_secs_f64(),
            retention_min = config.retention.as_secs() / 60,
            budget_bytes = config.budget,
            "history sampler started"
        );
        Self {
            shared,
            config,
            task: task.abort_handle(),
        }
    }

    /// The data source was used now (keeps the sampler from its idle stop).
    pub fn touch(&self) {
        let ms = i64::try_from(self.shared.epoch.elapsed().as_millis()).unwrap_or(i64::MAX);
        self.shared.last_used_ms.store(ms, Ordering::Relaxed);
    }

    /// Whether the sampler stopped for idleness.
    pub fn stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::SeqCst)
    }

    pub fn period(&self) -> Duration {
        self.config.period
    }

    /// Sampling rounds completed (a round = PING then STATS).
    pub fn rounds(&self) -> u64 {
        self.shared.rounds.load(Ordering::Relaxed)
    }

    /// Read the history (the lock is held while `f` runs: only copy out of it, for example with
    /// [`History::view`], and build anything from the copy).
    pub fn with_history<R>(&self, f: impl FnOnce(&History) -> R) -> R {
        f(&lock(&self.shared.history))
    }
}

async fn run(
    discovery: Arc<Discovery>,
    shared: Arc<Shared>,
    config: SamplerConfig,
    on_idle: Option<OnIdle>,
    _running: RunningGuard,
) {
    let mut tick = tokio::time::interval(config.period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut fill = config.fill_rounds;
    loop {
        if fill > 0 {
            fill -= 1;
        } else {
            tick.tick().await;
        }
        let used = Duration::from_millis(u64::try_from(shared.last_used_ms.load(Ordering::Relaxed)).unwrap_or(0));
        let idle = shared.epoch.elapsed().saturating_sub(used);
        if idle > config.idle_limit {
            shared.stopped.store(true, Ordering::SeqCst);
            tracing::info!(
                idle_s = idle.as_secs(),
                "history sampler stopped: the data source was not used for longer than max(retention, 1 h)"
            );
            if let Some(f) = on_idle {
                f();
            }
            return;
        }
        match discovery.discover(Verb::Ping, Scope::all()).await {
            Ok(round) => {
                let samples = history::ping_samples(&round);
                lock(&shared.history).ingest_ping(round.started.timestamp_millis(), &samples);
            }
            Err(e) => {
                tracing::debug!(error = %e, "sampler ping round failed; no sample taken");
                continue;
            }
        }
        match discovery.discover(Verb::Stats, Scope::all()).await {
            Ok(round) => {
                let samples = history::stats_samples(&round);
                let mut h = lock(&shared.history);
                h.ingest_stats(round.started.timestamp_millis(), &samples);
                tracing::trace!(bytes = h.bytes(), samples = h.samples(), "history sampled");
            }
            Err(e) => tracing::debug!(error = %e, "sampler stats round failed; no stats sample taken"),
        }
        if !config.probes.is_empty() {
            let results = probe::run_all(discovery.client(), discovery.server_errors(), &config.probes).await;
            lock(&shared.history).ingest_probes(&results);
        }
        shared.rounds.fetch_add(1, Ordering::Relaxed);
        metrics::global().sampling_round();
    }
}

/// The time now as Unix ms.
pub fn now_ms() -> i64 {
    Utc::now().timestamp_millis()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_limit_is_at_least_an_hour() {
        assert_eq!(idle_limit(Duration::from_secs(60)), Duration::from_secs(3600));
        assert_eq!(idle_limit(Duration::from_secs(7200)), Duration::from_secs(7200));
    }
}
