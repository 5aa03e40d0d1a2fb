//! The compact binary messages of the shared (JetStream) history: one sampling round of one verb per message (split in chunks above a size), encoded and decoded with bounds; pure, no I/O.
//!
//! A message is `magic "NMH"`, version `2`, kind (`1` ping, `2` stats, `3` probes), the round
//! time (zig-zag varint, Unix ms), the chunk index and count (varints), then the records of the
//! chunk. Counters are varints; RTT and latency are `f32` (NaN = no reply); custom data leaves
//! are `f64`. A string is a varint tag: `len << 1` followed by that many UTF-8 bytes (a literal,
//! which takes the message's next string number), or `number << 1 | 1` (the same string as an
//! earlier literal of this message), so service names, versions and endpoint names cost a byte
//! after their first use. Every message stands on its own (no dictionary in an earlier message
//! that retention may have removed), so a window can be read from any point of the stream.
//!
//! Decoding borrows its strings from the message (no copy per sample) and never trusts a
//! length: every count and string is bounded by the bytes left and by the limits below, and a
//! message that breaks a rule is rejected whole with a reason.

use std::collections::HashMap;

use super::samples::{EndpointSample, PingSample, StatsSample};

mod assemble;
use crate::model::leaves::MAX_DATA_LEAVES;
use crate::model::probe::ProbeResult;
use crate::model::state::State;
pub use assemble::{Assembler, Round};

const MAGIC: &[u8; 3] = b"NMH";
const VERSION: u8 = 2;
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

/// The records of one round (or of one chunk of it); strings owned (`String`) when built by the
/// sampler, borrowed (`&str`) when decoded from a message.
#[derive(Clone, Debug, PartialEq)]
pub enum Records<S = String> {
    Ping(Vec<PingSample<S>>),
    Stats(Vec<StatsSample<S>>),
    Probes(Vec<ProbeResult>),
}

