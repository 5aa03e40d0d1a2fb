//! A terminal view of NATS micro services through the plugin, driven exactly as Grafana drives it (go-plugin handshake, gRPC QueryData/CheckHealth): the local view of `scripts/demo.sh` where no Grafana runs.
//!
//! `cargo run --release --example console -- [--url nats://127.0.0.1:4222] [--interval 2] [--load subj,subj] [--once]`

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Duration;

use anyhow::Result;
use serde_json::json;
use support::{DataSource, PluginProcess};

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn fmt_ms(v: Option<f64>) -> String {
    v.map_or_else(|| "DOWN".to_string(), |ms| format!("{ms:.2} ms"))
}

#[tokio::main]
async fn main() -> Result<()> {
    let url = arg("--url").unwrap_or_else(|| "nats://127.0.0.1:4222".to_string());
    let interval = Duration::from_secs_f64(arg("--interval").and_then(|s| s.parse().ok()).unwrap_or(2.0));
    let once = std::env::args().any(|a| a == "--once");
    let load: Vec<String> = arg("--load")
        .map(|s| s.split(',').map(str::to_string).filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();

    let plugin = PluginProcess::start().await?;
    let ds = DataSource::new(&url).json(json!({"requestSubjects": ["*.*"]}));
    if !load.is_empty() {
        let client = async_nats::connect(&url).await?;
        tokio::spawn(async move {
            let mut n = 0u64;
            loop {
                for s in &load {
                    n += 1;
                    let _ = client.request(s.clone(), format!(r#"{{"n":{n}}}"#).into()).await;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }
    println!("NATS Micro data source — local console (a Grafana stand-in; not Grafana)");
    println!("plugin pid {} serving gRPC on {}", plugin.child.id(), plugin.addr);
    let (status, message) = plugin.health(&ds).await?;
    println!(
        "Save & test → {}: {message}\n",
        if status == 1 { "OK" } else { "ERROR" }
    );
    loop {
        let r = plugin
            .query(
                &ds,
                &[
                    json!({"refId": "services", "queryType": "services", "format": "table"}),
                    json!({"refId": "ping", "queryType": "ping", "format": "table"}),
                    json!({"refId": "stats", "queryType": "stats", "format": "table"}),
                ],
            )
            .await?;
        println!("── {} ──", chrono::Utc::now().format("%H:%M:%S"));
        for (ref_id, resp) in &r {
            if !resp.error.is_empty() {
                println!("{ref_id}: error: {}", resp.error);
            }
        }
        if let Some(f) = r["services"].frames.first() {
            println!("{:<14} {:>9} {:>5}  versions", "service", "instances", "down");
            for (i, name) in f.strings("service").iter().enumerate() {
                println!(
                    "{name:<14} {:>9} {:>5}  {}",
                    f.numbers("instances")[i].unwrap_or(0.0),
                    f.numbers("down")[i].unwrap_or(0.0),
                    f.strings("versions")[i]
                );
            }
        }
        if let Some(f) = r["ping"].frames.first() {
            println!("\n{:<14} {:<24} {:<8} rtt", "service", "instance", "version");
            for (i, name) in f.strings("service").iter().enumerate() {
                println!(
                    "{name:<14} {:<24} {:<8} {}",
                    f.strings("id")[i],
                    f.strings("version")[i],
                    fmt_ms(f.numbers("rtt")[i])
                );
            }
        }
        if let Some(f) = r["stats"].frames.first() {
            println!(
                "\n{:<14} {:<10} {:<24} {:>8} {:>6} {:>9}",
                "service", "endpoint", "instance", "requests", "errors", "avg"
            );
            for (i, name) in f.strings("service").iter().enumerate() {
                println!(
                    "{name:<14} {:<10} {:<24} {:>8} {:>6} {:>7.2}ms",
                    f.strings("endpoint")[i],
                    f.strings("id")[i],
                    f.numbers("requests")[i].unwrap_or(0.0),
                    f.numbers("errors")[i].unwrap_or(0.0),
                    f.numbers("average_processing_time")[i].unwrap_or(0.0)
                );
            }
        }
        println!();
        if once {
            return Ok(());
        }
        tokio::time::sleep(interval).await;
    }
}
