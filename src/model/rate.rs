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

/// `metric` over the interval from `prev` to `cur`; `None` at a reset. A reset is a changed run,
/// a time that did not move forward, or a fall in a counter the metric reads: JS iterator
/// endpoints report only the last request's `processing_time`, whose falls void
/// `average_processing_time` but not the request and error rates.
pub fn interval(metric: &str, prev: &Counters, cur: &Counters) -> Option<Fraction> {
    if cur.run != prev.run || cur.t_ms <= prev.t_ms {
        return None;
    }
    let fell = |a: u64, b: u64| b < a;
    let secs = (cur.t_ms - prev.t_ms) as f64 / 1e3;
    let (requests, errors) = (
        cur.requests.checked_sub(prev.requests),
        cur.errors.checked_sub(prev.errors),
    );
    let (num, den) = match metric {
        "error_rate" => (errors? as f64, secs),
        // Some implementations count an error without a request: a ratio never exceeds 1.
        "error_ratio" => {
            let (r, e) = (requests? as f64, errors? as f64);
            (e.min(r), r)
        }
        "average_processing_time" => {
            if fell(prev.processing_ns, cur.processing_ns) {
                return None;
            }
            ((cur.processing_ns - prev.processing_ns) as f64 / 1e6, requests? as f64)
        }
        _ => (requests? as f64, secs),
    };
    Some(Fraction { num, den })
}

/// A per-second rate of one counter (a custom `data` counter) from `prev` to `cur`, each
/// `(t_ms, value, run)`; `None` at a reset (changed run, time not forward, value fell).
pub fn counter_rate(prev: (i64, f64, i64), cur: (i64, f64, i64)) -> Option<Fraction> {
    if cur.2 != prev.2 || cur.0 <= prev.0 || cur.1 < prev.1 || !cur.1.is_finite() || !prev.1.is_finite() {
        return None;
    }
    Some(Fraction {
        num: cur.1 - prev.1,
        den: (cur.0 - prev.0) as f64 / 1e3,
    })
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

    #[test]
    fn a_fall_voids_only_the_metrics_that_read_the_counter() {
        // A JS iterator endpoint: processing_time is the last request's, and fell.
        let a = c(0, 10, 1, 9_000_000, 1);
        let b = c(1_000, 14, 2, 2_000_000, 1);
        let v = |m| interval(m, &a, &b).and_then(Fraction::value);
        assert_eq!(v("request_rate"), Some(4.0));
        assert_eq!(v("error_rate"), Some(1.0));
        assert_eq!(v("error_ratio"), Some(0.25));
        assert_eq!(v("average_processing_time"), None);
        // Errors fell (a reset of errors only): the error metrics are void, requests still count.
        let e = c(1_000, 14, 0, 9_000_000, 1);
        assert_eq!(interval("request_rate", &a, &e).and_then(Fraction::value), Some(4.0));
        assert_eq!(interval("error_rate", &a, &e), None);
        assert_eq!(interval("error_ratio", &a, &e), None);
    }

    #[test]
    fn custom_counters_rate_per_second_and_reset() {
        assert_eq!(
            counter_rate((0, 5.0, 1), (2_000, 9.0, 1)).and_then(Fraction::value),
            Some(2.0)
        );
        assert_eq!(counter_rate((0, 5.0, 1), (2_000, 4.0, 1)), None, "fell");
        assert_eq!(counter_rate((0, 5.0, 1), (2_000, 9.0, 2)), None, "new run");
        assert_eq!(counter_rate((0, 5.0, 1), (0, 9.0, 1)), None, "time stood still");
    }
}
