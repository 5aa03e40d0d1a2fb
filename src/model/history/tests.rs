//! Unit tests of the history store: retention, the byte budget, heap use and event detection.
//!
//! Test code only: the parent module includes it as `#[cfg(test)] mod tests;`.
#![cfg(test)]

use super::*;
use crate::model::settings::DEFAULT_HISTORY_BUDGET_BYTES as DEFAULT_BUDGET_BYTES;
use crate::model::state::State;

/// A ping sample (no RTT: the instance did not answer); the checkpoint tests use it too.
pub(super) fn ping(service: &str, id: &str, version: &str, rtt: Option<f64>) -> PingSample {
    PingSample {
        service: service.into(),
        id: id.into(),
        version: version.into(),
        rtt_ms: rtt,
        state: if rtt.is_some() { State::Up } else { State::Unresponsive },
    }
}

fn stats(id: &str, started: i64, requests: u64) -> StatsSample {
    StatsSample {
        service: "orders".into(),
        id: id.into(),
        version: "1.0.0".into(),
        started: Some(started),
        endpoints: vec![EndpointSample {
            name: "get".into(),
            requests,
            errors: requests / 10,
            processing_ns: requests * 1000,
            data: Vec::new(),
        }],
    }
}

fn kinds(h: &History) -> Vec<(EventKind, String)> {
    h.events().map(|e| (e.kind, e.id.clone())).collect()
}

#[test]
fn sizes_are_as_documented() {
    assert_eq!(PING_POINT_BYTES, 16);
    assert_eq!(ENDPOINT_POINT_BYTES, 40);
}

#[test]
fn samples_accumulate_and_age_out_with_retention() {
    let mut h = History::new(10_000, DEFAULT_BUDGET_BYTES);
    for i in 0..30 {
        let t = i * 1000;
        h.ingest_ping(t, &[ping("orders", "a", "1", Some(1.5))]);
        h.ingest_stats(t, &[stats("a", 5, i as u64)]);
        assert_eq!(h.bytes(), h.recount(), "round {i}");
    }
    let whole = h.unpacked();
    let a = whole.instance("orders", "a").unwrap();
    // Retention 10 s at t = 29 s keeps t = 19..=29 s.
    assert_eq!(a.pings.len(), 11);
    assert_eq!(a.pings.front().unwrap().t, 19_000);
    assert_eq!(a.endpoints["get"].len(), 11);
    assert_eq!(a.pings.back().unwrap().rtt(), Some(1.5));
    assert_eq!(h.truncated_through(29_000), None);
    assert_eq!(h.dropped_samples(), 0);
}

#[test]
fn the_budget_drops_oldest_rounds_first_and_says_so() {
    let mut h = History::new(3_600_000, 8 * 1024);
    for i in 0..1000 {
        let t = i * 1000;
        h.ingest_ping(
            t,
            &[ping("orders", "a", "1", Some(1.0)), ping("orders", "b", "1", Some(2.0))],
        );
        assert!(h.bytes() <= h.budget(), "round {i}: {} > {}", h.bytes(), h.budget());
        assert_eq!(h.bytes(), h.recount(), "round {i}");
    }
    assert!(h.dropped_samples() > 0);
    let whole = h.unpacked();
    let a = whole.instance("orders", "a").unwrap();
    assert_eq!(a.pings.back().unwrap().t, 999_000, "newest kept");
    let oldest = a.pings.front().unwrap().t;
    assert!(oldest > 0, "oldest dropped");
    assert_eq!(h.truncated_through(999_000), Some(oldest - 1000));
    // Both series lose the same rounds.
    assert_eq!(
        h.unpacked().instance("orders", "b").unwrap().pings.front().unwrap().t,
        oldest
    );
    assert!(h.heap_bytes() <= 2 * h.budget() + 4096, "{}", h.heap_bytes());
}

