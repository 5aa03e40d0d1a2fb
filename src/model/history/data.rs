//! Custom STATS `data` leaves in the history: one series of numeric values per (endpoint, path) of an instance, at most [`MAX_DATA_LEAVES`] per endpoint, under the same retention and byte budget as the other samples.

use std::collections::{BTreeMap, VecDeque};
use std::mem::size_of;

use super::{push_slim, shrink, InstanceHistory, MAP_NODE_BYTES};
pub use crate::model::leaves::MAX_DATA_LEAVES;

/// One numeric leaf of one endpoint at one STATS round.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DataPoint {
    pub t: i64,
    pub value: f64,
    /// The instance's counter segment (a new `started` begins a new one).
    pub segment: u32,
}

/// Bytes accounted per data point.
pub const DATA_POINT_BYTES: usize = size_of::<DataPoint>();

/// Series of one instance, keyed by (endpoint, path).
pub type DataSeries = BTreeMap<(String, String), VecDeque<DataPoint>>;

pub(super) fn series_overhead(endpoint: &str, path: &str) -> usize {
    size_of::<(String, String)>() + size_of::<VecDeque<DataPoint>>() + MAP_NODE_BYTES + endpoint.len() + path.len()
}

impl InstanceHistory {
    /// Record the numeric leaves of `endpoint` at `t`; returns the bytes added.
    pub(super) fn push_data<S: AsRef<str>>(
        &mut self,
        t: i64,
        segment: u32,
        endpoint: &str,
        leaves: &[(S, f64)],
    ) -> usize {
        let mut added = 0;
        for (path, value) in leaves.iter().take(MAX_DATA_LEAVES) {
            let path = path.as_ref();
            if !self.data.contains_key(crate::model::key::of(&(endpoint, path))) {
                added += series_overhead(endpoint, path);
                self.data
                    .insert((endpoint.to_string(), path.to_string()), VecDeque::new());
            }
            let Some(series) = self.data.get_mut(crate::model::key::of(&(endpoint, path))) else {
                continue;
            };
            push_slim(
                series,
                DataPoint {
                    t,
                    value: *value,
                    segment,
                },
            );
            added += DATA_POINT_BYTES;
        }
        added
    }

    pub(super) fn data_points(&self) -> usize {
        self.data.values().map(VecDeque::len).sum()
    }

    pub(super) fn data_capacity_bytes(&self) -> usize {
        self.data.values().map(|s| s.capacity() * DATA_POINT_BYTES).sum()
    }

    pub(super) fn data_overhead(&self) -> usize {
        self.data.keys().map(|(e, p)| series_overhead(e, p)).sum()
    }

    /// Drop data points at or before `floor`, and series left empty; returns the bytes freed.
    pub(super) fn trim_data(&mut self, floor: i64) -> usize {
        trim_series(
            &mut self.data,
            floor,
            |d| d.t,
            DATA_POINT_BYTES,
            |(e, p)| series_overhead(e, p),
        )
    }

    /// The data series from `from_ms` on, plus the point just before.
    pub(super) fn data_from(&self, from_ms: i64) -> DataSeries {
        series_from(&self.data, from_ms, |d| d.t)
    }
}

/// Drop the points at or before `floor` from every series of `map`, and the series left empty;
/// returns the bytes freed (`point_bytes` per point, `overhead` per series).
pub(super) fn trim_series<K: Ord, T>(
    map: &mut BTreeMap<K, VecDeque<T>>,
    floor: i64,
    t: impl Fn(&T) -> i64,
    point_bytes: usize,
    overhead: impl Fn(&K) -> usize,
) -> usize {
    let mut freed = 0;
    map.retain(|k, series| {
        let n = series.iter().take_while(|p| t(p) <= floor).count();
        series.drain(..n);
        freed += n * point_bytes;
        if series.is_empty() {
            freed += overhead(k);
            false
        } else {
            shrink(series);
            true
        }
    });
    freed
}

/// Every series of `map` from `from_ms` on, plus the point just before (the start of the first interval).
pub(super) fn series_from<K: Ord + Clone, T: Copy>(
    map: &BTreeMap<K, VecDeque<T>>,
    from_ms: i64,
    t: impl Fn(&T) -> i64,
) -> BTreeMap<K, VecDeque<T>> {
    map.iter()
        .map(|(k, s)| {
            let first = s.partition_point(|p| t(p) < from_ms).saturating_sub(1);
            (k.clone(), s.range(first..).copied().collect())
        })
        .collect()
}
