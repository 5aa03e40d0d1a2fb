//! Unit tests of history checkpoints: a restored history reads and grows exactly like the one it was taken from, and a damaged checkpoint is rejected whole or harmless.
//!
//! Test code only: the parent module includes it as `#[cfg(test)] mod tests;`.
#![cfg(test)]

use super::*;
use crate::model::history::tests::ping;
use crate::model::history::{EndpointSample, StatsSample};
use crate::model::probe::ProbeResult;

const T0: i64 = 1_700_000_000_000;
const PERIOD: i64 = 15_000;

fn stats(service: &str, id: &str, started: i64, requests: u64) -> StatsSample {
    StatsSample {
        service: service.into(),
        id: id.into(),
        version: "1.0.0".into(),
        started: Some(started),
        endpoints: vec![
            EndpointSample {
                name: "get".into(),
                requests,
                errors: requests / 7,
                processing_ns: requests * 1_300,
                data: vec![("queue.depth".into(), (requests % 13) as f64)],
            },
            EndpointSample {
                name: "put".into(),
                requests: requests / 2,
                errors: 0,
                processing_ns: requests * 900,
                data: Vec::new(),
            },
        ],
    }
}

/// Round `r` of a small fleet: `b` goes silent for a while, `c` restarts (new `started`) and
/// changes its version, a probe runs every round.
fn round(h: &mut History, r: i64) {
    let t = T0 + r * PERIOD;
    let rtt = |k: i64| Some(1.0 + ((r * 7 + k) % 11) as f64 / 10.0);
    let version = if r < 150 { "1.0.0" } else { "1.1.0" };
    // The sampler lists a known instance that did not answer with no RTT.
    let b = if (100..120).contains(&r) { None } else { rtt(2) };
    let pings = vec![
        ping("orders", "a", "1.0.0", rtt(1)),
        ping("billing", "c", version, rtt(3)),
        ping("orders", "b", "1.0.0", b),
    ];
    h.ingest_ping(t, &pings);
    let started_c = if r < 150 { T0 } else { T0 + 150 * PERIOD };
    let requests_c = if r < 150 { r as u64 * 10 } else { (r - 150) as u64 * 10 };
    h.ingest_stats(
        t + 5,
        &[
            stats("orders", "a", T0, r as u64 * 20),
            stats("billing", "c", started_c, requests_c),
        ],
    );
    h.ingest_probes(&[ProbeResult {
        name: "orders.get".into(),
        subject: "orders.get".into(),
        t_ms: t + 7,
        latency_ms: (r % 5 != 0).then_some(2.5),
        success: r % 5 != 0,
        state: if r % 5 != 0 { State::Up } else { State::Unresponsive },
        code: (r % 5 == 0).then_some(503),
        detail: String::new(),
    }]);
}

/// Everything a query can read from a history, as text (NaN RTTs compare equal this way). Not
/// the accounted bytes: they count spare capacity, which a restored series does not have.
fn readable(h: &History) -> String {
    let v = h.unpacked();
    let mut out = format!(
        "rounds {} oldest {:?} samples {} truncated {:?} dropped {}\n",
        v.rounds(),
        v.oldest(),
        h.samples(),
        h.truncated_through(i64::MAX / 2),
        h.dropped_samples()
    );
    for i in v.instances() {
        out += &format!(
            "{} {} {} up={} started={:?} segment={}\n pings {:?}\n endpoints {:?}\n data {:?}\n",
            i.service, i.id, i.version, i.up, i.started, i.segment, i.pings, i.endpoints, i.data
        );
    }
    out += &format!("events {:?}\nprobes {:?}\n", v.events().collect::<Vec<_>>(), v.probes());
    out
}

/// Equal, or a panic naming the first line that differs (the whole text is long).
fn same(a: &str, b: &str) {
    for (n, (x, y)) in a.lines().zip(b.lines()).enumerate() {
        if x != y {
            let at = x.bytes().zip(y.bytes()).position(|(p, q)| p != q).unwrap_or(0);
            let from = at.saturating_sub(200);
            panic!(
                "line {n} differs at {at}:\n  {}\n  {}",
                &x[from..(at + 200).min(x.len())],
                &y[from..(at + 200).min(y.len())]
            );
        }
    }
    assert_eq!(a.lines().count(), b.lines().count());
}

fn mark() -> Mark {
    Mark {
        sequence: 4242,
        latest: vec![(Kind::Ping, T0 + 9), (Kind::Stats, T0 + 14)],
        retention_ms: 3_600_000,
    }
}

#[test]
fn a_restored_history_reads_and_grows_like_the_original() {
    // 300 rounds under a 60-minute retention: more than one block per series, blocks trimmed
    // and re-coded at the front, a silent instance, a restart and a version change.
    let (retention, budget) = (3_600_000, 64 << 20);
    let mut original = History::new(retention, budget);
    for r in 0..300 {
        round(&mut original, r);
    }
    assert!(original.rounds() < 600, "the retention trimmed the oldest rounds");
    let body = original.checkpoint(&mark());
    let (mut restored, m) = History::restore(&body, retention, budget).expect("restores");
    assert_eq!(m, mark());
    assert_eq!(restored.bytes(), restored.recount());
    assert!(restored.bytes() <= original.bytes());
    same(&readable(&restored), &readable(&original));
    // The coding state after each series' last point came back too: both grow alike.
    for r in 300..420 {
        round(&mut original, r);
        round(&mut restored, r);
    }
    same(&readable(&restored), &readable(&original));
    assert_eq!(restored.bytes(), restored.recount());
}

