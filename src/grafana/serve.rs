//! The go-plugin host side Grafana expects: handshake line, gRPC services on loopback with TCP_NODELAY, GRPCController/Shutdown, and exit when the parent is gone.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use grafana_plugin_sdk::pluginv2::{
    diagnostics_server::DiagnosticsServer, resource_server::ResourceServer, stream_server::StreamServer,
};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;

use crate::grafana::plugin::Plugin;
use crate::grafana::protocol::DataServer;

/// go-plugin core protocol version.
const CORE_PROTOCOL: u32 = 1;
/// Grafana's plugin protocol version.
const APP_PROTOCOL: u32 = 2;
/// Grafana's handshake cookie.
const COOKIE_KEY: &str = "grafana_plugin_type";
/// After Shutdown, the longest time given to in-flight calls before the process exits.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(250);

/// Why serving could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("this binary is a Grafana backend plugin; Grafana starts it (missing {COOKIE_KEY} in the environment)")]
    NotLaunchedByGrafana,
    #[error("Grafana asks for plugin protocol versions {0}, this plugin speaks {APP_PROTOCOL}")]
    Protocol(String),
    #[error("could not listen on loopback: {0}")]
    Listen(std::io::Error),
    #[error("gRPC server failed: {0}")]
    Server(#[from] tonic::transport::Error),
    #[error("could not write the handshake: {0}")]
    Handshake(std::io::Error),
}

fn env_port(name: &str) -> Option<u16> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

/// Bind on 127.0.0.1 within `PLUGIN_MIN_PORT..=PLUGIN_MAX_PORT` (any port if unset), with
/// TCP_NODELAY set on the listening socket so every accepted connection has it from its first byte.
fn listen() -> Result<TcpListener, ServeError> {
    let ports: Vec<u16> = match (env_port("PLUGIN_MIN_PORT"), env_port("PLUGIN_MAX_PORT")) {
        (Some(min), Some(max)) if min > 0 && min <= max => (min..=max).collect(),
        _ => vec![0],
    };
    let mut last = None;
    for port in ports {
        let attempt = (|| {
            let socket = TcpSocket::new_v4()?;
            socket.set_nodelay(true)?;
            socket.bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port)))?;
            socket.listen(1024)
        })();
        match attempt {
            Ok(l) => return Ok(l),
            Err(e) => last = Some(e),
        }
    }
    Err(ServeError::Listen(
        last.unwrap_or_else(|| std::io::Error::other("no port to try")),
    ))
}

/// Run until Grafana says Shutdown, the parent process goes away, or a signal arrives.
pub async fn run() -> Result<(), ServeError> {
    // Read before anything else: a parent that dies right after the handshake must still be noticed.
    let parent = parent_pid();
    if std::env::var(COOKIE_KEY).map(|v| v.is_empty()).unwrap_or(true) {
        return Err(ServeError::NotLaunchedByGrafana);
    }
    if let Ok(versions) = std::env::var("PLUGIN_PROTOCOL_VERSIONS") {
        if !versions.split(',').any(|v| v.trim() == APP_PROTOCOL.to_string()) {
            return Err(ServeError::Protocol(versions));
        }
    }
    let listener = listen()?;
    let addr = listener.local_addr().map_err(ServeError::Listen)?;
    let incoming = tonic::transport::server::TcpIncoming::from_listener(listener, true, None)
        .map_err(|e| ServeError::Listen(std::io::Error::other(e.to_string())))?;

    let (stop_tx, mut stop_rx) = watch::channel(false);
    let (mut health, health_service) = tonic_health::server::health_reporter();
    health
        .set_service_status("plugin", tonic_health::ServingStatus::Serving)
        .await;
    let plugin = Plugin::default();
    let mut server_stop = stop_rx.clone();
    let server = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .add_service(DataServer::new(plugin.clone()))
        .add_service(DiagnosticsServer::new(plugin.clone()))
        .add_service(ResourceServer::new(plugin.clone()))
        .add_service(StreamServer::new(plugin))
        .add_service(health_service)
        .add_service(controller::ControllerServer::new(stop_tx.clone()))
        .serve_with_incoming_shutdown(incoming, async move {
            let _ = server_stop.wait_for(|stop| *stop).await;
        });
    let mut server = tokio::spawn(server);

    let line = format!("{CORE_PROTOCOL}|{APP_PROTOCOL}|tcp|{addr}|grpc\n");
    let mut stdout = tokio::io::stdout();
    stdout.write_all(line.as_bytes()).await.map_err(ServeError::Handshake)?;
    stdout.flush().await.map_err(ServeError::Handshake)?;
    tracing::info!(address = %addr, version = env!("CARGO_PKG_VERSION"), "plugin serving");

    let reason = tokio::select! {
        _ = stop_rx.wait_for(|stop| *stop) => "Grafana asked the plugin to shut down",
        _ = parent_gone(parent) => "the parent process is gone",
        _ = signal() => "signal received",
        r = &mut server => {
            return match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(ServeError::Server(e)),
                Err(e) => Err(ServeError::Listen(std::io::Error::other(e.to_string()))),
            };
        }
    };
    tracing::info!(reason, "plugin stopping");
    let _ = stop_tx.send(true);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, server).await;
    Ok(())
}

