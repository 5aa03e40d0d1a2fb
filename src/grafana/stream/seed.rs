//! Which queries stream (dashboards' `timeseries` of `ping` and `stats`), the history frame with its channel that QueryData answers for them, and SubscribeStream's path check.

use std::collections::HashMap;

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

/// The stream of a parsed query, and why it cannot stream if it cannot: live packets carry one
/// built-in value per instance, so an aggregated series or a custom data leaf is answered whole.
fn streamed(q: &Query) -> Option<(StreamSpec, Option<&'static str>)> {
    if q.format != Format::Timeseries {
        return None;
    }
    let spec = StreamSpec {
        query_type: q.query_type,
        format: Format::Timeseries,
        metric: q.metric,
        scope: q.scope.clone(),
        endpoint: q.endpoint.clone(),
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

/// The seed of the parsed `query` for data source `uid`, or `None` when it does not stream (not
/// from a dashboard, not a streaming query, or `"live": false`).
pub fn seed(uid: &str, headers: &HashMap<String, String>, query: &Query) -> Option<Seed> {
    if !from_dashboard(headers) || !query.live {
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

    /// The seed of a stored query as QueryData makes it: parsed once, then seeded if it parsed.
    fn seed_of(uid: &str, headers: &HashMap<String, String>, json: &str) -> Option<Seed> {
        let q = Query::parse("A", "", json.as_bytes()).ok()?;
        seed(uid, headers, &q)
    }

    #[test]
    fn only_dashboard_timeseries_of_ping_and_stats_stream() {
        let none = HashMap::new();
        let live = seed_of(
            "uid1",
            &none,
            r#"{"queryType":"ping","service":"orders","format":"timeseries"}"#,
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
            assert!(seed_of("uid1", &none, json).is_none(), "{json}");
        }
        let ts = r#"{"queryType":"stats","endpoint":"get","metric":"errors","format":"timeseries"}"#;
        assert!(matches!(seed_of("u", &none, ts), Some(Seed::Live(_))));
        for (k, v) in [
            ("FromAlert", "true"),
            ("http_X-Grafana-From-Expr", "true"),
            ("fromalert", "TRUE"),
        ] {
            let h = HashMap::from([(k.to_string(), v.to_string())]);
            assert!(seed_of("u", &h, ts).is_none(), "{k}");
        }
        let h = HashMap::from([("FromAlert".to_string(), "false".to_string())]);
        assert!(seed_of("u", &h, ts).is_some());
        assert!(matches!(seed_of(&"u".repeat(150), &none, ts), Some(Seed::NotStreamed(n)) if n.text.contains("160")));
    }

    #[test]
    fn live_false_turns_streaming_off_and_the_seed_frame_holds_history() {
        let none = HashMap::new();
        for off in [r#""live":false"#, r#""live":"false""#] {
            let json = format!(r#"{{"queryType":"ping","format":"timeseries",{off}}}"#);
            assert!(seed_of("u", &none, &json).is_none(), "{json}");
        }
        let on = r#"{"queryType":"ping","format":"timeseries","live":true}"#;
        let Some(Seed::Live(s)) = seed_of("u", &none, on) else {
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
