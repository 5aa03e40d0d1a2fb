//! The compact binary messages of the shared (JetStream) history: one sampling round of one verb per message (split in chunks above a size), encoded and decoded with bounds; pure, no I/O.
//!
//! A message is `magic "NMH"`, version `1`, kind (`1` ping, `2` stats, `3` probes), the round
//! time (zig-zag varint, Unix ms), the chunk index and count (varints), then the records of the
//! chunk. Strings are a varint length and UTF-8 bytes; counters are varints; RTT and latency are
//! `f32` (NaN = no reply); custom data leaves are `f64`. Every message stands on its own (no
//! dictionary in an earlier message that retention may have removed), so a window can be read
//! from any point of the stream.
//!
//! Decoding never trusts a length: every count and string is bounded by the bytes left and by
//! the limits below, and a message that breaks a rule is rejected whole with a reason.

use super::samples::{EndpointSample, PingSample, StatsSample};
use crate::model::leaves::MAX_DATA_LEAVES;
use crate::model::probe::ProbeResult;
use crate::model::state::State;

const MAGIC: &[u8; 3] = b"NMH";
const VERSION: u8 = 1;
/// Longest string a record may hold (names, ids, versions, leaf paths).
const MAX_STRING: usize = 4096;
/// Most endpoints one stats record may list.
const MAX_ENDPOINTS: usize = 4096;
/// Most chunks one round may be split into.
pub const MAX_CHUNKS: u64 = 4096;

/// What a message holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    Ping,
    Stats,
    Probes,
}

impl Kind {
    fn code(self) -> u8 {
        match self {
            Kind::Ping => 1,
            Kind::Stats => 2,
            Kind::Probes => 3,
        }
    }

    /// The last subject token of messages of this kind.
    pub fn token(self) -> &'static str {
        match self {
            Kind::Ping => "ping",
            Kind::Stats => "stats",
            Kind::Probes => "probes",
        }
    }
}

/// The records of one round (or of one chunk of it).
#[derive(Clone, Debug, PartialEq)]
pub enum Records {
    Ping(Vec<PingSample>),
    Stats(Vec<StatsSample>),
    Probes(Vec<ProbeResult>),
}

impl Records {
    pub fn kind(&self) -> Kind {
        match self {
            Records::Ping(_) => Kind::Ping,
            Records::Stats(_) => Kind::Stats,
            Records::Probes(_) => Kind::Probes,
        }
    }

    fn len(&self) -> usize {
        match self {
            Records::Ping(v) => v.len(),
            Records::Stats(v) => v.len(),
            Records::Probes(v) => v.len(),
        }
    }

    fn extend(&mut self, other: Records) {
        match (self, other) {
            (Records::Ping(a), Records::Ping(b)) => a.extend(b),
            (Records::Stats(a), Records::Stats(b)) => a.extend(b),
            (Records::Probes(a), Records::Probes(b)) => a.extend(b),
            _ => {}
        }
    }
}

impl super::History {
    /// Record one round of any kind taken at `t` (probe results carry their own times).
    pub fn ingest_records(&mut self, t: i64, records: &Records) {
        match records {
            Records::Ping(samples) => self.ingest_ping(t, samples),
            Records::Stats(samples) => self.ingest_stats(t, samples),
            Records::Probes(results) => self.ingest_probes(results),
        }
    }
}

/// One decoded message.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    pub t: i64,
    pub index: u64,
    pub count: u64,
    pub records: Records,
}

