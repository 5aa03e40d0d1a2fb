//! Answers, one file per query type: what each query type builds, in every format and aggregate it answers, from what its plan fetched (a round, a reply, a probe run, or the history and a fresh sample); pure.
//!
//! [`plan`] says what a query needs; the NATS side fetches it; [`answer`] is the one match on
//! query type, handing the [`Inputs`] to the query type's file:
//!
//! | file | query type |
//! |---|---|
//! | [`ping`] | `ping`, `rtt_p95` included |
//! | [`services`] | `services` |
//! | [`info`] | `info` |
//! | [`stats`] | `stats`, custom `data` leaves included |
//! | [`request`] | `request` |
//! | [`events`] | `events` |
//! | [`slo`] | `slo` |
//! | [`probe`] | `probe` |
//!
//! What they share: [`series`] (the time-series machinery: steps, reduce, combine, the
//! `timeseries-multi` frames) and [`meta`] (notices, field configs, the answer budget).

use crate::model::frames::Frame;
use crate::model::history::{PingSample, StatsSample};
use crate::model::observed::{RequestReply, Round};
use crate::model::probe::ProbeResult;
use crate::model::query::{Query, QueryType, Window};

pub mod events;
pub mod info;
pub mod meta;
pub mod ping;
pub mod plan;
pub mod probe;
pub mod request;
pub mod series;
pub mod services;
pub mod slo;
pub mod stats;

#[cfg(test)]
pub(crate) mod tests;

pub use plan::{Clock, Fresh, HistoryPlan, Plan};
pub use series::Source;

/// What an answer reads, fetched as its [`Plan`] said.
#[derive(Debug)]
pub enum Inputs<'a, S = String> {
    /// One discovery round: the instant and table frames of `ping`, `services`, `info`, `stats`.
    Round(&'a Round),
    /// The reply of one `request`.
    Reply(&'a RequestReply),
    /// One run of the data source's probes: `probe` instant and table frames.
    Probes(&'a [ProbeResult]),
    /// The history of a window and the fresh samples for "now": time series, `events`, `slo`, `rtt_p95`.
    History(&'a FromHistory<'a, S>),
}

impl<S> Inputs<'_, S> {
    fn name(&self) -> &'static str {
        match self {
            Inputs::Round(_) => "a discovery round",
            Inputs::Reply(_) => "a request's reply",
            Inputs::Probes(_) => "a probe run",
            Inputs::History(_) => "the history",
        }
    }
}

/// The history inputs: the window, what the builders read of the history, and the fresh samples
/// (only those of the plan's fresh round or run; the others are empty).
#[derive(Debug)]
pub struct FromHistory<'a, S = String> {
    pub window: Window,
    pub src: Source<'a>,
    pub pings: &'a [PingSample<S>],
    pub stats: &'a [StatsSample],
    pub probes: &'a [ProbeResult],
}

/// Inputs that do not answer the query: a plan and an answer that disagree, a bug of the plugin.
#[derive(Debug, thiserror::Error)]
#[error("internal error of the plugin: a {query_type} query in format {format} cannot be answered from {inputs}")]
pub struct Unplanned {
    query_type: &'static str,
    format: &'static str,
    inputs: &'static str,
}

impl Unplanned {
    pub(crate) fn new<S>(q: &Query, inputs: &Inputs<'_, S>) -> Self {
        Self {
            query_type: q.query_type.name(),
            format: q.format.name(),
            inputs: inputs.name(),
        }
    }
}

/// The frames of `q` from `inputs`: the one dispatch on query type.
pub fn answer<S: AsRef<str>>(q: &Query, inputs: Inputs<'_, S>) -> Result<Vec<Frame>, Unplanned> {
    match q.query_type {
        QueryType::Ping => ping::answer(q, inputs),
        QueryType::Services => services::answer(q, inputs),
        QueryType::Info => info::answer(q, inputs),
        QueryType::Stats => stats::answer(q, inputs),
        QueryType::Request => request::answer(q, inputs),
        QueryType::Events => events::answer(q, inputs),
        QueryType::Slo => slo::answer(q, inputs),
        QueryType::Probe => probe::answer(q, inputs),
    }
}
