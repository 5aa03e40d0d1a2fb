//! `services`: one row or series per service name: instances answering, instances down, versions seen; from one round (instant, table) or from the history (time series).

use std::collections::{BTreeMap, BTreeSet};

use super::meta::round_meta;
use super::series::{frames, labels, rounds_per_service, Agg, At, Extra, Raw, Series, Source};
use super::{Inputs, Unplanned};
use crate::model::frames::{Field, FieldConfig, Frame, Values, NUMERIC_LONG, TABLE};
use crate::model::history::PingSample;
use crate::model::observed::Round;
use crate::model::query::{Format, Query, Window};

/// `services`: one row per service: instances answering, instances down, versions seen.
pub fn instant(q: &Query, round: &Round) -> Frame {
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

/// `services` as time series: one series per service.
pub fn timeseries<S: AsRef<str>>(q: &Query, w: &Window, src: &Source<'_>, fresh: &[PingSample<S>]) -> Vec<Frame> {
    let by = rounds_per_service(q, w.from_ms, w, src, fresh);
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
    frames(q, src, w, series, agg, FieldConfig::unit("short"), Extra::default())
}

/// The answer of a `services` query from what its plan fetched.
pub(super) fn answer<S: AsRef<str>>(q: &Query, inputs: Inputs<'_, S>) -> Result<Vec<Frame>, Unplanned> {
    Ok(match inputs {
        Inputs::Round(r) => vec![instant(q, r)],
        Inputs::History(h) => timeseries(q, &h.window, &h.src, h.pings),
        other => return Err(Unplanned::new(q, &other)),
    })
}
