//! The plugin over gRPC against a real nats-server with real micro services (Rust async-nats and Python nats.micro): every query type and format, request errors, down detection, health messages, recovery after a NATS restart, connections replaced and closed, resources, TLS.

mod support;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use natsmicro::model::settings::{RawSettings, Settings};
use natsmicro::nats::connection::{Connections, SourceId, SourceKey};
use serde_json::json;
use support::*;

/// Run health checks; each case: data source, expected status (1 ok, 2 error), text the message must contain.
async fn expect_health(p: &PluginProcess, cases: Vec<(DataSource, i32, &str)>, never: &[&str]) {
    for (i, (ds, want_status, want)) in cases.into_iter().enumerate() {
        let (status, message) = p.health(&ds).await.unwrap();
        eprintln!("health case {i}: {message}");
        assert_eq!(status, want_status, "case {i}: {message}");
        assert!(message.contains(want), "case {i}: want {want:?} in {message:?}");
        for secret in never {
            assert!(!message.contains(secret), "case {i}: {secret:?} in the message");
        }
    }
}

/// The endpoints of the `orders` instances: `get` and `add`, never failing.
const ORDERS_ENDPOINTS: &[(&str, &str)] = &[("get", "orders.get"), ("add", "orders.add")];

async fn client(nats: &NatsServer) -> async_nats::Client {
    async_nats::connect(nats.url()).await.unwrap()
}

