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

use crate::model::frames::{FieldConfig, Notice, Severity};
use crate::model::query::Aggregate;

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
pub fn config(aggregate: Aggregate, own: FieldConfig) -> FieldConfig {
    if aggregate == Aggregate::Count {
        FieldConfig::unit("short")
    } else {
        own
    }
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
    use super::*;

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
