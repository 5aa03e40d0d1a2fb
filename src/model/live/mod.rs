//! Pure frames of Grafana Live streams: the wide live frame (seed, packets, history) built from rounds and from history frames.
//!
//! One stream is one `timeseries-wide` frame: a `time` field and one nullable number field per
//! series (instance for `ping`, instance and endpoint for `stats`), named `service/id[/endpoint]`
//! so that every field name is unique, with labels `{service, id[, endpoint]}` and the metric's
//! unit. Why wide, and why unique names, is explained in [`crate::grafana::stream`].
//!
//! A live field also has the label `version` once the instance's version is known. In a wide
//! frame the field's name, not its labels, identifies the series, and every packet carries its
//! labels anew: an upgrade changes the label of the same field and never splits the series (as
//! it would in `timeseries-multi`, where `version` is therefore not a label).

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

    /// Read a series identity back from field labels (history frames); `version` is not part of it.
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

/// What one round says of one series: its value (absent: no value this round) and the version
/// the instance reported (empty: not known).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Heard {
    pub value: Option<f64>,
    pub version: String,
}

/// One column of a wide frame: a series, its version label (empty: none) and its values.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub key: SeriesKey,
    pub version: String,
    pub values: Vec<Option<f64>>,
}

/// The stream's values in one round at `at`: every series that answered or is known to be down.
pub fn round_values(
    spec: &StreamSpec,
    round: &Round,
    counters: &mut Counters,
    at: DateTime<Utc>,
) -> BTreeMap<SeriesKey, Heard> {
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
                    let value = counters.interval_value(spec.metric, &key, sample);
                    out.insert(
                        key,
                        Heard {
                            value,
                            version: i.version.clone(),
                        },
                    );
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
                out.insert(
                    key,
                    Heard {
                        value: Some(v),
                        version: r.reply.version.clone(),
                    },
                );
            }
            for k in &round.down {
                let key = SeriesKey {
                    service: k.name.clone(),
                    id: k.id.clone(),
                    endpoint: None,
                };
                let value = match spec.metric {
                    "state" => Some(f64::from(State::silent(k.silence).code())),
                    _ => missing(spec),
                };
                out.insert(
                    key,
                    Heard {
                        value,
                        version: k.version.clone(),
                    },
                );
            }
        }
    }
    out
}

/// The wide frame of `spec`: `times` (ns) and one column per series, each as long as `times`.
pub fn wide(spec: &StreamSpec, ref_id: &str, times: Vec<i64>, columns: Vec<Column>) -> Frame {
    let mut frame = Frame::new(spec.query_type.name(), ref_id)
        .with_meta(FrameMeta::typed(TIMESERIES_WIDE))
        .with_field(Field::new("time", Values::Time(times)));
    for Column { key, version, values } in columns {
        let cfg = config(spec, &key);
        let mut labels = key.labels();
        if !version.is_empty() {
            labels.insert("version".to_string(), version);
        }
        frame = frame.with_field(
            Field::new(key.name(), Values::NullableFloat64(values))
                .with_labels(labels)
                .with_config(cfg),
        );
    }
    frame
}

/// Most series one live stream shows (the rest are left out, with a notice).
pub const MAX_LIVE_SERIES: usize = 10_000;

/// Series a running stream has shown, with when each was last heard and its last known version;
/// turns rounds into packets.
#[derive(Debug, Default)]
pub struct Tracker {
    seen: BTreeMap<SeriesKey, Seen>,
}

#[derive(Debug)]
struct Seen {
    last: DateTime<Utc>,
    version: String,
}

impl Tracker {
    /// One packet: one row at `at` with a value for every series heard within `retention`;
    /// `values` are this round's (an outage passes none and a notice).
    pub fn packet(
        &mut self,
        spec: &StreamSpec,
        at: DateTime<Utc>,
        values: &BTreeMap<SeriesKey, Heard>,
        retention: std::time::Duration,
        outage: Option<String>,
    ) -> Frame {
        let horizon = at - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
        self.seen.retain(|_, s| s.last >= horizon);
        let mut left_out = 0usize;
        for (k, heard) in values {
            if let Some(s) = self.seen.get_mut(k) {
                s.last = at;
                if !heard.version.is_empty() && s.version != heard.version {
                    s.version.clone_from(&heard.version);
                }
            } else if self.seen.len() < MAX_LIVE_SERIES {
                let version = heard.version.clone();
                self.seen.insert(k.clone(), Seen { last: at, version });
            } else {
                left_out += 1;
            }
        }
        let columns = self
            .seen
            .iter()
            .map(|(k, s)| Column {
                key: k.clone(),
                version: s.version.clone(),
                values: vec![values.get(k).map_or_else(|| missing(spec), |h| h.value)],
            })
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
/// `{service, id[, endpoint]}` each) into the stream's wide frame, outer-joined on time, each
/// series labelled with the version `version_of` knows for it. Frames of any other shape are
/// skipped.
pub fn history(spec: &StreamSpec, frames: &[Frame], version_of: impl Fn(&SeriesKey) -> Option<String>) -> Frame {
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
        .map(|(key, c)| Column {
            version: version_of(&key).unwrap_or_default(),
            values: times.iter().map(|t| c.get(t).copied().flatten()).collect(),
            key,
        })
        .collect();
    wide(spec, "", times.into_iter().collect(), columns)
}

#[cfg(test)]
mod tests;