impl<S> Records<S> {
    pub fn kind(&self) -> Kind {
        match self {
            Records::Ping(_) => Kind::Ping,
            Records::Stats(_) => Kind::Stats,
            Records::Probes(_) => Kind::Probes,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Records::Ping(v) => v.len(),
            Records::Stats(v) => v.len(),
            Records::Probes(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn empty(kind: Kind) -> Self {
        match kind {
            Kind::Ping => Records::Ping(Vec::new()),
            Kind::Stats => Records::Stats(Vec::new()),
            Kind::Probes => Records::Probes(Vec::new()),
        }
    }

    fn extend(&mut self, other: Records<S>) {
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
    pub fn ingest_records<S: AsRef<str>>(&mut self, t: i64, records: &Records<S>) {
        self.ingest_round(t, records, true);
    }

    /// [`History::ingest_records`] of a round that may be incomplete (chunks missing): the
    /// instances of its missing chunks are unknown for it, not down.
    pub fn ingest_round<S: AsRef<str>>(&mut self, t: i64, records: &Records<S>, complete: bool) {
        match records {
            Records::Ping(samples) => self.ingest_ping_round(t, samples, complete),
            Records::Stats(samples) => self.ingest_stats(t, samples),
            Records::Probes(results) => self.ingest_probes(results),
        }
    }
}

/// The fixed start of a message: what it holds and which chunk of which round it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub t: i64,
    pub index: u64,
    pub count: u64,
}

/// One decoded message, its strings borrowed from the message's bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk<'a> {
    pub header: Header,
    pub records: Records<&'a str>,
}

/// Why a message was rejected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("history message rejected: {0}")]
pub struct WireError(pub &'static str);

pub(super) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
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

pub(super) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(super) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// The body of one message being written: its records and its string numbers.
pub(super) struct Body<'r> {
    pub(super) bytes: Vec<u8>,
    records: u64,
    strings: HashMap<&'r str, u64>,
    /// Strings in the order they were numbered (to take back a record that did not fit).
    order: Vec<&'r str>,
}

impl<'r> Body<'r> {
    pub(super) fn new() -> Self {
        Self {
            bytes: Vec::new(),
            records: 0,
            strings: HashMap::new(),
            order: Vec::new(),
        }
    }

    pub(super) fn varint(&mut self, v: u64) {
        put_varint(&mut self.bytes, v);
    }

    pub(super) fn string(&mut self, s: &'r str) {
        let s = truncate(s, MAX_STRING);
        if let Some(n) = self.strings.get(s) {
            put_varint(&mut self.bytes, n << 1 | 1);
            return;
        }
        put_varint(&mut self.bytes, (s.len() as u64) << 1);
        self.bytes.extend_from_slice(s.as_bytes());
        self.strings.insert(s, self.order.len() as u64);
        self.order.push(s);
    }

    /// Undo everything written after `bytes` bytes and `strings` strings.
    fn rewind(&mut self, bytes: usize, strings: usize) {
        self.bytes.truncate(bytes);
        for s in self.order.drain(strings..) {
            self.strings.remove(s);
        }
    }

    fn ping<S: AsRef<str>>(&mut self, s: &'r PingSample<S>) {
        self.string(s.service.as_ref());
        self.string(s.id.as_ref());
        self.string(s.version.as_ref());
        self.bytes.push(s.state.code());
        let rtt = s.rtt_ms.map_or(f32::NAN, |v| v as f32);
        self.bytes.extend_from_slice(&rtt.to_le_bytes());
    }

    fn stats<S: AsRef<str>>(&mut self, s: &'r StatsSample<S>) {
        self.string(s.service.as_ref());
        self.string(s.id.as_ref());
        self.string(s.version.as_ref());
        match s.started {
            Some(t) => {
                self.bytes.push(1);
                self.varint(zigzag(t));
            }
            None => self.bytes.push(0),
        }
        let endpoints = &s.endpoints[..s.endpoints.len().min(MAX_ENDPOINTS)];
        self.varint(endpoints.len() as u64);
        for e in endpoints {
            self.string(e.name.as_ref());
            self.varint(e.requests);
            self.varint(e.errors);
            self.varint(e.processing_ns);
            let leaves = &e.data[..e.data.len().min(MAX_DATA_LEAVES)];
            self.varint(leaves.len() as u64);
            for (path, v) in leaves {
                self.string(path.as_ref());
                self.bytes.extend_from_slice(&v.to_le_bytes());
            }
        }
    }

    fn probe(&mut self, r: &'r ProbeResult) {
        self.string(&r.name);
        self.varint(zigzag(r.t_ms));
        let latency = r.latency_ms.map_or(f32::NAN, |v| v as f32);
        self.bytes.extend_from_slice(&latency.to_le_bytes());
        self.bytes.push(r.state.code());
        self.bytes.push(u8::from(r.success));
        self.varint(u64::from(r.code.unwrap_or(0)));
    }
}

/// Encode one round as messages of at most about `max_bytes` each (a single record larger than
/// that gets a message of its own). An empty round is one message with no records, so readers
/// still see that the round happened.
pub fn encode<'r, S: AsRef<str>>(t: i64, records: &'r Records<S>, max_bytes: usize) -> Vec<Vec<u8>> {
    let mut bodies: Vec<Body<'r>> = vec![Body::new()];
    let mut push = |write: &dyn Fn(&mut Body<'r>)| {
        let mut last = bodies.len() - 1;
        let (bytes, strings) = (bodies[last].bytes.len(), bodies[last].order.len());
        write(&mut bodies[last]);
        if bodies[last].records > 0 && bodies[last].bytes.len() > max_bytes {
            bodies[last].rewind(bytes, strings);
            bodies.push(Body::new());
            last += 1;
            write(&mut bodies[last]);
        }
        bodies[last].records += 1;
    };
    match records {
        Records::Ping(v) => v.iter().for_each(|s| push(&|b| b.ping(s))),
        Records::Stats(v) => v.iter().for_each(|s| push(&|b| b.stats(s))),
        Records::Probes(v) => v.iter().for_each(|r| push(&|b| b.probe(r))),
    }
    let n = bodies.len() as u64;
    bodies
        .into_iter()
        .enumerate()
        .map(|(i, body)| {
            let mut out = Vec::with_capacity(body.bytes.len() + 24);
            out.extend_from_slice(MAGIC);
            out.push(VERSION);
            out.push(records.kind().code());
            put_varint(&mut out, zigzag(t));
            put_varint(&mut out, i as u64);
            put_varint(&mut out, n);
            put_varint(&mut out, body.records);
            out.extend_from_slice(&body.bytes);
            out
        })
        .collect()
}

pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
    /// The message's literals so far, by number.
    strings: Vec<&'a str>,
}

