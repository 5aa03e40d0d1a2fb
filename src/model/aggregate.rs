//! `aggregate`: the instances of each service combined into one row or series (`sum`, `avg`, `min`, `max`, `count`), for `ping` and `stats`, instant and timeseries alike; the rule and the instant frames.
//!
//! The rule, one place for both formats:
//! - Values combine per service, and per endpoint for `stats`; no instance id remains.
//! - `sum`, `avg`, `min` and `max` read the instances that have a value; `count` is how many do
//!   (`rtt`: instances answering; `up`: instances known, up or down; stats: instances reporting
//!   the endpoint).
//! - Ratios (`error_ratio`, `average_processing_time`) are pooled for `sum` and `avg`: total
//!   errors over total requests, total processing time over total requests. A sum or a mean of
//!   per-instance ratios would let an idle instance outvote a busy one.
//! - Rates (`request_rate`, `error_rate`) add the per-instance rates. Each is restart-aware: an
//!   instance whose counters reset in an interval has no value there and is left out, so a
//!   restart never shows as a drop or a negative rate.
//! - An endpoint without a queue group receives every request on every instance, so a sum of
//!   its requests counts each request once per instance: instant frames say so in a notice.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::custom_data;
use crate::model::frames::{Field, FieldConfig, Frame, Notice, Severity, Values, NUMERIC_LONG};
use crate::model::observed::Round;
use crate::model::query::{Aggregate, Query, DATA_METRIC};
use crate::model::shapes::{endpoints, ms, ratio_config, round_meta, up_config};
use crate::model::state::{state_config, State};

/// Whether `metric` is a ratio that `sum` and `avg` pool (Σ numerators / Σ denominators).
pub fn pooled(metric: &str) -> bool {
    matches!(metric, "error_ratio" | "average_processing_time")
}

/// One instance's contribution: its value, and the fraction pooled ratios add.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Part {
    /// `None`: the instance has no value here (down, a counter reset, no requests in the interval).
    pub value: Option<f64>,
    pub num: f64,
    pub den: f64,
}

impl Part {
    /// A plain value (pooled as itself over 1).
    pub fn plain(value: Option<f64>) -> Self {
        Part {
            value,
            num: value.unwrap_or(0.0),
            den: if value.is_some() { 1.0 } else { 0.0 },
        }
    }
}

/// The instances of one group at one point, accumulated.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Group {
    count: u32,
    sum: f64,
    num: f64,
    den: f64,
    min: Option<f64>,
    max: Option<f64>,
}

impl Group {
    pub fn add(&mut self, p: Part) {
        let Some(v) = p.value else {
            return;
        };
        self.count += 1;
        self.sum += v;
        self.num += p.num;
        self.den += p.den;
        self.min = Some(self.min.map_or(v, |m| m.min(v)));
        self.max = Some(self.max.map_or(v, |m| m.max(v)));
    }

    /// The combined value; `None` when no instance has one (except `count`, which is then 0).
    pub fn value(&self, aggregate: Aggregate, metric: &str) -> Option<f64> {
        if aggregate == Aggregate::Count {
            return Some(f64::from(self.count));
        }
        if self.count == 0 {
            return None;
        }
        match aggregate {
            // Instances with requests pooled; when none had any, a ratio is 0 as it is per instance.
            Aggregate::Sum | Aggregate::Avg if pooled(metric) => {
                Some(if self.den > 0.0 { self.num / self.den } else { 0.0 })
            }
            Aggregate::Avg => Some(self.sum / f64::from(self.count)),
            Aggregate::Min => self.min,
            Aggregate::Max => self.max,
            Aggregate::Sum | Aggregate::None | Aggregate::Count => Some(self.sum),
        }
    }
}

/// Field config of an aggregated value: `count` is a number of instances; otherwise the metric's own.
fn config(aggregate: Aggregate, own: FieldConfig) -> FieldConfig {
    if aggregate == Aggregate::Count {
        FieldConfig::unit("short")
    } else {
        own
    }
}

/// Aggregated `ping`, instant: one row per service (`state`: `max` is the worst instance).
pub fn ping(q: &Query, round: &Round) -> Frame {
    let mut groups: BTreeMap<&str, Group> = BTreeMap::new();
    for r in &round.replies {
        let value = match q.metric {
            "up" => 1.0,
            "state" => f64::from(State::answered(ms(r.rtt), round.slow_ms).code()),
            _ => ms(r.rtt),
        };
        groups.entry(&r.reply.name).or_default().add(Part::plain(Some(value)));
    }
    for k in &round.down {
        let g = groups.entry(&k.name).or_default();
        match q.metric {
            "up" => g.add(Part::plain(Some(0.0))),
            "state" => g.add(Part::plain(Some(f64::from(State::silent(k.silence).code())))),
            _ => {}
        }
    }
    let own = match q.metric {
        "up" => up_config(),
        "state" => state_config(),
        _ => FieldConfig::unit("ms"),
    };
    Frame::new("ping", &q.ref_id)
        .with_meta(round_meta(NUMERIC_LONG, round))
        .with_field(Field::new(
            "service",
            Values::String(groups.keys().map(|s| s.to_string()).collect()),
        ))
        .with_field(
            Field::new(
                q.metric,
                Values::NullableFloat64(groups.values().map(|g| g.value(q.aggregate, q.metric)).collect()),
            )
            .with_config(config(q.aggregate, own)),
        )
}

