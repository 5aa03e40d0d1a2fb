//! Unit tests of the answers: the instant and table frames here, the others by subject in the files beside this one; and the round builder the model's tests share.
//!
//! Test code only: the parent module includes it as `#[cfg(test)] mod tests;`.
#![cfg(test)]

mod aggregate;
mod data;
mod percentile;
mod probe;
mod series;

use std::time::Duration;

use chrono::Utc;

use super::ping::instant as ping;
use super::request::table as request;
use super::services::instant as services;
use super::stats::instant as stats;
use crate::model::frames::{Field, Values, NUMERIC_LONG};
use crate::model::micro::{parse_reply, Scope, Verb};
use crate::model::observed::RequestReply;
use crate::model::observed::{KnownInstance, Reply as RoundReply};
use crate::model::observed::{Round, StopReason};
use crate::model::query::Query;
use crate::model::state::Silence;

/// A round of these reply bodies (rtt 0.5 ms, 1 ms, …) and known instances down.
pub(crate) fn round(verb: Verb, bodies: &[&str], down: Vec<KnownInstance>) -> Round {
    Round {
        verb,
        scope: Scope::all(),
        subject: format!("$SRV.{}", verb.token()),
        started: Utc::now(),
        replies: bodies
            .iter()
            .enumerate()
            .map(|(i, b)| RoundReply {
                reply: parse_reply(verb, b.as_bytes()).unwrap(),
                rtt: Duration::from_micros(500 * (i as u64 + 1)),
                received: Utc::now(),
            })
            .collect(),
        invalid: 2,
        oversized: 0,
        bytes: 0,
        limited: Default::default(),
        late_cut_short: false,
        stop: StopReason::Stall,
        elapsed: Duration::from_millis(101),
        last_reply: Some(Duration::from_millis(1)),
        down,
        slow_ms: 1000.0,
        targeted: 0,
        unasked: 0,
        held: Default::default(),
    }
}

fn q(json: &str) -> Query {
    Query::parse("A", "", json.as_bytes()).unwrap()
}

fn strings(f: &Field) -> Vec<String> {
    match &f.values {
        Values::String(v) => v.clone(),
        Values::Utf8(v) => v.iter().map(|s| s.unwrap_or_default().to_string()).collect(),
        other => panic!("not strings: {other:?}"),
    }
}

const PING_A: &str = r#"{"type":"io.nats.micro.v1.ping_response","name":"orders","id":"b","version":"1.0.0"}"#;
const PING_B: &str = r#"{"type":"io.nats.micro.v1.ping_response","name":"billing","id":"a","version":"2.0.0"}"#;