#[tokio::test]
async fn every_query_type_and_format_from_rust_and_python_services() {
    let mut env = TestEnv::builder()
        .rust("orders", "1.0.0", ORDERS_ENDPOINTS)
        .rust("orders", "1.1.0", ORDERS_ENDPOINTS)
        .python(
            "billing",
            "2.0.0",
            2,
            &[
                "--endpoint",
                "charge:billing.charge",
                "--fail-every",
                "2",
                "--metadata",
                "region=eu",
            ],
        )
        .start()
        .await
        .unwrap();
    let r2 = env.rust.remove(1);
    let (nats, p) = (&env.nats, &env.plugin);
    let (r1, py) = (&env.rust[0], &env.python[0]);
    let c = client(nats).await;
    for _ in 0..4 {
        let _ = c.request("billing.charge", "{}".into()).await;
        let _ = c.request("orders.get", "".into()).await;
    }
    let ds = DataSource::new(&nats.url()).json(json!({"requestSubjects": ["orders.*"]}));
    let r = p
        .query(
            &ds,
            &[
                json!({"refId": "ping", "queryType": "ping", "format": "instant"}),
                json!({"refId": "pingUp", "queryType": "ping", "metric": "up", "service": "billing"}),
                json!({"refId": "one", "queryType": "ping", "service": "orders", "instance": r1.id}),
                json!({"refId": "svc", "queryType": "services"}),
                json!({"refId": "svcT", "queryType": "services", "format": "table"}),
                json!({"refId": "info", "queryType": "info"}),
                json!({"refId": "stats", "queryType": "stats", "metric": "errors"}),
                json!({"refId": "statsT", "queryType": "stats", "format": "table", "endpoint": "charge"}),
                json!({"refId": "req", "queryType": "request", "subject": "orders.get", "payload": "{\"id\":7,\"item\":\"book\"}"}),
                json!({"refId": "denied", "queryType": "request", "subject": "billing.charge"}),
            ],
        )
        .await
        .unwrap();

    // ping instant: numeric-long, one numeric field with unit ms, string dimensions.
    let ping = r["ping"].frame();
    assert_eq!(ping.meta["type"], "numeric-long");
    assert_eq!(ping.meta["typeVersion"], json!([0, 1]));
    assert_eq!(ping.meta["executedQueryString"], "$SRV.PING");
    assert!(alertable_instant(ping), "{ping:?}");
    assert_eq!(ping.strings("service"), ["billing", "billing", "orders", "orders"]);
    let mut ids = ping.strings("id");
    ids.sort();
    let mut want = vec![r1.id.clone(), r2.id.clone(), py.ids[0].clone(), py.ids[1].clone()];
    want.sort();
    assert_eq!(ids, want);
    assert_eq!(ping.field("rtt").config.as_ref().unwrap()["unit"], "ms");
    assert!(ping
        .numbers("rtt")
        .iter()
        .all(|v| v.is_some_and(|ms| ms > 0.0 && ms < 2000.0)));
    assert_eq!(r["pingUp"].frame().numbers("up"), [Some(1.0), Some(1.0)]);
    assert_eq!(r["one"].frame().strings("id"), std::slice::from_ref(&r1.id));

    // services: instances per service; table adds versions.
    let svc = r["svc"].frame();
    assert!(alertable_instant(svc));
    assert_eq!(svc.strings("service"), ["billing", "orders"]);
    assert_eq!(svc.numbers("instances"), [Some(2.0), Some(2.0)]);
    let svc_t = r["svcT"].frame();
    assert_eq!(svc_t.meta["type"], "table");
    assert_eq!(svc_t.strings("versions"), ["2.0.0", "1.0.0, 1.1.0"]);

    // info: Python reports description null and endpoint metadata null: both become "".
    let info = r["info"].frame();
    assert_eq!(info.meta["type"], "table");
    let rows: Vec<(String, String)> = info
        .strings("service")
        .into_iter()
        .zip(info.strings("endpoint"))
        .collect();
    assert_eq!(rows.iter().filter(|(s, _)| s == "orders").count(), 4);
    assert!(rows.contains(&("billing".into(), "charge".into())));
    let billing_row = rows.iter().position(|(s, _)| s == "billing").unwrap();
    assert_eq!(info.strings("metadata")[billing_row], r#"{"region":"eu"}"#);
    let order_rows: Vec<&String> = rows.iter().filter(|(s, _)| s == "orders").map(|(_, e)| e).collect();
    assert_eq!(order_rows, ["add", "get", "add", "get"], "endpoints sorted by name");

    // stats: errors per endpoint; the Python endpoint failed every 2nd request.
    let stats = r["stats"].frame();
    assert!(alertable_instant(stats));
    assert_eq!(stats.field("errors").config.as_ref().unwrap()["unit"], "short");
    let stats_t = r["statsT"].frame();
    assert_eq!(stats_t.strings("endpoint"), ["charge", "charge"]);
    let reqs: Vec<f64> = stats_t.numbers("requests").iter().map(|v| v.unwrap()).collect();
    let errs: Vec<f64> = stats_t.numbers("errors").iter().map(|v| v.unwrap()).collect();
    assert_eq!(reqs.iter().sum::<f64>(), 4.0, "the queue group spread 4 requests");
    // Each instance fails its every 2nd request.
    let want: Vec<f64> = reqs.iter().map(|r| (r / 2.0).floor()).collect();
    assert_eq!(errs, want);
    assert!(stats_t
        .field("started")
        .values
        .iter()
        .all(|v| v.as_i64().is_some_and(|ns| ns > 1_700_000_000_000_000_000)));
    assert!(matches!(
        stats_t.field("started").data_type,
        arrow_schema::DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, _)
    ));
    assert_eq!(
        stats_t.field("error_ratio").config.as_ref().unwrap()["unit"],
        "percentunit"
    );

    // request: JSON reply becomes columns; a subject outside requestSubjects is refused on its refId.
    let req = r["req"].frame();
    assert_eq!(req.numbers("id"), [Some(7.0)]);
    assert_eq!(req.strings("item"), ["book"]);
    assert!(r["denied"].error.contains("not allowed"), "{}", r["denied"].error);
    assert_eq!(r["denied"].status, 400);
    r2.stop().await;
}

#[tokio::test]
async fn request_errors_are_clear_and_per_ref_id() {
    let env = TestEnv::builder()
        .rust_failing("orders", "1.0.0", &[("get", "orders.get")], 1)
        .start()
        .await
        .unwrap();
    let (nats, p) = (&env.nats, &env.plugin);
    let ds = DataSource::new(&nats.url()).json(json!({"requestSubjects": ["orders.>"], "timeoutMs": 300}));
    let r = p
        .query(
            &ds,
            &[
                json!({"refId": "A", "queryType": "request", "subject": "orders.get"}),
                json!({"refId": "B", "queryType": "request", "subject": "orders.nobody"}),
                json!({"refId": "C", "queryType": "ping"}),
            ],
        )
        .await
        .unwrap();
    assert!(
        r["A"].error.contains("service answered with error 503: boom"),
        "{}",
        r["A"].error
    );
    assert!(
        r["B"].error.contains("no service listens on orders.nobody"),
        "{}",
        r["B"].error
    );
    assert_eq!(r["C"].frame().rows(), 1);
}

