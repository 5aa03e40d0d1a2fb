//! Pure builders from the history plus a fresh "now" sample to `timeseries-multi` frames (one frame per series: a time field and one numeric field whose labels identify the series), and to the events frame for annotations.
//!
//! Metrics per query type (the first is the default):
//! - `ping` (labels `service`, `id`): `rtt` (ms, null while down: a gap), `up` (0/1);
//! - `services` (label `service`): `instances` answering, `down`, `versions` distinct;
//! - `stats` (labels `service`, `id`, `endpoint`): `request_rate` and `error_rate` (per second,
//!   from counter deltas), `error_ratio` (errors Δ / requests Δ per interval, null without
//!   requests), `average_processing_time` (processing time Δ / requests Δ, ms).
//!
//! `version` is not a label: a label change would split a series on every upgrade (versions
//! are in the events and in the `services` `versions` count).
//!
//! Counter resets (a lower counter, or a changed `started`) start a new segment: the first
//! point of a segment is null, never a negative or huge rate. A new instance id is a new series.
//!
//! Downsampling: when the step Grafana asks for (`intervalMs`, or the range / `maxDataPoints`)
//! is longer than the sampler period, points are merged into buckets aligned to the step:
//! rtt is the mean of the answering samples; rates and ratios are Σ deltas / Σ durations (or
//! Σ requests), exact over the bucket; `up` and `instances` take the minimum and `down` and
//! `versions` the maximum, so that a short outage is never averaged away.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use crate::frames::{Field, FieldConfig, Frame, FrameMeta, Notice, Severity, Values, TABLE, TIMESERIES_MULTI};
use crate::history::{EndpointPoint, History, PingSample, StatsSample};
use crate::query::{Query, Window};
use crate::shapes::{bytes_text, up_config};

/// What the builders read besides the query.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// `None` when the sampler is off.
    pub history: Option<&'a History>,
    /// Sampler period.
    pub period_ms: Option<i64>,
    /// Time of the fresh sample (Unix ms).
    pub now_ms: i64,
    /// The subject the fresh round went to, for `executedQueryString`.
    pub subject: Option<&'a str>,
    /// Whether the fresh sample belongs in the window (it reaches the present; Grafana's `to` is
    /// the moment the dashboard sent the query, a little before the fresh round).
    pub fresh: bool,
    /// What the fresh round skipped or cut ([`crate::shapes::round_notices`]).
    pub round_notices: &'a [Notice],
}

/// How the points of one bucket combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Agg {
    /// Σ num / Σ den (a mean when den is 1 per point, an exact rate for deltas).
    Ratio,
    Min,
    Max,
}

/// A raw point: value = num / den, null when den is 0.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Raw {
    t: i64,
    num: f64,
    den: f64,
}

impl Raw {
    fn value(t: i64, v: Option<f64>) -> Self {
        match v {
            Some(num) => Raw { t, num, den: 1.0 },
            None => Raw::null(t),
        }
    }
    fn null(t: i64) -> Self {
        Raw { t, num: 0.0, den: 0.0 }
    }
}

/// The bucket length, when downsampling applies.
fn step(w: &Window, period_ms: Option<i64>) -> Option<i64> {
    let period = period_ms?;
    let span = (w.to_ms - w.from_ms).max(0);
    let by_points = if w.max_points > 0 {
        (span + w.max_points - 1) / w.max_points
    } else {
        0
    };
    let step = w.interval_ms.max(by_points);
    (step > period).then_some(step)
}

fn reduce(raw: &[Raw], step: Option<i64>, agg: Agg) -> (Vec<i64>, Vec<Option<f64>>) {
    let ns = |ms: i64| ms.saturating_mul(1_000_000);
    let Some(step) = step else {
        return (
            raw.iter().map(|r| ns(r.t)).collect(),
            raw.iter().map(|r| (r.den != 0.0).then(|| r.num / r.den)).collect(),
        );
    };
    let mut buckets: BTreeMap<i64, (f64, f64, Option<f64>)> = BTreeMap::new();
    for r in raw {
        let b = buckets.entry(r.t - r.t.rem_euclid(step)).or_insert((0.0, 0.0, None));
        if r.den == 0.0 {
            continue;
        }
        b.0 += r.num;
        b.1 += r.den;
        let v = r.num / r.den;
        b.2 = Some(match (agg, b.2) {
            (_, None) => v,
            (Agg::Min, Some(x)) => x.min(v),
            (_, Some(x)) => x.max(v),
        });
    }
    let times = buckets.keys().map(|t| ns(*t)).collect();
    let values = buckets
        .values()
        .map(|(num, den, extreme)| match agg {
            Agg::Ratio => (*den != 0.0).then(|| num / den),
            Agg::Min | Agg::Max => *extreme,
        })
        .collect();
    (times, values)
}

