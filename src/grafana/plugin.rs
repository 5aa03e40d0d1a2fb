//! Grafana-facing handlers: thin `pluginv2` service implementations that turn protocol messages into calls of the library and back.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::future::join_all;
use futures::FutureExt;
use grafana_plugin_sdk::pluginv2::{
    self, check_health_response::HealthStatus, diagnostics_server::Diagnostics, publish_stream_response,
    resource_server::Resource, stream_server::Stream, subscribe_stream_response,
};
use tokio::time::Instant;
use tonic::{Request, Response, Status};

use crate::grafana::execute;
use crate::grafana::health;
use crate::grafana::protocol::{self, Data};
use crate::grafana::query_error::{QueryError, QueryErrorKind};
use crate::grafana::resources;
use crate::grafana::stream::{self, Seed, Streams};
use crate::metrics;
use crate::model::answer::meta::{MAX_CALL_ENCODED_BYTES, MAX_ENCODED_BYTES};
use crate::model::frames::Frame;
use crate::model::query::{Query, Window};
use crate::model::settings::{RawSettings, Settings, SettingsError};
use crate::nats::connection::{ConnectError, Connection, Connections, SourceId, SourceKey};

/// Why a request's data source could not be used.
#[derive(Clone, Debug, thiserror::Error)]
enum SourceError {
    #[error("the request carries no data source settings")]
    Missing,
    #[error("data source settings: {0}")]
    Settings(#[from] SettingsError),
    #[error("{0}")]
    Connect(#[from] ConnectError),
}

impl From<SourceError> for QueryErrorKind {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Missing => QueryErrorKind::BadQuery(e.to_string()),
            SourceError::Settings(s) => QueryErrorKind::Settings(s),
            SourceError::Connect(c) => QueryErrorKind::Connect(c),
        }
    }
}

/// The plugin: connection cache and live stream producers shared by every handler.
#[derive(Clone, Default)]
pub struct Plugin {
    connections: Arc<Connections>,
    streams: Arc<Streams>,
    /// The Grafana user agents seen so far (each logged once).
    grafanas: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

/// The data source a request is for (org, id and uid: uids are unique only within one org) and its settings.
fn source(ctx: Option<&pluginv2::PluginContext>) -> Result<(SourceKey, Result<Settings, SettingsError>), SourceError> {
    let ctx = ctx.ok_or(SourceError::Missing)?;
    let ds = ctx.data_source_instance_settings.as_ref().ok_or(SourceError::Missing)?;
    let settings = Settings::parse(RawSettings {
        url: &ds.url,
        json_data: &ds.json_data,
        secure: &ds.decrypted_secure_json_data,
    });
    Ok((
        SourceKey {
            source: SourceId {
                org_id: ctx.org_id,
                id: ds.id,
                uid: ds.uid.clone(),
            },
            updated_ms: ds.last_updated_ms,
        },
        settings,
    ))
}

impl Plugin {
    /// Log the Grafana version the first time a Grafana server calls.
    fn note_grafana(&self, ctx: Option<&protocol::PluginContext>) {
        let Some(ctx) = ctx.filter(|c| !c.user_agent.is_empty()) else {
            return;
        };
        let new = match self.grafanas.lock() {
            Ok(mut seen) => seen.len() < 16 && seen.insert(ctx.user_agent.clone()),
            Err(_) => false,
        };
        if new {
            tracing::info!(
                grafana_version = ctx.grafana_version().unwrap_or("unknown"),
                user_agent = %ctx.user_agent,
                plugin_version = %ctx.plugin_version,
                "called by Grafana"
            );
        }
    }

