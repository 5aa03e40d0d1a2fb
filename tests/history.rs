//! The history sampler end to end against a real nats-server with real micro services (Rust async-nats and Python nats.micro): history fills at the configured period, `timeseries-multi` frames and alert recipes on them, rates across a service restart, down instances, events, one sampler per data source, the idle stop, and the memory bound with 1 000 instances.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::*;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Query over the last `span_ms` up to now, one point per sample (no downsampling), as an alert rule
/// evaluation asks (dashboard `timeseries` queries get a Live seed instead: tests/stream.rs).
async fn recent(p: &PluginProcess, ds: &DataSource, queries: &[Value], span_ms: i64) -> BTreeMap<String, Response> {
    let now = now_ms();
    p.query_window(ds, queries, (now - span_ms, now), 1_000_000, 1000)
        .await
        .unwrap()
}

/// Wait until the plugin's sampler has completed `n` more sampling rounds (a round a second).
async fn rounds_pass(p: &PluginProcess, n: f64) {
    let done = p.sampling_rounds().await;
    assert!(
        p.sampling_rounds_reach(done + n).await,
        "the sampler did not run {n} more rounds"
    );
}

fn label(f: &DecodedFrame, key: &str) -> String {
    f.numeric_fields()[0].labels.as_ref().unwrap()[key]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn times(f: &DecodedFrame) -> Vec<i64> {
    f.field("time").values.iter().map(|v| v.as_i64().unwrap()).collect()
}

fn values(f: &DecodedFrame) -> Vec<Option<f64>> {
    f.numeric_fields()[0].values.iter().map(Value::as_f64).collect()
}

/// Σ rate × Δt over consecutive points: the requests a rate series accounts for.
fn integral(f: &DecodedFrame) -> f64 {
    let t = times(f);
    let v = values(f);
    (1..t.len())
        .filter_map(|i| v[i].map(|rate| rate * (t[i] - t[i - 1]) as f64 / 1e9))
        .sum()
}

async fn send(nats: &NatsServer, subject: &str, n: usize) -> usize {
    let c = connect(&nats.url()).await.unwrap();
    let mut failed = 0;
    for i in 0..n {
        let r = c.request(subject.to_string(), format!("{i}").into()).await.unwrap();
        if r.headers
            .as_ref()
            .is_some_and(|h| h.get("Nats-Service-Error").is_some())
        {
            failed += 1;
        }
    }
    failed
}

#[tokio::test]
async fn history_fills_at_the_period_and_timeseries_frames_serve_every_alert_recipe() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let mut _orders = Vec::new();
    for _ in 0..2 {
        let endpoints = [("get", "orders.get"), ("add", "orders.add")];
        _orders.push(
            RustService::start(&nats.url(), "orders", "1.0.0", &endpoints, 0)
                .await
                .unwrap(),
        );
    }
    let _py = PythonService::start(
        &nats.url(),
        "billing",
        "2.0.0",
        1,
        &["--endpoint", "charge:billing.charge", "--fail-every", "4"],
    )
    .unwrap();
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 1, "retentionMinutes": 5}));
    // The first use starts the sampler.
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    rounds_pass(&p, 2.0).await;
    assert_eq!(send(&nats, "billing.charge", 8).await, 2, "every 4th request fails");
    rounds_pass(&p, 2.0).await;

    let rounds_before = p.sampling_rounds().await;
    let r = recent(
        &p,
        &ds,
        &[
            json!({"refId": "rtt", "queryType": "ping", "format": "timeseries"}),
            json!({"refId": "up", "queryType": "ping", "format": "timeseries", "metric": "up"}),
            json!({"refId": "count", "queryType": "services", "format": "timeseries"}),
            json!({"refId": "rate", "queryType": "stats", "format": "timeseries"}),
            json!({"refId": "ratio", "queryType": "stats", "format": "timeseries", "metric": "error_ratio", "service": "billing"}),
        ],
        60_000,
    )
    .await;
    let rounds_after = p.sampling_rounds().await;

    // ping rtt: one frame per instance, labels service and id, history at ~1 s plus "now".
    let rtt = &r["rtt"];
    assert!(rtt.error.is_empty(), "{}", rtt.error);
    assert_eq!(rtt.frames.len(), 3);
    assert!(alertable_timeseries(&rtt.frames), "{:#?}", rtt.frames[0]);
    for f in &rtt.frames {
        assert_eq!(f.meta["type"], "timeseries-multi");
        assert_eq!(f.meta["typeVersion"], json!([0, 1]));
        let keys: Vec<String> = f.numeric_fields()[0]
            .labels
            .as_ref()
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        assert_eq!(keys, ["id", "service"]);
        assert_eq!(f.numeric_fields()[0].config.as_ref().unwrap()["unit"], "ms");
        let n = f.rows();
        // One point per PING the sampler took (each sampling round is a PING then a STATS, and
        // one may have been half done), plus the fresh point unless the query shared the
        // sampler's latest round.
        assert!(
            (n as f64) >= rounds_before && (n as f64) <= rounds_after + 2.0,
            "{n} points after {rounds_before}..{rounds_after} sampling rounds"
        );
        let t = times(f);
        assert!(t.windows(2).all(|w| w[0] < w[1]), "times ascend");
        let gaps: Vec<i64> = t[..n - 1].windows(2).map(|w| (w[1] - w[0]) / 1_000_000).collect();
        assert!(
            gaps.iter().all(|g| (700..=1500).contains(g)),
            "sampled every ~1 s: {gaps:?}"
        );
        assert!(values(f).iter().all(|v| v.is_some_and(|ms| ms > 0.0 && ms < 2000.0)));
    }
    let services: Vec<String> = rtt.frames.iter().map(|f| label(f, "service")).collect();
    assert_eq!(services, ["billing", "orders", "orders"]);

    // Recipe "instance down": Reduce(last) of up < 1 fires for nobody.
    assert!(alertable_timeseries(&r["up"].frames));
    assert!(reduce_last(&r["up"].frames).values().all(|v| *v == Some(1.0)));
    // Recipe "instance count below N": Reduce(last) per service.
    let count = &r["count"].frames;
    assert!(alertable_timeseries(count));
    let last: Vec<Option<f64>> = reduce_last(count).into_values().collect();
    assert_eq!(last, [Some(1.0), Some(2.0)], "billing 1, orders 2");
    // Recipe "RTT above X": frames as above; every series has numeric points to reduce.
    assert!(reduce_last(&rtt.frames).values().all(Option::is_some));

    // stats: one series per instance and endpoint, labels service, id, endpoint; rates ≥ 0.
    let rate = &r["rate"].frames;
    assert!(alertable_timeseries(rate));
    assert_eq!(rate.len(), 5);
    for f in rate {
        assert_eq!(f.numeric_fields()[0].name, "request_rate");
        assert_eq!(f.numeric_fields()[0].config.as_ref().unwrap()["unit"], "reqps");
        assert!(!label(f, "endpoint").is_empty());
        assert!(values(f).iter().flatten().all(|v| *v >= 0.0));
    }
    let billing = rate.iter().find(|f| label(f, "service") == "billing").unwrap();
    assert!((integral(billing) - 8.0).abs() < 1e-6, "{:?}", values(billing));
    // Recipe "error ratio above Y": 2 of 8 failed; every interval's ratio is within [0, 1], some > 0.
    let ratio = &r["ratio"].frames;
    assert!(alertable_timeseries(ratio));
    assert_eq!(ratio.len(), 1);
    let v: Vec<f64> = values(&ratio[0]).into_iter().flatten().collect();
    assert!(v.iter().all(|x| (0.0..=1.0).contains(x)), "{v:?}");
    assert!(v.iter().any(|x| *x > 0.0), "{v:?}");
    assert_eq!(
        ratio[0].numeric_fields()[0].config.as_ref().unwrap()["unit"],
        "percentunit"
    );

    // Downsampling: a 5 s step merges samples into aligned buckets.
    let now = now_ms();
    let coarse = p
        .query_window(
            &ds,
            &[json!({"refId": "A", "queryType": "ping", "format": "timeseries", "service": "billing"})],
            (now - 60_000, now),
            1000,
            5000,
        )
        .await
        .unwrap();
    let f = &coarse["A"].frames[0];
    assert!(times(f).iter().all(|t| t % 5_000_000_000 == 0), "{:?}", times(f));
    assert!(f.rows() <= 3, "{} buckets over ~6 s", f.rows());
}

