//! Frames of custom STATS `data`: `data:<path>` as an instant value per instance and endpoint, and the table of every leaf (`metric: "data"`), with notices when an endpoint's leaves pass the bounds.

use std::collections::BTreeSet;

use crate::model::budget::{Budget, NARROW_BY_FILTERS};
use crate::model::frames::{Field, FieldConfig, Frame, Notice, Severity, Values, NUMERIC_LONG, TABLE};
use crate::model::leaves::{self, LeafValue, MAX_DATA_LEAVES, MAX_TABLE_LEAVES};
use crate::model::micro::Endpoint;
use crate::model::observed::Round;
use crate::model::query::{Format, Query};
use crate::model::shapes::{endpoints, round_meta};

/// The value of the query's `data:<path>` leaf on one endpoint.
pub fn value(q: &Query, e: &Endpoint) -> Option<f64> {
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
pub fn stats(q: &Query, round: &Round) -> Frame {
    if q.format == Format::Table {
        return table(q, round);
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
        values.push(value(q, e));
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
fn table(q: &Query, round: &Round) -> Frame {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::micro::Verb;
    use crate::model::shapes::tests::round;

    const STATS: &str = r#"{"type":"io.nats.micro.v1.stats_response","name":"orders","id":"a","version":"1","started":"2026-01-01T00:00:00Z",
        "endpoints":[{"name":"get","subject":"orders.get","num_requests":3,"data":{"queue":{"depth":4,"name":"q"},"jobs_total":9}},
                     {"name":"put","subject":"orders.put","num_requests":1}]}"#;

    fn q(json: &str) -> Query {
        Query::parse("A", "", json.as_bytes()).unwrap()
    }

    #[test]
    fn one_leaf_per_endpoint_and_every_leaf_in_the_table() {
        let r = round(Verb::Stats, &[STATS], Vec::new());
        let f = stats(&q(r#"{"queryType":"stats","metric":"data:queue.depth"}"#), &r);
        assert_eq!(f.fields[4].name, "data:queue.depth");
        assert_eq!(f.fields[4].values, Values::NullableFloat64(vec![Some(4.0), None]));
        let t = stats(&q(r#"{"queryType":"stats","format":"table","metric":"data"}"#), &r);
        let names: Vec<_> = t.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            ["service", "id", "version", "endpoint", "path", "value", "text", "counter"]
        );
        assert_eq!(
            t.fields[4].values,
            Values::String(vec!["jobs_total".into(), "queue.depth".into(), "queue.name".into()])
        );
        assert_eq!(
            t.fields[5].values,
            Values::NullableFloat64(vec![Some(9.0), Some(4.0), None])
        );
        assert_eq!(
            t.fields[6].values,
            Values::NullableString(vec![None, None, Some("q".into())])
        );
        let under = stats(
            &q(r#"{"queryType":"stats","format":"table","metric":"data:queue"}"#),
            &r,
        );
        assert_eq!(
            under.fields[4].values,
            Values::String(vec!["queue.depth".into(), "queue.name".into()])
        );
        f.to_arrow().unwrap();
        t.to_arrow().unwrap();
    }

    #[test]
    fn an_endpoint_over_the_leaf_bound_is_named_in_a_notice() {
        let data: String = (0..40)
            .map(|k| format!(r#""k{k:02}":{k}"#))
            .collect::<Vec<_>>()
            .join(",");
        let body = format!(
            r#"{{"type":"io.nats.micro.v1.stats_response","name":"orders","id":"a","endpoints":[{{"name":"get","subject":"g","data":{{{data}}}}}]}}"#
        );
        let r = round(Verb::Stats, &[body.as_str()], Vec::new());
        let f = stats(&q(r#"{"queryType":"stats","metric":"data:k39"}"#), &r);
        assert_eq!(
            f.fields[4].values,
            Values::NullableFloat64(vec![Some(39.0)]),
            "instant reads any leaf"
        );
        let notices = &f.meta.as_ref().unwrap().notices;
        assert!(
            notices
                .iter()
                .any(|n| n.text.contains("1 endpoint has more than 32 numeric data leaves")
                    && n.text.contains("orders/get")),
            "{notices:?}"
        );
    }
}
