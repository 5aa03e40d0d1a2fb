//! QueryData overhead over a raw NATS request, and a 50-panel dashboard at once.

#[allow(unused_imports)]
use super::*;

/// One QueryData call: the gRPC wall time (request sent → response received, before decoding) and the decoded frames per refId.
pub(crate) async fn timed_query(
    plugin: &PluginProcess,
    ds: &DataSource,
    queries: &[Value],
) -> Result<(f64, BTreeMap<String, Vec<DecodedFrame>>)> {
    let req = support::last_hour_request(ds, "Admin", queries);
    let mut client = plugin.data();
    let t0 = Instant::now();
    let resp = client.query_data(req).await?.into_inner();
    let wall = since_ms(t0);
    let mut out = BTreeMap::new();
    for (k, v) in resp.responses {
        if !v.error.is_empty() {
            bail!("query {k}: {}", v.error);
        }
        let frames = v
            .frames
            .iter()
            .map(|b| support::decode_frame(b))
            .collect::<Result<Vec<_>>>()?;
        out.insert(k, frames);
    }
    Ok((wall, out))
}

/// Wall time of a QueryData that crosses gRPC and the handler but never reaches NATS (an unknown
/// `queryType`, answered with an error on its refId): the fixed cost of any call.
pub(crate) async fn grpc_floor(plugin: &PluginProcess, ds: &DataSource) -> Result<f64> {
    let q = [json!({"refId": "A", "queryType": "no-such-type"})];
    let t0 = Instant::now();
    let r = plugin.query(ds, &q).await?;
    let wall = since_ms(t0);
    if r.get("A").is_none_or(|a| a.error.is_empty()) {
        bail!("the floor query was expected to fail on its refId");
    }
    Ok(wall)
}

pub(crate) fn rows(frames: &BTreeMap<String, Vec<DecodedFrame>>, ref_id: &str) -> usize {
    frames.get(ref_id).and_then(|f| f.first()).map_or(0, DecodedFrame::rows)
}

pub(crate) fn meta_f64(frames: &BTreeMap<String, Vec<DecodedFrame>>, ref_id: &str, key: &str) -> f64 {
    frames
        .get(ref_id)
        .and_then(|f| f.first())
        .and_then(|f| f.meta["custom"][key].as_f64())
        .unwrap_or(f64::NAN)
}

pub(crate) struct Overhead {
    pub(crate) calls: usize,
    pub(crate) fresh: Vec<f64>,
    pub(crate) shared: Vec<f64>,
    pub(crate) raw: Vec<f64>,
    pub(crate) scatter: Vec<f64>,
    pub(crate) floor: Vec<f64>,
}

/// Item 2: one-instance `stats` QueryData over gRPC vs a raw NATS request, back to back.
pub(crate) async fn overhead(
    nats: &NatsServer,
    plugin: &PluginProcess,
    raw: &async_nats::Client,
    calls: usize,
) -> Result<Overhead> {
    let one = RustService::start(&nats.url(), "solo", "1.0.0", &[("get", "solo.get")], 0).await?;
    // Identical queries within 100 ms share a round; 160 data sources in turn (each reused no sooner than 110 ms) keep every call a fresh NATS round.
    let sources: Vec<DataSource> = (0..160)
        .map(|_| DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 0})))
        .collect();
    let q = [json!({"refId": "A", "queryType": "stats", "service": "solo"})];
    for ds in &sources {
        timed_query(plugin, ds, &q).await?;
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    let mut o = Overhead {
        calls,
        fresh: Vec::new(),
        shared: Vec::new(),
        raw: Vec::new(),
        scatter: Vec::new(),
        floor: Vec::new(),
    };
    let subject = format!("$SRV.STATS.solo.{}", one.id);
    let mut last_use = vec![Instant::now(); sources.len()];
    for i in 0..calls {
        let k = i % sources.len();
        let ds = &sources[k];
        if let Some(wait) = Duration::from_millis(110).checked_sub(last_use[k].elapsed()) {
            tokio::time::sleep(wait).await;
        }
        let (wall, f) = timed_query(plugin, ds, &q).await?;
        if rows(&f, "A") != 1 {
            bail!("one-instance stats returned {} rows", rows(&f, "A"));
        }
        o.fresh.push(wall);
        o.shared.push(timed_query(plugin, ds, &q).await?.0);
        last_use[k] = Instant::now();
        let t0 = Instant::now();
        raw.request(subject.clone(), "".into()).await?;
        o.raw.push(since_ms(t0));
        o.scatter.push(raw_scatter(raw, "$SRV.STATS.solo", 1).await?.0);
        o.floor.push(grpc_floor(plugin, ds).await?);
    }
    one.stop().await;
    Ok(o)
}

pub(crate) struct Dashboard {
    pub(crate) bursts: usize,
    pub(crate) burst: Vec<f64>,
    pub(crate) one: Vec<f64>,
    pub(crate) requests: Vec<f64>,
    pub(crate) short: usize,
}

/// Item 3: 50 concurrent QueryData calls (ping/stats/info in turn) on 100 instances; `$SRV` requests seen by a spy.
pub(crate) async fn dashboard(nats: &NatsServer, plugin: &PluginProcess, bursts: usize) -> Result<Dashboard> {
    let mut services = Vec::new();
    for _ in 0..100 {
        services.push(RustService::start(&nats.url(), "dash", "1.0.0", &[("get", "dash.get")], 0).await?);
    }
    let spy = support::connect(&nats.url()).await?;
    let mut sub = spy.subscribe("$SRV.>").await?;
    spy.flush().await?;
    let seen = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&seen);
    let spy_task = tokio::spawn(async move {
        while sub.next().await.is_some() {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 0}));
    let verbs = ["ping", "stats", "info"];
    let panel = |i: usize| [json!({"refId": "A", "queryType": verbs[i % 3], "service": "dash", "format": "table"})];
    for i in 0..3 {
        timed_query(plugin, &ds, &panel(i)).await?;
    }
    let mut d = Dashboard {
        bursts,
        burst: Vec::new(),
        one: Vec::new(),
        requests: Vec::new(),
        short: 0,
    };
    for _ in 0..bursts {
        tokio::time::sleep(Duration::from_millis(150)).await;
        d.one.push(timed_query(plugin, &ds, &panel(0)).await?.0);
        tokio::time::sleep(Duration::from_millis(150)).await;
        let before = seen.load(Ordering::Relaxed);
        let t0 = Instant::now();
        let results = futures::future::join_all((0..50).map(|i| {
            let ds = &ds;
            let q = panel(i);
            async move { timed_query(plugin, ds, &q).await }
        }))
        .await;
        d.burst.push(since_ms(t0));
        for r in results {
            let (_, f) = r?;
            if rows(&f, "A") < 100 {
                d.short += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
        d.requests.push((seen.load(Ordering::Relaxed) - before) as f64);
    }
    spy_task.abort();
    for s in services {
        s.stop().await;
    }
    Ok(d)
}
