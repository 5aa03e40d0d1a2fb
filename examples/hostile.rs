//! Hostile-peer memory benchmark (`bash scripts/bench.sh` runs it; alone: `cargo run --release --example hostile`): for every query type (ping, services, info, stats with `data:` leaves, request, probe, events), the plugin's peak RSS while peers on the account answer within every field bound but far beyond any fleet, next to the same queries without them (the baseline, same run); writes the generated section of BENCHMARKS.md.
//!
//! Each row runs in a fresh plugin process (peak RSS, `VmHWM`, only grows): idle is its RSS after
//! one normal answer of the same query, peak its high-water mark after `HOSTILE_QUERIES` queries
//! (10) with the hostile peers answering. Knobs: `HOSTILE_ONLY` runs the cases whose name holds
//! it (and never writes BENCHMARKS.md), `HOSTILE_REFIDS` keeps only those refIds of each case
//! (likewise), `BENCH_WRITE=0` leaves BENCHMARKS.md alone.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::{json, Value};
use support::{proc_status_kib, DataSource, Flood, NatsServer, PluginProcess, RustService};

const START: &str = "<!-- bench:hostile:start -->";
const END: &str = "<!-- bench:hostile:end -->";
/// The issue's goal: peak RSS within this of idle, whatever peers reply.
const GOAL_MIB: f64 = 64.0;

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A PING reply of a made-up instance, with 1 KiB of metadata.
fn ping_reply(round: usize, i: usize) -> Vec<u8> {
    json!({"type": "io.nats.micro.v1.ping_response", "name": format!("swarm{}", i % 50),
           "id": format!("r{round}i{i}"), "version": "1.0.0", "metadata": {"pad": "p".repeat(pad())}})
    .to_string()
    .into_bytes()
}

