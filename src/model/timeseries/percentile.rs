//! `ping` with `metric: "rtt_p95"`: the 95th percentile of each instance's sampled round-trip times over the query's time range, as an instant (`numeric-long`) frame: what a latency alert needs, since Grafana's Reduce expression has no percentile.

use std::collections::BTreeMap;

use serde_json::json;

use super::{history_notices, Source};
use crate::model::frames::{Field, FieldConfig, Frame, FrameMeta, Values, NUMERIC_LONG};
use crate::model::history::PingSample;
use crate::model::query::{Query, Window};

/// The `p`-th percentile (0–100) of `values` by nearest rank; `None` when empty.
pub fn percentile(values: &mut [f64], p: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values.get(rank.clamp(1, values.len()) - 1).copied()
}

/// One row per instance with RTT samples in the window (and the fresh round's).
pub fn rtt_p95<S: AsRef<str>>(q: &Query, w: &Window, src: &Source<'_>, fresh: &[PingSample<S>]) -> Frame {
    let mut by: BTreeMap<(String, String), (String, Vec<f64>)> = BTreeMap::new();
    if let Some(h) = src.history {
        for i in h.instances().filter(|i| q.scope.contains(i.service, i.id)) {
            let rtts: Vec<f64> = i
                .pings
                .iter()
                .filter(|p| w.contains(p.t) && p.t < src.now_ms)
                .filter_map(|p| p.rtt().map(f64::from))
                .collect();
            by.insert((i.service.to_string(), i.id.to_string()), (i.version.to_string(), rtts));
        }
    }
    if src.fresh {
        for s in fresh
            .iter()
            .filter(|s| q.scope.contains(s.service.as_ref(), s.id.as_ref()))
        {
            let entry = by
                .entry((s.service.as_ref().to_string(), s.id.as_ref().to_string()))
                .or_insert_with(|| (s.version.as_ref().to_string(), Vec::new()));
            entry.1.extend(s.rtt_ms);
        }
    }
    let (mut services, mut ids, mut versions, mut values) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut samples = 0;
    for ((service, id), (version, mut rtts)) in by {
        samples += rtts.len();
        services.push(service);
        ids.push(id);
        versions.push(version);
        values.push(percentile(&mut rtts, 95.0));
    }
    Frame::new("ping", &q.ref_id)
        .with_meta(FrameMeta {
            executed_query_string: src.subject.map(str::to_string),
            notices: history_notices(src, w),
            custom: Some(json!({ "samples": samples })),
            ..FrameMeta::typed(NUMERIC_LONG)
        })
        .with_field(Field::new("service", Values::String(services)))
        .with_field(Field::new("id", Values::String(ids)))
        .with_field(Field::new("version", Values::String(versions)))
        .with_field(Field::new("rtt_p95", Values::NullableFloat64(values)).with_config(FieldConfig::unit("ms")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut v, 95.0), Some(95.0));
        assert_eq!(percentile(&mut [3.0, 1.0, 2.0], 95.0), Some(3.0));
        assert_eq!(percentile(&mut [7.0], 95.0), Some(7.0));
        assert_eq!(percentile(&mut [], 95.0), None);
        let mut w: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&mut w, 95.0), Some(19.0));
    }
}
