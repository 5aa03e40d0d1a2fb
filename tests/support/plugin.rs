//! The plugin binary started as Grafana starts it (go-plugin handshake, `pluginv2` gRPC) and data source settings as Grafana sends them.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use futures::StreamExt;
use grafana_plugin_sdk::pluginv2::{
    self, data_client::DataClient, diagnostics_client::DiagnosticsClient, resource_client::ResourceClient,
    stream_client::StreamClient,
};
use serde_json::{json, Value};
use tonic::transport::Channel;

use super::{repo, Response};

static NEXT_UID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Data source settings as Grafana sends them; every one gets its own uid.
#[derive(Clone)]
pub struct DataSource {
    pub uid: String,
    pub url: String,
    pub json: Value,
    pub secure: HashMap<String, String>,
    pub updated_ms: i64,
    /// Grafana's org of this data source (uids are unique only within one org).
    pub org_id: i64,
    /// Grafana's numeric data source id.
    pub id: i64,
}

impl DataSource {
    pub fn new(url: &str) -> Self {
        Self {
            uid: format!(
                "ds-{}-{}",
                std::process::id(),
                NEXT_UID.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ),
            url: url.to_string(),
            json: json!({}),
            secure: HashMap::new(),
            updated_ms: 1,
            org_id: 1,
            id: 7,
        }
    }

    /// The same data source uid provisioned into another org (its own id there).
    pub fn in_org(mut self, org_id: i64, id: i64) -> Self {
        self.org_id = org_id;
        self.id = id;
        self
    }

    pub fn json(mut self, json: Value) -> Self {
        self.json = json;
        self
    }

    pub fn secure(mut self, key: &str, value: &str) -> Self {
        self.secure.insert(key.to_string(), value.to_string());
        self
    }

    pub fn context(&self, role: &str) -> pluginv2::PluginContext {
        pluginv2::PluginContext {
            org_id: self.org_id,
            plugin_id: "natsmicro-datasource".into(),
            user: Some(pluginv2::User {
                login: "admin".into(),
                name: "Admin".into(),
                email: "admin@example.com".into(),
                role: role.into(),
            }),
            app_instance_settings: None,
            data_source_instance_settings: Some(pluginv2::DataSourceInstanceSettings {
                id: self.id,
                name: "NATS".into(),
                url: self.url.clone(),
                json_data: serde_json::to_vec(&self.json).unwrap_or_default(),
                decrypted_secure_json_data: self.secure.clone(),
                last_updated_ms: self.updated_ms,
                uid: self.uid.clone(),
                ..Default::default()
            }),
        }
    }
}

/// The plugin executable: `NATSMICRO_PLUGIN_BIN`, the one cargo built for these tests, or target/release.
pub fn plugin_bin() -> PathBuf {
    if let Ok(p) = std::env::var("NATSMICRO_PLUGIN_BIN") {
        return PathBuf::from(p);
    }
    match option_env!("CARGO_BIN_EXE_gpx_natsmicro") {
        Some(p) => PathBuf::from(p),
        None => repo().join("target/release/gpx_natsmicro"),
    }
}

/// The plugin binary, started as Grafana starts it, killed on drop.
pub struct PluginProcess {
    pub child: Child,
    pub addr: SocketAddr,
    pub channel: Channel,
    pub stderr: Arc<Mutex<Vec<u8>>>,
    /// Set when the plugin's stderr reached its end (every line it wrote has been read).
    stderr_closed: Arc<std::sync::atomic::AtomicBool>,
}

impl PluginProcess {
    pub async fn start() -> Result<Self> {
        Self::start_with_env(&[]).await
    }

    pub async fn start_with_env(env: &[(&str, &str)]) -> Result<Self> {
        Self::spawn(env, false).await
    }

    /// Started as Grafana 12.4+ starts plugins: an environment of only the go-plugin variables
    /// and `GF_*` ones (`[plugin.<id>]` settings arrive as `GF_PLUGIN_<KEY>`).
    pub async fn start_like_grafana_12_4(env: &[(&str, &str)]) -> Result<Self> {
        Self::spawn(env, true).await
    }