#[test]
fn ping_state_is_slow_over_slow_ms_and_a_silence_says_why() {
    let silent = |id: &str, silence| KnownInstance {
        name: "orders".into(),
        id: id.into(),
        version: String::new(),
        last_seen: Utc::now(),
        alive: false,
        silence,
    };
    let mut r = round(
        Verb::Ping,
        &[PING_A, PING_B],
        vec![silent("c", Some(Silence::Gone)), silent("d", None)],
    );
    r.slow_ms = 0.7;
    r.unasked = 1;
    // billing/a answered in 1 ms (slow), orders/b in 0.5 ms, orders/c gone, orders/d not asked.
    let f = ping(&q(r#"{"queryType":"ping","metric":"state"}"#), &r);
    assert_eq!(f.fields[3].name, "state");
    assert_eq!(f.fields[3].values, Values::Float64(vec![1.0, 0.0, 3.0, 2.0]));
    assert!(f.fields[3].config.as_ref().unwrap().mappings.is_some());
    let t = ping(&q(r#"{"queryType":"ping","format":"table"}"#), &r);
    let names: Vec<_> = t.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["service", "id", "version", "rtt", "up", "state"]);
    assert_eq!(strings(&t.fields[5]), ["slow", "up", "gone", "unresponsive"]);
    let notices = &f.meta.as_ref().unwrap().notices;
    assert!(
        notices
            .iter()
            .any(|n| n.text.starts_with("1 silent instance was not asked")),
        "{notices:?}"
    );
    f.to_arrow().unwrap();
}

#[test]
fn ping_instant_has_one_value_field_and_reports_down() {
    let down = vec![KnownInstance {
        name: "orders".into(),
        id: "a".into(),
        version: "0.9.0".into(),
        last_seen: Utc::now(),
        alive: false,
        silence: None,
    }];
    let r = round(Verb::Ping, &[PING_A, PING_B], down);
    let f = ping(&q(r#"{"queryType":"ping"}"#), &r);
    assert_eq!(f.meta.as_ref().unwrap().kind, Some(NUMERIC_LONG));
    let names: Vec<_> = f.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["service", "id", "version", "rtt"]);
    assert_eq!(strings(&f.fields[0]), ["billing", "orders", "orders"]);
    assert_eq!(strings(&f.fields[1]), ["a", "a", "b"]);
    assert_eq!(
        f.fields[3].values,
        Values::NullableFloat64(vec![Some(1.0), None, Some(0.5)])
    );
    assert_eq!(f.fields[3].config.as_ref().unwrap().unit.as_deref(), Some("ms"));
    let up = ping(&q(r#"{"queryType":"ping","metric":"up"}"#), &r);
    assert_eq!(up.fields[3].values, Values::Float64(vec![1.0, 0.0, 1.0]));
    let notices = &f.meta.as_ref().unwrap().notices;
    assert!(
        notices[0].text.starts_with("2 invalid replies were skipped"),
        "{notices:?}"
    );
    f.to_arrow().unwrap();
}

#[test]
fn services_count_instances_and_versions() {
    let r = round(
        Verb::Ping,
        &[
            PING_A,
            PING_B,
            &PING_A.replace("\"b\"", "\"c\"").replace("1.0.0", "1.1.0"),
        ],
        vec![],
    );
    let f = services(&q(r#"{"queryType":"services","format":"table"}"#), &r);
    assert_eq!(strings(&f.fields[0]), ["billing", "orders"]);
    assert_eq!(f.fields[1].values, Values::Float64(vec![1.0, 2.0]));
    assert_eq!(strings(&f.fields[3]), ["2.0.0", "1.0.0, 1.1.0"]);
    let n = services(&q(r#"{"queryType":"services","metric":"versions"}"#), &r);
    assert_eq!(n.fields.len(), 2);
    assert_eq!(n.fields[1].values, Values::Float64(vec![1.0, 2.0]));
}

#[test]
fn stats_rows_per_endpoint_with_units() {
    let body = r#"{"type":"io.nats.micro.v1.stats_response","name":"orders","id":"x","version":"1",
        "started":"2026-01-02T03:04:05.123456789Z",
        "endpoints":[{"name":"b","subject":"o.b","num_requests":4,"num_errors":1,"processing_time":8000000,"average_processing_time":2000000},
                     {"name":"a","subject":"o.a","num_requests":0,"num_errors":0,"processing_time":0,"average_processing_time":0.5}]}"#;
    let r = round(Verb::Stats, &[body], vec![]);
    let t = stats(&q(r#"{"queryType":"stats","format":"table"}"#), &r);
    assert_eq!(strings(&t.fields[3]), ["a", "b"]);
    let by_name = |n: &str| t.fields.iter().find(|f| f.name == n).unwrap().values.clone();
    assert_eq!(by_name("requests"), Values::Float64(vec![0.0, 4.0]));
    assert_eq!(by_name("error_ratio"), Values::Float64(vec![0.0, 0.25]));
    assert_eq!(by_name("processing_time"), Values::Float64(vec![0.0, 8.0]));
    assert_eq!(
        by_name("average_processing_time"),
        Values::Float64(vec![0.0000005, 2.0])
    );
    assert_eq!(
        by_name("started"),
        Values::NullableTime(vec![Some(1_767_323_045_123_456_789); 2])
    );
    let one = stats(&q(r#"{"queryType":"stats","endpoint":"b","metric":"errors"}"#), &r);
    assert_eq!(one.fields.len(), 5);
    assert_eq!(one.fields[4].values, Values::Float64(vec![1.0]));
}

#[test]
fn request_json_becomes_columns() {
    let reply = |body: &str| RequestReply {
        payload: bytes::Bytes::from(body.to_string()),
        headers: vec![],
        rtt: Duration::from_millis(1),
    };
    let qr = q(r#"{"queryType":"request","subject":"a.b"}"#);
    let f = request(&qr, &reply(r#"[{"n":1,"ok":true,"s":"x"},{"n":2.5,"o":{"k":1}}]"#));
    let names: Vec<_> = f.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["n", "ok", "s", "o"]);
    assert_eq!(f.fields[0].values, Values::NullableFloat64(vec![Some(1.0), Some(2.5)]));
    assert_eq!(f.fields[1].values, Values::NullableBool(vec![Some(true), None]));
    assert_eq!(
        f.fields[3].values,
        Values::NullableString(vec![None, Some(r#"{"k":1}"#.into())])
    );
    let plain = request(&qr, &reply("hello"));
    assert_eq!(plain.fields[0].values, Values::String(vec!["hello".into()]));
}