fn pad() -> usize {
    std::env::var("HOSTILE_PAD")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

/// Rounds answered so far by the ping flood (each round a new set of ids: events galore).
static PING_ROUND: AtomicUsize = AtomicUsize::new(0);

fn ping_flood(i: usize) -> Vec<u8> {
    if i == 0 {
        PING_ROUND.fetch_add(1, Ordering::Relaxed);
    }
    ping_reply(PING_ROUND.load(Ordering::Relaxed), i)
}

/// An INFO or STATS reply of instance `i` with a thousand endpoints, every field within bounds.
fn wide(verb: &str, i: usize) -> Vec<u8> {
    let endpoints: Vec<Value> = (0..1000)
        .map(|e| {
            json!({"name": format!("e{e:04}"), "subject": format!("wide.{e}"), "queue_group": "q",
                   "num_requests": e * 10, "num_errors": e, "processing_time": 1000, "average_processing_time": 10,
                   "metadata": {"k": "v"}, "data": {"queue": {"depth": e}, "lag": i}})
        })
        .collect();
    json!({"type": format!("io.nats.micro.v1.{verb}_response"), "name": "wide", "id": format!("w{i:03}"),
           "version": "1.0.0", "description": "d".repeat(4000),
           "metadata": (0..60).map(|k| (format!("k{k}"), json!("v".repeat(60)))).collect::<serde_json::Map<_, _>>(),
           "started": "2026-01-01T00:00:00Z", "endpoints": endpoints})
    .to_string()
    .into_bytes()
}

fn info_flood(i: usize) -> Vec<u8> {
    wide("info", i)
}
fn stats_flood(i: usize) -> Vec<u8> {
    wide("stats", i)
}

/// A request reply of 8 000 one-key objects (the case that took 2.5 GB).
fn keys_reply(_: usize) -> Vec<u8> {
    let body: Vec<Value> = (0..8000).map(|i| json!({format!("k{i}"): i})).collect();
    Value::Array(body).to_string().into_bytes()
}

/// A request reply just under 1 MB of nested JSON.
fn deep_reply(_: usize) -> Vec<u8> {
    let item = json!({"a": {"b": [1, 2, 3, {"c": "x".repeat(50)}]}, "n": 1.5, "s": "text"});
    let body: Vec<Value> = (0..9000).map(|_| item.clone()).collect();
    Value::Array(body).to_string().into_bytes()
}

/// What a well-behaved service answers on big.get.
fn small_reply(_: usize) -> Vec<u8> {
    br#"{"ok": true, "items": 3}"#.to_vec()
}

type Body = fn(usize) -> Vec<u8>;

struct Case {
    name: &'static str,
    queries: Vec<Value>,
    /// Hostile peers: (subject, replies per request, body).
    peers: Vec<(&'static str, usize, Body)>,
    sampling: bool,
}

struct Row {
    name: &'static str,
    base_over: f64,
    idle: f64,
    peak: f64,
    answered: usize,
    asked: usize,
    secs: f64,
}

async fn peak_over_idle(
    nats: &NatsServer,
    case: &Case,
    hostile: bool,
    queries: usize,
) -> Result<(f64, f64, usize, usize, f64)> {
    let p = PluginProcess::start().await?;
    let pid = p.child.id().to_string();
    let ds = DataSource::new(&nats.url()).json(json!({
        "sampleIntervalSec": if case.sampling && std::env::var("HOSTILE_NO_SAMPLER").is_err() { 1 } else { 0 }, "timeoutMs": 1500, "requestSubjects": ["big.>"],
        "probes": [{"name": "big", "subject": "big.get", "timeoutMs": 1500}],
    }));
    // One normal answer first (a well-behaved service on big.get): the process as it is in use.
    let mut normal = Some(Flood::start(&nats.url(), "big.get", 1, small_reply).await?);
    let _ = p.query(&ds, &case.queries).await?;
    tokio::time::sleep(Duration::from_secs(if case.sampling { 3 } else { 1 })).await;
    let idle = proc_status_kib(&pid, "VmRSS:");
    let mut guards = Vec::new();
    if hostile {
        normal = None;
        for (subject, count, body) in &case.peers {
            guards.push(Flood::start(&nats.url(), subject, *count, *body).await?);
        }
        if case.sampling {
            tokio::time::sleep(Duration::from_secs(5)).await;
        }
    }
    let t0 = Instant::now();
    let (mut answered, mut asked) = (0, 0);
    for _ in 0..queries {
        let r = p.query(&ds, &case.queries).await?;
        for a in r.values() {
            asked += 1;
            if a.error.is_empty() {
                answered += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let peak = proc_status_kib(&pid, "VmHWM:");
    drop(guards);
    drop(normal);
    Ok((mib(idle), mib(peak), answered, asked, secs))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let queries: usize = std::env::var("HOSTILE_QUERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let nats = NatsServer::start();
    let mut fleet = Vec::new();
    for _ in 0..3 {
        fleet.push(RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0).await?);
    }
    let q = |v: Value| v;
    let cases: Vec<Case> = vec![
        Case {
            name: "ping (table, instant)",
            queries: vec![
                q(json!({"refId": "A", "queryType": "ping", "format": "table"})),
                q(json!({"refId": "B", "queryType": "ping", "format": "instant", "aggregate": "avg"})),
            ],
            peers: vec![("$SRV.PING", 10_000, ping_flood)],
            sampling: true,
        },
        Case {
            name: "ping (timeseries)",
            queries: vec![q(
                json!({"refId": "C", "queryType": "ping", "format": "timeseries", "live": false}),
            )],
            peers: vec![("$SRV.PING", 10_000, ping_flood)],
            sampling: true,
        },
        Case {
            name: "services (table, timeseries)",
            queries: vec![
                q(json!({"refId": "A", "queryType": "services", "format": "table"})),
                q(json!({"refId": "B", "queryType": "services", "format": "timeseries"})),
            ],
            peers: vec![("$SRV.PING", 10_000, ping_flood)],
            sampling: true,
        },
        Case {
            name: "info",
            // Scoped to the flood's service: the flood lands in the round (the worst case) rather
            // than after the real instances have answered it.
            queries: vec![q(json!({"refId": "A", "queryType": "info", "service": "wide"}))],
            peers: vec![("$SRV.INFO", 60, info_flood), ("$SRV.INFO.wide", 60, info_flood)],
            sampling: false,
        },
        Case {
            name: "stats (table, data: leaves, timeseries)",
            queries: vec![
                q(json!({"refId": "A", "queryType": "stats", "format": "table", "service": "wide"})),
                q(
                    json!({"refId": "B", "queryType": "stats", "format": "instant", "metric": "data:queue.depth", "service": "wide"}),
                ),
                q(
                    json!({"refId": "C", "queryType": "stats", "format": "timeseries", "metric": "request_rate", "live": false, "service": "wide"}),
                ),
            ],
            peers: vec![("$SRV.STATS", 60, stats_flood), ("$SRV.STATS.wide", 60, stats_flood)],
            sampling: true,
        },
        Case {
            name: "request (8 000 keys)",
            queries: vec![q(json!({"refId": "A", "queryType": "request", "subject": "big.get"}))],
            peers: vec![("big.get", 1, keys_reply)],
            sampling: false,
        },
        Case {
            name: "request (1 MB of nested JSON)",
            queries: vec![q(json!({"refId": "A", "queryType": "request", "subject": "big.get"}))],
            peers: vec![("big.get", 1, deep_reply)],
            sampling: false,
        },
        Case {
            name: "probe (1 MB replies)",
            queries: vec![
                q(json!({"refId": "A", "queryType": "probe", "format": "table"})),
                q(json!({"refId": "B", "queryType": "probe", "format": "timeseries"})),
            ],
            peers: vec![("big.get", 1, deep_reply)],
            sampling: true,
        },
        Case {
            name: "events (every round new instances)",
            queries: vec![q(json!({"refId": "A", "queryType": "events"}))],
            peers: vec![("$SRV.PING", 5_000, ping_flood)],
            sampling: true,
        },
    ];
    let only = std::env::var("HOSTILE_ONLY").unwrap_or_default();
    let mut rows = Vec::new();
    // `HOSTILE_REFIDS` (e.g. "A,C") keeps only those queries of each case (to see which costs).
    let refids = std::env::var("HOSTILE_REFIDS").unwrap_or_default();
    let mut cases = cases;
    if !refids.is_empty() {
        for c in &mut cases {
            c.queries.retain(|q| refids.split(',').any(|r| q["refId"] == r));
        }
    }
    for case in cases.iter().filter(|c| c.name.contains(&only) && !c.queries.is_empty()) {
        let (b_idle, b_peak, ..) = peak_over_idle(&nats, case, false, queries).await?;
        let (idle, peak, answered, asked, secs) = peak_over_idle(&nats, case, true, queries).await?;
        println!(
            "{:<40} baseline +{:>5.1} MiB   hostile: idle {:>6.1} MiB peak {:>6.1} MiB (+{:>5.1})  answered {answered}/{asked}  {secs:.0} s",
            case.name,
            b_peak - b_idle,
            idle,
            peak,
            peak - idle
        );
        rows.push(Row {
            name: case.name,
            base_over: b_peak - b_idle,
            idle,
            peak,
            answered,
            asked,
            secs,
        });
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Command: `cargo run --release --example hostile` (also run by `bash scripts/bench.sh`). 3 real Rust \
         instances; for each query type a fresh plugin process answers {queries} calls of its queries while hostile \
         peers reply within every field bound (10 000 PING replies with 1 KiB of metadata each, a new set every \
         round; 60 INFO or STATS replies of 1 000 endpoints with custom data, to queries scoped to their service so \
         that they land in the round; request and probe replies of 8 000 keys \
         or 1 MB of nested JSON), and the same calls without them (baseline, same run). Idle = RSS after one normal \
         answer; peak = `VmHWM`.\n"
    );
    let _ = writeln!(
        md,
        "| query type | baseline peak − idle | hostile: idle RSS | peak RSS | peak − idle | vs baseline | goal (≤ {GOAL_MIB:.0} MiB over idle) | answered | time |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for r in &rows {
        let over = r.peak - r.idle;
        let _ = writeln!(
            md,
            "| {} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {} | {} | {}/{} | {:.0} s |",
            r.name,
            r.base_over,
            r.idle,
            r.peak,
            over,
            if r.base_over > 0.05 {
                format!("{:.1}×", over / r.base_over)
            } else {
                "—".into()
            },
            if over <= GOAL_MIB { "met" } else { "missed" },
            r.answered,
            r.asked,
            r.secs
        );
    }
    if only.is_empty() && refids.is_empty() && std::env::var("BENCH_WRITE").as_deref() != Ok("0") {
        support::write_bench_section(START, END, "Hostile peers, every query type", &md)?;
    }
    print!("{md}");
    if rows.iter().any(|r| r.peak - r.idle > GOAL_MIB) {
        bail!("a query type went over the memory goal");
    }
    Ok(())
}
