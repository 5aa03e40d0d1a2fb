//! Which queries stream (dashboards' `timeseries` of `ping` and `stats`), the history frame with its channel that QueryData answers for them, and SubscribeStream's path check.

use std::collections::HashMap;

use grafana_plugin_sdk::pluginv2;
use serde_json::Value;

use super::StreamError;
use crate::model::channel::{self, StreamSpec};
use crate::model::frames::{Frame, FrameMeta, Notice, Severity};
use crate::model::live::{self, SeriesKey};
use crate::model::query::{Aggregate, Format, Query, DATA_METRIC};

pub(super) fn header_true(headers: &HashMap<String, String>, name: &str) -> bool {
    headers.iter().any(|(k, v)| {
        let k = k.strip_prefix("http_").unwrap_or(k);
        k.eq_ignore_ascii_case(name) && v.trim().eq_ignore_ascii_case("true")
    })
}

/// Whether a QueryData request comes from a dashboard that can subscribe (not an alert rule or expression).
pub fn from_dashboard(headers: &HashMap<String, String>) -> bool {
    !header_true(headers, "FromAlert") && !header_true(headers, "X-Grafana-From-Expr")
}

/// The stream a stored query shows, if it streams. Validation is the query model's own
/// (parsed as `instant`, the format every streaming query type accepts); `None` leaves the
/// query to the usual path, which reports any error.
pub fn spec_of(query: &pluginv2::DataQuery) -> Option<StreamSpec> {
    streamed(query).map(|(spec, _)| spec)
}

/// The stream of a stored query, and why it cannot stream if it cannot: live packets carry one
/// built-in value per instance, so an aggregated series or a custom data leaf is answered whole.
fn streamed(query: &pluginv2::DataQuery) -> Option<(StreamSpec, Option<&'static str>)> {
    let model: serde_json::Map<String, Value> = serde_json::from_slice(&query.json).ok()?;
    if model.get("format").and_then(Value::as_str).map(str::trim) != Some(Format::Timeseries.name()) {
        return None;
    }
    // Parsed as the `timeseries` query it is, so the metric is its canonical time-series name.
    let q = Query::parse(&query.ref_id, &query.query_type, &query.json).ok()?;
    let spec = StreamSpec {
        query_type: q.query_type,
        format: Format::Timeseries,
        metric: q.metric,
        scope: q.scope,
        endpoint: q.endpoint,
    };
    let why_not = if q.aggregate != Aggregate::None {
        Some("not streamed live: aggregated series are answered whole and refresh with the dashboard")
    } else if q.metric == DATA_METRIC {
        Some("not streamed live: custom data series are answered whole and refresh with the dashboard")
    } else {
        None
    };
    channel::streams(q.query_type, Format::Timeseries).then_some((spec, why_not))
}

/// Whether the stored query turns streaming off (`"live": false`); any other value streams.
fn live_off(query: &pluginv2::DataQuery) -> bool {
    let Ok(model) = serde_json::from_slice::<serde_json::Map<String, Value>>(&query.json) else {
        return false;
    };
    match model.get("live") {
        Some(Value::Bool(b)) => !b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("false"),
        _ => false,
    }
}

/// A query that streams: what it shows and the channel that continues it.
#[derive(Debug)]
pub struct LiveSeed {
    pub spec: StreamSpec,
    pub channel: String,
}

impl LiveSeed {
    /// The one frame QueryData answers: the query's history over its time range in the wide
    /// shape every live packet has, with `meta.channel` set. Grafana seeds the channel's buffer
    /// with the first such frame and skips the frames of later subscribers, and SubscribeStream
    /// sends no rows, so no point is drawn twice. When the history cannot be read (NATS down),
    /// the frame has no rows and a warning: the stream itself still runs and heals.
    /// Each series is labelled with the version `version_of` knows for it, as live packets are.
    pub fn frame(
        &self,
        ref_id: &str,
        history: Result<Vec<Frame>, String>,
        version_of: impl Fn(&SeriesKey) -> Option<String>,
    ) -> Frame {
        let (mut frame, notices) = match history {
            Ok(frames) => {
                let mut notices: Vec<Notice> = Vec::new();
                for n in frames
                    .iter()
                    .filter_map(|f| f.meta.as_ref())
                    .flat_map(|m| m.notices.iter())
                {
                    if !notices.contains(n) {
                        notices.push(n.clone());
                    }
                }
                (live::history(&self.spec, &frames, version_of), notices)
            }
            Err(text) => (
                live::wide(&self.spec, ref_id, Vec::new(), Vec::new()),
                vec![Notice {
                    severity: Severity::Warning,
                    text,
                }],
            ),
        };
        frame.ref_id = ref_id.to_string();
        let meta = frame.meta.get_or_insert_with(FrameMeta::default);
        meta.channel = Some(self.channel.clone());
        meta.notices.extend(notices);
        frame
    }
}

