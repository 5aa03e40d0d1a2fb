//! Soak benchmark (`bash scripts/soak.sh`, or `cargo run --release --example soak`): the release plugin for 30 minutes against 1 000 micro-service instances that churn (restarts, version changes, endpoints added after start) under dashboard-like query load; reports RSS, history bytes and runtime tasks over time, answers checked against ground truth, and every error, into BENCHMARKS.md.
//!
//! Knobs: `SOAK_MINUTES` (30), `SOAK_INSTANCES` (1000), `SOAK_INTERVAL_SEC` sampler period (5),
//! `SOAK_RETENTION_MIN` the data source's `retentionMinutes` (10: shorter than the run, so that
//! what retention bounds — history, remembered instances — reaches its plateau within it),
//! `BENCH_WRITE=0` to leave BENCHMARKS.md alone.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use async_nats::service::ServiceExt;
use futures::StreamExt;
use serde_json::json;
use support::{proc_status_kib, DataSource, NatsServer, PluginProcess};

const START: &str = "<!-- bench:soak:start -->";
const END: &str = "<!-- bench:soak:end -->";
const SERVICES: [&str; 4] = ["orders", "billing", "inventory", "shipping"];
/// Services per NATS connection of the fleet (cheap on 2 cores).
const PER_CONNECTION: usize = 50;