    async fn spawn(env: &[(&str, &str)], clear_env: bool) -> Result<Self> {
        let mut cmd = Command::new(plugin_bin());
        if clear_env {
            cmd.env_clear();
        }
        cmd.env("grafana_plugin_type", "datasource")
            .env("PLUGIN_PROTOCOL_VERSIONS", "2")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().context("spawn plugin")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let stderr = child.stderr.take().ok_or_else(|| anyhow!("no stderr"))?;
        let captured = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&captured);
        let stderr_closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let closed = Arc::clone(&stderr_closed);
        std::thread::spawn(move || {
            let mut r = BufReader::new(stderr);
            let mut buf = Vec::new();
            while let Ok(n) = r.read_until(b'\n', &mut buf) {
                if n == 0 {
                    break;
                }
                if std::env::var_os("PLUGIN_STDERR").is_some() {
                    let _ = std::io::stderr().write_all(&buf);
                }
                sink.lock().unwrap().extend_from_slice(&buf);
                buf.clear();
            }
            closed.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let mut r = BufReader::new(stdout);
            let _ = r.read_line(&mut line);
            let _ = tx.send(line);
            // Keep reading so the plugin never blocks on a full pipe.
            let mut sink = String::new();
            while r.read_line(&mut sink).map(|n| n > 0).unwrap_or(false) {
                sink.clear();
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(10))
            .context("no handshake line within 10 s")?;
        let addr = match parse_handshake(&line) {
            Ok(addr) => addr,
            Err(e) => {
                // The plugin says why on stderr (e.g. no port free in its range): read all of it.
                let _ = child.kill();
                let _ = child.wait();
                wait_closed(&stderr_closed);
                let err = String::from_utf8_lossy(&captured.lock().unwrap()).into_owned();
                bail!("{e}; plugin stderr: {err}");
            }
        };
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await?;
        Ok(Self {
            child,
            addr,
            channel,
            stderr: captured,
            stderr_closed,
        })
    }

    /// Shut the plugin down as Grafana does and return everything it wrote on stderr.
    pub async fn stderr_when_exited(&mut self) -> String {
        let _ = self.shutdown().await;
        for _ in 0..200 {
            if self.child.try_wait().ok().flatten().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        wait_closed(&self.stderr_closed);
        self.stderr_text()
    }

    /// The Data client, with no message-size limit below Grafana's (go-plugin dials plugins
    /// with `MaxCallRecvMsgSize(math.MaxInt32)`): a window over a large fleet is megabytes.
    pub fn data(&self) -> DataClient<Channel> {
        DataClient::new(self.channel.clone()).max_decoding_message_size(i32::MAX as usize)
    }
    pub fn diagnostics(&self) -> DiagnosticsClient<Channel> {
        DiagnosticsClient::new(self.channel.clone())
    }
    pub fn resource(&self) -> ResourceClient<Channel> {
        ResourceClient::new(self.channel.clone())
    }
    pub fn stream(&self) -> StreamClient<Channel> {
        StreamClient::new(self.channel.clone())
    }

    /// `plugin.GRPCController/Shutdown`, as Grafana calls it.
    pub async fn shutdown(&self) -> Result<(), tonic::Status> {
        let mut grpc = tonic::client::Grpc::new(self.channel.clone());
        grpc.ready()
            .await
            .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
        let path = tonic::codegen::http::uri::PathAndQuery::from_static("/plugin.GRPCController/Shutdown");
        grpc.unary::<(), (), _>(
            tonic::Request::new(()),
            path,
            tonic::codec::ProstCodec::<(), ()>::default(),
        )
        .await
        .map(|_| ())
    }

    /// The plugin's stderr once `ready` holds for it (it travels through a pipe, so a line the
    /// plugin wrote may not have been read yet); what there is after 10 s otherwise.
    pub async fn stderr_when(&self, ready: impl Fn(&str) -> bool) -> String {
        for _ in 0..200 {
            let text = self.stderr_text();
            if ready(&text) {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stderr_text()
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    /// Run queries (each `json` must hold its refId) and decode every response.
    pub async fn query(&self, ds: &DataSource, queries: &[Value]) -> Result<BTreeMap<String, Response>> {
        self.query_as(ds, "Admin", queries).await
    }

    pub async fn query_as(&self, ds: &DataSource, role: &str, queries: &[Value]) -> Result<BTreeMap<String, Response>> {
        let req = last_hour_request(ds, role, queries);
        let resp = self.data().query_data(req).await?.into_inner();
        resp.responses
            .into_iter()
            .map(|(k, v)| Ok((k, Response::decode(v)?)))
            .collect()
    }

    /// [`PluginProcess::query`], and how long the plugin took to answer: from sending the
    /// request until its gRPC answer arrived (decoding the frames here comes after).
    pub async fn query_timed(
        &self,
        ds: &DataSource,
        queries: &[Value],
    ) -> Result<(Duration, BTreeMap<String, Response>)> {
        let req = last_hour_request(ds, "Admin", queries);
        let t0 = std::time::Instant::now();
        let resp = self.data().query_data(req).await?.into_inner();
        let answered = t0.elapsed();
        let decoded = resp
            .responses
            .into_iter()
            .map(|(k, v)| Ok((k, Response::decode(v)?)))
            .collect::<Result<_>>()?;
        Ok((answered, decoded))
    }

    /// Run queries over an explicit time range (Unix ms) and resolution, as a dashboard sends them.
    /// QueryData with a time range, as Grafana's alert evaluation sends it (`FromAlert: true`): the
    /// frames themselves, never a Live seed (dashboard `timeseries` queries stream instead; see tests/stream.rs).
    pub async fn query_window(
        &self,
        ds: &DataSource,
        queries: &[Value],
        (from_ms, to_ms): (i64, i64),
        max_data_points: i64,
        interval_ms: i64,
    ) -> Result<BTreeMap<String, Response>> {
        let req = query_request(
            ds,
            "Admin",
            HashMap::from([("FromAlert".to_string(), "true".to_string())]),
            queries,
            (from_ms, to_ms),
            max_data_points,
            interval_ms,
        );
        let resp = self.data().query_data(req).await?.into_inner();
        resp.responses
            .into_iter()
            .map(|(k, v)| Ok((k, Response::decode(v)?)))
            .collect()
    }

    /// CollectMetrics, as Prometheus text.
    /// Wait until this process's samplers have completed `n` sampling rounds in all (its metric
    /// `natsmicro_history_sampling_rounds_total`); false after 30 s.
    pub async fn sampling_rounds_reach(&self, n: f64) -> bool {
        super::eventually(Duration::from_secs(30), || async {
            let text = self.metrics_text().await.unwrap_or_default();
            super::metric(&text, "natsmicro_history_sampling_rounds_total").unwrap_or(0.0) >= n
        })
        .await
    }

    /// The points of the `ping` `up` time series over the last `secs` seconds, per instance id
    /// (the fresh "now" point included); panics when the query fails.
    pub async fn ping_points(&self, ds: &DataSource, secs: i64) -> BTreeMap<String, usize> {
        let now = chrono::Utc::now().timestamp_millis();
        let query = json!({"refId": "A", "queryType": "ping", "format": "timeseries", "metric": "up", "live": false});
        let r = self
            .query_window(ds, &[query], (now - secs * 1000, now), 1_000_000, 1000)
            .await
            .expect("a ping time series");
        let a = &r["A"];
        assert!(a.error.is_empty(), "{}", a.error);
        a.frames
            .iter()
            .filter(|f| !f.numeric_fields().is_empty())
            .map(|f| {
                let labels = f.numeric_fields()[0].labels.clone().unwrap_or(Value::Null);
                (labels["id"].as_str().unwrap_or_default().to_string(), f.rows())
            })
            .collect()
    }

    /// Whether the process still serves gRPC (it neither crashed nor hangs).
    pub async fn serving(&self) -> bool {
        tokio::time::timeout(Duration::from_secs(10), self.metrics_text())
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Sampling rounds this process has completed so far.
    pub async fn sampling_rounds(&self) -> f64 {
        let text = self.metrics_text().await.unwrap_or_default();
        super::metric(&text, "natsmicro_history_sampling_rounds_total").unwrap_or(0.0)
    }

    pub async fn metrics_text(&self) -> Result<String> {
        let m = self
            .diagnostics()
            .collect_metrics(pluginv2::CollectMetricsRequest { plugin_context: None })
            .await?
            .into_inner();
        Ok(String::from_utf8(m.metrics.map(|p| p.prometheus).unwrap_or_default())?)
    }

    pub async fn health(&self, ds: &DataSource) -> Result<(i32, String)> {
        let r = self
            .diagnostics()
            .check_health(pluginv2::CheckHealthRequest {
                plugin_context: Some(ds.context("Admin")),
                headers: HashMap::new(),
            })
            .await?
            .into_inner();
        Ok((r.status, r.message))
    }

    /// RunStream for `path`, as Grafana Live starts a data source stream.
    pub async fn run_stream(&self, ds: &DataSource, path: &str) -> tonic::Streaming<pluginv2::StreamPacket> {
        self.stream()
            .run_stream(pluginv2::RunStreamRequest {
                plugin_context: Some(ds.context("Viewer")),
                path: path.into(),
                data: Default::default(),
            })
            .await
            .expect("run stream")
            .into_inner()
    }

    pub async fn resource_get(&self, ds: &DataSource, path: &str) -> Result<(i32, Value)> {
        self.resource_call(ds, "GET", path).await
    }

    /// CallResource with `method` on `path`, as an Editor: the first chunk's status and JSON body.
    pub async fn resource_call(&self, ds: &DataSource, method: &str, path: &str) -> Result<(i32, Value)> {
        let mut stream = self
            .resource()
            .call_resource(pluginv2::CallResourceRequest {
                plugin_context: Some(ds.context(if method == "GET" { "Viewer" } else { "Editor" })),
                path: path.into(),
                method: method.into(),
                url: format!("/api/datasources/uid/{}/resources/{path}", ds.uid),
                headers: HashMap::new(),
                body: Default::default(),
            })
            .await?
            .into_inner();
        let first = stream.next().await.ok_or_else(|| anyhow!("empty resource stream"))??;
        Ok((first.code, serde_json::from_slice(&first.body)?))
    }
}

impl Drop for PluginProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A QueryData request: each query's JSON as the frontend stores it, over `(from_ms, to_ms)`.
pub fn query_request(
    ds: &DataSource,
    role: &str,
    headers: HashMap<String, String>,
    queries: &[Value],
    (from_ms, to_ms): (i64, i64),
    max_data_points: i64,
    interval_ms: i64,
) -> pluginv2::QueryDataRequest {
    pluginv2::QueryDataRequest {
        plugin_context: Some(ds.context(role)),
        headers,
        queries: queries
            .iter()
            .map(|q| pluginv2::DataQuery {
                ref_id: q["refId"].as_str().unwrap_or("A").to_string(),
                max_data_points,
                interval_ms,
                time_range: Some(pluginv2::TimeRange {
                    from_epoch_ms: from_ms,
                    to_epoch_ms: to_ms,
                }),
                json: q.to_string().into_bytes(),
                query_type: q["queryType"].as_str().unwrap_or("").to_string(),
            })
            .collect(),
    }
}

/// A dashboard's QueryData over the last hour (1000 points, 1 s interval).
pub fn last_hour_request(ds: &DataSource, role: &str, queries: &[Value]) -> pluginv2::QueryDataRequest {
    let now = chrono::Utc::now().timestamp_millis();
    query_request(ds, role, HashMap::new(), queries, (now - 3_600_000, now), 1000, 1000)
}

pub fn parse_handshake(line: &str) -> Result<SocketAddr> {
    let parts: Vec<&str> = line.trim().split('|').collect();
    if parts.len() != 5 || parts[0] != "1" || parts[1] != "2" || parts[2] != "tcp" || parts[4] != "grpc" {
        bail!("bad handshake line {line:?}");
    }
    Ok(parts[3].parse()?)
}

/// Wait (at most 10 s) until a stderr reader has read to the end.
fn wait_closed(closed: &std::sync::atomic::AtomicBool) {
    for _ in 0..1000 {
        if closed.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}
