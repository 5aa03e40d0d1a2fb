//! Discovery rounds against a real nats-server with real micro services (Rust async-nats and Python nats.micro): the stop rules (no responders, one instance, every known instance, stall, cap), invalid replies counted, identical rounds shared, the parsed replies of all rounds of a connection bounded together.

mod support;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use natsmicro::model::micro::{Scope, Verb};
use natsmicro::model::observed::StopReason;
use natsmicro::nats::discovery::{Discovery, Policy};
use serde_json::json;
use support::*;

/// Round-level tests observe every round: no result sharing between identical discoveries.
fn policy() -> Policy {
    Policy {
        share_window: Duration::ZERO,
        ..Policy::new("$SRV", Duration::from_secs(2), Duration::from_secs(3600))
    }
}

/// Requests `sub` has received so far. Every request the plugin sent before this call reached the
/// server first, so after a round trip through the server they are all in `sub`.
async fn seen(spy: &async_nats::Client, sub: &mut async_nats::Subscriber) -> usize {
    server_round_trip(spy).await;
    let mut n = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::ZERO, sub.next()).await {
        n += 1;
    }
    n
}

async fn client(nats: &NatsServer) -> async_nats::Client {
    async_nats::connect(nats.url()).await.unwrap()
}

#[tokio::test]
async fn discovery_stops_at_once_on_no_responders_and_after_one_reply_for_an_instance() {
    let nats = NatsServer::start();
    let d = Discovery::new(client(&nats).await, policy());
    // How fast each stop answers is measured by `examples/bench.rs`; here: which rule stopped it.
    let r = d.discover(Verb::Ping, Scope::all()).await.unwrap();
    assert_eq!(r.stop, StopReason::NoResponders);
    assert!(r.replies.is_empty());

    let a = RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let _b = RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let one = Scope {
        service: Some("orders".into()),
        id: Some(a.id.clone()),
    };
    let r = d.discover(Verb::Info, one).await.unwrap();
    assert_eq!(r.stop, StopReason::Single);
    assert_eq!(r.replies.len(), 1);
    assert_eq!(r.replies[0].reply.id, a.id);
}

#[tokio::test]
async fn discovery_learns_the_fleet_then_answers_when_every_known_instance_replied() {
    let nats = NatsServer::start();
    let mut services = Vec::new();
    for _ in 0..5 {
        services.push(
            RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0)
                .await
                .unwrap(),
        );
    }
    let py = PythonService::start(&nats.url(), "billing", "2.0.0", 5, &[]).unwrap();
    let d = Discovery::new(client(&nats).await, policy());

    // Cold: nothing known, the round ends on a stall after the last reply.
    let cold = d.discover(Verb::Ping, Scope::all()).await.unwrap();
    assert_eq!(cold.stop, StopReason::Stall);
    assert_eq!(cold.replies.len(), 10);
    assert!(cold.elapsed >= Duration::from_millis(100));

    // Warm: every known instance replied, so it answers without waiting for a stall.
    for verb in [Verb::Ping, Verb::Stats, Verb::Info] {
        let warm = d.discover(verb, Scope::all()).await.unwrap();
        assert_eq!(warm.stop, StopReason::Complete, "{verb:?}");
        assert_eq!(warm.replies.len(), 10);
        // Complete: it answered on the last known reply, without waiting for a stall.
        assert!(warm.last_reply.is_some(), "{verb:?}");
    }
    let billing = Scope {
        service: Some("billing".into()),
        id: None,
    };
    let r = d.discover(Verb::Ping, billing).await.unwrap();
    assert_eq!(r.stop, StopReason::Complete);
    let mut ids: Vec<_> = r.replies.iter().map(|r| r.reply.id.clone()).collect();
    ids.sort();
    let mut want = py.ids.clone();
    want.sort();
    assert_eq!(ids, want);

    // A newcomer is learnt by the background listener and expected from then on.
    let newcomer = RustService::start(&nats.url(), "orders", "1.1.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let found = eventually(Duration::from_secs(3), || {
        let d = Arc::clone(&d);
        async move { d.discover(Verb::Ping, Scope::all()).await.unwrap().replies.len() == 11 }
    })
    .await;
    assert!(found, "new instance discovered");
    assert!(d.registry().snapshot().iter().any(|k| k.id == newcomer.id && k.alive));
}

#[tokio::test]
async fn discovery_caps_replies_and_counts_invalid_ones() {
    let nats = NatsServer::start();
    let c = client(&nats).await;
    // A hostile responder: garbage, wrong types, missing ids, a duplicate, and one valid reply.
    let mut sub = c.subscribe("$SRV.PING").await.unwrap();
    let responder = c.clone();
    tokio::spawn(async move {
        while let Some(m) = sub.next().await {
            let Some(reply) = m.reply else { continue };
            for body in [
                &b"\xff\xfe not json"[..],
                br#"{"type":"io.nats.micro.v1.stats_response","name":"x","id":"1"}"#,
                br#"{"type":"io.nats.micro.v1.ping_response","name":"x"}"#,
                br#"[1,2,3]"#,
                br#"{"type":"io.nats.micro.v1.ping_response","name":"evil","id":"e1","version":{"deep":[1,2]},"metadata":"no"}"#,
                br#"{"type":"io.nats.micro.v1.ping_response","name":"evil","id":"e1"}"#,
            ] {
                let _ = responder.publish(reply.clone(), body.to_vec().into()).await;
            }
        }
    });
    let mut services = Vec::new();
    for _ in 0..4 {
        services.push(
            RustService::start(&nats.url(), "orders", "1.0.0", &[], 0)
                .await
                .unwrap(),
        );
    }
    let d = Discovery::new(c.clone(), policy());
    let r = d.discover(Verb::Ping, Scope::all()).await.unwrap();
    let names: Vec<_> = r.replies.iter().map(|x| (x.reply.name.clone(), x.rtt)).collect();
    assert_eq!(
        r.replies.len(),
        5,
        "4 services + 1 valid hostile reply: {names:?} invalid={} stop={:?} elapsed={:?}",
        r.invalid,
        r.stop,
        r.elapsed
    );
    assert_eq!(r.invalid, 5);
    let evil = r.replies.iter().find(|x| x.reply.name == "evil").unwrap();
    assert_eq!(evil.reply.version, "");

    let capped = Discovery::new(
        c,
        Policy {
            max_replies: 3,
            ..policy()
        },
    );
    let r = capped.discover(Verb::Ping, Scope::all()).await.unwrap();
    assert_eq!(r.stop, StopReason::Capped);
    assert_eq!(r.replies.len(), 3);
}

