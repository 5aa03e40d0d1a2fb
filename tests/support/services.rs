//! Real micro services on a test's nats-server: Rust async-nats instances, Python nats.micro instances in a child process, and a hostile flood responder.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use anyhow::{anyhow, Context, Result};
use futures::StreamExt;

use super::{connect, repo, server_round_trip};

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

    /// `n` instances of `fleet` (one endpoint `get` each), `per_conn` of them sharing a
    /// connection: a fleet of thousands that two cores run cheaply.
    pub async fn fleet(url: &str, n: usize, per_conn: usize) -> Result<Vec<Self>> {
        let mut out = Vec::with_capacity(n);
        for c in 0..n.div_ceil(per_conn) {
            let client = connect(url).await?;
            for _ in 0..per_conn.min(n - c * per_conn) {
                out.push(Self::start_on(client.clone(), "fleet", "1.0.0", &[("get", "fleet.get")], 0).await?);
            }
        }
        Ok(out)
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

impl PythonService {
    /// Freeze (`STOP`) or thaw (`CONT`) the process: frozen, it keeps its connection and its
    /// subscriptions but answers nothing, like a hung service.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal}");
    }
}

impl Drop for PythonService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A real `@nats-io/services` micro service (one instance, `tests/services/js/micro_service.mjs`)
/// in a Node child process, killed on drop: endpoints `get` and `work`, and a `statsHandler`
/// that puts `{queue: {depth, name}, jobs_total, busy}` into the STATS `data` of `work`.
pub struct JsService {
    child: Child,
    pub id: String,
}

impl JsService {
    pub fn start(url: &str, name: &str, version: &str) -> Result<Self> {
        let dir = repo().join("tests/services/js");
        if !dir.join("node_modules/@nats-io/services").exists() {
            return Err(anyhow!("tests/services/js has no node_modules: run scripts/setup.sh"));
        }
        let mut child = Command::new("node")
            .arg(dir.join("micro_service.mjs"))
            .args(["--url", url, "--name", name, "--version", version])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("spawn node micro_service.mjs (run scripts/setup.sh and source scripts/env.sh)")?;
        let stdout = child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let id = line
            .trim()
            .strip_prefix("READY ")
            .ok_or_else(|| anyhow!("js service did not get ready: {line:?}"))?
            .to_string();
        Ok(Self { child, id })
    }
}

impl Drop for JsService {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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
        // The server has the subscription before any test request can reach it.
        server_round_trip(&client).await;
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

/// How a [`Scripted`] responder answers PINGs now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Script {
    /// A valid ping reply at once.
    Answer,
    /// A valid ping reply after this many milliseconds.
    Delay(u64),
    /// A valid ping reply at once when addressed by id (a targeted ping), after this many
    /// milliseconds otherwise.
    LateToAll(u64),
    /// Nothing (subscribed, but hung).
    Silent,
    /// A reply that is not a valid PING reply.
    Garbage,
}

/// Hand-driven PING responders of one service on one connection, one per id: each subscribes to
/// `$SRV.PING`, `$SRV.PING.<name>` and `$SRV.PING.<name>.<id>` like a micro service, and answers
/// as its [`Script`] says; dropping it unsubscribes (the instance is gone).
pub struct Scripted {
    script: Arc<std::sync::Mutex<Script>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Scripted {
    pub async fn start(url: &str, name: &str, ids: &[&str]) -> Result<Self> {
        let client = connect(url).await?;
        let script = Arc::new(std::sync::Mutex::new(Script::Answer));
        let mut tasks = Vec::new();
        for id in ids {
            for subject in [
                "$SRV.PING".to_string(),
                format!("$SRV.PING.{name}"),
                format!("$SRV.PING.{name}.{id}"),
            ] {
                let by_id = subject.ends_with(&format!(".{id}"));
                let mut sub = client.subscribe(subject).await?;
                let (client, script, name, id) =
                    (client.clone(), Arc::clone(&script), name.to_string(), id.to_string());
                tasks.push(tokio::spawn(async move {
                    while let Some(m) = sub.next().await {
                        let Some(reply) = m.reply else { continue };
                        let now = *script.lock().unwrap();
                        let body = match now {
                            Script::Silent => continue,
                            Script::Garbage => format!(r#"{{"type":"io.nats.micro.v1.pong","name":"{name}"}}"#),
                            Script::Answer | Script::Delay(_) | Script::LateToAll(_) => format!(
                                r#"{{"type":"io.nats.micro.v1.ping_response","name":"{name}","id":"{id}","version":"1.0.0","metadata":{{}}}}"#
                            ),
                        };
                        let client = client.clone();
                        tokio::spawn(async move {
                            match now {
                                Script::Delay(ms) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
                                Script::LateToAll(ms) if !by_id => {
                                    tokio::time::sleep(std::time::Duration::from_millis(ms)).await
                                }
                                _ => {}
                            }
                            let _ = client.publish(reply, body.into()).await;
                        });
                    }
                }));
            }
        }
        server_round_trip(&client).await;
        Ok(Self { script, tasks })
    }

    pub fn set(&self, script: Script) {
        *self.script.lock().unwrap() = script;
    }
}

impl Drop for Scripted {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

/// One instance replayed by a [`Replayer`]: its id and, per verb, the reply bodies of successive
/// steps (the last one repeats).
pub struct Replayed {
    pub name: String,
    pub id: String,
    pub ping: Vec<String>,
    pub info: Vec<String>,
    pub stats: Vec<String>,
}

/// Replays recorded or hand-written `$SRV` replies as the instances they belong to, on one
/// connection: each instance answers `$SRV.<VERB>`, `.<name>` and `.<name>.<id>` with the body of
/// the current step; [`Replayer::step`] moves every instance to its next bodies.
pub struct Replayer {
    step: Arc<std::sync::atomic::AtomicUsize>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Replayer {
    pub async fn start(url: &str, instances: Vec<Replayed>) -> Result<Self> {
        let client = connect(url).await?;
        let step = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for inst in instances {
            for (verb, bodies) in [("PING", inst.ping), ("INFO", inst.info), ("STATS", inst.stats)] {
                if bodies.is_empty() {
                    continue;
                }
                let bodies = Arc::new(bodies);
                for subject in [
                    format!("$SRV.{verb}"),
                    format!("$SRV.{verb}.{}", inst.name),
                    format!("$SRV.{verb}.{}.{}", inst.name, inst.id),
                ] {
                    let mut sub = client.subscribe(subject).await?;
                    let (client, step, bodies) = (client.clone(), Arc::clone(&step), Arc::clone(&bodies));
                    tasks.push(tokio::spawn(async move {
                        while let Some(m) = sub.next().await {
                            let Some(reply) = m.reply else { continue };
                            let i = step.load(std::sync::atomic::Ordering::SeqCst).min(bodies.len() - 1);
                            let _ = client.publish(reply, bodies[i].clone().into()).await;
                        }
                    }));
                }
            }
        }
        server_round_trip(&client).await;
        Ok(Self { step, tasks })
    }

    /// Move every instance to its next bodies.
    pub fn step(&self) {
        self.step.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Drop for Replayer {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}
