//! Probe results in the history: one series per probe name (latency, success, state, service-error code), under the same retention and byte budget as the other samples.

use std::collections::{BTreeMap, VecDeque};
use std::mem::size_of;

use super::data::{series_from, trim_series};
use super::{push_slim, History, MAP_NODE_BYTES};
use crate::model::probe::ProbeResult;
use crate::model::state::State;

/// One run of one probe.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbePoint {
    pub t: i64,
    /// Latency in ms; NaN when no reply came.
    pub latency: f32,
    /// [`State`] code.
    pub state: u8,
    pub success: bool,
    /// Service-error code; 0 when none.
    pub code: u16,
}

impl ProbePoint {
    pub fn latency(&self) -> Option<f64> {
        (!self.latency.is_nan()).then_some(f64::from(self.latency))
    }

    pub fn state(&self) -> State {
        State::from_code(self.state).unwrap_or(State::Unresponsive)
    }
}

/// Bytes accounted per probe point.
pub const PROBE_POINT_BYTES: usize = size_of::<ProbePoint>();

/// Series by probe name.
pub type ProbeSeries = BTreeMap<String, VecDeque<ProbePoint>>;

pub(super) fn series_overhead(name: &str) -> usize {
    size_of::<String>() + size_of::<VecDeque<ProbePoint>>() + MAP_NODE_BYTES + name.len()
}

impl History {
    /// Record one run of the data source's probes.
    pub fn ingest_probes(&mut self, results: &[ProbeResult]) {
        for r in results {
            let series = match self.probes.get_mut(&r.name) {
                Some(s) => s,
                None => {
                    self.bytes += series_overhead(&r.name);
                    self.probes.entry(r.name.clone()).or_default()
                }
            };
            push_slim(
                series,
                ProbePoint {
                    t: r.t_ms,
                    latency: r.latency_ms.map_or(f32::NAN, |v| v as f32),
                    state: r.state.code(),
                    success: r.success,
                    code: r.code.unwrap_or(0),
                },
            );
            self.bytes += PROBE_POINT_BYTES;
        }
    }

    /// Probe series, by name.
    pub fn probes(&self) -> &ProbeSeries {
        &self.probes
    }

    /// Drop probe points at or before `floor`, and series left empty; returns the bytes freed.
    pub(super) fn trim_probes(&mut self, floor: i64) -> usize {
        trim_series(
            &mut self.probes,
            floor,
            |p| p.t,
            PROBE_POINT_BYTES,
            |name| series_overhead(name),
        )
    }

    /// The probe series from `from_ms` on, plus the point just before.
    pub(super) fn probes_from(&self, from_ms: i64) -> ProbeSeries {
        series_from(&self.probes, from_ms, |p| p.t)
    }
}
