//! The JetStream history store end to end: real nats-servers with JetStream (a temporary store directory) and real plugin processes driven over gRPC. A restart keeps the history, two processes share one sampler and give one answer, a SIGKILLed sampler is replaced, an existing stream that differs is used and named, and a server or account without JetStream (or a user denied `$JS.API`) degrades to the memory store loudly; a settings save keeps a memory history; a fresh process
//! starts from the newest checkpoint (a broken one is skipped) with the sampler's answer; and in a three-node JetStream cluster a stream of three replicas keeps the history when its leader dies.

mod support;

#[path = "jetstream/checkpoints.rs"]
mod checkpoints;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use serde_json::{json, Value};
use support::*;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn jetstream_ds(url: &str) -> DataSource {
    DataSource::new(url).json(json!({"sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream"}))
}

const PING_RTT: &str = r#"{"refId": "A", "queryType": "ping", "format": "timeseries"}"#;

fn ping_rtt() -> Value {
    serde_json::from_str(PING_RTT).unwrap()
}

/// The ping `timeseries` answer over `[from, to]`: per instance id, its (time in ms, value)
/// points from the history (the fresh "now" point a window reaching the present gets is left out).
async fn points(p: &PluginProcess, ds: &DataSource, from: i64, to: i64) -> BTreeMap<String, Vec<(i64, Option<f64>)>> {
    let r = p
        .query_window(ds, &[ping_rtt()], (from, to), 1_000_000, 1000)
        .await
        .unwrap();
    let a = &r["A"];
    assert!(a.error.is_empty(), "{}", a.error);
    a.frames
        .iter()
        .filter(|f| !f.numeric_fields().is_empty())
        .map(|f| {
            let id = f.numeric_fields()[0].labels.as_ref().unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
            let t = f.field("time").values.iter().map(|v| v.as_i64().unwrap() / 1_000_000);
            let v = f.numeric_fields()[0].values.iter().map(Value::as_f64);
            (id, t.zip(v).filter(|(t, _)| *t <= to).collect())
        })
        .collect()
}

fn notices(r: &Response) -> Vec<String> {
    r.frames
        .iter()
        .flat_map(|f| f.meta["notices"].as_array().cloned().unwrap_or_default())
        .map(|n| n["text"].as_str().unwrap_or_default().to_string())
        .collect()
}

async fn orders(nats: &NatsServer) -> RustService {
    RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap()
}

/// Wait until the processes together have sampled `n` more rounds.
async fn rounds_pass(ps: &[&PluginProcess], n: f64) {
    let total = |ps: Vec<f64>| ps.iter().sum::<f64>();
    let mut before = Vec::new();
    for p in ps {
        before.push(p.sampling_rounds().await);
    }
    let start = total(before);
    let reached = eventually(Duration::from_secs(30), || async {
        let mut now = Vec::new();
        for p in ps {
            now.push(p.sampling_rounds().await);
        }
        total(now) >= start + n
    })
    .await;
    assert!(reached, "no {n} more sampling rounds");
}

#[tokio::test]
async fn a_restarted_plugin_answers_with_the_history_from_before_its_restart() {
    let nats = NatsServer::with_jetstream("");
    let _orders = orders(&nats).await;
    let ds = jetstream_ds(&nats.url());
    let first = PluginProcess::start().await.unwrap();
    let (status, message) = first.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(
        message.contains("History: JetStream stream NATSMICRO_HISTORY"),
        "{message}"
    );
    rounds_pass(&[&first], 4.0).await;
    let before = points(&first, &ds, now_ms() - 60_000, now_ms()).await;
    drop(first);
    let restart = now_ms();

    let second = PluginProcess::start().await.unwrap();
    let after = points(&second, &ds, restart - 60_000, restart).await;
    assert_eq!(after.len(), 1, "{after:?}");
    let old: Vec<_> = after
        .values()
        .next()
        .unwrap()
        .iter()
        .filter(|(t, _)| *t < restart)
        .collect();
    assert!(
        old.len() >= 4,
        "only {} points from before the restart: {after:?}",
        old.len()
    );
    assert!(old.iter().all(|(_, v)| v.is_some_and(|rtt| rtt >= 0.0)));
    // The same samples the first process answered with (it also had a fresh "now" point).
    let first_points = before.values().next().unwrap();
    let answered_until = first_points.iter().map(|p| p.0).max().unwrap();
    for p in old.iter().filter(|p| p.0 <= answered_until) {
        // (A fresh round coalesced with the sampler's carries the f64 RTT the history keeps as f32.)
        // The history keeps RTTs at 10 µs.
        let same = |q: &(i64, Option<f64>)| q.0 == p.0 && (q.1.unwrap_or(-1.0) - p.1.unwrap_or(-1.0)).abs() < 0.006;
        assert!(
            first_points.iter().any(same),
            "{p:?} was not in the first process's answer {first_points:?}"
        );
    }
    let (status, message) = second.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(message.contains("messages"), "{message}");
}

