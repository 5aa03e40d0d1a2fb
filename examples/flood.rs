//! Reply-flood benchmark (`bash scripts/bench.sh` runs it; alone: `cargo run --release --example flood`): the plugin's peak RSS while a hostile responder answers every `$SRV.PING` with 300 replies of ~1 MB, 20 000 small replies or 2 000 malformed ones, next to the same query load without a flood (the baseline, same run); checks that the next normal query sees every real instance; writes the generated section of BENCHMARKS.md.
//!
//! Each scenario runs in a fresh plugin process (peak RSS, `VmHWM`, only grows), with the data
//! source's sampler on at 1 s so that background rounds meet the flood too.
//! Knobs: `FLOOD_QUERIES` ping queries per scenario (20), `BENCH_WRITE=0` to leave BENCHMARKS.md alone.

#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use serde_json::json;
use support::{padded_ping, proc_status_kib, DataSource, Flood, NatsServer, PluginProcess, RustService};

const START: &str = "<!-- bench:flood:start -->";
const END: &str = "<!-- bench:flood:end -->";
/// The goal: peak RSS under a flood within this of idle.
const GOAL_MIB: f64 = 64.0;

/// Builds the i-th reply of a flood.
type Body = fn(usize) -> Vec<u8>;

struct Outcome {
    name: &'static str,
    idle_mib: f64,
    peak_mib: f64,
    answered: usize,
    errors: usize,
    notices: BTreeSet<String>,
    recovered: bool,
    secs: f64,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

async fn ids(p: &PluginProcess, ds: &DataSource) -> Result<(BTreeSet<String>, Vec<String>, bool)> {
    let r = p
        .query(ds, &[json!({"refId": "A", "queryType": "ping", "format": "table"})])
        .await?;
    let a = &r["A"];
    if !a.error.is_empty() {
        return Ok((BTreeSet::new(), vec![a.error.clone()], false));
    }
    let f = a.frame();
    let notices = f.meta["notices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["text"].as_str().map(str::to_string))
        .collect();
    let ids = f
        .strings("id")
        .into_iter()
        .zip(f.numbers("up"))
        .filter(|(_, up)| *up == Some(1.0))
        .map(|(id, _)| id)
        .collect();
    Ok((ids, notices, true))
}

/// Squash numbers out of a notice so that equal kinds of notice group together.
fn kind(notice: &str) -> String {
    let mut out = String::new();
    let mut digit = false;
    for c in notice.chars() {
        if c.is_ascii_digit() || (digit && c == '.') {
            if !digit {
                out.push('N');
            }
            digit = true;
        } else {
            digit = false;
            out.push(c);
        }
    }
    out.split(" on $SRV").next().unwrap_or_default().to_string()
}

async fn scenario(
    name: &'static str,
    nats: &NatsServer,
    real: &BTreeSet<String>,
    queries: usize,
    flood: Option<(usize, Body)>,
) -> Result<Outcome> {
    let p = PluginProcess::start().await?;
    let pid = p.child.id().to_string();
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 1, "timeoutMs": 1000}));
    let (first, _, _) = ids(&p, &ds).await?;
    if &first != real {
        bail!("{name}: before the flood the plugin saw {first:?}, not {real:?}");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let idle = proc_status_kib(&pid, "VmRSS:");
    let t0 = Instant::now();
    let guard = match flood {
        Some((count, body)) => Some(Flood::start(&nats.url(), "$SRV.PING", count, body).await?),
        None => None,
    };
    let (mut answered, mut errors, mut notices) = (0, 0, BTreeSet::new());
    for _ in 0..queries {
        let (_, n, ok) = ids(&p, &ds).await?;
        if ok {
            answered += 1;
        } else {
            errors += 1;
        }
        notices.extend(n.iter().map(|t| kind(t)));
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let secs = t0.elapsed().as_secs_f64();
    let peak = proc_status_kib(&pid, "VmHWM:");
    drop(guard);
    let mut recovered = false;
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if &ids(&p, &ds).await?.0 == real {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok(Outcome {
        name,
        idle_mib: mib(idle),
        peak_mib: mib(peak),
        answered,
        errors,
        notices,
        recovered,
        secs,
    })
}

/// A small valid decoy first (known after one round, so rounds wait for it and then answer),
/// then ~1 MB replies: they land in the round's late-reply listener right after.
fn huge(i: usize) -> Vec<u8> {
    match i {
        0 => padded_ping("decoy", "d1", 150),
        _ => padded_ping("orders", &format!("huge{i}"), 1_000_000),
    }
}
fn many(i: usize) -> Vec<u8> {
    padded_ping("spam", &format!("s{i}"), 150)
}
fn malformed(i: usize) -> Vec<u8> {
    format!("{{\"type\": broken {i}").into_bytes()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let queries: usize = std::env::var("FLOOD_QUERIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let nats = NatsServer::start();
    let mut fleet = Vec::new();
    for _ in 0..3 {
        fleet.push(RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0).await?);
    }
    let real: BTreeSet<String> = fleet.iter().map(|s| s.id.clone()).collect();
    let mut outcomes = Vec::new();
    let cases: [(&'static str, Option<(usize, Body)>); 4] = [
        ("no flood (baseline)", None),
        ("300 replies × 1 MB", Some((301, huge))),
        ("20 000 small replies", Some((20_000, many))),
        ("2 000 malformed replies", Some((2_000, malformed))),
    ];
    for (name, flood) in cases {
        let o = scenario(name, &nats, &real, queries, flood).await?;
        println!(
            "{:<26} idle {:>6.1} MiB  peak {:>6.1} MiB  (+{:>5.1})  answered {}/{}  recovered {}  {:.0} s",
            o.name,
            o.idle_mib,
            o.peak_mib,
            o.peak_mib - o.idle_mib,
            o.answered,
            o.answered + o.errors,
            o.recovered,
            o.secs
        );
        outcomes.push(o);
    }
    let base = outcomes[0].peak_mib - outcomes[0].idle_mib;
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Command: `cargo run --release --example flood` (also run by `bash scripts/bench.sh`). 3 real Rust \
         instances plus one hostile responder on `$SRV.PING`; the data source samples every 1 s; {queries} \
         ping table queries 250 ms apart during the flood; a fresh plugin process per row (peak = `VmHWM`).\n"
    );
    let _ = writeln!(
        md,
        "| scenario | idle RSS | peak RSS | peak − idle | vs no flood | goal (≤ {GOAL_MIB:.0} MiB over idle) | queries answered | next query sees all 3 | notices |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|");
    for o in &outcomes {
        let over = o.peak_mib - o.idle_mib;
        let _ = writeln!(
            md,
            "| {} | {:.1} MiB | {:.1} MiB | {:.1} MiB | {} | {} | {}/{} | {} | {} |",
            o.name,
            o.idle_mib,
            o.peak_mib,
            over,
            if base > 0.0 {
                format!("{:.1}×", over / base)
            } else {
                "—".into()
            },
            if over <= GOAL_MIB { "met" } else { "missed" },
            o.answered,
            o.answered + o.errors,
            if o.recovered { "yes" } else { "no" },
            if o.notices.is_empty() {
                "—".to_string()
            } else {
                o.notices.iter().cloned().collect::<Vec<_>>().join("; ")
            }
        );
    }
    if std::env::var("BENCH_WRITE").as_deref() != Ok("0") {
        support::write_bench_section(START, END, "Reply floods", &md)?;
    }
    print!("{md}");
    if outcomes.iter().any(|o| !o.recovered) {
        bail!("a scenario did not recover");
    }
    Ok(())
}