#[test]
fn a_full_store_holds_little_more_heap_than_it_accounts_for() {
    // 200 instances with one endpoint each, at the bound for most of 3000 rounds: with
    // `VecDeque`'s doubling the series held 1.41× the accounted bytes here.
    let mut h = History::new(i64::MAX / 4, 1 << 20);
    let pings: Vec<PingSample> = (0..200)
        .map(|i| ping("orders", &format!("{i:03}"), "1.0.0", Some(1.0)))
        .collect();
    for r in 0..3000u64 {
        let t = r as i64 * 1000;
        h.ingest_ping(t, &pings);
        let stats: Vec<StatsSample> = (0..200).map(|i| stats(&format!("{i:03}"), 0, r)).collect();
        h.ingest_stats(t, &stats);
        assert!(h.bytes() <= h.budget());
    }
    assert!(h.dropped_samples() > 0, "the bound was reached");
    let ratio = h.heap_bytes() as f64 / h.bytes() as f64;
    assert!(
        ratio <= 1.15,
        "heap {} vs accounted {}: {ratio:.2}×",
        h.heap_bytes(),
        h.bytes()
    );
}

#[test]
fn down_then_gone_instances_are_forgotten_after_retention() {
    let mut h = History::new(5_000, DEFAULT_BUDGET_BYTES);
    h.ingest_ping(0, &[ping("orders", "a", "1", Some(1.0))]);
    h.ingest_ping(1000, &[ping("orders", "a", "1", None)]);
    assert!(!h.unpacked().instance("orders", "a").unwrap().up);
    assert_eq!(h.unpacked().instance("orders", "a").unwrap().pings[1].rtt(), None);
    for i in 2..10 {
        h.ingest_ping::<String>(i * 1000, &[]);
    }
    assert!(h.unpacked().instance("orders", "a").is_none());
    assert_eq!(h.bytes(), h.recount());
}

#[test]
fn events_appear_disappear_restart_version() {
    let mut h = History::new(3_600_000, DEFAULT_BUDGET_BYTES);
    h.ingest_ping(0, &[ping("orders", "a", "1.0", Some(1.0))]);
    assert!(kinds(&h).is_empty(), "the first round is the baseline");
    h.ingest_ping(
        1000,
        &[
            ping("orders", "a", "1.0", Some(1.0)),
            ping("orders", "b", "1.0", Some(1.0)),
        ],
    );
    assert_eq!(kinds(&h), [(EventKind::Appeared, "b".to_string())]);
    // a stops answering (reported down), then c replaces it with a new version.
    h.ingest_ping(
        2000,
        &[ping("orders", "b", "1.0", Some(1.0)), ping("orders", "a", "1.0", None)],
    );
    h.ingest_ping(
        3000,
        &[
            ping("orders", "b", "1.0", Some(1.0)),
            ping("orders", "c", "1.1", Some(1.0)),
            ping("orders", "a", "1.0", None),
        ],
    );
    // b vanishes from the round entirely (forgotten): disappeared as well.
    h.ingest_ping(4000, &[ping("orders", "c", "1.1", Some(1.0))]);
    // d replaces b; then e appears with nobody left to replace (a and b were replaced).
    h.ingest_ping(
        5000,
        &[
            ping("orders", "c", "1.1", Some(1.0)),
            ping("orders", "d", "1.1", Some(1.0)),
        ],
    );
    h.ingest_ping(
        6000,
        &[
            ping("orders", "c", "1.1", Some(1.0)),
            ping("orders", "d", "1.1", Some(1.0)),
            ping("orders", "e", "1.1", Some(1.0)),
        ],
    );
    let got = kinds(&h);
    assert_eq!(
        got,
        [
            (EventKind::Appeared, "b".to_string()),
            (EventKind::Disappeared, "a".to_string()),
            (EventKind::Restarted, "c".to_string()),
            (EventKind::VersionChanged, "c".to_string()),
            (EventKind::Disappeared, "b".to_string()),
            (EventKind::Restarted, "d".to_string()),
            (EventKind::VersionChanged, "d".to_string()),
            (EventKind::Appeared, "e".to_string()),
        ],
        "{:#?}",
        h.events().collect::<Vec<_>>()
    );
    let restart = h.events().find(|e| e.kind == EventKind::Restarted).unwrap();
    assert_eq!(restart.text, "instance c replaced a of orders");
    assert_eq!(restart.t, 3000);
}

