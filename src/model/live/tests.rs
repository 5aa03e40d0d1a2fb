//! Unit tests of the live frames: packets, the series cap, stats rates, the history seed and versions.
#![cfg(test)]

use std::time::Duration;

use super::*;
use crate::model::micro::{parse_reply, Scope, Verb};
use crate::model::observed::{KnownInstance, Reply, StopReason};
use crate::model::query::Format;

fn spec(query_type: QueryType, metric: &'static str) -> StreamSpec {
    StreamSpec {
        query_type,
        format: Format::Timeseries,
        metric,
        scope: Scope::all(),
        endpoint: None,
    }
}

fn key(service: &str, id: &str) -> SeriesKey {
    SeriesKey {
        service: service.into(),
        id: id.into(),
        endpoint: None,
    }
}

fn ping_round(ids: &[&str], down: &[&str]) -> Round {
    Round {
        verb: Verb::Ping,
        scope: Scope::all(),
        subject: "$SRV.PING".into(),
        started: Utc::now(),
        replies: ids
            .iter()
            .map(|id| Reply {
                reply: parse_reply(
                    Verb::Ping,
                    format!(r#"{{"type":"io.nats.micro.v1.ping_response","name":"orders","id":"{id}"}}"#).as_bytes(),
                )
                .unwrap(),
                rtt: Duration::from_micros(1500),
                received: Utc::now(),
            })
            .collect(),
        invalid: 0,
        oversized: 0,
        bytes: 0,
        limited: Default::default(),
        late_cut_short: false,
        stop: StopReason::Stall,
        elapsed: Duration::from_millis(100),
        last_reply: None,
        down: down
            .iter()
            .map(|id| KnownInstance {
                name: "orders".into(),
                id: (*id).into(),
                version: String::new(),
                last_seen: Utc::now(),
                alive: false,
                silence: None,
            })
            .collect(),
        slow_ms: 1000.0,
        targeted: 0,
        unasked: 0,
        held: Default::default(),
    }
}

#[test]
fn packets_keep_every_series_heard_and_mark_the_silent_ones() {
    let s = spec(QueryType::Ping, "rtt");
    let mut t = Tracker::default();
    let at = Utc::now();
    let p1 = t.packet(
        &s,
        at,
        &round_values(&s, &ping_round(&["a", "b"], &[]), &mut Counters::default(), at),
        Duration::from_secs(60),
        None,
    );
    let names: Vec<_> = p1.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["time", "orders/a", "orders/b"]);
    assert_eq!(p1.fields[1].values, Values::NullableFloat64(vec![Some(1.5)]));
    assert_eq!(p1.fields[1].labels, key("orders", "a").labels());
    assert_eq!(p1.fields[1].config.as_ref().unwrap().unit.as_deref(), Some("ms"));
    // b is down (registry), c is new; a went silent without being reported: still shown, null.
    let later = at + chrono::Duration::seconds(5);
    let p2 = t.packet(
        &s,
        later,
        &round_values(&s, &ping_round(&["c"], &["b"]), &mut Counters::default(), at),
        Duration::from_secs(60),
        None,
    );
    let names: Vec<_> = p2.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["time", "orders/a", "orders/b", "orders/c"]);
    let vals: Vec<_> = p2.fields[1..].iter().map(|f| f.values.clone()).collect();
    assert_eq!(
        vals,
        [
            Values::NullableFloat64(vec![None]),
            Values::NullableFloat64(vec![None]),
            Values::NullableFloat64(vec![Some(1.5)])
        ]
    );
    // An outage: every series null, a notice; `up` reports 0.
    let up = spec(QueryType::Ping, "up");
    let mut tu = Tracker::default();
    tu.packet(
        &up,
        at,
        &round_values(&up, &ping_round(&["a"], &[]), &mut Counters::default(), at),
        Duration::from_secs(60),
        None,
    );
    let out = tu.packet(
        &up,
        later,
        &BTreeMap::new(),
        Duration::from_secs(60),
        Some("down".into()),
    );
    assert_eq!(out.fields[1].values, Values::NullableFloat64(vec![Some(0.0)]));
    assert_eq!(out.meta.as_ref().unwrap().notices[0].text, "down");
    // Series not heard within the retention are dropped.
    let much_later = at + chrono::Duration::seconds(120);
    let p3 = t.packet(&s, much_later, &BTreeMap::new(), Duration::from_secs(60), None);
    assert_eq!(p3.fields.len(), 1);
}

