//! `stats`: per endpoint of each instance: requests, errors, processing time and custom `data` leaves; the instant and table frames of one STATS round (the aggregated instant frame, the `data:<path>` leaf and the table of every leaf among them), and the time series of the history: rates and ratios per sampling interval, restart-aware, and data leaves (a counter leaf, `…_total` or `num_…`, becomes a per-second rate).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::meta::{nanos, ratio_config, round_meta, Budget, NARROW_BY_FILTERS};
use super::series::{frames, labels, shown, Agg, Extra, Raw, Series, Source};
use super::{Inputs, Unplanned};
use crate::model::aggregate::{self, pooled, unqueued_notice, Group, Part};
use crate::model::frames::{Field, FieldConfig, Frame, Notice, Severity, Values, NUMERIC_LONG, TABLE};
use crate::model::history::{EndpointPoint, StatsSample, MAX_DATA_LEAVES};
use crate::model::leaves::{self, LeafValue, MAX_TABLE_LEAVES};
use crate::model::micro::{Endpoint, ServiceReply};
use crate::model::observed::Round;
use crate::model::query::{Aggregate, Format, Query, Window, DATA_METRIC};
use crate::model::rate;

/// The endpoints of a STATS round the query's `endpoint` filter keeps, with their instance.
pub(crate) fn endpoints<'a>(q: &'a Query, round: &'a Round) -> impl Iterator<Item = (&'a ServiceReply, &'a Endpoint)> {
    round.replies.iter().flat_map(move |r| {
        r.reply
            .endpoints
            .iter()
            .filter(move |e| q.endpoint.as_deref().is_none_or(|want| want == e.name))
            .map(move |e| (&r.reply, e))
    })
}

/// `stats`: one row per instance and endpoint.
pub fn instant(q: &Query, round: &Round) -> Frame {
    let mut dims: [Vec<String>; 4] = Default::default();
    let mut subject = Vec::new();
    let mut queue = Vec::new();
    let mut requests = Vec::new();
    let mut errors = Vec::new();
    let mut ratio = Vec::new();
    let mut total = Vec::new();
    let mut avg = Vec::new();
    let mut last_error = Vec::new();
    let mut started = Vec::new();
    let mut data = Vec::new();
    let table = q.format == Format::Table;
    let mut budget = Budget::new(if table { 14 } else { 5 });
    for (i, e) in endpoints(q, round) {
        let data_text = if table {
            e.data.as_ref().map(Value::to_string)
        } else {
            None
        };
        let text = [&i.name, &i.id, &i.version, &e.name]
            .iter()
            .map(|s| s.len())
            .sum::<usize>()
            + if table {
                e.subject.len() + e.queue_group.len() + e.last_error.len() + data_text.as_ref().map_or(0, String::len)
            } else {
                0
            };
        if !budget.admit(text) {
            continue;
        }
        for (c, v) in dims.iter_mut().zip([&i.name, &i.id, &i.version, &e.name]) {
            c.push(v.clone());
        }
        subject.push(e.subject.clone());
        queue.push(e.queue_group.clone());
        requests.push(e.num_requests as f64);
        errors.push(e.num_errors as f64);
        ratio.push(if e.num_requests == 0 {
            0.0
        } else {
            (e.num_errors as f64 / e.num_requests as f64).min(1.0)
        });
        total.push(e.processing_time / 1e6);
        avg.push(e.average_processing_time / 1e6);
        last_error.push(e.last_error.clone());
        started.push(i.started.map(nanos));
        data.push(data_text);
    }
    let count = |name: &str, v: Vec<f64>| Field::new(name, Values::Float64(v)).with_config(FieldConfig::unit("short"));
    let millis = |name: &str, v: Vec<f64>| Field::new(name, Values::Float64(v)).with_config(FieldConfig::unit("ms"));
    let ratio_field = Field::new("error_ratio", Values::Float64(ratio)).with_config(ratio_config());
    let mut frame = Frame::new("stats", &q.ref_id);
    for (name, col) in ["service", "id", "version", "endpoint"].into_iter().zip(dims) {
        frame = frame.with_field(Field::new(name, Values::String(col)));
    }
    let mut frame = if table {
        frame
            .with_meta(round_meta(TABLE, round))
            .with_field(Field::new("subject", Values::String(subject)))
            .with_field(Field::new("queue_group", Values::String(queue)))
            .with_field(count("requests", requests))
            .with_field(count("errors", errors))
            .with_field(ratio_field)
            .with_field(millis("processing_time", total))
            .with_field(millis("average_processing_time", avg))
            .with_field(Field::new("last_error", Values::String(last_error)))
            .with_field(Field::new("started", Values::NullableTime(started)))
            .with_field(Field::new("data", Values::NullableString(data)))
    } else {
        let value = match q.metric {
            "errors" => count("errors", errors),
            "error_ratio" => ratio_field,
            "processing_time" => millis("processing_time", total),
            "average_processing_time" => millis("average_processing_time", avg),
            _ => count("requests", requests),
        };
        frame.with_meta(round_meta(NUMERIC_LONG, round)).with_field(value)
    };
    budget.note(&mut frame, NARROW_BY_FILTERS);
    frame
}

