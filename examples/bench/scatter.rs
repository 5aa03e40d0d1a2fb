//! Discovery completion for N instances: the plugin next to a raw scatter-gather lower bound and the `@nats-io/services` reference client.

#[allow(unused_imports)]
use super::*;

/// Raw async-nats scatter-gather that knows `n`: fresh inbox SUB, PUB, time of the n-th reply (and how many came within 2 s).
pub(crate) async fn raw_scatter(client: &async_nats::Client, subject: &str, n: usize) -> Result<(f64, usize)> {
    let t0 = Instant::now();
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await?;
    client.publish_with_reply(subject.to_string(), inbox, "".into()).await?;
    let mut got = 0;
    let mut last = f64::NAN;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while got < n {
        match tokio::time::timeout_at(deadline, sub.next()).await {
            Ok(Some(_)) => {
                got += 1;
                last = since_ms(t0);
            }
            _ => break,
        }
    }
    let _ = sub.unsubscribe().await;
    Ok((last, got))
}

#[derive(Default)]
pub(crate) struct NodeRuns {
    pub(crate) done: Vec<f64>,
    pub(crate) last: Vec<f64>,
    pub(crate) lost: usize,
}

/// The `@nats-io/services` client (bench/node/baseline.mjs), `runs` calls of `verb` on service `name`.
pub(crate) fn node_baseline(url: &str, verb: &str, name: &str, n: usize, runs: usize) -> Result<NodeRuns> {
    let dir = support::repo().join("bench/node");
    let out = Command::new("node")
        .current_dir(&dir)
        .arg("baseline.mjs")
        .args([
            "--url",
            url,
            "--verb",
            verb,
            "--name",
            name,
            "--runs",
            &runs.to_string(),
            // Between calls; the reference client's own 300 ms wait dominates each call anyway.
            "--gap-ms",
            "20",
        ])
        .output()
        .context("run node bench/node/baseline.mjs (needs node and `npm ci` in bench/node)")?;
    if !out.status.success() {
        bail!("node baseline failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("node baseline output")?;
    let mut r = NodeRuns::default();
    for run in v["runs"].as_array().into_iter().flatten() {
        r.done.push(run["doneMs"].as_f64().unwrap_or(f64::NAN));
        r.last.push(run["lastReplyMs"].as_f64().unwrap_or(f64::NAN));
        r.lost += n.saturating_sub(run["replies"].as_u64().unwrap_or(0) as usize);
    }
    Ok(r)
}

pub(crate) struct Discovery {
    pub(crate) n: usize,
    pub(crate) runs: usize,
    pub(crate) warm: Vec<f64>,
    pub(crate) warm_round: Vec<f64>,
    pub(crate) warm_stop: String,
    pub(crate) lost: usize,
    pub(crate) raw: Vec<f64>,
    pub(crate) raw_lost: usize,
    pub(crate) cold: Vec<f64>,
    pub(crate) cold_round: Vec<f64>,
    pub(crate) cold_lost: usize,
    pub(crate) connect: Vec<f64>,
    pub(crate) node: NodeRuns,
    /// gRPC floor: a QueryData that never reaches NATS, interleaved with the warm runs.
    pub(crate) floor: Vec<f64>,
    pub(crate) stats_warm: Vec<f64>,
    pub(crate) stats_lost: usize,
    pub(crate) stats_raw: Vec<f64>,
    pub(crate) stats_raw_lost: usize,
    pub(crate) node_stats: NodeRuns,
}

/// Item 1: discovery completion for `n` Rust instances (each on its own connection).
pub(crate) async fn discovery(
    nats: &NatsServer,
    plugin: &PluginProcess,
    raw: &async_nats::Client,
    n: usize,
    runs: usize,
) -> Result<Discovery> {
    let name = format!("fleet{n}");
    let t0 = Instant::now();
    let mut services = Vec::with_capacity(n);
    for _ in 0..n {
        let subject = format!("{name}.get");
        services.push(RustService::start(&nats.url(), &name, "1.0.0", &[("get", subject.as_str())], 0).await?);
    }
    eprintln!("bench: {n} instances up in {:.1} s", t0.elapsed().as_secs_f64());
    let q = [json!({"refId": "A", "queryType": "ping", "service": name})];
    let subject = format!("$SRV.PING.{name}");
    let cold_runs = env_num("BENCH_COLD_RUNS", 10);
    let mut d = Discovery {
        n,
        runs,
        warm: Vec::new(),
        warm_round: Vec::new(),
        warm_stop: String::new(),
        lost: 0,
        raw: Vec::new(),
        raw_lost: 0,
        cold: Vec::new(),
        cold_round: Vec::new(),
        cold_lost: 0,
        connect: Vec::new(),
        node: NodeRuns::default(),
        floor: Vec::new(),
        stats_warm: Vec::new(),
        stats_lost: 0,
        stats_raw: Vec::new(),
        stats_raw_lost: 0,
        node_stats: NodeRuns::default(),
    };
    // Cold: a data source the plugin has never seen (new connection, nothing known), as after a restart.
    for _ in 0..cold_runs {
        let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 0}));
        let (wall, f) = timed_query(plugin, &ds, &q).await?;
        d.cold.push(wall);
        d.cold_round.push(meta_f64(&f, "A", "elapsedMs"));
        d.cold_lost += n.saturating_sub(rows(&f, "A"));
        let t0 = Instant::now();
        let c = support::connect(&nats.url()).await?;
        d.connect.push(since_ms(t0));
        drop(c);
    }
    // Warm: one data source, refreshed like a dashboard (each call past the 100 ms share window); interleaved with the raw bound.
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 0}));
    timed_query(plugin, &ds, &q).await?;
    for _ in 0..runs {
        tokio::time::sleep(Duration::from_millis(105)).await;
        let (wall, f) = timed_query(plugin, &ds, &q).await?;
        d.warm.push(wall);
        d.warm_round.push(meta_f64(&f, "A", "elapsedMs"));
        d.lost += n.saturating_sub(rows(&f, "A"));
        if let Some(s) = f
            .get("A")
            .and_then(|f| f.first())
            .and_then(|f| f.meta["custom"]["stop"].as_str())
        {
            if !d.warm_stop.contains(s) {
                d.warm_stop = if d.warm_stop.is_empty() {
                    s.to_string()
                } else {
                    format!("{}, {s}", d.warm_stop)
                };
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (last, got) = raw_scatter(raw, &subject, n).await?;
        d.raw.push(last);
        d.raw_lost += n - got;
        tokio::time::sleep(Duration::from_millis(20)).await;
        d.floor.push(grpc_floor(plugin, &ds).await?);
    }
    // The same for `stats` (one endpoint per instance, so N rows): ours warm vs the raw bound.
    let qs = [json!({"refId": "A", "queryType": "stats", "service": name})];
    let stats_subject = format!("$SRV.STATS.{name}");
    timed_query(plugin, &ds, &qs).await?;
    for _ in 0..runs {
        tokio::time::sleep(Duration::from_millis(105)).await;
        let (wall, f) = timed_query(plugin, &ds, &qs).await?;
        d.stats_warm.push(wall);
        d.stats_lost += n.saturating_sub(rows(&f, "A"));
        tokio::time::sleep(Duration::from_millis(20)).await;
        let (last, got) = raw_scatter(raw, &stats_subject, n).await?;
        d.stats_raw.push(last);
        d.stats_raw_lost += n - got;
    }
    let node_runs = env_num("BENCH_NODE_RUNS", 50).min(runs.max(1));
    d.node = node_baseline(&nats.url(), "ping", &name, n, node_runs)?;
    d.node_stats = node_baseline(&nats.url(), "stats", &name, n, node_runs)?;
    for s in services {
        s.stop().await;
    }
    Ok(d)
}