fn env_num(key: &str, default: u64) -> u64 {
    std::env::var(key).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// A tiny deterministic generator (xorshift), so a run can be repeated.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Instance {
    name: &'static str,
    version: String,
    service: async_nats::service::Service,
    id: String,
    endpoints: usize,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

async fn endpoint(service: &async_nats::service::Service, n: usize) -> Result<tokio::task::JoinHandle<()>> {
    let mut ep = service
        .endpoint_builder()
        .name(format!("ep{n}"))
        .add(format!("soak.{}.ep{n}", service.info().await.name))
        .await
        .map_err(|e| anyhow!("endpoint: {e}"))?;
    Ok(tokio::spawn(async move {
        while let Some(req) = ep.next().await {
            let _ = req.respond(Ok("ok".into())).await;
        }
    }))
}

async fn start(client: &async_nats::Client, name: &'static str, version: &str) -> Result<Instance> {
    let service = client
        .service_builder()
        .description("soak instance")
        .start(name, version)
        .await
        .map_err(|e| anyhow!("start: {e}"))?;
    let id = service.info().await.id;
    let tasks = vec![endpoint(&service, 0).await?];
    Ok(Instance {
        name,
        version: version.to_string(),
        service,
        id,
        endpoints: 1,
        tasks,
    })
}

async fn stop(i: Instance) {
    for t in &i.tasks {
        t.abort();
    }
    let _ = i.service.stop().await;
}

/// `(service, id)` of every instance the answer shows up.
fn up_set(frame: &support::DecodedFrame) -> BTreeSet<(String, String)> {
    frame
        .strings("service")
        .into_iter()
        .zip(frame.strings("id"))
        .zip(frame.numbers("up"))
        .filter(|(_, up)| *up == Some(1.0))
        .map(|(k, _)| k)
        .collect()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let minutes = env_num("SOAK_MINUTES", 30);
    let n = env_num("SOAK_INSTANCES", 1000) as usize;
    let interval = env_num("SOAK_INTERVAL_SEC", 5);
    let retention = env_num("SOAK_RETENTION_MIN", 10);
    let nats = NatsServer::start();
    let mut clients = Vec::new();
    for _ in 0..n.div_ceil(PER_CONNECTION) {
        clients.push(support::connect(&nats.url()).await?);
    }
    let mut fleet: Vec<Instance> = Vec::with_capacity(n);
    for i in 0..n {
        fleet.push(start(&clients[i / PER_CONNECTION], SERVICES[i % SERVICES.len()], "1.0.0").await?);
    }
    eprintln!("soak: {n} instances up; {minutes} min");
    let plugin = PluginProcess::start().await?;
    let pid = plugin.child.id().to_string();
    let ds = DataSource::new(&nats.url())
        .json(json!({"sampleIntervalSec": interval, "retentionMinutes": retention, "timeoutMs": 2000}));
    let dashboard = [
        json!({"refId": "P", "queryType": "ping", "format": "table"}),
        json!({"refId": "S", "queryType": "services", "format": "timeseries"}),
        json!({"refId": "R", "queryType": "ping", "format": "timeseries", "service": "orders"}),
        json!({"refId": "T", "queryType": "stats", "format": "table", "service": "billing"}),
        json!({"refId": "E", "queryType": "events"}),
    ];
    let mut rng = Rng(0x5eed_cafe_f00d_d00d);
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(minutes * 60);
    let mut next_sample = t0;
    let mut rows: Vec<(f64, f64, f64, f64, f64)> = Vec::new();
    let (mut checks, mut exact, mut errors) = (0u64, 0u64, BTreeMap::<String, u64>::new());
    let (mut restarts, mut versions, mut added, mut queries) = (0u64, 0u64, 0u64, 0u64);
    // Instances changed recently are "in flux": a check ignores them for two sampler periods.
    let mut changed_at: BTreeMap<(String, String), Instant> = BTreeMap::new();
    let mut worst_diff = 0usize;
    while Instant::now() < end {
        // Churn: a few changes every turn.
        for _ in 0..3 {
            let k = rng.below(fleet.len());
            let client = clients[k / PER_CONNECTION].clone();
            match rng.below(10) {
                0..=3 => {
                    let version = fleet[k].version.clone();
                    let old = std::mem::replace(
                        &mut fleet[k],
                        start(&client, SERVICES[k % SERVICES.len()], &version).await?,
                    );
                    changed_at.insert((old.name.to_string(), old.id.clone()), Instant::now());
                    stop(old).await;
                    restarts += 1;
                }
                4..=5 => {
                    let next = format!("1.{}.0", rng.below(50));
                    let old = std::mem::replace(
                        &mut fleet[k],
                        start(&client, SERVICES[k % SERVICES.len()], &next).await?,
                    );
                    changed_at.insert((old.name.to_string(), old.id.clone()), Instant::now());
                    stop(old).await;
                    versions += 1;
                }
                _ => {
                    let inst = &mut fleet[k];
                    if inst.endpoints < 8 {
                        let t = endpoint(&inst.service, inst.endpoints).await?;
                        inst.tasks.push(t);
                        inst.endpoints += 1;
                        added += 1;
                    }
                }
            }
            let i = &fleet[k];
            changed_at.insert((i.name.to_string(), i.id.clone()), Instant::now());
        }
        // Dashboard refresh.
        let r = plugin.query(&ds, &dashboard).await;
        queries += dashboard.len() as u64;
        match r {
            Err(e) => *errors.entry(format!("gRPC: {e}")).or_default() += 1,
            Ok(r) => {
                for (ref_id, resp) in &r {
                    if !resp.error.is_empty() {
                        *errors.entry(format!("{ref_id}: {}", resp.error)).or_default() += 1;
                    }
                }
                if let Some(p) = r.get("P").filter(|p| p.error.is_empty()) {
                    let flux = Duration::from_secs(2 * interval.max(1));
                    changed_at.retain(|_, at| at.elapsed() < flux);
                    let truth: BTreeSet<(String, String)> =
                        fleet.iter().map(|i| (i.name.to_string(), i.id.clone())).collect();
                    let seen = up_set(p.frame());
                    let diff = truth
                        .symmetric_difference(&seen)
                        .filter(|k| !changed_at.contains_key(*k))
                        .count();
                    checks += 1;
                    if diff == 0 {
                        exact += 1;
                    }
                    worst_diff = worst_diff.max(diff);
                }
            }
        }
        if Instant::now() >= next_sample {
            let m = plugin.metrics_text().await.unwrap_or_default();
            // As an alert rule asks (a dashboard's timeseries query would stream instead).
            let now = chrono::Utc::now().timestamp_millis();
            let hist = plugin
                .query_window(
                    &ds,
                    &[json!({"refId": "H", "queryType": "ping", "format": "timeseries", "service": "inventory"})],
                    (now - 600_000, now),
                    100,
                    6_000,
                )
                .await
                .ok()
                .and_then(|r| {
                    r["H"]
                        .frames
                        .first()
                        .map(|f| f.meta["custom"]["history"]["bytes"].as_f64().unwrap_or(0.0))
                })
                .unwrap_or(0.0);
            let row = (
                t0.elapsed().as_secs_f64() / 60.0,
                proc_status_kib(&pid, "VmRSS:") as f64 / 1024.0,
                hist / (1 << 20) as f64,
                support::metric(&m, "natsmicro_runtime_alive_tasks").unwrap_or(f64::NAN),
                proc_status_kib(&pid, "Threads:") as f64,
            );
            eprintln!(
                "soak: {:5.1} min  RSS {:6.1} MiB  history {:5.1} MiB  tasks {:4.0}  checks {exact}/{checks} exact  errors {}",
                row.0,
                row.1,
                row.2,
                row.3,
                errors.values().sum::<u64>()
            );
            rows.push(row);
            next_sample += Duration::from_secs(60);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Command: `bash scripts/soak.sh` (`SOAK_MINUTES={minutes} SOAK_INSTANCES={n}`): the release plugin, one nats-server, {n} \
         async-nats service instances ({PER_CONNECTION} per connection) across {} services, sampler every {interval} s, \
         `retentionMinutes` {retention}. Every 2 s: \
         3 churn actions (40 % restart = new id, 20 % version change, 40 % endpoint added to a running instance, as ADR-32 \
         rev 6 allows) and a 5-query dashboard refresh. Ground truth: the instances the soak itself runs; a check is exact when \
         the `ping` table's up set equals it, instances changed in the last two sampler periods aside.\n",
        SERVICES.len()
    );
    let _ = writeln!(
        md,
        "| minute | plugin RSS | history (accounted) | runtime tasks | threads |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|");
    for r in &rows {
        let _ = writeln!(
            md,
            "| {:.0} | {:.1} MiB | {:.1} MiB | {:.0} | {:.0} |",
            r.0, r.1, r.2, r.3, r.4
        );
    }
    // Warm: past the retention window, once what it bounds has filled.
    let warm = rows.iter().find(|r| r.0 >= (retention + 2) as f64).or(rows.last());
    let last = rows.last();
    if let (Some(w), Some(l)) = (warm, last) {
        let _ = writeln!(
            md,
            "\nRSS after warm-up (minute {:.0}) {:.1} MiB → end {:.1} MiB ({:+.1} MiB) while the accounted history grew {:+.1} MiB (bound 32 MiB).",
            w.0,
            w.1,
            l.1,
            l.1 - w.1,
            l.2 - w.2
        );
    }
    let _ = writeln!(
        md,
        "\nChurn: {restarts} restarts, {versions} version changes, {added} endpoints added. Queries: {queries}. \
         Checks against ground truth: {exact} of {checks} exact, largest difference {worst_diff} instances. Errors: {}.",
        if errors.is_empty() {
            "none".to_string()
        } else {
            errors.iter().map(|(e, n)| format!("{n} × {e}")).collect::<Vec<_>>().join("; ")
        }
    );
    print!("{md}");
    if std::env::var("BENCH_WRITE").as_deref() != Ok("0") {
        support::write_bench_section(START, END, "Soak", &md)?;
    }
    for i in fleet {
        stop(i).await;
    }
    Ok(())
}
