//! One scatter-gather round: the request on its own inbox, the byte-counting gate that drains the subscription, and the stop rules applied to what arrives.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::targeted::single_silence;
use super::{drop_later, Discovery, DiscoveryError, Late, LATE_WINDOW};
use crate::metrics;
use crate::model::key::{self, Prints};
use crate::model::micro::{parse_reply, InvalidReply, Limit, Scope, Verb};
use crate::model::observed::{Held, Reply, Round, StopReason};
use crate::model::state::Silence;
use crate::sync::lock;

impl Discovery {
    pub(super) async fn round(
        self: &Arc<Self>,
        verb: Verb,
        scope: Scope,
        subject: String,
    ) -> Result<Round, DiscoveryError> {
        let policy = &self.policy;
        let expected = if scope.is_single() {
            self.registry.answered(0)
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
        let mut arrivals = gate(
            sub,
            t0,
            policy.max_reply_bytes(),
            policy.max_round_bytes as u64,
            Arc::clone(&self.unparsed),
        );
        self.client
            .publish_with_reply(subject.clone(), inbox, Bytes::new())
            .await
            .map_err(|e| DiscoveryError::Publish {
                subject: subject.clone(),
                message: e.to_string(),
            })?;

        let mut state = Collect::new(verb, scope.clone(), expected, Arc::clone(&self.parsed));
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
                    state.take(&payload.payload, at);
                    at
                }
            };
            if state.replies.len() >= policy.max_replies {
                break StopReason::Capped;
            }
            // Parsed replies can take several times their payload: what they hold counts too, for
            // this round and for all rounds of the connection together.
            if state.held > policy.max_round_bytes as u64 || state.connection_held() > policy.max_connection_held() {
                break StopReason::Budget;
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
        let mut replies = sorted(std::mem::take(&mut state.replies));
        let held = state.hand_over();
        let mut down = self.registry.missing(&scope, &state.seen, policy.retention, Utc::now());
        let (mut targeted, mut unasked) = (0, 0);
        if verb == Verb::Ping && !down.is_empty() {
            if scope.is_single() {
                let silence = single_silence(stop == StopReason::NoResponders, invalid)
                    .unwrap_or_else(|| self.silence_after(&subject, t0));
                down.iter_mut().for_each(|k| k.silence = Some(silence));
            } else if stop == StopReason::NoResponders {
                down.iter_mut().for_each(|k| k.silence = Some(Silence::Gone));
            } else if matches!(stop, StopReason::Capped | StopReason::Budget) {
                // A round cut short did not hear everyone: its silent instances are not asked.
                unasked = down.len() as u64;
            } else {
                let asked = self.ask_silent(std::mem::take(&mut down), t0 + policy.timeout).await;
                (targeted, unasked, down) = (asked.asked, asked.unasked, asked.silent);
                if !asked.answered.is_empty() {
                    self.registry.record(&asked.answered, policy.retention);
                    for r in &asked.answered {
                        state.answered_targeted(&r.reply.name, &r.reply.id);
                    }
                    replies.extend(asked.answered);
                    replies = sorted(replies);
                }
            }
        }

        match stop {
            StopReason::Complete => {
                // Answer now (recording who answered); learn late newcomers in the background.
                self.registry.record(&replies, policy.retention);
                let this = Arc::clone(self);
                let scope = scope.clone();
                tokio::spawn(async move {
                    let policy = &this.policy;
                    let mut deadline = (Instant::now() + policy.stall_after(elapsed)).min(t0 + policy.timeout);
                    let (invalid_before, oversized_before) = (state.invalid, state.oversized);
                    // Late replies only teach who answered: their endpoints are not kept.
                    state.slim = true;
                    let limited_before = state.limited.clone();
                    let mut cut_short = false;
                    while let Ok(Some(arrival)) = tokio::time::timeout_at(deadline, arrivals.recv()).await {
                        let at = match arrival {
                            Arrival::Reply(payload, at) => {
                                state.take(&payload.payload, at);
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
                        if state.seen.len() >= policy.max_replies
                            || state.held > policy.max_round_bytes as u64
                            || state.connection_held() > policy.max_connection_held()
                        {
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
                    this.registry.record(&state.replies, policy.retention);
                    if !cut_short {
                        this.registry.retire(&scope, &state.seen);
                    }
                });
            }
            StopReason::Stall | StopReason::NoResponders | StopReason::Timeout => {
                self.registry.record(&replies, policy.retention);
                // Only a round that heard someone knows who is missing.
                if stop != StopReason::Timeout || !replies.is_empty() {
                    self.registry.retire(&scope, &state.seen);
                }
                drop_later((state, arrivals));
            }
            StopReason::Single | StopReason::Capped | StopReason::Budget => {
                self.registry.record(&replies, policy.retention);
                // Dropping `arrivals` ends the gate, which unsubscribes: the server stops sending.
                // It and what collected the round (every key that answered) are freed off the
                // answer's path.
                drop_later((state, arrivals));
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
            elapsed: t0.elapsed(),
            down,
            slow_ms: ms(policy.slow),
            targeted,
            unasked,
            held,
        })
    }
}

/// What the [`gate`] of a round's subscription passes on.
enum Arrival {
    /// A reply to parse, with its arrival time since the request.
    Reply(Unparsed, Duration),
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
/// the round parses it; and all rounds of the connection together (`unparsed`) wait on at most
/// `budget` bytes: a round that would pass it ends as if it had spent its own. The gate also
/// ends (and unsubscribes) when the receiver is dropped.
fn gate(
    mut sub: async_nats::Subscriber,
    t0: Instant,
    max_reply: usize,
    budget: u64,
    unparsed: Arc<AtomicU64>,
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
                    // Every round of the connection together waits on at most `budget` bytes.
                    let (waiting, total) = Unparsed::new(msg.payload, &unparsed);
                    if total > budget {
                        let _ = tx.send(Arrival::Spent(len));
                        break;
                    }
                    Arrival::Reply(waiting, t0.elapsed())
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

/// A reply payload waiting to be parsed, counted in its connection's unparsed bytes until it
/// is dropped (parsed, or left in a round's queue when the round ends).
struct Unparsed {
    payload: Bytes,
    counter: Arc<AtomicU64>,
}

impl Unparsed {
    /// The payload, counted; and the connection's unparsed bytes with it.
    fn new(payload: Bytes, counter: &Arc<AtomicU64>) -> (Self, u64) {
        let len = payload.len() as u64;
        let total = counter.fetch_add(len, Ordering::Relaxed).saturating_add(len);
        let counter = Arc::clone(counter);
        (Self { payload, counter }, total)
    }
}

impl Drop for Unparsed {
    fn drop(&mut self) {
        self.counter.fetch_sub(self.payload.len() as u64, Ordering::Relaxed);
    }
}

/// Reply collection state of one round.
struct Collect {
    verb: Verb,
    scope: Scope,
    expected: Prints,
    waiting: usize,
    /// Who answered, made like `expected`: one fingerprint per reply serves both.
    seen: Prints,
    /// Who answered this round's targeted ping: a broadcast reply of theirs that comes after it
    /// is their first reply to the round, not a duplicate.
    excused: Vec<u64>,
    replies: Vec<Reply>,
    invalid: u64,
    oversized: u64,
    bytes: u64,
    /// Memory the kept replies hold ([`crate::model::micro::ServiceReply::heap_bytes`]): counted
    /// in the round budget.
    held: u64,
    /// Keep only who answered (name, id, version) of each reply: set for the late replies a
    /// finished round still listens to, which only teach the registry newcomers.
    slim: bool,
    /// The connection's total of parsed bytes held, and what of it this collection added and
    /// still holds (taken back when it is dropped, unless handed over to the round).
    connection: Arc<AtomicU64>,
    counted: u64,
    limited: BTreeMap<Limit, u64>,
    last_reply: Option<Duration>,
}

impl Collect {
    fn new(verb: Verb, scope: Scope, expected: Prints, connection: Arc<AtomicU64>) -> Self {
        let waiting = expected.len();
        Self {
            verb,
            scope,
            seen: expected.empty_like(waiting),
            excused: Vec::new(),
            replies: Vec::with_capacity(waiting),
            expected,
            waiting,
            invalid: 0,
            oversized: 0,
            bytes: 0,
            held: 0,
            slim: false,
            connection,
            counted: 0,
            limited: BTreeMap::new(),
            last_reply: None,
        }
    }

    fn take(&mut self, payload: &[u8], at: Duration) {
        self.bytes += payload.len() as u64;
        match parse_reply(self.verb, payload) {
            Ok(mut reply) if self.scope.contains(&reply.name, &reply.id) => {
                // Metadata is shown by `info` only: a PING or STATS round of thousands of
                // instances does not keep up to 4 KiB of it per instance and endpoint.
                if self.slim {
                    reply.metadata = Default::default();
                    reply.endpoints = Vec::new();
                    reply.description = String::new();
                } else if self.verb != Verb::Info {
                    reply.metadata = Default::default();
                    reply.endpoints.iter_mut().for_each(|e| e.metadata = Default::default());
                }
                let print = self.seen.print(&reply.name, &reply.id);
                if !self.seen.insert_print(print) {
                    match self.excused.iter().position(|p| *p == print) {
                        Some(k) => {
                            self.excused.swap_remove(k);
                        }
                        None => self.invalid += 1,
                    }
                    return;
                }
                if self.expected.contains_print(print) {
                    self.waiting = self.waiting.saturating_sub(1);
                }
                self.last_reply = Some(at);
                for l in &reply.limited {
                    *self.limited.entry(*l).or_insert(0) += 1;
                }
                let bytes = reply.heap_bytes() as u64;
                self.held += bytes;
                self.counted += bytes;
                self.connection.fetch_add(bytes, Ordering::Relaxed);
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

    /// What the parsed replies of all rounds of the connection hold now.
    fn connection_held(&self) -> u64 {
        self.connection.load(Ordering::Relaxed)
    }

    /// The count of the replies taken so far, for the round that takes them: it is taken back
    /// from the connection's total when that round is dropped.
    fn hand_over(&mut self) -> Held {
        Held::counted(std::mem::take(&mut self.counted), Arc::clone(&self.connection))
    }

    /// An instance silent in the broadcast answered its targeted ping: it has answered.
    fn answered_targeted(&mut self, name: &str, id: &str) {
        let print = self.seen.print(name, id);
        if self.seen.insert_print(print) {
            self.excused.push(print);
        }
    }

    fn expected_complete(&self) -> bool {
        !self.expected.is_empty() && self.waiting == 0
    }
}

impl Drop for Collect {
    fn drop(&mut self) {
        self.connection.fetch_sub(self.counted, Ordering::Relaxed);
    }
}

/// Replies in `(service, id)` order.
fn sorted(replies: Vec<Reply>) -> Vec<Reply> {
    key::sorted(replies, |r| (&r.reply.name, &r.reply.id))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Field bounds applied, as metric labels.
fn limit_labels(limited: &BTreeMap<Limit, u64>) -> Vec<(&'static str, u64)> {
    limited.iter().map(|(l, n)| (l.name(), *n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A STATS reply of `endpoints` endpoints with metadata, a description and custom data.
    fn wide_stats(endpoints: usize) -> Vec<u8> {
        let endpoints: Vec<serde_json::Value> = (0..endpoints)
            .map(|e| {
                serde_json::json!({"name": format!("e{e}"), "subject": format!("wide.{e}"), "num_requests": e,
                    "num_errors": 0, "processing_time": 10, "average_processing_time": 1,
                    "metadata": {"k": "v"}, "data": {"depth": e}})
            })
            .collect();
        serde_json::json!({"type": "io.nats.micro.v1.stats_response", "name": "wide", "id": "w1",
            "version": "1.2.3", "description": "d".repeat(4000), "metadata": {"k": "v".repeat(1000)},
            "started": "2026-01-01T00:00:00Z", "endpoints": endpoints})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn a_slim_round_keeps_who_answered_and_nothing_else() {
        let payload = wide_stats(1000);
        let mut whole = Collect::new(Verb::Stats, Scope::all(), Prints::new(), Arc::default());
        whole.take(&payload, Duration::ZERO);
        let mut slim = Collect::new(Verb::Stats, Scope::all(), Prints::new(), Arc::default());
        slim.slim = true;
        slim.take(&payload, Duration::ZERO);
        let r = &slim.replies[0].reply;
        assert_eq!(
            (r.name.as_str(), r.id.as_str(), r.version.as_str()),
            ("wide", "w1", "1.2.3")
        );
        assert!(r.endpoints.is_empty() && r.metadata.is_empty() && r.description.is_empty());
        assert_eq!(whole.replies[0].reply.endpoints.len(), 1000);
        assert!(
            slim.held * 100 < whole.held,
            "slim {} vs whole {}",
            slim.held,
            whole.held
        );
        assert_eq!(
            slim.bytes,
            payload.len() as u64,
            "the payload still counts in the round's bytes"
        );
    }

    #[test]
    fn parsed_replies_count_in_their_connection_until_their_round_is_dropped() {
        let connection = Arc::new(AtomicU64::new(0));
        let mut a = Collect::new(Verb::Stats, Scope::all(), Prints::new(), Arc::clone(&connection));
        a.take(&wide_stats(100), Duration::ZERO);
        assert!(a.held > 0);
        assert_eq!(connection.load(Ordering::Relaxed), a.held);
        // A second round of the same connection adds to the same total.
        let mut b = Collect::new(Verb::Stats, Scope::all(), Prints::new(), Arc::clone(&connection));
        b.take(&wide_stats(10), Duration::ZERO);
        assert_eq!(b.connection_held(), a.held + b.held);
        // The round that takes a's replies holds their count; a late reply after it counts anew.
        let round_held = a.hand_over();
        assert_eq!(round_held.bytes(), a.held);
        let late = wide_stats(1)
            .into_iter()
            .map(|c| if c == b'w' { b'v' } else { c })
            .collect::<Vec<u8>>();
        a.take(&late, Duration::ZERO);
        let late_held = a.held - round_held.bytes();
        assert!(late_held > 0);
        assert_eq!(connection.load(Ordering::Relaxed), a.held + b.held);
        drop(a);
        assert_eq!(
            connection.load(Ordering::Relaxed),
            round_held.bytes() + b.held,
            "the collection gives back only what it kept"
        );
        drop(round_held);
        drop(b);
        assert_eq!(connection.load(Ordering::Relaxed), 0);
        assert_eq!(Held::default().bytes(), 0);
    }

    #[test]
    fn unparsed_payloads_count_in_their_connection_until_dropped() {
        let counter = Arc::new(AtomicU64::new(0));
        let (a, total) = Unparsed::new(Bytes::from(vec![b'x'; 100]), &counter);
        assert_eq!(total, 100);
        let (b, total) = Unparsed::new(Bytes::from(vec![b'y'; 50]), &counter);
        assert_eq!(total, 150, "every round of the connection adds to the same count");
        drop(a);
        assert_eq!(counter.load(Ordering::Relaxed), 50);
        assert_eq!(&b.payload[..], &[b'y'; 50][..]);
        drop(b);
        assert_eq!(counter.load(Ordering::Relaxed), 0);
    }
}
