//! The in-memory history of one data source: ping and stats samples per instance and endpoint, kept for the retention window under a hard memory bound, and the events (appeared, disappeared, restarted, version changed) detected between samples; pure, no I/O.
//!
//! # Layout and memory
//!
//! Every round (ping or stats) gets the next sequence number and one ledger entry: its time.
//! Per instance (`service`, `id`) one [`InstanceHistory`] holds its ping samples and, per
//! endpoint, its stats samples *packed* ([`packed`], [`codecs`]): each sample is stored with its
//! round's sequence number and coded against the one before, so a steady ping series costs
//! about two bytes per sample and an endpoint series a few. A query copies what it reads, still
//! packed, into a [`HistoryView`] ([`History::subset`]), which unpacks one instance at a time
//! into plain [`PingPoint`]s and [`EndpointPoint`]s with their times. Custom data leaves and
//! probe results are kept unpacked.
//!
//! The bound is on *accounted bytes*: the heap of the packed series, the unpacked points, a
//! fixed overhead per instance and endpoint (struct, map node, names), events, and one ledger
//! entry per round. When an ingest pushes the total over the budget, whole rounds are dropped
//! oldest first until it fits; the time of the latest dropped round is remembered so that
//! frames can say "history truncated".

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::mem::size_of;

use crate::model::key;

mod accounting;
pub mod checkpoint;
pub mod codecs;
mod data;
mod events;
pub mod packed;
mod probes;
mod samples;
mod view;
pub use accounting::MAX_INSTANCES;
pub use view::{HistoryView, InstanceView, Limit, Reads};
pub mod wire;

pub use data::{DataPoint, DataSeries, DATA_POINT_BYTES, MAX_DATA_LEAVES};
use events::Candidates;
pub use events::{Event, EventKind};
pub use probes::{ProbePoint, ProbeSeries, PROBE_POINT_BYTES};

use crate::model::state::State;
use codecs::{EndpointValue, PingValue};
use packed::Packed;

pub use samples::{ping_samples, stats_samples, EndpointSample, PingSample, StatsSample};

/// Events kept at most (oldest first out); they also count towards the budget.
pub const MAX_EVENTS: usize = 10_000;

/// One ping sample of one instance.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PingPoint {
    /// Unix time, milliseconds.
    pub t: i64,
    /// Round-trip time in ms; NaN when the instance was known but did not answer.
    pub rtt: f32,
    /// The [`State`] code of the instance in that round (fits the point's padding: no byte more).
    pub state: u8,
}

impl PingPoint {
    pub fn rtt(&self) -> Option<f32> {
        (!self.rtt.is_nan()).then_some(self.rtt)
    }

    /// The instance's state at this point.
    pub fn state(&self) -> State {
        State::from_code(self.state).unwrap_or(State::Unresponsive)
    }
}

/// One stats sample of one endpoint of one instance (counters as the instance reported them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointPoint {
    pub t: i64,
    pub requests: u64,
    pub errors: u64,
    /// Total processing time, nanoseconds.
    pub processing_ns: u64,
    /// Bumped when the instance's `started` changes: counters of different segments are not comparable.
    pub segment: u32,
}

/// Bytes accounted per ping point.
pub const PING_POINT_BYTES: usize = size_of::<PingPoint>();
/// Bytes accounted per endpoint point.
pub const ENDPOINT_POINT_BYTES: usize = size_of::<EndpointPoint>();
const LEDGER_ENTRY_BYTES: usize = size_of::<i64>();
const MAP_NODE_BYTES: usize = 64;

/// Everything remembered about one instance.
#[derive(Clone, Debug, Default)]
pub struct InstanceHistory {
    pub service: String,
    pub id: String,
    /// Latest version seen.
    pub version: String,
    /// The store's ping samples, packed, by round sequence number.
    packed_pings: Packed<PingValue>,
    /// The store's stats samples per endpoint, packed.
    packed_endpoints: BTreeMap<String, Packed<EndpointValue>>,
    /// Numeric custom `data` leaves, by (endpoint, path).
    pub data: DataSeries,
    /// Latest `started` (ms) seen in STATS.
    pub started: Option<i64>,
    pub segment: u32,
    /// Answered the latest ping round.
    pub up: bool,
    /// A newer instance of the same service was reported as its replacement.
    replaced: bool,
    /// Has been in a ping round (an instance first seen by STATS is still new to PING).
    pinged: bool,
    /// Sequence number of the latest round it answered (0 when unknown, as after a restore):
    /// who is forgotten first beyond [`MAX_INSTANCES`].
    last_up_seq: u64,
}