#[tokio::test]
async fn rates_down_instances_and_events_across_a_service_restart() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let first = PythonService::start(
        &nats.url(),
        "billing",
        "1.0.0",
        1,
        &["--endpoint", "charge:billing.charge"],
    )
    .unwrap();
    let old_id = first.ids[0].clone();
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 1, "retentionMinutes": 5}));
    let t0 = now_ms();
    p.query(&ds, &[json!({"refId": "A", "queryType": "ping"})])
        .await
        .unwrap();
    rounds_pass(&p, 2.0).await;
    send(&nats, "billing.charge", 30).await;
    rounds_pass(&p, 2.0).await;
    drop(first);
    rounds_pass(&p, 3.0).await;

    // Down: known within the retention window, not answering: null rtt, up 0, instance count 0.
    let r = recent(
        &p,
        &ds,
        &[
            json!({"refId": "up", "queryType": "ping", "format": "timeseries", "metric": "up"}),
            json!({"refId": "rtt", "queryType": "ping", "format": "timeseries"}),
            json!({"refId": "instant", "queryType": "ping", "metric": "up"}),
        ],
        60_000,
    )
    .await;
    assert_eq!(
        reduce_last(&r["up"].frames).into_values().collect::<Vec<_>>(),
        [Some(0.0)]
    );
    assert!(values(&r["up"].frames[0]).contains(&Some(1.0)));
    assert_eq!(values(&r["rtt"].frames[0]).last(), Some(&None));
    assert_eq!(r["instant"].frame().numbers("up"), [Some(0.0)]);

    let second = PythonService::start(
        &nats.url(),
        "billing",
        "2.0.0",
        1,
        &["--endpoint", "charge:billing.charge"],
    )
    .unwrap();
    let new_id = second.ids[0].clone();
    rounds_pass(&p, 2.0).await;
    send(&nats, "billing.charge", 40).await;
    rounds_pass(&p, 2.0).await;
    // A Rust instance of another service appears.
    let orders = RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    rounds_pass(&p, 3.0).await;

    let span = now_ms() - t0 + 5000;
    let r = recent(
        &p,
        &ds,
        &[
            json!({"refId": "rate", "queryType": "stats", "format": "timeseries", "service": "billing"}),
            json!({"refId": "up", "queryType": "ping", "format": "timeseries", "metric": "up", "service": "billing"}),
            json!({"refId": "count", "queryType": "services", "format": "timeseries", "service": "billing"}),
            json!({"refId": "down", "queryType": "services", "format": "timeseries", "metric": "down", "service": "billing"}),
            json!({"refId": "events", "queryType": "events"}),
            json!({"refId": "evOrders", "queryType": "events", "service": "orders"}),
        ],
        span,
    )
    .await;

    // Rates: one series per instance id; never negative or huge; each accounts for its requests.
    let rate = &r["rate"].frames;
    assert_eq!(rate.len(), 2);
    for (f, want) in [(&old_id, 30.0), (&new_id, 40.0)].map(|(id, n)| {
        let f = rate.iter().find(|f| &label(f, "id") == id).unwrap();
        (f, n)
    }) {
        let v: Vec<f64> = values(f).into_iter().flatten().collect();
        assert!(v.iter().all(|x| (0.0..1000.0).contains(x)), "{v:?}");
        assert!((integral(f) - want).abs() < 1e-6, "{} ≠ {want}: {v:?}", integral(f));
    }
    // up per instance: the old one ends down, the new one up.
    let up: BTreeMap<String, Option<f64>> = r["up"]
        .frames
        .iter()
        .map(|f| (label(f, "id"), values(f).last().copied().flatten()))
        .collect();
    assert_eq!(up[&old_id], Some(0.0));
    assert_eq!(up[&new_id], Some(1.0));
    // services: the instance count dropped to 0 between the two and is 1 now; down is 1 after the kill.
    let count = values(&r["count"].frames[0]);
    assert!(count.contains(&Some(0.0)), "{count:?}");
    assert_eq!(count.last(), Some(&Some(1.0)));
    assert!(values(&r["down"].frames[0]).contains(&Some(1.0)));

    // events: disappeared (old), restarted (new replaced old), version change, appeared (orders).
    let ev = r["events"].frame();
    assert_eq!(ev.meta["type"], "table");
    assert!(matches!(
        ev.field("time").data_type,
        arrow_schema::DataType::Timestamp(_, _)
    ));
    let rows: Vec<(String, String, String)> = ev
        .strings("kind")
        .into_iter()
        .zip(ev.strings("id"))
        .zip(ev.strings("text"))
        .map(|((k, i), t)| (k, i, t))
        .collect();
    let kinds: Vec<(&str, &str)> = rows.iter().map(|(k, i, _)| (k.as_str(), i.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("disappeared", old_id.as_str()),
            ("restarted", new_id.as_str()),
            ("version", new_id.as_str()),
            ("appeared", orders.id.as_str()),
        ],
        "{rows:#?}"
    );
    assert!(rows[1].2.contains(&old_id), "{}", rows[1].2);
    assert!(ev.strings("tags")[0].starts_with("disappeared,billing"));
    assert!(ev.strings("title").iter().all(|t| !t.is_empty()));
    assert_eq!(r["evOrders"].frame().strings("kind"), ["appeared"]);
    drop(second);
}

