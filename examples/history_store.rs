//! Measures the history stores side by side: bytes per sample of the packed memory store (next to the unpacked layout it replaced) and of the JetStream stream on disk, cold and warm 60-minute window reads against the memory store, the takeover after a SIGKILL, PING rounds per period with two replicas, and a fleet of 10 000 instances (discovery against raw scatter-gather, sampler CPU, a window over all); writes the `bench:history` section of BENCHMARKS.md.
//!
//! `cargo run --release --example history_store` (after `bash scripts/setup.sh`; `scripts/bench.sh`
//! runs it). Knobs: `HISTORY_BENCH_INSTANCES` (1000), `HISTORY_BENCH_FLEET` (10000),
//! `HISTORY_BENCH_FLEET_ROUNDS` (60), `HISTORY_BENCH_CPU_SECS` (60), `HISTORY_BENCH_COLD_RUNS` (3
//! fresh processes per cold read), `HISTORY_BENCH_PARTS` (a comma list of `memory`, `jetstream`,
//! `takeover`, `fleet`; all by default: a partial run never writes BENCHMARKS.md),
//! `BENCH_WRITE=0` to leave BENCHMARKS.md alone.

#[path = "../tests/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use futures::StreamExt;
use natsmicro::model::history::wire::{self, Assembler, Records};
use natsmicro::model::history::{
    EndpointSample, History, PingSample, StatsSample, ENDPOINT_POINT_BYTES, PING_POINT_BYTES,
};
use natsmicro::model::state::State;
use serde_json::{json, Value};
use support::raw::{self, RawScatter};
use support::{DataSource, NatsServer, PluginProcess, PythonService, RustService};

/// Counted turns of raw and plugin discovery rounds over the fleet.
const FLEET_TURNS: usize = 15;

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// A small deterministic generator (same numbers on every run).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

/// One hour at 15 s (240 rounds) of `n` instances with one endpoint: RTT around 1 ms with
/// ±0.3 ms of jitter, about 10 requests a second, an error now and then.
/// Also returns the rounds as history messages (as the JetStream store publishes them, 512 KiB
/// chunks), and the time their samples took to build.
fn memory_hour(n: usize) -> (History, f64, Vec<Vec<u8>>) {
    let mut g = Lcg(3);
    let mut h = History::new(3_600_000, usize::MAX / 2);
    let mut counters = vec![(0u64, 0u64, 0u64); n];
    let mut messages = Vec::new();
    let mut ingest = Duration::ZERO;
    for r in 0..240i64 {
        let t = 1_700_000_000_000 + r * 15_000;
        let pings: Vec<PingSample> = (0..n)
            .map(|i| PingSample {
                service: format!("svc{}", i % 10),
                id: format!("{i:022}"),
                version: "1.0.0".into(),
                rtt_ms: Some(0.7 + (g.next() % 60) as f64 / 100.0),
                state: State::Up,
            })
            .collect();
        let t0 = Instant::now();
        h.ingest_ping(t, &pings);
        ingest += t0.elapsed();
        messages.extend(wire::encode(t, &Records::Ping(pings), 512 << 10));
        let stats: Vec<StatsSample> = (0..n)
            .map(|i| {
                let c = &mut counters[i];
                let k = 140 + g.next() % 20;
                *c = (
                    c.0 + k,
                    c.1 + u64::from(g.next().is_multiple_of(50)),
                    c.2 + k * (45_000 + g.next() % 10_000),
                );
                StatsSample {
                    service: format!("svc{}", i % 10),
                    id: format!("{i:022}"),
                    version: "1.0.0".into(),
                    started: Some(1_700_000_000_000),
                    endpoints: vec![EndpointSample {
                        name: "get".into(),
                        requests: c.0,
                        errors: c.1,
                        processing_ns: c.2,
                        data: Vec::new(),
                    }],
                }
            })
            .collect();
        let t0 = Instant::now();
        h.ingest_stats(t + 10, &stats);
        ingest += t0.elapsed();
        messages.extend(wire::encode(t + 10, &Records::Stats(stats), 512 << 10));
    }
    let per_round_ms = ingest.as_secs_f64() * 1e3 / 480.0;
    (h, per_round_ms, messages)
}

