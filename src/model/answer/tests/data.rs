//! Unit tests of the custom STATS `data` frames: one leaf per endpoint as an instant value, every leaf in the table, bounds and notices.
//!
//! Test code only: the parent module includes it as `mod data;`.
#![cfg(test)]

use super::round;
use crate::model::answer::stats::data_instant as stats;
use crate::model::frames::Values;
use crate::model::micro::Verb;
use crate::model::query::Query;

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
        notices.iter().any(
            |n| n.text.contains("1 endpoint has more than 32 numeric data leaves") && n.text.contains("orders/get")
        ),
        "{notices:?}"
    );
}
