//! How fast each stop rule answers, the timings the tests used to assert (`bash scripts/bench.sh` runs it; `cargo run --release --example stops` alone), each next to a raw NATS request/reply measured in the same run; writes its section of BENCHMARKS.md.
//!
//! Rows: no responders (503), one addressed instance, every known instance (answer time minus the
//! last reply's arrival), and a query while NATS is down (fail fast, not the timeout). Knobs:
//! `STOPS_RUNS` (200), `BENCH_WRITE=0` to leave BENCHMARKS.md alone.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::Result;
use natsmicro::model::micro::{Scope, Verb};
use natsmicro::model::observed::StopReason;
use natsmicro::nats::discovery::{Discovery, Policy};
use serde_json::json;
use support::{DataSource, NatsServer, PluginProcess, RustService};

const START: &str = "<!-- bench:stops:start -->";
const END: &str = "<!-- bench:stops:end -->";

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let runs: usize = std::env::var("STOPS_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let mut nats = NatsServer::start();
    let client = support::connect(&nats.url()).await?;
    let policy = Policy {
        share_window: Duration::ZERO,
        ..Policy::new("$SRV", Duration::from_secs(2), Duration::from_secs(3600))
    };
    let d = Discovery::new(client.clone(), policy);

    // No one listens: the 503 answers the round.
    let mut no_responders = Vec::new();
    for _ in 0..runs {
        let r = d.discover(Verb::Ping, Scope::all()).await?;
        anyhow::ensure!(r.stop == StopReason::NoResponders, "stop {:?}", r.stop);
        no_responders.push(ms(r.elapsed));
    }

    let services = [
        RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0).await?,
        RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0).await?,
        RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0).await?,
    ];
    // Baseline: one raw request/reply to one instance's PING subject.
    let one_subject = format!("$SRV.PING.orders.{}", services[0].id);
    let mut raw = Vec::new();
    for _ in 0..runs {
        let t0 = Instant::now();
        client.request(one_subject.clone(), "".into()).await?;
        raw.push(ms(t0.elapsed()));
    }
    let one = Scope {
        service: Some("orders".into()),
        id: Some(services[0].id.clone()),
    };
    let mut single = Vec::new();
    for _ in 0..runs {
        let r = d.discover(Verb::Ping, one.clone()).await?;
        anyhow::ensure!(r.stop == StopReason::Single, "stop {:?}", r.stop);
        single.push(ms(r.elapsed));
    }
    // Learn the fleet once (a stall), then every round ends on the last known reply.
    d.discover(Verb::Ping, Scope::all()).await?;
    let mut after_last = Vec::new();
    for _ in 0..runs {
        let r = d.discover(Verb::Ping, Scope::all()).await?;
        anyhow::ensure!(r.stop == StopReason::Complete, "stop {:?}", r.stop);
        let last = r.last_reply.unwrap_or_default();
        after_last.push(ms(r.elapsed.saturating_sub(last)));
    }

    // NATS down: a query through the plugin fails fast instead of waiting out its 2 s timeout.
    let plugin = PluginProcess::start().await?;
    let ds = DataSource::new(&nats.url()).json(json!({"timeoutMs": 2000}));
    let q = [json!({"refId": "A", "queryType": "ping"})];
    plugin.query(&ds, &q).await?;
    nats.stop();
    let t0 = Instant::now();
    while !plugin.query(&ds, &q).await?["A"].error.contains("connection is down") {
        anyhow::ensure!(t0.elapsed() < Duration::from_secs(10), "never noticed NATS was down");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut down = Vec::new();
    for _ in 0..runs.min(50) {
        let t0 = Instant::now();
        let r = plugin.query(&ds, &q).await?;
        anyhow::ensure!(r["A"].error.contains("connection is down"), "{}", r["A"].error);
        down.push(ms(t0.elapsed()));
    }

    let base = median(raw);
    let mut md = String::new();
    let _ = writeln!(
        md,
        "`cargo run --release --example stops` ({runs} runs each, {}; medians; baseline: one raw request/reply to one instance, {base:.3} ms)\n",
        chrono::Utc::now().format("%Y-%m-%d")
    );
    let _ = writeln!(md, "| stop rule | median | × raw request | tests assert instead |");
    let _ = writeln!(md, "|---|---:|---:|---|");
    for (name, v, asserted) in [
        (
            "no responders (503)",
            median(no_responders),
            "stop reason `no_responders`",
        ),
        ("one addressed instance", median(single), "stop reason `single`"),
        (
            "every known instance: answer − last reply",
            median(after_last),
            "stop reason `complete`",
        ),
        (
            "query while NATS is down (gRPC round trip included; timeout 2 000 ms)",
            median(down),
            "the error says the connection is down, not a timeout",
        ),
    ] {
        let _ = writeln!(md, "| {name} | {v:.3} ms | {:.2} | {asserted} |", v / base);
    }
    println!("{md}");
    if std::env::var("BENCH_WRITE").as_deref() != Ok("0") {
        support::write_bench_section(START, END, "Stop rules (generated by `examples/stops.rs`)", &md)?;
    }
    drop(services);
    Ok(())
}