#[tokio::test]
async fn two_plugin_processes_share_one_sampler_and_give_the_same_answer() {
    let nats = NatsServer::with_jetstream("");
    let _orders = orders(&nats).await;
    let ds = jetstream_ds(&nats.url());
    let a = PluginProcess::start().await.unwrap();
    let b = PluginProcess::start().await.unwrap();
    for p in [&a, &b] {
        let (status, message) = p.health(&ds).await.unwrap();
        assert_eq!(status, 1, "{message}");
    }
    rounds_pass(&[&a, &b], 2.0).await;
    // Count the PING rounds on the wire for 6 periods.
    let watcher = connect(&nats.url()).await.unwrap();
    let mut pings = watcher.subscribe("$SRV.PING").await.unwrap();
    watcher.flush().await.unwrap();
    let (ra, rb) = (a.sampling_rounds().await, b.sampling_rounds().await);
    let mut seen = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(6);
    while let Ok(Some(_)) = tokio::time::timeout_at(deadline, pings.next()).await {
        seen += 1;
    }
    let (da, db) = (a.sampling_rounds().await - ra, b.sampling_rounds().await - rb);
    assert!(
        (4..=8).contains(&seen),
        "{seen} PING rounds in 6 s with two processes at a 1 s period"
    );
    assert!(da == 0.0 || db == 0.0, "both processes sampled: {da} and {db} rounds");
    assert!(da + db >= 4.0, "{da} + {db} rounds");

    // The same range gives the same points from both.
    let to = now_ms() - 1500;
    let (pa, pb) = (
        points(&a, &ds, to - 30_000, to).await,
        points(&b, &ds, to - 30_000, to).await,
    );
    assert!(pa.values().next().is_some_and(|v| v.len() >= 6), "{pa:?}");
    assert_eq!(pa, pb);
    let (_, ma) = a.health(&ds).await.unwrap();
    let (_, mb) = b.health(&ds).await.unwrap();
    let says = |m: &str| {
        (
            m.contains("sampled by this plugin process"),
            m.contains("sampled by another plugin process"),
        )
    };
    assert_ne!(says(&ma), says(&mb), "{ma}\n{mb}");
}

#[tokio::test]
async fn another_process_takes_over_when_the_sampler_is_killed() {
    let nats = NatsServer::with_jetstream("");
    let _orders = orders(&nats).await;
    let ds = jetstream_ds(&nats.url());
    let mut a = PluginProcess::start().await.unwrap();
    assert_eq!(a.health(&ds).await.unwrap().0, 1);
    rounds_pass(&[&a], 2.0).await;
    let b = PluginProcess::start().await.unwrap();
    assert_eq!(b.health(&ds).await.unwrap().0, 1);
    rounds_pass(&[&a], 2.0).await;
    assert_eq!(
        b.sampling_rounds().await,
        0.0,
        "the second process sampled while the first held the lease"
    );
    a.child.kill().unwrap();
    let killed = now_ms();
    let _ = a.child.wait();
    assert!(b.sampling_rounds_reach(1.0).await, "the second process never took over");
    let took = now_ms() - killed;
    eprintln!("first round of the new sampler {took} ms after the SIGKILL (period 1000 ms)");
    assert!(b.sampling_rounds_reach(3.0).await, "the new sampler stopped");
    // The history goes on: points from before the kill (the first sampler) and after it.
    let p = points(&b, &ds, killed - 20_000, now_ms()).await;
    let series = p.values().next().unwrap();
    assert!(
        series.iter().filter(|(t, _)| *t < killed).count() >= 3,
        "killed at {killed}: {series:?}"
    );
    assert!(series.iter().filter(|(t, _)| *t > killed).count() >= 3, "{series:?}");
}

