//! `info`: instances and their endpoints from one INFO round, as a table; an instance's description and metadata appear once per instance.

use std::collections::BTreeSet;

use serde_json::Value;

use super::meta::{round_meta, Budget, NARROW_BY_FILTERS};
use super::{Inputs, Unplanned};
use crate::model::frames::{Field, Frame, Values, TABLE};
use crate::model::micro::{Endpoint, ServiceReply};
use crate::model::observed::Round;
use crate::model::query::Query;

fn metadata_json(m: &crate::model::micro::Metadata) -> String {
    let object: serde_json::Map<String, Value> = m.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    Value::Object(object).to_string()
}

/// `info`: one row per instance and endpoint (an instance without endpoints gets one row). An
/// instance's description and metadata are on its first row only (they would otherwise be
/// copied onto every endpoint row); rows stop at the answer budget.
pub fn table(q: &Query, round: &Round) -> Frame {
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

/// The answer of an `info` query from what its plan fetched.
pub(super) fn answer<S: AsRef<str>>(q: &Query, inputs: Inputs<'_, S>) -> Result<Vec<Frame>, Unplanned> {
    match inputs {
        Inputs::Round(r) => Ok(vec![table(q, r)]),
        other => Err(Unplanned::new(q, &other)),
    }
}
