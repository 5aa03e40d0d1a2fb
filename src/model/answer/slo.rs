//! `slo`: per service, from the sampled history: `uptime`, `reachability` and `budget_remaining` over the query's range (instant) or over a rolling window (timeseries); the rule and its frames.
//!
//! The rule, over a set of sampling rounds of one service:
//! - `uptime`: the share of rounds in which at least `minInstances` instances answered;
//! - `reachability`: pings answered out of pings expected, every known instance (answering, or
//!   seen within the retention window and silent) expected once per round;
//! - `budget_remaining`: `1 − (1 − uptime) / (1 − objective)`: 1 with no down round, 0 when
//!   the error budget of the objective is spent, below 0 when overspent.
//!
//! Instant frames measure the query's time range (the retention window without one). Time series
//! give, at each sampling round, the value over the [`ROLLING_MS`] before it, so a dashboard shows
//! the recent trend and an alert rule can Reduce it (a burn alert: `budget_remaining` below 0).
//! Rounds older than the history kept do not count: the notices say when the history is shorter
//! than the range.

use serde_json::json;

use super::series::{frames, history_notices, labels, rounds_per_service, Agg, At, Extra, Raw, Series, Source};
use super::{Inputs, Unplanned};
use crate::model::frames::{Field, FieldConfig, Frame, FrameMeta, Values, NUMERIC_LONG};
use crate::model::history::PingSample;
use crate::model::query::{Format, Query, Window};

/// The rolling window of `slo` time series: 5 minutes (20 rounds at the default 15 s sampling).
pub const ROLLING_MS: i64 = 5 * 60_000;

/// Rounds of one service, as the rule reads them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Totals {
    rounds: u32,
    rounds_up: u32,
    answered: u64,
    expected: u64,
}

impl Totals {
    fn add(&mut self, at: &At<'_>, min_instances: u32) {
        self.rounds += 1;
        self.rounds_up += u32::from(at.up >= min_instances);
        self.answered += u64::from(at.up);
        self.expected += u64::from(at.up + at.down);
    }

    /// Take back a round [`Totals::add`] counted.
    fn remove(&mut self, at: &At<'_>, min_instances: u32) {
        self.rounds -= 1;
        self.rounds_up -= u32::from(at.up >= min_instances);
        self.answered -= u64::from(at.up);
        self.expected -= u64::from(at.up + at.down);
    }

    /// The metric over these rounds; `None` without any round.
    fn value(&self, metric: &str, objective: f64) -> Option<f64> {
        if self.rounds == 0 {
            return None;
        }
        let uptime = f64::from(self.rounds_up) / f64::from(self.rounds);
        match metric {
            "reachability" => (self.expected > 0).then(|| self.answered as f64 / self.expected as f64),
            "budget_remaining" => Some(1.0 - (1.0 - uptime) / (1.0 - objective)),
            _ => Some(uptime),
        }
    }
}

fn config(metric: &str) -> FieldConfig {
    match metric {
        "budget_remaining" => FieldConfig {
            max: Some(1.0),
            ..FieldConfig::unit("percentunit")
        },
        _ => FieldConfig {
            min: Some(0.0),
            max: Some(1.0),
            ..FieldConfig::unit("percentunit")
        },
    }
}

/// `slo`, instant: one row per service over the query's time range.
pub fn instant<S: AsRef<str>>(q: &Query, w: &Window, src: &Source<'_>, fresh: &[PingSample<S>]) -> Frame {
    let by = rounds_per_service(q, w.from_ms, w, src, fresh);
    let mut services = Vec::new();
    let mut values = Vec::new();
    let mut rounds = 0;
    for (service, at) in &by {
        let mut t = Totals::default();
        for a in at.values() {
            t.add(a, q.min_instances);
        }
        rounds = rounds.max(t.rounds);
        services.push(service.to_string());
        values.push(t.value(q.metric, q.objective));
    }
    Frame::new("slo", &q.ref_id)
        .with_meta(FrameMeta {
            executed_query_string: src.subject.map(str::to_string),
            notices: history_notices(src, w),
            custom: Some(json!({
                "rounds": rounds,
                "objective": q.objective,
                "minInstances": q.min_instances,
            })),
            ..FrameMeta::typed(NUMERIC_LONG)
        })
        .with_field(Field::new("service", Values::String(services)))
        .with_field(Field::new(q.metric, Values::NullableFloat64(values)).with_config(config(q.metric)))
}

