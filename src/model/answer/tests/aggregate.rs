//! Unit tests of the aggregated instant frames of `ping` and `stats`: one row per service (and endpoint), pooled ratios, counts, the unqueued-endpoint notice.
//!
//! Test code only: the parent module includes it as `mod aggregate;`.
#![cfg(test)]

use chrono::Utc;

use super::round;
use crate::model::answer::ping::aggregated as ping;
use crate::model::answer::stats::aggregated as stats;
use crate::model::frames::{Frame, Values};
use crate::model::micro::Verb;
use crate::model::observed::KnownInstance;
use crate::model::query::Query;

fn q(json: &str) -> Query {
    Query::parse("A", "", json.as_bytes()).unwrap()
}

fn values(f: &Frame) -> Vec<Option<f64>> {
    match &f.fields.last().unwrap().values {
        Values::NullableFloat64(v) => v.clone(),
        other => panic!("{other:?}"),
    }
}

fn ping_body(name: &str, id: &str) -> String {
    format!(r#"{{"type":"io.nats.micro.v1.ping_response","name":"{name}","id":"{id}","version":"1.0.0"}}"#)
}

#[test]
fn instant_ping_one_row_per_service_with_down_instances_counted_as_known() {
    // rtt: orders b 0.5 ms, billing a 1 ms, orders c 1.5 ms; orders d known and down.
    let bodies = [
        ping_body("orders", "b"),
        ping_body("billing", "a"),
        ping_body("orders", "c"),
    ];
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let down = vec![KnownInstance {
        name: "orders".into(),
        id: "d".into(),
        version: "1.0.0".into(),
        last_seen: Utc::now(),
        alive: false,
        silence: None,
    }];
    let r = round(Verb::Ping, &bodies, down);
    let f = ping(&q(r#"{"queryType":"ping","aggregate":"avg"}"#), &r);
    let names: Vec<_> = f.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["service", "rtt"], "no instance id remains");
    assert_eq!(
        f.fields[0].values,
        Values::String(vec!["billing".into(), "orders".into()])
    );
    assert_eq!(values(&f), [Some(1.0), Some(1.0)]);
    assert_eq!(
        values(&ping(&q(r#"{"queryType":"ping","aggregate":"count"}"#), &r)),
        [Some(1.0), Some(2.0)]
    );
    let up = ping(&q(r#"{"queryType":"ping","metric":"up","aggregate":"sum"}"#), &r);
    assert_eq!(values(&up), [Some(1.0), Some(2.0)]);
    let known = ping(&q(r#"{"queryType":"ping","metric":"up","aggregate":"count"}"#), &r);
    assert_eq!(values(&known), [Some(1.0), Some(3.0)]);
    assert_eq!(known.fields[1].config.as_ref().unwrap().unit.as_deref(), Some("short"));
    f.to_arrow().unwrap();
}

fn stats_body(id: &str, requests: u64, errors: u64, queue: &str) -> String {
    format!(
        r#"{{"type":"io.nats.micro.v1.stats_response","name":"orders","id":"{id}","version":"1",
        "started":"2026-01-02T03:04:05Z","endpoints":[{{"name":"get","subject":"o.get","queue_group":"{queue}",
        "num_requests":{requests},"num_errors":{errors},"processing_time":{p},"average_processing_time":2000000}}]}}"#,
        p = requests * 2_000_000
    )
}

#[test]
fn instant_stats_pool_ratios_add_counters_and_warn_of_sums_without_a_queue_group() {
    let bodies = [stats_body("a", 100, 50, "q"), stats_body("b", 1, 0, "q")];
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let r = round(Verb::Stats, &bodies, vec![]);
    let run = |json: &str| stats(&q(json), &r);
    let sum = run(r#"{"queryType":"stats","aggregate":"sum"}"#);
    let names: Vec<_> = sum.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["service", "endpoint", "requests"]);
    assert_eq!(values(&sum), [Some(101.0)]);
    let queue_warning = |f: &Frame| {
        f.meta
            .as_ref()
            .unwrap()
            .notices
            .iter()
            .any(|n| n.text.starts_with("no queue group on orders/get"))
    };
    assert!(!queue_warning(&sum), "every endpoint has a queue group");
    let ratio = run(r#"{"queryType":"stats","metric":"error_ratio","aggregate":"avg"}"#);
    assert_eq!(values(&ratio), [Some(50.0 / 101.0)]);
    let worst = run(r#"{"queryType":"stats","metric":"error_ratio","aggregate":"max"}"#);
    assert_eq!(values(&worst), [Some(0.5)]);
    let apt = run(r#"{"queryType":"stats","metric":"average_processing_time","aggregate":"sum"}"#);
    assert_eq!(
        values(&apt),
        [Some(2.0)],
        "pooled: total time over total requests, in ms"
    );

    let bodies = [stats_body("a", 3, 0, ""), stats_body("b", 4, 0, "q")];
    let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
    let r = round(Verb::Stats, &bodies, vec![]);
    let f = stats(&q(r#"{"queryType":"stats","aggregate":"sum"}"#), &r);
    assert!(queue_warning(&f), "{:?}", f.meta);
    let avg = stats(&q(r#"{"queryType":"stats","aggregate":"avg"}"#), &r);
    assert!(!queue_warning(&avg), "only sums over-count");
}
