//! Unit tests of the timeseries and events frames: gaps, downsampling, rates across restarts, notices.
//!
//! Test code only: the parent module includes it as `mod series;`.
#![cfg(test)]

use crate::model::answer::events::table as events;
use crate::model::answer::ping::timeseries as ping;
use crate::model::answer::series::{labels, Source};
use crate::model::answer::services::timeseries as services;
use crate::model::answer::stats::timeseries as stats;
use crate::model::frames::{Frame, Values, TABLE, TIMESERIES_MULTI};
use crate::model::history::{EndpointSample, History, HistoryView, PingSample, StatsSample};
use crate::model::query::{Query, QueryType, Window};
use crate::model::state::State;

/// No fresh round.
const NO_PINGS: &[PingSample] = &[];

fn query(json: &str) -> Query {
    Query::parse("A", "", json.as_bytes()).unwrap()
}

fn window(from: i64, to: i64) -> Window {
    Window {
        from_ms: from,
        to_ms: to,
        max_points: 1000,
        interval_ms: 1,
    }
}

fn sample(id: &str, rtt: Option<f64>) -> PingSample {
    PingSample {
        service: "orders".into(),
        id: id.into(),
        version: "1".into(),
        rtt_ms: rtt,
        state: if rtt.is_some() { State::Up } else { State::Unresponsive },
    }
}

fn counters(id: &str, started: i64, requests: u64, errors: u64, proc_ms: u64) -> StatsSample {
    StatsSample {
        service: "orders".into(),
        id: id.into(),
        version: "1".into(),
        started: Some(started),
        endpoints: vec![EndpointSample {
            name: "get".into(),
            requests,
            errors,
            processing_ns: proc_ms * 1_000_000,
            data: Vec::new(),
        }],
    }
}

fn src(h: Option<&HistoryView>, now: i64) -> Source<'_> {
    Source {
        history: h,
        period_ms: Some(1000),
        now_ms: now,
        subject: Some("$SRV.PING"),
        fresh: now <= 10_000,
        round_notices: &[],
    }
}

fn values(f: &Frame) -> Vec<Option<f64>> {
    match &f.fields[1].values {
        Values::NullableFloat64(v) => v.clone(),
        other => panic!("{other:?}"),
    }
}

