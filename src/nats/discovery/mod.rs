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

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures::future::{BoxFuture, FutureExt, Shared};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::metrics;
use crate::model::micro::{parse_reply, InvalidReply, Limit, Scope, Verb};
use crate::model::observed::{Reply, Round, StopReason};

mod registry;

pub use registry::Registry;

type SharedRound = Shared<BoxFuture<'static, Result<Arc<Round>, DiscoveryError>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Tuning of a discovery round.
#[derive(Clone, Debug)]
pub struct Policy {
    /// `<prefix>.PING…`, normally `$SRV`.
    pub prefix: String,
    /// Longest wait for a round.
    pub timeout: Duration,
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
    inflight: Mutex<HashMap<String, SharedRound>>,
    recent: Mutex<HashMap<String, (Instant, Arc<Round>)>>,
    late: Mutex<Late>,
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
    pub fn new(client: async_nats::Client, policy: Policy) -> Arc<Self> {
        Arc::new(Self {
            client,
            policy,
            registry: Arc::new(Registry::default()),
            inflight: Mutex::new(HashMap::new()),
            recent: Mutex::new(HashMap::new()),
            late: Mutex::new(Late::default()),
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
        let mut recent = lock(&self.recent);
        recent.retain(|_, (at, _)| at.elapsed() < window);
        let budget = self.policy.max_round_bytes as u64;
        let mut total: u64 = recent.values().map(|(_, r)| r.bytes).sum::<u64>() + round.bytes;
        while total > budget && !recent.is_empty() {
            let oldest = recent.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone());
            if let Some((_, r)) = oldest.and_then(|k| recent.remove(&k)) {
                total -= r.bytes;
            }
        }
        if round.bytes <= budget {
            recent.insert(subject.to_string(), (Instant::now(), Arc::clone(round)));
        }
    }

    async fn round(self: &Arc<Self>, verb: Verb, scope: Scope, subject: String) -> Result<Round, DiscoveryError> {
        let policy = &self.policy;
        let expected = if scope.is_single() {
            HashSet::new()
        } else {
            self.registry.expected(&scope)
        };
        let inbox = self.client.new_inbox();
        let sub = self
            .client
            .subscribe(inbox.clone())
            .await
            .map_err(|e| DiscoveryError::Subscribe(e.to_string()))?;
        let started = Utc::now();
        let t0 = Instant::now();
        let mut arrivals = gate(sub, t0, policy.max_reply_bytes(), policy.max_round_bytes as u64);
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
            let arrival = match tokio::time::timeout_at(deadline, arrivals.recv()).await {
                Ok(Some(a)) => a,
                Ok(None) => break StopReason::Timeout,
                Err(_) if state.replies.is_empty() || Instant::now() >= t0 + policy.timeout => {
                    break StopReason::Timeout
                }
                Err(_) => break StopReason::Stall,
            };
            let at = match arrival {
                Arrival::NoResponders => break StopReason::NoResponders,
                Arrival::Spent(bytes) => {
                    state.bytes += bytes;
                    break StopReason::Budget;
                }
                Arrival::Oversized(bytes) => {
                    state.bytes += bytes;
                    state.oversized += 1;
                    t0.elapsed()
                }
                Arrival::Reply(payload, at) => {
                    state.take(&payload, at);
                    at
                }
            };
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
        let (invalid, oversized, bytes, limited) = (state.invalid, state.oversized, state.bytes, state.limited.clone());
        let last_reply = state.last_reply;

        // The answer takes the replies; a late-reply listener keeps only the set of who answered.
        let mut replies = std::mem::take(&mut state.replies);
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
                    let (invalid_before, oversized_before) = (state.invalid, state.oversized);
                    let limited_before = state.limited.clone();
                    let mut cut_short = false;
                    while let Ok(Some(arrival)) = tokio::time::timeout_at(deadline, arrivals.recv()).await {
                        let at = match arrival {
                            Arrival::Reply(payload, at) => {
                                state.take(&payload, at);
                                at
                            }
                            Arrival::Oversized(_) => {
                                state.oversized += 1;
                                t0.elapsed()
                            }
                            Arrival::Spent(_) => {
                                cut_short = true;
                                break;
                            }
                            Arrival::NoResponders => break,
                        };
                        if state.seen.len() >= policy.max_replies {
                            cut_short = true;
                            break;
                        }
                        deadline = (Instant::now() + policy.stall_after(at)).min(t0 + policy.timeout);
                    }
                    // Dropping the receiver ends the gate, which unsubscribes.
                    drop(arrivals);
                    let mut limited = state.limited.clone();
                    for (l, n) in &limited_before {
                        if let Some(v) = limited.get_mut(l) {
                            *v -= n;
                        }
                    }
                    limited.retain(|_, n| *n > 0);
                    let late = Late {
                        invalid: state.invalid - invalid_before,
                        oversized: state.oversized - oversized_before,
                        limited,
                        cut_short,
                        since: None,
                    };
                    metrics::global().discovery_replies(verb.name(), state.replies.len() as u64, late.invalid);
                    metrics::global().discovery_skipped(verb.name(), late.oversized, limit_labels(&late.limited));
                    this.report_late(late);
                    // `state.replies` holds the late ones only, `state.seen` everyone who answered.
                    // A round cut short saw not everyone: nobody is marked gone because of it.
                    this.registry.record(&scope, &state.replies, false, policy.retention);
                    if !cut_short {
                        this.registry.retire_unseen(&scope, &state.seen);
                    }
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
            StopReason::Single | StopReason::Capped | StopReason::Budget => {
                // `arrivals` is dropped here: the gate unsubscribes and the server stops sending.
                self.registry.record(&scope, &replies, false, policy.retention);
            }
        }

        let m = metrics::global();
        m.discovery_round(verb.name(), stop.name(), elapsed);
        m.discovery_replies(verb.name(), replies.len() as u64, invalid);
        m.discovery_skipped(verb.name(), oversized, limit_labels(&limited));
        // What earlier rounds' late replies skipped lately is told with this answer.
        let late = {
            let g = lock(&self.late);
            if g.since.is_some_and(|t| t.elapsed() < LATE_WINDOW) {
                g.clone()
            } else {
                Late::default()
            }
        };
        let (invalid, oversized) = (invalid + late.invalid, oversized + late.oversized);
        let mut limited = limited;
        for (l, n) in late.limited {
            *limited.entry(l).or_insert(0) += n;
        }
        tracing::debug!(
            subject = %subject,
            stop = stop.name(),
            replies = replies.len(),
            invalid,
            oversized,
            bytes,
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
            oversized,
            bytes,
            limited,
            late_cut_short: late.cut_short,
            stop,
            elapsed,
            down,
        })
    }
}

