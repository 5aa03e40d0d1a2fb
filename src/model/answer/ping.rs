//! `ping`: every instance that answered, with its round-trip time, and those known and silent: the instant and table frames of one round, the aggregated instant frame, the time series of the history, and `rtt_p95` (the 95th percentile of each instance's sampled round-trip times over the range, an instant frame: what a latency alert needs, since Grafana's Reduce expression has no percentile).

use std::collections::BTreeMap;

use arrow_array::StringArray;
use serde_json::json;

use super::meta::{ms, round_meta, state_field, up_config, Budget, NARROW_BY_FILTERS};
use super::series::{frames, history_notices, labels, shown, Agg, Extra, Raw, Series, Source};
use super::{Inputs, Unplanned};
use crate::model::aggregate::{self, Group, Part};
use crate::model::frames::{Field, FieldConfig, Frame, FrameMeta, Values, NUMERIC_LONG, TABLE};
use crate::model::history::PingSample;
use crate::model::observed::Round;
use crate::model::query::{Aggregate, Format, Query, Window, RTT_P95};
use crate::model::state::{state_config, State};

/// `ping`: one row per instance (answering or down) with its round-trip time, up and liveness state.
pub fn instant(q: &Query, round: &Round) -> Frame {
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

/// Aggregated `ping`, instant: one row per service (`state`: `max` is the worst instance).
pub fn aggregated(q: &Query, round: &Round) -> Frame {
    let mut groups: BTreeMap<&str, Group> = BTreeMap::new();
    for r in &round.replies {
        let value = match q.metric {
            "up" => 1.0,
            "state" => f64::from(State::answered(ms(r.rtt), round.slow_ms).code()),
            _ => ms(r.rtt),
        };
        groups.entry(&r.reply.name).or_default().add(Part::plain(Some(value)));
    }
    for k in &round.down {
        let g = groups.entry(&k.name).or_default();
        match q.metric {
            "up" => g.add(Part::plain(Some(0.0))),
            "state" => g.add(Part::plain(Some(f64::from(State::silent(k.silence).code())))),
            _ => {}
        }
    }
    let own = match q.metric {
        "up" => up_config(),
        "state" => state_config(),
        _ => FieldConfig::unit("ms"),
    };
    Frame::new("ping", &q.ref_id)
        .with_meta(round_meta(NUMERIC_LONG, round))
        .with_field(Field::new(
            "service",
            Values::String(groups.keys().map(|s| s.to_string()).collect()),
        ))
        .with_field(
            Field::new(
                q.metric,
                Values::NullableFloat64(groups.values().map(|g| g.value(q.aggregate, q.metric)).collect()),
            )
            .with_config(aggregate::config(q.aggregate, own)),
        )
}

/// `ping` as time series: one series per instance (`state`: the worst state of each step).
pub fn timeseries<S: AsRef<str>>(q: &Query, w: &Window, src: &Source<'_>, fresh: &[PingSample<S>]) -> Vec<Frame> {
    let point = |t: i64, rtt: Option<f64>, state: State| match q.metric {
        "up" => Raw::value(t, Some(if rtt.is_some() { 1.0 } else { 0.0 })),
        "state" => Raw::value(t, Some(f64::from(state.code()))),
        _ => Raw::value(t, rtt),
    };
    let mut by: BTreeMap<(&str, &str), Vec<Raw>> = BTreeMap::new();
    if let Some(h) = src.history {
        for i in h.instances().filter(|i| q.scope.contains(i.service, i.id)) {
            let raw: Vec<Raw> = i
                .pings
                .iter()
                .filter(|p| w.contains(p.t) && p.t < src.now_ms)
                .map(|p| point(p.t, p.rtt().map(f64::from), p.state()))
                .collect();
            if !raw.is_empty() {
                by.insert((i.service, i.id), raw);
            }
        }
    }
    if src.fresh {
        for s in fresh
            .iter()
            .filter(|s| q.scope.contains(s.service.as_ref(), s.id.as_ref()))
        {
            by.entry((s.service.as_ref(), s.id.as_ref()))
                .or_default()
                .push(point(src.now_ms, s.rtt_ms, s.state));
        }
    }
    // One series per instance: labels only for the series the answer can show.
    let shown = shown(q);
    let hidden = by.len().saturating_sub(shown);
    let series = by
        .into_iter()
        .take(shown)
        .map(|((service, id), raw)| Series {
            labels: labels(&[("service", service), ("id", id)]),
            raw,
        })
        .collect();
    let extra = Extra {
        hidden,
        ..Extra::default()
    };
    match q.metric {
        "up" => frames(q, src, w, series, Agg::Min, up_config(), extra),
        "state" => frames(q, src, w, series, Agg::Max, state_config(), extra),
        _ => frames(q, src, w, series, Agg::Ratio, FieldConfig::unit("ms"), extra),
    }
}

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

/// The answer of a `ping` query from what its plan fetched.
pub(super) fn answer<S: AsRef<str>>(q: &Query, inputs: Inputs<'_, S>) -> Result<Vec<Frame>, Unplanned> {
    Ok(match inputs {
        Inputs::Round(r) if q.aggregate != Aggregate::None => vec![aggregated(q, r)],
        Inputs::Round(r) => vec![instant(q, r)],
        Inputs::History(h) if q.metric == RTT_P95 => vec![rtt_p95(q, &h.window, &h.src, h.pings)],
        Inputs::History(h) => timeseries(q, &h.window, &h.src, h.pings),
        other => return Err(Unplanned::new(q, &other)),
    })
}
