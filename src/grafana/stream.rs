//! Grafana Live streaming of dashboard `ping` and `stats` time series: the seed frame QueryData answers, SubscribeStream's backfill, and one shared producer per channel for RunStream.
//!
//! # What streams, and why in this shape
//!
//! Only `format: "timeseries"` queries of `ping` and `stats` stream, and only for dashboards:
//! requests from alert rules (`FromAlert: true`) or server-side expressions
//! (`X-Grafana-From-Expr: true`) are answered as usual, without a channel.
//!
//! The frontend (`DataSourceWithBackend` → `toStreamingDataResponse`) subscribes to every frame
//! that has `meta.channel`, and Grafana keeps ONE `StreamingDataFrame` per channel whose rows are
//! appended by every packet. So:
//! - `instant` frames do not stream: they have no time field, so appended packets would pile up
//!   rows of every round in one table (and the ping panel reads a snapshot frame once).
//! - A streamed query answers exactly one frame carrying the channel (several frames on one
//!   channel would each show the whole shared buffer: every series N times).
//! - That frame is `timeseries-wide`: `time` plus one nullable number field per series, labelled
//!   `{service, id[, endpoint]}` — the form the ping panel and Grafana's time series panel read.
//!   Field names are unique (`service/id[/endpoint]`) because StreamingDataFrame carries old
//!   values over a schema change (a new instance) by field name. The long form with a `labels`
//!   column was rejected: re-sending its schema resets the per-series labels in Grafana.
//! - The QueryData frame holds no rows; history comes once, as SubscribeStream's initial data.
//!   Grafana pushes the QueryData frame and then the subscribe data into the same buffer, so
//!   history in both would be drawn twice, the second copy going back in time.
//! - Every packet carries the full schema (a late subscriber's buffer may lack a new series) and
//!   no refId (a channel is shared by every panel showing the same thing).
//!
//! # Producers
//!
//! RunStream calls for one channel of one data source (settings version included) share one
//! producer task through a `tokio::sync::broadcast`; the producer ends when its last listener's
//! gRPC stream is dropped. Every `sampleIntervalSec` (at least 1 s; 5 s when it is 0, which only
//! turns the background history off) it runs a discovery round (identical concurrent rounds are
//! coalesced by [`crate::nats::discovery`]) and sends one row. While NATS is unreachable it keeps
//! sending rows with every known series absent (`up`: 0) and a warning notice.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use grafana_plugin_sdk::pluginv2;
use serde_json::Value;
use tokio::sync::{broadcast, Notify};

use crate::grafana::execute;
use crate::metrics;
use crate::model::channel::{self, ChannelError, StreamSpec};
use crate::model::frames::{Frame, FrameError, FrameMeta, JsonParts, Notice, Severity};
use crate::model::live::{self, Counters, Tracker};
use crate::model::micro::Verb;
use crate::model::query::{Format, Query, QueryType, Window};
use crate::model::settings::Settings;
use crate::nats::connection::{ConnectError, Connection, Connections, SourceKey};

/// Packet period when `sampleIntervalSec` is 0 (history off; live views still want points).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);
/// Shortest packet period.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Packets a slow listener may fall behind before it skips ahead.
const BUFFER: usize = 16;

/// Packet period for these settings.
pub fn interval(settings: &Settings) -> Duration {
    settings.sample_interval.unwrap_or(DEFAULT_INTERVAL).max(MIN_INTERVAL)
}

