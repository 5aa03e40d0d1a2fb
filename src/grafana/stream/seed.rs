//! Which queries stream (dashboards' `timeseries` of `ping` and `stats`), the seed frame QueryData answers for them, and the backfill SubscribeStream sends a new subscriber.

#[allow(unused_imports)]
use super::*;

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
    let model: serde_json::Map<String, Value> = serde_json::from_slice(&query.json).ok()?;
    if model.get("format").and_then(Value::as_str).map(str::trim) != Some(Format::Timeseries.name()) {
        return None;
    }
    // Parsed as the `timeseries` query it is, so the metric is its canonical time-series name.
    let q = Query::parse(&query.ref_id, &query.query_type, &query.json).ok()?;
    channel::streams(q.query_type, Format::Timeseries).then_some(StreamSpec {
        query_type: q.query_type,
        format: Format::Timeseries,
        metric: q.metric,
        scope: q.scope,
        endpoint: q.endpoint,
    })
}

/// What QueryData answers for one query of a dashboard request.
#[derive(Debug)]
pub enum Seed {
    /// The query streams: answer this frame (no rows, `meta.channel` set).
    Live(Frame),
    /// The query would stream but cannot (channel too long, odd uid): answer as usual, add this notice.
    NotStreamed(Notice),
}

/// The seed of `query` for data source `uid`, or `None` when the query does not stream.
pub fn seed(uid: &str, headers: &HashMap<String, String>, query: &pluginv2::DataQuery) -> Option<Seed> {
    if !from_dashboard(headers) {
        return None;
    }
    let spec = spec_of(query)?;
    Some(match spec.channel(uid) {
        Ok(channel) => {
            let mut frame = live::wide(&spec, &query.ref_id, Vec::new(), Vec::new());
            if let Some(meta) = frame.meta.as_mut() {
                meta.channel = Some(channel);
                meta.notices.push(Notice {
                    severity: Severity::Info,
                    text: "live: history and new points arrive through Grafana Live".into(),
                });
            }
            Seed::Live(frame)
        }
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

/// The history query of a stream: the SAME query a dashboard stores, as `timeseries`, over the
/// retention window, run through the usual query path.
pub fn history_query(spec: &StreamSpec, now_ms: i64, window: Duration) -> pluginv2::DataQuery {
    let model = serde_json::json!({
        "refId": "history",
        "queryType": spec.query_type.name(),
        "service": spec.scope.service.clone().unwrap_or_default(),
        "instance": spec.scope.id.clone().unwrap_or_default(),
        "endpoint": spec.endpoint.clone().unwrap_or_default(),
        "metric": spec.metric,
        "format": Format::Timeseries.name(),
    });
    let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX);
    pluginv2::DataQuery {
        ref_id: "history".into(),
        query_type: spec.query_type.name().into(),
        max_data_points: 10_000,
        interval_ms: 1000,
        time_range: Some(pluginv2::TimeRange {
            from_epoch_ms: now_ms.saturating_sub(window_ms),
            to_epoch_ms: now_ms,
        }),
        json: serde_json::to_vec(&model).unwrap_or_default(),
    }
}

/// SubscribeStream's initial data: the history as one wide JSON frame; no rows when there is no
/// history or the history query fails (the stream itself still works).
pub async fn backfill(source: &Source, path: &str) -> Result<Value, StreamError> {
    let spec = StreamSpec::from_path(path)?;
    let query = history_query(&spec, Utc::now().timestamp_millis(), source.settings.retention);
    let window = query.time_range.as_ref().map(|r| Window {
        from_ms: r.from_epoch_ms,
        to_ms: r.to_epoch_ms,
        max_points: query.max_data_points,
        interval_ms: query.interval_ms,
    });
    let frames = match Query::parse(&query.ref_id, &query.query_type, &query.json) {
        Err(e) => Err(e.message),
        Ok(q) => match source.connection().await {
            Err(e) => Err(e.to_string()),
            Ok(conn) => {
                let q = match window {
                    Some(w) => q.with_window(w),
                    None => q,
                };
                execute::execute(&q, &conn).await.map_err(|e| e.kind.to_string())
            }
        },
    };
    let frame = match frames {
        Ok(frames) => live::history(&spec, &frames),
        Err(error) => {
            tracing::debug!(path, error = %error, "no history for a new subscriber");
            live::history(&spec, &[])
        }
    };
    Ok(frame.to_json(JsonParts::All)?)
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
        let Some(Seed::Live(frame)) = live else {
            panic!("ping timeseries should stream: {live:?}")
        };
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
    fn history_query_is_the_stored_query_as_timeseries() {
        let spec = StreamSpec::from_path("v1/stats/timeseries/error_rate/orders/=/get").unwrap();
        let q = history_query(&spec, 10_000_000, Duration::from_secs(60));
        let model: Value = serde_json::from_slice(&q.json).unwrap();
        assert_eq!(model["format"], "timeseries");
        assert_eq!(model["metric"], "error_rate");
        assert_eq!(model["endpoint"], "get");
        let range = q.time_range.unwrap();
        assert_eq!((range.from_epoch_ms, range.to_epoch_ms), (9_940_000, 10_000_000));
    }
}