/// Why a message was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("history message rejected: {0}")]
pub struct WireError(pub &'static str);

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    let s = truncate(s, MAX_STRING);
    put_varint(out, s.len() as u64);
    out.extend_from_slice(s.as_bytes());
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

fn ping_record(out: &mut Vec<u8>, s: &PingSample) {
    put_str(out, &s.service);
    put_str(out, &s.id);
    put_str(out, &s.version);
    out.push(s.state.code());
    let rtt = s.rtt_ms.map_or(f32::NAN, |v| v as f32);
    out.extend_from_slice(&rtt.to_le_bytes());
}

fn stats_record(out: &mut Vec<u8>, s: &StatsSample) {
    put_str(out, &s.service);
    put_str(out, &s.id);
    put_str(out, &s.version);
    match s.started {
        Some(t) => {
            out.push(1);
            put_varint(out, zigzag(t));
        }
        None => out.push(0),
    }
    let endpoints = &s.endpoints[..s.endpoints.len().min(MAX_ENDPOINTS)];
    put_varint(out, endpoints.len() as u64);
    for e in endpoints {
        put_str(out, &e.name);
        put_varint(out, e.requests);
        put_varint(out, e.errors);
        put_varint(out, e.processing_ns);
        let data = &e.data[..e.data.len().min(MAX_DATA_LEAVES)];
        put_varint(out, data.len() as u64);
        for (path, v) in data {
            put_str(out, path);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

fn probe_record(out: &mut Vec<u8>, r: &ProbeResult) {
    put_str(out, &r.name);
    put_varint(out, zigzag(r.t_ms));
    let latency = r.latency_ms.map_or(f32::NAN, |v| v as f32);
    out.extend_from_slice(&latency.to_le_bytes());
    out.push(r.state.code());
    out.push(u8::from(r.success));
    put_varint(out, u64::from(r.code.unwrap_or(0)));
}

/// Encode one round as messages of at most about `max_bytes` each (a single record larger than
/// that gets a message of its own). An empty round is one message with no records, so readers
/// still see that the round happened.
pub fn encode(t: i64, records: &Records, max_bytes: usize) -> Vec<Vec<u8>> {
    let mut bodies: Vec<Vec<u8>> = vec![Vec::new()];
    let mut counts: Vec<u64> = vec![0];
    let mut one = Vec::new();
    let mut push = |write: &dyn Fn(&mut Vec<u8>)| {
        one.clear();
        write(&mut one);
        let last = bodies.len() - 1;
        if !bodies[last].is_empty() && bodies[last].len() + one.len() > max_bytes {
            bodies.push(Vec::new());
            counts.push(0);
        }
        let last = bodies.len() - 1;
        bodies[last].extend_from_slice(&one);
        counts[last] += 1;
    };
    match records {
        Records::Ping(v) => v.iter().for_each(|s| push(&|o| ping_record(o, s))),
        Records::Stats(v) => v.iter().for_each(|s| push(&|o| stats_record(o, s))),
        Records::Probes(v) => v.iter().for_each(|r| push(&|o| probe_record(o, r))),
    }
    let n = bodies.len() as u64;
    bodies
        .into_iter()
        .zip(counts)
        .enumerate()
        .map(|(i, (body, records_in))| {
            let mut out = Vec::with_capacity(body.len() + 24);
            out.extend_from_slice(MAGIC);
            out.push(VERSION);
            out.push(records.kind().code());
            put_varint(&mut out, zigzag(t));
            put_varint(&mut out, i as u64);
            put_varint(&mut out, n);
            put_varint(&mut out, records_in);
            out.extend_from_slice(&body);
            out
        })
        .collect()
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Result<u8, WireError> {
        let (&b, rest) = self.bytes.split_first().ok_or(WireError("truncated"))?;
        self.bytes = rest;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.bytes.len() {
            return Err(WireError("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn varint(&mut self) -> Result<u64, WireError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(WireError("varint too long"))
    }

    /// A count of items that each take at least `min_bytes`: never more than the bytes left allow.
    fn count(&mut self, min_bytes: usize, max: usize) -> Result<usize, WireError> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| WireError("count too large"))?;
        if n > max || n.saturating_mul(min_bytes) > self.bytes.len() {
            return Err(WireError("count larger than the message"));
        }
        Ok(n)
    }

    fn string(&mut self) -> Result<String, WireError> {
        let n = self.count(1, MAX_STRING)?;
        let raw = self.take(n)?;
        std::str::from_utf8(raw)
            .map(str::to_string)
            .map_err(|_| WireError("string is not UTF-8"))
    }

    fn f32(&mut self) -> Result<f32, WireError> {
        let raw = self.take(4)?;
        Ok(f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
    }

    fn f64(&mut self) -> Result<f64, WireError> {
        let raw = self.take(8)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(raw);
        Ok(f64::from_le_bytes(b))
    }

    fn state(&mut self) -> Result<State, WireError> {
        State::from_code(self.byte()?).ok_or(WireError("unknown state code"))
    }
}

fn finite(v: f32) -> Option<f64> {
    v.is_finite().then_some(f64::from(v))
}

fn read_ping(r: &mut Reader<'_>) -> Result<PingSample, WireError> {
    Ok(PingSample {
        service: r.string()?,
        id: r.string()?,
        version: r.string()?,
        state: r.state()?,
        rtt_ms: finite(r.f32()?),
    })
}

fn read_stats(r: &mut Reader<'_>) -> Result<StatsSample, WireError> {
    let (service, id, version) = (r.string()?, r.string()?, r.string()?);
    let started = match r.byte()? {
        0 => None,
        1 => Some(unzigzag(r.varint()?)),
        _ => return Err(WireError("bad started flag")),
    };
    let n = r.count(5, MAX_ENDPOINTS)?;
    let mut endpoints = Vec::with_capacity(n);
    for _ in 0..n {
        let name = r.string()?;
        let (requests, errors, processing_ns) = (r.varint()?, r.varint()?, r.varint()?);
        let leaves = r.count(9, MAX_DATA_LEAVES)?;
        let mut data = Vec::with_capacity(leaves);
        for _ in 0..leaves {
            let path = r.string()?;
            let v = r.f64()?;
            if v.is_finite() {
                data.push((path, v));
            }
        }
        endpoints.push(EndpointSample {
            name,
            requests,
            errors,
            processing_ns,
            data,
        });
    }
    Ok(StatsSample {
        service,
        id,
        version,
        started,
        endpoints,
    })
}

fn read_probe(r: &mut Reader<'_>) -> Result<ProbeResult, WireError> {
    let name = r.string()?;
    let t_ms = unzigzag(r.varint()?);
    let latency_ms = finite(r.f32()?);
    let state = r.state()?;
    let success = r.byte()? == 1;
    let code = u16::try_from(r.varint()?).map_err(|_| WireError("service-error code too large"))?;
    Ok(ProbeResult {
        name,
        subject: String::new(),
        t_ms,
        latency_ms,
        success,
        state,
        code: (code != 0).then_some(code),
        detail: String::new(),
    })
}

/// Decode one message; a message that breaks any rule is rejected whole.
pub fn decode(bytes: &[u8]) -> Result<Chunk, WireError> {
    let mut r = Reader { bytes };
    if r.take(3)? != MAGIC {
        return Err(WireError("not a history message"));
    }
    if r.byte()? != VERSION {
        return Err(WireError("unknown version"));
    }
    let kind = match r.byte()? {
        1 => Kind::Ping,
        2 => Kind::Stats,
        3 => Kind::Probes,
        _ => return Err(WireError("unknown kind")),
    };
    let t = unzigzag(r.varint()?);
    let (index, count) = (r.varint()?, r.varint()?);
    if count == 0 || count > MAX_CHUNKS || index >= count {
        return Err(WireError("bad chunk index"));
    }
    let n = r.count(5, usize::MAX)?;
    let records = match kind {
        Kind::Ping => Records::Ping((0..n).map(|_| read_ping(&mut r)).collect::<Result<_, _>>()?),
        Kind::Stats => Records::Stats((0..n).map(|_| read_stats(&mut r)).collect::<Result<_, _>>()?),
        Kind::Probes => Records::Probes((0..n).map(|_| read_probe(&mut r)).collect::<Result<_, _>>()?),
    };
    if !r.bytes.is_empty() {
        return Err(WireError("trailing bytes"));
    }
    Ok(Chunk {
        t,
        index,
        count,
        records,
    })
}

/// A round put together from its chunks, in stream order.
#[derive(Clone, Debug, PartialEq)]
pub struct Round {
    pub t: i64,
    pub records: Records,
    /// Some chunks never came (a newer round of the same kind came first).
    pub partial: bool,
}

/// Puts rounds together from chunks. Holds at most one unfinished round per kind: when a chunk
/// of a newer round arrives, the unfinished one is given out as partial.
#[derive(Debug, Default)]
pub struct Assembler {
    pending: Vec<(Kind, i64, u64, Vec<bool>, Records)>,
}

impl Assembler {
    /// Add one chunk; returns the rounds it completes (a partial older one, then this one).
    pub fn push(&mut self, chunk: Chunk) -> Vec<Round> {
        let kind = chunk.records.kind();
        let mut out = Vec::new();
        if let Some(i) = self
            .pending
            .iter()
            .position(|p| p.0 == kind && (p.1 != chunk.t || p.2 != chunk.count))
        {
            let (_, t, _, _, records) = self.pending.swap_remove(i);
            out.push(Round {
                t,
                records,
                partial: true,
            });
        }
        if chunk.count == 1 {
            out.push(Round {
                t: chunk.t,
                records: chunk.records,
                partial: false,
            });
            return out;
        }
        let i = match self.pending.iter().position(|p| p.0 == kind) {
            Some(i) => i,
            None => {
                let seen = vec![false; usize::try_from(chunk.count).unwrap_or(0)];
                let empty = match kind {
                    Kind::Ping => Records::Ping(Vec::new()),
                    Kind::Stats => Records::Stats(Vec::new()),
                    Kind::Probes => Records::Probes(Vec::new()),
                };
                self.pending.push((kind, chunk.t, chunk.count, seen, empty));
                self.pending.len() - 1
            }
        };
        let entry = &mut self.pending[i];
        let index = usize::try_from(chunk.index).unwrap_or(usize::MAX);
        if entry.3.get(index).copied() == Some(false) {
            entry.3[index] = true;
            entry.4.extend(chunk.records);
        }
        if entry.3.iter().all(|s| *s) {
            let (_, t, _, _, records) = self.pending.swap_remove(i);
            out.push(Round {
                t,
                records,
                partial: false,
            });
        }
        out
    }

    /// Records held in unfinished rounds.
    pub fn pending_records(&self) -> usize {
        self.pending.iter().map(|p| p.4.len()).sum()
    }
}

#[cfg(test)]
mod tests;
