//! What the NATS side observed, as plain data for the model: one discovery round (its valid replies, the known instances that stayed silent, why it stopped, what it skipped) and one request's reply.
//!
//! Pure data: produced by [`crate::nats`], read by the frame builders; no I/O.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};

use crate::model::micro::{Limit, Scope, ServiceReply, Verb};
use crate::model::state::Silence;

/// What a round's parsed replies hold, counted in a total its connection shares with its other
/// rounds until the round is dropped: all rounds of a connection together stay within a bound.
/// A clone is not counted (only the round the connection made is).
#[derive(Debug, Default)]
pub struct Held {
    bytes: u64,
    counter: Option<Arc<AtomicU64>>,
}

impl Held {
    /// `bytes` already added to `counter`; taken back from it when this is dropped.
    pub fn counted(bytes: u64, counter: Arc<AtomicU64>) -> Self {
        Self {
            bytes,
            counter: Some(counter),
        }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Clone for Held {
    fn clone(&self) -> Self {
        Self::default()
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(c) = &self.counter {
            c.fetch_sub(self.bytes, Ordering::Relaxed);
        }
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
    /// The byte budget of the round was spent.
    Budget,
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
            StopReason::Budget => "budget",
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
    /// Replies skipped: not JSON, wrong type, missing or too long identity, outside the scope, duplicates.
    pub invalid: u64,
    /// Replies skipped unparsed for their size (over [`Policy::max_reply_bytes`]).
    pub oversized: u64,
    /// Payload bytes read, every reply counted.
    pub bytes: u64,
    /// Field bounds applied, with how many replies each was applied to.
    pub limited: BTreeMap<Limit, u64>,
    /// The late replies of a round within the last minute (collected after it had answered) hit
    /// the reply cap or the byte budget. What late replies skipped or cut in that minute is
    /// counted in this round's `invalid`, `oversized` and `limited` too, so every answer tells it.
    pub late_cut_short: bool,
    pub stop: StopReason,
    /// Time until the round returned.
    pub elapsed: Duration,
    /// Arrival of the last valid reply, since the request.
    pub last_reply: Option<Duration>,
    /// Known instances of the scope seen within the retention window that did not answer
    /// (in a PING round, each with the verdict of its targeted ping).
    pub down: Vec<KnownInstance>,
    /// RTT (ms) over which an answer counts as `slow` (the data source's `slowMs`).
    pub slow_ms: f64,
    /// Targeted pings this round sent to silent instances.
    pub targeted: u64,
    /// Silent instances this round did not ask (over the bound of targeted pings per round).
    pub unasked: u64,
    /// What the parsed replies hold, counted in the connection's total while the round lives.
    pub held: Held,
}

impl Round {
    /// Whether the reply cap or the byte budget cut this round short.
    pub fn capped(&self) -> bool {
        matches!(self.stop, StopReason::Capped | StopReason::Budget)
    }
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
    /// Why it is silent in this round (a PING round's targeted ping); `None`: not asked.
    pub silence: Option<Silence>,
}

/// A successful reply to one request (a `request` query).
#[derive(Clone, Debug)]
pub struct RequestReply {
    pub payload: Bytes,
    /// Reply headers, by name, in the order received.
    pub headers: Vec<(String, String)>,
    pub rtt: Duration,
}