async fn signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
            (Ok(mut term), Ok(mut int)) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
            }
            _ => std::future::pending::<()>().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn parent_pid() -> i64 {
    #[cfg(unix)]
    {
        // SAFETY: getppid has no preconditions and cannot fail.
        i64::from(unsafe { libc::getppid() })
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// Resolves when this process is re-parented (its parent died), so no orphan outlives Grafana.
async fn parent_gone(original: i64) {
    #[cfg(unix)]
    {
        if original <= 1 {
            return std::future::pending().await;
        }
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tick.tick().await;
            if parent_pid() != original {
                return;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = original;
        std::future::pending::<()>().await
    }
}

mod controller {
    //! `plugin.GRPCController` of go-plugin: `Shutdown(Empty) returns (Empty)`.
    use tokio::sync::watch;
    use tonic::codegen::*;

    #[derive(Clone)]
    pub struct ControllerServer {
        stop: Arc<watch::Sender<bool>>,
    }

    impl ControllerServer {
        pub fn new(stop: watch::Sender<bool>) -> Self {
            Self { stop: Arc::new(stop) }
        }
    }

    impl tonic::server::NamedService for ControllerServer {
        const NAME: &'static str = "plugin.GRPCController";
    }

    struct Shutdown(Arc<watch::Sender<bool>>);

    impl tonic::server::UnaryService<()> for Shutdown {
        type Response = ();
        type Future = BoxFuture<tonic::Response<()>, tonic::Status>;

        fn call(&mut self, _request: tonic::Request<()>) -> Self::Future {
            let stop = Arc::clone(&self.0);
            Box::pin(async move {
                let _ = stop.send(true);
                Ok(tonic::Response::new(()))
            })
        }
    }

    impl<B> Service<http::Request<B>> for ControllerServer
    where
        B: Body + Send + 'static,
        B::Error: Into<StdError> + Send + 'static,
    {
        type Response = http::Response<tonic::body::BoxBody>;
        type Error = std::convert::Infallible;
        type Future = BoxFuture<Self::Response, Self::Error>;

        fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: http::Request<B>) -> Self::Future {
            let stop = Arc::clone(&self.stop);
            match request.uri().path() {
                "/plugin.GRPCController/Shutdown" => Box::pin(async move {
                    let codec = tonic::codec::ProstCodec::<(), ()>::default();
                    let mut grpc = tonic::server::Grpc::new(codec);
                    Ok(grpc.unary(Shutdown(stop), request).await)
                }),
                _ => Box::pin(async move { Ok(crate::grafana::protocol::unimplemented()) }),
            }
        }
    }
}
