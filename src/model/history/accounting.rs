//! What the history holds, counted: live samples, accounted bytes recomputed from scratch, and the heap its series really take.

use std::collections::VecDeque;

use super::{
    endpoint_overhead, instance_overhead, probes, Event, History, InstanceHistory, Packed, DATA_POINT_BYTES,
    LEDGER_ENTRY_BYTES, PROBE_POINT_BYTES,
};

/// Most instances one history remembers (the bound on known instances of a connection): beyond
/// it, instances that are down are forgotten, those that answered longest ago first. A peer that
/// answers with new ids every round cannot grow the history, or what every query of it copies,
/// past this, nor push out the instances that answer.
pub const MAX_INSTANCES: usize = 20_000;

impl InstanceHistory {
    /// Accounted bytes of this instance: what it costs besides its samples, and its samples.
    fn accounted(&self) -> usize {
        instance_overhead(&self.service, &self.id, &self.version)
            + self
                .packed_endpoints
                .keys()
                .map(|n| endpoint_overhead(n))
                .sum::<usize>()
            + self.data_overhead()
            + self.packed_bytes()
            + self.data_points() * DATA_POINT_BYTES
    }

    /// Heap bytes of the packed ping and endpoint series.
    fn packed_bytes(&self) -> usize {
        self.packed_pings.bytes() + self.packed_endpoints.values().map(Packed::bytes).sum::<usize>()
    }

    /// Packed samples held: (ping, endpoint).
    pub fn packed_samples(&self) -> (usize, usize) {
        (
            self.packed_pings.len(),
            self.packed_endpoints.values().map(Packed::len).sum(),
        )
    }
}

impl History {
    /// Heap bytes of every packed series: (ping, endpoint).
    pub fn series_bytes(&self) -> (usize, usize) {
        self.instances.values().fold((0, 0), |(p, e), i| {
            (
                p + i.packed_pings.bytes(),
                e + i.packed_endpoints.values().map(Packed::bytes).sum::<usize>(),
            )
        })
    }

    /// Bytes the `VecDeque`s hold including spare capacity, plus the other accounted bytes.
    pub fn heap_bytes(&self) -> usize {
        let points: usize = self
            .instances
            .values()
            .map(|i| i.packed_bytes() + i.data_capacity_bytes())
            .sum::<usize>()
            + self
                .probes
                .values()
                .map(|p| p.capacity() * PROBE_POINT_BYTES)
                .sum::<usize>();
        self.bytes - self.sample_bytes() + points
    }

    /// Live samples (ping and endpoint points).
    pub fn samples(&self) -> usize {
        self.instances
            .values()
            .map(|i| {
                i.packed_pings.len() + i.packed_endpoints.values().map(Packed::len).sum::<usize>() + i.data_points()
            })
            .sum::<usize>()
            + self.probes.values().map(VecDeque::len).sum::<usize>()
    }

    pub(super) fn sample_bytes(&self) -> usize {
        self.instances
            .values()
            .map(|i| i.packed_bytes() + i.data_points() * DATA_POINT_BYTES)
            .sum::<usize>()
            + self.probes.values().map(|p| p.len() * PROBE_POINT_BYTES).sum::<usize>()
    }

    /// The accounted bytes recomputed from scratch (tests compare it with [`History::bytes`]).
    pub fn recount(&self) -> usize {
        self.instances.values().map(InstanceHistory::accounted).sum::<usize>()
            + self.probes.values().map(|p| p.len() * PROBE_POINT_BYTES).sum::<usize>()
            + self.events.iter().map(Event::bytes).sum::<usize>()
            + self.ledger.len() * LEDGER_ENTRY_BYTES
            + self.probes.keys().map(|n| probes::series_overhead(n)).sum::<usize>()
    }
}

impl History {
    /// Forget instances beyond [`MAX_INSTANCES`]: only instances that are down, those that
    /// answered longest ago first (then those sampled longest ago).
    pub(super) fn forget_beyond_bound(&mut self) {
        let over = self.instances.len().saturating_sub(MAX_INSTANCES);
        if over == 0 {
            return;
        }
        let mut down: Vec<(u64, Option<u64>, &(String, String))> = self
            .instances
            .iter()
            .filter(|(_, i)| !i.up)
            .map(|(k, i)| (i.last_up_seq, i.packed_pings.last().map(|(seq, _)| seq), k))
            .collect();
        down.sort_unstable();
        let forget: Vec<(String, String)> = down.into_iter().take(over).map(|(_, _, k)| k.clone()).collect();
        for k in forget {
            if let Some(i) = self.instances.remove(&k) {
                self.bytes = self.bytes.saturating_sub(i.accounted());
            }
        }
    }
}
