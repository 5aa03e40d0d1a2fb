//! Unit tests of packed series: every point comes back exactly through appends and trims, against a plain list; and what a steady series costs per sample.
//!
//! Test code only: the parent module includes it as `#[cfg(test)] mod tests;`.
#![cfg(test)]

use super::*;
use crate::model::history::codecs::{EndpointValue, PingValue};

/// A small deterministic generator (no dependency, same numbers on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

fn ping(g: &mut Lcg) -> PingValue {
    match g.next() % 20 {
        0 => PingValue::new(None, 2),
        1 => PingValue::new(Some(1500.0 + (g.next() % 100_000) as f64), 1),
        _ => PingValue::new(Some(1.0 + (g.next() % 300) as f64 / 100.0), 0),
    }
}

fn endpoint(g: &mut Lcg, prev: &EndpointValue) -> EndpointValue {
    if g.next().is_multiple_of(50) {
        // A restart: counters from zero in a new segment.
        return EndpointValue {
            requests: 0,
            errors: 0,
            processing_ns: 0,
            segment: prev.segment + 1,
        };
    }
    let n = g.next() % 200;
    EndpointValue {
        requests: prev.requests + n,
        errors: prev.errors + u64::from(g.next().is_multiple_of(10)),
        processing_ns: prev.processing_ns + n * (40_000 + g.next() % 20_000),
        segment: prev.segment,
    }
}

#[test]
fn points_come_back_exactly_through_appends_and_trims() {
    let mut g = Lcg(7);
    let mut pings: Packed<PingValue> = Packed::default();
    let mut stats: Packed<EndpointValue> = Packed::default();
    let (mut want_p, mut want_s) = (Vec::new(), Vec::new());
    let mut seq = 0u64;
    let mut floor = 0u64;
    let live =
        |p: &Packed<PingValue>, floor: u64| p.points().into_iter().filter(|(s, _)| *s > floor).collect::<Vec<_>>();
    let mut last = EndpointValue {
        requests: 1 << 62,
        errors: 0,
        processing_ns: 1 << 62,
        segment: 0,
    };
    for round in 0..2000u64 {
        // Mostly every other round, sometimes a gap (an instance missing from rounds).
        seq += if g.next().is_multiple_of(10) {
            2 + g.next() % 5
        } else {
            2
        };
        let p = ping(&mut g);
        pings.push(seq, p);
        want_p.push((seq, p));
        last = endpoint(&mut g, &last);
        stats.push(seq + 1, last);
        want_s.push((seq + 1, last));
        if round % 37 == 0 {
            floor = floor.max(seq.saturating_sub(500 + g.next() % 300));
            let before = pings.len() + stats.len();
            let changed = pings.trim(floor) + stats.trim(floor);
            want_p.retain(|(s, _)| *s > floor);
            want_s.retain(|(s, _)| *s > floor);
            assert!(
                changed < 0 || pings.len() + stats.len() == before,
                "points dropped, no bytes freed"
            );
        }
        // Expired points may stay until an eighth of the oldest block has expired.
        assert!(pings.len() >= want_p.len() && pings.len() <= want_p.len() + usize::from(BLOCK_POINTS) / 8 + 1);
        assert_eq!(stats.last(), want_s.last().copied());
        // The running byte count is the heap actually held.
        assert_eq!(
            (pings.bytes(), stats.bytes()),
            (pings.count_bytes(), stats.count_bytes())
        );
    }
    assert_eq!(live(&pings, floor), want_p);
    assert_eq!(
        stats
            .points()
            .into_iter()
            .filter(|(s, _)| *s > floor)
            .collect::<Vec<_>>(),
        want_s
    );
    // points_from decodes from the block holding the point before `seq`.
    let mid = want_p[want_p.len() / 2].0;
    let from = pings.points_from(mid);
    let at = from.iter().position(|(s, _)| *s == mid).unwrap();
    assert!(at >= 1, "the point before {mid} is missing");
    assert_eq!(&from[at..], &want_p[want_p.len() / 2..]);
    // Trimming everything leaves nothing, not even a block list.
    pings.trim(u64::MAX);
    assert!(pings.is_empty() && pings.points().is_empty());
    assert_eq!(pings.bytes(), 0);
    pings.push(seq + 100, PingValue::new(Some(2.0), 0));
    assert_eq!(pings.points(), vec![(seq + 100, PingValue::new(Some(2.0), 0))]);
}

#[test]
fn rtt_is_kept_at_ten_microseconds() {
    for (ms, back) in [(1.234_56, 1.23), (0.004, 0.0), (0.005, 0.01), (119_999.99, 119_999.99)] {
        let v = PingValue::new(Some(ms), 0);
        assert!(
            (f64::from(v.rtt_ms()) - back).abs() <= back * 1e-6 + 1e-6,
            "{ms} → {}",
            v.rtt_ms()
        );
    }
    assert!(PingValue::new(None, 2).rtt_ms().is_nan());
    assert!(PingValue::new(Some(f64::NAN), 2).rtt_ms().is_nan());
}

#[test]
fn a_steady_series_costs_a_few_bits_per_sample() {
    // One instance sampled every other round for an hour at 15 s (240 points), RTT around 1 ms
    // with ±0.3 ms of jitter; one endpoint under a steady load of about 10 requests a second.
    let mut g = Lcg(11);
    let mut pings: Packed<PingValue> = Packed::default();
    let mut stats: Packed<EndpointValue> = Packed::default();
    let mut e = EndpointValue {
        requests: 10_000,
        errors: 3,
        processing_ns: 10_000 * 50_000,
        segment: 0,
    };
    for i in 0..240u64 {
        pings.push(2 * i, PingValue::new(Some(0.7 + (g.next() % 60) as f64 / 100.0), 0));
        let n = 140 + g.next() % 20;
        e = EndpointValue {
            requests: e.requests + n,
            errors: e.errors,
            processing_ns: e.processing_ns + n * (45_000 + g.next() % 10_000),
            segment: 0,
        };
        stats.push(2 * i + 1, e);
    }
    let per_ping = pings.bytes() as f64 / 240.0;
    let per_endpoint = stats.bytes() as f64 / 240.0;
    assert!(per_ping <= 3.0, "{per_ping:.2} bytes per ping sample");
    assert!(per_endpoint <= 8.0, "{per_endpoint:.2} bytes per endpoint sample");
}