impl<'a> Reader<'a> {
    pub(super) fn byte(&mut self) -> Result<u8, WireError> {
        let (&b, rest) = self.bytes.split_first().ok_or(WireError("truncated"))?;
        self.bytes = rest;
        Ok(b)
    }

    pub(super) fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if n > self.bytes.len() {
            return Err(WireError("truncated"));
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    pub(super) fn varint(&mut self) -> Result<u64, WireError> {
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
    pub(super) fn count(&mut self, min_bytes: usize, max: usize) -> Result<usize, WireError> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| WireError("count too large"))?;
        if n > max || n.saturating_mul(min_bytes) > self.bytes.len() {
            return Err(WireError("count larger than the message"));
        }
        Ok(n)
    }

    pub(super) fn string(&mut self) -> Result<&'a str, WireError> {
        let tag = self.varint()?;
        let n = usize::try_from(tag >> 1).map_err(|_| WireError("string too long"))?;
        if tag & 1 == 1 {
            return self.strings.get(n).copied().ok_or(WireError("unknown string number"));
        }
        if n > MAX_STRING {
            return Err(WireError("string too long"));
        }
        let s = std::str::from_utf8(self.take(n)?).map_err(|_| WireError("string is not UTF-8"))?;
        self.strings.push(s);
        Ok(s)
    }

    pub(super) fn f32(&mut self) -> Result<f32, WireError> {
        let raw = self.take(4)?;
        Ok(f32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]))
    }

    pub(super) fn f64(&mut self) -> Result<f64, WireError> {
        let raw = self.take(8)?;
        let mut b = [0u8; 8];
        b.copy_from_slice(raw);
        Ok(f64::from_le_bytes(b))
    }

    fn state(&mut self) -> Result<State, WireError> {
        State::from_code(self.byte()?).ok_or(WireError("unknown state code"))
    }

    fn header(&mut self) -> Result<Header, WireError> {
        if self.take(3)? != MAGIC {
            return Err(WireError("not a history message"));
        }
        if self.byte()? != VERSION {
            return Err(WireError("unknown version"));
        }
        let kind = match self.byte()? {
            1 => Kind::Ping,
            2 => Kind::Stats,
            3 => Kind::Probes,
            _ => return Err(WireError("unknown kind")),
        };
        let t = unzigzag(self.varint()?);
        let (index, count) = (self.varint()?, self.varint()?);
        if count == 0 || count > MAX_CHUNKS || index >= count {
            return Err(WireError("bad chunk index"));
        }
        Ok(Header { kind, t, index, count })
    }
}

fn finite(v: f32) -> Option<f64> {
    v.is_finite().then_some(f64::from(v))
}

fn read_ping<'a>(r: &mut Reader<'a>) -> Result<PingSample<&'a str>, WireError> {
    Ok(PingSample {
        service: r.string()?,
        id: r.string()?,
        version: r.string()?,
        state: r.state()?,
        rtt_ms: finite(r.f32()?),
    })
}

fn read_stats<'a>(r: &mut Reader<'a>) -> Result<StatsSample<&'a str>, WireError> {
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
    let name = r.string()?.to_string();
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

pub(super) fn reader(bytes: &[u8]) -> Reader<'_> {
    Reader {
        bytes,
        strings: Vec::new(),
    }
}

/// The header of a message, without reading its records.
pub fn header(bytes: &[u8]) -> Result<Header, WireError> {
    reader(bytes).header()
}

/// Decode one message; a message that breaks any rule is rejected whole.
pub fn decode(bytes: &[u8]) -> Result<Chunk<'_>, WireError> {
    let mut r = reader(bytes);
    let header = r.header()?;
    let n = r.count(5, usize::MAX)?;
    let records = match header.kind {
        Kind::Ping => Records::Ping((0..n).map(|_| read_ping(&mut r)).collect::<Result<_, _>>()?),
        Kind::Stats => Records::Stats((0..n).map(|_| read_stats(&mut r)).collect::<Result<_, _>>()?),
        Kind::Probes => Records::Probes((0..n).map(|_| read_probe(&mut r)).collect::<Result<_, _>>()?),
    };
    if !r.bytes.is_empty() {
        return Err(WireError("trailing bytes"));
    }
    Ok(Chunk { header, records })
}

#[cfg(test)]
mod tests;
