//! NATS connections: one per data source, built from [`Settings`], cached by data source identity (org, id and uid) and replaced when its settings change.
//!
//! A connection reconnects on its own; while it is down, work fails fast
//! (see [`crate::nats::discovery::DiscoveryError::NotConnected`]) instead of waiting for timeouts.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::ServerAddr;
use tokio::time::Instant;

use crate::metrics;
use crate::model::history::History;
use crate::model::settings::{Auth, Settings, StoreKind, TlsSettings, UrlCredentials};
use crate::nats::discovery::{Discovery, Policy};
use crate::nats::sampler::{idle_limit, OnIdle, Sampler, SamplerConfig};
use crate::nats::server_errors::ServerErrors;
use crate::nats::shared_history::lifecycle::StoreLife;
use crate::sync::lock;

mod cache;

pub use cache::{Connections, SourceId, SourceKey};

/// Why a connection is replaced on its next use (besides newer settings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replace {
    /// The JetStream store it could not open works now: a new connection takes it up.
    StoreBack,
    /// Its sampler stopped because the data source went unused.
    IdleStop,
}

/// Why a connection could not be made; messages are for users and hold no secrets.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    #[error("cannot reach NATS at {servers}: {detail}. Check the url and that nats-server is running and reachable from Grafana")]
    Unreachable { servers: String, detail: String },
    #[error("timed out after {timeout_ms} ms connecting to NATS at {servers}")]
    TimedOut { servers: String, timeout_ms: u128 },
    #[error("NATS at {servers} refused the credentials (authType {auth}): {detail}. Check the user, password, token, NKey seed or creds")]
    Auth {
        servers: String,
        auth: &'static str,
        detail: String,
    },
    #[error("TLS with NATS at {servers} failed: {detail}. Check the url scheme (tls://), tlsCACert, the client certificate, or tlsSkipVerify")]
    Tls { servers: String, detail: String },
    #[error("invalid TLS settings: {0}")]
    TlsSettings(String),
    #[error("could not connect to NATS at {servers}: {detail}")]
    Other { servers: String, detail: String },
}

/// Connection-level events worth telling users about (permission violations arrive asynchronously).
#[derive(Debug, Default)]
pub struct ConnectionEvents {
    connected: AtomicBool,
    server_errors: Arc<ServerErrors>,
    /// Why the connection is down: the latest server or reconnect error since it was lost.
    down_reason: Mutex<Option<String>>,
}

/// What a failed reconnect or a server error while down says, as advice a user can act on.
pub fn down_advice(reason: &str) -> String {
    let lower = reason.to_ascii_lowercase();
    if lower.contains("authorization")
        || lower.contains("authentication")
        || lower.contains("expired")
        || lower.contains("revoked")
    {
        format!(
            "NATS refuses the credentials since the connection was lost ({reason}): the user may have been removed, its password or token changed, or its JWT expired or revoked. Fix the credentials in the data source settings (or on the NATS side); the plugin keeps retrying"
        )
    } else if lower.contains("tls") || lower.contains("certificate") {
        format!(
            "TLS with NATS fails since the connection was lost ({reason}): the server certificate may have changed or expired. Check tlsCACert and the server certificate; the plugin keeps retrying"
        )
    } else {
        format!("the NATS connection is down and reconnecting fails ({reason}); the plugin keeps retrying")
    }
}

impl ConnectionEvents {
    /// Why the connection is down, as advice; `None` while connected or before any error.
    pub fn down_reason(&self) -> Option<String> {
        if self.connected.load(Ordering::SeqCst) {
            return None;
        }
        let g = lock(&self.down_reason);
        g.as_deref().map(down_advice)
    }

    fn set_down_reason(&self, reason: Option<String>) {
        *lock(&self.down_reason) = reason;
    }

    /// The latest error the server sent on this connection, if it came after `since`.
    pub fn server_error_since(&self, since: Instant) -> Option<String> {
        self.server_errors.latest_since(since)
    }

    fn set_connected(&self, up: bool) {
        if self.connected.swap(up, Ordering::SeqCst) != up {
            metrics::global().connection_up(if up { 1 } else { -1 });
        }
    }
}

fn is_auth_error(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    ["authorization", "authentication", "expired", "revoked"]
        .iter()
        .any(|w| lower.contains(w))
}

