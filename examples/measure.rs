//! Measures the figures of the backend issue against real parts: QueryData latency over gRPC (one-instance `stats`) next to a raw NATS request and to the gRPC floor (a QueryData that never reaches NATS), discovery time for 1/10/100 instances next to the arrival of the last reply, and the plugin's RSS.
//!
//! `cargo run --release --example measure` (needs `bash scripts/setup.sh` once).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;
use support::{DataSource, NatsServer, PluginProcess, RustService};

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmRSS:")).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> Result<()> {
    let nats = NatsServer::start();
    let plugin = PluginProcess::start().await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    println!("idle RSS after start: {} KiB", rss_kib(plugin.child.id()));

    // 1. QueryData latency for a one-instance stats query, fresh rounds (spaced past the 100 ms share window).
    let one = RustService::start(&nats.url(), "solo", "1.0.0", &[("get", "solo.get")], 0).await?;
    let ds = DataSource::new(&nats.url());
    let q = [json!({"refId": "A", "queryType": "stats", "service": "solo"})];
    plugin.query(&ds, &q).await?; // connect + learn the instance
    let raw = support::connect(&nats.url()).await?;
    let bad = [json!({"refId": "A", "queryType": "nope"})];
    let (mut fresh, mut shared, mut nats_rt, mut scatter) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut inner, mut floor) = (Vec::new(), Vec::new());
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(105)).await;
        let t0 = Instant::now();
        let r = plugin.query(&ds, &q).await?;
        fresh.push(t0.elapsed().as_secs_f64() * 1e3);
        assert_eq!(r["A"].frame().rows(), 1);
        inner.push(r["A"].frame().meta["custom"]["elapsedMs"].as_f64().unwrap_or(f64::NAN));
        let t0 = Instant::now();
        plugin.query(&ds, &q).await?;
        shared.push(t0.elapsed().as_secs_f64() * 1e3);
        // The baseline gets the same idle gap before it as the fresh round (cold wake-ups are part of both).
        tokio::time::sleep(Duration::from_millis(105)).await;
        let t0 = Instant::now();
        raw.request(format!("$SRV.STATS.solo.{}", one.id), "".into()).await?;
        nats_rt.push(t0.elapsed().as_secs_f64() * 1e3);
        // Raw scatter-gather as the plugin does it: a fresh inbox subscription, publish, first reply.
        tokio::time::sleep(Duration::from_millis(105)).await;
        let t0 = Instant::now();
        let inbox = raw.new_inbox();
        let mut sub = raw.subscribe(inbox.clone()).await?;
        raw.publish_with_reply("$SRV.STATS.solo", inbox, "".into()).await?;
        futures::StreamExt::next(&mut sub).await;
        scatter.push(t0.elapsed().as_secs_f64() * 1e3);
        // gRPC floor: a QueryData that never reaches NATS (an unknown queryType), after the same idle gap.
        tokio::time::sleep(Duration::from_millis(105)).await;
        let t0 = Instant::now();
        plugin.query(&ds, &bad).await?;
        floor.push(t0.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "\nQueryData one-instance stats over gRPC (200 calls each, each fresh call and baseline after 105 ms idle):"
    );
    println!(
        "  fresh NATS round : median {:.3} ms  p99 {:.3} ms",
        pct(&mut fresh, 0.5),
        pct(&mut fresh, 0.99)
    );
    println!(
        "    round itself   : median {:.3} ms  p99 {:.3} ms  (meta elapsedMs: PUB to answer, inside the plugin)",
        pct(&mut inner, 0.5),
        pct(&mut inner, 0.99)
    );
    println!(
        "  shared round     : median {:.3} ms  p99 {:.3} ms  (within 100 ms of an identical one)",
        pct(&mut shared, 0.5),
        pct(&mut shared, 0.99)
    );
    println!(
        "  raw NATS request : median {:.3} ms  p99 {:.3} ms  (async-nats request to $SRV.STATS.solo.<id>)",
        pct(&mut nats_rt, 0.5),
        pct(&mut nats_rt, 0.99)
    );
    println!(
        "  raw scatter-gather: median {:.3} ms  p99 {:.3} ms  (new inbox SUB + PUB $SRV.STATS.solo + first reply)",
        pct(&mut scatter, 0.5),
        pct(&mut scatter, 0.99)
    );
    println!(
        "  gRPC floor       : median {:.3} ms  p99 {:.3} ms  (QueryData answered without NATS: unknown queryType, after 105 ms idle)",
        pct(&mut floor, 0.5),
        pct(&mut floor, 0.99)
    );
    let (f, r) = (pct(&mut fresh, 0.5), pct(&mut nats_rt, 0.5));
    println!(
        "  ratio fresh/scatter-gather: {:.2}× median",
        f / pct(&mut scatter, 0.5)
    );
    println!("  ratio fresh/raw  : {:.2}× median (overhead {:.3} ms)", f / r, f - r);
    let g = pct(&mut floor, 0.5);
    println!(
        "  fresh - gRPC floor: {:.3} ms median (what the NATS round adds to a QueryData; raw request {r:.3} ms)",
        f - g
    );
    one.stop().await;

    // 2. Discovery time for N instances (each on its own connection) vs the last reply's arrival.
    println!("\nping discovery, N instances (30 warm rounds each; cold = first round):");
    println!(
        "  {:>4}  {:>12}  {:>16}  {:>16}  {:>8}  {:>10}",
        "N", "cold ms", "warm answer ms", "warm last-reply", "ratio", "stop"
    );
    let mut services = Vec::new();
    for (k, n) in [1usize, 10, 100].into_iter().enumerate() {
        let name = format!("fleet{k}");
        while services.len() < n {
            services.push(RustService::start(&nats.url(), &name, "1.0.0", &[], 0).await?);
        }
        // each N gets its own service name so its registry starts cold
        let ds = DataSource::new(&nats.url());
        let q = [json!({"refId": "A", "queryType": "ping", "service": name})];
        let cold = plugin.query(&ds, &q).await?;
        let cold_ms = cold["A"].frame().meta["custom"]["elapsedMs"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let (mut answer, mut last) = (Vec::new(), Vec::new());
        let mut stop = String::new();
        for _ in 0..30 {
            tokio::time::sleep(Duration::from_millis(105)).await;
            let r = plugin.query(&ds, &q).await?;
            let f = r["A"].frame();
            assert_eq!(f.rows(), n, "all {n} instances");
            answer.push(f.meta["custom"]["elapsedMs"].as_f64().unwrap_or(f64::NAN));
            last.push(f.meta["custom"]["lastReplyMs"].as_f64().unwrap_or(f64::NAN));
            stop = f.meta["custom"]["stop"].as_str().unwrap_or("").to_string();
        }
        let (a, l) = (pct(&mut answer, 0.5), pct(&mut last, 0.5));
        println!(
            "  {n:>4}  {cold_ms:>12.2}  {a:>16.3}  {l:>16.3}  {:>7.3}×  {stop:>10}",
            a / l
        );
        for s in services.drain(..) {
            s.stop().await;
        }
    }
    println!("\nRSS after the runs: {} KiB", rss_kib(plugin.child.id()));
    Ok(())
}
