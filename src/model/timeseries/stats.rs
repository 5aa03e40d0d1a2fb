//! `stats` as time series: one series per instance and endpoint, a rate or ratio per sampling interval from the history's counters plus the fresh round, restart-aware.

use std::collections::BTreeMap;

use super::{frames, labels, shown, Agg, Extra, Raw, Series, Source};
use crate::model::frames::{FieldConfig, Frame};
use crate::model::history::{EndpointPoint, StatsSample};
use crate::model::query::{Query, Window};
use crate::model::rate;
use crate::model::shapes::ratio_config;

/// Per (service, id, endpoint): raw points and the latest stored point before "now".
type EndpointSeries<'a> = BTreeMap<(&'a str, &'a str, &'a str), (Vec<Raw>, Option<EndpointPoint>)>;

/// The raw point of one stats interval (the shared rate rule), or a null at a reset.
fn interval(metric: &str, prev: &EndpointPoint, cur: &EndpointPoint) -> Raw {
    let counters = |p: &EndpointPoint| rate::Counters {
        t_ms: p.t,
        requests: p.requests,
        errors: p.errors,
        processing_ns: p.processing_ns,
        run: i64::from(p.segment),
    };
    match rate::interval(metric, &counters(prev), &counters(cur)) {
        Some(f) => Raw {
            t: cur.t,
            num: f.num,
            den: f.den,
        },
        None => Raw::null(cur.t),
    }
}

/// Series of the (service, id, endpoint) keys that have points, labelled by them: labels only
/// for the series the answer can show; [`Extra`] counts the others.
pub(super) fn endpoint_series<T>(q: &Query, by: BTreeMap<(&str, &str, &str), (Vec<Raw>, T)>) -> (Vec<Series>, Extra) {
    let with_points = by.into_iter().filter(|(_, (raw, _))| !raw.is_empty());
    let (mut series, mut hidden) = (Vec::new(), 0usize);
    for ((service, id, endpoint), (raw, _)) in with_points {
        if series.len() < shown(q) {
            series.push(Series {
                labels: labels(&[("service", service), ("id", id), ("endpoint", endpoint)]),
                raw,
            });
        } else {
            hidden += 1;
        }
    }
    (
        series,
        Extra {
            hidden,
            ..Extra::default()
        },
    )
}

/// `stats` as time series: one series per instance and endpoint.
pub fn stats(q: &Query, w: &Window, src: &Source<'_>, fresh: &[StatsSample]) -> Vec<Frame> {
    let metric = q.metric;
    let wanted = |e: &str| q.endpoint.as_deref().is_none_or(|x| x == e);
    let mut by = EndpointSeries::new();
    let mut started: BTreeMap<(&str, &str), (Option<i64>, u32)> = BTreeMap::new();
    if let Some(h) = src.history {
        for i in h.instances().filter(|i| q.scope.contains(i.service, i.id)) {
            started.insert((i.service, i.id), (i.started, i.segment));
            for (name, points) in i.endpoints.iter().filter(|(n, _)| wanted(n)) {
                let mut raw = Vec::new();
                let mut prev: Option<&EndpointPoint> = None;
                for p in points.iter().filter(|p| p.t <= w.to_ms && p.t < src.now_ms) {
                    if w.contains(p.t) {
                        raw.push(match prev {
                            Some(prev) => interval(metric, prev, p),
                            None => Raw::null(p.t),
                        });
                    }
                    prev = Some(p);
                }
                by.insert((i.service, i.id, name), (raw, prev.copied()));
            }
        }
    }
    if src.fresh {
        for s in fresh.iter().filter(|s| q.scope.contains(&s.service, &s.id)) {
            let (known_started, segment) = started
                .get(&(s.service.as_str(), s.id.as_str()))
                .copied()
                .unwrap_or((None, 0));
            let restarted = matches!((known_started, s.started), (Some(a), Some(b)) if a != b);
            for e in s.endpoints.iter().filter(|e| wanted(&e.name)) {
                let cur = EndpointPoint {
                    t: src.now_ms,
                    requests: e.requests,
                    errors: e.errors,
                    processing_ns: e.processing_ns,
                    segment: segment + u32::from(restarted),
                };
                let entry = by.entry((&s.service, &s.id, &e.name)).or_default();
                let raw = match &entry.1 {
                    Some(prev) => interval(metric, prev, &cur),
                    None => Raw::null(cur.t),
                };
                entry.0.push(raw);
            }
        }
    }
    let (series, extra) = endpoint_series(q, by);
    let config = match metric {
        "error_ratio" => ratio_config(),
        "average_processing_time" => FieldConfig::unit("ms"),
        _ => FieldConfig::unit("reqps"),
    };
    frames(q, src, w, series, Agg::Ratio, config, extra)
}
