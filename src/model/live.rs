//! Pure frames of Grafana Live streams: the wide live frame (seed, packets, history) built from rounds and from history frames.
//!
//! One stream is one `timeseries-wide` frame: a `time` field and one nullable number field per
//! series (instance for `ping`, instance and endpoint for `stats`), named `service/id[/endpoint]`
//! so that every field name is unique, with labels `{service, id[, endpoint]}` and the metric's
//! unit. Why wide, and why unique names, is explained in [`crate::grafana::stream`].

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::model::channel::StreamSpec;
use crate::model::frames::{Field, FieldConfig, Frame, FrameMeta, Notice, Severity, Values, TIMESERIES_WIDE};
use crate::model::observed::Round;
use crate::model::query::QueryType;
use crate::model::rate;
use crate::model::state::{state_config, State};

/// One series of a stream.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SeriesKey {
    pub service: String,
    pub id: String,
    pub endpoint: Option<String>,
}

impl SeriesKey {
    /// Field name: `service/id[/endpoint]`, unique within a stream.
    pub fn name(&self) -> String {
        match &self.endpoint {
            Some(e) => format!("{}/{}/{e}", self.service, self.id),
            None => format!("{}/{}", self.service, self.id),
        }
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut l = BTreeMap::from([
            ("service".to_string(), self.service.clone()),
            ("id".to_string(), self.id.clone()),
        ]);
        if let Some(e) = &self.endpoint {
            l.insert("endpoint".to_string(), e.clone());
        }
        l
    }

    /// Read a series identity back from field labels (history frames).
    pub fn from_labels(labels: &BTreeMap<String, String>) -> Option<Self> {
        Some(Self {
            service: labels.get("service")?.clone(),
            id: labels.get("id")?.clone(),
            endpoint: labels.get("endpoint").cloned(),
        })
    }
}

