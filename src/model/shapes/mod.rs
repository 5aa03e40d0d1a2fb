//! Pure builders from discovery rounds and replies to the frame shapes of SPEC ("Frames"): `numeric-long` for instant values, `table` for tables.
//!
//! Instant frames carry exactly one numeric field (chosen by the query's
//! `metric`) plus string dimensions, so Grafana's alert engine reads them as one
//! alert instance per row on both of its paths (data-plane and number table).

use std::collections::{BTreeMap, BTreeSet};

use arrow_array::StringArray;
use serde_json::{json, Value};

use crate::model::budget::{Budget, NARROW_BY_FILTERS};
use crate::model::frames::{Field, FieldConfig, Frame, FrameMeta, Notice, Severity, Values, NUMERIC_LONG, TABLE};
use crate::model::micro::{Endpoint, ServiceReply};
use crate::model::observed::{Round, StopReason};
use crate::model::query::{Format, Query};
use crate::model::state::{state_config, State, MAX_TARGETED_PINGS};

fn nanos(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

pub(crate) fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What a round skipped or cut, as notices (shared by instant, table and timeseries frames).
pub fn round_notices(round: &Round) -> Vec<Notice> {
    let mut notices = Vec::new();
    let warn = |text: String| Notice {
        severity: Severity::Warning,
        text,
    };
    if round.invalid > 0 {
        notices.push(warn(format!(
            "{} invalid {} skipped (not JSON, wrong type, no name/id or one too long, or duplicate) on {}",
            round.invalid,
            if round.invalid == 1 {
                "reply was"
            } else {
                "replies were"
            },
            round.subject
        )));
    }
    if round.oversized > 0 {
        notices.push(warn(format!(
            "{} {} larger than a 64th of maxRoundBytes skipped unread on {}",
            round.oversized,
            if round.oversized == 1 { "reply" } else { "replies" },
            round.subject
        )));
    }
    let cut: Vec<String> = round
        .limited
        .iter()
        .filter(|(l, _)| **l != crate::model::micro::Limit::Name)
        .map(|(l, n)| format!("{} ({n})", l.rule()))
        .collect();
    if !cut.is_empty() {
        notices.push(warn(format!(
            "replies over the field bounds were cut: {}",
            cut.join("; ")
        )));
    }
    if round.unasked > 0 {
        notices.push(warn(format!(
            "{} silent {} not asked why with a targeted ping (at most {} per round): shown as unresponsive",
            round.unasked,
            if round.unasked == 1 {
                "instance was"
            } else {
                "instances were"
            },
            MAX_TARGETED_PINGS,
        )));
    }
    if round.late_cut_short {
        notices.push(warn(format!(
            "late replies to a round on {} within the last minute reached the reply cap or the maxRoundBytes budget: something on this account answers far more than a fleet would",
            round.subject
        )));
    }
    match round.stop {
        StopReason::Capped => notices.push(warn(format!(
            "stopped at the reply cap of {} replies: instances beyond it are not shown",
            round.replies.len()
        ))),
        StopReason::Budget => notices.push(warn(format!(
            "stopped after {} of replies (the maxRoundBytes budget): instances beyond it are not shown",
            bytes_text(round.bytes)
        ))),
        StopReason::NoResponders => notices.push(Notice {
            severity: Severity::Info,
            text: format!("no service answered {} (no responders)", round.subject),
        }),
        StopReason::Timeout if round.replies.is_empty() => notices.push(warn(format!(
            "no valid reply on {} within {:.0} ms",
            round.subject,
            ms(round.elapsed)
        ))),
        _ => {}
    }
    notices
}

/// Bytes for people: `512 B`, `3.0 KiB`, `16.0 MiB`.
pub fn bytes_text(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// Meta shared by every frame built from a round: type, executed subject, notices, round facts.
pub(crate) fn round_meta(kind: &'static str, round: &Round) -> FrameMeta {
    FrameMeta {
        executed_query_string: Some(round.subject.clone()),
        notices: round_notices(round),
        custom: Some(json!({
            "stop": round.stop.name(),
            "elapsedMs": ms(round.elapsed),
            "lastReplyMs": round.last_reply.map(ms),
            "replies": round.replies.len(),
            "invalidReplies": round.invalid,
            "oversizedReplies": round.oversized,
            "bytes": round.bytes,
            "down": round.down.len(),
            "targetedPings": round.targeted,
        })),
        ..FrameMeta::typed(kind)
    }
}

/// Field config of 0/1 `up` values: range and the down/up value mappings (instant and time series).
pub(crate) fn up_config() -> FieldConfig {
    FieldConfig {
        min: Some(0.0),
        max: Some(1.0),
        mappings: Some(json!([{
            "type": "value",
            "options": {
                "0": {"text": "down", "color": "red", "index": 0},
                "1": {"text": "up", "color": "green", "index": 1}
            }
        }])),
        ..FieldConfig::default()
    }
}

/// Field config of `error_ratio` (0–1 as a percentage), in every format.
pub(crate) fn ratio_config() -> FieldConfig {
    FieldConfig {
        min: Some(0.0),
        max: Some(1.0),
        ..FieldConfig::unit("percentunit")
    }
}

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

/// `ping`: one row per instance (answering or down) with its round-trip time, up and liveness state.
pub fn ping(q: &Query, round: &Round) -> Frame {
    struct Row<'a> {
        service: &'a str,
        id: &'a str,
        version: &'a str,
        rtt: Option<f64>,
        state: State,
    }
    let mut rows: Vec<Row<'_>> = round
        .replies
        .iter()
        .map(|r| Row {
            service: &r.reply.name,
            id: &r.reply.id,
            version: &r.reply.version,
            rtt: Some(ms(r.rtt)),
            state: State::answered(ms(r.rtt), round.slow_ms),
        })
        .chain(round.down.iter().map(|k| Row {
            service: &k.name,
            id: &k.id,
            version: &k.version,
            rtt: None,
            state: State::silent(k.silence),
        }))
        .collect();
    rows.sort_by(|a, b| (a.service, a.id).cmp(&(b.service, b.id)));
    let mut budget = Budget::new(7);
    rows.retain(|r| budget.admit(r.service.len() + r.id.len() + r.version.len()));
    fn strings<'a>(rows: &[Row<'a>], f: fn(&Row<'a>) -> &'a str) -> Values {
        Values::Utf8(StringArray::from_iter_values(rows.iter().map(f)))
    }
    let rtt = Field::new("rtt", Values::NullableFloat64(rows.iter().map(|r| r.rtt).collect()))
        .with_config(FieldConfig::unit("ms"));
    let up = Field::new(
        "up",
        Values::Float64(rows.iter().map(|r| if r.rtt.is_some() { 1.0 } else { 0.0 }).collect()),
    )
    .with_config(up_config());
    let mut frame = Frame::new("ping", &q.ref_id)
        .with_field(Field::new("service", strings(&rows, |r| r.service)))
        .with_field(Field::new("id", strings(&rows, |r| r.id)))
        .with_field(Field::new("version", strings(&rows, |r| r.version)));
    match q.format {
        Format::Table => {
            let names = Values::Utf8(StringArray::from_iter_values(rows.iter().map(|r| r.state.name())));
            frame = frame
                .with_meta(round_meta(TABLE, round))
                .with_field(rtt)
                .with_field(up)
                .with_field(Field::new("state", names));
        }
        _ => {
            let value = match q.metric {
                "up" => up,
                "state" => state_field(rows.iter().map(|r| r.state)),
                _ => rtt,
            };
            frame = frame.with_meta(round_meta(NUMERIC_LONG, round)).with_field(value);
        }
    }
    budget.note(&mut frame, NARROW_BY_FILTERS);
    frame
}

