//! Measures the history sampler: memory per instance per hour of history at a 15 s and a 1 s period (from the store's own byte accounting, and the RSS growth of building it), and the CPU the plugin process spends sampling 1 000 Python micro-service instances every second.
//!
//! `cargo run --release --example sampler_cost` (needs `bash scripts/setup.sh` once);
//! `SAMPLER_COST_SECS` sets the CPU measurement window (default 60).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use anyhow::Result;
use natsmicro::model::history::{
    EndpointSample, History, PingSample, StatsSample, ENDPOINT_POINT_BYTES, PING_POINT_BYTES,
};
use serde_json::json;
use support::{DataSource, NatsServer, PluginProcess, PythonService};

/// One hour of history for `n` instances with `endpoints` endpoints each at `period_s`.
fn hour(n: usize, endpoints: usize, period_s: i64) -> (History, u64) {
    let rss0 = support::proc_status_kib("self", "VmRSS:");
    let mut h = History::new(3_600_000, usize::MAX / 2);
    let rounds = 3600 / period_s;
    for r in 0..rounds {
        let t = 1_700_000_000_000 + r * period_s * 1000;
        let pings: Vec<PingSample> = (0..n)
            .map(|i| PingSample {
                service: format!("svc{}", i % 10),
                id: format!("{i:022}"),
                version: "1.0.0".into(),
                rtt_ms: Some(1.0 + (i % 7) as f64),
                state: natsmicro::model::state::State::Up,
            })
            .collect();
        h.ingest_ping(t, &pings);
        let stats: Vec<StatsSample> = (0..n)
            .map(|i| StatsSample {
                service: format!("svc{}", i % 10),
                id: format!("{i:022}"),
                version: "1.0.0".into(),
                started: Some(1_700_000_000_000),
                endpoints: (0..endpoints)
                    .map(|e| EndpointSample {
                        name: format!("ep{e}"),
                        requests: r as u64 * 10,
                        errors: r as u64,
                        processing_ns: r as u64 * 1_000_000,
                        data: Vec::new(),
                    })
                    .collect(),
            })
            .collect();
        h.ingest_stats(t, &stats);
    }
    let rss = support::proc_status_kib("self", "VmRSS:").saturating_sub(rss0);
    (h, rss)
}

#[tokio::main]
async fn main() -> Result<()> {
    println!("bytes per sample: ping {PING_POINT_BYTES}, endpoint {ENDPOINT_POINT_BYTES}");
    println!("one hour of history, 100 instances (accounted bytes; heap incl. VecDeque spare capacity; RSS growth):");
    for (period, endpoints) in [(15, 1), (15, 2), (1, 1), (1, 2)] {
        let (h, rss_kib) = hour(100, endpoints, period);
        println!(
            "  period {period:>2} s, {endpoints} endpoint(s): {:>8.1} KiB/instance/hour accounted, {:>8.1} KiB heap, {:>8.1} KiB RSS growth ({} samples)",
            h.bytes() as f64 / 100.0 / 1024.0,
            h.heap_bytes() as f64 / 100.0 / 1024.0,
            rss_kib as f64 / 100.0,
            h.samples()
        );
        drop(h);
    }

    let secs: u64 = std::env::var("SAMPLER_COST_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let nats = NatsServer::start();
    let _fleet = PythonService::start(&nats.url(), "fleet", "1.0.0", 1000, &[])?;
    let plugin = PluginProcess::start().await?;
    let pid = plugin.child.id();
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 1, "retentionMinutes": 60}));
    let q = [json!({"refId": "A", "queryType": "services", "format": "timeseries"})];
    plugin.query(&ds, &q).await?;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (cpu0, rss0) = (
        support::proc_cpu_seconds(pid)?,
        support::proc_status_kib(&pid.to_string(), "VmRSS:"),
    );
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let cpu = support::proc_cpu_seconds(pid)? - cpu0;
    let rss1 = support::proc_status_kib(&pid.to_string(), "VmRSS:");
    let r = plugin.query(&ds, &q).await?;
    let h = &r["A"].frame().meta["custom"]["history"];
    println!("\nsampler at 1000 Python instances (1 endpoint each), period 1 s, {secs} s window:");
    println!(
        "  plugin CPU {:.2} s = {:.1}% of one core; {:.1} ms CPU per sampling round (PING + STATS)",
        cpu,
        cpu / secs as f64 * 100.0,
        cpu / secs as f64 * 1e3
    );
    println!(
        "  plugin RSS {rss0} KiB -> {rss1} KiB; history {} rounds, {} samples, {:.1} KiB accounted",
        h["rounds"],
        h["samples"],
        h["bytes"].as_f64().unwrap_or(0.0) / 1024.0
    );
    Ok(())
}