async fn metric(p: &PluginProcess, name: &str) -> i64 {
    let text = p.metrics_text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(-1)
}

async fn samplers(p: &PluginProcess) -> i64 {
    metric(p, "natsmicro_history_samplers").await
}

#[tokio::test]
async fn one_sampler_per_data_source_and_none_when_history_is_off() {
    let env = TestEnv::orders().await;
    let (nats, p) = (&env.nats, &env.plugin);
    assert_eq!(samplers(p).await, 0);
    let mut ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 1}));
    let q = [json!({"refId": "A", "queryType": "ping", "format": "timeseries"})];
    for _ in 0..3 {
        p.query(&ds, &q).await.unwrap();
    }
    p.resource_get(&ds, "services").await.unwrap();
    assert_eq!(samplers(p).await, 1);
    // Settings saved: the connection is replaced and the old sampler stops with it.
    ds.updated_ms += 1;
    p.query(&ds, &q).await.unwrap();
    assert!(eventually(Duration::from_secs(3), || async { samplers(p).await == 1 }).await);
    let other = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 1}));
    p.health(&other).await.unwrap();
    assert_eq!(samplers(p).await, 2);
    // Their rounds are counted.
    let rounds = metric(p, "natsmicro_history_sampling_rounds_total").await;
    assert!(rounds >= 1, "{rounds}");
    assert!(
        eventually(Duration::from_secs(5), || async {
            metric(p, "natsmicro_history_sampling_rounds_total").await >= rounds + 2
        })
        .await
    );

    // History off: no sampler; a timeseries query answers the current point and says so.
    let mut off = ds.clone();
    off.json = json!({"sampleIntervalSec": 0});
    off.updated_ms += 1;
    let r = recent(p, &off, &q, 60_000).await;
    assert!(eventually(Duration::from_secs(3), || async { samplers(p).await == 1 }).await);
    let f = r["A"].frame();
    assert_eq!(f.rows(), 1);
    assert!(values(f)[0].is_some_and(|ms| ms > 0.0));
    assert!(
        f.meta["notices"][0]["text"]
            .as_str()
            .unwrap()
            .contains("history is off"),
        "{}",
        f.meta
    );
    // events without history: an empty table, with the same notice.
    let r = p
        .query(&off, &[json!({"refId": "E", "queryType": "events"})])
        .await
        .unwrap();
    assert_eq!(r["E"].frame().rows(), 0);
}