#[test]
fn a_checkpoint_costs_about_what_the_packed_store_holds() {
    let mut h = History::new(3_600_000, 64 << 20);
    for r in 0..240 {
        round(&mut h, r);
    }
    let (pings, endpoints) = h.series_bytes();
    let body = h.checkpoint(&mark());
    // Names, data and probe points come on top of the packed series, never a copy per sample.
    assert!(
        body.len() > pings + endpoints,
        "{} vs {}",
        body.len(),
        pings + endpoints
    );
    assert!(body.len() < h.bytes(), "{} vs accounted {}", body.len(), h.bytes());
}

#[test]
fn restore_keeps_the_readers_retention_and_budget() {
    let mut h = History::new(3_600_000, 64 << 20);
    for r in 0..240 {
        round(&mut h, r);
    }
    let body = h.checkpoint(&mark());
    let (short, _) = History::restore(&body, 10 * 60_000, 64 << 20).expect("restores");
    assert_eq!(
        short.oldest(),
        Some(T0 + (239 - 40) * PERIOD + 5),
        "10 minutes back from the newest round"
    );
    let budget = h.bytes() / 3;
    let (small, _) = History::restore(&body, 3_600_000, budget).expect("restores");
    assert!(small.bytes() <= budget);
    assert!(
        small.truncated_through(T0 + 240 * PERIOD).is_some(),
        "says it dropped rounds for memory"
    );
}

#[test]
fn the_latest_ping_round_names_who_answered_and_who_was_silent() {
    let mut h = History::new(3_600_000, 64 << 20);
    for r in 0..105 {
        round(&mut h, r);
    }
    let (t, samples) = h.latest_ping_round().expect("a round");
    assert_eq!(t, T0 + 104 * PERIOD);
    let mut seen: Vec<(&str, bool)> = samples.iter().map(|s| (s.id, s.rtt_ms.is_some())).collect();
    seen.sort_unstable();
    // `b` did not answer this round: listed without an RTT.
    assert_eq!(seen, vec![("a", true), ("b", false), ("c", true)]);
    assert!(History::new(1, 1).latest_ping_round().is_none());
}

#[test]
fn every_cut_short_checkpoint_is_rejected() {
    let mut h = History::new(3_600_000, 64 << 20);
    for r in 0..30 {
        round(&mut h, r);
    }
    let body = h.checkpoint(&mark());
    for end in 0..body.len() {
        assert!(
            History::restore(&body[..end], 3_600_000, 64 << 20).is_err(),
            "cut at {end}"
        );
    }
    let mut longer = body.clone();
    longer.push(0);
    assert_eq!(
        History::restore(&longer, 3_600_000, 64 << 20).err(),
        Some(WireError("trailing bytes"))
    );
    let mut other = body;
    other[0] = b'X';
    assert_eq!(
        History::restore(&other, 3_600_000, 64 << 20).err(),
        Some(WireError("not a checkpoint"))
    );
}

#[test]
fn a_damaged_checkpoint_never_panics_and_restores_within_its_budget() {
    let mut h = History::new(3_600_000, 64 << 20);
    for r in 0..130 {
        round(&mut h, r);
    }
    let body = h.checkpoint(&mark());
    let budget = 1 << 20;
    let mut accepted = 0;
    for i in (0..body.len()).step_by(7) {
        for flip in [0x01u8, 0x40, 0xff] {
            let mut bad = body.clone();
            bad[i] ^= flip;
            if let Ok((restored, _)) = History::restore(&bad, 3_600_000, budget) {
                accepted += 1;
                assert_eq!(restored.bytes(), restored.recount());
                assert!(restored.bytes() <= budget);
                let _ = readable(&restored);
            }
        }
    }
    // Flipped bits inside packed blocks or values still decode: the checkpoint cannot tell
    // them from real data, but what it restores is a well-formed, bounded history.
    assert!(accepted > 0);
}

#[test]
fn a_checkpoint_is_due_after_an_eighth_of_the_rounds_held() {
    assert!(!due(MIN_ROUNDS_BETWEEN - 1, 0));
    assert!(due(MIN_ROUNDS_BETWEEN, 0));
    assert!(!due(59, 480));
    assert!(due(60, 480));
}

#[test]
fn a_checkpoint_whose_deltas_overflow_is_rejected_not_a_panic() {
    // Found by the `history` fuzz target: an RTT or segment delta near i64::MAX.
    let body = include_bytes!("../../../../tests/fixtures/fuzz/history-checkpoint-overflow.bin");
    if let Ok((h, _)) = History::restore(body, 3_600_000, 1 << 20) {
        let _ = h.unpacked();
    }
    for m in body.split(|b| *b == 0xfe) {
        let _ = crate::model::history::wire::decode(m);
    }
}

#[test]
fn a_checkpoint_whose_rounds_are_dated_near_the_start_of_time_is_read_without_overflow() {
    // Found by the `history` fuzz target: a round dated near i64::MIN, whose retention cutoff
    // (its time less the retention) overflowed when the restored history was trimmed.
    let body = include_bytes!("../../../../tests/fixtures/fuzz/history-checkpoint-ancient-round.bin");
    let (h, _) = History::restore(body, 3_600_000, 1 << 20).expect("the checkpoint is well formed");
    assert_eq!(h.unpacked().samples(), h.samples());
}
