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
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::FutureExt;
use std::panic::AssertUnwindSafe;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::metrics;
use crate::model::history::wire::Records;
use crate::model::history::{self, History};
use crate::model::micro::{Scope, Verb};
use crate::model::settings::Probe;
use crate::nats::discovery::Discovery;
use crate::nats::probe;
use crate::nats::shared_history::{follow, Holder, SharedHistory};
use crate::sync::lock;

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
    /// The JetStream store: rounds are published there (by the lease holder only) and read back
    /// from it by every process; `None`: the memory store.
    pub shared: Option<Arc<SharedHistory>>,
    /// Why the JetStream store was asked for but is not used (the memory store is used instead).
    pub degraded: Option<String>,
}

struct Shared {
    history: Arc<Mutex<History>>,
    /// Milliseconds since `epoch` of the latest use.
    last_used_ms: AtomicI64,
    epoch: Instant,
    rounds: AtomicU64,
    stopped: AtomicBool,
    /// True once the history holds what the store had when the sampler started.
    loaded: watch::Receiver<bool>,
}

/// Samplers running in this process (for tests; the metric `natsmicro_history_samplers`).
pub fn running() -> i64 {
    metrics::global().samplers()
}

/// A running sampler; dropping it stops the task.
pub struct Sampler {
    shared: Arc<Shared>,
    config: SamplerConfig,
    tasks: Vec<AbortHandle>,
}

impl Drop for Sampler {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        if let Some(store) = self.config.shared.clone() {
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move { store.lease.release().await });
            }
        }
    }
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
    /// Spawn the sampling task on the current tokio runtime (and, with the JetStream store, the
    /// lease and the stream reader). `inherited`: the history of the connection this one replaces
    /// (a settings save that kept the NATS target), kept under the new retention and budget.
    pub fn start(
        discovery: Arc<Discovery>,
        config: SamplerConfig,
        on_idle: Option<OnIdle>,
        inherited: Option<History>,
    ) -> Self {
        let retention_ms = i64::try_from(config.retention.as_millis()).unwrap_or(i64::MAX);
        let history = match inherited {
            Some(mut h) if config.shared.is_none() => {
                h.reconfigure(retention_ms, config.budget);
                h
            }
            _ => History::new(retention_ms, config.budget),
        };
        let (loaded_tx, loaded) = watch::channel(config.shared.is_none());
        let shared = Arc::new(Shared {
            history: Arc::new(Mutex::new(history)),
            last_used_ms: AtomicI64::new(0),
            epoch: Instant::now(),
            rounds: AtomicU64::new(0),
            stopped: AtomicBool::new(false),
            loaded,
        });
        let running = RunningGuard::new();
        let mut tasks = vec![tokio::spawn(supervise(
            Arc::clone(&discovery),
            Arc::clone(&shared),
            config.clone(),
            on_idle,
            running,
        ))
        .abort_handle()];
        if let Some(store) = &config.shared {
            let lease = Arc::clone(&store.lease);
            tasks.push(
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(lease.tick_every());
                    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        if AssertUnwindSafe(lease.tick()).catch_unwind().await.is_err() {
                            contained("lease");
                        }
                    }
                })
                .abort_handle(),
            );
            let (store, discovery, history, retention, budget) = (
                Arc::clone(store),
                Arc::clone(&discovery),
                Arc::clone(&shared.history),
                config.retention,
                config.budget,
            );
            tasks.push(
                tokio::spawn(async move {
                    loop {
                        let reading = follow::run(
                            Arc::clone(&store),
                            Arc::clone(&discovery),
                            Arc::clone(&history),
                            retention,
                            loaded_tx.clone(),
                        );
                        if AssertUnwindSafe(reading).catch_unwind().await.is_err() {
                            contained("history_reader");
                            // Read again from the start, into an empty history.
                            let empty = History::new(retention_ms, budget);
                            *lock(&history) = empty;
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                })
                .abort_handle(),
            );
        }
        tracing::info!(
            period_s = config.period.as_secs_f64(),
            retention_min = config.retention.as_secs() / 60,
            budget_bytes = config.budget,
            store = if config.shared.is_some() { "jetstream" } else { "memory" },
            "history sampler started"
        );
        Self { shared, config, tasks }
    }

    /// Wait (at most `limit`) until the history holds what the store had when the sampler
    /// started; false when it is still loading.
    pub async fn loaded(&self, limit: Duration) -> bool {
        let mut rx = self.shared.loaded.clone();
        let waited = tokio::time::timeout(limit, rx.wait_for(|l| *l)).await;
        matches!(waited, Ok(Ok(_)))
    }

    /// What a query's frames should say about the store: the memory store used instead of an
    /// unavailable JetStream store, or a JetStream history still loading after `wait`.
    pub async fn store_notices(&self, wait: Duration) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(why) = self.degraded() {
            out.push(format!(
                "History is kept in this plugin process's memory, not in JetStream (lost on restart, not shared between Grafana replicas): {why}"
            ));
        }
        if let Some(store) = self.store() {
            if !self.loaded(wait).await {
                out.push(format!(
                    "The history is still loading from the JetStream stream {}: older points appear on the next refresh",
                    store.stream
                ));
            }
        }
        out
    }

    /// The JetStream store, when it is in use.
    pub fn store(&self) -> Option<&Arc<SharedHistory>> {
        self.config.shared.as_ref()
    }

    /// Why the JetStream store was asked for but the memory store is used.
    pub fn degraded(&self) -> Option<&str> {
        self.config.degraded.as_deref()
    }

    /// Who samples: this process (always, for the memory store) or another one.
    pub fn holder(&self) -> Holder {
        self.config.shared.as_ref().map_or(Holder::Me, |s| s.lease.holder())
    }

    /// A copy of the whole history (kept by the connection that replaces this one).
    pub fn history_copy(&self) -> History {
        lock(&self.shared.history).clone()
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
    /// [`History::subset`], and build anything from the copy).
    pub fn with_history<R>(&self, f: impl FnOnce(&History) -> R) -> R {
        f(&lock(&self.shared.history))
    }
}

