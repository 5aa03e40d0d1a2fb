//! A checkpoint of a whole history: its packed series copied as they are, with where it stands in the stream it was read from, so that a fresh process loads one checkpoint and reads only the rounds after it instead of the whole window; encoded and decoded with bounds, pure, no I/O.
//!
//! The body is `magic "NMK"`, version `1`, the [`Mark`], then the history: the ledger (round
//! times as deltas), every instance with its packed ping and endpoint blocks (bits copied as
//! the store holds them, so a sample costs what it costs in memory), custom data points, the
//! events and the probe series. Numbers are varints, strings are numbered as in the round
//! messages ([`super::wire`]). Decoding never trusts a count or a length, rebuilds each packed
//! series through [`Packed::from_raw`] (which checks its blocks), recounts the accounted bytes,
//! and rejects the checkpoint whole when any rule is broken: the reader then reads the window
//! from the stream instead.

use std::collections::{BTreeMap, VecDeque};

use super::codecs::{EndpointValue, PingValue};
use super::data::DataPoint;
use super::packed::{Codec, Packed, RawBlock};
use super::probes::ProbePoint;
use super::samples::PingSample;
use super::wire::{reader, unzigzag, zigzag, Body, Kind, Reader, WireError};
use super::{Event, EventKind, History, InstanceHistory, MAX_EVENTS};
use crate::model::state::State;

const MAGIC: &[u8; 3] = b"NMK";
const VERSION: u8 = 1;
/// Fewest rounds between two checkpoints (a young history is cheap to read from the stream).
pub const MIN_ROUNDS_BETWEEN: usize = 16;
/// Most bytes one packed block's bits may take (far above what its at most 120 points can need).
const MAX_BLOCK_BYTES: usize = 16 << 10;

/// Where a checkpoint stands in the stream: the sequence of the last message it holds, the
/// latest round time of each kind (older rounds after it are dropped as out of order), and
/// the retention it was kept under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    pub sequence: u64,
    pub latest: Vec<(Kind, i64)>,
    pub retention_ms: i64,
}

/// Whether a new checkpoint is due: after an eighth of the rounds held have come since the
/// last one (so a fresh process reads at most about an eighth of the window from the stream),
/// and never more often than every [`MIN_ROUNDS_BETWEEN`] rounds.
pub fn due(rounds_since: usize, rounds_held: usize) -> bool {
    rounds_since >= MIN_ROUNDS_BETWEEN.max(rounds_held / 8)
}

fn kind_code(k: Kind) -> u8 {
    match k {
        Kind::Ping => 1,
        Kind::Stats => 2,
        Kind::Probes => 3,
    }
}

fn event_code(k: EventKind) -> u8 {
    match k {
        EventKind::Appeared => 1,
        EventKind::Disappeared => 2,
        EventKind::Restarted => 3,
        EventKind::VersionChanged => 4,
    }
}

/// Most items reserved ahead from a count the checkpoint states: a count is bounded by the bytes
/// left, but an item in memory is larger than its least encoding (up to 12×), so memory grows
/// with what is actually decoded, not with what a count claims.
const PREALLOCATE: usize = 4096;

fn put_packed<'r, C: Codec>(b: &mut Body<'r>, series: &'r Packed<C>) {
    let blocks: Vec<RawBlock<&[u8]>> = series.raw_blocks().collect();
    b.varint(blocks.len() as u64);
    for r in blocks {
        b.varint(r.first_seq);
        b.varint(r.last_seq - r.first_seq);
        b.varint(u64::from(r.n));
        b.varint(u64::from(r.bits));
        b.bytes.extend_from_slice(r.bytes);
    }
}

fn read_packed<C: Codec>(r: &mut Reader<'_>) -> Result<Packed<C>, WireError> {
    let n = r.count(4, usize::MAX)?;
    let mut raw = Vec::with_capacity(n.min(PREALLOCATE));
    for _ in 0..n {
        let first_seq = r.varint()?;
        let last_seq = first_seq
            .checked_add(r.varint()?)
            .ok_or(WireError("block rounds overflow"))?;
        let points = u16::try_from(r.varint()?).map_err(|_| WireError("block too large"))?;
        let bits = u32::try_from(r.varint()?).map_err(|_| WireError("block too large"))?;
        let len = (bits as usize).div_ceil(8);
        if len > MAX_BLOCK_BYTES {
            return Err(WireError("block too large"));
        }
        raw.push(RawBlock {
            first_seq,
            last_seq,
            n: points,
            bits,
            bytes: r.take(len)?.to_vec(),
        });
    }
    Packed::from_raw(raw).ok_or(WireError("a packed series breaks the store's rules"))
}

