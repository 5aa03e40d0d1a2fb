//! Tenant isolation: two Grafana orgs provision the same data source uid (same id, same `lastUpdatedMS`) pointing at different NATS servers; every call of one org must be answered from its own settings only.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use grafana_plugin_sdk::pluginv2::{self, subscribe_stream_response::Status as SubStatus};
use serde_json::{json, Value};
use support::*;

/// The same provisioning YAML applied to two orgs: one uid, one id, one settings stamp.
/// Two orgs' worlds behind one plugin: server `a` runs `alpha`, server `b` runs `beta`, and each
/// org has a data source with the same uid, id and settings stamp pointing at its own server.
struct Twins {
    a: NatsServer,
    _b: NatsServer,
    _services: [RustService; 2],
    org1: DataSource,
    org2: DataSource,
    p: PluginProcess,
}

async fn twins() -> Twins {
    let (a, b) = (NatsServer::start(), NatsServer::start());
    let alpha = RustService::start(&a.url(), "alpha", "1.0.0", &[("get", "alpha.get")], 0)
        .await
        .unwrap();
    let beta = RustService::start(&b.url(), "beta", "2.0.0", &[("get", "beta.get")], 0)
        .await
        .unwrap();
    let settings = json!({"sampleIntervalSec": 1, "timeoutMs": 500});
    let mut org1 = DataSource::new(&a.url()).json(settings.clone()).in_org(1, 3);
    let mut org2 = DataSource::new(&b.url()).json(settings).in_org(2, 3);
    org1.uid = "nats-micro".into();
    org2.uid = "nats-micro".into();
    org1.updated_ms = 1_700_000_000_000;
    org2.updated_ms = 1_700_000_000_000;
    let p = PluginProcess::start().await.unwrap();
    Twins {
        a,
        _b: b,
        _services: [alpha, beta],
        org1,
        org2,
        p,
    }
}

/// Service names of every row of a `ping` instant answer.
async fn pinged_services(p: &PluginProcess, ds: &DataSource) -> BTreeSet<String> {
    let r = p
        .query(ds, &[json!({"refId": "A", "queryType": "ping", "format": "table"})])
        .await
        .unwrap();
    r["A"].frame().strings("service").into_iter().collect()
}

/// Service names that carry points in a `ping` time series over the last hour, as an alert rule asks.
async fn history_services(p: &PluginProcess, ds: &DataSource) -> HashMap<String, usize> {
    let now = chrono::Utc::now().timestamp_millis();
    let r = p
        .query_window(
            ds,
            &[json!({"refId": "H", "queryType": "ping", "format": "timeseries"})],
            (now - 3_600_000, now),
            1000,
            1000,
        )
        .await
        .unwrap();
    let mut out = HashMap::new();
    for f in &r["H"].frames {
        for field in f.numeric_fields() {
            let service = field
                .labels
                .as_ref()
                .and_then(|l| l["service"].as_str())
                .unwrap_or_default()
                .to_string();
            let points = field.values.iter().filter(|v| !v.is_null()).count();
            *out.entry(service).or_insert(0) += points;
        }
    }
    out
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn two_orgs_sharing_a_uid_never_see_each_others_services() {
    // Bound whole: the servers and services must live as long as the test.
    let t = twins().await;
    let (org1, org2, p) = (&t.org1, &t.org2, &t.p);

    // Alternating calls of every kind, in both orders.
    let mut crossed = Vec::new();
    for i in 0..30 {
        let (first, second) = if i % 2 == 0 { (&org1, &org2) } else { (&org2, &org1) };
        for ds in [first, second] {
            let own = if ds.org_id == 1 { "alpha" } else { "beta" };
            let seen = pinged_services(p, ds).await;
            if seen != set(&[own]) {
                crossed.push(format!("call {i}, org {}: ping saw {seen:?}", ds.org_id));
            }
        }
        if i % 5 == 0 {
            for ds in [first, second] {
                let own = if ds.org_id == 1 { "alpha" } else { "beta" };
                let other = if ds.org_id == 1 { "beta" } else { "alpha" };
                let (status, message) = p.health(ds).await.unwrap();
                if status != 1 || !message.contains(own) || message.contains(other) {
                    crossed.push(format!("call {i}, org {}: health said {message}", ds.org_id));
                }
                let (code, body) = p.resource_get(ds, "services").await.unwrap();
                let names: BTreeSet<String> = body
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|s| s.get("name").or(Some(s)).and_then(Value::as_str).map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                if code != 200 || names != set(&[own]) {
                    crossed.push(format!("call {i}, org {}: resource services gave {body}", ds.org_id));
                }
            }
        }
    }
    assert!(
        crossed.is_empty(),
        "answers crossed between orgs:\n{}",
        crossed.join("\n")
    );

    // Each org kept its own sampler and history through the alternation.
    let ok = eventually(Duration::from_secs(20), || async {
        let (h1, h2) = (history_services(p, org1).await, history_services(p, org2).await);
        h1.keys().all(|k| k == "alpha")
            && h2.keys().all(|k| k == "beta")
            && h1.get("alpha").copied().unwrap_or(0) >= 3
            && h2.get("beta").copied().unwrap_or(0) >= 3
    })
    .await;
    let (h1, h2) = (history_services(p, org1).await, history_services(p, org2).await);
    assert!(ok, "each org keeps its own history: org 1 {h1:?}, org 2 {h2:?}");
    let m = p.metrics_text().await.unwrap();
    let samplers = m.lines().find_map(|l| {
        l.strip_prefix("natsmicro_history_samplers ")?
            .trim()
            .parse::<f64>()
            .ok()
    });
    assert_eq!(samplers, Some(2.0), "one sampler per org's data source:\n{m}");
}

#[tokio::test]
async fn a_settings_save_in_one_org_leaves_the_other_org_alone() {
    // Bound whole: the servers and services must live as long as the test.
    let mut t = twins().await;
    let (a, org1, p) = (&t.a, t.org1.clone(), &t.p);
    let org2 = &mut t.org2;
    assert_eq!(pinged_services(p, &org1).await, set(&["alpha"]));
    assert_eq!(pinged_services(p, org2).await, set(&["beta"]));
    assert!(
        eventually(Duration::from_secs(20), || async {
            history_services(p, &org1).await.get("alpha").copied().unwrap_or(0) >= 3
        })
        .await,
        "org 1 builds history"
    );
    let before = history_services(p, &org1).await["alpha"];

    // Org 2 saves its settings (newer stamp, org 1's server), several times.
    for n in 1..=3 {
        org2.updated_ms += 1000;
        org2.url = a.url();
        org2.json = json!({"sampleIntervalSec": 1, "timeoutMs": 500 + n});
        assert_eq!(
            pinged_services(p, org2).await,
            set(&["alpha"]),
            "org 2 uses its new settings"
        );
        assert_eq!(pinged_services(p, &org1).await, set(&["alpha"]));
    }
    // Org 1's history was not dropped (its connection and sampler were never replaced).
    let after = history_services(p, &org1).await["alpha"];
    assert!(
        after >= before,
        "org 1's history survived org 2's saves: {before} points before, {after} after"
    );
    let replacing = |l: &str| l.matches("settings changed; replacing its NATS connection").count();
    let log = p.stderr_when(|l| replacing(l) >= 3).await;
    let replaced: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("settings changed; replacing its NATS connection"))
        .collect();
    assert_eq!(replaced.len(), 3, "only org 2's connection was replaced: {replaced:?}");
    assert!(replaced.iter().all(|l| l.contains("\"org_id\":2")), "{replaced:?}");
}

