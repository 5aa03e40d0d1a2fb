//! `probe` time series: one series per probe (label `probe`) from the sampler's probe runs plus the fresh run; `latency` (ms, a gap without reply), `success` (0/1, the minimum of a step) or `state` (the worst of a step).

use std::collections::BTreeMap;

use super::{frames, labels, Agg, Extra, Raw, Series, Source};
use crate::model::frames::Frame;
use crate::model::probe::{metric_config, selected, ProbeResult};
use crate::model::query::{Query, Window};

/// The time series of the query's probes.
pub fn timeseries(q: &Query, w: &Window, src: &Source<'_>, fresh: &[ProbeResult]) -> Vec<Frame> {
    let value = |latency: Option<f64>, success: bool, state: u8| match q.metric {
        "success" => Some(f64::from(u8::from(success))),
        "state" => Some(f64::from(state)),
        _ => latency,
    };
    let wanted = |name: &str| q.probe.as_deref().is_none_or(|p| p == name);
    let mut by: BTreeMap<String, Vec<Raw>> = BTreeMap::new();
    if let Some(h) = src.history {
        for (name, points) in h.probes().iter().filter(|(n, _)| wanted(n)) {
            let raw: Vec<Raw> = points
                .iter()
                .filter(|p| w.contains(p.t) && p.t < src.now_ms)
                .map(|p| Raw::value(p.t, value(p.latency(), p.success, p.state)))
                .collect();
            if !raw.is_empty() {
                by.insert(name.clone(), raw);
            }
        }
    }
    if src.fresh {
        for r in selected(q, fresh) {
            by.entry(r.name.clone())
                .or_default()
                .push(Raw::value(src.now_ms, value(r.latency_ms, r.success, r.state.code())));
        }
    }
    let series = by
        .into_iter()
        .map(|(name, raw)| Series {
            labels: labels(&[("probe", &name)]),
            raw,
        })
        .collect();
    let agg = match q.metric {
        "success" => Agg::Min,
        "state" => Agg::Max,
        _ => Agg::Ratio,
    };
    frames(q, src, w, series, agg, metric_config(q.metric), Extra::default())
}