fn put_time<'r>(b: &mut Body<'r>, t: Option<i64>) {
    match t {
        Some(t) => {
            b.bytes.push(1);
            b.varint(zigzag(t));
        }
        None => b.bytes.push(0),
    }
}

fn read_time(r: &mut Reader<'_>) -> Result<Option<i64>, WireError> {
    match r.byte()? {
        0 => Ok(None),
        1 => Ok(Some(unzigzag(r.varint()?))),
        _ => Err(WireError("bad time flag")),
    }
}

impl History {
    /// This whole history as one checkpoint body, standing at `mark`.
    pub fn checkpoint(&self, mark: &Mark) -> Vec<u8> {
        let mut b = Body::new();
        b.bytes.extend_from_slice(MAGIC);
        b.bytes.push(VERSION);
        b.varint(mark.sequence);
        b.varint(mark.latest.len() as u64);
        for (k, t) in &mark.latest {
            b.bytes.push(kind_code(*k));
            b.varint(zigzag(*t));
        }
        b.varint(zigzag(mark.retention_ms));
        b.varint(self.first_seq);
        b.varint(self.ledger.len() as u64);
        let mut prev = 0i64;
        for t in &self.ledger {
            b.varint(zigzag(t.wrapping_sub(prev)));
            prev = *t;
        }
        b.varint(self.ping_rounds);
        put_time(&mut b, self.truncated_through);
        b.varint(self.dropped_samples);
        b.varint(self.instances.len() as u64);
        for i in self.instances.values() {
            b.string(&i.service);
            b.string(&i.id);
            b.string(&i.version);
            b.bytes
                .push(u8::from(i.up) | u8::from(i.replaced) << 1 | u8::from(i.pinged) << 2);
            put_time(&mut b, i.started);
            b.varint(u64::from(i.segment));
            put_packed(&mut b, &i.packed_pings);
            b.varint(i.packed_endpoints.len() as u64);
            for (name, series) in &i.packed_endpoints {
                b.string(name);
                put_packed(&mut b, series);
            }
            b.varint(i.data.len() as u64);
            for ((endpoint, path), points) in &i.data {
                b.string(endpoint);
                b.string(path);
                b.varint(points.len() as u64);
                for p in points {
                    b.varint(zigzag(p.t));
                    b.bytes.extend_from_slice(&p.value.to_le_bytes());
                    b.varint(u64::from(p.segment));
                }
            }
        }
        b.varint(self.events.len() as u64);
        for e in &self.events {
            b.varint(zigzag(e.t));
            b.bytes.push(event_code(e.kind));
            b.string(&e.service);
            b.string(&e.id);
            b.string(&e.title);
            b.string(&e.text);
        }
        b.varint(self.probes.len() as u64);
        for (name, points) in &self.probes {
            b.string(name);
            b.varint(points.len() as u64);
            for p in points {
                b.varint(zigzag(p.t));
                b.bytes.extend_from_slice(&p.latency.to_le_bytes());
                b.bytes.push(p.state);
                b.bytes.push(u8::from(p.success));
                b.varint(u64::from(p.code));
            }
        }
        b.bytes
    }