fn meta(src: &Source<'_>, notices: Vec<Notice>, custom: Option<serde_json::Value>) -> FrameMeta {
    FrameMeta {
        executed_query_string: src.subject.map(str::to_string),
        notices,
        custom,
        ..FrameMeta::typed(TIMESERIES_MULTI)
    }
}

/// Notices every history-backed frame set carries.
pub fn history_notices(src: &Source<'_>, w: &Window) -> Vec<Notice> {
    let mut notices = Vec::new();
    match src.history {
        None => notices.push(Notice {
            severity: Severity::Info,
            text: "history is off (sampleIntervalSec is 0): only the current point is shown".to_string(),
        }),
        Some(h) => {
            if let Some(t) = h.truncated_through(src.now_ms).filter(|t| *t >= w.from_ms) {
                let at = chrono::DateTime::from_timestamp_millis(t)
                    .map(|d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string())
                    .unwrap_or_default();
                notices.push(Notice {
                    severity: Severity::Warning,
                    text: format!(
                        "history truncated: the memory bound of {} was reached, samples up to {at} were dropped",
                        bytes_text(h.budget() as u64)
                    ),
                });
            }
        }
    }
    notices.extend(src.round_notices.iter().cloned());
    notices
}

/// Per (service, id, endpoint): raw points and the latest stored point before "now".
type EndpointSeries = BTreeMap<(String, String, String), (Vec<Raw>, Option<EndpointPoint>)>;

struct Series {
    labels: BTreeMap<String, String>,
    raw: Vec<Raw>,
}