#[tokio::test]
async fn a_sampler_stops_after_its_data_source_went_idle_and_not_while_used() {
    use natsmicro::nats::discovery::{Discovery, Policy};
    use natsmicro::nats::sampler::{self, Sampler, SamplerConfig};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let nats = NatsServer::start();
    let _svc = RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let client = async_nats::connect(nats.url()).await.unwrap();
    let discovery = Discovery::new(
        client,
        Policy::new("$SRV", Duration::from_secs(2), Duration::from_secs(60)),
    );
    let config = SamplerConfig {
        period: Duration::from_millis(200),
        retention: Duration::from_secs(60),
        budget: 1 << 20,
        idle_limit: Duration::from_millis(1000),
        fill_rounds: 0,
        probes: Vec::new(),
        shared: None,
        degraded: None,
    };
    let before = sampler::running();
    let idle_called = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&idle_called);
    let s = Sampler::start(
        Arc::clone(&discovery),
        config,
        Some(Box::new(move || flag.store(true, Ordering::SeqCst))),
        None,
    );
    s.touch();
    // Used all along (every 20 ms, far within the idle limit) for 15 rounds, three times the
    // idle limit: keeps sampling.
    let t0 = std::time::Instant::now();
    while s.rounds() < 15 && t0.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(20)).await;
        s.touch();
    }
    assert!(!s.stopped());
    assert!(s.rounds() >= 15, "{} rounds", s.rounds());
    assert!(s.with_history(|h| h.instances().count()) == 1);
    // Then left alone: stops, tells its owner, and its task is gone.
    assert!(eventually(Duration::from_secs(15), || async { s.stopped() }).await);
    assert!(idle_called.load(Ordering::SeqCst));
    // Once its task is gone no round can follow.
    assert!(eventually(Duration::from_secs(5), || async { sampler::running() == before }).await);
    let rounds = s.rounds();
    tokio::task::yield_now().await;
    assert_eq!(s.rounds(), rounds, "no rounds after the idle stop");
    // A second sampler dropped while running stops too.
    let t = Sampler::start(discovery, s_config(), None, None);
    assert!(sampler::running() > before);
    drop(t);
    assert!(eventually(Duration::from_secs(2), || async { sampler::running() == before }).await);
}