/// A panic caught in a task of the sampler: logged and counted; the task starts again.
fn contained(at: &'static str) {
    metrics::global().panicked(at);
    tracing::error!(
        task = at,
        "a panic in the history sampler was contained; the task starts again"
    );
}

/// Run the sampler, starting it again after a panic (one period later; with the JetStream store
/// it first gives the lease up, so that another process samples meanwhile).
async fn supervise(
    discovery: Arc<Discovery>,
    shared: Arc<Shared>,
    config: SamplerConfig,
    on_idle: Option<OnIdle>,
    _running: RunningGuard,
) {
    loop {
        let rounds = run(Arc::clone(&discovery), Arc::clone(&shared), config.clone());
        if AssertUnwindSafe(rounds).catch_unwind().await.is_ok() {
            break;
        }
        contained("sampler");
        if let Some(store) = &config.shared {
            step_down(store, &config, "its sampler panicked".to_string()).await;
        }
        tokio::time::sleep(config.period).await;
    }
    if let Some(f) = on_idle {
        f();
    }
}

/// Sample until the data source goes unused (returns then).
async fn run(discovery: Arc<Discovery>, shared: Arc<Shared>, config: SamplerConfig) {
    let mut tick = tokio::time::interval(config.period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut fill = config.fill_rounds;
    let mut waited_for_lease = false;
    // A finished round answers the same request again for a moment (discovery's share window):
    // rounds back to back (fill rounds, the first tick after them) wait that long after the
    // previous ones, so that each is a round of its own and not the last one kept again.
    let mut last_end: Option<tokio::time::Instant> = None;
    loop {
        let used = Duration::from_millis(u64::try_from(shared.last_used_ms.load(Ordering::Relaxed)).unwrap_or(0));
        let idle = shared.epoch.elapsed().saturating_sub(used);
        if idle > config.idle_limit {
            shared.stopped.store(true, Ordering::SeqCst);
            tracing::info!(
                idle_s = idle.as_secs(),
                "history sampler stopped: the data source was not used for longer than max(retention, 1 h)"
            );
            return;
        }
        match &config.shared {
            // With the JetStream store only the lease holder samples; the others read the
            // stream. Without the lease, look again as often as the lease itself is looked at,
            // and sample at once when it is taken (a takeover does not wait a whole period more).
            Some(store) if !store.lease.held() => {
                tokio::time::sleep(store.lease.tick_every()).await;
                waited_for_lease = true;
                continue;
            }
            _ if fill > 0 => fill -= 1,
            _ if waited_for_lease => {
                waited_for_lease = false;
                tick.reset();
            }
            _ => {
                tick.tick().await;
            }
        }
        // The lease may have been lost while waiting for the tick.
        if config.shared.as_ref().is_some_and(|s| !s.lease.held()) {
            continue;
        }
        if let Some(end) = last_end {
            tokio::time::sleep_until(end + discovery.policy().share_window).await;
        }
        crate::faults::point("sampler", "");
        let asked = Instant::now();
        match discovery.discover(Verb::Ping, Scope::all()).await {
            Ok(round) => {
                let denied = round.replies.is_empty() && discovery.server_errors().denied_since(&round.subject, asked);
                if let Some(store) = config.shared.as_ref().filter(|_| denied) {
                    step_down(
                        store,
                        &config,
                        format!("NATS refuses this process's publish to {}", round.subject),
                    )
                    .await;
                    continue;
                }
                let records = Records::Ping(history::ping_samples(&round));
                if !keep(&shared, &config, round.started.timestamp_millis(), records).await {
                    if let Some(store) = &config.shared {
                        step_down(
                            store,
                            &config,
                            "the history stream refuses this process's rounds".to_string(),
                        )
                        .await;
                        continue;
                    }
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "sampler ping round failed; no sample taken");
                continue;
            }
        }
        match discovery.discover(Verb::Stats, Scope::all()).await {
            Ok(round) => {
                let records = Records::Stats(history::stats_samples(&round));
                keep(&shared, &config, round.started.timestamp_millis(), records).await;
            }
            Err(e) => tracing::debug!(error = %e, "sampler stats round failed; no stats sample taken"),
        }
        if !config.probes.is_empty() {
            let results = probe::run_all(discovery.client(), discovery.server_errors(), &config.probes).await;
            let t = results.iter().map(|r| r.t_ms).min().unwrap_or_else(now_ms);
            keep(&shared, &config, t, Records::<&str>::Probes(results)).await;
        }
        last_end = Some(tokio::time::Instant::now());
        shared.rounds.fetch_add(1, Ordering::Relaxed);
        metrics::global().sampling_round();
    }
}

/// Put one round into the store: the local history (memory store) or the stream (JetStream
/// store; every process, this one included, reads it back from there). False when the stream
/// did not store it.
async fn keep<S: AsRef<str> + Sync>(shared: &Shared, config: &SamplerConfig, t: i64, records: Records<S>) -> bool {
    if let Some(store) = &config.shared {
        return store.publish(t, &records).await;
    }
    let mut h = lock(&shared.history);
    h.ingest_records(t, &records);
    tracing::trace!(bytes = h.bytes(), samples = h.samples(), "history sampled");
    true
}

/// This process holds the lease but cannot sample: give the lease up for three periods, so that
/// a process that can samples meanwhile (every replica would otherwise read a frozen history or
/// every instance down).
async fn step_down(store: &SharedHistory, config: &SamplerConfig, why: String) {
    tracing::warn!(reason = %why, "this process cannot sample: it gives the sampling lease up");
    store.lease.step_down(config.period * 3, why).await;
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