fn frames(
    q: &Query,
    src: &Source<'_>,
    w: &Window,
    series: Vec<Series>,
    agg: Agg,
    config: FieldConfig,
    extra_notices: Vec<Notice>,
) -> Vec<Frame> {
    let step = step(w, src.period_ms);
    let mut notices = history_notices(src, w);
    notices.extend(extra_notices);
    let custom = Some(json!({
        "series": series.len(),
        "stepMs": step,
        "samplePeriodMs": src.period_ms,
        "history": src.history.map(|h| json!({
            "bytes": h.bytes(),
            "budgetBytes": h.budget(),
            "samples": h.samples(),
            "rounds": h.rounds(),
            "droppedSamples": h.dropped_samples(),
            "oldestMs": h.oldest(),
        })),
    }));
    if series.is_empty() {
        return vec![Frame::new(q.metric, &q.ref_id).with_meta(meta(src, notices, custom))];
    }
    let mut notices = Some(notices);
    series
        .into_iter()
        .map(|s| {
            let (times, values) = reduce(&s.raw, step, agg);
            Frame::new(q.metric, &q.ref_id)
                .with_meta(meta(src, notices.take().unwrap_or_default(), custom.clone()))
                .with_field(Field::new("time", Values::Time(times)))
                .with_field(
                    Field::new(q.metric, Values::NullableFloat64(values))
                        .with_labels(s.labels)
                        .with_config(config.clone()),
                )
        })
        .collect()
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// `ping` as time series: one series per instance.
pub fn ping(q: &Query, w: &Window, src: &Source<'_>, fresh: &[PingSample]) -> Vec<Frame> {
    let up = q.metric == "up";
    let point = |t: i64, rtt: Option<f64>| {
        if up {
            Raw::value(t, Some(if rtt.is_some() { 1.0 } else { 0.0 }))
        } else {
            Raw::value(t, rtt)
        }
    };
    let mut by: BTreeMap<(String, String), Vec<Raw>> = BTreeMap::new();
    if let Some(h) = src.history {
        for i in h.instances().filter(|i| q.scope.contains(&i.service, &i.id)) {
            let raw: Vec<Raw> = i
                .pings
                .iter()
                .filter(|p| w.contains(p.t) && p.t < src.now_ms)
                .map(|p| point(p.t, p.rtt().map(f64::from)))
                .collect();
            if !raw.is_empty() {
                by.insert((i.service.clone(), i.id.clone()), raw);
            }
        }
    }
    if src.fresh {
        for s in fresh.iter().filter(|s| q.scope.contains(&s.service, &s.id)) {
            by.entry((s.service.clone(), s.id.clone()))
                .or_default()
                .push(point(src.now_ms, s.rtt_ms));
        }
    }
    let series = by
        .into_iter()
        .map(|((service, id), raw)| Series {
            labels: labels(&[("service", &service), ("id", &id)]),
            raw,
        })
        .collect();
    if up {
        frames(q, src, w, series, Agg::Min, up_config(), Vec::new())
    } else {
        frames(q, src, w, series, Agg::Ratio, FieldConfig::unit("ms"), Vec::new())
    }
}

/// `services` as time series: one series per service.
pub fn services(q: &Query, w: &Window, src: &Source<'_>, fresh: &[PingSample]) -> Vec<Frame> {
    #[derive(Default)]
    struct At<'a> {
        up: u32,
        down: u32,
        versions: BTreeSet<&'a str>,
    }
    let mut by: BTreeMap<&str, BTreeMap<i64, At<'_>>> = BTreeMap::new();
    let in_scope = |service: &str| q.scope.service.as_deref().is_none_or(|s| s == service);
    if let Some(h) = src.history {
        for i in h.instances().filter(|i| in_scope(&i.service)) {
            for p in i.pings.iter().filter(|p| w.contains(p.t) && p.t < src.now_ms) {
                let at = by.entry(&i.service).or_default().entry(p.t).or_default();
                if p.rtt().is_some() {
                    at.up += 1;
                    at.versions.insert(&i.version);
                } else {
                    at.down += 1;
                }
            }
        }
    }
    if src.fresh {
        for s in fresh.iter().filter(|s| in_scope(&s.service)) {
            let at = by.entry(&s.service).or_default().entry(src.now_ms).or_default();
            if s.rtt_ms.is_some() {
                at.up += 1;
                at.versions.insert(&s.version);
            } else {
                at.down += 1;
            }
        }
    }
    let value = |a: &At<'_>| -> f64 {
        match q.metric {
            "down" => f64::from(a.down),
            "versions" => a.versions.len() as f64,
            _ => f64::from(a.up),
        }
    };
    let series = by
        .into_iter()
        .map(|(service, points)| Series {
            labels: labels(&[("service", service)]),
            raw: points.iter().map(|(t, a)| Raw::value(*t, Some(value(a)))).collect(),
        })
        .collect();
    let agg = if q.metric == "instances" { Agg::Min } else { Agg::Max };
    frames(q, src, w, series, agg, FieldConfig::unit("short"), Vec::new())
}

/// The raw point of one stats interval, or a null at a reset.
fn interval(metric: &str, prev: &EndpointPoint, cur: &EndpointPoint) -> Raw {
    let reset = cur.segment != prev.segment
        || cur.requests < prev.requests
        || cur.errors < prev.errors
        || cur.processing_ns < prev.processing_ns
        || cur.t <= prev.t;
    if reset {
        return Raw::null(cur.t);
    }
    let secs = (cur.t - prev.t) as f64 / 1e3;
    let requests = (cur.requests - prev.requests) as f64;
    let errors = (cur.errors - prev.errors) as f64;
    let (num, den) = match metric {
        "error_rate" => (errors, secs),
        "error_ratio" => (errors, requests),
        "average_processing_time" => ((cur.processing_ns - prev.processing_ns) as f64 / 1e6, requests),
        _ => (requests, secs),
    };
    Raw { t: cur.t, num, den }
}