fn times_ms(f: &Frame) -> Vec<i64> {
    match &f.fields[0].values {
        Values::Time(v) => v.iter().map(|t| t / 1_000_000).collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn ping_series_per_instance_with_gaps_while_down_and_a_now_point() {
    let mut h = History::new(3_600_000, 1 << 20);
    h.ingest_ping(1000, &[sample("a", Some(2.0)), sample("b", Some(4.0))]);
    h.ingest_ping(2000, &[sample("a", Some(3.0)), sample("b", None)]);
    let q = query(r#"{"queryType":"ping","format":"timeseries"}"#);
    let frames = ping_frames(&q, &h, &[sample("a", Some(1.0)), sample("b", None)]);
    assert_eq!(frames.len(), 2);
    let a = &frames[0];
    assert_eq!(a.meta.as_ref().unwrap().kind, Some(TIMESERIES_MULTI));
    assert_eq!(a.fields[1].labels, labels(&[("service", "orders"), ("id", "a")]));
    assert_eq!(times_ms(a), [1000, 2000, 3000]);
    assert_eq!(values(a), [Some(2.0), Some(3.0), Some(1.0)]);
    assert_eq!(values(&frames[1]), [Some(4.0), None, None]);
    assert_eq!(frames[1].fields[1].config.as_ref().unwrap().unit.as_deref(), Some("ms"));

    let up = query(r#"{"queryType":"ping","format":"timeseries","metric":"up"}"#);
    let frames = ping_frames(&up, &h, &[sample("a", Some(1.0)), sample("b", None)]);
    assert_eq!(values(&frames[1]), [Some(1.0), Some(0.0), Some(0.0)]);
}

fn ping_frames(q: &Query, h: &History, fresh: &[PingSample]) -> Vec<Frame> {
    ping(q, &window(0, 10_000), &src(Some(&h.unpacked()), 3000), fresh)
}

#[test]
fn downsampling_keeps_outages_and_averages_rtt() {
    let mut h = History::new(3_600_000, 1 << 20);
    for i in 0..10 {
        let rtt = if i == 3 { None } else { Some(i as f64) };
        h.ingest_ping(i * 1000, &[sample("a", rtt)]);
    }
    let w = Window {
        from_ms: 0,
        to_ms: 10_000,
        max_points: 1000,
        interval_ms: 5000,
    };
    let up = query(r#"{"queryType":"ping","format":"timeseries","metric":"up"}"#);
    let f = &ping(&up, &w, &src(Some(&h.unpacked()), 20_000), NO_PINGS)[0];
    assert_eq!(times_ms(f), [0, 5000]);
    assert_eq!(values(f), [Some(0.0), Some(1.0)]);
    let rtt = query(r#"{"queryType":"ping","format":"timeseries"}"#);
    let f = &ping(&rtt, &w, &src(Some(&h.unpacked()), 20_000), NO_PINGS)[0];
    // (0 + 1 + 2 + 4) / 4 and (5 + 6 + 7 + 8 + 9) / 5
    assert_eq!(values(f), [Some(7.0 / 4.0), Some(7.0)]);
    let svc = query(r#"{"queryType":"services","format":"timeseries","metric":"instances"}"#);
    let f = &services(&svc, &w, &src(Some(&h.unpacked()), 20_000), NO_PINGS)[0];
    assert_eq!(values(f), [Some(0.0), Some(1.0)]);
    let down = query(r#"{"queryType":"services","format":"timeseries","metric":"down"}"#);
    let f = &services(&down, &w, &src(Some(&h.unpacked()), 20_000), NO_PINGS)[0];
    assert_eq!(values(f), [Some(1.0), Some(0.0)]);
}

#[test]
fn services_count_instances_per_round() {
    let mut h = History::new(3_600_000, 1 << 20);
    h.ingest_ping(1000, &[sample("a", Some(1.0)), sample("b", Some(1.0))]);
    h.ingest_ping(2000, &[sample("a", Some(1.0)), sample("b", None)]);
    let q = query(r#"{"queryType":"services","format":"timeseries"}"#);
    let frames = services(
        &q,
        &window(0, 10_000),
        &src(Some(&h.unpacked()), 3000),
        &[sample("a", Some(1.0))],
    );
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].fields[1].labels, labels(&[("service", "orders")]));
    assert_eq!(values(&frames[0]), [Some(2.0), Some(1.0), Some(1.0)]);
}

#[test]
fn rates_survive_restarts_without_negative_or_huge_values() {
    let mut h = History::new(3_600_000, 1 << 20);
    h.ingest_stats(0, &[counters("a", 1, 1000, 0, 0)]);
    h.ingest_stats(1000, &[counters("a", 1, 1010, 1, 20)]);
    h.ingest_stats(2000, &[counters("a", 1, 1030, 1, 40)]);
    // Restart with the same id: counters start again (and also one that grows past the old value).
    h.ingest_stats(3000, &[counters("a", 5000, 2000, 0, 0)]);
    h.ingest_stats(4000, &[counters("a", 5000, 2004, 2, 8)]);
    let w = window(0, 10_000);
    let rate = query(r#"{"queryType":"stats","format":"timeseries"}"#);
    assert_eq!(rate.metric, "request_rate");
    let f = &stats(
        &rate,
        &w,
        &src(Some(&h.unpacked()), 5000),
        &[counters("a", 5000, 2014, 2, 18)],
    )[0];
    assert_eq!(
        f.fields[1].labels,
        labels(&[("service", "orders"), ("id", "a"), ("endpoint", "get")])
    );
    assert_eq!(values(f), [None, Some(10.0), Some(20.0), None, Some(4.0), Some(10.0)]);
    let ratio = query(r#"{"queryType":"stats","format":"timeseries","metric":"error_ratio"}"#);
    let f = &stats(
        &ratio,
        &w,
        &src(Some(&h.unpacked()), 5000),
        &[counters("a", 5000, 2014, 2, 18)],
    )[0];
    assert_eq!(values(f), [None, Some(0.1), Some(0.0), None, Some(0.5), Some(0.0)]);
    let avg = query(r#"{"queryType":"stats","format":"timeseries","metric":"average_processing_time"}"#);
    let f = &stats(&avg, &w, &src(Some(&h.unpacked()), 5000), &[])[0];
    assert_eq!(values(f), [None, Some(2.0), Some(1.0), None, Some(2.0)]);
    // A fresh sample from a restarted instance (new started) is a reset too.
    let f = &stats(
        &rate,
        &w,
        &src(Some(&h.unpacked()), 5000),
        &[counters("a", 9000, 3000, 0, 0)],
    )[0];
    assert_eq!(values(f).last(), Some(&None));
    // Bucketed: exact rate over the bucket, resets skipped.
    let coarse = Window { interval_ms: 2000, ..w };
    let f = &stats(&rate, &coarse, &src(Some(&h.unpacked()), 50_000), &[])[0];
    assert_eq!(times_ms(f), [0, 2000, 4000]);
    assert_eq!(values(f), [Some(10.0), Some(20.0), Some(4.0)]);
}

#[test]
fn sampler_off_and_truncation_notices() {
    let q = query(r#"{"queryType":"ping","format":"timeseries"}"#);
    let off = Source {
        period_ms: None,
        ..src(None, 3000)
    };
    let frames = ping(&q, &window(0, 10_000), &off, &[sample("a", Some(1.0))]);
    assert_eq!(frames.len(), 1);
    assert_eq!(values(&frames[0]), [Some(1.0)]);
    let notices = &frames[0].meta.as_ref().unwrap().notices;
    assert!(notices[0].text.contains("history is off"), "{notices:?}");

    let mut h = History::new(3_600_000, 2048);
    for i in 0..200 {
        h.ingest_ping(i * 1000, &[sample("a", Some(1.0))]);
    }
    let frames = ping(&q, &window(0, 300_000), &src(Some(&h.unpacked()), 200_000), NO_PINGS);
    let notices = &frames[0].meta.as_ref().unwrap().notices;
    assert!(notices[0].text.starts_with("history truncated: "), "{notices:?}");
    assert!(frames[1..].iter().all(|f| f.meta.as_ref().unwrap().notices.is_empty()));
    // No series at all: one typed frame without fields.
    let none = ping(&q, &window(0, 10), &src(None, 3000), NO_PINGS);
    assert_eq!(none.len(), 1);
    assert!(none[0].fields.is_empty());
}

#[test]
fn events_frame_filters_by_window_and_scope() {
    let mut h = History::new(3_600_000, 1 << 20);
    h.ingest_ping(0, &[sample("a", Some(1.0))]);
    h.ingest_ping(1000, &[sample("a", Some(1.0)), sample("b", Some(1.0))]);
    h.ingest_ping(2000, &[sample("b", Some(1.0))]);
    let q = query(r#"{"queryType":"events"}"#);
    let f = events(&q, &window(0, 10_000), &src(Some(&h.unpacked()), 3000));
    assert_eq!(f.meta.as_ref().unwrap().kind, Some(TABLE));
    let field = |n: &str| f.fields.iter().find(|x| x.name == n).unwrap().values.clone();
    assert_eq!(field("time"), Values::Time(vec![1_000_000_000, 2_000_000_000]));
    assert_eq!(
        field("tags"),
        Values::String(vec!["appeared,orders".into(), "disappeared,orders".into()])
    );
    let only_a = query(r#"{"queryType":"events","service":"orders","instance":"a"}"#);
    assert_eq!(
        events(&only_a, &window(0, 10_000), &src(Some(&h.unpacked()), 3000)).rows(),
        1
    );
    assert_eq!(
        events(&q, &window(1500, 10_000), &src(Some(&h.unpacked()), 3000)).rows(),
        1
    );
}

#[test]
fn frames_from_a_view_equal_frames_from_the_whole_history() {
    let mut h = History::new(3_600_000, 1 << 24);
    for r in 0..60i64 {
        let t = r * 1000;
        let pings: Vec<PingSample> = ["a", "b", "c"]
            .iter()
            .map(|id| sample(id, (r % 7 != 3 || *id != "b").then_some(r as f64)))
            .chain(std::iter::once(PingSample {
                service: "billing".into(),
                ..sample("z", Some(1.0))
            }))
            .collect();
        h.ingest_ping(t, &pings);
        // "a" restarts at round 30: its counters start again.
        let a_started = if r < 30 { 1 } else { 2 };
        let a_requests = if r < 30 { r as u64 * 10 } else { (r as u64 - 30) * 3 };
        h.ingest_stats(
            t,
            &[
                counters("a", a_started, a_requests, a_requests / 4, a_requests),
                counters("b", 1, r as u64 * 5, 1, 9),
            ],
        );
    }
    let w = window(20_500, 70_000);
    let queries = [
        r#"{"queryType":"ping","format":"timeseries"}"#,
        r#"{"queryType":"ping","format":"timeseries","metric":"up","instance":"b"}"#,
        r#"{"queryType":"services","format":"timeseries"}"#,
        r#"{"queryType":"services","format":"timeseries","metric":"down","service":"orders"}"#,
        r#"{"queryType":"stats","format":"timeseries"}"#,
        r#"{"queryType":"stats","format":"timeseries","metric":"error_ratio","instance":"a"}"#,
        r#"{"queryType":"stats","format":"timeseries","metric":"average_processing_time"}"#,
        r#"{"queryType":"events"}"#,
    ];
    for json in queries {
        let q = query(json);
        let view = h.view(w.from_ms, |service, id| q.scope.contains(service, id));
        let copied: usize = view
            .instances()
            .map(|i| i.pings.len() + i.endpoints.values().map(|e| e.len()).sum::<usize>())
            .sum();
        assert!(copied < h.samples(), "{json}: the view copied everything");
        assert_eq!(view.samples(), h.samples(), "{json}: counts are the whole history's");
        let build = |h: &HistoryView| match q.query_type {
            QueryType::Events => vec![events(&q, &w, &src(Some(h), 61_000))],
            QueryType::Services => services(&q, &w, &src(Some(h), 61_000), NO_PINGS),
            QueryType::Stats => stats(&q, &w, &src(Some(h), 61_000), &[]),
            _ => ping(&q, &w, &src(Some(h), 61_000), NO_PINGS),
        };
        let (whole, part) = (build(&h.unpacked()), build(&view));
        assert!(
            !whole.is_empty() && whole.iter().any(|f| f.fields.iter().any(|f| !f.values.is_empty())),
            "{json}"
        );
        assert_eq!(part, whole, "{json}");
    }
}

#[test]
fn aggregates_combine_a_service_point_by_point_rates_add_ratios_pool_restarts_leave_out() {
    let mut h = History::new(3_600_000, 1 << 20);
    // a: 10 requests and 1 error a second; b: 1 request a second, no errors, restarted at 3000.
    h.ingest_stats(0, &[counters("a", 1, 0, 0, 0), counters("b", 1, 100, 0, 0)]);
    h.ingest_stats(1000, &[counters("a", 1, 10, 1, 10), counters("b", 1, 101, 0, 5)]);
    h.ingest_stats(2000, &[counters("a", 1, 20, 2, 20), counters("b", 1, 102, 0, 10)]);
    h.ingest_stats(3000, &[counters("a", 1, 30, 3, 30), counters("b", 7, 0, 0, 0)]);
    let w = window(0, 10_000);
    let run = |json: &str| stats(&query(json), &w, &src(Some(&h.unpacked()), 50_000), &[]);
    let sum = run(r#"{"queryType":"stats","format":"timeseries","aggregate":"sum"}"#);
    assert_eq!(sum.len(), 1, "one series for the service's endpoint");
    assert_eq!(
        sum[0].fields[1].labels,
        labels(&[("service", "orders"), ("endpoint", "get")])
    );
    assert_eq!(times_ms(&sum[0]), [0, 1000, 2000, 3000]);
    // At 3000 b restarted: its interval has no rate, so the sum is a's alone, never negative.
    assert_eq!(values(&sum[0]), [None, Some(11.0), Some(11.0), Some(10.0)]);
    // Pooled: 1 error of 11 requests, not the mean of 0.1 and 0.
    let ratio = run(r#"{"queryType":"stats","format":"timeseries","metric":"error_ratio","aggregate":"avg"}"#);
    assert_eq!(values(&ratio[0]), [None, Some(1.0 / 11.0), Some(1.0 / 11.0), Some(0.1)]);
    let count = run(r#"{"queryType":"stats","format":"timeseries","aggregate":"count"}"#);
    assert_eq!(values(&count[0]), [Some(0.0), Some(2.0), Some(2.0), Some(1.0)]);
    assert_eq!(
        count[0].fields[1].config.as_ref().unwrap().unit.as_deref(),
        Some("short")
    );

    let mut h = History::new(3_600_000, 1 << 20);
    h.ingest_ping(1000, &[sample("a", Some(2.0)), sample("b", Some(4.0))]);
    h.ingest_ping(2000, &[sample("a", Some(3.0)), sample("b", None)]);
    let ping_of = |json: &str| {
        let f = ping(
            &query(json),
            &window(0, 10_000),
            &src(Some(&h.unpacked()), 50_000),
            NO_PINGS,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].fields[1].labels, labels(&[("service", "orders")]));
        values(&f[0])
    };
    assert_eq!(
        ping_of(r#"{"queryType":"ping","format":"timeseries","aggregate":"avg"}"#),
        [Some(3.0), Some(3.0)]
    );
    assert_eq!(
        ping_of(r#"{"queryType":"ping","format":"timeseries","aggregate":"max"}"#),
        [Some(4.0), Some(3.0)]
    );
    assert_eq!(
        ping_of(r#"{"queryType":"ping","format":"timeseries","aggregate":"count"}"#),
        [Some(2.0), Some(1.0)]
    );
    let up = r#"{"queryType":"ping","format":"timeseries","metric":"up","aggregate":"#;
    assert_eq!(ping_of(&format!(r#"{up}"sum"}}"#)), [Some(2.0), Some(1.0)]);
    assert_eq!(ping_of(&format!(r#"{up}"avg"}}"#)), [Some(1.0), Some(0.5)]);
    assert_eq!(ping_of(&format!(r#"{up}"count"}}"#)), [Some(2.0), Some(2.0)]);
}