fn instance_overhead(service: &str, id: &str, version: &str) -> usize {
    // The map key repeats service and id.
    size_of::<InstanceHistory>()
        + size_of::<(String, String)>()
        + MAP_NODE_BYTES
        + 2 * (service.len() + id.len())
        + version.len()
}

fn endpoint_overhead(name: &str) -> usize {
    size_of::<String>() + size_of::<Packed<EndpointValue>>() + MAP_NODE_BYTES + name.len()
}

fn grow(bytes: usize, delta: isize) -> usize {
    bytes.saturating_add_signed(delta)
}

/// The history of one data source.
#[derive(Clone, Debug)]
pub struct History {
    /// By `(service, id)`; hashed, so an ingest finds an instance in one step.
    instances: HashMap<(String, String), InstanceHistory>,
    events: VecDeque<Event>,
    /// Time of every ingested round, oldest first: the unit of eviction.
    ledger: VecDeque<i64>,
    /// Sequence number of the ledger's first round (rounds are numbered from 0 as they come).
    first_seq: u64,
    retention_ms: i64,
    budget: usize,
    bytes: usize,
    ping_rounds: u64,
    /// Instances that answered their latest ping round (`InstanceHistory::up`).
    up: usize,
    /// Latest round time dropped to stay under the budget.
    truncated_through: Option<i64>,
    dropped_samples: u64,
    /// Probe results by probe name.
    probes: ProbeSeries,
}

impl History {
    /// An empty history keeping `retention_ms` of samples within `budget` accounted bytes.
    pub fn new(retention_ms: i64, budget: usize) -> Self {
        Self {
            instances: HashMap::new(),
            events: VecDeque::new(),
            ledger: VecDeque::new(),
            first_seq: 0,
            retention_ms: retention_ms.max(1),
            budget,
            bytes: 0,
            ping_rounds: 0,
            up: 0,
            truncated_through: None,
            dropped_samples: 0,
            probes: ProbeSeries::new(),
        }
    }

    /// Keep this history under a new retention and budget (a settings save that kept the NATS
    /// target): samples beyond either are dropped now.
    pub fn reconfigure(&mut self, retention_ms: i64, budget: usize) {
        self.retention_ms = retention_ms.max(1);
        self.budget = budget;
        let Some(latest) = self.ledger.back().copied() else {
            return;
        };
        self.trim(latest.saturating_sub(self.retention_ms).saturating_sub(1));
        self.fit_budget();
    }

