//! What a query reads: [`History::subset`] copies, under the history's lock, the parts of a window a query needs as they are stored (packed) into a [`HistoryView`]; the view unpacks one instance at a time as the frame builders read it, outside the lock; pure.
//!
//! A view never holds a whole window unpacked: an aggregate over twenty thousand instances
//! unpacks, folds and frees one instance's points after the other.

use std::collections::{BTreeMap, VecDeque};

use super::data::DataSeries;
use super::packed::{self, Packed};
use super::probes::ProbeSeries;
use super::{EndpointPoint, Event, History, InstanceHistory, PingPoint};

/// How much of the history a query copies at most: `series` series, one per instance, or one per
/// endpoint of each instance (`per_endpoint`, for `stats`).
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub series: usize,
    pub per_endpoint: bool,
}

/// Which parts of the history a query reads: the others are not copied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reads {
    /// Ping samples per instance.
    pub pings: bool,
    /// Stats samples per endpoint.
    pub endpoints: bool,
    /// Custom data leaves.
    pub data: bool,
    pub events: bool,
    pub probes: bool,
}

impl Reads {
    /// Everything (tests, measurements, the fuzzer).
    pub const ALL: Reads = Reads {
        pings: true,
        endpoints: true,
        data: true,
        events: true,
        probes: true,
    };
    /// Nothing but the counts.
    pub const NONE: Reads = Reads {
        pings: false,
        endpoints: false,
        data: false,
        events: false,
        probes: false,
    };
}

/// The whole history's counts, as they were when a view was taken.
#[derive(Clone, Copy, Debug)]
struct Counts {
    bytes: usize,
    budget: usize,
    retention_ms: i64,
    samples: usize,
    rounds: usize,
    oldest: Option<i64>,
    truncated_through: Option<i64>,
    dropped_samples: u64,
}

/// What one query reads of a history: the instances it asked for, packed, in (service, id)
/// order, unpacked one at a time by [`HistoryView::instances`]; the events and probe results of
/// the window; the whole history's counts.
#[derive(Clone, Debug)]
pub struct HistoryView {
    instances: Vec<InstanceHistory>,
    events: Vec<Event>,
    probes: ProbeSeries,
    /// Time of every round held, oldest first, from round `first_seq` on.
    ledger: VecDeque<i64>,
    first_seq: u64,
    /// The first round of the window: series are unpacked from the point before it.
    from_seq: u64,
    /// Instances of the scope a limit left out.
    left_out: usize,
    counts: Counts,
}

/// One instance of a [`HistoryView`], with its points in the window (plus the one before) and
/// their times.
#[derive(Clone, Debug, PartialEq)]
pub struct InstanceView<'a> {
    pub service: &'a str,
    pub id: &'a str,
    /// Latest version seen.
    pub version: &'a str,
    pub pings: VecDeque<PingPoint>,
    /// Stats samples per endpoint.
    pub endpoints: BTreeMap<&'a str, VecDeque<EndpointPoint>>,
    /// Numeric custom `data` leaves, by (endpoint, path), from the window's start on.
    pub data: &'a DataSeries,
    /// Latest `started` (ms) seen in STATS.
    pub started: Option<i64>,
    pub segment: u32,
    /// Answered the latest ping round.
    pub up: bool,
}

impl History {
    /// What a query from `from_ms` on reads, copied as it is stored (packed, nothing decoded):
    /// the parts `reads` names of the instances `keep` accepts (at most `limit` of them, the
    /// first in (service, id) order: [`HistoryView::left_out`] counts the others), with their
    /// points from `from_ms` on plus the one just before (the start of the first interval).
    /// This is the only work done under the history's lock; the view decodes outside it.
    pub fn subset(
        &self,
        from_ms: i64,
        keep: impl Fn(&str, &str) -> bool,
        limit: Option<Limit>,
        reads: Reads,
    ) -> HistoryView {
        let mut kept: Vec<&InstanceHistory> = self.instances.values().filter(|i| keep(&i.service, &i.id)).collect();
        kept.sort_unstable_by(|a, b| (a.service.as_str(), a.id.as_str()).cmp(&(b.service.as_str(), b.id.as_str())));
        // With a limit, the first instances in (service, id) order: what the frames would show.
        let mut left_out = 0;
        if let Some(limit) = limit {
            let mut series = 0usize;
            let fits = kept
                .iter()
                .take_while(|i| {
                    series += if limit.per_endpoint {
                        i.packed_endpoints.len().max(1)
                    } else {
                        1
                    };
                    series <= limit.series
                })
                .count();
            left_out = kept.len() - fits;
            kept.truncate(fits);
        }
        let instances = kept.into_iter().map(|i| copy_of(i, reads, from_ms)).collect();
        HistoryView {
            instances,
            events: if reads.events {
                self.events.iter().filter(|e| e.t >= from_ms).cloned().collect()
            } else {
                Vec::new()
            },
            probes: if reads.probes {
                self.probes_from(from_ms)
            } else {
                ProbeSeries::new()
            },
            ledger: self.ledger.clone(),
            first_seq: self.first_seq,
            from_seq: self.seq_at(from_ms),
            left_out,
            counts: Counts {
                bytes: self.bytes,
                budget: self.budget,
                retention_ms: self.retention_ms,
                samples: self.samples(),
                rounds: self.rounds(),
                oldest: self.oldest(),
                truncated_through: self.truncated_through,
                dropped_samples: self.dropped_samples,
            },
        }
    }