/// `slo` as time series: one series per service (label `service`), at each round the value over
/// the [`ROLLING_MS`] before it.
pub fn timeseries<S: AsRef<str>>(q: &Query, w: &Window, src: &Source<'_>, fresh: &[PingSample<S>]) -> Vec<Frame> {
    let by = rounds_per_service(q, w.from_ms.saturating_sub(ROLLING_MS), w, src, fresh);
    let series = by
        .into_iter()
        .map(|(service, at)| {
            let rounds: Vec<(i64, &At<'_>)> = at.iter().map(|(t, a)| (*t, a)).collect();
            // A sliding window: each round enters once and leaves once (linear in the rounds).
            let mut raw = Vec::new();
            let mut first = 0;
            let mut totals = Totals::default();
            for (t, a) in &rounds {
                totals.add(a, q.min_instances);
                while rounds[first].0 <= t.saturating_sub(ROLLING_MS) {
                    totals.remove(rounds[first].1, q.min_instances);
                    first += 1;
                }
                if w.contains(*t) {
                    raw.push(Raw::value(*t, totals.value(q.metric, q.objective)));
                }
            }
            Series {
                labels: labels(&[("service", service)]),
                raw,
            }
        })
        .filter(|s| !s.raw.is_empty())
        .collect();
    frames(q, src, w, series, Agg::Ratio, config(q.metric), Extra::default())
}

/// The answer of an `slo` query from what its plan fetched.
pub(super) fn answer<S: AsRef<str>>(q: &Query, inputs: Inputs<'_, S>) -> Result<Vec<Frame>, Unplanned> {
    Ok(match inputs {
        Inputs::History(h) if q.format == Format::Instant => vec![instant(q, &h.window, &h.src, h.pings)],
        Inputs::History(h) => timeseries(q, &h.window, &h.src, h.pings),
        other => return Err(Unplanned::new(q, &other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::history::{History, HistoryView};
    use crate::model::state::State;

    const NO_PINGS: &[PingSample] = &[];

    fn query(json: &str) -> Query {
        Query::parse("A", "", json.as_bytes()).unwrap()
    }

    fn ping(id: &str, up: bool) -> PingSample {
        PingSample {
            service: "orders".into(),
            id: id.into(),
            version: "1".into(),
            rtt_ms: up.then_some(1.0),
            state: if up { State::Up } else { State::Unresponsive },
        }
    }

    fn src(h: &HistoryView) -> Source<'_> {
        Source {
            history: Some(h),
            period_ms: Some(60_000),
            now_ms: 100 * 60_000,
            subject: Some("$SRV.PING"),
            fresh: false,
            round_notices: &[],
        }
    }

    fn values(f: &Frame) -> Vec<Option<f64>> {
        match &f.fields[1].values {
            Values::NullableFloat64(v) => v.clone(),
            other => panic!("{other:?}"),
        }
    }

    /// Ten rounds a minute apart of two instances: b is down in rounds 3 and 4, a in round 4.
    fn history() -> History {
        let mut h = History::new(3_600_000 * 2, 1 << 20);
        for r in 0..10 {
            h.ingest_ping(r * 60_000, &[ping("a", r != 4), ping("b", r != 3 && r != 4)]);
        }
        h
    }

    #[test]
    fn instant_uptime_reachability_and_budget_over_the_range() {
        let h = history();
        let w = Window::last(20 * 60_000, 10 * 60_000);
        let run = |json: &str| values(&instant(&query(json), &w, &src(&h.unpacked()), NO_PINGS))[0];
        // One instance needed: only round 4 is down. Two needed: rounds 3 and 4.
        assert_eq!(run(r#"{"queryType":"slo"}"#), Some(0.9));
        assert_eq!(run(r#"{"queryType":"slo","minInstances":2}"#), Some(0.8));
        // 17 of 20 pings answered.
        assert_eq!(run(r#"{"queryType":"slo","metric":"reachability"}"#), Some(17.0 / 20.0));
        // Objective 0.95 allows 5 % down rounds; 10 % down spent the budget twice over.
        let budget = run(r#"{"queryType":"slo","metric":"budget_remaining","objective":0.95}"#).unwrap();
        assert!((budget - -1.0).abs() < 1e-9, "{budget}");
        let f = instant(&query(r#"{"queryType":"slo"}"#), &w, &src(&h.unpacked()), NO_PINGS);
        assert_eq!(f.meta.as_ref().unwrap().kind, Some(NUMERIC_LONG));
        assert_eq!(f.fields[0].values, Values::String(vec!["orders".into()]));
        f.to_arrow().unwrap();
    }

    #[test]
    fn timeseries_rolls_a_five_minute_window() {
        let h = history();
        let w = Window {
            from_ms: 0,
            to_ms: 10 * 60_000,
            max_points: 1000,
            interval_ms: 60_000,
        };
        let f = timeseries(
            &query(r#"{"queryType":"slo","format":"timeseries"}"#),
            &w,
            &src(&h.unpacked()),
            NO_PINGS,
        );
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].fields[1].labels, labels(&[("service", "orders")]));
        // At round r: rounds (r-5, r]; round 4 is the only one down, so rounds 4..=8 see it.
        let want: Vec<Option<f64>> = (0..10)
            .map(|r: i64| {
                let n = (r.min(4) + 1) as f64;
                Some(if (4..=8).contains(&r) { (n - 1.0) / n } else { 1.0 })
            })
            .collect();
        assert_eq!(values(&f[0]), want);
    }
}
