//! What a query needs before it can be answered: one discovery round, one request, one probe run, or a window of the history (with the fresh round or run for "now", what to copy of it and how much); pure.
//!
//! The rules of a plan, one place each:
//! - `timeseries` in every query type, and `events`, `slo` and `ping` `rtt_p95` in every
//!   format, read the history; everything else asks NATS once.
//! - Without a time range, a history query reads the retention window up to now.
//! - A window that reaches the present (its end within one sampler period, or
//!   [`FRESH_SLACK_MS`], of now) gets a fresh sample for "now"; `events` never does.
//! - `slo` time series look back one rolling window ([`ROLLING_MS`]) before the range.
//! - A series per instance (no aggregate) copies only the instances a frame can show
//!   ([`MAX_SERIES`]); `events` copies no instance at all.

use super::series::MAX_SERIES;
use super::slo::ROLLING_MS;
use crate::model::history::{Limit, Reads};
use crate::model::micro::Verb;
use crate::model::query::{Aggregate, Format, Query, QueryType, Window, DATA_METRIC, RTT_P95};

/// A window ending this close to now (or one sampler period) gets the fresh "now" point.
pub const FRESH_SLACK_MS: i64 = 10_000;

/// What a query asks of the NATS side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// One discovery round of this verb in the query's scope.
    Round(Verb),
    /// One request to the query's subject.
    Request,
    /// One run of the data source's probes (the query's, or all).
    Probes,
    /// A window of the history: [`HistoryPlan::new`] says which.
    History,
}

impl Plan {
    /// The plan of `q`.
    pub fn of(q: &Query) -> Plan {
        let from_history = matches!(q.query_type, QueryType::Events | QueryType::Slo)
            || (q.query_type == QueryType::Ping && q.metric == RTT_P95)
            || q.format == Format::Timeseries;
        match q.query_type {
            _ if from_history => Plan::History,
            QueryType::Request => Plan::Request,
            QueryType::Probe => Plan::Probes,
            QueryType::Info => Plan::Round(Verb::Info),
            QueryType::Stats => Plan::Round(Verb::Stats),
            QueryType::Ping | QueryType::Services | QueryType::Events | QueryType::Slo => Plan::Round(Verb::Ping),
        }
    }
}

/// The fresh sample a history answer adds for "now".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fresh {
    /// A discovery round of this verb in the query's scope.
    Round(Verb),
    /// A run of the query's probes (skipped, not refused, while on-demand runs are rate-limited).
    Probes,
}

/// When a history query runs: now, the retention, the sampler's period (`None`: sampler off).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clock {
    pub now_ms: i64,
    pub retention_ms: i64,
    pub period_ms: Option<i64>,
}

/// Which window of the history a query reads, and what it copies of it.
#[derive(Clone, Copy, Debug)]
pub struct HistoryPlan {
    /// The range the frames show.
    pub window: Window,
    /// The first time the copy holds (before the window for `slo` time series).
    pub view_from: i64,
    pub fresh: Option<Fresh>,
    /// The most series the copy holds; `None`: every instance in scope.
    pub limit: Option<Limit>,
    pub reads: Reads,
    /// Whether the copy holds instances at all (`events` reads events alone).
    pub instances: bool,
}

impl HistoryPlan {
    /// The history plan of `q` at `clock`.
    pub fn new(q: &Query, clock: Clock) -> Self {
        let window = q
            .window
            .unwrap_or_else(|| Window::last(clock.retention_ms, clock.now_ms));
        let slack = clock.period_ms.unwrap_or(0).max(FRESH_SLACK_MS);
        let reaches_now = window.to_ms >= clock.now_ms.saturating_sub(slack) && window.from_ms <= clock.now_ms;
        let fresh = match q.query_type {
            QueryType::Events => None,
            _ if !reaches_now => None,
            QueryType::Probe => Some(Fresh::Probes),
            QueryType::Stats => Some(Fresh::Round(Verb::Stats)),
            _ => Some(Fresh::Round(Verb::Ping)),
        };
        let view_from = match (q.query_type, q.format) {
            (QueryType::Slo, Format::Timeseries) => window.from_ms.saturating_sub(ROLLING_MS),
            _ => window.from_ms,
        };
        let limit = (matches!(q.query_type, QueryType::Ping | QueryType::Stats) && q.aggregate == Aggregate::None)
            .then_some(Limit {
                series: MAX_SERIES,
                per_endpoint: q.query_type == QueryType::Stats,
            });
        Self {
            window,
            view_from,
            fresh,
            limit,
            reads: reads(q),
            instances: q.query_type != QueryType::Events,
        }
    }
}