/// One data source's live NATS connection and discovery state.
pub struct Connection {
    pub settings: Arc<Settings>,
    pub client: async_nats::Client,
    pub discovery: Arc<Discovery>,
    pub events: Arc<ConnectionEvents>,
    /// The history sampler; `None` when `sampleIntervalSec` is 0.
    pub sampler: Option<Sampler>,
    /// Probe runs asked for by users (test button, instant queries), rate-limited.
    pub probe_runs: crate::nats::probe::OnDemand,
    opened: Instant,
    /// Last use, in ms since `opened`.
    used_ms: AtomicU64,
    /// The JetStream store's life (open, or looked for again); its own module owns it.
    store: StoreLife,
}

impl Drop for Connection {
    fn drop(&mut self) {
        metrics::global().connection_opened(-1);
        self.events.set_connected(false);
    }
}

impl Connection {
    /// Connect with `settings` and start the sampler. Fails with a message a user can act on.
    pub async fn open(settings: Arc<Settings>) -> Result<Arc<Self>, ConnectError> {
        Self::open_with(settings, None, None).await
    }

    /// [`Connection::open`]; `on_idle` runs when the sampler stops because the data source went
    /// unused; `inherited` is the history of the connection this one replaces, when the settings
    /// save kept the NATS target (see [`same_target`]).
    pub async fn open_with(
        settings: Arc<Settings>,
        on_idle: Option<OnIdle>,
        inherited: Option<History>,
    ) -> Result<Arc<Self>, ConnectError> {
        let servers = settings.servers_display();
        let addrs: Vec<ServerAddr> = settings
            .servers
            .iter()
            .map(|s| s.address.parse::<ServerAddr>())
            .collect::<Result<_, _>>()
            .map_err(|e| ConnectError::Other {
                servers: servers.clone(),
                detail: e.to_string(),
            })?;
        let events = Arc::new(ConnectionEvents::default());
        let options = options(&settings, Arc::clone(&events))?;
        let client = options
            .connect(addrs)
            .await
            .map_err(|e| classify(&settings, &servers, e))?;
        metrics::global().connection_opened(1);
        events.set_connected(client.connection_state() == async_nats::connection::State::Connected);
        let policy = Policy {
            max_round_bytes: settings.max_round_bytes,
            slow: Duration::from_millis(settings.slow_ms),
            ..Policy::new(settings.srv_prefix.clone(), settings.timeout, settings.retention)
        };
        let discovery = Discovery::with_server_errors(client.clone(), policy, Arc::clone(&events.server_errors));
        tracing::info!(servers = %servers, auth = settings.auth.kind(), "connected to NATS");
        let store = StoreLife::open(&client, &settings, &events.server_errors).await;
        let sampler = settings.sample_interval.map(|period| {
            Sampler::start(
                Arc::clone(&discovery),
                SamplerConfig {
                    period,
                    retention: settings.retention,
                    budget: settings.history_budget,
                    fill_rounds: settings.history_fill_rounds,
                    idle_limit: idle_limit(settings.retention),
                    probes: settings.probes.clone(),
                    shared: store.store.clone(),
                    degraded: store.unavailable.clone(),
                },
                on_idle,
                inherited,
            )
        });
        let conn = Self {
            settings,
            client,
            discovery,
            events,
            sampler,
            probe_runs: Default::default(),
            opened: Instant::now(),
            used_ms: AtomicU64::new(0),
            store,
        };
        conn.touch();
        Ok(Arc::new(conn))
    }

    /// While this connection is down: one fresh connect attempt with the same settings, so that
    /// a health check can say exactly why reconnecting fails (the client's own reconnect errors
    /// say only "IO error" for a TLS failure). `Ok` when a fresh connect works.
    pub async fn try_fresh_connect(&self) -> Result<(), ConnectError> {
        let servers = self.settings.servers_display();
        let addrs: Vec<ServerAddr> = self
            .settings
            .servers
            .iter()
            .filter_map(|s| s.address.parse::<ServerAddr>().ok())
            .collect();
        let options = options(&self.settings, Arc::new(ConnectionEvents::default()))?;
        match tokio::time::timeout(self.settings.timeout, options.connect(addrs)).await {
            Err(_) => Err(ConnectError::TimedOut {
                servers,
                timeout_ms: self.settings.timeout.as_millis(),
            }),
            Ok(Err(e)) => Err(classify(&self.settings, &servers, e)),
            Ok(Ok(client)) => {
                let _ = client.drain().await;
                Ok(())
            }
        }
    }