#[test]
fn started_change_is_a_restart_and_a_new_segment() {
    let mut h = History::new(3_600_000, DEFAULT_BUDGET_BYTES);
    h.ingest_stats(0, &[stats("a", 100, 50)]);
    h.ingest_stats(1000, &[stats("a", 100, 60)]);
    h.ingest_stats(2000, &[stats("a", 1500, 3)]);
    let whole = h.unpacked();
    let series = &whole.instance("orders", "a").unwrap().endpoints["get"];
    let segments: Vec<u32> = series.iter().map(|p| p.segment).collect();
    assert_eq!(segments, [0, 0, 1]);
    assert_eq!(kinds(&h), [(EventKind::Restarted, "a".to_string())]);
    assert_eq!(h.bytes(), h.recount());
}

#[test]
fn an_instance_first_seen_by_stats_appears_once_pinged() {
    let mut h = History::new(3_600_000, DEFAULT_BUDGET_BYTES);
    h.ingest_ping::<String>(0, &[]);
    h.ingest_stats(500, &[stats("a", 100, 1)]);
    h.ingest_ping(1000, &[ping("orders", "a", "1.0.0", Some(1.0))]);
    let e: Vec<_> = h.events().collect();
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].kind, e[0].title.as_str()),
        (EventKind::Appeared, "orders a appeared")
    );
}

#[test]
fn version_change_of_one_instance() {
    let mut h = History::new(3_600_000, DEFAULT_BUDGET_BYTES);
    h.ingest_ping(0, &[ping("orders", "a", "1.0", Some(1.0))]);
    h.ingest_ping(1000, &[ping("orders", "a", "2.0", Some(1.0))]);
    assert_eq!(kinds(&h), [(EventKind::VersionChanged, "a".to_string())]);
    assert_eq!(h.unpacked().instance("orders", "a").unwrap().version, "2.0");
    assert_eq!(h.bytes(), h.recount());
}

#[test]
fn data_leaves_are_bounded_per_endpoint_accounted_and_trimmed() {
    let mut h = History::new(10_000, DEFAULT_BUDGET_BYTES);
    for r in 0..20i64 {
        let mut s = stats("a", 1, r as u64 * 10);
        s.endpoints[0].data = (0..40).map(|k| (format!("k{k:02}"), (r * k) as f64)).collect();
        h.ingest_stats(r * 1000, &[s]);
        assert_eq!(h.bytes(), h.recount(), "round {r}");
    }
    let whole = h.unpacked();
    let i = whole.instance("orders", "a").unwrap();
    assert_eq!(i.data.len(), MAX_DATA_LEAVES, "the first {MAX_DATA_LEAVES} leaves only");
    assert!(i.data.keys().all(|(e, _)| e == "get"));
    let k03 = &i.data[&("get".to_string(), "k03".to_string())];
    assert_eq!(k03.len(), 11, "retention of 10 s keeps 11 rounds");
    assert_eq!(k03.back().map(|d| d.value), Some(57.0));
    let view = h.view(15_000, |_, _| true);
    let points = &view.instance("orders", "a").unwrap().data[&("get".to_string(), "k03".to_string())];
    assert_eq!(
        points.front().map(|d| d.t),
        Some(14_000),
        "the view keeps the point just before"
    );
    // Past retention, everything goes, data included.
    h.ingest_stats(100_000, &[stats("b", 1, 1)]);
    assert!(h.unpacked().instance("orders", "a").is_none_or(|i| i.data.is_empty()));
    assert_eq!(h.bytes(), h.recount());
}

