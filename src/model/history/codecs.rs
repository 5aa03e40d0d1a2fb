//! How the memory store packs a ping sample (state, RTT at 10 µs) and an endpoint sample (counters, segment) against the one before; pure, no I/O.

use super::packed::{BitsReader, BitsWriter, Codec};

/// RTT units per millisecond in the store: 10 µs resolution.
pub const RTT_UNITS_PER_MS: f64 = 100.0;
/// "No RTT" (the instance did not answer).
const NO_RTT: u32 = u32::MAX;

/// A ping sample without its time (its round's sequence number stands for it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PingValue {
    /// RTT in units of 10 µs; [`NO_RTT`] when the instance did not answer.
    rtt: u32,
    pub state: u8,
}

impl PingValue {
    pub fn new(rtt_ms: Option<f64>, state: u8) -> Self {
        let rtt = rtt_ms.filter(|v| v.is_finite() && *v >= 0.0).map_or(NO_RTT, |v| {
            (v * RTT_UNITS_PER_MS).round().min(f64::from(NO_RTT - 1)) as u32
        });
        Self { rtt, state }
    }

    /// RTT in ms; NaN when none.
    pub fn rtt_ms(&self) -> f32 {
        if self.rtt == NO_RTT {
            f32::NAN
        } else {
            (f64::from(self.rtt) / RTT_UNITS_PER_MS) as f32
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
pub struct PingState {
    last_rtt: u32,
}

impl Codec for PingValue {
    type State = PingState;

    fn write(&self, prev: Option<&Self>, st: &mut PingState, w: &mut BitsWriter<'_>) {
        match prev {
            Some(p) if p.state == self.state => w.bits(0, 1),
            _ => {
                w.bits(1, 1);
                w.bits(u64::from(self.state), 8);
            }
        }
        if self.rtt == NO_RTT {
            w.bits(0, 1);
        } else {
            w.bits(1, 1);
            w.signed(i64::from(self.rtt) - i64::from(st.last_rtt));
            st.last_rtt = self.rtt;
        }
    }

    fn read(prev: Option<&Self>, st: &mut PingState, r: &mut BitsReader<'_, '_>) -> Option<Self> {
        let state = match r.bits(1)? {
            0 => prev?.state,
            _ => u8::try_from(r.bits(8)?).ok()?,
        };
        let rtt = match r.bits(1)? {
            0 => NO_RTT,
            _ => {
                let v = u32::try_from(i64::from(st.last_rtt).checked_add(r.signed()?)?).ok()?;
                st.last_rtt = v;
                v
            }
        };
        Some(Self { rtt, state })
    }
}

/// An endpoint sample without its time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EndpointValue {
    pub requests: u64,
    pub errors: u64,
    pub processing_ns: u64,
    pub segment: u32,
}

/// The previous deltas of the three counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct EndpointState {
    requests: i64,
    errors: i64,
    processing_ns: i64,
}

impl Codec for EndpointValue {
    type State = EndpointState;

    fn write(&self, prev: Option<&Self>, st: &mut EndpointState, w: &mut BitsWriter<'_>) {
        let p = prev.copied().unwrap_or(EndpointValue {
            requests: 0,
            errors: 0,
            processing_ns: 0,
            segment: 0,
        });
        w.signed(i64::from(self.segment) - i64::from(p.segment));
        w.counter(self.requests, p.requests, &mut st.requests);
        w.counter(self.errors, p.errors, &mut st.errors);
        w.counter(self.processing_ns, p.processing_ns, &mut st.processing_ns);
    }

    fn read(prev: Option<&Self>, st: &mut EndpointState, r: &mut BitsReader<'_, '_>) -> Option<Self> {
        let p = prev.copied().unwrap_or(EndpointValue {
            requests: 0,
            errors: 0,
            processing_ns: 0,
            segment: 0,
        });
        let segment = u32::try_from(i64::from(p.segment).checked_add(r.signed()?)?).ok()?;
        Some(Self {
            segment,
            requests: r.counter(p.requests, &mut st.requests)?,
            errors: r.counter(p.errors, &mut st.errors)?,
            processing_ns: r.counter(p.processing_ns, &mut st.processing_ns)?,
        })
    }
}