#[test]
fn a_stream_shows_at_most_its_series_cap_and_says_how_many_it_left_out() {
    let s = spec(QueryType::Ping, "rtt");
    let at = Utc::now();
    let values: BTreeMap<SeriesKey, Heard> = (0..MAX_LIVE_SERIES + 3)
        .map(|i| {
            let heard = Heard {
                value: Some(1.0),
                version: String::new(),
            };
            (key("orders", &format!("i{i:06}")), heard)
        })
        .collect();
    let mut t = Tracker::default();
    let p = t.packet(&s, at, &values, Duration::from_secs(60), None);
    assert_eq!(p.fields.len(), MAX_LIVE_SERIES + 1);
    let notes: Vec<_> = p
        .meta
        .iter()
        .flat_map(|m| m.notices.iter().map(|n| n.text.clone()))
        .collect();
    assert!(
        notes.iter().any(|n| n.starts_with("3 series are not streamed")),
        "{notes:?}"
    );
    // Series heard before keep their place; the cap holds round after round.
    let p = t.packet(
        &s,
        at + chrono::Duration::seconds(1),
        &values,
        Duration::from_secs(60),
        None,
    );
    assert_eq!(p.fields.len(), MAX_LIVE_SERIES + 1);
}

#[test]
fn stats_series_are_per_endpoint() {
    let body = r#"{"type":"io.nats.micro.v1.stats_response","name":"orders","id":"x","version":"1",
        "endpoints":[{"name":"get","subject":"o.get","num_requests":4,"num_errors":1},
                     {"name":"put","subject":"o.put","num_requests":0,"num_errors":0}]}"#;
    let mut r = ping_round(&[], &[]);
    r.verb = Verb::Stats;
    r.replies.push(Reply {
        reply: parse_reply(Verb::Stats, body.as_bytes()).unwrap(),
        rtt: Duration::from_millis(1),
        received: Utc::now(),
    });
    let s = spec(QueryType::Stats, "error_ratio");
    let mut c = Counters::default();
    let t0 = Utc::now();
    // First sample: no interval yet.
    let v = round_values(&s, &r, &mut c, t0);
    assert_eq!(v.values().map(|h| h.value).collect::<Vec<_>>(), [None, None]);
    assert!(v.values().all(|h| h.version == "1"), "{v:?}");
    // 2 s later: get saw 4 more requests, 1 more error; put nothing.
    let later = |reqs: u64, errs: u64| {
        let mut r2 = r.clone();
        let ep = &mut r2.replies[0].reply.endpoints[0];
        ep.num_requests = reqs;
        ep.num_errors = errs;
        r2
    };
    let v = round_values(&s, &later(8, 2), &mut c, t0 + chrono::Duration::seconds(2));
    let got: Vec<_> = v.iter().map(|(k, h)| (k.name(), h.value)).collect();
    assert_eq!(
        got,
        [("orders/x/get".into(), Some(0.25)), ("orders/x/put".into(), None)]
    );
    let rate = spec(QueryType::Stats, "request_rate");
    let mut c = Counters::default();
    round_values(&rate, &r, &mut c, t0);
    let v = round_values(&rate, &later(8, 2), &mut c, t0 + chrono::Duration::seconds(2));
    assert_eq!(v.values().map(|h| h.value).collect::<Vec<_>>(), [Some(2.0), Some(0.0)]);
    // A restart (counters went down) starts a new segment: no negative rate.
    let v = round_values(&rate, &later(1, 0), &mut c, t0 + chrono::Duration::seconds(4));
    assert_eq!(v.values().next().map(|h| h.value), Some(None));
    let only = StreamSpec {
        endpoint: Some("put".into()),
        ..s
    };
    assert_eq!(round_values(&only, &r, &mut Counters::default(), t0).len(), 1);
}

#[test]
fn history_frames_join_on_time() {
    let s = spec(QueryType::Ping, "rtt");
    let multi = |id: &str, times: Vec<i64>, v: Vec<Option<f64>>| {
        Frame::new("ping", "A")
            .with_field(Field::new("time", Values::Time(times)))
            .with_field(Field::new("rtt", Values::NullableFloat64(v)).with_labels(key("orders", id).labels()))
    };
    let frames = [
        multi("b", vec![2, 3], vec![Some(2.0), None]),
        multi("a", vec![1, 2], vec![Some(1.0), Some(f64::NAN)]),
        Frame::new("odd", "A").with_field(Field::new("x", Values::String(vec!["y".into()]))),
    ];
    let h = history(&s, &frames, |_| None);
    assert_eq!(h.fields[0].values, Values::Time(vec![1, 2, 3]));
    assert_eq!(h.fields[1].name, "orders/a");
    assert_eq!(h.fields[1].values, Values::NullableFloat64(vec![Some(1.0), None, None]));
    assert_eq!(h.fields[2].values, Values::NullableFloat64(vec![None, Some(2.0), None]));
    let series: Vec<SeriesKey> = h
        .fields
        .iter()
        .filter_map(|f| SeriesKey::from_labels(&f.labels))
        .collect();
    assert_eq!(series, [key("orders", "a"), key("orders", "b")]);
    assert_eq!(history(&s, &[], |_| None).rows(), 0);
}

