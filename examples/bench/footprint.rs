//! Footprint: idle RSS, sampler CPU and RSS at 1 000 instances, the history at its bound, frame building and encoding throughput.

#[allow(unused_imports)]
use super::*;

pub(crate) struct Footprint {
    pub(crate) idle_rss: u64,
    pub(crate) secs: u64,
    pub(crate) cpu: f64,
    pub(crate) rss0: u64,
    pub(crate) rss1: u64,
    pub(crate) fill_rounds: u64,
    pub(crate) fill_secs_live: f64,
    pub(crate) rss_filled: u64,
    pub(crate) rounds_measured: f64,
    pub(crate) live_dropped: f64,
    pub(crate) live_samples: f64,
    pub(crate) live_rounds: f64,
    pub(crate) live_bytes: f64,
    pub(crate) full_bytes: usize,
    pub(crate) full_heap: usize,
    pub(crate) full_samples: usize,
    pub(crate) full_minutes: f64,
    pub(crate) ingest_full: Vec<f64>,
    pub(crate) fill_secs: f64,
    pub(crate) build: Vec<f64>,
    pub(crate) encode: Vec<f64>,
    pub(crate) frame_bytes: usize,
}

/// Item 4, in-process parts: the history store filled for 60 min at 1 s with 1000 instances (up to its bound), and frame building + Arrow encoding of a 1000-row stats table.
pub(crate) fn store_and_frames(f: &mut Footprint) -> Result<()> {
    let n = 1000;
    let mut h = History::new(3_600_000, DEFAULT_BUDGET_BYTES);
    let mut pings: Vec<PingSample> = (0..n)
        .map(|i| PingSample {
            service: format!("svc{}", i % 10),
            id: format!("{i:022}"),
            version: "1.0.0".into(),
            rtt_ms: Some(1.0),
            state: natsmicro::model::state::State::Up,
        })
        .collect();
    let mut stats: Vec<StatsSample> = (0..n)
        .map(|i| StatsSample {
            service: format!("svc{}", i % 10),
            id: format!("{i:022}"),
            version: "1.0.0".into(),
            started: Some(1_700_000_000_000),
            endpoints: vec![EndpointSample {
                name: "echo".into(),
                requests: 0,
                errors: 0,
                processing_ns: 0,
                data: Vec::new(),
            }],
        })
        .collect();
    let t_fill = Instant::now();
    for r in 0..3600u64 {
        let t = 1_700_000_000_000 + r as i64 * 1000;
        for (i, p) in pings.iter_mut().enumerate() {
            p.rtt_ms = Some(1.0 + ((r as usize + i) % 7) as f64);
        }
        for s in &mut stats {
            s.endpoints[0].requests = r * 10;
            s.endpoints[0].errors = r / 100;
            s.endpoints[0].processing_ns = r * 1_000_000;
        }
        let t0 = Instant::now();
        h.ingest_ping(t, &pings);
        h.ingest_stats(t, &stats);
        if r >= 3600 - 300 {
            f.ingest_full.push(since_ms(t0));
        }
    }
    f.fill_secs = t_fill.elapsed().as_secs_f64();
    f.full_bytes = h.bytes();
    f.full_heap = h.heap_bytes();
    f.full_samples = h.samples();
    f.full_minutes = h
        .oldest()
        .map_or(0.0, |o| (1_700_000_000_000 + 3599 * 1000 - o) as f64 / 60_000.0);
    drop(h);

    // A 1000-instance STATS round as async-nats services answer it (one endpoint each).
    let started = chrono::Utc::now();
    let replies: Vec<Reply> = (0..n)
        .map(|i| {
            let body = json!({
                "type": "io.nats.micro.v1.stats_response", "name": format!("svc{}", i % 10), "id": format!("{i:022}"),
                "version": "1.0.0", "started": "2026-11-22T10:00:00.123456789Z",
                "endpoints": [{"name": "echo", "subject": "echo", "queue_group": "q", "num_requests": 1000 + i,
                    "num_errors": i % 3, "last_error": "", "processing_time": 123_456_789, "average_processing_time": 123_456}]
            });
            let reply = parse_reply(Verb::Stats, body.to_string().as_bytes()).map_err(|e| anyhow!("{e:?}"))?;
            Ok(Reply {
                reply,
                rtt: Duration::from_millis(5),
                received: started,
            })
        })
        .collect::<Result<_>>()?;
    let round = Round {
        verb: Verb::Stats,
        scope: Scope::all(),
        subject: "$SRV.STATS".into(),
        started,
        replies,
        invalid: 0,
        oversized: 0,
        bytes: 0,
        limited: Default::default(),
        late_cut_short: false,
        stop: StopReason::Complete,
        elapsed: Duration::from_millis(50),
        last_reply: Some(Duration::from_millis(50)),
        down: Vec::new(),
        slow_ms: 1000.0,
        targeted: 0,
        unasked: 0,
        held: Default::default(),
    };
    let q = Query::parse("A", "stats", br#"{"queryType":"stats","format":"table"}"#).map_err(|e| anyhow!("{e}"))?;
    let t_all = Instant::now();
    while t_all.elapsed() < Duration::from_secs(2) || f.build.len() < 50 {
        let t0 = Instant::now();
        let frame = natsmicro::model::answer::stats::instant(&q, &round);
        let t1 = Instant::now();
        let bytes = frame.to_arrow().map_err(|e| anyhow!("{e}"))?;
        f.build.push((t1 - t0).as_secs_f64() * 1e3);
        f.encode.push(since_ms(t1));
        f.frame_bytes = bytes.len();
        if frame.rows() != n {
            bail!("stats frame has {} rows", frame.rows());
        }
    }
    Ok(())
}

/// Item 4, the real plugin: 1000 Python instances, `sampleIntervalSec: 1`; the first
/// `BENCH_FILL_ROUNDS` sampling rounds run back to back (hidden setting `historyFillRounds`: time
/// compressed) so the store reaches its bound, then CPU and RSS over `secs` at the 1 s period.
pub(crate) async fn sampler_live(f: &mut Footprint) -> Result<()> {
    let nats = NatsServer::start();
    let plugin = PluginProcess::start().await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = plugin.child.id();
    f.idle_rss = support::proc_status_kib(&pid.to_string(), "VmRSS:");
    let t0 = Instant::now();
    let _fleet = PythonService::start(&nats.url(), "fleet", "1.0.0", 1000, &[])?;
    eprintln!("bench: 1000 Python instances up in {:.1} s", t0.elapsed().as_secs_f64());
    let ds = DataSource::new(&nats.url()).json(json!({
        "sampleIntervalSec": 1, "retentionMinutes": 60, "historyFillRounds": f.fill_rounds
    }));
    let q = [json!({"refId": "A", "queryType": "services", "format": "timeseries"})];
    let t_fill = Instant::now();
    plugin.query(&ds, &q).await?;
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rounds = metric_value(&plugin.metrics_text().await?, "natsmicro_history_sampling_rounds_total");
        if rounds >= f.fill_rounds as f64 {
            break;
        }
        if t_fill.elapsed() > Duration::from_secs(600) {
            bail!("the fill reached {rounds} of {} rounds in 600 s", f.fill_rounds);
        }
    }
    f.fill_secs_live = t_fill.elapsed().as_secs_f64();
    f.rss_filled = support::proc_status_kib(&pid.to_string(), "VmRSS:");
    tokio::time::sleep(Duration::from_secs(5)).await;
    let (cpu0, rss0) = (
        support::proc_cpu_seconds(pid)?,
        support::proc_status_kib(&pid.to_string(), "VmRSS:"),
    );
    let rounds0 = metric_value(&plugin.metrics_text().await?, "natsmicro_history_sampling_rounds_total");
    tokio::time::sleep(Duration::from_secs(f.secs)).await;
    f.cpu = support::proc_cpu_seconds(pid)? - cpu0;
    f.rounds_measured =
        metric_value(&plugin.metrics_text().await?, "natsmicro_history_sampling_rounds_total") - rounds0;
    f.rss0 = rss0;
    f.rss1 = support::proc_status_kib(&pid.to_string(), "VmRSS:");
    let r = plugin.query(&ds, &q).await?;
    let h = r["A"]
        .frames
        .first()
        .map(|fr| fr.meta["custom"]["history"].clone())
        .unwrap_or_default();
    f.live_bytes = h["bytes"].as_f64().unwrap_or(0.0);
    f.live_dropped = h["droppedSamples"].as_f64().unwrap_or(0.0);
    f.live_samples = h["samples"].as_f64().unwrap_or(0.0);
    f.live_rounds = h["rounds"].as_f64().unwrap_or(0.0);
    Ok(())
}
