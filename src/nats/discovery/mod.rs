//! Scatter-gather discovery of micro-service instances: one request on our own inbox, every reply collected, stopped as early as the answer is known complete.
//!
//! Protocol code: no Grafana types. Stop rules, in order:
//! 1. status 503 (no responders): nothing is there, answer at once;
//! 2. a `.<service>.<id>` subject: the first valid reply is the answer;
//! 3. the reply cap (default 10 000) is reached, or the round's byte budget
//!    (`maxRoundBytes`, default 16 MiB, counting every reply's payload) is spent: answer,
//!    flagged, and unsubscribe so the server stops sending;
//! 4. every instance the [`Registry`] knows as alive in this scope has replied: answer now,
//!    and keep listening in the background for the stall window so that newcomers are learnt
//!    (a brand-new instance that answers after all known ones shows up one round later);
//! 5. otherwise a *stall*: no reply for `max(min_stall, stall_factor × time of the last reply)`;
//! 6. the overall timeout.
//!
//! A reply larger than [`Policy::max_reply_bytes`] is skipped without being parsed (counted as
//! oversized), so a flood of huge replies costs no parsing and the subscription queue drains as
//! fast as it fills. Identical concurrent discoveries (same subject) share one NATS request, and
//! a finished round is kept for [`Policy::share_window`] under a byte bound.
//!
//! A PING round then asks each known instance that stayed silent why, with one targeted ping
//! (`targeted.rs`, at most [`MAX_TARGETED`] per round).
//!
//! This file shares rounds (coalescing, the share cache, what late replies skipped); `round.rs`
//! runs one round; `registry.rs` remembers the instances seen.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt, Shared};
use tokio::time::Instant;

use crate::metrics;
use crate::model::micro::{Limit, Scope, Verb};
use crate::model::observed::Round;

mod registry;
mod round;
mod targeted;

use crate::nats::server_errors::ServerErrors;
use crate::sync::lock;
pub use registry::Registry;
pub use targeted::MAX_TARGETED;

type SharedRound = Shared<BoxFuture<'static, Result<Arc<Round>, DiscoveryError>>>;

/// Free `value` on a task of its own: a round of 10 000 replies takes milliseconds to free,
/// which no answer needs to wait for.
fn drop_later<T: Send + 'static>(value: T) {
    tokio::spawn(async move { drop(value) });
}

/// Tuning of a discovery round.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `<prefix>.PING…`, normally `$SRV`.
    pub prefix: String,
    /// Longest wait for a round.
    pub timeout: Duration,
    /// An answer slower than this is `slow` (`slowMs`).
    pub slow: Duration,
    /// Most replies collected in one round.
    pub max_replies: usize,
    /// Most reply payload bytes one round reads (valid, invalid and oversized alike).
    pub max_round_bytes: usize,
    /// Shortest silence after a reply that ends a round whose expected set is unknown.
    pub min_stall: Duration,
    /// The silence grows with the time the last reply took (slow fleets answer in waves).
    pub stall_factor: f64,
    /// How long an instance that stopped answering is remembered (and reported down).
    pub retention: Duration,
    /// A finished round answers identical discoveries that start within this time (a dashboard's
    /// panels arrive as separate calls spread over a few milliseconds; a warm round lasts ~1 ms).
    pub share_window: Duration,
}

impl Policy {
    /// Defaults measured for this project: 100 ms stall never lost a reply over 252 recorded runs.
    pub fn new(prefix: impl Into<String>, timeout: Duration, retention: Duration) -> Self {
        Self {
            prefix: prefix.into(),
            timeout,
            slow: Duration::from_millis(crate::model::settings::DEFAULT_SLOW_MS),
            max_replies: 10_000,
            max_round_bytes: crate::model::settings::DEFAULT_MAX_ROUND_BYTES as usize,
            min_stall: Duration::from_millis(100),
            stall_factor: 0.5,
            retention,
            share_window: Duration::from_millis(100),
        }
    }

