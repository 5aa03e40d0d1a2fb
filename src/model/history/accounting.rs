//! What the history holds, counted: live samples, accounted bytes recomputed from scratch, and the heap its series really take.

use std::collections::VecDeque;

use super::*;

impl History {
    /// Bytes the `VecDeque`s hold including spare capacity, plus the other accounted bytes.
    pub fn heap_bytes(&self) -> usize {
        let points: usize = self
            .instances
            .values()
            .map(|i| {
                i.pings.capacity() * PING_POINT_BYTES
                    + i.endpoints
                        .values()
                        .map(|e| e.capacity() * ENDPOINT_POINT_BYTES)
                        .sum::<usize>()
                    + i.data_capacity_bytes()
            })
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
            .map(|i| i.pings.len() + i.endpoints.values().map(VecDeque::len).sum::<usize>() + i.data_points())
            .sum::<usize>()
            + self.probes.values().map(VecDeque::len).sum::<usize>()
    }

    pub(super) fn sample_bytes(&self) -> usize {
        self.instances
            .values()
            .map(|i| {
                i.pings.len() * PING_POINT_BYTES
                    + i.endpoints
                        .values()
                        .map(|e| e.len() * ENDPOINT_POINT_BYTES)
                        .sum::<usize>()
                    + i.data_points() * DATA_POINT_BYTES
            })
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
                    + i.endpoints.keys().map(|n| endpoint_overhead(n)).sum::<usize>()
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
