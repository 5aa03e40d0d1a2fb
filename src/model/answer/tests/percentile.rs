//! Unit tests of the nearest-rank percentile behind `rtt_p95`.
//!
//! Test code only: the parent module includes it as `mod percentile;`.
#![cfg(test)]

use crate::model::answer::ping::percentile;

#[test]
fn nearest_rank_percentiles() {
    let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(percentile(&mut v, 95.0), Some(95.0));
    assert_eq!(percentile(&mut [3.0, 1.0, 2.0], 95.0), Some(3.0));
    assert_eq!(percentile(&mut [7.0], 95.0), Some(7.0));
    assert_eq!(percentile(&mut [], 95.0), None);
    let mut w: Vec<f64> = (1..=20).map(f64::from).collect();
    assert_eq!(percentile(&mut w, 95.0), Some(19.0));
}