/// The numeric `state` field, with the value mappings of every state.
pub(crate) fn state_field(states: impl Iterator<Item = State>) -> Field {
    Field::new("state", Values::Float64(states.map(|s| f64::from(s.code())).collect())).with_config(state_config())
}

/// `services`: one row per service: instances answering, instances down, versions seen.
pub fn services(q: &Query, round: &Round) -> Frame {
    #[derive(Default)]
    struct Svc {
        up: u64,
        down: u64,
        versions: BTreeSet<String>,
    }
    let mut by: BTreeMap<&str, Svc> = BTreeMap::new();
    for r in &round.replies {
        let s = by.entry(&r.reply.name).or_default();
        s.up += 1;
        s.versions.insert(r.reply.version.clone());
    }
    for k in &round.down {
        by.entry(&k.name).or_default().down += 1;
    }
    let names = Values::String(by.keys().map(|s| s.to_string()).collect());
    let instances = Field::new("instances", Values::Float64(by.values().map(|s| s.up as f64).collect()))
        .with_config(FieldConfig::unit("short"));
    let down = Field::new("down", Values::Float64(by.values().map(|s| s.down as f64).collect()))
        .with_config(FieldConfig::unit("short"));
    let versions_n = Field::new(
        "versions",
        Values::Float64(by.values().map(|s| s.versions.len() as f64).collect()),
    )
    .with_config(FieldConfig::unit("short"));
    let frame = Frame::new("services", &q.ref_id).with_field(Field::new("service", names));
    match q.format {
        Format::Table => frame
            .with_meta(round_meta(TABLE, round))
            .with_field(instances)
            .with_field(down)
            .with_field(Field::new(
                "versions",
                Values::String(
                    by.values()
                        .map(|s| s.versions.iter().cloned().collect::<Vec<_>>().join(", "))
                        .collect(),
                ),
            )),
        _ => frame
            .with_meta(round_meta(NUMERIC_LONG, round))
            .with_field(match q.metric {
                "down" => down,
                "versions" => versions_n,
                _ => instances,
            }),
    }
}