/// `stats` as time series: one series per instance and endpoint.
pub fn stats(q: &Query, w: &Window, src: &Source<'_>, fresh: &[StatsSample]) -> Vec<Frame> {
    let metric = q.metric;
    let wanted = |e: &str| q.endpoint.as_deref().is_none_or(|x| x == e);
    let mut by = EndpointSeries::new();
    let mut started: BTreeMap<(String, String), (Option<i64>, u32)> = BTreeMap::new();
    if let Some(h) = src.history {
        for i in h.instances().filter(|i| q.scope.contains(&i.service, &i.id)) {
            started.insert((i.service.clone(), i.id.clone()), (i.started, i.segment));
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
                by.insert((i.service.clone(), i.id.clone(), name.clone()), (raw, prev.copied()));
            }
        }
    }
    if src.fresh {
        for s in fresh.iter().filter(|s| q.scope.contains(&s.service, &s.id)) {
            let (known_started, segment) = started
                .get(&(s.service.clone(), s.id.clone()))
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
                let entry = by.entry((s.service.clone(), s.id.clone(), e.name.clone())).or_default();
                let raw = match &entry.1 {
                    Some(prev) => interval(metric, prev, &cur),
                    None => Raw::null(cur.t),
                };
                entry.0.push(raw);
            }
        }
    }
    let series = by
        .into_iter()
        .filter(|(_, (raw, _))| !raw.is_empty())
        .map(|((service, id, endpoint), (raw, _))| Series {
            labels: labels(&[("service", &service), ("id", &id), ("endpoint", &endpoint)]),
            raw,
        })
        .collect();
    let config = match metric {
        "error_ratio" => FieldConfig {
            min: Some(0.0),
            max: Some(1.0),
            ..FieldConfig::unit("percentunit")
        },
        "average_processing_time" => FieldConfig::unit("ms"),
        _ => FieldConfig::unit("reqps"),
    };
    frames(q, src, w, series, Agg::Ratio, config, Vec::new())
}

