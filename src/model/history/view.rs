//! What a query reads: [`History::subset`] copies (under the history's lock) what a window needs as it is stored, and [`History::view`] unpacks it into points with their times (outside the lock); pure.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::packed::{self, Packed};
use super::{EndpointPoint, History, InstanceHistory, PingPoint};

/// How much of the history a query copies at most: `series` series, one per instance, or one per
/// endpoint of each instance (`per_endpoint`, for `stats`).
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub series: usize,
    pub per_endpoint: bool,
}

impl History {
    /// A copy of what a query from `from_ms` on reads: the instances `keep` accepts, with their
    /// points from `from_ms` on plus the one just before (the start of the first interval), and
    /// the events from `from_ms` on. Taking it costs a copy of those points, so it can be taken
    /// under a lock and the frames built from the copy outside it. Counts (rounds, bytes, the
    /// oldest round, truncation) are the whole history's.
    pub fn view(&self, from_ms: i64, keep: impl Fn(&str, &str) -> bool) -> History {
        let from_seq = self.seq_at(from_ms);
        let instances = self
            .instances
            .iter()
            .filter(|(_, i)| keep(&i.service, &i.id))
            .map(|(k, i)| (k.clone(), self.unpack_instance(i.clone(), from_seq, from_ms)))
            .collect();
        self.view_with(instances, from_ms)
    }

    /// [`History::view`] of everything, taking this copy apart as it goes (a copy from
    /// [`History::subset`]): each instance's packed series is freed once unpacked, so the copy
    /// and its view are never both whole in memory.
    pub fn into_view(mut self, from_ms: i64) -> History {
        let from_seq = self.seq_at(from_ms);
        let whole_samples = Some(self.samples());
        let packed = std::mem::take(&mut self.instances);
        let mut instances = HashMap::with_capacity(packed.len());
        for (k, i) in packed {
            instances.insert(k, self.unpack_instance(i, from_seq, from_ms));
        }
        self.events.retain(|e| e.t >= from_ms);
        History {
            instances,
            whole_samples,
            probes: self.probes_from(from_ms),
            ..self
        }
    }

    /// The first round at or after `from_ms`: series are unpacked from the point before it.
    fn seq_at(&self, from_ms: i64) -> u64 {
        self.first_seq + self.ledger.partition_point(|t| *t < from_ms) as u64
    }

    /// `i` with its points from round `from_seq` on unpacked, its packed series dropped.
    fn unpack_instance(&self, i: InstanceHistory, from_seq: u64, from_ms: i64) -> InstanceHistory {
        InstanceHistory {
            pings: self.unpack(&i.packed_pings, from_seq, |t, v| PingPoint {
                t,
                rtt: v.rtt_ms(),
                state: v.state,
            }),
            endpoints: i
                .packed_endpoints
                .iter()
                .map(|(name, series)| {
                    let points = self.unpack(series, from_seq, |t, v| EndpointPoint {
                        t,
                        requests: v.requests,
                        errors: v.errors,
                        processing_ns: v.processing_ns,
                        segment: v.segment,
                    });
                    (name.clone(), points)
                })
                .collect(),
            packed_pings: Packed::default(),
            packed_endpoints: BTreeMap::new(),
            data: i.data_from(from_ms),
            ..i
        }
    }

    /// A view holding `instances`, with this history's events, probes and counts.
    fn view_with(&self, instances: HashMap<(String, String), InstanceHistory>, from_ms: i64) -> History {
        History {
            instances,
            events: self.events.iter().filter(|e| e.t >= from_ms).cloned().collect(),
            ledger: self.ledger.clone(),
            whole_samples: Some(self.samples()),
            probes: self.probes_from(from_ms),
            ..*self
        }
    }

    /// What a query from `from_ms` on needs, copied as it is stored (packed, nothing decoded):
    /// the instances `keep` accepts (at most `limit` of them, the first in (service, id) order:
    /// [`History::left_out`] counts the others), the events, probe results and ledger. This is the only
    /// work done under the history's lock; [`History::view`] of the copy then decodes the
    /// window outside it. Counts stay the whole history's.
    pub fn subset(&self, from_ms: i64, keep: impl Fn(&str, &str) -> bool, limit: Option<Limit>) -> History {
        let mut kept: Vec<&(String, String)> = self
            .instances
            .iter()
            .filter(|(_, i)| keep(&i.service, &i.id))
            .map(|(k, _)| k)
            .collect();
        // With a limit, the first instances in (service, id) order: what the frames would show.
        let mut left_out = 0;
        if let Some(limit) = limit {
            kept.sort_unstable();
            let mut series = 0usize;
            let fits = kept
                .iter()
                .take_while(|k| {
                    let endpoints = self.instances.get(**k).map_or(0, |i| i.packed_endpoints.len());
                    series += if limit.per_endpoint { endpoints.max(1) } else { 1 };
                    series <= limit.series
                })
                .count();
            left_out = kept.len() - fits;
            kept.truncate(fits);
        }
        let mut instances = HashMap::with_capacity(kept.len());
        instances.extend(
            kept.into_iter()
                .filter_map(|k| self.instances.get(k).map(|i| (k.clone(), i.clone()))),
        );
        History {
            instances,
            left_out,
            events: self.events.iter().filter(|e| e.t >= from_ms).cloned().collect(),
            ledger: self.ledger.clone(),
            whole_samples: Some(self.samples()),
            probes: self.probes_from(from_ms),
            ..*self
        }
    }

    /// A view of everything (what tests and measurements read instead of the packed store).
    pub fn unpacked(&self) -> History {
        self.view(i64::MIN, |_, _| true)
    }

    /// The time of round `seq`, while the ledger holds it.
    pub(super) fn time_of(&self, seq: u64) -> Option<i64> {
        let i = usize::try_from(seq.checked_sub(self.first_seq)?).ok()?;
        self.ledger.get(i).copied()
    }

    /// The points of `series` from round `from_seq` on, plus the one before, with their times.
    fn unpack<C: packed::Codec, P>(
        &self,
        series: &Packed<C>,
        from_seq: u64,
        make: impl Fn(i64, C) -> P,
    ) -> VecDeque<P> {
        let points = series.points_from(from_seq);
        let first = points.partition_point(|(seq, _)| *seq < from_seq).saturating_sub(1);
        points[first..]
            .iter()
            .filter_map(|(seq, v)| self.time_of(*seq).map(|t| make(t, *v)))
            .collect()
    }
}
