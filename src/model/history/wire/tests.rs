//! Unit tests of the history messages: rounds survive encoding whole and in chunks, partial rounds, broken messages rejected, bytes per sample.
//!
//! Test code only: the parent module includes it as `#[cfg(test)] mod tests;`.
#![cfg(test)]

use super::*;

fn ping(i: usize) -> PingSample {
    PingSample {
        service: "orders".into(),
        id: format!("id{i:020}"),
        version: "1.0.0".into(),
        rtt_ms: (!i.is_multiple_of(3)).then_some(1.5),
        state: if i.is_multiple_of(3) { State::Gone } else { State::Up },
    }
}

fn stats(i: usize) -> StatsSample {
    StatsSample {
        service: "orders".into(),
        id: format!("id{i}"),
        version: "1.0.0".into(),
        started: i.is_multiple_of(2).then_some(1_700_000_000_000 + i as i64),
        endpoints: vec![EndpointSample {
            name: "get".into(),
            requests: 1 << 40,
            errors: 3,
            processing_ns: 123_456_789,
            data: vec![("queue.depth".into(), 7.25), ("inf".into(), 1.0)],
        }],
    }
}

fn owned(records: Records<&str>) -> Records {
    let s = |v: &str| v.to_string();
    match records {
        Records::Ping(v) => Records::Ping(
            v.into_iter()
                .map(|p| PingSample {
                    service: s(p.service),
                    id: s(p.id),
                    version: s(p.version),
                    rtt_ms: p.rtt_ms,
                    state: p.state,
                })
                .collect(),
        ),
        Records::Stats(v) => Records::Stats(
            v.into_iter()
                .map(|p| StatsSample {
                    service: s(p.service),
                    id: s(p.id),
                    version: s(p.version),
                    started: p.started,
                    endpoints: p
                        .endpoints
                        .into_iter()
                        .map(|e| EndpointSample {
                            name: s(e.name),
                            requests: e.requests,
                            errors: e.errors,
                            processing_ns: e.processing_ns,
                            data: e.data.into_iter().map(|(k, v)| (s(k), v)).collect(),
                        })
                        .collect(),
                })
                .collect(),
        ),
        Records::Probes(v) => Records::Probes(v),
    }
}

/// Every round of `messages`, with its records (owned) and its rejected messages.
fn decode_all(messages: &[Vec<u8>]) -> Vec<(Round<&Vec<u8>>, Records, usize)> {
    let mut a = Assembler::default();
    let rounds: Vec<_> = messages.iter().flat_map(|m| a.push(m).unwrap()).collect();
    rounds
        .into_iter()
        .map(|r| {
            let (records, rejected) = r.decode();
            let records = owned(records);
            (r, records, rejected)
        })
        .collect()
}

#[test]
fn rounds_survive_encoding_whole_and_in_chunks() {
    let pings = Records::Ping((0..500).map(ping).collect());
    let stats = Records::Stats((0..200).map(stats).collect());
    let probes = Records::Probes(vec![ProbeResult {
        name: "orders-get".into(),
        subject: String::new(),
        t_ms: -5,
        latency_ms: Some(2.5),
        success: true,
        state: State::Slow,
        code: Some(503),
        detail: String::new(),
    }]);
    for records in [pings, stats, probes] {
        for max in [usize::MAX, 1000] {
            let messages = encode(1_764_000_000_123, &records, max);
            assert!(max == usize::MAX || records.len() < 2 || messages.len() > 1);
            assert!(
                messages.iter().all(|m| m.len() <= max.saturating_add(32)),
                "chunk over its bound"
            );
            let rounds = decode_all(&messages);
            assert_eq!(rounds.len(), 1);
            let (round, got, rejected) = &rounds[0];
            assert_eq!(round.t, 1_764_000_000_123);
            assert!(!round.partial);
            assert_eq!((got, *rejected), (&records, 0));
        }
    }
}

#[test]
fn an_empty_round_is_one_message() {
    let messages = encode(42, &Records::<String>::Ping(Vec::new()), 1000);
    assert_eq!(messages.len(), 1);
    assert_eq!(decode_all(&messages)[0].1, Records::Ping(Vec::new()));
}

