//! The one rule for rates of STATS counters over an interval (`request_rate`, `error_rate`, `error_ratio`, `average_processing_time`), used by `timeseries`, Live and every aggregate.
//!
//! A rate is returned as a fraction `num / den`, so that downsampling can add the fractions of
//! several intervals (a ratio over a bucket is total errors over total requests, not the mean of
//! ratios). Counters that went down, a changed run (the instance restarted) or a time that did not
//! move forward are a reset: no value, never a negative or huge rate.

/// Counters of one endpoint as one STATS reply reported them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Counters {
    /// Unix time of the sample, milliseconds.
    pub t_ms: i64,
    pub requests: u64,
    pub errors: u64,
    /// Total processing time, nanoseconds.
    pub processing_ns: u64,
    /// Which run of the instance the counters belong to (its `started`, or a segment number);
    /// counters of different runs are not comparable.
    pub run: i64,
}

/// A value as `num / den`; `den == 0` means no value (an interval without requests for ratios).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fraction {
    pub num: f64,
    pub den: f64,
}

impl Fraction {
    /// The value, `None` when the denominator is 0.
    pub fn value(self) -> Option<f64> {
        (self.den != 0.0).then(|| self.num / self.den)
    }
}

/// The metrics this rule computes; any other name is `request_rate`.
pub const METRICS: [&str; 4] = ["request_rate", "error_rate", "error_ratio", "average_processing_time"];

/// `metric` over the interval from `prev` to `cur`; `None` at a reset.
pub fn interval(metric: &str, prev: &Counters, cur: &Counters) -> Option<Fraction> {
    let reset = cur.run != prev.run
        || cur.requests < prev.requests
        || cur.errors < prev.errors
        || cur.processing_ns < prev.processing_ns
        || cur.t_ms <= prev.t_ms;
    if reset {
        return None;
    }
    let secs = (cur.t_ms - prev.t_ms) as f64 / 1e3;
    let requests = (cur.requests - prev.requests) as f64;
    let errors = (cur.errors - prev.errors) as f64;
    let (num, den) = match metric {
        "error_rate" => (errors, secs),
        // Some implementations count an error without a request: a ratio never exceeds 1.
        "error_ratio" => (errors.min(requests), requests),
        "average_processing_time" => ((cur.processing_ns - prev.processing_ns) as f64 / 1e6, requests),
        _ => (requests, secs),
    };
    Some(Fraction { num, den })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(t_ms: i64, requests: u64, errors: u64, processing_ns: u64, run: i64) -> Counters {
        Counters {
            t_ms,
            requests,
            errors,
            processing_ns,
            run,
        }
    }

    #[test]
    fn each_metric_over_one_interval() {
        let a = c(0, 10, 1, 1_000_000, 7);
        let b = c(2_000, 30, 6, 41_000_000, 7);
        let v = |m| interval(m, &a, &b).and_then(Fraction::value);
        assert_eq!(v("request_rate"), Some(10.0));
        assert_eq!(v("error_rate"), Some(2.5));
        assert_eq!(v("error_ratio"), Some(0.25));
        assert_eq!(v("average_processing_time"), Some(2.0));
    }

    #[test]
    fn resets_give_no_value_and_ratios_stay_within_one() {
        let a = c(0, 10, 1, 5, 1);
        assert_eq!(
            interval("request_rate", &a, &c(1_000, 5, 1, 5, 1)),
            None,
            "counter went down"
        );
        assert_eq!(interval("request_rate", &a, &c(1_000, 20, 1, 5, 2)), None, "new run");
        assert_eq!(
            interval("request_rate", &a, &c(0, 20, 1, 5, 1)),
            None,
            "time stood still"
        );
        assert_eq!(
            interval("error_ratio", &a, &c(1_000, 10, 1, 5, 1)).and_then(Fraction::value),
            None
        );
        assert_eq!(
            interval("error_ratio", &a, &c(1_000, 11, 4, 5, 1)).and_then(Fraction::value),
            Some(1.0)
        );
    }
}