#[test]
fn an_instance_left_out_is_down_even_when_another_is_in_the_round_twice() {
    let mut h = History::new(3_600_000, DEFAULT_BUDGET_BYTES);
    let (a, b) = (ping("orders", "a", "1", Some(1.0)), ping("orders", "b", "1", Some(1.0)));
    h.ingest_ping(0, &[a.clone(), b]);
    h.ingest_ping(1000, &[a.clone(), a]);
    let view = h.unpacked();
    assert!(view.instance("orders", "a").unwrap().up);
    assert!(!view.instance("orders", "b").unwrap().up);
    assert_eq!(kinds(&h), [(EventKind::Disappeared, "b".to_string())]);
}

#[test]
fn a_view_of_a_subset_is_the_view_of_the_whole() {
    let mut h = History::new(3_600_000, DEFAULT_BUDGET_BYTES);
    for i in 0..50i64 {
        h.ingest_ping(
            i * 1000,
            &[
                ping("orders", "a", "1", Some(i as f64)),
                ping("billing", "b", "1", (i % 3 != 0).then_some(2.0)),
            ],
        );
        h.ingest_stats(i * 1000, &[stats("a", 0, i as u64 * 10)]);
    }
    let keep = |service: &str, _: &str| service == "orders";
    let (all, part) = (h.view(20_000, |_, _| true), h.view(20_000, keep));
    let of_orders = |v: &HistoryView| -> Vec<String> {
        v.instances()
            .filter(|i| i.service == "orders")
            .map(|i| format!("{i:?}"))
            .collect()
    };
    assert_eq!(part.instances().count(), 1);
    assert_eq!(of_orders(&part), of_orders(&all));
    assert_eq!(part.samples(), h.samples(), "counts stay the whole history's");
    // Only what a query reads is copied.
    let pings = Reads {
        pings: true,
        ..Reads::NONE
    };
    let pings_only = h.subset(20_000, keep, None, pings);
    let (a, whole_a) = (
        pings_only.instance("orders", "a").unwrap(),
        all.instance("orders", "a").unwrap(),
    );
    assert_eq!(a.pings, whole_a.pings);
    assert_eq!(a.pings.len(), 31, "from 20 s on, and the point before");
    assert!(!whole_a.endpoints.is_empty());
    assert!(a.endpoints.is_empty() && a.data.is_empty() && pings_only.events().count() == 0);
    let one = Limit {
        series: 1,
        per_endpoint: false,
    };
    let limited = h.subset(20_000, |_, _| true, Some(one), Reads::ALL);
    assert_eq!(limited.instances().count(), 1);
    assert_eq!(limited.left_out(), 1);
    assert_eq!(
        limited.instances().next().map(|i| i.service),
        Some("billing"),
        "the first in order"
    );
}

#[test]
fn beyond_its_instance_bound_the_history_forgets_the_instances_down_longest_first() {
    // A peer answering with a new set of ids every round, beside a fleet of three.
    let mut h = History::new(3_600_000, usize::MAX);
    let per_round = MAX_INSTANCES / 2 + 1;
    for r in 0..3i64 {
        let mut round: Vec<PingSample> = ["a", "b", "c"]
            .iter()
            .map(|id| ping("orders", id, "1", Some(1.0)))
            .collect();
        round.extend((0..per_round).map(|i| ping("swarm", &format!("r{r}i{i}"), "1", Some(1.0))));
        h.ingest_ping(r * 1000, &round);
        assert!(
            h.instances().count() <= MAX_INSTANCES,
            "round {r}: {}",
            h.instances().count()
        );
        assert_eq!(h.bytes(), h.recount(), "round {r}: the forgotten are no longer counted");
    }
    let ids: Vec<&str> = h.instances().map(|i| i.id.as_str()).collect();
    let of_round = |r: &str| ids.iter().filter(|id| id.starts_with(r)).count();
    assert_eq!(ids.len(), MAX_INSTANCES);
    assert!(
        ["a", "b", "c"].iter().all(|id| ids.contains(id)),
        "the fleet answers: kept"
    );
    assert_eq!(of_round("r2"), per_round, "up in the latest round: kept");
    assert_eq!(
        of_round("r1"),
        MAX_INSTANCES - 3 - per_round,
        "up one round ago: kept while room"
    );
    assert_eq!(of_round("r0"), 0, "up longest ago: forgotten first");
}
