//! The plugin's own Prometheus metrics (served through CollectMetrics): queries, discovery rounds, replies, connection state, samplers, live streams.
//!
//! A leaf: every layer reports into it with plain labels, and it uses no other module of the crate.

use crate::sync::lock;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

/// Upper bounds (seconds) of the discovery-duration histogram.
const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

/// Process-wide metrics.
#[derive(Default)]
pub struct Metrics {
    queries: Mutex<BTreeMap<(String, &'static str), u64>>,
    rounds: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    durations: Mutex<BTreeMap<&'static str, Histogram>>,
    replies: Mutex<BTreeMap<&'static str, u64>>,
    invalid: Mutex<BTreeMap<&'static str, u64>>,
    oversized: Mutex<BTreeMap<&'static str, u64>>,
    limits: Mutex<BTreeMap<&'static str, u64>>,
    coalesced: AtomicU64,
    targeted: Mutex<BTreeMap<&'static str, u64>>,
    probes: Mutex<BTreeMap<&'static str, u64>>,
    connections_connected: AtomicI64,
    connections_total: AtomicI64,
    reconnects: AtomicU64,
    stream_producers: AtomicI64,
    stream_producers_started: AtomicU64,
    stream_listeners: AtomicI64,
    stream_packets: AtomicU64,
    samplers: AtomicI64,
    sampling_rounds: AtomicU64,
    history_messages: Mutex<BTreeMap<&'static str, u64>>,
    history_checkpoints: Mutex<BTreeMap<&'static str, u64>>,
    panics: Mutex<BTreeMap<&'static str, u64>>,
}

static GLOBAL: OnceLock<Metrics> = OnceLock::new();

/// The process-wide metrics.
pub fn global() -> &'static Metrics {
    GLOBAL.get_or_init(Metrics::default)
}

fn bump<K: Ord>(m: &Mutex<BTreeMap<K, u64>>, key: K, by: u64) {
    let mut g = lock(m);
    *g.entry(key).or_insert(0) += by;
}

impl Metrics {
    /// A query finished with `outcome` (`ok`, `bad_request`, `error`).
    pub fn query(&self, query_type: &str, outcome: &'static str) {
        let qt = match query_type {
            "ping" | "services" | "info" | "stats" | "request" | "events" => query_type,
            _ => "unknown",
        };
        bump(&self.queries, (qt.to_string(), outcome), 1);
    }

    /// A discovery round of `verb` ended with `stop` (their metric labels) after `elapsed`.
    pub fn discovery_round(&self, verb: &'static str, stop: &'static str, elapsed: Duration) {
        bump(&self.rounds, (verb, stop), 1);
        let secs = elapsed.as_secs_f64();
        let mut d = lock(&self.durations);
        let h = d.entry(verb).or_default();
        for (i, le) in BUCKETS.iter().enumerate() {
            if secs <= *le {
                h.counts[i] += 1;
            }
        }
        h.sum += secs;
        h.count += 1;
    }

    pub fn discovery_replies(&self, verb: &'static str, valid: u64, invalid: u64) {
        if valid > 0 {
            bump(&self.replies, verb, valid);
        }
        if invalid > 0 {
            bump(&self.invalid, verb, invalid);
        }
    }