#[tokio::test]
async fn an_instance_that_stops_answering_is_reported_down() {
    let mut env = TestEnv::builder()
        .rust("orders", "1.0.0", &[])
        .rust("orders", "1.0.0", &[])
        .start()
        .await
        .unwrap();
    let gone = env.rust.remove(1);
    let (nats, p, keep) = (&env.nats, &env.plugin, &env.rust[0]);
    let gone_id = gone.id.clone();
    let ds = DataSource::new(&nats.url());
    let q = [
        json!({"refId": "rtt", "queryType": "ping"}),
        json!({"refId": "up", "queryType": "ping", "metric": "up"}),
        json!({"refId": "svc", "queryType": "services", "format": "table"}),
    ];
    let before = p.query(&ds, &q).await.unwrap();
    assert_eq!(before["rtt"].frame().rows(), 2);
    gone.stop().await;
    // Results are shared for Policy::share_window (100 ms): ask until a round after it answers.
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        let r = p.query(&ds, &q).await.unwrap();
        if r["up"].frame().numbers("up").contains(&Some(0.0)) || Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let rtt = after["rtt"].frame();
    let ids = rtt.strings("id");
    let idx = ids
        .iter()
        .position(|i| *i == gone_id)
        .expect("down instance still listed");
    assert_eq!(rtt.numbers("rtt")[idx], None, "no RTT for a down instance");
    assert!(rtt.field("rtt").nullable);
    let keep_idx = ids.iter().position(|i| *i == keep.id).unwrap();
    assert!(rtt.numbers("rtt")[keep_idx].is_some());
    let up = after["up"].frame();
    assert_eq!(up.numbers("up")[idx], Some(0.0));
    assert_eq!(up.numbers("up")[keep_idx], Some(1.0));
    let svc = after["svc"].frame();
    assert_eq!(
        (svc.numbers("instances"), svc.numbers("down")),
        (vec![Some(1.0)], vec![Some(1.0)])
    );
}

#[tokio::test]
async fn nats_down_fails_fast_then_recovers_by_itself() {
    let TestEnv {
        mut nats, plugin: p, ..
    } = TestEnv::empty().await;
    let url = nats.url();
    let ds = DataSource::new(&url).json(json!({"timeoutMs": 2000}));
    let q = [json!({"refId": "A", "queryType": "ping"})];
    let _svc = PythonService::start(&url, "orders", "1.0.0", 1, &["--max-reconnect-attempts", "-1"]).unwrap();
    assert_eq!(p.query(&ds, &q).await.unwrap()["A"].frame().rows(), 1);

    nats.stop();
    // Fast: the query fails with "down" at once instead of waiting out its 2 s timeout (how fast
    // is measured by examples/bench.rs). Poll until the client has noticed the server is gone.
    let noticed = eventually(Duration::from_secs(10), || async {
        p.query(&ds, &q).await.unwrap()["A"]
            .error
            .contains("connection is down")
    })
    .await;
    assert!(noticed, "queries never failed fast while NATS was down");
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 2);
    assert!(message.contains("down"), "{message}");

    nats.restart();
    let recovered = eventually(Duration::from_secs(10), || async {
        let r = p.query(&ds, &q).await.unwrap();
        r["A"].error.is_empty() && r["A"].frames[0].rows() == 1
    })
    .await;
    assert!(recovered, "queries succeed again after NATS came back");
}