#[tokio::test]
async fn an_existing_stream_that_differs_is_used_as_it_is_and_named() {
    let nats = NatsServer::with_jetstream("");
    let _orders = orders(&nats).await;
    let js = async_nats::jetstream::new(connect(&nats.url()).await.unwrap());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "FLEET".into(),
        subjects: vec!["FLEET.>".into()],
        max_age: Duration::from_secs(600),
        ..Default::default()
    })
    .await
    .unwrap();
    let ds = DataSource::new(&nats.url()).json(json!({
        "sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream", "historyStream": "FLEET"
    }));
    let p = PluginProcess::start().await.unwrap();
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(message.contains("JetStream stream FLEET"), "{message}");
    assert!(message.contains("differs from these settings"), "{message}");
    assert!(message.contains("MaxAge is 10 min, retentionMinutes is 5"), "{message}");
    rounds_pass(&[&p], 2.0).await;
    let mut stream = js.get_stream("FLEET").await.unwrap();
    let info = stream.info().await.unwrap();
    assert_eq!(info.config.max_age, Duration::from_secs(600), "the stream was changed");
    assert!(info.state.messages >= 2, "{:?}", info.state);
}

/// Health and one `timeseries` query of a data source asking for the JetStream store where it
/// cannot be had: the health check fails with `expect`, the query answers from memory with a notice.
async fn degrades(ds: DataSource, expect: &[&str]) {
    let _orders = RustService::start(&ds.url, "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let p = PluginProcess::start().await.unwrap();
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 2, "the health check should fail: {message}");
    for e in expect {
        assert!(message.contains(e), "'{e}' missing from: {message}");
    }
    assert!(message.contains("set historyStore to memory"), "{message}");
    assert!(message.contains("kept in this process's memory"), "{message}");
    rounds_pass(&[&p], 3.0).await;
    let r = p
        .query_window(&ds, &[ping_rtt()], (now_ms() - 60_000, now_ms()), 1_000_000, 1000)
        .await
        .unwrap();
    let a = &r["A"];
    assert!(a.error.is_empty(), "{}", a.error);
    assert!(a.frames[0].rows() >= 3, "the memory history was not kept");
    let n = notices(a);
    assert!(
        n.iter()
            .any(|t| t.contains("kept in this plugin process's memory, not in JetStream")),
        "{n:?}"
    );
}

#[tokio::test]
async fn a_server_without_jetstream_degrades_to_memory_loudly() {
    let nats = NatsServer::start();
    degrades(
        jetstream_ds(&nats.url()),
        &["does not run JetStream", "enable JetStream on the server"],
    )
    .await;
}

#[tokio::test]
async fn an_account_without_jetstream_degrades_to_memory_loudly() {
    let nats = NatsServer::with_jetstream(
        "accounts { APP: { users: [{user: app, password: secret}] }, FULL: { jetstream: enabled, users: [{user: full, password: x}] } }\n",
    );
    let url = format!("nats://app:secret@127.0.0.1:{}", nats.port);
    let ds = jetstream_ds(&url);
    degrades(ds, &["not enabled for this NATS account"]).await;
}

#[tokio::test]
async fn a_user_denied_the_jetstream_api_degrades_to_memory_loudly() {
    let nats = NatsServer::with_jetstream(
        "authorization { users: [{user: app, password: secret, permissions: {publish: {allow: [\">\"], deny: [\"$JS.API.>\"]}}}] }\n",
    );
    let url = format!("nats://app:secret@127.0.0.1:{}", nats.port);
    let ds = jetstream_ds(&url).json(json!({
        "sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream", "timeoutMs": 500
    }));
    degrades(ds, &["may not use JetStream", "Permissions Violation"]).await;
}

#[tokio::test]
async fn a_settings_save_that_keeps_the_target_keeps_the_memory_history() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let _orders = orders(&nats).await;
    let mut ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 1, "retentionMinutes": 5}));
    assert_eq!(p.health(&ds).await.unwrap().0, 1);
    rounds_pass(&[&p], 3.0).await;
    let saved = now_ms();
    // Saved with another timeout and slow threshold: same servers, user and prefix.
    ds.json = json!({"sampleIntervalSec": 1, "retentionMinutes": 5, "timeoutMs": 1500, "slowMs": 800});
    ds.updated_ms += 1;
    let kept = points(&p, &ds, saved - 60_000, saved).await;
    let old = kept
        .values()
        .next()
        .map_or(0, |v| v.iter().filter(|(t, _)| *t < saved).count());
    assert!(old >= 3, "the save dropped the history: {kept:?}");
    // Saved with another srvPrefix: another fleet, so a history of its own.
    ds.json = json!({"sampleIntervalSec": 1, "retentionMinutes": 5, "srvPrefix": "$OTHER"});
    ds.updated_ms += 1;
    let moved = points(&p, &ds, saved - 60_000, saved).await;
    assert!(moved.values().all(|v| v.is_empty()), "{moved:?}");
}