    /// Replies skipped for their size, and field bounds applied (`(limit label, replies)`).
    pub fn discovery_skipped(
        &self,
        verb: &'static str,
        oversized: u64,
        limited: impl IntoIterator<Item = (&'static str, u64)>,
    ) {
        if oversized > 0 {
            bump(&self.oversized, verb, oversized);
        }
        for (l, n) in limited {
            bump(&self.limits, l, n);
        }
    }

    /// A history sampler started (`+1`) or stopped (`-1`).
    pub fn sampler_running(&self, delta: i64) {
        self.samplers.fetch_add(delta, Ordering::SeqCst);
    }

    /// Samplers running in this process.
    pub fn samplers(&self) -> i64 {
        self.samplers.load(Ordering::SeqCst)
    }

    /// A sampling round (PING then STATS) completed.
    pub fn sampling_round(&self) {
        self.sampling_rounds.fetch_add(1, Ordering::Relaxed);
    }

    /// A message of the shared (JetStream) history was `published`, not (`publish_failed`), or
    /// read: `ingested`, `rejected` (not a valid history message), `out_of_order` (older than
    /// what was read before), `partial` (a round with chunks missing), `unsealed` (without the
    /// data source's seal), `future` and `expired` (dated outside the window a round may have).
    pub fn history_message(&self, outcome: &'static str) {
        bump(&self.history_messages, outcome, 1);
    }

    /// A panic was caught `at` (`query`, `sampler`, `history_reader`, `lease`) and contained:
    /// the query answered an internal error, the task started again.
    pub fn panicked(&self, at: &'static str) {
        bump(&self.panics, at, 1);
    }

    /// A checkpoint of the JetStream history store: `written`, `write_failed`, `restored`,
    /// `rejected` (it did not decode), `unusable` (kept under a shorter retention), `read_failed`.
    pub fn history_checkpoint(&self, outcome: &'static str) {
        bump(&self.history_checkpoints, outcome, 1);
    }

    /// A targeted ping to a silent instance ended with `outcome` (`answered` or a silence).
    pub fn targeted_ping(&self, outcome: &'static str) {
        bump(&self.targeted, outcome, 1);
    }

    /// A probe ran and ended with `outcome` (`success` or the state of a failure).
    pub fn probe_run(&self, outcome: &'static str) {
        bump(&self.probes, outcome, 1);
    }

    pub fn discovery_coalesced(&self) {
        self.coalesced.fetch_add(1, Ordering::Relaxed);
    }

    /// A data source connection was opened (`+1`) or dropped (`-1`).
    pub fn connection_opened(&self, delta: i64) {
        self.connections_total.fetch_add(delta, Ordering::Relaxed);
    }

    /// A connection went up (`+1`) or down (`-1`).
    pub fn connection_up(&self, delta: i64) {
        self.connections_connected.fetch_add(delta, Ordering::Relaxed);
    }

    pub fn reconnected(&self) {
        self.reconnects.fetch_add(1, Ordering::Relaxed);
    }

    /// A live stream producer started (`+1`) or stopped (`-1`).
    pub fn stream_producer(&self, delta: i64) {
        if delta > 0 {
            self.stream_producers_started.fetch_add(1, Ordering::Relaxed);
        }
        self.stream_producers.fetch_add(delta, Ordering::Relaxed);
    }

    /// A RunStream call began listening (`+1`) or went away (`-1`).
    pub fn stream_listener(&self, delta: i64) {
        self.stream_listeners.fetch_add(delta, Ordering::Relaxed);
    }

    /// A producer sent one packet (to all its listeners at once).
    pub fn stream_packet(&self) {
        self.stream_packets.fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        scalar(
            &mut out,
            "natsmicro_history_samplers",
            "gauge",
            "History samplers running (at most one per data source).",
            self.samplers(),
        );
        scalar(
            &mut out,
            "natsmicro_runtime_alive_tasks",
            "gauge",
            "Tasks alive in the plugin's async runtime (rounds, late-reply listeners, samplers, streams, gRPC calls).",
            tokio::runtime::Handle::try_current().map_or(0, |h| h.metrics().num_alive_tasks()),
        );
        scalar(
            &mut out,
            "natsmicro_history_sampling_rounds_total",
            "counter",
            "Sampling rounds (a PING and a STATS round) completed.",
            self.sampling_rounds.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP natsmicro_history_messages_total Messages of the JetStream history store, published or read, by outcome."
        );
        let _ = writeln!(out, "# TYPE natsmicro_history_messages_total counter");
        for (outcome, n) in lock(&self.history_messages).iter() {
            let _ = writeln!(out, "natsmicro_history_messages_total{{outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP natsmicro_history_checkpoints_total Checkpoints of the JetStream history store, written or read, by outcome."
        );
        let _ = writeln!(out, "# TYPE natsmicro_history_checkpoints_total counter");
        for (outcome, n) in lock(&self.history_checkpoints).iter() {
            let _ = writeln!(out, "natsmicro_history_checkpoints_total{{outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP natsmicro_panics_total Panics caught and contained (a query's internal error, a task started again), by where."
        );
        let _ = writeln!(out, "# TYPE natsmicro_panics_total counter");
        for (at, n) in lock(&self.panics).iter() {
            let _ = writeln!(out, "natsmicro_panics_total{{at=\"{at}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP natsmicro_queries_total Queries answered, by query type and outcome."
        );
        let _ = writeln!(out, "# TYPE natsmicro_queries_total counter");
        for ((qt, outcome), n) in lock(&self.queries).iter() {
            let _ = writeln!(
                out,
                "natsmicro_queries_total{{query_type=\"{qt}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP natsmicro_discovery_rounds_total Discovery rounds sent to NATS, by verb and why they stopped."
        );
        let _ = writeln!(out, "# TYPE natsmicro_discovery_rounds_total counter");
        for ((verb, stop), n) in lock(&self.rounds).iter() {
            let _ = writeln!(
                out,
                "natsmicro_discovery_rounds_total{{verb=\"{verb}\",stop=\"{stop}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP natsmicro_discovery_duration_seconds Time until a discovery round answered."
        );
        let _ = writeln!(out, "# TYPE natsmicro_discovery_duration_seconds histogram");
        for (verb, h) in lock(&self.durations).iter() {
            for (i, le) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "natsmicro_discovery_duration_seconds_bucket{{verb=\"{verb}\",le=\"{le}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "natsmicro_discovery_duration_seconds_bucket{{verb=\"{verb}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "natsmicro_discovery_duration_seconds_sum{{verb=\"{verb}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "natsmicro_discovery_duration_seconds_count{{verb=\"{verb}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(out, "# HELP natsmicro_discovery_replies_total Valid replies received.");
        let _ = writeln!(out, "# TYPE natsmicro_discovery_replies_total counter");
        for (verb, n) in lock(&self.replies).iter() {
            let _ = writeln!(out, "natsmicro_discovery_replies_total{{verb=\"{verb}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP natsmicro_discovery_oversized_replies_total Replies skipped unparsed because they were larger than a 64th of maxRoundBytes.");
        let _ = writeln!(out, "# TYPE natsmicro_discovery_oversized_replies_total counter");
        for (verb, n) in lock(&self.oversized).iter() {
            let _ = writeln!(
                out,
                "natsmicro_discovery_oversized_replies_total{{verb=\"{verb}\"}} {n}"
            );
        }
        let _ = writeln!(out, "# HELP natsmicro_reply_limits_applied_total Replies whose fields were cut or that were rejected by a field bound, by bound.");
        let _ = writeln!(out, "# TYPE natsmicro_reply_limits_applied_total counter");
        for (limit, n) in lock(&self.limits).iter() {
            let _ = writeln!(out, "natsmicro_reply_limits_applied_total{{limit=\"{limit}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP natsmicro_discovery_invalid_replies_total Replies skipped as invalid (not JSON, wrong type, no name/id, out of scope, duplicate).");
        let _ = writeln!(out, "# TYPE natsmicro_discovery_invalid_replies_total counter");
        for (verb, n) in lock(&self.invalid).iter() {
            let _ = writeln!(out, "natsmicro_discovery_invalid_replies_total{{verb=\"{verb}\"}} {n}");
        }
        let _ = writeln!(out, "# HELP natsmicro_targeted_pings_total Targeted pings to known instances a PING round did not hear, by outcome (answered, unresponsive, gone, denied, malformed).");
        let _ = writeln!(out, "# TYPE natsmicro_targeted_pings_total counter");
        for (outcome, n) in lock(&self.targeted).iter() {
            let _ = writeln!(out, "natsmicro_targeted_pings_total{{outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP natsmicro_probe_runs_total Probe runs, by outcome (success, or the state of a failed run)."
        );
        let _ = writeln!(out, "# TYPE natsmicro_probe_runs_total counter");
        for (outcome, n) in lock(&self.probes).iter() {
            let _ = writeln!(out, "natsmicro_probe_runs_total{{outcome=\"{outcome}\"}} {n}");
        }
        scalar(
            &mut out,
            "natsmicro_discovery_coalesced_total",
            "counter",
            "Discoveries answered by joining an identical round in flight.",
            self.coalesced.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP natsmicro_nats_connections NATS connections held for data sources, by state."
        );
        let _ = writeln!(out, "# TYPE natsmicro_nats_connections gauge");
        let total = self.connections_total.load(Ordering::Relaxed).max(0);
        let up = self.connections_connected.load(Ordering::Relaxed).clamp(0, total);
        let _ = writeln!(out, "natsmicro_nats_connections{{state=\"connected\"}} {up}");
        let _ = writeln!(
            out,
            "natsmicro_nats_connections{{state=\"disconnected\"}} {}",
            total - up
        );
        scalar(
            &mut out,
            "natsmicro_nats_reconnects_total",
            "counter",
            "Times a NATS connection came back after a disconnect.",
            self.reconnects.load(Ordering::Relaxed),
        );
        let gauges = [
            (
                "natsmicro_stream_producers",
                "Live stream producers running (one per channel, shared by its RunStream calls).",
                &self.stream_producers,
            ),
            (
                "natsmicro_stream_listeners",
                "RunStream calls receiving packets.",
                &self.stream_listeners,
            ),
        ];
        for (name, help, value) in gauges {
            scalar(&mut out, name, "gauge", help, value.load(Ordering::Relaxed).max(0));
        }
        let counters = [
            (
                "natsmicro_stream_producers_started_total",
                "Live stream producers started.",
                &self.stream_producers_started,
            ),
            (
                "natsmicro_stream_packets_total",
                "Live stream packets sent by producers (each reaches every listener of its channel).",
                &self.stream_packets,
            ),
        ];
        for (name, help, value) in counters {
            scalar(&mut out, name, "counter", help, value.load(Ordering::Relaxed));
        }
        out
    }
}

/// One unlabelled metric: its HELP, TYPE and value lines.
fn scalar(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}