fn header_true(headers: &HashMap<String, String>, name: &str) -> bool {
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

/// A stream that cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error("not a stream of this plugin: {0}")]
    Path(#[from] ChannelError),
    #[error("{0}")]
    Frame(#[from] FrameError),
}

/// The data source a stream reads: its settings version and connection cache.
#[derive(Clone)]
pub struct Source {
    pub key: SourceKey,
    pub settings: Arc<Settings>,
    pub connections: Arc<Connections>,
}

impl Source {
    async fn connection(&self) -> Result<Arc<Connection>, ConnectError> {
        self.connections.get(&self.key, Arc::clone(&self.settings)).await
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct ProducerKey {
    source: SourceKey,
    path: String,
}

struct Entry {
    generation: u64,
    tx: broadcast::Sender<Bytes>,
    wake: Arc<Notify>,
}

/// Running producers, one per channel.
#[derive(Default)]
pub struct Streams {
    producers: Mutex<HashMap<ProducerKey, Entry>>,
    generation: AtomicU64,
}

/// One listener of a producer: its packets as JSON bytes; dropping it tells the producer.
pub struct Listener {
    rx: Option<broadcast::Receiver<Bytes>>,
    wake: Arc<Notify>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.rx.take();
        self.wake.notify_one();
        metrics::global().stream_listener(-1);
    }
}

impl Listener {
    /// The next packet; `None` when the producer is gone.
    pub async fn next(&mut self) -> Option<Bytes> {
        let rx = self.rx.as_mut()?;
        loop {
            match rx.recv().await {
                Ok(p) => return Some(p),
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    tracing::debug!(skipped = n, "stream listener fell behind; skipping ahead");
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }
}

impl Streams {
    /// Listen to the producer of `path` on `source`, starting it if none runs.
    pub fn listen(self: &Arc<Self>, source: Source, path: &str) -> Result<Listener, StreamError> {
        let spec = StreamSpec::from_path(path)?;
        let key = ProducerKey {
            source: source.key.clone(),
            path: path.to_string(),
        };
        let mut producers = lock(&self.producers);
        if let Some(e) = producers.get(&key) {
            metrics::global().stream_listener(1);
            return Ok(Listener {
                rx: Some(e.tx.subscribe()),
                wake: Arc::clone(&e.wake),
            });
        }
        let (tx, rx) = broadcast::channel(BUFFER);
        let wake = Arc::new(Notify::new());
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        producers.insert(
            key.clone(),
            Entry {
                generation,
                tx: tx.clone(),
                wake: Arc::clone(&wake),
            },
        );
        drop(producers);
        metrics::global().stream_listener(1);
        metrics::global().stream_producer(1);
        tracing::info!(org_id = key.source.source.org_id, uid = %key.source.source.uid, path = %key.path, "stream producer started");
        let this = Arc::clone(self);
        let producer_wake = Arc::clone(&wake);
        tokio::spawn(async move {
            this.produce(key, generation, spec, source, tx, producer_wake).await;
        });
        Ok(Listener { rx: Some(rx), wake })
    }

    /// Remove the producer when nobody listens; true when it must stop.
    fn retire_if_idle(&self, key: &ProducerKey, generation: u64, tx: &broadcast::Sender<Bytes>) -> bool {
        let mut producers = lock(&self.producers);
        if tx.receiver_count() > 0 {
            return false;
        }
        if producers.get(key).is_some_and(|e| e.generation == generation) {
            producers.remove(key);
        }
        true
    }

    async fn produce(
        &self,
        key: ProducerKey,
        generation: u64,
        spec: StreamSpec,
        source: Source,
        tx: broadcast::Sender<Bytes>,
        wake: Arc<Notify>,
    ) {
        let period = interval(&source.settings);
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut tracker = Tracker::default();
        let mut counters = Counters::default();
        let verb = match spec.query_type {
            QueryType::Stats => Verb::Stats,
            _ => Verb::Ping,
        };
        loop {
            let tick = tokio::select! {
                _ = ticker.tick() => true,
                () = wake.notified() => false,
            };
            if self.retire_if_idle(&key, generation, &tx) {
                break;
            }
            if !tick {
                continue;
            }
            let at = Utc::now();
            let (values, outage) = match source.connection().await {
                Err(e) => (BTreeMap::new(), Some(format!("NATS is unreachable: {e}"))),
                Ok(conn) => match conn.discovery.discover(verb, spec.scope.clone()).await {
                    Ok(round) => (live::round_values(&spec, &round, &mut counters, at), None),
                    Err(e) => (BTreeMap::new(), Some(e.to_string())),
                },
            };
            if let Some(reason) = &outage {
                tracing::debug!(path = %key.path, reason = %reason, "stream point without answers");
            }
            let frame = tracker.packet(&spec, at, &values, source.settings.retention, outage);
            match frame
                .to_json(JsonParts::All)
                .and_then(|v| serde_json::to_vec(&v).map_err(|e| FrameError::Encode(e.to_string())))
            {
                Ok(bytes) => {
                    metrics::global().stream_packet();
                    // An error only means nobody listens right now: checked on the next turn.
                    let _ = tx.send(Bytes::from(bytes));
                }
                Err(e) => tracing::warn!(path = %key.path, error = %e, "stream packet could not be encoded"),
            }
        }
        metrics::global().stream_producer(-1);
        tracing::info!(org_id = key.source.source.org_id, uid = %key.source.source.uid, path = %key.path, "stream producer stopped: nobody listens");
    }
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