    /// A history read back from a checkpoint body, kept under `retention_ms` and `budget` from
    /// now on (what does not fit them is dropped at once), and where it stands in the stream.
    pub fn restore(bytes: &[u8], retention_ms: i64, budget: usize) -> Result<(History, Mark), WireError> {
        let mut r = reader(bytes);
        if r.take(3)? != MAGIC {
            return Err(WireError("not a checkpoint"));
        }
        if r.byte()? != VERSION {
            return Err(WireError("unknown checkpoint version"));
        }
        let sequence = r.varint()?;
        let kinds = r.count(2, 3)?;
        let mut latest = Vec::with_capacity(kinds);
        for _ in 0..kinds {
            let kind = match r.byte()? {
                1 => Kind::Ping,
                2 => Kind::Stats,
                3 => Kind::Probes,
                _ => return Err(WireError("unknown kind")),
            };
            latest.push((kind, unzigzag(r.varint()?)));
        }
        let mark = Mark {
            sequence,
            latest,
            retention_ms: unzigzag(r.varint()?),
        };
        let mut h = History::new(retention_ms, budget);
        h.first_seq = r.varint()?;
        let rounds = r.count(1, usize::MAX)?;
        let mut t = 0i64;
        for _ in 0..rounds {
            t = t.wrapping_add(unzigzag(r.varint()?));
            if h.ledger.back().is_some_and(|last| *last > t) {
                return Err(WireError("round times go back"));
            }
            h.ledger.push_back(t);
        }
        h.ping_rounds = r.varint()?;
        h.truncated_through = read_time(&mut r)?;
        h.dropped_samples = r.varint()?;
        let instances = r.count(8, usize::MAX)?;
        for _ in 0..instances {
            let i = read_instance(&mut r)?;
            h.up += usize::from(i.up);
            h.instances.insert((i.service.clone(), i.id.clone()), i);
        }
        let events = r.count(7, MAX_EVENTS)?;
        for _ in 0..events {
            let t = unzigzag(r.varint()?);
            let kind = match r.byte()? {
                1 => EventKind::Appeared,
                2 => EventKind::Disappeared,
                3 => EventKind::Restarted,
                4 => EventKind::VersionChanged,
                _ => return Err(WireError("unknown event kind")),
            };
            let (service, id, title, text) = (r.string()?, r.string()?, r.string()?, r.string()?);
            h.events.push_back(Event {
                t,
                kind,
                service: service.to_string(),
                id: id.to_string(),
                title: title.to_string(),
                text: text.to_string(),
            });
        }
        let probes = r.count(2, usize::MAX)?;
        for _ in 0..probes {
            let name = r.string()?.to_string();
            let n = r.count(8, usize::MAX)?;
            let mut points = VecDeque::with_capacity(n.min(PREALLOCATE));
            for _ in 0..n {
                let t = unzigzag(r.varint()?);
                let latency = r.f32()?;
                let state = r.byte()?;
                State::from_code(state).ok_or(WireError("unknown state code"))?;
                let success = r.byte()? == 1;
                let code = u16::try_from(r.varint()?).map_err(|_| WireError("service-error code too large"))?;
                points.push_back(ProbePoint {
                    t,
                    latency,
                    state,
                    success,
                    code,
                });
            }
            h.probes.insert(name, points);
        }
        if !r.bytes.is_empty() {
            return Err(WireError("trailing bytes"));
        }
        h.bytes = h.recount();
        h.reconfigure(retention_ms, budget);
        Ok((h, mark))
    }

    /// The newest ping round the history holds, as samples (who answered it and who was known
    /// but silent), and its time: what teaches discovery whom to expect after a restore.
    pub fn latest_ping_round(&self) -> Option<(i64, Vec<PingSample<&str>>)> {
        let seq = self
            .instances
            .values()
            .filter_map(|i| i.packed_pings.last().map(|(s, _)| s))
            .max()?;
        let t = self.time_of(seq)?;
        let samples = self
            .instances
            .values()
            .filter_map(|i| {
                let (s, v) = i.packed_pings.last()?;
                (s == seq).then(|| PingSample {
                    service: i.service.as_str(),
                    id: i.id.as_str(),
                    version: i.version.as_str(),
                    rtt_ms: Some(f64::from(v.rtt_ms())).filter(|r| !r.is_nan()),
                    state: State::from_code(v.state).unwrap_or(State::Unresponsive),
                })
            })
            .collect();
        Some((t, samples))
    }
}

fn read_instance(r: &mut Reader<'_>) -> Result<InstanceHistory, WireError> {
    let (service, id, version) = (r.string()?, r.string()?, r.string()?);
    let flags = r.byte()?;
    let started = read_time(r)?;
    let segment = u32::try_from(r.varint()?).map_err(|_| WireError("segment too large"))?;
    let packed_pings = read_packed::<PingValue>(r)?;
    let endpoints = r.count(2, usize::MAX)?;
    let mut packed_endpoints = BTreeMap::new();
    for _ in 0..endpoints {
        let name = r.string()?.to_string();
        packed_endpoints.insert(name, read_packed::<EndpointValue>(r)?);
    }
    let series = r.count(3, usize::MAX)?;
    let mut data = BTreeMap::new();
    for _ in 0..series {
        let (endpoint, path) = (r.string()?.to_string(), r.string()?.to_string());
        let n = r.count(10, usize::MAX)?;
        let mut points = VecDeque::with_capacity(n.min(PREALLOCATE));
        for _ in 0..n {
            let t = unzigzag(r.varint()?);
            let value = r.f64()?;
            let segment = u32::try_from(r.varint()?).map_err(|_| WireError("segment too large"))?;
            points.push_back(DataPoint { t, value, segment });
        }
        data.insert((endpoint, path), points);
    }
    Ok(InstanceHistory {
        service: service.to_string(),
        id: id.to_string(),
        version: version.to_string(),
        packed_pings,
        packed_endpoints,
        data,
        started,
        segment,
        up: flags & 1 != 0,
        replaced: flags & 2 != 0,
        pinged: flags & 4 != 0,
        ..InstanceHistory::default()
    })
}

#[cfg(test)]
mod tests;
