//! NATS micro data source for Grafana: answers Grafana's plugin protocol by discovering NATS micro services (`$SRV.PING`, `$SRV.INFO`, `$SRV.STATS`) and returning data frames.
//!
//! # Layout
//!
//! Protocol side (knows nothing of Grafana):
//! - [`micro`]: ADR-32 verbs, subjects, scopes and tolerant parsing of every implementation's replies.
//! - [`discovery`]: scatter-gather rounds with early stop, reply cap, invalid-reply counting,
//!   coalescing of identical concurrent rounds, and the registry of known instances.
//! - [`request`]: one request/reply to a service endpoint, service-error headers as errors.
//! - [`connection`]: NATS connections built from settings (URL credentials, auth, TLS from PEM),
//!   cached per data source, reconnecting on their own, failing fast while down; each owns its sampler.
//! - [`sampler`]: the per-data-source background task that samples PING and STATS into the history;
//!   stops with its connection or after the data source went idle.
//!
//! Pure model and frames (no I/O):
//! - [`settings`]: parse and validate the data source settings of SPEC; secrets never printable.
//! - [`query`]: the stored query model, validation with per-refId errors, and execution.
//! - [`shapes`]: rounds and replies to frames (`numeric-long`, `table`).
//! - [`history`]: samples per instance and endpoint under retention and a hard memory bound;
//!   event detection (appeared, disappeared, restarted, version changed).
//! - [`timeseries`]: history plus a fresh sample to `timeseries-multi` frames (rates across
//!   restarts, downsampling) and the events frame for annotations.
//! - [`frames`]: the frame model, its Arrow IPC encoding as Grafana reads it, and Grafana's frame JSON.
//! - [`channel`]: Grafana Live channel paths of streamed queries (reversible encoding, length limit).
//! - [`live`]: the wide live frame of a stream: packets from rounds, history joined on time.
//!
//! Grafana-facing:
//! - [`plugin`]: thin `pluginv2` Data/Diagnostics/Resource/Stream handlers.
//! - [`health`]: what CheckHealth tells a user.
//! - [`resources`]: CallResource routes for editors and template variables.
//! - [`stream`]: Grafana Live: which queries stream, seed frames, backfill, one shared producer per channel.
//! - [`metrics`]: the plugin's own Prometheus metrics.
//! - [`serve`]: go-plugin handshake, TCP_NODELAY, GRPCController/Shutdown, parent watch.
//! - [`logging`]: hclog JSON on stderr, third-party TRACE suppressed.

pub mod channel;
pub mod connection;
pub mod discovery;
pub mod frames;
pub mod health;
pub mod history;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod micro;
pub mod plugin;
pub mod query;
pub mod request;
pub mod resources;
pub mod sampler;
pub mod serve;
pub mod settings;
pub mod shapes;
pub mod stream;
pub mod timeseries;