fn nanos(t: DateTime<Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

/// Unit and value mappings of a stream's metric.
fn config(spec: &StreamSpec, key: &SeriesKey) -> FieldConfig {
    let unit = match (spec.query_type, spec.metric) {
        (QueryType::Ping, "up") => None,
        (_, "rtt" | "processing_time" | "average_processing_time") => Some("ms"),
        (_, "error_ratio") => Some("percentunit"),
        (QueryType::Stats, _) => Some("reqps"),
        _ => Some("short"),
    };
    if spec.metric == "state" {
        return FieldConfig {
            display_name_from_ds: Some(key.name().replace('/', " ")),
            ..state_config()
        };
    }
    FieldConfig {
        display_name_from_ds: Some(key.name().replace('/', " ")),
        unit: unit.map(str::to_string),
        min: (spec.metric == "up" || spec.metric == "error_ratio").then_some(0.0),
        max: (spec.metric == "up" || spec.metric == "error_ratio").then_some(1.0),
        ..FieldConfig::default()
    }
}

/// Value of a series that did not answer: absent, except `up` where silence means 0.
fn missing(spec: &StreamSpec) -> Option<f64> {
    (spec.query_type == QueryType::Ping && spec.metric == "up").then_some(0.0)
}

/// The last STATS counters of each `stats` series, so that a stream shows the same per-interval
/// rates as the `timeseries` query (`request_rate`, `error_rate`, `error_ratio`,
/// `average_processing_time`) rather than counters since the instance started.
#[derive(Debug, Default)]
pub struct Counters {
    last: BTreeMap<SeriesKey, Sample>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
struct Sample {
    at: DateTime<Utc>,
    started: Option<DateTime<Utc>>,
    requests: u64,
    errors: u64,
    processing_ns: u64,
}

impl Counters {
    /// The metric over the interval since this series' previous sample; `None` for the first
    /// sample, after a restart (a counter went down or `started` changed: a new segment, never a
    /// negative rate), and for ratios of an interval without requests.
    fn interval_value(&mut self, metric: &str, key: &SeriesKey, now: Sample) -> Option<f64> {
        let prev = self.last.insert(key.clone(), now)?;
        let counters = |s: &Sample| rate::Counters {
            t_ms: s.at.timestamp_millis(),
            requests: s.requests,
            errors: s.errors,
            processing_ns: s.processing_ns,
            run: s.started.map_or(i64::MIN, |t| t.timestamp_millis()),
        };
        rate::interval(metric, &counters(&prev), &counters(&now)).and_then(rate::Fraction::value)
    }

    /// Forget series not in `keep` (instances gone from the stream).
    fn retain(&mut self, keep: &BTreeSet<SeriesKey>) {
        self.last.retain(|k, _| keep.contains(k));
    }
}

/// The stream's values in one round at `at`: every series that answered or is known to be down.
pub fn round_values(
    spec: &StreamSpec,
    round: &Round,
    counters: &mut Counters,
    at: DateTime<Utc>,
) -> BTreeMap<SeriesKey, Option<f64>> {
    let mut out = BTreeMap::new();
    match spec.query_type {
        QueryType::Stats => {
            for r in &round.replies {
                let i = &r.reply;
                for e in i
                    .endpoints
                    .iter()
                    .filter(|e| spec.endpoint.as_deref().is_none_or(|want| want == e.name))
                {
                    let key = SeriesKey {
                        service: i.name.clone(),
                        id: i.id.clone(),
                        endpoint: Some(e.name.clone()),
                    };
                    let sample = Sample {
                        at,
                        started: i.started,
                        requests: e.num_requests,
                        errors: e.num_errors,
                        processing_ns: e.processing_ns(),
                    };
                    let v = counters.interval_value(spec.metric, &key, sample);
                    out.insert(key, v);
                }
            }
            counters.retain(&out.keys().cloned().collect());
        }
        _ => {
            for r in &round.replies {
                let key = SeriesKey {
                    service: r.reply.name.clone(),
                    id: r.reply.id.clone(),
                    endpoint: None,
                };
                let rtt_ms = r.rtt.as_secs_f64() * 1e3;
                let v = match spec.metric {
                    "up" => 1.0,
                    "state" => f64::from(State::answered(rtt_ms, round.slow_ms).code()),
                    _ => rtt_ms,
                };
                out.insert(key, Some(v));
            }
            for k in &round.down {
                let key = SeriesKey {
                    service: k.name.clone(),
                    id: k.id.clone(),
                    endpoint: None,
                };
                let v = match spec.metric {
                    "state" => Some(f64::from(State::silent(k.silence).code())),
                    _ => missing(spec),
                };
                out.insert(key, v);
            }
        }
    }
    out
}

/// The wide frame of `spec`: `times` (ns) and one column per series, each as long as `times`.
pub fn wide(spec: &StreamSpec, ref_id: &str, times: Vec<i64>, columns: Vec<(SeriesKey, Vec<Option<f64>>)>) -> Frame {
    let mut frame = Frame::new(spec.query_type.name(), ref_id)
        .with_meta(FrameMeta::typed(TIMESERIES_WIDE))
        .with_field(Field::new("time", Values::Time(times)));
    for (key, values) in columns {
        let cfg = config(spec, &key);
        frame = frame.with_field(
            Field::new(key.name(), Values::NullableFloat64(values))
                .with_labels(key.labels())
                .with_config(cfg),
        );
    }
    frame
}

/// Most series one live stream shows (the rest are left out, with a notice).
pub const MAX_LIVE_SERIES: usize = 10_000;

/// Series a running stream has shown, with when each was last heard; turns rounds into packets.
#[derive(Debug, Default)]
pub struct Tracker {
    seen: BTreeMap<SeriesKey, DateTime<Utc>>,
}

impl Tracker {
    /// One packet: one row at `at` with a value for every series heard within `retention`;
    /// `values` are this round's (an outage passes none and a notice).
    pub fn packet(
        &mut self,
        spec: &StreamSpec,
        at: DateTime<Utc>,
        values: &BTreeMap<SeriesKey, Option<f64>>,
        retention: std::time::Duration,
        outage: Option<String>,
    ) -> Frame {
        let horizon = at - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        self.seen.retain(|_, last| *last >= horizon);
        let mut left_out = 0usize;
        for k in values.keys() {
            if let Some(last) = self.seen.get_mut(k) {
                *last = at;
            } else if self.seen.len() < MAX_LIVE_SERIES {
                self.seen.insert(k.clone(), at);
            } else {
                left_out += 1;
            }
        }
        let columns = self
            .seen
            .keys()
            .map(|k| (k.clone(), vec![values.get(k).copied().unwrap_or_else(|| missing(spec))]))
            .collect();
        let mut frame = wide(spec, "", vec![nanos(at)], columns);
        let cut = (left_out > 0).then(|| {
            format!(
                "{left_out} series are not streamed: one live stream shows at most {MAX_LIVE_SERIES}. Narrow the query with service, instance or endpoint"
            )
        });
        if let Some(meta) = frame.meta.as_mut() {
            for text in outage.into_iter().chain(cut) {
                meta.notices.push(Notice {
                    severity: Severity::Warning,
                    text,
                });
            }
        }
        frame
    }
}

/// Join history frames (`timeseries-multi`: a time field and a number field labelled
/// `{service, id[, endpoint]}` each) into the stream's wide frame, outer-joined on time.
/// Frames of any other shape are skipped.
pub fn history(spec: &StreamSpec, frames: &[Frame]) -> Frame {
    let mut series: BTreeMap<SeriesKey, BTreeMap<i64, Option<f64>>> = BTreeMap::new();
    for f in frames {
        let times: Vec<Option<i64>> = match f.fields.iter().map(|x| &x.values).find_map(|v| match v {
            Values::Time(t) => Some(t.iter().copied().map(Some).collect()),
            Values::NullableTime(t) => Some(t.clone()),
            _ => None,
        }) {
            Some(t) => t,
            None => continue,
        };
        let Some((key, values)) = f.fields.iter().find_map(|x| {
            let values: Vec<Option<f64>> = match &x.values {
                Values::Float64(v) => v.iter().copied().map(Some).collect(),
                Values::NullableFloat64(v) => v.clone(),
                Values::Int64(v) => v.iter().map(|n| Some(*n as f64)).collect(),
                Values::UInt64(v) => v.iter().map(|n| Some(*n as f64)).collect(),
                _ => return None,
            };
            Some((SeriesKey::from_labels(&x.labels)?, values))
        }) else {
            continue;
        };
        let column = series.entry(key).or_default();
        for (t, v) in times.into_iter().zip(values) {
            if let Some(t) = t {
                column.insert(t, v.filter(|x| x.is_finite()));
            }
        }
    }
    let times: BTreeSet<i64> = series.values().flat_map(|c| c.keys().copied()).collect();
    let columns = series
        .into_iter()
        .map(|(k, c)| (k, times.iter().map(|t| c.get(t).copied().flatten()).collect()))
        .collect();
    wide(spec, "", times.into_iter().collect(), columns)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::micro::{parse_reply, Scope, Verb};
    use crate::model::observed::{KnownInstance, Reply, StopReason};
    use crate::model::query::Format;

    fn spec(query_type: QueryType, metric: &'static str) -> StreamSpec {
        StreamSpec {
            query_type,
            format: Format::Timeseries,
            metric,
            scope: Scope::all(),
            endpoint: None,
        }
    }

    fn key(service: &str, id: &str) -> SeriesKey {
        SeriesKey {
            service: service.into(),
            id: id.into(),
            endpoint: None,
        }
    }

    fn ping_round(ids: &[&str], down: &[&str]) -> Round {
        Round {
            verb: Verb::Ping,
            scope: Scope::all(),
            subject: "$SRV.PING".into(),
            started: Utc::now(),
            replies: ids
                .iter()
                .map(|id| Reply {
                    reply: parse_reply(
                        Verb::Ping,
                        format!(r#"{{"type":"io.nats.micro.v1.ping_response","name":"orders","id":"{id}"}}"#)
                            .as_bytes(),
                    )
                    .unwrap(),
                    rtt: Duration::from_micros(1500),
                    received: Utc::now(),
                })
                .collect(),
            invalid: 0,
            oversized: 0,
            bytes: 0,
            limited: Default::default(),
            late_cut_short: false,
            stop: StopReason::Stall,
            elapsed: Duration::from_millis(100),
            last_reply: None,
            down: down
                .iter()
                .map(|id| KnownInstance {
                    name: "orders".into(),
                    id: (*id).into(),
                    version: String::new(),
                    last_seen: Utc::now(),
                    alive: false,
                    silence: None,
                })
                .collect(),
            slow_ms: 1000.0,
            targeted: 0,
            unasked: 0,
            held: Default::default(),
        }
    }

    #[test]
    fn packets_keep_every_series_heard_and_mark_the_silent_ones() {
        let s = spec(QueryType::Ping, "rtt");
        let mut t = Tracker::default();
        let at = Utc::now();
        let p1 = t.packet(
            &s,
            at,
            &round_values(&s, &ping_round(&["a", "b"], &[]), &mut Counters::default(), at),
            Duration::from_secs(60),
            None,
        );
        let names: Vec<_> = p1.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["time", "orders/a", "orders/b"]);
        assert_eq!(p1.fields[1].values, Values::NullableFloat64(vec![Some(1.5)]));
        assert_eq!(p1.fields[1].labels, key("orders", "a").labels());
        assert_eq!(p1.fields[1].config.as_ref().unwrap().unit.as_deref(), Some("ms"));
        // b is down (registry), c is new; a went silent without being reported: still shown, null.
        let later = at + chrono::Duration::seconds(5);
        let p2 = t.packet(
            &s,
            later,
            &round_values(&s, &ping_round(&["c"], &["b"]), &mut Counters::default(), at),
            Duration::from_secs(60),
            None,
        );
        let names: Vec<_> = p2.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["time", "orders/a", "orders/b", "orders/c"]);
        let vals: Vec<_> = p2.fields[1..].iter().map(|f| f.values.clone()).collect();
        assert_eq!(
            vals,
            [
                Values::NullableFloat64(vec![None]),
                Values::NullableFloat64(vec![None]),
                Values::NullableFloat64(vec![Some(1.5)])
            ]
        );
        // An outage: every series null, a notice; `up` reports 0.
        let up = spec(QueryType::Ping, "up");
        let mut tu = Tracker::default();
        tu.packet(
            &up,
            at,
            &round_values(&up, &ping_round(&["a"], &[]), &mut Counters::default(), at),
            Duration::from_secs(60),
            None,
        );
        let out = tu.packet(
            &up,
            later,
            &BTreeMap::new(),
            Duration::from_secs(60),
            Some("down".into()),
        );
        assert_eq!(out.fields[1].values, Values::NullableFloat64(vec![Some(0.0)]));
        assert_eq!(out.meta.as_ref().unwrap().notices[0].text, "down");
        // Series not heard within the retention are dropped.
        let much_later = at + chrono::Duration::seconds(120);
        let p3 = t.packet(&s, much_later, &BTreeMap::new(), Duration::from_secs(60), None);
        assert_eq!(p3.fields.len(), 1);
    }

    #[test]
    fn a_stream_shows_at_most_its_series_cap_and_says_how_many_it_left_out() {
        let s = spec(QueryType::Ping, "rtt");
        let at = Utc::now();
        let values: BTreeMap<SeriesKey, Option<f64>> = (0..MAX_LIVE_SERIES + 3)
            .map(|i| (key("orders", &format!("i{i:06}")), Some(1.0)))
            .collect();
        let mut t = Tracker::default();
        let p = t.packet(&s, at, &values, Duration::from_secs(60), None);
        assert_eq!(p.fields.len(), MAX_LIVE_SERIES + 1);
        let notes: Vec<_> = p
            .meta
            .iter()
            .flat_map(|m| m.notices.iter().map(|n| n.text.clone()))
            .collect();
        assert!(
            notes.iter().any(|n| n.starts_with("3 series are not streamed")),
            "{notes:?}"
        );
        // Series heard before keep their place; the cap holds round after round.
        let p = t.packet(
            &s,
            at + chrono::Duration::seconds(1),
            &values,
            Duration::from_secs(60),
            None,
        );
        assert_eq!(p.fields.len(), MAX_LIVE_SERIES + 1);
    }

    #[test]
    fn stats_series_are_per_endpoint() {
        let body = r#"{"type":"io.nats.micro.v1.stats_response","name":"orders","id":"x","version":"1",
            "endpoints":[{"name":"get","subject":"o.get","num_requests":4,"num_errors":1},
                         {"name":"put","subject":"o.put","num_requests":0,"num_errors":0}]}"#;
        let mut r = ping_round(&[], &[]);
        r.verb = Verb::Stats;
        r.replies.push(Reply {
            reply: parse_reply(Verb::Stats, body.as_bytes()).unwrap(),
            rtt: Duration::from_millis(1),
            received: Utc::now(),
        });
        let s = spec(QueryType::Stats, "error_ratio");
        let mut c = Counters::default();
        let t0 = Utc::now();
        // First sample: no interval yet.
        let v = round_values(&s, &r, &mut c, t0);
        assert_eq!(v.values().copied().collect::<Vec<_>>(), [None, None]);
        // 2 s later: get saw 4 more requests, 1 more error; put nothing.
        let later = |reqs: u64, errs: u64| {
            let mut r2 = r.clone();
            let ep = &mut r2.replies[0].reply.endpoints[0];
            ep.num_requests = reqs;
            ep.num_errors = errs;
            r2
        };
        let v = round_values(&s, &later(8, 2), &mut c, t0 + chrono::Duration::seconds(2));
        let got: Vec<_> = v.iter().map(|(k, v)| (k.name(), *v)).collect();
        assert_eq!(
            got,
            [("orders/x/get".into(), Some(0.25)), ("orders/x/put".into(), None)]
        );
        let rate = spec(QueryType::Stats, "request_rate");
        let mut c = Counters::default();
        round_values(&rate, &r, &mut c, t0);
        let v = round_values(&rate, &later(8, 2), &mut c, t0 + chrono::Duration::seconds(2));
        assert_eq!(v.values().copied().collect::<Vec<_>>(), [Some(2.0), Some(0.0)]);
        // A restart (counters went down) starts a new segment: no negative rate.
        let v = round_values(&rate, &later(1, 0), &mut c, t0 + chrono::Duration::seconds(4));
        assert_eq!(v.values().next().copied(), Some(None));
        let only = StreamSpec {
            endpoint: Some("put".into()),
            ..s
        };
        assert_eq!(round_values(&only, &r, &mut Counters::default(), t0).len(), 1);
    }

    #[test]
    fn history_frames_join_on_time() {
        let s = spec(QueryType::Ping, "rtt");
        let multi = |id: &str, times: Vec<i64>, v: Vec<Option<f64>>| {
            Frame::new("ping", "A")
                .with_field(Field::new("time", Values::Time(times)))
                .with_field(Field::new("rtt", Values::NullableFloat64(v)).with_labels(key("orders", id).labels()))
        };
        let frames = [
            multi("b", vec![2, 3], vec![Some(2.0), None]),
            multi("a", vec![1, 2], vec![Some(1.0), Some(f64::NAN)]),
            Frame::new("odd", "A").with_field(Field::new("x", Values::String(vec!["y".into()]))),
        ];
        let h = history(&s, &frames);
        assert_eq!(h.fields[0].values, Values::Time(vec![1, 2, 3]));
        assert_eq!(h.fields[1].name, "orders/a");
        assert_eq!(h.fields[1].values, Values::NullableFloat64(vec![Some(1.0), None, None]));
        assert_eq!(h.fields[2].values, Values::NullableFloat64(vec![None, Some(2.0), None]));
        let series: Vec<SeriesKey> = h
            .fields
            .iter()
            .filter_map(|f| SeriesKey::from_labels(&f.labels))
            .collect();
        assert_eq!(series, [key("orders", "a"), key("orders", "b")]);
        assert_eq!(history(&s, &[]).rows(), 0);
    }
}