    /// The data source was used (query, resource or health): keeps the sampler running.
    pub fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.used_ms.store(ms, Ordering::Relaxed);
        if let Some(s) = &self.sampler {
            s.touch();
        }
    }

    /// Time since the data source last used this connection.
    pub fn idle_for(&self) -> Duration {
        self.opened
            .elapsed()
            .saturating_sub(Duration::from_millis(self.used_ms.load(Ordering::Relaxed)))
    }

    /// Why this connection should be replaced on its next use, if it should.
    pub fn replace_because(&self) -> Option<Replace> {
        if self.store.available_again() {
            Some(Replace::StoreBack)
        } else if self.sampler.as_ref().is_some_and(Sampler::stopped) {
            Some(Replace::IdleStop)
        } else {
            None
        }
    }

    /// Server identity for health messages: (name, version).
    pub fn server(&self) -> (String, String) {
        let info = self.client.server_info();
        let name = if info.server_name.is_empty() {
            info.server_id.clone()
        } else {
            info.server_name.clone()
        };
        (name, info.version)
    }
}

/// Whether a settings save from `old` to `new` keeps the NATS target and the store (same
/// servers, `srvPrefix`, user and credentials, both in memory): the new connection then keeps
/// the history. Another user or other credentials start a fresh history.
pub fn same_target(old: &Settings, new: &Settings) -> bool {
    let who = |s: &Settings| s.identity().fingerprint;
    old.history.store == StoreKind::Memory
        && new.history.store == StoreKind::Memory
        && old.target_key(&who(old)) == new.target_key(&who(new))
}

fn classify(settings: &Settings, servers: &str, e: async_nats::ConnectError) -> ConnectError {
    use async_nats::ConnectErrorKind as K;
    let detail = e.to_string();
    let servers = servers.to_string();
    match e.kind() {
        K::Authentication | K::AuthorizationViolation => ConnectError::Auth {
            servers,
            auth: match (&settings.auth, &settings.url_credentials) {
                (Auth::None, Some(UrlCredentials::UserPass { .. })) => "none, user and password in url",
                (Auth::None, Some(UrlCredentials::Token(_))) => "none, token in url",
                (a, _) => a.kind(),
            },
            detail,
        },
        K::TimedOut => ConnectError::TimedOut {
            servers,
            timeout_ms: settings.timeout.as_millis(),
        },
        K::Tls => ConnectError::Tls { servers, detail },
        K::Io | K::Dns | K::MaxReconnects => {
            let lower = detail.to_ascii_lowercase();
            let tls_expected = settings.tls.is_configured() || settings.servers.iter().any(|s| s.tls);
            let network = [
                "refused",
                "unreachable",
                "reset",
                "timed out",
                "dns",
                "lookup",
                "not known",
            ]
            .iter()
            .any(|w| lower.contains(w));
            if ["tls", "certificate", "handshake", "corrupt message", "alert"]
                .iter()
                .any(|w| lower.contains(w))
                || (tls_expected && !network)
            {
                ConnectError::Tls { servers, detail }
            } else if lower.contains("authorization") || lower.contains("authentication") {
                ConnectError::Auth {
                    servers,
                    auth: settings.auth.kind(),
                    detail,
                }
            } else {
                ConnectError::Unreachable { servers, detail }
            }
        }
        K::ServerParse => ConnectError::Other { servers, detail },
    }
}

/// Wait before connection attempt `attempts` (async-nats counts from 1, for the initial connect
/// too): none for the first, so a new data source connects at once and a restarted server is
/// found again at once; then 50 ms doubling, at most 1 s. (A delay on attempt 1 cost every new
/// data source's first query 100 ms.)
fn reconnect_delay(attempts: usize) -> Duration {
    match attempts {
        0 | 1 => Duration::ZERO,
        n => Duration::from_millis((50u64 << (n - 2).min(5)).min(1000)),
    }
}

