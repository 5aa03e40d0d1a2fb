//! The sampling lease of one NATS target: a key in a JetStream KV bucket that one process holds and renews; the others watch its revision and take over when it stops moving.
//!
//! The holder renews (compare-and-set on its revision) every half period. A process that sees
//! the same revision for longer than the time to live (1.25 periods, measured on its own
//! monotonic clock, so clocks of different hosts never matter) takes the key over with a
//! compare-and-set on that revision: only one contender can win. A holder that was paused and
//! comes back finds its revision gone, and stops sampling before its next round: it samples only
//! while its latest renewal is younger than the time to live. So two processes never both
//! sample for longer than one period, and a dead holder is replaced within about 1.65 periods.

use std::sync::Mutex;
use std::time::Duration;

use crate::sync::lock;
use async_nats::jetstream::kv;
use tokio::time::Instant;

/// Who samples the target, as this process sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Holder {
    /// This process.
    Me,
    /// Another process (its description: host and pid).
    Other(String),
    /// Nobody yet (the lease is being set up).
    Unknown,
}

#[derive(Debug, Default)]
struct State {
    /// Our revision and when we last renewed it.
    held: Option<(u64, Instant)>,
    /// The revision last seen held by another process, and since when (our clock).
    seen: Option<(u64, Instant, String)>,
    /// This process does not take the lease before then (it gave it up: it could not sample),
    /// and why.
    standing_down: Option<(Instant, String)>,
}

/// One target's lease.
pub struct Lease {
    kv: kv::Store,
    key: String,
    me: String,
    period: Duration,
    state: Mutex<State>,
}

impl Lease {
    pub fn new(kv: kv::Store, key: String, period: Duration) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_default();
        let me = format!(
            "{}{}pid {} (started {})",
            host,
            if host.is_empty() { "" } else { " " },
            std::process::id(),
            chrono::Utc::now().timestamp_nanos_opt().unwrap_or_default()
        );
        Self {
            kv,
            key,
            me,
            period,
            state: Mutex::new(State::default()),
        }
    }

    /// How long a revision may stand still before it counts as abandoned.
    pub fn ttl(&self) -> Duration {
        self.period * 5 / 4
    }

    /// How often [`Lease::tick`] should run.
    pub fn tick_every(&self) -> Duration {
        (self.period / 5).max(Duration::from_millis(50))
    }

    /// Whether this process holds the lease now (its latest renewal is younger than the TTL).
    pub fn held(&self) -> bool {
        lock(&self.state).held.is_some_and(|(_, at)| at.elapsed() < self.ttl())
    }

    pub fn holder(&self) -> Holder {
        let s = lock(&self.state);
        match (&s.held, &s.seen) {
            (Some((_, at)), _) if at.elapsed() < self.ttl() => Holder::Me,
            (_, Some((_, _, who))) => Holder::Other(who.clone()),
            _ => Holder::Unknown,
        }
    }

    /// This process's description in the lease (host, pid and a unique id).
    pub fn me(&self) -> &str {
        &self.me
    }

    fn value(&self) -> bytes::Bytes {
        bytes::Bytes::from(self.me.clone())
    }

    /// One step: renew when held, else watch the key and take it when free or abandoned.
    pub async fn tick(&self) {
        let held = lock(&self.state).held;
        if let Some((revision, at)) = held {
            if at.elapsed() < self.period / 2 && at.elapsed() < self.ttl() {
                return;
            }
            match self.kv.update(&self.key, self.value(), revision).await {
                Ok(r) => lock(&self.state).held = Some((r, Instant::now())),
                Err(e) if e.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                    tracing::info!(key = %self.key, "history sampling lease lost to another process");
                    lock(&self.state).held = None;
                }
                Err(e) => tracing::debug!(error = %e, "history sampling lease not renewed; retrying"),
            }
            return;
        }
        if self.standing_down().is_some() {
            return;
        }
        let entry = match self.kv.entry(&self.key).await {
            Ok(e) => e,
            Err(e) => {
                tracing::debug!(error = %e, "history sampling lease not readable; retrying");
                return;
            }
        };
        match entry {
            None => {
                if let Ok(r) = self.kv.create(&self.key, self.value()).await {
                    tracing::info!(key = %self.key, "history sampling lease taken: this process samples");
                    let mut s = lock(&self.state);
                    s.held = Some((r, Instant::now()));
                    s.seen = None;
                }
            }
            Some(e) => {
                let who = String::from_utf8_lossy(&e.value).into_owned();
                let stale = {
                    let mut s = lock(&self.state);
                    match &s.seen {
                        Some((r, since, _)) if *r == e.revision => since.elapsed() > self.ttl(),
                        _ => {
                            s.seen = Some((e.revision, Instant::now(), who.clone()));
                            false
                        }
                    }
                };
                if stale {
                    if let Ok(r) = self.kv.update(&self.key, self.value(), e.revision).await {
                        tracing::info!(key = %self.key, previous = %who, "history sampling lease taken over: its holder stopped renewing");
                        let mut s = lock(&self.state);
                        s.held = Some((r, Instant::now()));
                        s.seen = None;
                    }
                }
            }
        }
    }

    /// Give the lease up because this process cannot sample (`why`): another process takes it
    /// at once, and this one does not take it back for `pause`.
    pub async fn step_down(&self, pause: Duration, why: String) {
        lock(&self.state).standing_down = Some((Instant::now() + pause, why));
        self.release().await;
    }

    /// Why this process gave the lease up, while it stands down.
    pub fn standing_down(&self) -> Option<String> {
        let s = lock(&self.state);
        s.standing_down
            .as_ref()
            .filter(|(until, _)| Instant::now() < *until)
            .map(|(_, why)| why.clone())
    }

    /// Give the lease up (this process stops sampling the target): the next process takes it
    /// at once instead of after the TTL.
    pub async fn release(&self) {
        let held = lock(&self.state).held.take();
        if let Some((revision, _)) = held {
            let _ = self.kv.delete_expect_revision(&self.key, Some(revision)).await;
        }
    }
}
