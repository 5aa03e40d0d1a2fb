//! `stats` time series of a custom `data:<path>` leaf: one series per instance and endpoint, from the history's data series plus the fresh round; a counter leaf (`…_total`, `num_…`) becomes a per-second rate, restart-aware, every other leaf its value.

use std::collections::BTreeMap;

use super::stats::endpoint_series;
use super::{frames, Agg, Raw, Source};
use crate::model::custom_data::over_bound_notice;
use crate::model::frames::{FieldConfig, Frame};
use crate::model::history::{StatsSample, MAX_DATA_LEAVES};
use crate::model::leaves;
use crate::model::query::{Query, Window};
use crate::model::rate;

/// (t_ms, value, segment) of one leaf.
type Point = (i64, f64, i64);
/// Per (service, id, endpoint): the raw points in the window, and the last point before the fresh one.
type LeafSeries<'a> = BTreeMap<(&'a str, &'a str, &'a str), (Vec<Raw>, Option<Point>)>;

/// The time series of the query's data leaf.
pub fn timeseries(q: &Query, w: &Window, src: &Source<'_>, fresh: &[StatsSample]) -> Vec<Frame> {
    let path = q.data_path.as_deref().unwrap_or_default();
    let counter = leaves::is_counter(path);
    let wanted = |e: &str| q.endpoint.as_deref().is_none_or(|x| x == e);
    let point = |prev: Option<Point>, cur: Point| -> Raw {
        if !counter {
            return Raw::value(cur.0, Some(cur.1));
        }
        match prev.and_then(|p| rate::counter_rate(p, cur)) {
            Some(f) => Raw {
                t: cur.0,
                num: f.num,
                den: f.den,
            },
            None => Raw::null(cur.0),
        }
    };
    let mut by = LeafSeries::new();
    let mut segments: BTreeMap<(&str, &str), (Option<i64>, u32)> = BTreeMap::new();
    if let Some(h) = src.history {
        for i in h.instances().filter(|i| q.scope.contains(i.service, i.id)) {
            segments.insert((i.service, i.id), (i.started, i.segment));
            for ((endpoint, _), points) in i.data.iter().filter(|((e, p), _)| p == path && wanted(e)) {
                let mut raw = Vec::new();
                let mut prev: Option<Point> = None;
                for d in points.iter().filter(|d| d.t <= w.to_ms && d.t < src.now_ms) {
                    let cur = (d.t, d.value, i64::from(d.segment));
                    if w.contains(d.t) {
                        raw.push(point(prev, cur));
                    }
                    prev = Some(cur);
                }
                by.insert((i.service, i.id, endpoint), (raw, prev));
            }
        }
    }
    let mut over = std::collections::BTreeSet::new();
    if src.fresh {
        for s in fresh.iter().filter(|s| q.scope.contains(&s.service, &s.id)) {
            let (known, segment) = segments
                .get(&(s.service.as_str(), s.id.as_str()))
                .copied()
                .unwrap_or((None, 0));
            let restarted = matches!((known, s.started), (Some(a), Some(b)) if a != b);
            for e in s.endpoints.iter().filter(|e| wanted(&e.name)) {
                let Some(value) = e.data.iter().find(|(p, _)| p == path).map(|(_, v)| *v) else {
                    if e.data.len() >= MAX_DATA_LEAVES {
                        over.insert(format!("{}/{}", s.service, e.name));
                    }
                    continue;
                };
                let cur = (src.now_ms, value, i64::from(segment + u32::from(restarted)));
                let entry = by.entry((&s.service, &s.id, &e.name)).or_default();
                let raw = point(entry.1, cur);
                entry.0.push(raw);
            }
        }
    }
    let (series, mut extra) = endpoint_series(q, by);
    let notices = if over.is_empty() {
        Vec::new()
    } else {
        vec![over_bound_notice(&over)]
    };
    let config = FieldConfig::unit(if counter { "cps" } else { "short" });
    extra.notices = notices;
    frames(q, src, w, series, Agg::Ratio, config, extra)
}