/// The permissions the README lists for the JetStream store, and discovery's.
const README_PERMISSIONS: &str = r#"authorization { users: [
  {user: app, password: secret, permissions: {
    publish: {allow: ["$SRV.>", "NATSMICRO_HISTORY.>", "$JS.API.INFO", "$JS.API.STREAM.INFO.NATSMICRO_HISTORY",
      "$JS.API.STREAM.CREATE.NATSMICRO_HISTORY", "$JS.API.CONSUMER.CREATE.NATSMICRO_HISTORY",
      "$JS.API.CONSUMER.CREATE.NATSMICRO_HISTORY.>",
      "$JS.API.CONSUMER.DELETE.NATSMICRO_HISTORY.>", "$JS.API.CONSUMER.MSG.NEXT.NATSMICRO_HISTORY.>",
      "$JS.API.STREAM.INFO.KV_NATSMICRO_HISTORY_LEASE", "$JS.API.STREAM.CREATE.KV_NATSMICRO_HISTORY_LEASE",
      "$JS.API.DIRECT.GET.KV_NATSMICRO_HISTORY_LEASE.>", "$KV.NATSMICRO_HISTORY_LEASE.>", "$SYS.REQ.USER.INFO"]},
    subscribe: {allow: ["_INBOX.>"]}}},
  {user: svc, password: svc}
] }
"#;