    /// The largest reply that is parsed: a 64th of the round budget, at least 64 KiB (256 KiB
    /// with the default budget; real PING, INFO and STATS replies are a few KiB).
    pub fn max_reply_bytes(&self) -> usize {
        (self.max_round_bytes / 64).max(64 * 1024)
    }

    /// What the parsed replies of all rounds of a connection may hold together: two round
    /// budgets, so that the sampler's round and a query's each hold a whole one, and any more
    /// rounds at once share them.
    pub fn max_connection_held(&self) -> u64 {
        (self.max_round_bytes as u64).saturating_mul(2)
    }

    fn stall_after(&self, last_reply: Duration) -> Duration {
        self.min_stall.max(last_reply.mul_f64(self.stall_factor))
    }
}

/// A discovery failure; cheap to clone because coalesced callers share it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("the NATS connection is down (reconnecting); retry in a moment")]
    NotConnected,
    #[error("could not subscribe to the reply inbox: {0}")]
    Subscribe(String),
    #[error("could not send {subject}: {message}")]
    Publish { subject: String, message: String },
    #[error("internal error: {0}")]
    Internal(String),
}

/// Discovery on one NATS connection.
pub struct Discovery {
    client: async_nats::Client,
    policy: Policy,
    registry: Arc<Registry>,
    /// The connection's server errors: how a silent targeted ping is told `denied`.
    server_errors: Arc<ServerErrors>,
    inflight: Mutex<HashMap<String, SharedRound>>,
    recent: Mutex<HashMap<String, (Instant, Arc<Round>)>>,
    late: Mutex<Late>,
    /// Reply payloads received by this connection's rounds and not parsed yet, all rounds
    /// together: bounded by `maxRoundBytes` (see `round::gate`).
    unparsed: Arc<AtomicU64>,
    /// What the parsed replies of this connection's rounds hold (while collected and while the
    /// rounds live): bounded by [`Policy::max_connection_held`] (see `round::Collect`).
    parsed: Arc<AtomicU64>,
}

/// What late replies (after a round had answered) skipped, added up over a window of
/// [`LATE_WINDOW`] from the first report, and told by every round answered within it: the next
/// round may be the sampler's, whose answer nobody sees, so it is not drained by one round.
#[derive(Clone, Debug, Default)]
struct Late {
    invalid: u64,
    oversized: u64,
    limited: BTreeMap<Limit, u64>,
    cut_short: bool,
    since: Option<Instant>,
}

/// How long what late replies skipped is told by the rounds that follow.
const LATE_WINDOW: Duration = Duration::from_secs(60);

impl Discovery {
    /// Discovery that cannot tell `denied` (it does not see the connection's server errors).
    pub fn new(client: async_nats::Client, policy: Policy) -> Arc<Self> {
        Self::with_server_errors(client, policy, Arc::default())
    }

    /// Discovery reading the connection's server errors, which tell a refused targeted ping.
    pub fn with_server_errors(
        client: async_nats::Client,
        policy: Policy,
        server_errors: Arc<ServerErrors>,
    ) -> Arc<Self> {
        Arc::new(Self {
            client,
            policy,
            registry: Arc::new(Registry::default()),
            server_errors,
            inflight: Mutex::new(HashMap::new()),
            recent: Mutex::new(HashMap::new()),
            late: Mutex::new(Late::default()),
            unparsed: Arc::default(),
            parsed: Arc::default(),
        })
    }

