//! The time-series machinery every query type's `timeseries` answer shares: what a builder reads (`Source`), steps and downsampling, the point-by-point combination of an aggregate, the `timeseries-multi` frames with their bounds and notices.
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
//! With `aggregate`, the series of one service (and endpoint) combine point by point after
//! downsampling, by the rule of [`crate::model::aggregate`]; labels lose `id`.
//!
//! Downsampling: when the step Grafana asks for (`intervalMs`, or the range / `maxDataPoints`)
//! is longer than the sampler period, points are merged into buckets aligned to the step:
//! rtt is the mean of the answering samples; rates and ratios are Σ deltas / Σ durations (or
//! Σ requests), exact over the bucket; `up` and `instances` take the minimum and `down` and
//! `versions` the maximum, so that a short outage is never averaged away.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::meta::bytes_text;
use crate::model::aggregate::{Group, Part};
use crate::model::frames::{Field, FieldConfig, Frame, FrameMeta, Notice, Severity, Values, TIMESERIES_MULTI};
use crate::model::history::{HistoryView, PingSample};
use crate::model::query::{Aggregate, Query, Window};

pub use super::meta::{MAX_POINTS, MAX_SERIES};

/// What the builders read besides the query.
#[derive(Clone, Copy, Debug)]
pub struct Source<'a> {
    /// `None` when the sampler is off.
    pub history: Option<&'a HistoryView>,
    /// Sampler period.
    pub period_ms: Option<i64>,
    /// Time of the fresh sample (Unix ms).
    pub now_ms: i64,
    /// The subject the fresh round went to, for `executedQueryString`.
    pub subject: Option<&'a str>,
    /// Whether the fresh sample belongs in the window (it reaches the present; Grafana's `to` is
    /// the moment the dashboard sent the query, a little before the fresh round).
    pub fresh: bool,
    /// What the fresh round skipped or cut ([`crate::model::answer::meta::round_notices`]).
    pub round_notices: &'a [Notice],
}

/// How the points of one bucket combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Agg {
    /// Σ num / Σ den (a mean when den is 1 per point, an exact rate for deltas).
    Ratio,
    Min,
    Max,
}

/// A raw point: value = num / den, null when den is 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Raw {
    pub t: i64,
    pub num: f64,
    pub den: f64,
}

impl Raw {
    pub(crate) fn value(t: i64, v: Option<f64>) -> Self {
        match v {
            Some(num) => Raw { t, num, den: 1.0 },
            None => Raw::null(t),
        }
    }
    pub(crate) fn null(t: i64) -> Self {
        Raw { t, num: 0.0, den: 0.0 }
    }
}

/// The bucket length, when downsampling applies.
fn step(w: &Window, period_ms: Option<i64>) -> Option<i64> {
    let period = period_ms?;
    let span = w.to_ms.saturating_sub(w.from_ms).max(0);
    let by_points = if w.max_points > 0 {
        span.saturating_add(w.max_points - 1) / w.max_points
    } else {
        0
    };
    let step = w.interval_ms.max(by_points);
    (step > period).then_some(step)
}