/// What a fresh JetStream-store process does with the stream's messages, in this process: put
/// rounds together, decode them, ingest them. Returns (decode, ingest) µs per sample.
fn replay(messages: &[Vec<u8>], samples: usize) -> Result<(f64, f64)> {
    let t0 = Instant::now();
    let mut assembler = Assembler::default();
    let mut rounds = Vec::new();
    for m in messages {
        rounds.extend(assembler.push(m)?);
    }
    let decoded: Vec<_> = rounds.iter().map(|r| (r.t, r.decode())).collect();
    let decode = t0.elapsed();
    if decoded.iter().any(|(_, (_, rejected))| *rejected > 0) {
        return Err(anyhow!("a message did not decode"));
    }
    let t0 = Instant::now();
    let mut h = History::new(3_600_000, usize::MAX / 2);
    for (t, (records, _)) in &decoded {
        h.ingest_records(*t, records);
    }
    let ingest = t0.elapsed();
    if h.samples() != samples {
        return Err(anyhow!("replay holds {} samples, not {samples}", h.samples()));
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6 / samples as f64;
    Ok((us(decode), us(ingest)))
}

fn jetstream(n: &NatsServer, extra: Value) -> DataSource {
    let mut json = json!({"sampleIntervalSec": 15, "retentionMinutes": 60, "historyStore": "jetstream"});
    if let (Some(base), Some(more)) = (json.as_object_mut(), extra.as_object()) {
        base.extend(more.clone());
    }
    DataSource::new(&n.url()).json(json)
}

fn window_query() -> Value {
    json!({"refId": "A", "queryType": "ping", "format": "timeseries"})
}

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => dir_bytes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}

/// Time (ms) of one 60-minute ping `timeseries` query over every instance, and the points it returned.
async fn window_read(p: &PluginProcess, ds: &DataSource) -> Result<(f64, usize)> {
    let now = chrono::Utc::now().timestamp_millis();
    let t0 = Instant::now();
    let r = p
        .query_window(ds, &[window_query()], (now - 3_600_000, now), 1_000_000, 15_000)
        .await?;
    let ms = t0.elapsed().as_secs_f64() * 1e3;
    let a = &r["A"];
    if !a.error.is_empty() {
        return Err(anyhow!("query failed: {}", a.error));
    }
    Ok((ms, a.frames.iter().map(|f| f.rows()).sum()))
}

async fn wait_rounds(p: &PluginProcess, n: f64, limit: Duration) -> bool {
    support::eventually(limit, || async { p.sampling_rounds().await >= n }).await
}

/// PING rounds seen on the wire in `secs`.
async fn count_pings(url: &str, secs: u64) -> Result<usize> {
    let c = support::connect(url).await?;
    let mut sub = c.subscribe("$SRV.PING").await?;
    c.flush().await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut n = 0;
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, sub.next()).await {
        n += 1;
    }
    Ok(n)
}