#[tokio::test]
async fn identical_concurrent_queries_share_one_nats_request() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let _svc = RustService::start(&nats.url(), "orders", "1.0.0", &[("get", "orders.get")], 0)
        .await
        .unwrap();
    let spy = client(&nats).await;
    // Only the panels' subject: the history sampler sends its own `$SRV.PING` / `$SRV.STATS` rounds.
    let mut sub = spy.subscribe("$SRV.STATS.orders").await.unwrap();
    server_round_trip(&spy).await;
    let ds = DataSource::new(&nats.url());
    // Connect first so that the 30 panels race on discovery, not on connecting.
    assert_eq!(p.health(&ds).await.unwrap().0, 1);
    let before = seen(&spy, &mut sub).await;
    let panels = (0..30).map(|i| {
        let p = &p;
        let ds = ds.clone();
        async move {
            p.query(
                &ds,
                &[json!({"refId": format!("P{i}"), "queryType": "stats", "service": "orders"})],
            )
            .await
            .unwrap()
        }
    });
    let results = futures::future::join_all(panels).await;
    for r in &results {
        assert_eq!(r.values().next().unwrap().frame().rows(), 1);
    }
    let requests = seen(&spy, &mut sub).await;
    eprintln!("{before} request(s) before the panels");
    eprintln!("30 concurrent stats panels sent {requests} $SRV request(s)");
    assert_eq!(requests, 1, "{requests} NATS requests for 30 identical panels");
}

/// A STATS reply of instance `i` of `name` with 20 endpoints (about 2 KB).
fn stats_reply(name: &'static str) -> impl Fn(usize) -> Vec<u8> + Send + Sync + 'static {
    move |i| {
        let endpoints: Vec<serde_json::Value> = (0..20)
            .map(|e| {
                json!({"name": format!("e{e}"), "subject": format!("{name}.{e}"), "num_requests": e, "num_errors": 0,
                            "processing_time": 10, "average_processing_time": 1})
            })
            .collect();
        json!({"type": "io.nats.micro.v1.stats_response", "name": name, "id": format!("{name}{i}"), "version": "1.0.0",
               "started": "2026-01-01T00:00:00Z", "endpoints": endpoints})
        .to_string()
        .into_bytes()
    }
}

#[tokio::test]
async fn all_rounds_of_a_connection_together_hold_at_most_two_round_budgets_of_parsed_replies() {
    let nats = NatsServer::start();
    let mut floods = Vec::new();
    for name in ["alpha", "beta", "gamma", "delta"] {
        let subject = format!("$SRV.STATS.{name}");
        floods.push(
            Flood::start(&nats.url(), &subject, 300, stats_reply(name))
                .await
                .unwrap(),
        );
    }
    let scope = |name: &str| Scope {
        service: Some(name.into()),
        id: None,
    };
    // What one round of any of them holds parsed, measured with the default budget.
    let measure = Discovery::new(client(&nats).await, policy());
    let one = measure.discover(Verb::Stats, scope("alpha")).await.unwrap();
    assert_eq!(one.replies.len(), 300);
    let held = one.held.bytes();
    assert!(held > 0);
    drop(one);
    // A round budget one round fits in with room to spare: two rounds fit in the connection's
    // two budgets, three do not.
    let budget = held * 5 / 4;
    let d = Discovery::new(
        client(&nats).await,
        Policy {
            max_round_bytes: usize::try_from(budget).unwrap(),
            ..policy()
        },
    );
    assert_eq!(d.policy().max_connection_held(), 2 * budget);
    let a = d.discover(Verb::Stats, scope("alpha")).await.unwrap();
    let b = d.discover(Verb::Stats, scope("beta")).await.unwrap();
    for r in [&a, &b] {
        assert_ne!(r.stop, StopReason::Budget);
        assert_eq!(r.replies.len(), 300);
    }
    // While both are in use, gamma's round stops at the connection's bound, as if at its own.
    let c = d.discover(Verb::Stats, scope("gamma")).await.unwrap();
    assert_eq!(c.stop, StopReason::Budget);
    assert!(c.replies.len() < 300, "{}", c.replies.len());
    let together = a.held.bytes() + b.held.bytes() + c.held.bytes();
    assert!(
        together <= 2 * budget + held / 100,
        "the rounds hold {together} against {}",
        2 * budget
    );
    // Once alpha's round and the cut one are let go, a third round is whole again (delta's:
    // gamma's next round would stop at the instances its cut round made known).
    drop((a, c));
    let d3 = d.discover(Verb::Stats, scope("delta")).await.unwrap();
    assert_ne!(d3.stop, StopReason::Budget);
    assert_eq!(d3.replies.len(), 300);
    drop(b);
}