    async fn connection(&self, ctx: Option<&pluginv2::PluginContext>) -> Result<Arc<Connection>, SourceError> {
        let (key, settings) = source(ctx)?;
        Ok(self.connections.get(&key, Arc::new(settings?)).await?)
    }
}

/// The time range and resolution of one DataQuery (`None` without a time range).
fn window(q: &pluginv2::DataQuery) -> Option<Window> {
    q.time_range
        .as_ref()
        .map(|r| Window::from_grafana(r.from_epoch_ms, r.to_epoch_ms, q.max_data_points, q.interval_ms))
}

/// The frames of one refId as Arrow, each frame dropped once encoded. Encoding stops at the
/// refId's net ([`MAX_ENCODED_BYTES`]), and what the refId adds to the whole call (`call`) stays
/// within [`MAX_CALL_ENCODED_BYTES`]: past either, the refId answers an error.
fn encode(frames: Vec<Frame>, call: &AtomicUsize) -> Result<Vec<Vec<u8>>, QueryError> {
    let ref_id = frames.first().map(|f| f.ref_id.clone()).unwrap_or_default();
    let too_large = |what: &str, mib: usize| {
        QueryError::new(
            &ref_id,
            QueryErrorKind::BadQuery(format!(
                "the answer passes {mib} MiB, the most {what}: narrow the query (service, instance, endpoint, a shorter time range or fewer data points)"
            )),
        )
    };
    let (mut encoded, mut bytes) = (Vec::with_capacity(frames.len()), 0usize);
    for f in frames {
        let arrow = f.to_arrow().map_err(|e| QueryError::new(&f.ref_id, e))?;
        bytes = bytes.saturating_add(arrow.len());
        if bytes > MAX_ENCODED_BYTES {
            return Err(too_large("one query may return", MAX_ENCODED_BYTES >> 20));
        }
        encoded.push(arrow);
    }
    if call.fetch_add(bytes, Ordering::Relaxed).saturating_add(bytes) > MAX_CALL_ENCODED_BYTES {
        call.fetch_sub(bytes, Ordering::Relaxed);
        return Err(too_large(
            "the queries of one request may return together (fewer queries per panel or rule)",
            MAX_CALL_ENCODED_BYTES >> 20,
        ));
    }
    Ok(encoded)
}

/// One query's answer. An error the user fixes in the settings names the settings page, when known.
fn data_response(
    result: Result<Vec<Frame>, QueryError>,
    settings_page: Option<&str>,
    call: &AtomicUsize,
) -> protocol::DataResponse {
    let encoded = result.and_then(|frames| encode(frames, call));
    match encoded {
        Ok(frames) => protocol::DataResponse {
            frames,
            status: 200,
            ..Default::default()
        },
        Err(e) => protocol::DataResponse {
            error: match settings_page.filter(|_| e.kind.fixed_in_settings()) {
                Some(page) => format!("{} (data source settings: {page})", e.kind),
                None => e.kind.to_string(),
            },
            status: e.kind.status(),
            error_source: e.kind.source().name().to_string(),
            ..Default::default()
        },
    }
}

#[tonic::async_trait]
impl Data for Plugin {
    async fn query_data(&self, req: protocol::QueryDataRequest) -> protocol::QueryDataResponse {
        self.note_grafana(req.plugin_context.as_ref());
        let ctx = req.plugin_context.as_ref().map(protocol::PluginContext::sdk);
        let settings_page = req
            .plugin_context
            .as_ref()
            .and_then(protocol::PluginContext::settings_page);
        let uid = ctx
            .as_ref()
            .and_then(|c| c.data_source_instance_settings.as_ref())
            .map(|ds| ds.uid.as_str())
            .unwrap_or_default();
        let parsed: Vec<(String, Option<Seed>, Result<Query, QueryError>)> = req
            .queries
            .iter()
            .map(|q| {
                let parsed = Query::parse(&q.ref_id, &q.query_type, &q.json)
                    .map_err(QueryError::from)
                    .map(|p| match window(q) {
                        Some(w) => p.with_window(w),
                        None => p,
                    });
                let seed = parsed.as_ref().ok().and_then(|p| stream::seed(uid, &req.headers, p));
                (q.ref_id.clone(), seed, parsed)
            })
            .collect();
        let conn = if parsed.iter().any(|(_, seed, q)| q.is_ok() || seed.is_some()) {
            Some(self.connection(ctx.as_ref()).await)
        } else {
            None
        };
        let call = AtomicUsize::new(0);
        let runs = parsed.into_iter().map(|(ref_id, seed, query)| {
            let conn = conn.clone();
            let call = &call;
            let settings_page = settings_page.as_deref();
            async move {
                let answer = std::panic::AssertUnwindSafe(async {
                    let t0 = Instant::now();
                    let (kind, result) = match (seed, query) {
                        // A live query answers its history with the channel that continues it; while
                        // NATS is unreachable the stream still runs (and says so), as it does through
                        // an outage.
                        (Some(Seed::Live(live)), query) => {
                            let kind = live.spec.query_type.name().to_string();
                            let result = match (conn, query) {
                                (_, Err(e)) => Err(e),
                                (Some(Ok(c)), Ok(q)) => {
                                    let history = execute::execute(&q, &c).await.map_err(|e| e.kind.to_string());
                                    let registry = c.discovery.registry();
                                    Ok(live.frame(&ref_id, history, |k| registry.version(&k.service, &k.id)))
                                }
                                (Some(Err(SourceError::Connect(e))), _) => {
                                    Ok(live.frame(&ref_id, Err(e.to_string()), |_| None))
                                }
                                (Some(Err(e)), _) => Err(QueryError::new(&ref_id, e)),
                                (None, _) => Err(QueryError::new(&ref_id, SourceError::Missing)),
                            };
                            (kind, result.map(|frame| vec![frame]))
                        }
                        (_, Err(e)) => ("unknown".to_string(), Err(e)),
                        (seed, Ok(q)) => {
                            let kind = q.query_type.name().to_string();
                            let mut result = match conn {
                                Some(Ok(c)) => execute::execute(&q, &c).await,
                                Some(Err(e)) => Err(QueryError::new(&ref_id, e)),
                                None => Err(QueryError::new(&ref_id, SourceError::Missing)),
                            };
                            if let (Some(Seed::NotStreamed(notice)), Ok(frames)) = (seed, result.as_mut()) {
                                stream::add_notice(frames, &notice);
                            }
                            (kind, result)
                        }
                    };
                    let kind = kind.as_str();
                    let outcome = result.as_ref().map_or_else(|e| e.kind.outcome(), |_| "ok");
                    metrics::global().query(kind, outcome);
                    match &result {
                        Ok(frames) => tracing::debug!(ref_id = %ref_id, query_type = kind, frames = frames.len(),
                            elapsed_ms = t0.elapsed().as_secs_f64() * 1e3, "query answered"),
                        Err(e) => tracing::info!(ref_id = %ref_id, query_type = kind, error = %e.kind, "query failed"),
                    }
                    data_response(result, settings_page, call)
                })
                .catch_unwind()
                .await;
                let response = answer.unwrap_or_else(|_| {
                    metrics::global().panicked("query");
                    tracing::error!(ref_id = %ref_id, "a panic while answering this query was contained; it answers an internal error");
                    protocol::DataResponse {
                        error: "internal error of the plugin while answering this query (the plugin goes on; please report it with the plugin's log)".to_string(),
                        status: 500,
                        error_source: protocol::ErrorSource::Plugin.name().to_string(),
                        ..Default::default()
                    }
                });
                (ref_id, response)
            }
        });
        let responses: HashMap<String, protocol::DataResponse> = join_all(runs).await.into_iter().collect();
        protocol::QueryDataResponse { responses }
    }
}

#[tonic::async_trait]
impl Diagnostics for Plugin {
    async fn check_health(
        &self,
        request: Request<pluginv2::CheckHealthRequest>,
    ) -> Result<Response<pluginv2::CheckHealthResponse>, Status> {
        let req = request.into_inner();
        let report = match source(req.plugin_context.as_ref()) {
            Err(e) => health::Report {
                ok: false,
                message: e.to_string(),
                details: serde_json::Value::Null,
            },
            Ok((key, settings)) => health::check(&self.connections, &key, settings).await,
        };
        tracing::info!(ok = report.ok, message = %report.message, "health check");
        Ok(Response::new(pluginv2::CheckHealthResponse {
            status: if report.ok {
                HealthStatus::Ok
            } else {
                HealthStatus::Error
            } as i32,
            message: report.message,
            json_details: if report.details.is_null() {
                Vec::new()
            } else {
                serde_json::to_vec(&report.details).unwrap_or_default()
            },
        }))
    }