/// What the shared history's trust checks cost on the same messages, µs per sample: sealing
/// them (the sampler, with credentials) and checking the seals (every reader).
fn checks(messages: &[Vec<u8>], samples: usize) -> Result<(f64, f64)> {
    use natsmicro::model::settings::{RawSettings, Settings};
    let secure = std::collections::HashMap::from([("token".to_string(), "bench-token".to_string())]);
    let settings = Settings::parse(RawSettings {
        url: "nats://127.0.0.1:4222",
        json_data: br#"{"authType":"token"}"#,
        secure: &secure,
    })
    .map_err(|e| anyhow!("{e}"))?;
    let key = settings.identity().seal.ok_or_else(|| anyhow!("no seal key"))?;
    let subject = b"NATSMICRO_HISTORY.0123456789abcdef.ping";
    let t0 = Instant::now();
    let seals: Vec<String> = messages.iter().map(|m| key.seal(&[subject, b"", m])).collect();
    let seal = t0.elapsed();
    let t0 = Instant::now();
    let ok = messages
        .iter()
        .zip(&seals)
        .all(|(m, s)| key.verify(&[subject, b"", m], s));
    let verify = t0.elapsed();
    if !ok {
        return Err(anyhow!("a seal did not verify"));
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6 / samples as f64;
    Ok((us(seal), us(verify)))
}

/// 1. Bytes per sample in memory (10 000 instances), and the same hour as history messages.
fn part_memory(md: &mut String) -> Result<()> {
    let (h, ingest_ms, messages) = memory_hour(10_000);
    let (decode_us, replay_us) = replay(&messages, h.samples())?;
    let (seal_us, verify_us) = checks(&messages, h.samples())?;
    let (messages_n, message_bytes) = (messages.len(), messages.iter().map(Vec::len).sum::<usize>());
    drop(messages);
    let (mut pings, mut endpoints) = (0usize, 0usize);
    for i in h.instances() {
        let (p, e) = i.packed_samples();
        pings += p;
        endpoints += e;
    }
    let unpacked = pings * PING_POINT_BYTES + endpoints * ENDPOINT_POINT_BYTES;
    let (ping_bytes, endpoint_bytes) = h.series_bytes();
    let series = ping_bytes + endpoint_bytes;
    let _ = writeln!(
        md,
        "### Memory store: 10 000 instances × 60 min at 15 s (ping + one endpoint)\n"
    );
    let _ = writeln!(md, "| | packed (this version) | unpacked (0.1 layout) |\n|---|---|---|");
    let _ = writeln!(
        md,
        "| bytes per ping sample | **{:.2}** | {PING_POINT_BYTES} |",
        ping_bytes as f64 / pings as f64
    );
    let _ = writeln!(
        md,
        "| bytes per endpoint sample | **{:.2}** | {ENDPOINT_POINT_BYTES} |",
        endpoint_bytes as f64 / endpoints as f64
    );
    let _ = writeln!(
        md,
        "| sample series | {:.2} MiB | {:.2} MiB |",
        series as f64 / 1048576.0,
        unpacked as f64 / 1048576.0
    );
    let whole = h.bytes() as f64;
    let old_whole = whole - series as f64 + unpacked as f64;
    let _ = writeln!(
        md,
        "| whole store, accounted (names, ledger, overhead included) | {:.2} MiB | {:.2} MiB |",
        whole / 1048576.0,
        old_whole / 1048576.0
    );
    let _ = writeln!(
        md,
        "| per instance per hour | {:.2} KiB | {:.2} KiB |",
        whole / 10_000.0 / 1024.0,
        old_whole / 10_000.0 / 1024.0
    );
    let _ = writeln!(
        md,
        "| fits the default 32 MiB bound | {} | {} |",
        if whole <= 32.0 * 1048576.0 { "yes" } else { "no" },
        if old_whole <= 32.0 * 1048576.0 { "yes" } else { "no" }
    );
    let _ = writeln!(
        md,
        "\nSamples: {pings} ping, {endpoints} endpoint (RTT about 1 ms ± 0.3 ms, about 10 requests a second per endpoint). Ingest: {ingest_ms:.1} ms per round of 10 000 instances (ping and stats alike, in this process).\n\nThe same hour as history messages (what a fresh JetStream-store process reads): {} messages, {:.1} B per sample; decoding them {decode_us:.3} µs per sample, ingesting the decoded rounds {replay_us:.3} µs per sample (in this process, no NATS). The shared history's seal (HMAC-SHA256, with credentials): sealing {seal_us:.3} µs per sample (the sampler), checking {verify_us:.3} µs per sample (every reader) = **{:.1} % of reading** (decode and ingest).\n",
        messages_n,
        message_bytes as f64 / (pings + endpoints) as f64,
        verify_us * 100.0 / (decode_us + replay_us)
    );
    drop(h);

    Ok(())
}

/// The token of the JetStream part's server: with credentials, every round is sealed and every
/// reader checks the seals, as in a deployment that follows the README.
const TOKEN: &str = "bench-token";

/// 2. JetStream: disk bytes, cold and warm window reads against the memory store.
async fn part_jetstream(md: &mut String, n: usize) -> Result<()> {
    let nats = NatsServer::with_jetstream(&format!("authorization {{ token: \"{TOKEN}\" }}"));
    let with_token = nats.url().replace("nats://", &format!("nats://{TOKEN}@"));
    let _fleet = PythonService::start(&with_token, "fleet", "1.0.0", n, &[])?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let fill = json!({"historyFillRounds": 240, "historyBudgetBytes": 256u64 << 20, "authType": "token"});
    let mem = PluginProcess::start().await?;
    let mem_ds = DataSource::new(&nats.url())
        .json(json!({
            "sampleIntervalSec": 15, "retentionMinutes": 60, "historyFillRounds": 240, "historyBudgetBytes": 256u64 << 20,
            "authType": "token"
        }))
        .secure("token", TOKEN);
    mem.health(&mem_ds).await?;
    let holder = PluginProcess::start().await?;
    let js_ds = jetstream(&nats, fill).secure("token", TOKEN);
    holder.health(&js_ds).await?;
    let limit = Duration::from_secs(600);
    if !(wait_rounds(&mem, 240.0, limit).await && wait_rounds(&holder, 240.0, limit).await) {
        return Err(anyhow!("the fill rounds did not finish"));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut mem_runs = Vec::new();
    let mut mem_points = 0;
    for _ in 0..5 {
        let (ms, points) = window_read(&mem, &mem_ds).await?;
        mem_runs.push(ms);
        mem_points = points;
    }
    let js = async_nats::jetstream::new(
        async_nats::ConnectOptions::with_token(TOKEN.to_string())
            .connect(nats.url())
            .await?,
    );
    let mut stream = js.get_stream("NATSMICRO_HISTORY").await?;
    let state = stream.info().await?.state.clone();
    let samples = 240.0 * 2.0 * n as f64;
    let disk = dir_bytes(&nats.dir().join("jetstream"));
    let reader_ds = jetstream(&nats, json!({"authType": "token"})).secure("token", TOKEN);
    let (mut colds, mut cold_points) = (Vec::new(), 0);
    for _ in 1..env_num("HISTORY_BENCH_COLD_RUNS", 3) {
        let fresh = PluginProcess::start().await?;
        let (ms, points) = window_read(&fresh, &reader_ds).await?;
        colds.push(ms);
        cold_points = points;
    }
    // The last fresh process stays for the warm reads.
    let reader = PluginProcess::start().await?;
    let (ms, points) = window_read(&reader, &reader_ds).await?;
    colds.push(ms);
    cold_points = cold_points.max(points);
    let cold_all = colds.iter().map(|c| format!("{c:.0}")).collect::<Vec<_>>().join(", ");
    let cold = median(colds);
    let mut warm_runs = Vec::new();
    for _ in 0..5 {
        warm_runs.push(window_read(&reader, &reader_ds).await?.0);
    }
    let (mem_ms, warm) = (median(mem_runs), median(warm_runs));
    let _ = writeln!(
        md,
        "### JetStream store: {n} Python instances, 240 rounds (60 min at 15 s, time compressed), token credentials (sealed rounds)\n"
    );
    let _ = writeln!(
        md,
        "- {} messages of {:.2} MiB: {:.1} B per instance-sample as published (ping and stats samples alike; one message per round and verb); **on disk {:.2} MiB, {:.1} B per instance-sample** (the store directory, S2-compressed blocks, lease bucket included).",
        state.messages,
        state.bytes as f64 / 1048576.0,
        state.bytes as f64 / samples,
        disk as f64 / 1048576.0,
        disk as f64 / samples
    );
    let _ = writeln!(
        md,
        "\n| 60-minute ping `timeseries`, all instances | ms | vs memory store |\n|---|---|---|"
    );
    let _ = writeln!(md, "| memory store (warm, median of 5) | {mem_ms:.1} | 1.00 |");
    let _ = writeln!(
        md,
        "| JetStream store, fresh process (cold: loads the window first; median of {cold_all} ms) | {cold:.1} | {:.2} |",
        cold / mem_ms
    );
    let _ = writeln!(
        md,
        "| JetStream store, same process again (warm, median of 5) | {warm:.1} | {:.2} |",
        warm / mem_ms
    );
    let _ = writeln!(
        md,
        "\nPoints returned: memory {mem_points}, JetStream cold {cold_points}.\n"
    );
    drop((mem, holder, reader));
    Ok(())
}

/// 3. Takeover after SIGKILL and PING rounds with two replicas, at a 1 s period.
async fn part_takeover(md: &mut String) -> Result<()> {
    let nats = NatsServer::with_jetstream("");
    // Something to discover: with nothing answering, each round would wait out its timeout.
    let _services = PythonService::start(&nats.url(), "takeover", "1.0.0", 10, &[])?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let one_s = |store: &str| {
        DataSource::new(&nats.url()).json(
            json!({"sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": store, "historyStream": "TAKEOVER"}),
        )
    };
    let mut takeovers = Vec::new();
    for _ in 0..3 {
        let ds = one_s("jetstream");
        let mut a = PluginProcess::start().await?;
        a.health(&ds).await?;
        wait_rounds(&a, 2.0, Duration::from_secs(30)).await;
        let b = PluginProcess::start().await?;
        b.health(&ds).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        a.child.kill()?;
        let t0 = Instant::now();
        let _ = a.child.wait();
        if !wait_rounds(&b, 1.0, Duration::from_secs(30)).await {
            return Err(anyhow!("no takeover"));
        }
        takeovers.push(t0.elapsed().as_secs_f64());
    }
    let mut rounds = Vec::new();
    for store in ["memory", "jetstream"] {
        let ds = one_s(store);
        let (a, b) = (PluginProcess::start().await?, PluginProcess::start().await?);
        a.health(&ds).await?;
        b.health(&ds).await?;
        tokio::time::sleep(Duration::from_secs(3)).await;
        rounds.push(count_pings(&nats.url(), 10).await?);
    }
    let _ = writeln!(md, "### One sampler across processes (period 1 s)\n");
    let _ = writeln!(
        md,
        "- Takeover after SIGKILL of the sampling process: first round of the new sampler after {} s (3 runs; lease time to live 1.25 periods).",
        takeovers.iter().map(|t| format!("{t:.2}")).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        md,
        "- `$SRV.PING` rounds in 10 s with two plugin processes: memory store {} (each samples), JetStream store {} (one sampler): {:.2}×.\n",
        rounds[0],
        rounds[1],
        rounds[1] as f64 / rounds[0].max(1) as f64
    );

    Ok(())
}

/// 4. A fleet of 10 000 instances: many async-nats services per connection.
async fn part_fleet(md: &mut String) -> Result<()> {
    let fleet_n = env_num("HISTORY_BENCH_FLEET", 10_000);
    let big = NatsServer::with_jetstream("");
    let per_conn = 200;
    let services = RustService::fleet(&big.url(), fleet_n, per_conn).await?;
    let mut baseline = RawScatter::start(&big.url(), fleet_n).await?;
    let probe = PluginProcess::start().await?;
    let probe_ds = DataSource::new(&big.url()).json(json!({"sampleIntervalSec": 0}));
    let (mut raw_runs, mut plugin_runs, mut decoded_runs) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = 0;
    // Raw and plugin rounds take turns, equally spaced (by more than the window in which a
    // finished round is shared with a new query), so that both see the same machine.
    for _ in 0..=FLEET_TURNS {
        tokio::time::sleep(Duration::from_millis(300)).await;
        raw_runs.push(baseline.round().await?);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t0 = Instant::now();
        let (answered, r) = probe
            .query_timed(
                &probe_ds,
                &[json!({"refId": "A", "queryType": "ping", "format": "instant"})],
            )
            .await?;
        plugin_runs.push(answered.as_secs_f64() * 1e3);
        decoded_runs.push(t0.elapsed().as_secs_f64() * 1e3);
        seen = r["A"].frames.first().map_or(0, |f| f.rows());
    }
    // The first turn learns the fleet; it is not counted.
    raw_runs.remove(0);
    plugin_runs.remove(0);
    decoded_runs.remove(0);
    let (raw_ms, plugin_ms, decoded_ms) = (median(raw_runs), median(plugin_runs), median(decoded_runs));
    drop((probe, baseline));
    let fleet_rounds = env_num("HISTORY_BENCH_FLEET_ROUNDS", 60);
    let cpu_secs = env_num("HISTORY_BENCH_CPU_SECS", 60) as u64;
    let cold_runs = env_num("HISTORY_BENCH_COLD_RUNS", 3);
    let mut fleet_rows = Vec::new();
    for store in ["memory", "jetstream"] {
        let p = PluginProcess::start().await?;
        let ds = DataSource::new(&big.url()).json(json!({
            "sampleIntervalSec": 15, "retentionMinutes": 60, "historyStore": store,
            "historyFillRounds": fleet_rounds, "historyStream": "FLEET"
        }));
        p.health(&ds).await?;
        if !wait_rounds(&p, fleet_rounds as f64, Duration::from_secs(1800)).await {
            return Err(anyhow!("{store}: the fill rounds did not finish"));
        }
        tokio::time::sleep(Duration::from_secs(16)).await;
        let pid = p.child.id();
        let cpu0 = support::proc_cpu_seconds(pid)?;
        tokio::time::sleep(Duration::from_secs(cpu_secs)).await;
        let cpu = (support::proc_cpu_seconds(pid)? - cpu0) / cpu_secs as f64 * 100.0;
        let (cold, points) = window_read(&p, &ds).await?;
        let mut runs = Vec::new();
        for _ in 0..3 {
            runs.push(window_read(&p, &ds).await?.0);
        }
        let fresh = if store == "jetstream" {
            let mut fresh = Vec::new();
            for _ in 0..cold_runs {
                let q = PluginProcess::start().await?;
                fresh.push(window_read(&q, &ds).await?.0);
            }
            Some(median(fresh))
        } else {
            None
        };
        fleet_rows.push((store, cpu, cold, median(runs), fresh, points));
    }
    let _ = writeln!(
        md,
        "### {fleet_n} instances end to end ({} async-nats services per connection)\n",
        per_conn
    );
    let _ = writeln!(
        md,
        "- Discovery (`ping` instant over gRPC, {seen} instances answered): {plugin_ms:.1} ms until the gRPC answer arrived, against raw scatter-gather {raw_ms:.1} ms (a client that knows N, in its own process, taking turns with the plugin): **{:.2}×** (medians of {FLEET_TURNS}). With this benchmark's own decoding of the 10 000-row Arrow frame into JSON values (a test-side cost, not the plugin's): {decoded_ms:.1} ms, {:.2}×.",
        plugin_ms / raw_ms,
        decoded_ms / raw_ms
    );
    let _ = writeln!(
        md,
        "\n| store | sampler CPU at 15 s (% of one core, {cpu_secs} s) | 60-min window, first query (ms) | warm (ms, median of 3) | fresh process (ms, median of {cold_runs}) | points |\n|---|---|---|---|---|---|"
    );
    for (store, cpu, first, warm, fresh, points) in &fleet_rows {
        let _ = writeln!(
            md,
            "| {store} | {cpu:.2} | {first:.0} | {warm:.0} | {} | {points} |",
            fresh.map_or("—".to_string(), |f| format!("{f:.0}"))
        );
    }
    let _ = writeln!(
        md,
        "\nThe history holds {fleet_rounds} rounds here (`HISTORY_BENCH_FLEET_ROUNDS`, back to back); the window reads all of it. JetStream vs memory, warm: {:.2}×; fresh process: {:.2}×.\n",
        fleet_rows[1].3 / fleet_rows[0].3,
        fleet_rows[1].4.unwrap_or(f64::NAN) / fleet_rows[0].3
    );
    drop(services);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(raw::RAW_SCATTER_ARG) {
        return raw::serve(&args[1..]).await;
    }
    let mut md = String::new();
    let n = env_num("HISTORY_BENCH_INSTANCES", 1000);

    let parts = std::env::var("HISTORY_BENCH_PARTS").unwrap_or_default();
    let want = |p: &str| parts.is_empty() || parts.split(',').any(|x| x.trim() == p);
    if want("memory") {
        part_memory(&mut md)?;
    }
    if want("jetstream") {
        part_jetstream(&mut md, n).await?;
    }
    if want("takeover") {
        part_takeover(&mut md).await?;
    }
    if want("fleet") {
        part_fleet(&mut md).await?;
    }
    println!("{md}");
    if parts.is_empty() && std::env::var("BENCH_WRITE").as_deref() != Ok("0") {
        support::write_bench_section(
            "<!-- bench:history:start -->",
            "<!-- bench:history:end -->",
            "History stores (issue 9, generated by `examples/history_store.rs`)",
            &md,
        )?;
    }
    Ok(())
}