fn options(settings: &Settings, events: Arc<ConnectionEvents>) -> Result<async_nats::ConnectOptions, ConnectError> {
    let mut o = async_nats::ConnectOptions::new()
        .name("grafana-natsmicro-datasource")
        .custom_inbox_prefix(settings.inbox_prefix.clone())
        .connection_timeout(settings.timeout)
        .max_reconnects(None)
        .reconnect_delay_callback(reconnect_delay)
        .event_callback(move |event| {
            let events = Arc::clone(&events);
            async move {
                match event {
                    async_nats::Event::Connected => {
                        if !events.connected.load(Ordering::SeqCst) {
                            metrics::global().reconnected();
                        }
                        events.set_connected(true);
                        events.set_down_reason(None);
                        tracing::info!("NATS connection is up");
                    }
                    async_nats::Event::Disconnected => {
                        events.set_connected(false);
                        tracing::warn!("NATS connection lost; reconnecting");
                    }
                    async_nats::Event::ServerError(e) => {
                        let text = e.to_string();
                        tracing::warn!(error = %text, "NATS server error");
                        if !events.connected.load(Ordering::SeqCst) || is_auth_error(&text) {
                            events.set_down_reason(Some(text.clone()));
                        }
                        events.server_errors.push(text);
                    }
                    async_nats::Event::ClientError(e) => {
                        let text = e.to_string();
                        tracing::warn!(error = %text, "NATS reconnect failed");
                        // "io error" says less than a server's auth error seen just before.
                        let keep = lock(&events.down_reason).as_deref().is_some_and(is_auth_error);
                        if !keep || is_auth_error(&text) {
                            events.set_down_reason(Some(text));
                        }
                    }
                    other => tracing::debug!(event = %other, "NATS connection event"),
                }
            }
        });
    match &settings.auth {
        Auth::None => match &settings.url_credentials {
            Some(UrlCredentials::UserPass { username, password }) => {
                o = o.user_and_password(username.clone(), password.expose().to_string());
            }
            Some(UrlCredentials::Token(t)) => o = o.token(t.expose().to_string()),
            None => {}
        },
        Auth::UserPass { username, password } => {
            o = o.user_and_password(username.clone(), password.expose().to_string());
        }
        Auth::Token(t) => o = o.token(t.expose().to_string()),
        Auth::NKey(seed) => o = o.nkey(seed.expose().to_string()),
        Auth::Creds(text) => {
            o = o.credentials(text.expose()).map_err(|_| ConnectError::Other {
                servers: settings.servers_display(),
                detail: "the credentials text could not be read as a .creds file".into(),
            })?;
        }
    }
    if settings.tls.is_configured() {
        o = o.tls_client_config(tls_config(&settings.tls)?);
        if settings.tls.client_auth.is_some() || settings.servers.iter().any(|s| s.tls) {
            o = o.require_tls(true);
        }
    }
    Ok(o)
}

/// A rustls client configuration from Grafana's TLS settings (PEM text, not files).
pub fn tls_config(tls: &TlsSettings) -> Result<rustls::ClientConfig, ConnectError> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let bad = |what: &str| ConnectError::TlsSettings(what.to_string());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| ConnectError::TlsSettings(e.to_string()))?;
    let builder = if tls.skip_verify {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(skip_verify::AcceptAny(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &tls.ca_cert {
            Some(ca) => {
                let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut ca.expose().as_bytes())
                    .collect::<Result<_, _>>()
                    .map_err(|_| bad("tlsCACert is not valid PEM"))?;
                if certs.is_empty() {
                    return Err(bad("tlsCACert holds no certificate"));
                }
                for c in certs {
                    roots
                        .add(c)
                        .map_err(|e| ConnectError::TlsSettings(format!("tlsCACert: {e}")))?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots)
    };
    match &tls.client_auth {
        Some((cert, key)) => {
            let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut cert.expose().as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|_| bad("tlsClientCert is not valid PEM"))?;
            if certs.is_empty() {
                return Err(bad("tlsClientCert holds no certificate"));
            }
            let key: PrivateKeyDer<'static> = rustls_pemfile::private_key(&mut key.expose().as_bytes())
                .map_err(|_| bad("tlsClientKey is not valid PEM"))?
                .ok_or_else(|| bad("tlsClientKey holds no private key"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| ConnectError::TlsSettings(format!("client certificate and key do not fit: {e}")))
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

mod skip_verify {
    //! `tlsSkipVerify`: accept any server certificate (signatures are still checked).
    use std::sync::Arc;

    use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
    use rustls::crypto::CryptoProvider;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{DigitallySignedStruct, SignatureScheme};

    #[derive(Debug)]
    pub struct AcceptAny(pub Arc<CryptoProvider>);

    impl ServerCertVerifier for AcceptAny {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, rustls::Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, rustls::Error> {
            rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

#[cfg(test)]
mod tests;