fn s_config() -> natsmicro::nats::sampler::SamplerConfig {
    natsmicro::nats::sampler::SamplerConfig {
        period: Duration::from_millis(200),
        retention: Duration::from_secs(60),
        budget: 1 << 20,
        idle_limit: Duration::from_secs(3600),
        fill_rounds: 0,
        probes: Vec::new(),
        shared: None,
        degraded: None,
    }
}

#[tokio::test]
async fn fill_rounds_run_back_to_back_then_the_period_rules() {
    // In the plugin's own process (the sampler count is per process), as a measurement sets it up.
    let env = TestEnv::orders().await;
    let (nats, p) = (&env.nats, &env.plugin);
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 3600, "historyFillRounds": 30}));
    // `services` (never streamed, so its frames carry the history's meta).
    let q = [json!({"refId": "A", "queryType": "services", "format": "timeseries"})];
    p.query(&ds, &q).await.unwrap();
    let rounds = "natsmicro_history_sampling_rounds_total";
    // 30 rounds plus the period's first (immediate) tick, far sooner than the hour-long period.
    assert!(
        eventually(Duration::from_secs(10), || async { metric(p, rounds).await >= 31 }).await,
        "{} rounds",
        metric(p, rounds).await
    );
    // Then one round per period (an hour): none follows. A negative check needs some wait; a
    // slower machine only makes it weaker, never wrong.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(metric(p, rounds).await, 31, "then one round per period");
    let r = p.query(&ds, &q).await.unwrap();
    let history = &r["A"].frames[0].meta["custom"]["history"];
    assert_eq!(history["rounds"], 62, "31 PING and 31 STATS rounds held: {history}");
    // Each of them a round of its own: back to back, a round could be the previous one again
    // (shared with it for a moment), and that would be held twice at the same time.
    let r = recent(
        p,
        &ds,
        &[json!({"refId": "B", "queryType": "ping", "format": "timeseries"})],
        600_000,
    )
    .await;
    assert!(!r["B"].frames.is_empty(), "{:?}", r["B"].error);
    for f in &r["B"].frames {
        let t = times(f);
        assert!(t.len() >= 31, "a point per round of {}: {t:?}", label(f, "id"));
        assert!(
            t.windows(2).all(|w| w[0] < w[1]),
            "no two points of one instance at one time: {t:?}"
        );
    }
}