/// What QueryData answers for one query of a dashboard request.
#[derive(Debug)]
pub enum Seed {
    /// The query streams: answer [`LiveSeed::frame`] of its history.
    Live(LiveSeed),
    /// The query would stream but cannot (channel too long, odd uid): answer as usual, add this notice.
    NotStreamed(Notice),
}

/// The seed of `query` for data source `uid`, or `None` when the query does not stream (not
/// from a dashboard, not a streaming query, or `"live": false`).
pub fn seed(uid: &str, headers: &HashMap<String, String>, query: &pluginv2::DataQuery) -> Option<Seed> {
    if !from_dashboard(headers) || live_off(query) {
        return None;
    }
    let (spec, why_not) = streamed(query)?;
    if let Some(text) = why_not {
        return Some(Seed::NotStreamed(Notice {
            severity: Severity::Info,
            text: text.to_string(),
        }));
    }
    Some(match spec.channel(uid) {
        Ok(channel) => Seed::Live(LiveSeed { spec, channel }),
        Err(e) => Seed::NotStreamed(Notice {
            severity: Severity::Info,
            text: format!("not streamed live: {e}"),
        }),
    })
}

/// Add a seed's notice to frames answered the usual way.
pub fn add_notice(frames: &mut [Frame], notice: &Notice) {
    for f in frames {
        f.meta
            .get_or_insert_with(FrameMeta::default)
            .notices
            .push(notice.clone());
    }
}

/// SubscribeStream's answer for `path`: the path must be one of this plugin's streams. It sends
/// no initial rows: the QueryData frame that led to the subscription already holds the history.
pub fn check_path(path: &str) -> Result<StreamSpec, StreamError> {
    Ok(StreamSpec::from_path(path)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dq(json: &str) -> pluginv2::DataQuery {
        pluginv2::DataQuery {
            ref_id: "A".into(),
            json: json.as_bytes().to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn only_dashboard_timeseries_of_ping_and_stats_stream() {
        let none = HashMap::new();
        let live = seed(
            "uid1",
            &none,
            &dq(r#"{"queryType":"ping","service":"orders","format":"timeseries"}"#),
        );
        let Some(Seed::Live(live)) = live else {
            panic!("ping timeseries should stream: {live:?}")
        };
        let frame = live.frame("A", Ok(Vec::new()), |_| None);
        let meta = frame.meta.as_ref().unwrap();
        assert_eq!(
            meta.channel.as_deref(),
            Some("ds/uid1/v1/ping/timeseries/rtt/orders/=/=")
        );
        assert_eq!(meta.kind, Some(crate::model::frames::TIMESERIES_WIDE));
        assert_eq!((frame.ref_id.as_str(), frame.rows()), ("A", 0));
        for json in [
            r#"{"queryType":"ping","service":"orders"}"#,
            r#"{"queryType":"ping","format":"instant"}"#,
            r#"{"queryType":"stats","format":"table"}"#,
            r#"{"queryType":"services","format":"timeseries"}"#,
            r#"{"queryType":"ping","service":"$svc","format":"timeseries"}"#,
            "not json",
        ] {
            assert!(seed("uid1", &none, &dq(json)).is_none(), "{json}");
        }
        let ts = dq(r#"{"queryType":"stats","endpoint":"get","metric":"errors","format":"timeseries"}"#);
        assert!(matches!(seed("u", &none, &ts), Some(Seed::Live(_))));
        for (k, v) in [
            ("FromAlert", "true"),
            ("http_X-Grafana-From-Expr", "true"),
            ("fromalert", "TRUE"),
        ] {
            let h = HashMap::from([(k.to_string(), v.to_string())]);
            assert!(seed("u", &h, &ts).is_none(), "{k}");
        }
        let h = HashMap::from([("FromAlert".to_string(), "false".to_string())]);
        assert!(seed("u", &h, &ts).is_some());
        assert!(matches!(seed(&"u".repeat(150), &none, &ts), Some(Seed::NotStreamed(n)) if n.text.contains("160")));
    }

    #[test]
    fn live_false_turns_streaming_off_and_the_seed_frame_holds_history() {
        let none = HashMap::new();
        for off in [r#""live":false"#, r#""live":"false""#] {
            let json = format!(r#"{{"queryType":"ping","format":"timeseries",{off}}}"#);
            assert!(seed("u", &none, &dq(&json)).is_none(), "{json}");
        }
        let on = dq(r#"{"queryType":"ping","format":"timeseries","live":true}"#);
        let Some(Seed::Live(s)) = seed("u", &none, &on) else {
            panic!("live: true streams")
        };
        let down = s.frame("A", Err("cannot reach NATS".into()), |_| None);
        let meta = down.meta.as_ref().unwrap();
        assert_eq!((down.ref_id.as_str(), down.rows()), ("A", 0));
        assert_eq!(meta.channel.as_deref(), Some(s.channel.as_str()));
        assert_eq!(meta.notices[0].severity, Severity::Warning);
        let empty = s.frame("A", Ok(Vec::new()), |_| None);
        assert!(empty.meta.as_ref().unwrap().notices.is_empty());
    }
}
