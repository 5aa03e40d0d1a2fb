//! Small helpers of the benchmark suite: percentiles and spreads, formatting, environment knobs, machine and version facts.

#[allow(unused_imports)]
use super::*;

pub(crate) fn env_num(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|s| s.parse().ok()).unwrap_or(default)
}

/// Percentile (nearest rank on the sorted copy); NaN for an empty set.
pub(crate) fn pct(v: &[f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    s[((s.len() as f64 - 1.0) * p).round() as usize]
}

/// `median (p10–p90)` in ms.
pub(crate) fn spread(v: &[f64]) -> String {
    format!("{} ({}–{})", ms(pct(v, 0.5)), ms(pct(v, 0.1)), ms(pct(v, 0.9)))
}

pub(crate) fn ms(x: f64) -> String {
    if x.is_nan() {
        "—".into()
    } else if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

pub(crate) fn since_ms(t0: Instant) -> f64 {
    t0.elapsed().as_secs_f64() * 1e3
}

pub(crate) fn cmd_version(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .trim()
                .to_string()
        })
        .unwrap_or_default()
}

pub(crate) fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_gib = status_mem_kib() as f64 / 1024.0 / 1024.0;
    format!(
        "{cores} cores ({cpu}), {mem_gib:.0} GiB RAM, {}",
        cmd_version("uname", &["-sr"])
    )
}

pub(crate) fn status_mem_kib() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.split_whitespace().nth(1)?.parse().ok()))
        .unwrap_or(0)
}

pub(crate) fn lock_version(pkg: &str) -> String {
    let lock = std::fs::read_to_string(support::repo().join("Cargo.lock")).unwrap_or_default();
    let mut lines = lock.lines();
    while let Some(l) = lines.next() {
        if l == format!("name = \"{pkg}\"") {
            if let Some(v) = lines.next().and_then(|v| v.strip_prefix("version = ")) {
                return v.trim_matches('"').to_string();
            }
        }
    }
    "?".into()
}

pub(crate) fn node_pkg_version(pkg: &str) -> String {
    let p = support::repo().join(format!("bench/node/node_modules/{pkg}/package.json"));
    std::fs::read_to_string(p)
        .ok()
        .and_then(|s| serde_json::from_str::<Value>(&s).ok())
        .and_then(|v| v["version"].as_str().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

/// Item 4, live part: a fresh plugin's idle RSS, then CPU and RSS while sampling 1000 Python instances every second.
pub(crate) fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(f64::NAN)
}