    async fn collect_metrics(
        &self,
        _request: Request<pluginv2::CollectMetricsRequest>,
    ) -> Result<Response<pluginv2::CollectMetricsResponse>, Status> {
        Ok(Response::new(pluginv2::CollectMetricsResponse {
            metrics: Some(pluginv2::collect_metrics_response::Payload {
                prometheus: metrics::global().render().into_bytes(),
            }),
        }))
    }
}

fn json_response(status: u16, body: &serde_json::Value) -> pluginv2::CallResourceResponse {
    let mut headers = HashMap::new();
    headers.insert(
        "Content-Type".to_string(),
        pluginv2::StringList {
            values: vec!["application/json".to_string()],
        },
    );
    pluginv2::CallResourceResponse {
        code: i32::from(status),
        headers,
        body: serde_json::to_vec(body).unwrap_or_default().into(),
    }
}

#[tonic::async_trait]
impl Resource for Plugin {
    type CallResourceStream =
        futures::stream::Once<futures::future::Ready<Result<pluginv2::CallResourceResponse, Status>>>;

    async fn call_resource(
        &self,
        request: Request<pluginv2::CallResourceRequest>,
    ) -> Result<Response<Self::CallResourceStream>, Status> {
        let req = request.into_inner();
        let answer = match self.connection(req.plugin_context.as_ref()).await {
            Ok(conn) => {
                let role = req
                    .plugin_context
                    .as_ref()
                    .and_then(|c| c.user.as_ref())
                    .map_or("", |u| u.role.as_str());
                resources::handle(&conn, role, &req.method, &req.path).await
            }
            Err(e @ (SourceError::Settings(_) | SourceError::Missing)) => resources::Answer {
                status: 400,
                body: serde_json::json!({"error": e.to_string()}),
            },
            Err(e) => resources::Answer {
                status: 502,
                body: serde_json::json!({"error": e.to_string()}),
            },
        };
        tracing::debug!(path = %req.path, status = answer.status, "resource call");
        Ok(Response::new(futures::stream::once(futures::future::ready(Ok(
            json_response(answer.status, &answer.body),
        )))))
    }
}

/// Packets of one RunStream call.
type PacketStream = std::pin::Pin<Box<dyn futures::Stream<Item = Result<pluginv2::StreamPacket, Status>> + Send>>;

impl Plugin {
    fn stream_source(&self, ctx: Option<&pluginv2::PluginContext>) -> Result<stream::Source, SourceError> {
        let (key, settings) = source(ctx)?;
        Ok(stream::Source {
            key,
            settings: Arc::new(settings?),
            connections: Arc::clone(&self.connections),
        })
    }
}

#[tonic::async_trait]
impl Stream for Plugin {
    type RunStreamStream = PacketStream;

