//! What the history holds, counted: live samples, accounted bytes recomputed from scratch, and the heap its series really take.

use std::collections::VecDeque;

use super::*;

impl InstanceHistory {
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
        if let Some(n) = self.whole_samples {
            return n;
        }
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
        let overhead: usize = self
            .instances
            .values()
            .map(|i| {
                instance_overhead(&i.service, &i.id, &i.version)
                    + i.packed_endpoints.keys().map(|n| endpoint_overhead(n)).sum::<usize>()
                    + i.data_overhead()
            })
            .sum();
        overhead
            + self.sample_bytes()
            + self.events.iter().map(Event::bytes).sum::<usize>()
            + self.ledger.len() * LEDGER_ENTRY_BYTES
            + self.probes.keys().map(|n| probes::series_overhead(n)).sum::<usize>()
    }
}
