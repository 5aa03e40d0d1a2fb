//! The shared JetStream history against peers on the same NATS account, with real nats-servers and plugin processes driven over gRPC: a round dated a year ahead is rejected (the history goes on), rounds and checkpoints without the data source's seal are not taken, and a user with fewer rights never reads the history another user sampled.

mod support;

#[path = "history_trust/checkpoints.rs"]
mod checkpoints;

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use natsmicro::model::history::wire::{encode, Records};
use natsmicro::model::history::PingSample;
use natsmicro::model::state::State;
use serde_json::{json, Value};
use support::*;

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The history subject prefix `<stream>.<target key>` the plugin writes to.
async fn target_prefix(client: &async_nats::Client) -> String {
    let js = async_nats::jetstream::new(client.clone());
    let found = eventually(Duration::from_secs(20), || async {
        let Ok(stream) = js.get_stream("NATSMICRO_HISTORY").await else {
            return false;
        };
        let Ok(mut subjects) = stream.info_with_subjects("NATSMICRO_HISTORY.*.ping").await else {
            return false;
        };
        matches!(subjects.next().await, Some(Ok(_)))
    })
    .await;
    assert!(found, "no ping round was stored");
    let stream = js.get_stream("NATSMICRO_HISTORY").await.unwrap();
    let mut subjects = stream.info_with_subjects("NATSMICRO_HISTORY.*.ping").await.unwrap();
    let subject = subjects.next().await.unwrap().unwrap().0;
    subject.rsplit_once('.').unwrap().0.to_string()
}

/// A ping round of one made-up instance, as the plugin's wire format writes it.
fn forged_round(t: i64, id: &str) -> Vec<u8> {
    let samples = vec![PingSample {
        service: "ghost".to_string(),
        id: id.to_string(),
        version: "6.6.6".to_string(),
        rtt_ms: Some(1.0),
        state: State::Up,
    }];
    encode(t, &Records::Ping(samples), 1 << 20).remove(0)
}

async fn publish(client: &async_nats::Client, subject: String, payload: Vec<u8>) {
    let js = async_nats::jetstream::new(client.clone());
    js.publish(subject, payload.into()).await.unwrap().await.unwrap();
}

#[tokio::test]
async fn a_round_dated_a_year_ahead_is_rejected_and_the_history_goes_on() {
    let env = TestEnv::jetstream_orders().await;
    let (ds, p) = (env.jetstream_ds(), &env.plugin);
    assert_eq!(p.health(&ds).await.unwrap().0, 1);
    let peer = connect(&env.nats.url()).await.unwrap();
    let prefix = target_prefix(&peer).await;
    assert!(p.sampling_rounds_reach(2.0).await);
    let year = 365 * 24 * 3_600_000;
    publish(&peer, format!("{prefix}.ping"), forged_round(now_ms() + year, "future")).await;
    let forged_at = now_ms();
    tokio::time::sleep(Duration::from_secs(6)).await;

    let fresh = PluginProcess::start().await.unwrap();
    for q in [p, &fresh] {
        let points = q.ping_points(&ds, (now_ms() - forged_at) / 1000).await;
        assert!(!points.contains_key("future"), "{points:?}");
        let orders: usize = points.values().sum();
        assert!(orders >= 4, "new points after the forged round: {points:?}");
    }
    let (_, message) = p.health(&ds).await.unwrap();
    assert!(message.contains("1 dated in the future"), "{message}");
}

const TWO_USERS: &str = r#"
accounts {
  APP {
    jetstream: enabled
    users = [
      {user: full, password: full-secret}
      {user: limited, password: limited-secret, permissions: {publish: {deny: ["$SRV.>"]}}}
      {user: peer, password: peer-secret}
    ]
  }
}
"#;

fn user_ds(nats: &NatsServer, user: &str) -> DataSource {
    DataSource::new(&nats.url())
        .json(json!({
            "authType": "userpass", "username": user,
            "sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream"
        }))
        .secure("password", &format!("{user}-secret"))
}

fn user_url(nats: &NatsServer, user: &str) -> String {
    nats.url().replace("nats://", &format!("nats://{user}:{user}-secret@"))
}