/// Series names (`service/id`) of a Live frame's fields, `time` left out.
fn series(frame: &Value) -> BTreeSet<String> {
    frame["schema"]["fields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["name"].as_str())
        .filter(|n| *n != "time")
        .map(|n| n.split('/').next().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn live_streams_of_the_same_channel_in_two_orgs_stay_apart() {
    // Bound whole: the servers and services must live as long as the test.
    let t = twins().await;
    let (org1, org2, p) = (&t.org1, &t.org2, &t.p);
    let path = "v1/ping/timeseries/rtt/=/=/=";

    // The channel each org's dashboard gets is the same string: Grafana scopes it by org.
    let q = json!({"refId": "A", "queryType": "ping", "format": "timeseries"});
    let r1 = p.query(org1, std::slice::from_ref(&q)).await.unwrap();
    let r2 = p.query(org2, std::slice::from_ref(&q)).await.unwrap();
    let channel = |r: &std::collections::BTreeMap<String, Response>| r["A"].frame().meta["channel"].clone();
    assert_eq!(channel(&r1), json!(format!("ds/nats-micro/{path}")));
    assert_eq!(channel(&r1), channel(&r2));

    // History and packets of each org show only that org's services, whichever starts first.
    for (first, second) in [(&org2, &org1), (&org1, &org2)] {
        let mut s_first = p.run_stream(first, path).await;
        let mut s_second = p.run_stream(second, path).await;
        for (ds, s) in [(first, &mut s_first), (second, &mut s_second)] {
            let own = if ds.org_id == 1 { "alpha" } else { "beta" };
            let mut seen = BTreeSet::new();
            for _ in 0..3 {
                let packet = tokio::time::timeout(Duration::from_secs(20), s.message())
                    .await
                    .expect("a packet within 20 s")
                    .expect("stream ok")
                    .expect("stream not ended");
                let frame: Value = serde_json::from_slice(&packet.data).unwrap();
                seen.extend(series(&frame));
            }
            assert_eq!(seen, set(&[own]), "org {} packets", ds.org_id);
        }
        for ds in [first, second] {
            let own = if ds.org_id == 1 { "alpha" } else { "beta" };
            let sub = p
                .stream()
                .subscribe_stream(pluginv2::SubscribeStreamRequest {
                    plugin_context: Some(ds.context("Viewer")),
                    path: path.into(),
                    data: Default::default(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(sub.status, SubStatus::Ok as i32);
            assert!(
                sub.data.is_empty(),
                "history travels in QueryData, not in the subscription"
            );
            let r = p.query(ds, std::slice::from_ref(&q)).await.unwrap();
            let names: BTreeSet<String> = r["A"]
                .frame()
                .fields
                .iter()
                .filter_map(|f| f.labels.as_ref()?["service"].as_str().map(str::to_string))
                .collect();
            assert!(
                !names.is_empty() && names.is_subset(&set(&[own])),
                "org {} history shows {names:?}",
                ds.org_id
            );
        }
    }
}