/// The points of one series after downsampling: per point (bucket) time in ms, its value and the
/// fraction behind it (what aggregates pool).
fn reduce(raw: &[Raw], step: Option<i64>, agg: Agg) -> Vec<(i64, Part)> {
    let part = |num: f64, den: f64| Part {
        value: (den != 0.0).then(|| num / den),
        num,
        den,
    };
    let Some(step) = step else {
        return raw.iter().map(|r| (r.t, part(r.num, r.den))).collect();
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
    buckets
        .into_iter()
        .map(|(t, (num, den, extreme))| {
            let p = match agg {
                Agg::Ratio => part(num, den),
                Agg::Min | Agg::Max => Part::plain(extreme),
            };
            (t, p)
        })
        .collect()
}

/// The series a frame set shows: one per instance, or with `aggregate` one per group (the labels
/// without `id`), combined point by point by the rule of [`crate::model::aggregate`].
fn combine(q: &Query, series: Vec<Series>, step: Option<i64>, agg: Agg) -> Vec<Points> {
    if q.aggregate == Aggregate::None {
        return series
            .into_iter()
            .map(|s| Points {
                labels: s.labels,
                points: reduce(&s.raw, step, agg)
                    .into_iter()
                    .map(|(t, p)| (t, p.value))
                    .collect(),
            })
            .collect();
    }
    let mut groups: BTreeMap<BTreeMap<String, String>, BTreeMap<i64, Group>> = BTreeMap::new();
    for s in series {
        let mut labels = s.labels;
        labels.remove("id");
        let at = groups.entry(labels).or_default();
        for (t, p) in reduce(&s.raw, step, agg) {
            at.entry(t).or_default().add(p);
        }
    }
    groups
        .into_iter()
        .map(|(labels, at)| Points {
            labels,
            points: at
                .into_iter()
                .map(|(t, g)| (t, g.value(q.aggregate, q.metric)))
                .collect(),
        })
        .collect()
}

pub(crate) fn meta(src: &Source<'_>, notices: Vec<Notice>, custom: Option<serde_json::Value>) -> FrameMeta {
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

pub(crate) struct Series {
    pub labels: BTreeMap<String, String>,
    pub raw: Vec<Raw>,
}

/// A series as drawn: labels, and (time ms, value) per point.
struct Points {
    labels: BTreeMap<String, String>,
    points: Vec<(i64, Option<f64>)>,
}

/// What a caller of [`frames`] adds: notices of its own, and series it did not pass on (beyond
/// the bound, counted in the "N of M series shown" notice).
#[derive(Default)]
pub(crate) struct Extra {
    pub notices: Vec<Notice>,
    pub hidden: usize,
}

pub(crate) fn frames(
    q: &Query,
    src: &Source<'_>,
    w: &Window,
    series: Vec<Series>,
    agg: Agg,
    config: FieldConfig,
    extra: Extra,
) -> Vec<Frame> {
    let Extra {
        notices: extra_notices,
        hidden,
    } = extra;
    let step = step(w, src.period_ms);
    let mut series = combine(q, series, step, agg);
    let (mut points, before) = (
        0usize,
        series.len() + hidden + src.history.map_or(0, HistoryView::left_out),
    );
    let mut cut = false;
    series.retain(|s| {
        points = points.saturating_add(s.points.len());
        cut |= points > MAX_POINTS;
        !cut
    });
    series.truncate(MAX_SERIES);
    let config = if q.aggregate == Aggregate::Count {
        FieldConfig::unit("short")
    } else {
        config
    };
    let mut notices = history_notices(src, w);
    notices.extend(extra_notices);
    if series.len() < before {
        notices.push(Notice {
            severity: Severity::Warning,
            text: format!(
                "{} of {before} series shown: one query returns at most {MAX_SERIES} series and {MAX_POINTS} points. Narrow the query with service, instance or endpoint, or use an aggregate",
                series.len()
            ),
        });
    }
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
    // Notices and the custom block ride on the first frame only: thousands of series repeat
    // nothing but their labels.
    let (mut notices, mut custom) = (Some(notices), custom);
    series
        .into_iter()
        .map(|s| {
            let times = s.points.iter().map(|(t, _)| t.saturating_mul(1_000_000)).collect();
            let values = s.points.iter().map(|(_, v)| *v).collect();
            Frame::new(q.metric, &q.ref_id)
                .with_meta(meta(src, notices.take().unwrap_or_default(), custom.take()))
                .with_field(Field::new("time", Values::Time(times)))
                .with_field(
                    Field::new(q.metric_name(), Values::NullableFloat64(values))
                        .with_labels(s.labels)
                        .with_config(config.clone()),
                )
        })
        .collect()
}

pub(crate) fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// One sampling round of one service: instances answering and down, and the versions answering.
#[derive(Default)]
pub(crate) struct At<'a> {
    pub up: u32,
    pub down: u32,
    pub versions: BTreeSet<&'a str>,
}

/// Per service in the query's scope, per sampling round from `from_ms` on (plus the fresh round at
/// "now"): what [`At`] counts. `services` and `slo` read the same counts.
pub(crate) fn rounds_per_service<'a, S: AsRef<str>>(
    q: &Query,
    from_ms: i64,
    w: &Window,
    src: &Source<'a>,
    fresh: &'a [PingSample<S>],
) -> BTreeMap<&'a str, BTreeMap<i64, At<'a>>> {
    let mut by: BTreeMap<&str, BTreeMap<i64, At<'_>>> = BTreeMap::new();
    let in_scope = |service: &str| q.scope.service.as_deref().is_none_or(|s| s == service);
    if let Some(h) = src.history {
        for i in h.instances().filter(|i| in_scope(i.service)) {
            for p in i
                .pings
                .iter()
                .filter(|p| p.t >= from_ms && p.t <= w.to_ms && p.t < src.now_ms)
            {
                let at = by.entry(i.service).or_default().entry(p.t).or_default();
                if p.rtt().is_some() {
                    at.up += 1;
                    at.versions.insert(i.version);
                } else {
                    at.down += 1;
                }
            }
        }
    }
    if src.fresh {
        for s in fresh.iter().filter(|s| in_scope(s.service.as_ref())) {
            let at = by.entry(s.service.as_ref()).or_default().entry(src.now_ms).or_default();
            if s.rtt_ms.is_some() {
                at.up += 1;
                at.versions.insert(s.version.as_ref());
            } else {
                at.down += 1;
            }
        }
    }
    by
}

/// How many of `n` series a query can show: all of them when an aggregate combines them (the
/// combined series are bounded later), else [`MAX_SERIES`].
pub(crate) fn shown(q: &Query) -> usize {
    if q.aggregate == Aggregate::None {
        MAX_SERIES
    } else {
        usize::MAX
    }
}