#[tokio::test]
async fn a_peer_that_can_publish_cannot_inject_rounds_or_checkpoints() {
    let nats = NatsServer::with_jetstream(TWO_USERS);
    let _orders = RustService::start(&user_url(&nats, "full"), "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let ds = user_ds(&nats, "full");
    let p = PluginProcess::start().await.unwrap();
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    let peer = connect(&user_url(&nats, "peer")).await.unwrap();
    let prefix = target_prefix(&peer).await;
    assert!(p.sampling_rounds_reach(2.0).await);
    // A round a second ahead (within the clock skew allowed), of an instance that does not exist.
    publish(&peer, format!("{prefix}.ping"), forged_round(now_ms() + 1000, "ghost1")).await;
    // A whole forged history: a checkpoint that claims to stand at the end of the stream.
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Natsmicro-Checkpoint", "0 1 0");
    let js = async_nats::jetstream::new(peer.clone());
    js.publish_with_headers(
        format!("{prefix}.checkpoint"),
        headers,
        b"not a history".to_vec().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let rounds = p.sampling_rounds().await;
    assert!(p.sampling_rounds_reach(rounds + 3.0).await);

    let fresh = PluginProcess::start().await.unwrap();
    for q in [&p, &fresh] {
        let points = q.ping_points(&ds, 60).await;
        let ids: BTreeSet<&String> = points.keys().collect();
        assert_eq!(ids.len(), 1, "only the real instance: {points:?}");
        assert!(!points.contains_key("ghost1"), "{points:?}");
    }
    let (_, message) = p.health(&ds).await.unwrap();
    assert!(
        message.contains("not sealed with this data source's credentials"),
        "{message}"
    );
    let (_, message) = fresh.health(&ds).await.unwrap();
    assert!(message.contains("not sealed"), "{message}");
}

#[tokio::test]
async fn a_user_with_fewer_rights_never_reads_the_history_another_user_sampled() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::builder()
        .jetstream()
        .nats_config(TWO_USERS)
        .start()
        .await
        .unwrap();
    let mut services = Vec::new();
    for name in ["orders", "billing", "audit"] {
        for _ in 0..2 {
            services.push(
                RustService::start(
                    &user_url(&nats, "full"),
                    name,
                    "1.0.0",
                    &[("get", &format!("{name}.get"))],
                    0,
                )
                .await
                .unwrap(),
            );
        }
    }
    let full = user_ds(&nats, "full").in_org(1, 7);
    let limited = user_ds(&nats, "limited").in_org(2, 8);
    let (status, message) = p.health(&full).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(message.contains("6 instances"), "{message}");
    assert!(p.sampling_rounds_reach(3.0).await);
    let (status, message) = p.health(&limited).await.unwrap();
    assert_eq!(status, 2, "discovery is refused to the limited user: {message}");
    tokio::time::sleep(Duration::from_secs(3)).await;

    let seen = &p.ping_points(&limited, 120).await;
    assert!(
        seen.is_empty(),
        "the limited data source reads none of full's history: {seen:?}"
    );
    let r = p
        .query(
            &limited,
            &[json!({"refId": "A", "queryType": "ping", "format": "table"})],
        )
        .await
        .unwrap();
    let rows = r["A"].frames.first().map_or(0, |f| f.rows());
    assert_eq!(
        rows,
        0,
        "nor its registry: {:?}",
        r["A"].frames.first().map(|f| f.strings("id"))
    );
    assert_eq!(p.ping_points(&full, 120).await.len(), 6);
}

#[tokio::test]
async fn with_the_readmes_server_config_another_user_cannot_touch_the_history() {
    let text = std::fs::read_to_string(repo().join("docs/nats/shared-history.conf")).unwrap();
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    assert!(
        readme.contains(&text),
        "README's \"Securing the shared history\" shows this file as it is"
    );
    let conf = text
        .replace("$GRAFANA_NATS_PASSWORD", "\"grafana-secret\"")
        .replace("$APP_NATS_PASSWORD", "\"app-secret\"");
    let TestEnv { nats, plugin: p, .. } = TestEnv::builder().jetstream().nats_config(&conf).start().await.unwrap();
    let app_url = nats.url().replace("nats://", "nats://app:app-secret@");
    let _orders = RustService::start(&app_url, "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let ds = DataSource::new(&nats.url())
        .json(json!({
            "authType": "userpass", "username": "grafana", "inboxPrefix": "_INBOX_grafana",
            "sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream"
        }))
        .secure("password", "grafana-secret");
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(
        message.contains("History: JetStream stream NATSMICRO_HISTORY"),
        "{message}"
    );
    assert!(p.sampling_rounds_reach(3.0).await);

    let app = connect(&app_url).await.unwrap();
    let js = async_nats::jetstream::ContextBuilder::new()
        .timeout(Duration::from_millis(1500))
        .build(app.clone());
    let mut snoop = app.subscribe("NATSMICRO_HISTORY.>").await.unwrap();
    assert!(
        js.get_stream("NATSMICRO_HISTORY").await.is_err(),
        "the stream is out of sight"
    );
    let mut rollup = async_nats::HeaderMap::new();
    rollup.insert("Nats-Rollup", "all");
    let published = match js
        .publish_with_headers("NATSMICRO_HISTORY.x.ping", rollup, "x".into())
        .await
    {
        Ok(ack) => ack.await.is_ok(),
        Err(_) => false,
    };
    assert!(!published, "a rollup onto the history is refused");
    for api in [
        "$JS.API.STREAM.PURGE.NATSMICRO_HISTORY",
        "$JS.API.STREAM.DELETE.NATSMICRO_HISTORY",
        "$JS.API.STREAM.MSG.DELETE.NATSMICRO_HISTORY",
        "$JS.API.STREAM.UPDATE.KV_NATSMICRO_HISTORY_LEASE",
        "$KV.NATSMICRO_HISTORY_LEASE.anything",
    ] {
        let asked = tokio::time::timeout(Duration::from_millis(1500), app.request(api, "{}".into())).await;
        assert!(!matches!(asked, Ok(Ok(_))), "{api} answered");
    }
    let rounds = p.sampling_rounds().await;
    assert!(p.sampling_rounds_reach(rounds + 3.0).await);
    let seen = tokio::time::timeout(Duration::from_millis(500), snoop.next()).await;
    assert!(!matches!(seen, Ok(Some(_))), "the app user reads no round");

    let points = &p.ping_points(&ds, 120).await;
    assert!(points.values().sum::<usize>() >= 6, "{points:?}");
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(!message.contains("not taken"), "{message}");
}

#[tokio::test]
async fn a_round_whose_later_chunks_never_came_marks_no_one_down() {
    let env = TestEnv::builder()
        .jetstream()
        .rust("orders", "1.0.0", &[("get", "orders.get")])
        .rust("orders", "1.0.0", &[("get", "orders.get")])
        .start()
        .await
        .unwrap();
    let (ds, p) = (env.jetstream_ds(), &env.plugin);
    assert_eq!(p.health(&ds).await.unwrap().0, 1);
    let peer = connect(&env.nats.url()).await.unwrap();
    let prefix = target_prefix(&peer).await;
    assert!(p.sampling_rounds_reach(3.0).await);
    let r = p
        .query(&ds, &[json!({"refId": "A", "queryType": "ping", "format": "table"})])
        .await
        .unwrap();
    let ids = r["A"].frame().strings("id");
    assert_eq!(ids.len(), 2);
    // A round of both instances in two chunks, of which only the first is ever stored (its
    // sampler died half-way).
    let samples: Vec<PingSample> = ids
        .iter()
        .map(|id| PingSample {
            service: "orders".to_string(),
            id: id.clone(),
            version: "1.0.0".to_string(),
            rtt_ms: Some(1.0),
            state: State::Up,
        })
        .collect();
    let chunks = encode(now_ms(), &Records::Ping(samples), 8);
    assert_eq!(chunks.len(), 2);
    publish(&peer, format!("{prefix}.ping"), chunks[0].clone()).await;
    let rounds = p.sampling_rounds().await;
    assert!(p.sampling_rounds_reach(rounds + 3.0).await);

    let fresh = PluginProcess::start().await.unwrap();
    for q in [p, &fresh] {
        let now = now_ms();
        let r = q
            .query_window(
                &ds,
                &[json!({"refId": "E", "queryType": "events"})],
                (now - 120_000, now),
                1000,
                1000,
            )
            .await
            .unwrap();
        let e = &r["E"];
        assert!(e.error.is_empty(), "{}", e.error);
        let texts: Vec<String> = e.frames.iter().flat_map(|f| f.strings("text")).collect();
        assert!(
            !texts.iter().any(|t| t.contains("stopped answering")),
            "nobody went down: {texts:?}"
        );
    }
}

fn users_config(deny_ping: bool) -> String {
    let deny = if deny_ping {
        r#", permissions: {publish: {deny: ["$SRV.PING", "$SRV.PING.>"]}}"#
    } else {
        ""
    };
    format!(
        "accounts {{ APP {{ jetstream: enabled\n users = [ {{user: grafana, password: grafana-secret{deny}}}, {{user: svc, password: svc-secret}} ] }} }}\n"
    )
}

#[tokio::test]
async fn a_holder_that_nats_refuses_to_ping_gives_the_lease_up_and_sampling_resumes_when_allowed() {
    let mut nats = NatsServer::with_jetstream(&users_config(false));
    let _orders = RustService::start(&user_url(&nats, "svc"), "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let ds = user_ds(&nats, "grafana");
    let p = PluginProcess::start().await.unwrap();
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(p.sampling_rounds_reach(2.0).await);
    let other = PluginProcess::start().await.unwrap();
    let (_, message) = other.health(&ds).await.unwrap();
    assert!(message.contains("sampled by another plugin process"), "{message}");

    let reloaded = |deny: bool| {
        format!(
            "jetstream {{ store_dir: \"{}\" }}\n{}",
            nats.dir().join("jetstream").display(),
            users_config(deny)
        )
    };
    let denying = reloaded(true);
    let allowing = reloaded(false);
    nats.reload(&denying);
    // Discovery is refused, so Save & test fails on that; the sampler gives its lease up.
    let said = "this process cannot sample: it gives the sampling lease up";
    let gave_up = eventually(Duration::from_secs(20), || async { p.stderr_text().contains(said) }).await;
    assert!(gave_up, "{}", p.stderr_text());
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 2, "{message}");
    // No round of every instance down was stored meanwhile (the last point of the answer is the
    // query's own fresh round, which is refused too, and says so).
    let r = other
        .query(
            &ds,
            &[json!({"refId": "A", "queryType": "ping", "format": "timeseries", "metric": "up", "live": false})],
        )
        .await
        .unwrap();
    let stored: Vec<Option<f64>> = r["A"]
        .frames
        .iter()
        .flat_map(|f| {
            let mut v = f.numeric_fields()[0]
                .values
                .iter()
                .map(Value::as_f64)
                .collect::<Vec<_>>();
            v.pop();
            v
        })
        .collect();
    assert!(!stored.is_empty());
    assert!(
        !stored.contains(&Some(0.0)),
        "no stored round says the instance is down: {stored:?}"
    );

    nats.reload(&allowing);
    let resumed = eventually(Duration::from_secs(30), || async {
        let a = p.sampling_rounds().await + other.sampling_rounds().await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        p.sampling_rounds().await + other.sampling_rounds().await >= a + 1.0
    })
    .await;
    assert!(resumed, "sampling resumes once NATS allows it again");
}

/// libfaketime (Debian's package, installed by scripts/setup.sh): a process whose clock is off.
const FAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1";

async fn messages(p: &PluginProcess, outcome: &str) -> f64 {
    let text = p.metrics_text().await.unwrap();
    metric(
        &text,
        &format!("natsmicro_history_messages_total{{outcome=\"{outcome}\"}}"),
    )
    .unwrap_or(0.0)
}

#[tokio::test]
async fn a_handover_to_a_host_whose_clock_is_behind_keeps_the_history_going() {
    assert!(
        std::path::Path::new(FAKETIME).exists(),
        "libfaketime is missing: scripts/setup.sh installs it"
    );
    let nats = NatsServer::with_jetstream("");
    let _orders = RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let ds = DataSource::new(&nats.url())
        .json(json!({"sampleIntervalSec": 1, "retentionMinutes": 5, "historyStore": "jetstream"}));
    let ahead = PluginProcess::start().await.unwrap();
    let (_, message) = ahead.health(&ds).await.unwrap();
    assert!(message.contains("sampled by this plugin process"), "{message}");
    assert!(ahead.sampling_rounds_reach(3.0).await);
    let behind = PluginProcess::start_with_env(&[
        ("LD_PRELOAD", FAKETIME),
        ("FAKETIME", "-20s"),
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ])
    .await
    .unwrap();
    assert_eq!(behind.health(&ds).await.unwrap().0, 1);
    drop(ahead);
    assert!(
        behind.sampling_rounds_reach(4.0).await,
        "the process behind took the lease over"
    );
    // A process with a true clock reads the whole window: every round counts, none out of order.
    let reader = PluginProcess::start().await.unwrap();
    let (_, message) = reader.health(&ds).await.unwrap();
    let started = message
        .split("(started ")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .and_then(|n| n.parse::<i64>().ok())
        .expect("the holder's description");
    let behind_by = chrono::Utc::now().timestamp_nanos_opt().unwrap() - started;
    assert!(
        behind_by > 15_000_000_000,
        "the sampler's clock is behind: {behind_by} ns"
    );
    assert!(behind.sampling_rounds_reach(6.0).await);
    assert_eq!(messages(&reader, "out_of_order").await, 0.0);
    let points = &reader.ping_points(&ds, 120).await;
    assert!(
        points.values().sum::<usize>() >= 9,
        "3 rounds before, 6 after: {points:?}"
    );
}