#[test]
fn a_round_missing_a_chunk_is_given_out_partial_when_the_next_round_comes() {
    let records = Records::Ping((0..300).map(ping).collect());
    let first = encode(1, &records, 2000);
    let second = encode(2, &records, 2000);
    assert!(first.len() >= 3);
    let mut a = Assembler::default();
    for m in &first[1..] {
        assert!(a.push(m).unwrap().is_empty());
    }
    assert_eq!(a.pending_messages(), first.len() - 1);
    let out = a.push(&second[0]).unwrap();
    assert_eq!(out.len(), 1);
    assert!(out[0].partial);
    assert_eq!(out[0].t, 1);
    let (got, rejected) = out[0].decode();
    assert_eq!(rejected, 0);
    assert!(!got.is_empty() && got.len() < 300);
    // The chunks that came, in chunk order.
    let Records::Ping(got) = owned(got) else {
        panic!("not a ping round")
    };
    let Records::Ping(want) = &records else { unreachable!() };
    assert_eq!(&got[..], &want[300 - got.len()..]);
}

#[test]
fn a_broken_chunk_is_skipped_and_counted_the_rest_of_its_round_kept() {
    let records = Records::Ping((0..300).map(ping).collect());
    let mut messages = encode(1, &records, 2000);
    let n = messages.len();
    let last = messages[1].len() - 1;
    messages[1].truncate(last);
    let rounds = decode_all(&messages);
    assert_eq!(rounds.len(), 1);
    let (round, got, rejected) = &rounds[0];
    assert!(!round.partial);
    assert_eq!((round.messages(), *rejected), (n, 1));
    assert!(
        got.len() < 300 && got.len() > 300 - 300 / (n - 1) - 2,
        "{} records",
        got.len()
    );
    // A message that is not ours at all is rejected by its header.
    assert!(Assembler::default().push(&b"{\"json\":1}".to_vec()).is_err());
}

#[test]
fn broken_messages_are_rejected_never_trusted() {
    let good = encode(7, &Records::Stats((0..3).map(stats).collect()), usize::MAX).remove(0);
    for cut in 0..good.len() {
        assert!(decode(&good[..cut]).is_err(), "a message cut at {cut} was accepted");
    }
    let mut extra = good.clone();
    extra.push(0);
    assert_eq!(decode(&extra), Err(WireError("trailing bytes")));
    // A record count far beyond the bytes: rejected before allocating.
    let mut huge = b"NMH\x02\x01\x02\x00\x01".to_vec();
    put_varint(&mut huge, u64::MAX >> 1);
    assert!(decode(&huge).is_err());
    assert_eq!(decode(b"{\"json\":1}"), Err(WireError("not a history message")));
    let mut bad_state = encode(1, &Records::Ping(vec![ping(1)]), usize::MAX).remove(0);
    let at = bad_state.len() - 5;
    bad_state[at] = 200;
    assert_eq!(decode(&bad_state), Err(WireError("unknown state code")));
}

#[test]
fn a_ping_sample_costs_its_id_plus_nine_bytes_once_its_names_were_used() {
    let one = encode(1, &Records::Ping(vec![ping(1)]), usize::MAX)[0].len();
    let two = encode(1, &Records::Ping(vec![ping(1), ping(2)]), usize::MAX)[0].len();
    let s = ping(2);
    // The id's tag and bytes, one byte each for service and version, state and RTT.
    assert_eq!(two - one, 1 + s.id.len() + 2 + 5);
    // Every string is a literal the first time.
    assert_eq!(
        one,
        3 + 1 + 1 + 3 + 1 + 3 + s.service.len() + s.id.len() + s.version.len() + 5
    );
}

#[test]
fn string_numbers_are_per_message_and_checked() {
    let records = Records::Ping((0..300).map(ping).collect());
    // Every chunk stands alone: decoding any one of them alone works.
    for m in encode(1, &records, 2000) {
        assert!(decode(&m).is_ok());
    }
    // A reference to a string the message never had is rejected.
    let mut bad = b"NMH\x02\x01\x02\x00\x01\x01".to_vec();
    bad.extend_from_slice(&[0x07, 0x03, 0x03, 0x00, 0, 0, 0, 0]);
    assert_eq!(decode(&bad), Err(WireError("unknown string number")));
}

#[test]
fn unfinished_rounds_hold_at_most_their_limit_and_are_given_out_as_partial() {
    let pings = Records::Ping((0..500).map(ping).collect());
    let messages = encode(1000, &pings, 1024);
    assert!(messages.len() > 8);
    let limit = messages[0].len() * 3;
    let mut a = Assembler::with_limit(limit);
    let mut out = Vec::new();
    for m in &messages[..6] {
        out.extend(a.push(m).unwrap());
        assert!(a.held_bytes() <= limit, "{} > {limit}", a.held_bytes());
    }
    assert!(!out.is_empty() && out.iter().all(|r| r.partial), "given out as partial");
}