/// Aggregated `stats`, instant: one row per service and endpoint.
pub fn aggregated(q: &Query, round: &Round) -> Frame {
    let mut groups: BTreeMap<(&str, &str), Group> = BTreeMap::new();
    let mut unqueued: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (i, e) in endpoints(q, round) {
        let (requests, errors) = (e.num_requests as f64, e.num_errors as f64);
        let part = match q.metric {
            "errors" => Part::plain(Some(errors)),
            "processing_time" => Part::plain(Some(e.processing_time / 1e6)),
            "error_ratio" => Part {
                value: Some(if requests == 0.0 {
                    0.0
                } else {
                    (errors / requests).min(1.0)
                }),
                num: errors.min(requests),
                den: requests,
            },
            "average_processing_time" => Part {
                value: Some(e.average_processing_time / 1e6),
                num: e.processing_time / 1e6,
                den: requests,
            },
            DATA_METRIC => Part::plain(data_value(q, e)),
            _ => Part::plain(Some(requests)),
        };
        groups.entry((&i.name, &e.name)).or_default().add(part);
        if e.queue_group.is_empty() {
            unqueued.insert((&i.name, &e.name));
        }
    }
    let own = match q.metric {
        "error_ratio" => ratio_config(),
        "processing_time" | "average_processing_time" => FieldConfig::unit("ms"),
        _ => FieldConfig::unit("short"),
    };
    let mut meta = round_meta(NUMERIC_LONG, round);
    if q.aggregate == Aggregate::Sum && !pooled(q.metric) && !unqueued.is_empty() {
        let names: Vec<String> = unqueued.iter().map(|(s, e)| format!("{s}/{e}")).collect();
        meta.notices.push(unqueued_notice(&names));
    }
    let (services, endpoints): (Vec<String>, Vec<String>) =
        groups.keys().map(|(s, e)| (s.to_string(), e.to_string())).unzip();
    Frame::new("stats", &q.ref_id)
        .with_meta(meta)
        .with_field(Field::new("service", Values::String(services)))
        .with_field(Field::new("endpoint", Values::String(endpoints)))
        .with_field(
            Field::new(
                q.metric_name(),
                Values::NullableFloat64(groups.values().map(|g| g.value(q.aggregate, q.metric)).collect()),
            )
            .with_config(aggregate::config(q.aggregate, own)),
        )
}

/// The value of the query's `data:<path>` leaf on one endpoint.
pub fn data_value(q: &Query, e: &Endpoint) -> Option<f64> {
    let (path, data) = (q.data_path.as_deref()?, e.data.as_ref()?);
    leaves::lookup(data, path)
}

/// The notice that some endpoints have more numeric leaves than the history keeps.
pub fn over_bound_notice(endpoints: &BTreeSet<String>) -> Notice {
    let names: Vec<&str> = endpoints.iter().map(String::as_str).take(10).collect();
    Notice {
        severity: Severity::Warning,
        text: format!(
            "{} {} more than {MAX_DATA_LEAVES} numeric data leaves: the history keeps the first {MAX_DATA_LEAVES} in path order, so time series of the others stay empty ({})",
            endpoints.len(),
            if endpoints.len() == 1 { "endpoint has" } else { "endpoints have" },
            names.join(", ")
        ),
    }
}

/// `stats` with `metric: "data:<path>"` (instant) or `"data"` (table of leaves).
pub fn data_instant(q: &Query, round: &Round) -> Frame {
    if q.format == Format::Table {
        return data_table(q, round);
    }
    let mut dims: [Vec<String>; 4] = Default::default();
    let mut values = Vec::new();
    let mut over = BTreeSet::new();
    let mut budget = Budget::new(5);
    for (i, e) in endpoints(q, round) {
        if !budget.admit(i.name.len() + i.id.len() + i.version.len() + e.name.len()) {
            continue;
        }
        for (c, v) in dims.iter_mut().zip([&i.name, &i.id, &i.version, &e.name]) {
            c.push(v.clone());
        }
        values.push(data_value(q, e));
        if let Some(d) = &e.data {
            if leaves::numeric(d, MAX_DATA_LEAVES).1 {
                over.insert(format!("{}/{}", i.name, e.name));
            }
        }
    }
    let mut meta = round_meta(NUMERIC_LONG, round);
    if !over.is_empty() {
        meta.notices.push(over_bound_notice(&over));
    }
    let mut frame = Frame::new("stats", &q.ref_id).with_meta(meta);
    for (name, col) in ["service", "id", "version", "endpoint"].into_iter().zip(dims) {
        frame = frame.with_field(Field::new(name, Values::String(col)));
    }
    let mut frame = frame.with_field(
        Field::new(q.metric_name(), Values::NullableFloat64(values)).with_config(FieldConfig::unit("short")),
    );
    budget.note(&mut frame, NARROW_BY_FILTERS);
    frame
}

