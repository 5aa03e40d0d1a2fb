//! One builder for a test's world: a real nats-server, the micro services on it, and the plugin process; every test that needs them builds them here.

use anyhow::Result;
use serde_json::Value;

use super::{DataSource, NatsServer, PluginProcess, PythonService, RustService};

/// What a test runs against, dropped (servers and services killed) with it.
pub struct TestEnv {
    pub nats: NatsServer,
    pub plugin: PluginProcess,
    /// The Rust instances, in the order they were asked for.
    pub rust: Vec<RustService>,
    /// The Python processes, in the order they were asked for.
    pub python: Vec<PythonService>,
}

struct RustSpec {
    name: String,
    version: String,
    endpoints: Vec<(String, String)>,
    fail_every: u64,
}

struct PythonSpec {
    name: String,
    version: String,
    instances: usize,
    extra: Vec<String>,
}

/// Builds a [`TestEnv`]: `TestEnv::builder().rust("orders", "1.0.0", &[("get", "orders.get")]).start()`.
#[derive(Default)]
pub struct EnvBuilder {
    nats_config: Option<String>,
    jetstream: bool,
    rust: Vec<RustSpec>,
    python: Vec<PythonSpec>,
    plugin_env: Vec<(String, String)>,
}

impl TestEnv {
    pub fn builder() -> EnvBuilder {
        EnvBuilder::default()
    }

    /// A nats-server and the plugin, no service: for tests whose peers are their own (floods,
    /// scripted or replayed responders, services connecting with credentials of their own).
    pub async fn empty() -> TestEnv {
        Self::builder().start().await.expect("nats-server and the plugin")
    }

    /// The world most tests need: one Rust `orders` 1.0.0 instance with an echoing `get` endpoint.
    pub async fn orders() -> TestEnv {
        Self::builder()
            .rust("orders", "1.0.0", &[("get", "orders.get")])
            .start()
            .await
            .expect("nats-server, an orders instance and the plugin")
    }

    /// [`TestEnv::orders`] on a server with JetStream.
    pub async fn jetstream_orders() -> TestEnv {
        Self::builder()
            .jetstream()
            .rust("orders", "1.0.0", &[("get", "orders.get")])
            .start()
            .await
            .expect("nats-server with JetStream, an orders instance and the plugin")
    }

    /// A data source sampling every second into the JetStream store (5 minutes kept).
    pub fn jetstream_ds(&self) -> DataSource {
        self.ds(serde_json::json!({"sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream"}))
    }

    /// A data source on this env's server with `json` as its jsonData.
    pub fn ds(&self, json: Value) -> DataSource {
        DataSource::new(&self.nats.url()).json(json)
    }
}

impl EnvBuilder {
    /// Start nats-server with this configuration text (listen address and port are added).
    pub fn nats_config(mut self, config: &str) -> Self {
        self.nats_config = Some(config.to_string());
        self
    }

    /// One Rust instance of `name` whose endpoints (name, subject) echo.
    pub fn rust(self, name: &str, version: &str, endpoints: &[(&str, &str)]) -> Self {
        self.rust_failing(name, version, endpoints, 0)
    }

    /// One Rust instance whose endpoints fail every `fail_every`-th request.
    pub fn rust_failing(mut self, name: &str, version: &str, endpoints: &[(&str, &str)], fail_every: u64) -> Self {
        self.rust.push(RustSpec {
            name: name.to_string(),
            version: version.to_string(),
            endpoints: endpoints.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect(),
            fail_every,
        });
        self
    }

    /// `instances` Python nats.micro instances of `name` in one process (`extra`: its flags).
    pub fn python(mut self, name: &str, version: &str, instances: usize, extra: &[&str]) -> Self {
        self.python.push(PythonSpec {
            name: name.to_string(),
            version: version.to_string(),
            instances,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        });
        self
    }

    /// An environment variable of the plugin process.
    /// A server with JetStream (a temporary store directory).
    pub fn jetstream(mut self) -> Self {
        self.jetstream = true;
        self
    }

    pub fn plugin_env(mut self, key: &str, value: &str) -> Self {
        self.plugin_env.push((key.to_string(), value.to_string()));
        self
    }

    pub async fn start(self) -> Result<TestEnv> {
        let nats = match (&self.nats_config, self.jetstream) {
            (c, true) => NatsServer::with_jetstream(c.as_deref().unwrap_or_default()),
            (Some(c), false) => NatsServer::with_config(c),
            (None, false) => NatsServer::start(),
        };
        let mut rust = Vec::new();
        for s in &self.rust {
            let endpoints: Vec<(&str, &str)> = s.endpoints.iter().map(|(n, e)| (n.as_str(), e.as_str())).collect();
            rust.push(RustService::start(&nats.url(), &s.name, &s.version, &endpoints, s.fail_every).await?);
        }
        let mut python = Vec::new();
        for s in &self.python {
            let extra: Vec<&str> = s.extra.iter().map(String::as_str).collect();
            python.push(PythonService::start(
                &nats.url(),
                &s.name,
                &s.version,
                s.instances,
                &extra,
            )?);
        }
        let env: Vec<(&str, &str)> = self.plugin_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let plugin = PluginProcess::start_with_env(&env).await?;
        Ok(TestEnv {
            nats,
            plugin,
            rust,
            python,
        })
    }
}