/// What the [`gate`] of a round's subscription passes on.
enum Arrival {
    /// A reply to parse, with its arrival time since the request.
    Reply(Bytes, Duration),
    /// The server's 503: nobody subscribes to the subject.
    NoResponders,
    /// A reply of this many bytes, larger than the per-reply limit: dropped unread.
    Oversized(u64),
    /// The reply of this many bytes spent the round's budget; nothing more comes.
    Spent(u64),
}

/// Drain a round's subscription as fast as the connection fills it, doing no more than count
/// bytes, so that async-nats' per-subscription queue never holds a flood: replies over
/// `max_reply` are dropped at once, and once `budget` bytes have come the subscription is
/// dropped (unsubscribed). What is passed on is at most `budget` bytes of payload, however slowly
/// the round parses it. The gate also ends (and unsubscribes) when the receiver is dropped.
fn gate(
    mut sub: async_nats::Subscriber,
    t0: Instant,
    max_reply: usize,
    budget: u64,
) -> mpsc::UnboundedReceiver<Arrival> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut bytes = 0u64;
        loop {
            let msg = tokio::select! {
                m = sub.next() => match m {
                    Some(m) => m,
                    None => break,
                },
                () = tx.closed() => break,
            };
            let arrival = if msg.status == Some(async_nats::StatusCode::NO_RESPONDERS) {
                Arrival::NoResponders
            } else {
                let len = msg.payload.len() as u64;
                bytes += len;
                if bytes >= budget {
                    let _ = tx.send(Arrival::Spent(len));
                    break;
                }
                if msg.payload.len() > max_reply {
                    Arrival::Oversized(len)
                } else {
                    Arrival::Reply(msg.payload, t0.elapsed())
                }
            };
            if tx.send(arrival).is_err() {
                break;
            }
        }
        drop(sub);
    });
    rx
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
    oversized: u64,
    bytes: u64,
    limited: BTreeMap<Limit, u64>,
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
            oversized: 0,
            bytes: 0,
            limited: BTreeMap::new(),
            last_reply: None,
        }
    }

    fn take(&mut self, payload: &[u8], at: Duration) {
        self.bytes += payload.len() as u64;
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
                for l in &reply.limited {
                    *self.limited.entry(*l).or_insert(0) += 1;
                }
                self.replies.push(Reply {
                    reply,
                    rtt: at,
                    received: Utc::now(),
                });
            }
            Err(InvalidReply::TooLong(_)) => {
                self.invalid += 1;
                *self.limited.entry(Limit::Name).or_insert(0) += 1;
            }
            Ok(_) | Err(_) => self.invalid += 1,
        }
    }

    fn expected_complete(&self) -> bool {
        !self.expected.is_empty() && self.waiting == 0
    }
}

/// Field bounds applied, as metric labels.
fn limit_labels(limited: &BTreeMap<Limit, u64>) -> Vec<(&'static str, u64)> {
    limited.iter().map(|(l, n)| (l.name(), *n)).collect()
}