    async fn subscribe_stream(
        &self,
        request: Request<pluginv2::SubscribeStreamRequest>,
    ) -> Result<Response<pluginv2::SubscribeStreamResponse>, Status> {
        let req = request.into_inner();
        let refuse = |status: subscribe_stream_response::Status| {
            Response::new(pluginv2::SubscribeStreamResponse {
                status: status as i32,
                data: Vec::new(),
            })
        };
        // The data source must be usable (settings valid) for its streams to be subscribed.
        if let Err(e) = self.stream_source(req.plugin_context.as_ref()) {
            tracing::info!(path = %req.path, reason = %e, "stream subscription refused");
            return Ok(refuse(subscribe_stream_response::Status::PermissionDenied));
        }
        match stream::check_path(&req.path) {
            Ok(_) => {
                tracing::debug!(path = %req.path, "stream subscription accepted");
                Ok(Response::new(pluginv2::SubscribeStreamResponse {
                    status: subscribe_stream_response::Status::Ok as i32,
                    data: Vec::new(),
                }))
            }
            Err(e) => {
                tracing::info!(path = %req.path, reason = %e, "stream subscription refused");
                Ok(refuse(subscribe_stream_response::Status::NotFound))
            }
        }
    }

    async fn run_stream(
        &self,
        request: Request<pluginv2::RunStreamRequest>,
    ) -> Result<Response<Self::RunStreamStream>, Status> {
        let req = request.into_inner();
        let source = self.stream_source(req.plugin_context.as_ref()).map_err(|e| {
            tracing::info!(path = %req.path, reason = %e, "stream not run");
            Status::failed_precondition(e.to_string())
        })?;
        let listener = self.streams.listen(source, &req.path).map_err(|e| {
            tracing::info!(path = %req.path, reason = %e, "stream not run");
            Status::not_found(e.to_string())
        })?;
        let packets = futures::stream::unfold(listener, |mut listener| async move {
            let data = listener.next().await?;
            Some((Ok(pluginv2::StreamPacket { data: data.to_vec() }), listener))
        });
        Ok(Response::new(Box::pin(packets)))
    }