    /// Accounted bytes (see the module docs).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn budget(&self) -> usize {
        self.budget
    }

    pub fn retention_ms(&self) -> i64 {
        self.retention_ms
    }

    /// Samples dropped to stay under the budget (not counting retention).
    pub fn dropped_samples(&self) -> u64 {
        self.dropped_samples
    }

    /// When samples inside the retention window (as of `now`) were dropped for memory, the time up
    /// to which they were dropped.
    pub fn truncated_through(&self, now: i64) -> Option<i64> {
        self.truncated_through
            .filter(|t| *t >= now.saturating_sub(self.retention_ms))
    }

    /// Time of the oldest round still held.
    pub fn oldest(&self) -> Option<i64> {
        self.ledger.front().copied()
    }

    /// Rounds held.
    pub fn rounds(&self) -> usize {
        self.ledger.len()
    }

    /// Every instance, ordered by service, then id.
    pub fn instances(&self) -> impl Iterator<Item = &InstanceHistory> {
        let mut all: Vec<&InstanceHistory> = self.instances.values().collect();
        all.sort_unstable_by(|a, b| (a.service.as_str(), a.id.as_str()).cmp(&(b.service.as_str(), b.id.as_str())));
        all.into_iter()
    }

    pub fn instance(&self, service: &str, id: &str) -> Option<&InstanceHistory> {
        self.instances.get(key::of(&(service, id)))
    }

    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    /// Run `f` on the instance's history, created if new: one lookup and no allocation for a
    /// known instance.
    fn with_instance<R>(
        &mut self,
        (service, id, version): (&str, &str, &str),
        f: impl FnOnce(&mut InstanceHistory) -> R,
    ) -> R {
        if let Some(inst) = self.instances.get_mut(key::of(&(service, id))) {
            return f(inst);
        }
        self.bytes += instance_overhead(service, id, version);
        let inst = InstanceHistory {
            service: service.to_string(),
            id: id.to_string(),
            version: version.to_string(),
            ..InstanceHistory::default()
        };
        f(self
            .instances
            .entry((service.to_string(), id.to_string()))
            .or_insert(inst))
    }

    fn set_version(&mut self, t: i64, service: &str, id: &str, version: &str) {
        let Some(inst) = self.instances.get_mut(key::of(&(service, id))) else {
            return;
        };
        if version.is_empty() || inst.version == version {
            return;
        }
        let old = std::mem::replace(&mut inst.version, version.to_string());
        self.bytes = self.bytes + version.len() - old.len();
        if !old.is_empty() {
            self.event(
                t,
                EventKind::VersionChanged,
                service,
                id,
                format!("{service} {id}: version {old} → {version}"),
                format!("instance {id} of {service} now reports version {version} (was {old})"),
            );
        }
    }

    /// Record a ping round taken at `t` (ms): every answer and every known instance that did not answer.
    ///
    /// Events (not on the very first round, which is the baseline): an unknown id answering is
    /// *appeared*, or *restarted* when another instance of the same service is down and not yet
    /// replaced (it is then marked replaced); a known instance answering again is *appeared*;
    /// one that answered the previous round and not this one is *disappeared*.
    pub fn ingest_ping<S: AsRef<str>>(&mut self, t: i64, samples: &[PingSample<S>]) {
        self.ingest_ping_round(t, samples, true);
    }

    /// [`History::ingest_ping`]; a round that is not `complete` (chunks of it never came) says
    /// nothing of the instances it does not mention: they are unknown for it, not down.
    pub fn ingest_ping_round<S: AsRef<str>>(&mut self, t: i64, samples: &[PingSample<S>], complete: bool) {
        let seq = self.next_seq();
        let baseline = self.ping_rounds == 0;
        self.ping_rounds += 1;
        // Instances that were up and are in this round (each counted once).
        let (up_before, mut up_and_mentioned) = (self.up, 0);
        let mut candidates = Candidates::default();
        for s in samples {
            let (service, id, version) = (s.service.as_ref(), s.id.as_ref(), s.version.as_ref());
            let (new_version, created, was_up, first, delta) = self.with_instance((service, id, version), |inst| {
                let created = !inst.pinged;
                inst.pinged = true;
                let was_up = inst.up;
                inst.up = s.rtt_ms.is_some();
                if inst.up {
                    inst.last_up_seq = seq;
                }
                let first = inst.packed_pings.last().is_none_or(|(last, _)| last != seq);
                let delta = inst.packed_pings.push(seq, PingValue::new(s.rtt_ms, s.state.code()));
                (
                    !version.is_empty() && inst.version != version,
                    created,
                    was_up,
                    first,
                    delta,
                )
            });
            self.bytes = grow(self.bytes, delta);
            if first && was_up {
                up_and_mentioned += 1;
            }
            match (was_up, s.rtt_ms.is_some()) {
                (false, true) => self.up += 1,
                (true, false) => self.up -= 1,
                _ => {}
            }
            if baseline {
                continue;
            }
            if s.rtt_ms.is_none() && (created || was_up) {
                candidates.add(service);
            }
            match (created, was_up, s.rtt_ms.is_some()) {
                (true, _, true) => self.appeared_new(&mut candidates, t, service, id, version),
                (false, false, true) => self.event(
                    t,
                    EventKind::Appeared,
                    service,
                    id,
                    format!("{service} {id} is back"),
                    format!("instance {id} of {service} answers again"),
                ),
                (false, true, false) => self.disappeared(t, service, id),
                _ => {}
            }
            if new_version {
                self.set_version(t, service, id, version);
            }
        }
        // Instances the round did not mention at all (forgotten by discovery) are down too: up,
        // and without a sample of this round. Looked for only when some up instance was missing.
        let mut silent: Vec<(String, String)> = Vec::new();
        if complete && up_before > up_and_mentioned {
            silent = self
                .instances
                .iter()
                .filter(|(_, i)| i.up && i.packed_pings.last().is_none_or(|(last, _)| last != seq))
                .map(|(k, _)| k.clone())
                .collect();
            silent.sort_unstable();
        }
        for (service, id) in silent {
            if let Some(i) = self.instances.get_mut(key::of(&(&service, &id))) {
                i.up = false;
                self.up -= 1;
            }
            if !baseline {
                self.disappeared(t, &service, &id);
            }
        }
        self.close_round(t);
    }

    /// Record a stats round taken at `t` (ms). A changed `started` of a known instance is a
    /// *restarted* event and starts a new counter segment.
    pub fn ingest_stats<S: AsRef<str>>(&mut self, t: i64, samples: &[StatsSample<S>]) {
        let seq = self.next_seq();
        for s in samples {
            let (service, id, version) = (s.service.as_ref(), s.id.as_ref(), s.version.as_ref());
            let (new_version, restarted, added) = self.with_instance((service, id, version), |inst| {
                let restarted = matches!((inst.started, s.started), (Some(a), Some(b)) if a != b);
                if restarted {
                    inst.segment += 1;
                }
                if s.started.is_some() {
                    inst.started = s.started;
                }
                let segment = inst.segment;
                let mut added: isize = 0;
                for e in &s.endpoints {
                    let name = e.name.as_ref();
                    let value = EndpointValue {
                        requests: e.requests,
                        errors: e.errors,
                        processing_ns: e.processing_ns,
                        segment,
                    };
                    match inst.packed_endpoints.get_mut(name) {
                        Some(series) => added += series.push(seq, value),
                        None => {
                            let mut series = Packed::default();
                            added += endpoint_overhead(name) as isize + series.push(seq, value);
                            inst.packed_endpoints.insert(name.to_string(), series);
                        }
                    }
                    added += inst.push_data(t, segment, name, &e.data) as isize;
                }
                (!version.is_empty() && inst.version != version, restarted, added)
            });
            self.bytes = grow(self.bytes, added);
            if restarted {
                self.event(
                    t,
                    EventKind::Restarted,
                    service,
                    id,
                    format!("{service} {id} restarted"),
                    format!("instance {id} of {service} reports a new start time"),
                );
            }
            if new_version {
                self.set_version(t, service, id, version);
            }
        }
        self.close_round(t);
    }

    /// The sequence number the next round gets.
    fn next_seq(&self) -> u64 {
        self.first_seq + self.ledger.len() as u64
    }

    fn close_round(&mut self, t: i64) {
        self.ledger.push_back(t);
        self.bytes += LEDGER_ENTRY_BYTES;
        self.trim(t.saturating_sub(self.retention_ms).saturating_sub(1));
        self.forget_beyond_bound();
        self.fit_budget();
    }

    /// Drop whole rounds, oldest first, until the accounted bytes fit the budget.
    fn fit_budget(&mut self) {
        while self.bytes > self.budget {
            let Some(oldest) = self.ledger.front().copied() else {
                break;
            };
            let before = self.samples();
            self.trim(oldest);
            self.dropped_samples += (before - self.samples()) as u64;
            self.truncated_through = Some(self.truncated_through.map_or(oldest, |x| x.max(oldest)));
            if self.ledger.is_empty() {
                break;
            }
        }
    }

    /// Drop every round, sample and event at or before `floor`, and instances left without samples that are down.
    fn trim(&mut self, floor: i64) {
        let (mut freed, mut changed) = (0usize, 0isize);
        let mut dropped = 0;
        while self.ledger.front().is_some_and(|t| *t <= floor) {
            self.ledger.pop_front();
            self.first_seq += 1;
            freed += LEDGER_ENTRY_BYTES;
            dropped += 1;
        }
        // Rounds before the ledger's first are gone: so are their samples.
        let floor_seq = self.first_seq.checked_sub(1);
        while self.events.front().is_some_and(|e| e.t <= floor) {
            if let Some(e) = self.events.pop_front() {
                freed += e.bytes();
            }
        }
        // Samples and data points belong to rounds: with no round dropped, none expired.
        if dropped > 0 {
            self.instances.retain(|_, i| {
                if let Some(floor_seq) = floor_seq {
                    changed += i.packed_pings.trim(floor_seq);
                    i.packed_endpoints.retain(|name, series| {
                        changed += series.trim(floor_seq);
                        if series.is_empty() {
                            freed += endpoint_overhead(name);
                            false
                        } else {
                            true
                        }
                    });
                }
                freed += i.trim_data(floor);
                let keep = i.up || !i.packed_pings.is_empty() || !i.packed_endpoints.is_empty();
                if !keep {
                    freed += instance_overhead(&i.service, &i.id, &i.version);
                }
                keep
            });
        }
        freed += self.trim_probes(floor);
        self.bytes = grow(self.bytes, changed) - freed;
    }
}

fn shrink<T>(d: &mut VecDeque<T>) {
    if d.capacity() > 2 * d.len() + 16 {
        d.shrink_to(d.len() + d.len() / 2 + 8);
    }
}

/// Append to a sample series, growing it by an eighth (at least 16) instead of doubling, so
/// that the heap of a series stays within ≈ 12.5 % of the bytes the budget accounts for: with
/// `VecDeque`'s doubling, a store at its bound held up to 1.7× its accounted bytes.
fn push_slim<T>(series: &mut VecDeque<T>, value: T) {
    if series.len() == series.capacity() {
        series.reserve_exact((series.len() / 8).max(16));
    }
    series.push_back(value);
}

#[cfg(test)]
mod tests;