    fn report_late(&self, late: Late) {
        if late.invalid == 0 && late.oversized == 0 && late.limited.is_empty() && !late.cut_short {
            return;
        }
        let mut g = lock(&self.late);
        if g.since.is_none_or(|t| t.elapsed() >= LATE_WINDOW) {
            *g = Late {
                since: Some(Instant::now()),
                ..Late::default()
            };
        }
        g.invalid += late.invalid;
        g.oversized += late.oversized;
        for (l, n) in late.limited {
            *g.limited.entry(l).or_insert(0) += n;
        }
        g.cut_short |= late.cut_short;
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The connection the rounds go out on (the sampler's probes use it too).
    pub fn client(&self) -> &async_nats::Client {
        &self.client
    }

    /// The connection's server errors.
    pub fn server_errors(&self) -> &Arc<ServerErrors> {
        &self.server_errors
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Discover `verb` in `scope`; joins an identical round already in flight.
    pub async fn discover(self: &Arc<Self>, verb: Verb, scope: Scope) -> Result<Arc<Round>, DiscoveryError> {
        if self.client.connection_state() != async_nats::connection::State::Connected {
            return Err(DiscoveryError::NotConnected);
        }
        let subject = scope.subject(&self.policy.prefix, verb);
        if let Some((at, round)) = lock(&self.recent).get(&subject) {
            if at.elapsed() < self.policy.share_window {
                metrics::global().discovery_coalesced();
                return Ok(Arc::clone(round));
            }
        }
        // Kept rounds would still count in what this connection's rounds hold.
        self.make_room();
        let shared = {
            let mut inflight = lock(&self.inflight);
            if let Some(existing) = inflight.get(&subject) {
                metrics::global().discovery_coalesced();
                existing.clone()
            } else {
                let this = Arc::clone(self);
                let key = subject.clone();
                let task = tokio::spawn(async move {
                    let result = this.round(verb, scope, key.clone()).await.map(Arc::new);
                    if let Ok(round) = &result {
                        this.remember(&key, round);
                    }
                    lock(&this.inflight).remove(&key);
                    result
                });
                let fut: SharedRound = async move {
                    task.await
                        .unwrap_or_else(|e| Err(DiscoveryError::Internal(format!("discovery task failed: {e}"))))
                }
                .boxed()
                .shared();
                inflight.insert(subject, fut.clone());
                fut
            }
        };
        shared.await
    }

    /// Keep a finished round for the share window. Expired rounds go first; then, oldest first,
    /// whatever would take the kept rounds' payload bytes past one round budget.
    fn remember(&self, subject: &str, round: &Arc<Round>) {
        let window = self.policy.share_window;
        // Rounds let go of here may be the last references: they are freed off the answer's path.
        let mut recent = lock(&self.recent);
        let mut gone = expired(&mut recent, window);
        let budget = self.policy.max_round_bytes as u64;
        let mut total: u64 = recent.values().map(|(_, r)| r.bytes).sum::<u64>() + round.bytes;
        while total > budget && !recent.is_empty() {
            let oldest = recent.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone());
            if let Some((_, r)) = oldest.and_then(|k| recent.remove(&k)) {
                total -= r.bytes;
                gone.push(r);
            }
        }
        if round.bytes <= budget {
            gone.extend(
                recent
                    .insert(subject.to_string(), (Instant::now(), Arc::clone(round)))
                    .map(|(_, r)| r),
            );
        }
        drop(recent);
        if !gone.is_empty() {
            drop_later(gone);
        }
    }

    /// Make room for a new round, now, before it starts (freeing takes a few milliseconds of a
    /// round that goes out on the network anyway): let go of the kept rounds past the share
    /// window, and of every kept round when what this connection's rounds hold leaves less than
    /// one round budget of its bound. Sharing saves a request; it must not cut a new round short.
    fn make_room(&self) {
        let mut recent = lock(&self.recent);
        let mut gone = expired(&mut recent, self.policy.share_window);
        let held = self.parsed.load(Ordering::Relaxed);
        if self.policy.max_connection_held().saturating_sub(held) < self.policy.max_round_bytes as u64 {
            gone.extend(recent.drain().map(|(_, (_, r))| r));
        }
        drop(recent);
        drop(gone);
    }
}

/// Take the rounds of `recent` kept longer than `window` out of it.
fn expired(recent: &mut HashMap<String, (Instant, Arc<Round>)>, window: Duration) -> Vec<Arc<Round>> {
    let mut gone = Vec::new();
    recent.retain(|_, (at, r)| {
        let keep = at.elapsed() < window;
        if !keep {
            gone.push(Arc::clone(r));
        }
        keep
    });
    gone
}
