//! Test fixtures that act as the real world: a `nats-server` per test on a free loopback port, real micro services (Rust async-nats and Python nats.micro), and a client that runs the plugin binary exactly as Grafana does (go-plugin handshake, `pluginv2` gRPC) and decodes frames with arrow-rs' IPC reader.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};

pub mod env;
pub mod frames;
pub mod jwt;
pub mod nats;
pub mod pki;
pub mod plugin;
pub mod raw;
pub mod services;

// Each test binary uses a different part of the support code.
#[allow(unused_imports)]
pub use {env::*, frames::*, nats::*, pki::*, plugin::*, services::*};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `/proc/<pid>/status` value in KiB (`key` like `"VmRSS:"`; `pid` may be `"self"`), 0 if unreadable.
pub fn proc_status_kib(pid: &str, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with(key)).map(str::to_string))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        .unwrap_or(0)
}

/// utime + stime of a process, in seconds.
pub fn proc_cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')').ok_or_else(|| anyhow!("bad stat"))?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f[11].parse::<u64>()? + f[12].parse::<u64>()?;
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    Ok(ticks as f64 / hz)
}

/// Wait until `f` holds, polling.
pub async fn eventually<F, Fut>(timeout: Duration, mut f: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if f().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// The value of the Prometheus line that starts with `series` (a name, with labels if any).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

/// Replace the generated section of BENCHMARKS.md between `start` and `end` with `md`, or append
/// it under `heading` when the markers are missing.
pub fn write_bench_section(start: &str, end: &str, heading: &str, md: &str) -> Result<()> {
    let path = repo().join("BENCHMARKS.md");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let section = format!("{start}\n{md}{end}");
    let new = match (text.find(start), text.find(end)) {
        (Some(a), Some(b)) if b > a => format!("{}{}{}", &text[..a], section, &text[b + end.len()..]),
        _ => format!("{text}\n## {heading}\n\n{section}\n"),
    };
    std::fs::write(&path, new)?;
    Ok(())
}