#[tokio::test]
async fn health_says_what_works_and_exactly_what_to_fix() {
    let closed = ClosedPort::new();
    let nats = NatsServer::with_config(
        r#"authorization { users = [
            { user: ops, password: "ops-pw" }
            { user: locked, password: "locked-pw", permissions: {
                publish: { allow: ["$SRV.>"] },
                subscribe: { allow: ["_INBOX_grafana.>"] } } }
        ] }"#,
    );
    let svc_url = format!("nats://ops:ops-pw@127.0.0.1:{}", nats.port);
    let _a = RustService::start(&svc_url, "orders", "1.0.0", &[], 0).await.unwrap();
    let _py = PythonService::start(&svc_url, "billing", "1.0.0", 2, &[]).unwrap();
    let p = PluginProcess::start().await.unwrap();
    let user = |name: &str, pw: &str| {
        DataSource::new(&nats.url())
            .json(json!({"authType": "userpass", "username": name, "timeoutMs": 500}))
            .secure("password", pw)
    };
    let port = nats.port;
    let cases: Vec<(DataSource, i32, &str)> = vec![
        (
            user("ops", "ops-pw"),
            1,
            "2 services with 3 instances answered $SRV.PING",
        ),
        (
            DataSource::new(&format!("nats://ops:ops-pw@127.0.0.1:{port}")),
            1,
            "billing (2), orders (1)",
        ),
        (user("ops", "nope"), 2, "refused the credentials (authType userpass)"),
        (
            DataSource::new(&closed.url()),
            2,
            "cannot reach NATS at nats://127.0.0.1:",
        ),
        (user("locked", "locked-pw"), 2, "set inboxPrefix"),
        (
            user("locked", "locked-pw")
                .json(json!({"authType": "userpass", "username": "locked", "inboxPrefix": "_INBOX_grafana"})),
            1,
            "3 instances",
        ),
        (DataSource::new(&format!("tls://ops:ops-pw@127.0.0.1:{port}")), 2, "TLS"),
        (
            DataSource::new(&nats.url()).json(json!({"authType": "nkey"})),
            2,
            "authType is nkey but no nkeySeed is set",
        ),
        (DataSource::new("http://x"), 2, "use nats://, tls://, ws:// or wss://"),
        (
            user("ops", "ops-pw").json(json!({"authType": "userpass", "username": "ops", "srvPrefix": "$OTHER"})),
            1,
            "no responders",
        ),
    ];
    expect_health(&p, cases, &["ops-pw", "locked-pw"]).await;
}

#[tokio::test]
async fn changed_settings_replace_the_connection() {
    let first = NatsServer::start();
    let second = NatsServer::start();
    let _a = RustService::start(&first.url(), "alpha", "1.0.0", &[], 0)
        .await
        .unwrap();
    let _b = RustService::start(&second.url(), "beta", "1.0.0", &[], 0)
        .await
        .unwrap();
    let p = PluginProcess::start().await.unwrap();
    let mut ds = DataSource::new(&first.url());
    let q = [json!({"refId": "A", "queryType": "services"})];
    assert_eq!(
        p.query(&ds, &q).await.unwrap()["A"].frame().strings("service"),
        ["alpha"]
    );
    // Same uid, same `updated`: the cached connection is kept even if the URL differs.
    ds.url = second.url();
    assert_eq!(
        p.query(&ds, &q).await.unwrap()["A"].frame().strings("service"),
        ["alpha"]
    );
    // Saving the data source bumps `updated`: a new connection to the new URL.
    ds.updated_ms += 1;
    assert_eq!(
        p.query(&ds, &q).await.unwrap()["A"].frame().strings("service"),
        ["beta"]
    );
}

#[tokio::test]
async fn resources_list_services_instances_and_endpoints_for_editors() {
    let env = TestEnv::builder()
        .rust("orders", "1.0.0", ORDERS_ENDPOINTS)
        .python("billing", "2.0.0", 2, &["--endpoint", "charge:billing.charge"])
        .start()
        .await
        .unwrap();
    let (nats, p, a) = (&env.nats, &env.plugin, &env.rust[0]);
    let ds = DataSource::new(&nats.url());
    let (code, body) = p.resource_get(&ds, "services").await.unwrap();
    assert_eq!(code, 200);
    assert_eq!(
        body,
        json!([{"name": "billing", "instances": 2, "versions": ["2.0.0"]}, {"name": "orders", "instances": 1, "versions": ["1.0.0"]}])
    );
    let (code, body) = p.resource_get(&ds, "services/orders/instances").await.unwrap();
    assert_eq!(code, 200);
    assert_eq!(body[0]["id"], a.id.as_str());
    assert!(body[0]["rttMs"].as_f64().unwrap() > 0.0);
    let (_, body) = p.resource_get(&ds, "services/orders/endpoints").await.unwrap();
    assert_eq!(
        body,
        json!([{"name": "add", "subject": "orders.add", "queueGroup": "q"}, {"name": "get", "subject": "orders.get", "queueGroup": "q"}])
    );
    let (code, body) = p.resource_get(&ds, "services/a.b/instances").await.unwrap();
    assert_eq!(
        (code, body["error"].as_str().unwrap()),
        (400, "'a.b' is not a valid service name")
    );
    let (code, body) = p.resource_get(&ds, "nope").await.unwrap();
    assert_eq!(code, 404);
    assert!(body["error"].as_str().unwrap().contains("services/<name>/endpoints"));
}