    async fn publish_stream(
        &self,
        _request: Request<pluginv2::PublishStreamRequest>,
    ) -> Result<Response<pluginv2::PublishStreamResponse>, Status> {
        Ok(Response::new(pluginv2::PublishStreamResponse {
            status: publish_stream_response::Status::PermissionDenied as i32,
            data: Vec::new(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::frames::{Field, Values};

    /// A frame of `mib` MiB of Arrow (one float column).
    fn frame(ref_id: &str, mib: usize) -> Frame {
        Frame::new("big", ref_id).with_field(Field::new("v", Values::Float64(vec![1.5; (mib << 20) / 8])))
    }

    /// A frame that cannot be encoded (its columns differ in length).
    fn broken(ref_id: &str) -> Frame {
        Frame::new("broken", ref_id)
            .with_field(Field::new("a", Values::Float64(vec![1.0])))
            .with_field(Field::new("b", Values::Float64(vec![1.0, 2.0])))
    }

    #[test]
    fn encoding_a_ref_id_stops_at_its_net_and_answers_an_error_on_it() {
        let call = AtomicUsize::new(0);
        assert!(matches!(
            encode(vec![broken("A")], &call),
            Err(QueryError {
                kind: QueryErrorKind::Frame(_),
                ..
            })
        ));
        // Past the net, the frames after it are never encoded: the broken one is not reached.
        let frames = vec![frame("A", 10), frame("A", 10), frame("A", 10), broken("A")];
        let e = encode(frames, &call).unwrap_err();
        assert_eq!(e.ref_id, "A");
        assert!(
            e.kind.to_string().contains(&format!("{} MiB", MAX_ENCODED_BYTES >> 20)),
            "{e}"
        );
        assert_eq!(
            call.load(Ordering::Relaxed),
            0,
            "a refId past its net adds nothing to the call"
        );
    }

    #[test]
    fn the_ref_ids_of_one_call_share_its_net() {
        let call = AtomicUsize::new(0);
        let a = encode(vec![frame("A", 20)], &call).unwrap();
        let a_bytes: usize = a.iter().map(Vec::len).sum();
        assert_eq!(call.load(Ordering::Relaxed), a_bytes);
        let e = encode(vec![frame("B", 20)], &call).unwrap_err();
        assert_eq!(e.ref_id, "B");
        assert!(e.kind.to_string().contains("queries of one request"), "{e}");
        assert_eq!(
            call.load(Ordering::Relaxed),
            a_bytes,
            "the refId refused is not counted"
        );
        // What is left of the call's net still answers a smaller refId.
        assert!(encode(vec![frame("C", 4)], &call).is_ok());
        let r = data_response(Ok(vec![frame("D", 20)]), None, &call);
        assert!(
            r.frames.is_empty() && r.status == 400 && !r.error.is_empty(),
            "{}",
            r.error
        );
    }
}