    /// Everything from `from_ms` on of the instances `keep` accepts.
    pub fn view(&self, from_ms: i64, keep: impl Fn(&str, &str) -> bool) -> HistoryView {
        self.subset(from_ms, keep, None, Reads::ALL)
    }

    /// A view of everything (what tests and measurements read instead of the packed store).
    pub fn unpacked(&self) -> HistoryView {
        self.view(i64::MIN, |_, _| true)
    }

    /// The first round at or after `from_ms`: series are unpacked from the point before it.
    fn seq_at(&self, from_ms: i64) -> u64 {
        self.first_seq + self.ledger.partition_point(|t| *t < from_ms) as u64
    }

    /// The time of round `seq`, while the ledger holds it.
    pub(super) fn time_of(&self, seq: u64) -> Option<i64> {
        time_in(&self.ledger, self.first_seq, seq)
    }
}

/// What `reads` needs of `i`: names and state always, each series only when read.
fn copy_of(i: &InstanceHistory, reads: Reads, from_ms: i64) -> InstanceHistory {
    InstanceHistory {
        service: i.service.clone(),
        id: i.id.clone(),
        version: i.version.clone(),
        packed_pings: if reads.pings {
            i.packed_pings.clone()
        } else {
            Packed::default()
        },
        packed_endpoints: if reads.endpoints {
            i.packed_endpoints.clone()
        } else {
            BTreeMap::new()
        },
        data: if reads.data {
            i.data_from(from_ms)
        } else {
            DataSeries::new()
        },
        started: i.started,
        segment: i.segment,
        up: i.up,
        ..InstanceHistory::default()
    }
}

fn time_in(ledger: &VecDeque<i64>, first_seq: u64, seq: u64) -> Option<i64> {
    let i = usize::try_from(seq.checked_sub(first_seq)?).ok()?;
    ledger.get(i).copied()
}

impl HistoryView {
    /// Every instance copied, in (service, id) order, each unpacked as it is reached (and freed
    /// when the caller drops it).
    pub fn instances(&self) -> impl Iterator<Item = InstanceView<'_>> {
        self.instances.iter().map(|i| self.unpack_instance(i))
    }

    pub fn instance(&self, service: &str, id: &str) -> Option<InstanceView<'_>> {
        let at = self
            .instances
            .binary_search_by(|i| (i.service.as_str(), i.id.as_str()).cmp(&(service, id)))
            .ok()?;
        self.instances.get(at).map(|i| self.unpack_instance(i))
    }

    /// The events from the window's start on, oldest first.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.events.iter()
    }

    /// Probe series from the window's start on (plus the point before), by name.
    pub fn probes(&self) -> &ProbeSeries {
        &self.probes
    }

    /// Instances of the query's scope a limited [`History::subset`] left out.
    pub fn left_out(&self) -> usize {
        self.left_out
    }

    /// The whole history's accounted bytes.
    pub fn bytes(&self) -> usize {
        self.counts.bytes
    }

    pub fn budget(&self) -> usize {
        self.counts.budget
    }

    /// The whole history's live samples.
    pub fn samples(&self) -> usize {
        self.counts.samples
    }

    /// Rounds the whole history holds.
    pub fn rounds(&self) -> usize {
        self.counts.rounds
    }

    /// Time of the oldest round the history holds.
    pub fn oldest(&self) -> Option<i64> {
        self.counts.oldest
    }

    /// Samples the history dropped to stay under its budget.
    pub fn dropped_samples(&self) -> u64 {
        self.counts.dropped_samples
    }

    /// When samples inside the retention window (as of `now`) were dropped for memory, the time up
    /// to which they were dropped.
    pub fn truncated_through(&self, now: i64) -> Option<i64> {
        let c = &self.counts;
        c.truncated_through.filter(|t| *t >= now.saturating_sub(c.retention_ms))
    }

    fn unpack_instance<'a>(&'a self, i: &'a InstanceHistory) -> InstanceView<'a> {
        InstanceView {
            service: &i.service,
            id: &i.id,
            version: &i.version,
            pings: self.unpack(&i.packed_pings, |t, v| PingPoint {
                t,
                rtt: v.rtt_ms(),
                state: v.state,
            }),
            endpoints: i
                .packed_endpoints
                .iter()
                .map(|(name, series)| {
                    let points = self.unpack(series, |t, v| EndpointPoint {
                        t,
                        requests: v.requests,
                        errors: v.errors,
                        processing_ns: v.processing_ns,
                        segment: v.segment,
                    });
                    (name.as_str(), points)
                })
                .collect(),
            data: &i.data,
            started: i.started,
            segment: i.segment,
            up: i.up,
        }
    }

    /// The points of `series` from the window's first round on, plus the one before, with their
    /// times.
    fn unpack<C: packed::Codec, P>(&self, series: &Packed<C>, make: impl Fn(i64, C) -> P) -> VecDeque<P> {
        let points = series.points_from(self.from_seq);
        let first = points
            .partition_point(|(seq, _)| *seq < self.from_seq)
            .saturating_sub(1);
        points[first..]
            .iter()
            .filter_map(|(seq, v)| time_in(&self.ledger, self.first_seq, *seq).map(|t| make(t, *v)))
            .collect()
    }
}