fn metadata_json(m: &crate::model::micro::Metadata) -> String {
    let object: serde_json::Map<String, Value> = m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    Value::Object(object).to_string()
}

/// `info`: one row per instance and endpoint (an instance without endpoints gets one row). An
/// instance's description and metadata are on its first row only (they would otherwise be
/// copied onto every endpoint row); rows stop at the answer budget.
pub fn info(q: &Query, round: &Round) -> Frame {
    // Reserved `_nats.` metadata (ADR-33: the client library and version that made the service)
    // as columns of their own, one per key seen (at most 8).
    let reserved: BTreeSet<&str> = round
        .replies
        .iter()
        .flat_map(|r| r.reply.metadata.iter().map(|(k, _)| k.as_str()))
        .filter(|k| k.starts_with("_nats."))
        .take(8)
        .collect();
    let mut cols: [Vec<String>; 9] = Default::default();
    let mut instances: Vec<&ServiceReply> = Vec::new();
    let mut budget = Budget::new(cols.len() + reserved.len());
    for r in &round.replies {
        let i = &r.reply;
        let endpoints: Vec<_> = i
            .endpoints
            .iter()
            .filter(|e| q.endpoint.as_deref().is_none_or(|want| want == e.name))
            .collect();
        if endpoints.is_empty() && q.endpoint.is_some() {
            continue;
        }
        let rows: Vec<Option<&Endpoint>> = if endpoints.is_empty() {
            vec![None]
        } else {
            endpoints.into_iter().map(Some).collect()
        };
        for (n, ep) in rows.into_iter().enumerate() {
            let first = n == 0;
            let row = [
                i.name.clone(),
                i.id.clone(),
                i.version.clone(),
                if first { i.description.clone() } else { String::new() },
                if first {
                    metadata_json(&i.metadata)
                } else {
                    String::new()
                },
                ep.map(|e| e.name.clone()).unwrap_or_default(),
                ep.map(|e| e.subject.clone()).unwrap_or_default(),
                ep.map(|e| e.queue_group.clone()).unwrap_or_default(),
                ep.map(|e| metadata_json(&e.metadata)).unwrap_or_default(),
            ];
            if !budget.admit(row.iter().map(String::len).sum()) {
                continue;
            }
            for (c, v) in cols.iter_mut().zip(row) {
                c.push(v);
            }
            instances.push(i);
        }
    }
    let names = [
        "service",
        "id",
        "version",
        "description",
        "metadata",
        "endpoint",
        "subject",
        "queue_group",
        "endpoint_metadata",
    ];
    let mut frame = Frame::new("info", &q.ref_id).with_meta(round_meta(TABLE, round));
    for (name, col) in names.into_iter().zip(cols) {
        frame = frame.with_field(Field::new(name, Values::String(col)));
    }
    for key in reserved {
        let values = instances
            .iter()
            .map(|i| {
                crate::model::micro::meta(&i.metadata, key)
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        frame = frame.with_field(Field::new(key, Values::String(values)));
    }
    budget.note(&mut frame, NARROW_BY_FILTERS);
    frame
}

/// `stats`: one row per instance and endpoint.
pub fn stats(q: &Query, round: &Round) -> Frame {
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

mod request;
pub use request::request;

#[cfg(test)]
pub(crate) mod tests;
