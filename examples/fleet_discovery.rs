//! Discovery of a 10 000-instance fleet, several plugin binaries side by side: each binary's `ping` instant query over gRPC, taken in turns so that every binary sees the same machine, against raw scatter-gather (a client that knows N, in its own process) taking turns with them.
//!
//! `cargo build --release && cargo run --release --example fleet_discovery` measures the plugin
//! just built (`target/release/gpx_natsmicro`, or `NATSMICRO_PLUGIN_BIN`);
//! `FLEET_BINS=/tmp/old/gpx_natsmicro,target/release/gpx_natsmicro` compares builds (build the
//! old one from an earlier commit first). Knobs: `FLEET_N` (10000), `FLEET_QUERIES` (15 per
//! binary). Prints one line per query and the medians with their ratio to raw: a query's time
//! runs until its gRPC answer arrived (this program's decoding of the frames comes after).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use serde_json::json;
use support::raw::{self, RawScatter};
use support::{DataSource, NatsServer, PluginProcess, RustService};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(raw::RAW_SCATTER_ARG) {
        return raw::serve(&args[1..]).await;
    }
    let n = env_num("FLEET_N", 10_000);
    let nats = NatsServer::start();
    let per_conn = 200;
    let services = RustService::fleet(&nats.url(), n, per_conn).await?;
    let mut baseline = RawScatter::start(&nats.url(), n).await?;
    let bins: Vec<String> = match std::env::var("FLEET_BINS") {
        Ok(v) if !v.is_empty() => v.split(',').map(str::to_string).collect(),
        _ => vec![support::plugin_bin().display().to_string()],
    };
    let mut plugins = Vec::new();
    for b in &bins {
        // `PluginProcess` starts the executable `NATSMICRO_PLUGIN_BIN` names.
        std::env::set_var("NATSMICRO_PLUGIN_BIN", b);
        plugins.push(PluginProcess::start().await?);
    }
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 0}));
    let query = [json!({"refId": "A", "queryType": "ping", "format": "instant"})];
    let mut walls = vec![Vec::new(); bins.len()];
    let mut raws = Vec::new();
    // The first query of each binary learns the fleet; it is not counted.
    for round in 0..=env_num("FLEET_QUERIES", 15) {
        // Raw and plugin rounds take turns, equally spaced, so that both see the same machine.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let raw_ms = baseline.round().await?;
        println!("raw scatter-gather: {raw_ms:.1} ms");
        if round > 0 {
            raws.push(raw_ms);
        }
        for (k, plugin) in plugins.iter().enumerate() {
            // Apart by more than the window in which a finished round is shared.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let t0 = Instant::now();
            let (answered, r) = plugin.query_timed(&ds, &query).await?;
            let wall = answered.as_secs_f64() * 1e3;
            let decoded = t0.elapsed().as_secs_f64() * 1e3;
            let f = r["A"].frames.first();
            let rows = f.map_or(0, |f| f.rows());
            println!(
                "{}: {wall:.1} ms answered ({decoded:.1} ms with this program's decoding), {rows} rows, round {} ms, stop {}",
                bins[k],
                f.map_or(json!(null), |f| f.meta["custom"]["elapsedMs"].clone()),
                f.map_or(json!(null), |f| f.meta["custom"]["stop"].clone()),
            );
            if rows != n {
                return Err(anyhow!("{}: {rows} of {n} instances answered", bins[k]));
            }
            if round > 0 {
                walls[k].push(wall);
            }
        }
    }
    let raw_ms = median(raws.clone());
    println!("raw scatter-gather: median {raw_ms:.1} ms");
    for (k, w) in walls.into_iter().enumerate() {
        let pairs: Vec<f64> = w.iter().zip(&raws).map(|(p, r)| p / r).collect();
        let m = median(w);
        println!(
            "{}: median {m:.1} ms, {:.2}× raw (median of the turns' own ratios {:.2}×)",
            bins[k],
            m / raw_ms,
            median(pairs)
        );
    }
    drop(services);
    Ok(())
}