/// Every leaf of every endpoint's `data` (under the query's path, when it names one): one row per
/// leaf with its `path`, its number (`value`, for numeric leaves) or its text (`text`), and
/// whether its time series is a rate (`counter`).
fn data_table(q: &Query, round: &Round) -> Frame {
    let mut cols: [Vec<String>; 5] = Default::default();
    let (mut value, mut text, mut counter) = (Vec::new(), Vec::new(), Vec::new());
    let mut cut = BTreeSet::new();
    let under = q.data_path.as_deref();
    let mut budget = Budget::new(8);
    for (i, e) in endpoints(q, round) {
        let Some(data) = &e.data else { continue };
        let (all, was_cut) = leaves::leaves(data, MAX_TABLE_LEAVES);
        if was_cut {
            cut.insert(format!("{}/{}", i.name, e.name));
        }
        for leaf in all {
            if under.is_some_and(|p| leaf.path != p && !leaf.path.starts_with(&format!("{p}."))) {
                continue;
            }
            let text_len = match &leaf.value {
                LeafValue::Text(t) => t.len(),
                LeafValue::Number(_) => 0,
            };
            let dims_len = i.name.len() + i.id.len() + i.version.len() + e.name.len() + leaf.path.len();
            if !budget.admit(dims_len + text_len) {
                continue;
            }
            for (c, v) in cols.iter_mut().zip([&i.name, &i.id, &i.version, &e.name, &leaf.path]) {
                c.push(v.clone());
            }
            counter.push(leaves::is_counter(&leaf.path));
            match leaf.value {
                LeafValue::Number(n) => {
                    value.push(Some(n));
                    text.push(None);
                }
                LeafValue::Text(t) => {
                    value.push(None);
                    text.push(Some(t));
                }
            }
        }
    }
    let mut meta = round_meta(TABLE, round);
    if !cut.is_empty() {
        let names: Vec<&str> = cut.iter().map(String::as_str).take(10).collect();
        meta.notices.push(Notice {
            severity: Severity::Warning,
            text: format!(
                "data of {} cut at {MAX_TABLE_LEAVES} leaves or {} levels deep",
                names.join(", "),
                leaves::MAX_DEPTH
            ),
        });
    }
    let mut frame = Frame::new("stats", &q.ref_id).with_meta(meta);
    for (name, col) in ["service", "id", "version", "endpoint", "path"].into_iter().zip(cols) {
        frame = frame.with_field(Field::new(name, Values::String(col)));
    }
    let mut frame = frame
        .with_field(Field::new("value", Values::NullableFloat64(value)))
        .with_field(Field::new("text", Values::NullableString(text)))
        .with_field(Field::new(
            "counter",
            Values::NullableBool(counter.into_iter().map(Some).collect()),
        ));
    budget.note(&mut frame, NARROW_BY_FILTERS);
    frame
}

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
pub fn timeseries(q: &Query, w: &Window, src: &Source<'_>, fresh: &[StatsSample]) -> Vec<Frame> {
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

/// (t_ms, value, segment) of one leaf.
type Point = (i64, f64, i64);
/// Per (service, id, endpoint): the raw points in the window, and the last point before the fresh one.
type LeafSeries<'a> = BTreeMap<(&'a str, &'a str, &'a str), (Vec<Raw>, Option<Point>)>;

/// The time series of the query's data leaf.
pub fn data_timeseries(q: &Query, w: &Window, src: &Source<'_>, fresh: &[StatsSample]) -> Vec<Frame> {
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

/// The answer of a `stats` query from what its plan fetched.
pub(super) fn answer<S: AsRef<str>>(q: &Query, inputs: Inputs<'_, S>) -> Result<Vec<Frame>, Unplanned> {
    Ok(match inputs {
        Inputs::Round(r) if q.aggregate != Aggregate::None => vec![aggregated(q, r)],
        Inputs::Round(r) if q.metric == DATA_METRIC => vec![data_instant(q, r)],
        Inputs::Round(r) => vec![instant(q, r)],
        Inputs::History(h) if q.metric == DATA_METRIC => data_timeseries(q, &h.window, &h.src, h.stats),
        Inputs::History(h) => timeseries(q, &h.window, &h.src, h.stats),
        other => return Err(Unplanned::new(q, &other)),
    })
}