/// A round of `orders` instances `(id, version)` answering; `down` known but silent.
fn versioned_round(up: &[(&str, &str)], down: &[(&str, &str)]) -> Round {
    let mut r = ping_round(&[], &[]);
    for (id, version) in up {
        let body =
            format!(r#"{{"type":"io.nats.micro.v1.ping_response","name":"orders","id":"{id}","version":"{version}"}}"#);
        r.replies.push(Reply {
            reply: parse_reply(Verb::Ping, body.as_bytes()).unwrap(),
            rtt: Duration::from_micros(1500),
            received: Utc::now(),
        });
    }
    for (id, version) in down {
        r.down.push(KnownInstance {
            name: "orders".into(),
            id: (*id).into(),
            version: (*version).into(),
            last_seen: Utc::now(),
            alive: false,
            silence: None,
        });
    }
    r
}

fn versions(frame: &Frame) -> Vec<(String, Option<String>)> {
    frame.fields[1..]
        .iter()
        .map(|f| (f.name.clone(), f.labels.get("version").cloned()))
        .collect()
}

#[test]
fn live_fields_carry_the_version_of_their_instance_and_keep_their_name_through_an_upgrade() {
    let s = spec(QueryType::Ping, "rtt");
    let mut t = Tracker::default();
    let at = Utc::now();
    let retention = Duration::from_secs(60);
    let round = versioned_round(&[("a", "1.2.0"), ("b", "")], &[("c", "0.9.0")]);
    let p1 = t.packet(
        &s,
        at,
        &round_values(&s, &round, &mut Counters::default(), at),
        retention,
        None,
    );
    assert_eq!(
        versions(&p1),
        [
            ("orders/a".to_string(), Some("1.2.0".to_string())),
            ("orders/b".to_string(), None),
            ("orders/c".to_string(), Some("0.9.0".to_string())),
        ]
    );
    // The label sits beside the identity labels; the identity read back ignores it.
    assert_eq!(p1.fields[1].labels.get("service").map(String::as_str), Some("orders"));
    assert_eq!(SeriesKey::from_labels(&p1.fields[1].labels), Some(key("orders", "a")));
    // a is upgraded in place, b tells its version, c is not in this round at all: a keeps its
    // field name with the new label, c keeps the last version it was known by.
    let later = at + chrono::Duration::seconds(1);
    let round = versioned_round(&[("a", "1.3.0"), ("b", "2.0.0")], &[]);
    let p2 = t.packet(
        &s,
        later,
        &round_values(&s, &round, &mut Counters::default(), later),
        retention,
        None,
    );
    assert_eq!(
        versions(&p2),
        [
            ("orders/a".to_string(), Some("1.3.0".to_string())),
            ("orders/b".to_string(), Some("2.0.0".to_string())),
            ("orders/c".to_string(), Some("0.9.0".to_string())),
        ]
    );
    assert_eq!(p2.fields[3].values, Values::NullableFloat64(vec![None]));
    // A reply without a version does not erase the one known.
    let round = versioned_round(&[("a", "")], &[]);
    let at3 = later + chrono::Duration::seconds(1);
    let p3 = t.packet(
        &s,
        at3,
        &round_values(&s, &round, &mut Counters::default(), at3),
        retention,
        None,
    );
    assert_eq!(versions(&p3)[0], ("orders/a".to_string(), Some("1.3.0".to_string())));
}

#[test]
fn the_history_seed_labels_each_series_with_the_version_known_for_it() {
    let s = spec(QueryType::Ping, "rtt");
    let multi = |id: &str| {
        Frame::new("ping", "A")
            .with_field(Field::new("time", Values::Time(vec![1])))
            .with_field(
                Field::new("rtt", Values::NullableFloat64(vec![Some(1.0)])).with_labels(key("orders", id).labels()),
            )
    };
    let h = history(&s, &[multi("a"), multi("b")], |k| {
        (k.id == "a").then(|| "1.2.0".to_string())
    });
    assert_eq!(
        versions(&h),
        [
            ("orders/a".to_string(), Some("1.2.0".to_string())),
            ("orders/b".to_string(), None),
        ]
    );
}