/// What the answer of `q` reads of the history: a query's copy holds nothing else.
pub fn reads(q: &Query) -> Reads {
    let only = |part: fn(&mut Reads)| {
        let mut r = Reads::NONE;
        part(&mut r);
        r
    };
    match q.query_type {
        QueryType::Ping | QueryType::Services | QueryType::Slo => only(|r| r.pings = true),
        QueryType::Stats if q.metric == DATA_METRIC => only(|r| r.data = true),
        QueryType::Stats => only(|r| r.endpoints = true),
        QueryType::Events => only(|r| r.events = true),
        QueryType::Probe => only(|r| r.probes = true),
        QueryType::Info | QueryType::Request => Reads::NONE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(json: &str) -> Query {
        Query::parse("A", "", json.as_bytes()).unwrap()
    }

    const NOW: i64 = 1_800_000_000_000;
    const CLOCK: Clock = Clock {
        now_ms: NOW,
        retention_ms: 3_600_000,
        period_ms: Some(15_000),
    };

    #[test]
    fn instant_and_table_queries_ask_nats_once_and_history_queries_read_the_history() {
        let cases = [
            (r#"{"queryType":"ping"}"#, Plan::Round(Verb::Ping)),
            (r#"{"queryType":"ping","format":"table"}"#, Plan::Round(Verb::Ping)),
            (r#"{"queryType":"ping","aggregate":"avg"}"#, Plan::Round(Verb::Ping)),
            (r#"{"queryType":"ping","metric":"rtt_p95"}"#, Plan::History),
            (r#"{"queryType":"ping","format":"timeseries"}"#, Plan::History),
            (r#"{"queryType":"services"}"#, Plan::Round(Verb::Ping)),
            (r#"{"queryType":"info"}"#, Plan::Round(Verb::Info)),
            (
                r#"{"queryType":"stats","metric":"data:queue.depth"}"#,
                Plan::Round(Verb::Stats),
            ),
            (r#"{"queryType":"stats","format":"timeseries"}"#, Plan::History),
            (r#"{"queryType":"request","subject":"orders.get"}"#, Plan::Request),
            (r#"{"queryType":"probe"}"#, Plan::Probes),
            (r#"{"queryType":"probe","format":"timeseries"}"#, Plan::History),
            (r#"{"queryType":"events"}"#, Plan::History),
            (r#"{"queryType":"slo"}"#, Plan::History),
        ];
        for (json, want) in cases {
            assert_eq!(Plan::of(&q(json)), want, "{json}");
        }
    }

    #[test]
    fn a_window_that_reaches_now_gets_a_fresh_sample_of_the_right_kind() {
        let ts = q(r#"{"queryType":"ping","format":"timeseries"}"#);
        // No range: the retention window up to now, with a fresh ping round.
        let p = HistoryPlan::new(&ts, CLOCK);
        assert_eq!((p.window.from_ms, p.window.to_ms), (NOW - 3_600_000, NOW));
        assert_eq!(p.fresh, Some(Fresh::Round(Verb::Ping)));
        let at = |from: i64, to: i64, json: &str| {
            HistoryPlan::new(&q(json).with_window(Window::from_grafana(from, to, 1000, 0)), CLOCK).fresh
        };
        // Grafana's `to` is a little before the round: within the slack (10 s, or a longer period) it is fresh.
        assert_eq!(
            at(
                NOW - 60_000,
                NOW - 9_000,
                r#"{"queryType":"ping","format":"timeseries"}"#
            ),
            Some(Fresh::Round(Verb::Ping))
        );
        assert_eq!(
            at(
                NOW - 60_000,
                NOW - 14_000,
                r#"{"queryType":"ping","format":"timeseries"}"#
            ),
            Some(Fresh::Round(Verb::Ping))
        );
        assert_eq!(
            at(
                NOW - 60_000,
                NOW - 16_000,
                r#"{"queryType":"ping","format":"timeseries"}"#
            ),
            None
        );
        // A window in the future has nothing of now.
        assert_eq!(
            at(NOW + 1, NOW + 60_000, r#"{"queryType":"ping","format":"timeseries"}"#),
            None
        );
        assert_eq!(
            at(NOW - 60_000, NOW, r#"{"queryType":"stats","format":"timeseries"}"#),
            Some(Fresh::Round(Verb::Stats))
        );
        assert_eq!(
            at(NOW - 60_000, NOW, r#"{"queryType":"slo"}"#),
            Some(Fresh::Round(Verb::Ping))
        );
        assert_eq!(
            at(NOW - 60_000, NOW, r#"{"queryType":"probe","format":"timeseries"}"#),
            Some(Fresh::Probes)
        );
        assert_eq!(at(NOW - 60_000, NOW, r#"{"queryType":"events"}"#), None);
        // The sampler off: the slack alone.
        let off = Clock {
            period_ms: None,
            ..CLOCK
        };
        let p = HistoryPlan::new(
            &ts.clone()
                .with_window(Window::from_grafana(NOW - 60_000, NOW - 11_000, 1000, 0)),
            off,
        );
        assert_eq!(p.fresh, None);
    }

    #[test]
    fn what_a_history_query_copies() {
        let w = Window::from_grafana(NOW - 60_000, NOW, 1000, 0);
        let plan = |json: &str| HistoryPlan::new(&q(json).with_window(w), CLOCK);
        let slo = plan(r#"{"queryType":"slo","format":"timeseries"}"#);
        assert_eq!(slo.view_from, NOW - 60_000 - ROLLING_MS);
        assert_eq!(plan(r#"{"queryType":"slo"}"#).view_from, NOW - 60_000);
        let ping = plan(r#"{"queryType":"ping","format":"timeseries"}"#);
        assert!(matches!(
            ping.limit,
            Some(Limit {
                series: MAX_SERIES,
                per_endpoint: false
            })
        ));
        assert!(ping.reads.pings && !ping.reads.endpoints && ping.instances);
        let stats = plan(r#"{"queryType":"stats","format":"timeseries"}"#);
        assert!(matches!(stats.limit, Some(Limit { per_endpoint: true, .. })));
        assert!(stats.reads.endpoints && !stats.reads.data);
        assert!(
            plan(r#"{"queryType":"stats","format":"timeseries","metric":"data:q.depth"}"#)
                .reads
                .data
        );
        assert!(plan(r#"{"queryType":"ping","format":"timeseries","aggregate":"avg"}"#)
            .limit
            .is_none());
        assert!(plan(r#"{"queryType":"services","format":"timeseries"}"#)
            .limit
            .is_none());
        let events = plan(r#"{"queryType":"events"}"#);
        assert!(
            !events.instances
                && events.reads
                    == Reads {
                        events: true,
                        ..Reads::NONE
                    }
        );
        assert_eq!(
            plan(r#"{"queryType":"probe","format":"timeseries"}"#).reads,
            Reads {
                probes: true,
                ..Reads::NONE
            }
        );
    }
}