#[tokio::test]
async fn tls_from_pem_text_token_auth_and_mutual_tls() {
    let pki = pki();
    let dir = TempDir::new().unwrap();
    let (cert, key, ca) = server_pem_files(&pki, &dir, "");
    // Server 1: TLS + token. Server 2: mutual TLS (client certificate required).
    let tls_token = NatsServer::with_config(&format!(
        "tls {{ cert_file: \"{cert}\", key_file: \"{key}\" }}\nauthorization {{ token: \"tok-3141\" }}"
    ));
    let mtls = NatsServer::with_config(&format!(
        "tls {{ cert_file: \"{cert}\", key_file: \"{key}\", ca_file: \"{ca}\", verify: true }}"
    ));
    let p = PluginProcess::start().await.unwrap();
    let url = |s: &NatsServer| format!("tls://127.0.0.1:{}", s.port);
    let cases: Vec<(DataSource, i32, &str)> = vec![
        (
            DataSource::new(&url(&tls_token))
                .json(json!({"authType": "token", "tlsAuthWithCACert": true}))
                .secure("token", "tok-3141")
                .secure("tlsCACert", &pki.ca),
            1,
            "No micro service answers",
        ),
        (
            DataSource::new(&url(&tls_token))
                .json(json!({"authType": "token", "tlsSkipVerify": true}))
                .secure("token", "tok-3141"),
            1,
            "Connected to NATS server",
        ),
        // Without our CA the server certificate is not trusted.
        (
            DataSource::new(&url(&tls_token))
                .json(json!({"authType": "token"}))
                .secure("token", "tok-3141"),
            2,
            "TLS",
        ),
        (
            DataSource::new(&url(&tls_token))
                .json(json!({"authType": "token", "tlsSkipVerify": true}))
                .secure("token", "wrong-token"),
            2,
            "refused the credentials (authType token)",
        ),
        (
            DataSource::new(&url(&mtls))
                .json(json!({"tlsAuth": true, "tlsAuthWithCACert": true}))
                .secure("tlsCACert", &pki.ca)
                .secure("tlsClientCert", &pki.client_cert)
                .secure("tlsClientKey", &pki.client_key),
            1,
            "Connected to NATS server",
        ),
        // Mutual TLS without a client certificate fails, and says TLS.
        (
            DataSource::new(&url(&mtls))
                .json(json!({"tlsAuthWithCACert": true}))
                .secure("tlsCACert", &pki.ca),
            2,
            "TLS",
        ),
    ];
    expect_health(&p, cases, &["tok-3141", "PRIVATE KEY"]).await;
}

fn source_key(uid: &str) -> SourceKey {
    SourceKey {
        source: SourceId {
            org_id: 1,
            id: 1,
            uid: uid.to_string(),
        },
        updated_ms: 1,
    }
}

#[tokio::test]
async fn unused_connections_close_even_with_the_sampler_off() {
    let nats = NatsServer::start();
    let json = serde_json::to_vec(&json!({"sampleIntervalSec": 0})).unwrap();
    let settings = Arc::new(
        Settings::parse(RawSettings {
            url: &nats.url(),
            json_data: &json,
            secure: &HashMap::new(),
        })
        .unwrap(),
    );
    let conns = Connections::with_idle_limit(Duration::from_millis(300), Duration::from_millis(50));
    let idle = conns.get(&source_key("idle"), Arc::clone(&settings)).await.unwrap();
    assert!(idle.sampler.is_none());
    let closed = Arc::downgrade(&idle);
    drop(idle);
    // A connection something still holds (a running stream) stays open however long it is unused.
    let held = conns.get(&source_key("held"), Arc::clone(&settings)).await.unwrap();
    assert_eq!(conns.len(), 2);

    assert!(
        eventually(Duration::from_secs(10), || async { closed.upgrade().is_none() }).await,
        "the unused connection was never closed"
    );
    assert_eq!(conns.len(), 1, "only the held connection is left");
    assert!(held.idle_for() > Duration::from_millis(300));
    assert_eq!(held.client.connection_state(), async_nats::connection::State::Connected);

    // The next use of the closed data source connects afresh.
    let again = conns.get(&source_key("idle"), settings).await.unwrap();
    assert_eq!(
        again.client.connection_state(),
        async_nats::connection::State::Connected
    );
    assert_eq!(conns.len(), 2);
}
