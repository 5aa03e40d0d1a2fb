//! NATS micro data source for Grafana: answers Grafana's plugin protocol by discovering NATS micro services (`$SRV.PING`, `$SRV.INFO`, `$SRV.STATS`) and returning data frames.
//!
//! # Layout
//!
//! Three layers, one folder each, and three leaves. Dependencies point one way only:
//! `grafana → nats → model`, `grafana → model`, and every layer → `metrics`, `faults` and `sync`.
//! `tests/layout.rs` checks that no `use` goes against these arrows and that there is no
//! import circle between modules.
//!
//! [`model`] — pure: no I/O, no tasks, no connections.
//! - [`model::micro`]: the ADR-32 wire model: verbs, subjects, scopes, tolerant parsing of
//!   every implementation's replies, field bounds.
//! - [`model::observed`]: what the NATS side hands over: a discovery round, a request's reply.
//! - [`model::outbound`]: what a request or probe may send: subjects that are never reachable
//!   (the plugin's own and the server's), NATS subject matching, the header rules NATS accepts.
//! - [`model::settings`]: parse and validate the data source settings of SPEC; secrets never printable.
//! - [`model::query`]: the stored query model and its tables (types, formats, metrics), parsed
//!   once (`live` included), validation with per-refId errors; the time window.
//! - [`model::answer`]: one file per query type answering it in every format and aggregate
//!   (`ping`, `services`, `info`, `stats`, `request`, `events`, `slo`, `probe`), and the one
//!   dispatch on query type; `plan` (what a query needs: a round, a request, a probe run or a
//!   history window, with freshness and look-back), `series` (the time-series machinery) and
//!   `meta` (notices, field configs, the answer budget).
//! - [`model::history`]: samples per instance and endpoint under retention and a hard memory
//!   bound; event detection (appeared, disappeared, restarted, version changed); the compact
//!   messages (`wire`) a shared history stores one round in, and the checkpoints
//!   (`checkpoint`) that hold a whole history; the `HistoryView` a query copies, packed, and
//!   unpacks one instance at a time.
//! - [`model::key`]: the `(service, id)` key of an instance, looked up by borrowed strings.
//! - [`model::rate`]: the one rule for rates of STATS counters over an interval.
//! - [`model::leaves`]: dot-path leaves of custom STATS `data` (numeric for metrics, all for tables), bounded.
//! - [`model::probe`]: the rule that judges a probe run (latency, success, state, code).
//! - [`model::state`]: five-state liveness (`up` … `malformed`): codes, colours, value mappings.
//! - [`model::aggregate`]: the rule that combines the instances of a service (`aggregate`).
//! - [`model::channel`], [`model::live`]: Grafana Live channel paths, and the wide frames of a stream.
//! - [`model::contract`]: the user-facing tables (query types, formats, metrics, setting
//!   ranges) as the JSON the frontend reads.
//! - [`model::frames`]: the frame model, its Arrow IPC encoding as Grafana reads it, and
//!   Grafana's frame JSON.
//!
//! [`nats`] — the NATS side; knows nothing of Grafana.
//! - [`nats::connection`]: NATS connections built from settings, cached per data source
//!   (org, id, uid), reconnecting on their own, failing fast while down; each owns its sampler.
//! - [`nats::discovery`]: scatter-gather rounds with early stop, reply and byte bounds,
//!   coalescing of identical rounds, the registry of known instances.
//! - [`nats::server_errors`]: the latest errors the server sent (permission violations come
//!   asynchronously), so a silent request can be told `denied`.
//! - [`nats::probe`]: runs the data source's probes (one request each, all at once), judged by the model.
//! - [`nats::request`]: one request/reply to a service endpoint, service-error headers as errors.
//! - [`nats::sampler`]: the background task that samples PING and STATS into the history.
//! - [`nats::shared_history`]: the JetStream history store: its stream, the sampling lease that
//!   lets one process sample for all, publishing rounds and checkpoints, and reading the stream
//!   (the newest checkpoint, then the rounds after it) into the history.
//!
//! [`grafana`] — the plugin protocol; thin.
//! - [`grafana::serve`]: go-plugin handshake, gRPC server, parent watch.
//! - [`grafana::plugin`]: the `pluginv2` Data/Diagnostics/Resource/Stream handlers.
//! - [`grafana::protocol`]: our own `Data` messages and server, with the fields current Grafana
//!   adds (`errorSource`, `userAgent`, …); calls we do not implement answer Unimplemented.
//! - [`grafana::execute`]: runs one query: its plan, NATS in, its answer out.
//! - [`grafana::query_error`]: what can go wrong with one query: status, `errorSource`, refId.
//! - [`grafana::health`], [`grafana::resources`], [`grafana::stream`]: CheckHealth, CallResource
//!   routes, Grafana Live.
//! - [`grafana::logging`]: hclog JSON on stderr.
//!
//! [`metrics`] — the plugin's own Prometheus metrics; a leaf every layer reports into.
//!
//! [`faults`] — fault points for tests (a panic on demand, debug builds only); a leaf.
//!
//! [`sync`] — the one lock helper (a poisoned mutex still yields its data); a leaf.
//!
//! # One query, gRPC to NATS and back
//!
//! An instant `ping`, file by file:
//! 1. `grafana/plugin.rs` — `QueryData`: parses each query once ([`model::query`]), finds the
//!    data source's connection, runs each refId apart;
//! 2. `grafana/execute.rs` — asks the plan ([`model::answer::plan`]: one PING round), fetches it;
//! 3. `nats/discovery/round.rs` — the round (`Discovery::discover` in `mod.rs` shares it
//!    between identical queries): one request, replies gathered until the early stop;
//! 4. `model/answer/mod.rs` — the one dispatch on query type;
//! 5. `model/answer/ping.rs` — the round as a `numeric-long` frame;
//! 6. `model/frames.rs` — the frame as Arrow bytes for Grafana.
//!
//! Besides these: the query's own parse (`model/query/mod.rs`), the plan (`model/answer/plan.rs`)
//! and what frames of a round share (`model/answer/meta.rs`), all pure.

pub mod faults;
pub mod grafana;
pub mod metrics;
pub mod model;
pub mod nats;
pub mod sync;
