//! `probe`: results of the data source's probes (by name; none = all): the instant and table frames of one run, and the time series of the sampled runs.

use std::collections::BTreeMap;

use super::meta::{state_field, up_config};
use super::series::{frames, labels, Agg, Extra, Raw, Series, Source};
use super::{Inputs, Unplanned};
use crate::model::frames::{Field, FieldConfig, Frame, FrameMeta, Values, NUMERIC_LONG, TABLE};
use crate::model::probe::ProbeResult;
use crate::model::query::{Format, Query, Window};
use crate::model::state::state_config;

/// The results the query asks for (its `probe`, or all).
pub fn selected<'a>(q: &'a Query, results: &'a [ProbeResult]) -> impl Iterator<Item = &'a ProbeResult> {
    results
        .iter()
        .filter(move |r| q.probe.as_deref().is_none_or(|p| p == r.name))
}

/// Field config of a probe metric.
pub fn metric_config(metric: &str) -> FieldConfig {
    match metric {
        "success" => up_config(),
        "state" => state_config(),
        _ => FieldConfig::unit("ms"),
    }
}

/// `probe`, instant or table, from one run of the probes.
pub fn instant(q: &Query, results: &[ProbeResult]) -> Frame {
    let rows: Vec<&ProbeResult> = selected(q, results).collect();
    let strings = |f: fn(&ProbeResult) -> String| Values::String(rows.iter().map(|r| f(r)).collect());
    let latency = Field::new(
        "latency",
        Values::NullableFloat64(rows.iter().map(|r| r.latency_ms).collect()),
    )
    .with_config(FieldConfig::unit("ms"));
    let success = Field::new(
        "success",
        Values::Float64(rows.iter().map(|r| f64::from(u8::from(r.success))).collect()),
    )
    .with_config(up_config());
    let frame = Frame::new("probe", &q.ref_id)
        .with_field(Field::new("probe", strings(|r| r.name.clone())))
        .with_field(Field::new("subject", strings(|r| r.subject.clone())));
    if q.format == Format::Table {
        return frame
            .with_meta(FrameMeta::typed(TABLE))
            .with_field(latency)
            .with_field(success)
            .with_field(Field::new("state", strings(|r| r.state.name().to_string())))
            .with_field(Field::new(
                "code",
                Values::NullableFloat64(rows.iter().map(|r| r.code.map(f64::from)).collect()),
            ))
            .with_field(Field::new("detail", strings(|r| r.detail.clone())));
    }
    let value = match q.metric {
        "success" => success,
        "state" => state_field(rows.iter().map(|r| r.state)),
        _ => latency,
    };
    frame.with_meta(FrameMeta::typed(NUMERIC_LONG)).with_field(value)
}

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

/// The answer of a `probe` query from what its plan fetched.
pub(super) fn answer<S: AsRef<str>>(q: &Query, inputs: Inputs<'_, S>) -> Result<Vec<Frame>, Unplanned> {
    Ok(match inputs {
        Inputs::Probes(results) => vec![instant(q, results)],
        Inputs::History(h) => timeseries(q, &h.window, &h.src, h.probes),
        other => return Err(Unplanned::new(q, &other)),
    })
}
