//! The time range of a `timeseries`, `events` or `slo` query, saturated where it enters from Grafana.

/// The time range and resolution Grafana asks for (`timeRange`, `maxDataPoints`, `intervalMs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Unix ms, inclusive.
    pub from_ms: i64,
    /// Unix ms, inclusive.
    pub to_ms: i64,
    /// Most points per series Grafana wants (0 = no limit).
    pub max_points: i64,
    /// Grafana's suggested step (0 = none).
    pub interval_ms: i64,
}

/// The latest time a window may name: the end of year 9999 (Unix ms); earlier than 1970 is 0.
pub const MAX_TIME_MS: i64 = 253_402_300_799_999;
/// Most points per series a query may ask for (`maxDataPoints` above it counts as this).
pub const MAX_DATA_POINTS: i64 = 100_000;

impl Window {
    /// The window Grafana sent, saturated where it enters: times within [1970, 9999] (a `to`
    /// before `from` is an empty window at `from`), `maxDataPoints` within [0, 100 000], the
    /// interval within [0, the span of all times]. No arithmetic on a window can overflow after.
    pub fn from_grafana(from_ms: i64, to_ms: i64, max_points: i64, interval_ms: i64) -> Self {
        let from_ms = from_ms.clamp(0, MAX_TIME_MS);
        Self {
            from_ms,
            to_ms: to_ms.clamp(from_ms, MAX_TIME_MS),
            max_points: max_points.clamp(0, MAX_DATA_POINTS),
            interval_ms: interval_ms.clamp(0, MAX_TIME_MS),
        }
    }

    /// The last `span_ms` up to `now_ms`, without a resolution limit.
    pub fn last(span_ms: i64, now_ms: i64) -> Self {
        Self {
            from_ms: now_ms.saturating_sub(span_ms),
            to_ms: now_ms,
            max_points: 0,
            interval_ms: 0,
        }
    }

    pub fn contains(&self, t: i64) -> bool {
        self.from_ms <= t && t <= self.to_ms
    }
}
