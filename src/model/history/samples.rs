//! What the history ingests: one round's ping and stats samples per instance, taken from an observed round.

use crate::model::leaves::{self, MAX_DATA_LEAVES};
use crate::model::observed::Round;
use crate::model::state::State;

/// One instance's answer (or silence) in a ping round.
#[derive(Clone, Debug, PartialEq)]
pub struct PingSample<S = String> {
    pub service: S,
    pub id: S,
    pub version: S,
    /// `None`: known but did not answer (down).
    pub rtt_ms: Option<f64>,
    /// Its liveness in the round (slow against the `slowMs` of the round).
    pub state: State,
}

/// One endpoint's counters in a stats reply.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointSample<S = String> {
    pub name: S,
    pub requests: u64,
    pub errors: u64,
    pub processing_ns: u64,
    /// Numeric custom `data` leaves, in path order, at most [`MAX_DATA_LEAVES`].
    pub data: Vec<(S, f64)>,
}

/// One instance's stats reply.
#[derive(Clone, Debug, PartialEq)]
pub struct StatsSample<S = String> {
    pub service: S,
    pub id: S,
    pub version: S,
    /// `started`, Unix ms.
    pub started: Option<i64>,
    pub endpoints: Vec<EndpointSample<S>>,
}

/// A ping round as samples: every answer, then every known instance that did not answer.
pub fn ping_samples(round: &Round) -> Vec<PingSample<&str>> {
    round
        .replies
        .iter()
        .map(|r| PingSample {
            service: r.reply.name.as_str(),
            id: r.reply.id.as_str(),
            version: r.reply.version.as_str(),
            rtt_ms: Some(r.rtt.as_secs_f64() * 1e3),
            state: State::answered(r.rtt.as_secs_f64() * 1e3, round.slow_ms),
        })
        .chain(round.down.iter().map(|k| PingSample {
            service: k.name.as_str(),
            id: k.id.as_str(),
            version: k.version.as_str(),
            rtt_ms: None,
            state: State::silent(k.silence),
        }))
        .collect()
}

/// A stats round as samples.
pub fn stats_samples(round: &Round) -> Vec<StatsSample> {
    round
        .replies
        .iter()
        .map(|r| StatsSample {
            service: r.reply.name.clone(),
            id: r.reply.id.clone(),
            version: r.reply.version.clone(),
            started: r.reply.started.map(|s| s.timestamp_millis()),
            endpoints: r
                .reply
                .endpoints
                .iter()
                .map(|e| EndpointSample {
                    name: e.name.clone(),
                    requests: e.num_requests,
                    errors: e.num_errors,
                    processing_ns: e.processing_ns(),
                    data: e
                        .data
                        .as_ref()
                        .map(|d| leaves::numeric(d, MAX_DATA_LEAVES).0)
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect()
}