/// `events`: what the sampler observed within the window, as an annotation-ready table.
pub fn events(q: &Query, w: &Window, src: &Source<'_>) -> Frame {
    let mut cols: [Vec<String>; 6] = Default::default();
    let mut times = Vec::new();
    if let Some(h) = src.history {
        for e in h
            .events()
            .filter(|e| w.contains(e.t) && q.scope.contains(&e.service, &e.id))
        {
            times.push(e.t.saturating_mul(1_000_000));
            let row = [
                e.title.clone(),
                e.text.clone(),
                format!("{},{}", e.kind.name(), e.service),
                e.kind.name().to_string(),
                e.service.clone(),
                e.id.clone(),
            ];
            for (c, v) in cols.iter_mut().zip(row) {
                c.push(v);
            }
        }
    }
    let mut notices = history_notices(src, w);
    if src.history.is_some_and(|h| h.oldest().is_some_and(|o| o > w.from_ms)) {
        notices.push(Notice {
            severity: Severity::Info,
            text: "events are known only since the sampler started (or since the oldest sample kept)".to_string(),
        });
    }
    let mut frame = Frame::new("events", &q.ref_id)
        .with_meta(FrameMeta {
            notices,
            ..FrameMeta::typed(TABLE)
        })
        .with_field(Field::new("time", Values::Time(times)));
    for (name, col) in ["title", "text", "tags", "kind", "service", "id"].into_iter().zip(cols) {
        frame = frame.with_field(Field::new(name, Values::String(col)));
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::EndpointSample;

    fn query(json: &str) -> Query {
        Query::parse("A", "", json.as_bytes()).unwrap()
    }

    fn window(from: i64, to: i64) -> Window {
        Window {
            from_ms: from,
            to_ms: to,
            max_points: 1000,
            interval_ms: 1,
        }
    }

    fn sample(id: &str, rtt: Option<f64>) -> PingSample {
        PingSample {
            service: "orders".into(),
            id: id.into(),
            version: "1".into(),
            rtt_ms: rtt,
        }
    }

    fn counters(id: &str, started: i64, requests: u64, errors: u64, proc_ms: u64) -> StatsSample {
        StatsSample {
            service: "orders".into(),
            id: id.into(),
            version: "1".into(),
            started: Some(started),
            endpoints: vec![EndpointSample {
                name: "get".into(),
                requests,
                errors,
                processing_ns: proc_ms * 1_000_000,
            }],
        }
    }

    fn src(h: Option<&History>, now: i64) -> Source<'_> {
        Source {
            history: h,
            period_ms: Some(1000),
            now_ms: now,
            subject: Some("$SRV.PING"),
            fresh: now <= 10_000,
            round_notices: &[],
        }
    }

    fn values(f: &Frame) -> Vec<Option<f64>> {
        match &f.fields[1].values {
            Values::NullableFloat64(v) => v.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn times_ms(f: &Frame) -> Vec<i64> {
        match &f.fields[0].values {
            Values::Time(v) => v.iter().map(|t| t / 1_000_000).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ping_series_per_instance_with_gaps_while_down_and_a_now_point() {
        let mut h = History::new(3_600_000, 1 << 20);
        h.ingest_ping(1000, &[sample("a", Some(2.0)), sample("b", Some(4.0))]);
        h.ingest_ping(2000, &[sample("a", Some(3.0)), sample("b", None)]);
        let q = query(r#"{"queryType":"ping","format":"timeseries"}"#);
        let frames = ping_frames(&q, &h, &[sample("a", Some(1.0)), sample("b", None)]);
        assert_eq!(frames.len(), 2);
        let a = &frames[0];
        assert_eq!(a.meta.as_ref().unwrap().kind, Some(TIMESERIES_MULTI));
        assert_eq!(a.fields[1].labels, labels(&[("service", "orders"), ("id", "a")]));
        assert_eq!(times_ms(a), [1000, 2000, 3000]);
        assert_eq!(values(a), [Some(2.0), Some(3.0), Some(1.0)]);
        assert_eq!(values(&frames[1]), [Some(4.0), None, None]);
        assert_eq!(frames[1].fields[1].config.as_ref().unwrap().unit.as_deref(), Some("ms"));

        let up = query(r#"{"queryType":"ping","format":"timeseries","metric":"up"}"#);
        let frames = ping_frames(&up, &h, &[sample("a", Some(1.0)), sample("b", None)]);
        assert_eq!(values(&frames[1]), [Some(1.0), Some(0.0), Some(0.0)]);
    }

    fn ping_frames(q: &Query, h: &History, fresh: &[PingSample]) -> Vec<Frame> {
        ping(q, &window(0, 10_000), &src(Some(h), 3000), fresh)
    }

    #[test]
    fn downsampling_keeps_outages_and_averages_rtt() {
        let mut h = History::new(3_600_000, 1 << 20);
        for i in 0..10 {
            let rtt = if i == 3 { None } else { Some(i as f64) };
            h.ingest_ping(i * 1000, &[sample("a", rtt)]);
        }
        let w = Window {
            from_ms: 0,
            to_ms: 10_000,
            max_points: 1000,
            interval_ms: 5000,
        };
        let up = query(r#"{"queryType":"ping","format":"timeseries","metric":"up"}"#);
        let f = &ping(&up, &w, &src(Some(&h), 20_000), &[])[0];
        assert_eq!(times_ms(f), [0, 5000]);
        assert_eq!(values(f), [Some(0.0), Some(1.0)]);
        let rtt = query(r#"{"queryType":"ping","format":"timeseries"}"#);
        let f = &ping(&rtt, &w, &src(Some(&h), 20_000), &[])[0];
        // (0 + 1 + 2 + 4) / 4 and (5 + 6 + 7 + 8 + 9) / 5
        assert_eq!(values(f), [Some(7.0 / 4.0), Some(7.0)]);
        let svc = query(r#"{"queryType":"services","format":"timeseries","metric":"instances"}"#);
        let f = &services(&svc, &w, &src(Some(&h), 20_000), &[])[0];
        assert_eq!(values(f), [Some(0.0), Some(1.0)]);
        let down = query(r#"{"queryType":"services","format":"timeseries","metric":"down"}"#);
        let f = &services(&down, &w, &src(Some(&h), 20_000), &[])[0];
        assert_eq!(values(f), [Some(1.0), Some(0.0)]);
    }

    #[test]
    fn services_count_instances_per_round() {
        let mut h = History::new(3_600_000, 1 << 20);
        h.ingest_ping(1000, &[sample("a", Some(1.0)), sample("b", Some(1.0))]);
        h.ingest_ping(2000, &[sample("a", Some(1.0)), sample("b", None)]);
        let q = query(r#"{"queryType":"services","format":"timeseries"}"#);
        let frames = services(&q, &window(0, 10_000), &src(Some(&h), 3000), &[sample("a", Some(1.0))]);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].fields[1].labels, labels(&[("service", "orders")]));
        assert_eq!(values(&frames[0]), [Some(2.0), Some(1.0), Some(1.0)]);
    }

    #[test]
    fn rates_survive_restarts_without_negative_or_huge_values() {
        let mut h = History::new(3_600_000, 1 << 20);
        h.ingest_stats(0, &[counters("a", 1, 1000, 0, 0)]);
        h.ingest_stats(1000, &[counters("a", 1, 1010, 1, 20)]);
        h.ingest_stats(2000, &[counters("a", 1, 1030, 1, 40)]);
        // Restart with the same id: counters start again (and also one that grows past the old value).
        h.ingest_stats(3000, &[counters("a", 5000, 2000, 0, 0)]);
        h.ingest_stats(4000, &[counters("a", 5000, 2004, 2, 8)]);
        let w = window(0, 10_000);
        let rate = query(r#"{"queryType":"stats","format":"timeseries"}"#);
        assert_eq!(rate.metric, "request_rate");
        let f = &stats(&rate, &w, &src(Some(&h), 5000), &[counters("a", 5000, 2014, 2, 18)])[0];
        assert_eq!(
            f.fields[1].labels,
            labels(&[("service", "orders"), ("id", "a"), ("endpoint", "get")])
        );
        assert_eq!(values(f), [None, Some(10.0), Some(20.0), None, Some(4.0), Some(10.0)]);
        let ratio = query(r#"{"queryType":"stats","format":"timeseries","metric":"error_ratio"}"#);
        let f = &stats(&ratio, &w, &src(Some(&h), 5000), &[counters("a", 5000, 2014, 2, 18)])[0];
        assert_eq!(values(f), [None, Some(0.1), Some(0.0), None, Some(0.5), Some(0.0)]);
        let avg = query(r#"{"queryType":"stats","format":"timeseries","metric":"average_processing_time"}"#);
        let f = &stats(&avg, &w, &src(Some(&h), 5000), &[])[0];
        assert_eq!(values(f), [None, Some(2.0), Some(1.0), None, Some(2.0)]);
        // A fresh sample from a restarted instance (new started) is a reset too.
        let f = &stats(&rate, &w, &src(Some(&h), 5000), &[counters("a", 9000, 3000, 0, 0)])[0];
        assert_eq!(values(f).last(), Some(&None));
        // Bucketed: exact rate over the bucket, resets skipped.
        let coarse = Window { interval_ms: 2000, ..w };
        let f = &stats(&rate, &coarse, &src(Some(&h), 50_000), &[])[0];
        assert_eq!(times_ms(f), [0, 2000, 4000]);
        assert_eq!(values(f), [Some(10.0), Some(20.0), Some(4.0)]);
    }

    #[test]
    fn sampler_off_and_truncation_notices() {
        let q = query(r#"{"queryType":"ping","format":"timeseries"}"#);
        let off = Source {
            period_ms: None,
            ..src(None, 3000)
        };
        let frames = ping(&q, &window(0, 10_000), &off, &[sample("a", Some(1.0))]);
        assert_eq!(frames.len(), 1);
        assert_eq!(values(&frames[0]), [Some(1.0)]);
        let notices = &frames[0].meta.as_ref().unwrap().notices;
        assert!(notices[0].text.contains("history is off"), "{notices:?}");

        let mut h = History::new(3_600_000, 4096);
        for i in 0..200 {
            h.ingest_ping(i * 1000, &[sample("a", Some(1.0))]);
        }
        let frames = ping(&q, &window(0, 300_000), &src(Some(&h), 200_000), &[]);
        let notices = &frames[0].meta.as_ref().unwrap().notices;
        assert!(notices[0].text.starts_with("history truncated: "), "{notices:?}");
        assert!(frames[1..].iter().all(|f| f.meta.as_ref().unwrap().notices.is_empty()));
        // No series at all: one typed frame without fields.
        let none = ping(&q, &window(0, 10), &src(None, 3000), &[]);
        assert_eq!(none.len(), 1);
        assert!(none[0].fields.is_empty());
    }

    #[test]
    fn events_frame_filters_by_window_and_scope() {
        let mut h = History::new(3_600_000, 1 << 20);
        h.ingest_ping(0, &[sample("a", Some(1.0))]);
        h.ingest_ping(1000, &[sample("a", Some(1.0)), sample("b", Some(1.0))]);
        h.ingest_ping(2000, &[sample("b", Some(1.0))]);
        let q = query(r#"{"queryType":"events"}"#);
        let f = events(&q, &window(0, 10_000), &src(Some(&h), 3000));
        assert_eq!(f.meta.as_ref().unwrap().kind, Some(TABLE));
        let field = |n: &str| f.fields.iter().find(|x| x.name == n).unwrap().values.clone();
        assert_eq!(field("time"), Values::Time(vec![1_000_000_000, 2_000_000_000]));
        assert_eq!(
            field("tags"),
            Values::String(vec!["appeared,orders".into(), "disappeared,orders".into()])
        );
        let only_a = query(r#"{"queryType":"events","service":"orders","instance":"a"}"#);
        assert_eq!(events(&only_a, &window(0, 10_000), &src(Some(&h), 3000)).rows(), 1);
        assert_eq!(events(&q, &window(1500, 10_000), &src(Some(&h), 3000)).rows(), 1);
    }
}