/// Aggregated `stats`, instant: one row per service and endpoint.
pub fn stats(q: &Query, round: &Round) -> Frame {
    let mut groups: BTreeMap<(&str, &str), Group> = BTreeMap::new();
    let mut unqueued: BTreeSet<(&str, &str)> = BTreeSet::new();
    for (i, e) in endpoints(q, round) {
        let (requests, errors) = (e.num_requests as f64, e.num_errors as f64);
        let part = match q.metric {
            "errors" => Part::plain(Some(errors)),
            "processing_time" => Part::plain(Some(e.processing_time / 1e6)),
            "error_ratio" => Part {
                value: Some(if requests == 0.0 {
                    0.0
                } else {
                    (errors / requests).min(1.0)
                }),
                num: errors.min(requests),
                den: requests,
            },
            "average_processing_time" => Part {
                value: Some(e.average_processing_time / 1e6),
                num: e.processing_time / 1e6,
                den: requests,
            },
            DATA_METRIC => Part::plain(custom_data::value(q, e)),
            _ => Part::plain(Some(requests)),
        };
        groups.entry((&i.name, &e.name)).or_default().add(part);
        if e.queue_group.is_empty() {
            unqueued.insert((&i.name, &e.name));
        }
    }
    let own = match q.metric {
        "error_ratio" => ratio_config(),
        "processing_time" | "average_processing_time" => FieldConfig::unit("ms"),
        _ => FieldConfig::unit("short"),
    };
    let mut meta = round_meta(NUMERIC_LONG, round);
    if q.aggregate == Aggregate::Sum && !pooled(q.metric) && !unqueued.is_empty() {
        let names: Vec<String> = unqueued.iter().map(|(s, e)| format!("{s}/{e}")).collect();
        meta.notices.push(unqueued_notice(&names));
    }
    let (services, endpoints): (Vec<String>, Vec<String>) =
        groups.keys().map(|(s, e)| (s.to_string(), e.to_string())).unzip();
    Frame::new("stats", &q.ref_id)
        .with_meta(meta)
        .with_field(Field::new("service", Values::String(services)))
        .with_field(Field::new("endpoint", Values::String(endpoints)))
        .with_field(
            Field::new(
                q.metric_name(),
                Values::NullableFloat64(groups.values().map(|g| g.value(q.aggregate, q.metric)).collect()),
            )
            .with_config(config(q.aggregate, own)),
        )
}