#[tokio::test]
async fn the_permissions_the_readme_lists_are_enough() {
    let nats = NatsServer::with_jetstream(README_PERMISSIONS);
    let service_url = format!("nats://svc:svc@127.0.0.1:{}", nats.port);
    let _orders = RustService::start(&service_url, "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    // Enough rounds back to back for a checkpoint to be written and read under these permissions.
    let ds = DataSource::new(&format!("nats://app:secret@127.0.0.1:{}", nats.port)).json(json!({
        "sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream", "historyFillRounds": 20
    }));
    let p = PluginProcess::start().await.unwrap();
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(
        message.contains("History: JetStream stream NATSMICRO_HISTORY"),
        "{message}"
    );
    rounds_pass(&[&p], 3.0).await;
    let r = p
        .query_window(&ds, &[ping_rtt()], (now_ms() - 60_000, now_ms()), 1_000_000, 1000)
        .await
        .unwrap();
    assert!(
        notices(&r["A"]).is_empty(),
        "{:?}\n{}",
        notices(&r["A"]),
        p.stderr_text()
    );
    let text = p.metrics_text().await.unwrap();
    assert!(
        metric(&text, "natsmicro_history_messages_total{outcome=\"ingested\"}").unwrap_or(0.0) >= 3.0,
        "the stream was not read back: {text}"
    );
    let written = eventually(Duration::from_secs(30), || async {
        checkpoints(&p, "written").await >= 1.0
    })
    .await;
    assert!(written, "no checkpoint written: {}", p.stderr_text());
    // A second process (a restart) reads the history under the same permissions.
    let q = PluginProcess::start().await.unwrap();
    let restart = now_ms();
    let old = points(&q, &ds, restart - 60_000, restart).await;
    assert!(old.values().next().is_some_and(|v| v.len() >= 3), "{old:?}");
    assert_eq!(checkpoints(&q, "restored").await, 1.0, "{}", q.stderr_text());
}

#[tokio::test]
async fn broken_messages_in_the_stream_are_skipped_and_counted() {
    let nats = NatsServer::with_jetstream("");
    let _orders = orders(&nats).await;
    let ds = jetstream_ds(&nats.url());
    let p = PluginProcess::start().await.unwrap();
    assert_eq!(p.health(&ds).await.unwrap().0, 1);
    rounds_pass(&[&p], 2.0).await;
    // Find the target's subjects, then write junk among its rounds.
    let js = async_nats::jetstream::new(connect(&nats.url()).await.unwrap());
    let stream = js.get_stream("NATSMICRO_HISTORY").await.unwrap();
    let mut subjects = stream.info_with_subjects("NATSMICRO_HISTORY.>").await.unwrap();
    let subject = subjects.next().await.unwrap().unwrap().0;
    let prefix = subject.rsplit_once('.').unwrap().0.to_string();
    for junk in [
        &b"{\"not\":\"ours\"}"[..],
        b"NMH\x01\x01\x00\x00\x01\xff\xff\xff\xff\x0f",
        &[0u8; 3000][..],
    ] {
        js.publish(format!("{prefix}.ping"), junk.to_vec().into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    rounds_pass(&[&p], 2.0).await;
    let text = p.metrics_text().await.unwrap();
    assert_eq!(
        metric(&text, "natsmicro_history_messages_total{outcome=\"rejected\"}"),
        Some(3.0),
        "{text}"
    );
    // The history goes on around them, in this process and in a fresh one.
    let fresh = PluginProcess::start().await.unwrap();
    for q in [&p, &fresh] {
        let got = points(q, &ds, now_ms() - 60_000, now_ms()).await;
        assert!(got.values().next().is_some_and(|v| v.len() >= 4), "{got:?}");
    }
}

async fn checkpoints(p: &PluginProcess, outcome: &str) -> f64 {
    let text = p.metrics_text().await.unwrap();
    metric(
        &text,
        &format!("natsmicro_history_checkpoints_total{{outcome=\"{outcome}\"}}"),
    )
    .unwrap_or(0.0)
}

/// The ping `timeseries` over `[from, to]` per instance id, or the error (a node may be down).
async fn points_or_error(
    p: &PluginProcess,
    ds: &DataSource,
    from: i64,
    to: i64,
) -> Result<BTreeMap<String, Vec<i64>>, String> {
    let r = p
        .query_window(ds, &[ping_rtt()], (from, to), 1_000_000, 1000)
        .await
        .map_err(|e| e.to_string())?;
    let a = &r["A"];
    if !a.error.is_empty() {
        return Err(a.error.clone());
    }
    Ok(a.frames
        .iter()
        .filter_map(|f| {
            let id = f.numeric_fields().first()?.labels.as_ref()?["id"].as_str()?.to_string();
            let t = f.field("time").values.iter().filter_map(Value::as_i64);
            Some((id, t.map(|t| t / 1_000_000).filter(|t| *t <= to).collect()))
        })
        .collect())
}

#[tokio::test]
async fn a_stream_of_three_replicas_in_a_cluster_keeps_the_history_when_its_leader_dies() {
    let mut nodes = NatsServer::jetstream_cluster(3).await;
    let urls: Vec<String> = nodes.iter().map(NatsServer::url).collect();
    // A JetStream cluster elects its meta leader first: until then no stream can be made.
    let js = async_nats::jetstream::new(connect_all(&urls).await.unwrap());
    assert!(
        eventually(Duration::from_secs(30), || async { js.query_account().await.is_ok() }).await,
        "JetStream is not up in the cluster"
    );
    let _orders = RustService::start_on(connect_all(&urls).await.unwrap(), "orders", "1.0.0", &[], 0)
        .await
        .unwrap();
    let ds = DataSource::new(&urls.join(",")).json(json!({
        "sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream", "historyReplicas": 3
    }));
    let p = PluginProcess::start().await.unwrap();
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    rounds_pass(&[&p], 5.0).await;
    let mut stream = js.get_stream("NATSMICRO_HISTORY").await.unwrap();
    let info = stream.info().await.unwrap().clone();
    assert_eq!(info.config.num_replicas, 3);
    let cluster = info.cluster.expect("a clustered stream says where it lives");
    assert_eq!(cluster.replicas.len(), 2, "{cluster:?}");
    let leader = cluster.leader.expect("the stream has a leader");
    // Points older than 2 s are in the stream (a window reaching the present also gets the
    // round just taken, which may not be yet).
    let now = now_ms();
    let cut = now - 2000;
    let before = points_or_error(&p, &ds, now - 60_000, now).await.unwrap();
    let held = before
        .values()
        .next()
        .map_or(0, |v| v.iter().filter(|t| **t <= cut).count());
    assert!(held >= 3, "{before:?}");
    // Kill the node that leads the stream: the two left elect a new leader, keep every message,
    // and the sampler goes on storing rounds.
    let n: usize = leader.trim_start_matches('n').parse().unwrap();
    nodes[n - 1].stop();
    let fresh = PluginProcess::start().await.unwrap();
    let last = std::sync::Mutex::new(Err(String::new()));
    let whole = eventually(Duration::from_secs(60), || async {
        let got = points_or_error(&fresh, &ds, now - 60_000, now_ms()).await;
        let ok = got.as_ref().is_ok_and(|got| {
            got.values()
                .next()
                .is_some_and(|v| v.iter().filter(|t| **t <= cut).count() >= held && v.iter().any(|t| *t > now + 2000))
        });
        *last.lock().unwrap() = got;
        ok
    })
    .await;
    assert!(
        whole,
        "after n{n} (the stream leader) died, a fresh process should read the {held} points up to {cut} and new ones after {now}: {:?}; before the kill: {before:?}",
        last.lock().unwrap()
    );
}