/// The warning that sums of endpoints without a queue group over-count.
pub fn unqueued_notice(endpoints: &[String]) -> Notice {
    Notice {
        severity: Severity::Warning,
        text: format!(
            "no queue group on {}: every instance receives every request there, so the sum counts each request once per instance (the table format shows queue_group)",
            endpoints.join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::model::micro::Verb;
    use crate::model::observed::KnownInstance;
    use crate::model::shapes::tests::round;

    fn q(json: &str) -> Query {
        Query::parse("A", "", json.as_bytes()).unwrap()
    }

    fn values(f: &Frame) -> Vec<Option<f64>> {
        match &f.fields.last().unwrap().values {
            Values::NullableFloat64(v) => v.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn ping_body(name: &str, id: &str) -> String {
        format!(r#"{{"type":"io.nats.micro.v1.ping_response","name":"{name}","id":"{id}","version":"1.0.0"}}"#)
    }

    #[test]
    fn instant_ping_one_row_per_service_with_down_instances_counted_as_known() {
        // rtt: orders b 0.5 ms, billing a 1 ms, orders c 1.5 ms; orders d known and down.
        let bodies = [
            ping_body("orders", "b"),
            ping_body("billing", "a"),
            ping_body("orders", "c"),
        ];
        let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
        let down = vec![KnownInstance {
            name: "orders".into(),
            id: "d".into(),
            version: "1.0.0".into(),
            last_seen: Utc::now(),
            alive: false,
            silence: None,
        }];
        let r = round(Verb::Ping, &bodies, down);
        let f = ping(&q(r#"{"queryType":"ping","aggregate":"avg"}"#), &r);
        let names: Vec<_> = f.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["service", "rtt"], "no instance id remains");
        assert_eq!(
            f.fields[0].values,
            Values::String(vec!["billing".into(), "orders".into()])
        );
        assert_eq!(values(&f), [Some(1.0), Some(1.0)]);
        assert_eq!(
            values(&ping(&q(r#"{"queryType":"ping","aggregate":"count"}"#), &r)),
            [Some(1.0), Some(2.0)]
        );
        let up = ping(&q(r#"{"queryType":"ping","metric":"up","aggregate":"sum"}"#), &r);
        assert_eq!(values(&up), [Some(1.0), Some(2.0)]);
        let known = ping(&q(r#"{"queryType":"ping","metric":"up","aggregate":"count"}"#), &r);
        assert_eq!(values(&known), [Some(1.0), Some(3.0)]);
        assert_eq!(known.fields[1].config.as_ref().unwrap().unit.as_deref(), Some("short"));
        f.to_arrow().unwrap();
    }

    fn stats_body(id: &str, requests: u64, errors: u64, queue: &str) -> String {
        format!(
            r#"{{"type":"io.nats.micro.v1.stats_response","name":"orders","id":"{id}","version":"1",
            "started":"2026-01-02T03:04:05Z","endpoints":[{{"name":"get","subject":"o.get","queue_group":"{queue}",
            "num_requests":{requests},"num_errors":{errors},"processing_time":{p},"average_processing_time":2000000}}]}}"#,
            p = requests * 2_000_000
        )
    }

    #[test]
    fn instant_stats_pool_ratios_add_counters_and_warn_of_sums_without_a_queue_group() {
        let bodies = [stats_body("a", 100, 50, "q"), stats_body("b", 1, 0, "q")];
        let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
        let r = round(Verb::Stats, &bodies, vec![]);
        let run = |json: &str| stats(&q(json), &r);
        let sum = run(r#"{"queryType":"stats","aggregate":"sum"}"#);
        let names: Vec<_> = sum.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["service", "endpoint", "requests"]);
        assert_eq!(values(&sum), [Some(101.0)]);
        let queue_warning = |f: &Frame| {
            f.meta
                .as_ref()
                .unwrap()
                .notices
                .iter()
                .any(|n| n.text.starts_with("no queue group on orders/get"))
        };
        assert!(!queue_warning(&sum), "every endpoint has a queue group");
        let ratio = run(r#"{"queryType":"stats","metric":"error_ratio","aggregate":"avg"}"#);
        assert_eq!(values(&ratio), [Some(50.0 / 101.0)]);
        let worst = run(r#"{"queryType":"stats","metric":"error_ratio","aggregate":"max"}"#);
        assert_eq!(values(&worst), [Some(0.5)]);
        let apt = run(r#"{"queryType":"stats","metric":"average_processing_time","aggregate":"sum"}"#);
        assert_eq!(
            values(&apt),
            [Some(2.0)],
            "pooled: total time over total requests, in ms"
        );

        let bodies = [stats_body("a", 3, 0, ""), stats_body("b", 4, 0, "q")];
        let bodies: Vec<&str> = bodies.iter().map(String::as_str).collect();
        let r = round(Verb::Stats, &bodies, vec![]);
        let f = stats(&q(r#"{"queryType":"stats","aggregate":"sum"}"#), &r);
        assert!(queue_warning(&f), "{:?}", f.meta);
        let avg = stats(&q(r#"{"queryType":"stats","aggregate":"avg"}"#), &r);
        assert!(!queue_warning(&avg), "only sums over-count");
    }

    fn group(parts: &[Part]) -> Group {
        let mut g = Group::default();
        for p in parts {
            g.add(*p);
        }
        g
    }

    #[test]
    fn plain_values_sum_average_and_count_only_instances_with_a_value() {
        let g = group(&[Part::plain(Some(2.0)), Part::plain(None), Part::plain(Some(4.0))]);
        assert_eq!(g.value(Aggregate::Sum, "rtt"), Some(6.0));
        assert_eq!(g.value(Aggregate::Avg, "rtt"), Some(3.0));
        assert_eq!(g.value(Aggregate::Min, "rtt"), Some(2.0));
        assert_eq!(g.value(Aggregate::Max, "rtt"), Some(4.0));
        assert_eq!(g.value(Aggregate::Count, "rtt"), Some(2.0));
        let none = group(&[Part::plain(None)]);
        assert_eq!(none.value(Aggregate::Sum, "rtt"), None);
        assert_eq!(none.value(Aggregate::Count, "rtt"), Some(0.0));
    }

    #[test]
    fn ratios_pool_so_a_busy_instance_outweighs_an_idle_one() {
        // 50 errors of 100 requests, and 0 of 1: the service's ratio is 50/101, not the mean 0.25.
        let busy = Part {
            value: Some(0.5),
            num: 50.0,
            den: 100.0,
        };
        let idle = Part {
            value: Some(0.0),
            num: 0.0,
            den: 1.0,
        };
        let g = group(&[busy, idle]);
        for a in [Aggregate::Sum, Aggregate::Avg] {
            assert_eq!(g.value(a, "error_ratio"), Some(50.0 / 101.0), "{a:?}");
        }
        assert_eq!(g.value(Aggregate::Max, "error_ratio"), Some(0.5));
        // No requests anywhere: 0, as the ratio of one instance without requests is.
        let quiet = group(&[Part {
            value: Some(0.0),
            num: 0.0,
            den: 0.0,
        }]);
        assert_eq!(quiet.value(Aggregate::Avg, "error_ratio"), Some(0.0));
    }
}
