//! NATS faults against real servers, the plugin driven over gRPC: the cluster node it is connected to killed, credentials revoked while running, a user JWT (operator mode, `creds`) that expires while running, the server cutting the plugin as a slow consumer, and a server certificate that changes. Each: a clear message while it lasts, fast failures, recovery without a plugin restart.

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// Ids of the `orders` instances a ping answer shows up, or the query's error.
async fn up_ids(p: &PluginProcess, ds: &DataSource) -> Result<BTreeSet<String>, String> {
    let r = p
        .query(
            ds,
            &[json!({"refId": "A", "queryType": "ping", "format": "table", "service": "orders"})],
        )
        .await
        .map_err(|e| e.to_string())?;
    let a = &r["A"];
    if !a.error.is_empty() {
        return Err(a.error.clone());
    }
    let f = a.frame();
    Ok(f.strings("id")
        .into_iter()
        .zip(f.numbers("up"))
        .filter(|(_, up)| *up == Some(1.0))
        .map(|(id, _)| id)
        .collect())
}

#[tokio::test]
async fn killing_the_cluster_node_the_plugin_uses_fails_over_to_complete_answers() {
    let mut nodes = NatsServer::cluster(3).await;
    let urls: Vec<String> = nodes.iter().map(NatsServer::url).collect();
    let mut fleet = Vec::new();
    for i in 0..3 {
        // Each instance knows the whole cluster, as production services do.
        let client = connect_all(&urls[i..].iter().chain(&urls[..i]).cloned().collect::<Vec<_>>())
            .await
            .unwrap();
        fleet.push(RustService::start_on(client, "orders", "1.0.0", &[], 0).await.unwrap());
    }
    let all: BTreeSet<String> = fleet.iter().map(|s| s.id.clone()).collect();
    let p = PluginProcess::start().await.unwrap();
    let ds = DataSource::new(&urls.join(",")).json(json!({"sampleIntervalSec": 1, "timeoutMs": 500}));
    assert!(
        eventually(Duration::from_secs(20), || async {
            up_ids(&p, &ds).await == Ok(all.clone())
        })
        .await,
        "all three instances across the cluster"
    );
    let (_, message) = p.health(&ds).await.unwrap();
    let node = (1..=3)
        .find(|i| message.contains(&format!("NATS server n{i} ")))
        .unwrap_or_else(|| panic!("health names the node: {message}"));
    nodes[node - 1].stop();
    let killed = Instant::now();
    // The services on the killed node fail over too; the plugin reconnects elsewhere and answers
    // completely again without a restart. Its reconnect counter says it noticed: a complete answer
    // alone may come before that (a round shared from just before the kill).
    let back = eventually(Duration::from_secs(30), || async {
        let m = p.metrics_text().await.unwrap_or_default();
        metric(&m, "natsmicro_nats_reconnects_total") >= Some(1.0) && up_ids(&p, &ds).await == Ok(all.clone())
    })
    .await;
    let took = killed.elapsed();
    assert!(back, "complete answers again after node n{node} died");
    eprintln!(
        "cluster failover: complete answers {:.2} s after n{node} was killed",
        took.as_secs_f64()
    );
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(
        !message.contains(&format!("NATS server n{node} ")),
        "now on another node: {message}"
    );
    let m = p.metrics_text().await.unwrap();
    assert!(metric(&m, "natsmicro_nats_reconnects_total") >= Some(1.0), "{m}");
}

const PASSWORD: &str = "pw-faults-1";

fn users_config(with_grafana: bool) -> String {
    let mut users = vec!["{ user: svc, password: svc }".to_string()];
    if with_grafana {
        users.push(format!("{{ user: grafana, password: \"{PASSWORD}\" }}"));
    }
    format!("authorization {{ users = [ {} ] }}", users.join(", "))
}

#[tokio::test]
async fn revoked_credentials_fail_fast_with_a_clear_message_and_recover_when_restored() {
    let TestEnv {
        mut nats, plugin: p, ..
    } = TestEnv::builder()
        .nats_config(&users_config(true))
        .start()
        .await
        .unwrap();
    let port = nats.port;
    let svc_url = format!("nats://svc:svc@127.0.0.1:{port}");
    let svc = RustService::start(&svc_url, "orders", "1.0.0", &[], 0).await.unwrap();
    let ds = DataSource::new(&nats.url())
        .json(json!({"authType": "userpass", "username": "grafana", "sampleIntervalSec": 1, "timeoutMs": 500}))
        .secure("password", PASSWORD);
    assert_eq!(up_ids(&p, &ds).await, Ok(BTreeSet::from([svc.id.clone()])));

    // The operator removes the user and reloads: the server drops the plugin's connection.
    nats.reload(&users_config(false));
    assert!(
        eventually(Duration::from_secs(20), || async {
            let (status, message) = p.health(&ds).await.unwrap();
            status == 2 && message.contains("refuse")
        })
        .await,
        "health says the credentials are refused: {:?}",
        p.health(&ds).await.unwrap()
    );
    // Health asks with a fresh connection; the plugin's own connection learns the reason at its
    // next reconnect attempt (at most a second later). From then on, queries fail at once with
    // the same reason, never waiting for the timeout.
    assert!(
        eventually(Duration::from_secs(10), || async {
            up_ids(&p, &ds)
                .await
                .is_err_and(|e| e.contains("refuses the credentials"))
        })
        .await,
        "queries say the credentials are refused: {:?}",
        up_ids(&p, &ds).await
    );
    let t0 = Instant::now();
    let err = up_ids(&p, &ds).await.unwrap_err();
    assert!(err.contains("refuses the credentials"), "{err}");
    eprintln!(
        "query while refused failed in {:.1} ms",
        t0.elapsed().as_secs_f64() * 1e3
    );
    // The password never shows.
    assert!(!err.contains(PASSWORD) && !p.stderr_text().contains(PASSWORD));

    // Restored on the server: the plugin's own reconnects get through, no settings save needed.
    nats.reload(&users_config(true));
    assert!(
        eventually(Duration::from_secs(30), || async {
            up_ids(&p, &ds).await == Ok(BTreeSet::from([svc.id.clone()]))
        })
        .await,
        "answers again once the user is back"
    );
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
}

#[tokio::test]
async fn creds_against_an_operator_work_and_an_expiring_user_jwt_is_reported_then_replaced() {
    let op = jwt::Operator::new();
    let TestEnv { nats, plugin: p, .. } = TestEnv::builder()
        .nats_config(&op.server_config())
        .start()
        .await
        .unwrap();
    let service_creds = op.user_creds("svc", None);
    let svc_client = async_nats::ConnectOptions::with_credentials(&service_creds)
        .unwrap()
        .connect(nats.url())
        .await
        .unwrap();
    let svc = RustService::start_on(svc_client, "orders", "1.0.0", &[], 0)
        .await
        .unwrap();
    let want = BTreeSet::from([svc.id.clone()]);

    // A user that never expires: creds auth live against a real operator/account/user chain.
    let forever = DataSource::new(&nats.url())
        .json(json!({"authType": "creds", "sampleIntervalSec": 0}))
        .secure("credentials", &op.user_creds("grafana", None));
    let (status, message) = p.health(&forever).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert_eq!(up_ids(&p, &forever).await, Ok(want.clone()));

    // A user whose JWT expires in some seconds, while the plugin runs (long enough that the first
    // query below is answered before it, even on a loaded machine).
    let expires = chrono::Utc::now().timestamp() + 10;
    let short_creds = op.user_creds("grafana-short", Some(expires));
    let short_seed = short_creds.lines().find(|l| l.starts_with("SU")).unwrap().to_string();
    let mut short = DataSource::new(&nats.url())
        .json(json!({"authType": "creds", "sampleIntervalSec": 1, "timeoutMs": 500}))
        .secure("credentials", &short_creds);
    assert_eq!(up_ids(&p, &short).await, Ok(want.clone()));
    // nats-server counts a JWT's expiry in whole seconds: in the second it expires in, a
    // reconnect may still be let in (and is closed at once). From the second after, every
    // connect is refused, and that is the state this test is about.
    while chrono::Utc::now().timestamp() <= expires + 1 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        eventually(Duration::from_secs(30), || async {
            let (status, message) = p.health(&short).await.unwrap();
            status == 2 && message.contains("credentials") && (message.contains("xpired") || message.contains("refuse"))
        })
        .await,
        "health says the credentials expired: {:?}",
        p.health(&short).await.unwrap()
    );
    assert!(
        up_ids(&p, &short).await.is_err(),
        "queries fail while the JWT is expired"
    );
    // The other data source on the same server is not affected.
    assert_eq!(up_ids(&p, &forever).await, Ok(want.clone()));

    // The user pastes fresh creds and saves: the new settings version connects at once.
    short.updated_ms += 1;
    short
        .secure
        .insert("credentials".into(), op.user_creds("grafana-short", None));
    assert_eq!(up_ids(&p, &short).await, Ok(want.clone()));
    let (status, message) = p.health(&short).await.unwrap();
    assert_eq!(status, 1, "{message}");
    let log = p.stderr_text();
    assert!(!log.contains(&short_seed), "a creds seed in the log");
    assert!(!log.contains("BEGIN USER NKEY SEED"), "creds text in the log");
}

#[tokio::test]
async fn a_slow_consumer_cut_by_the_server_recovers_by_itself() {
    // A server that lets at most 256 KiB wait for a client before cutting it.
    let TestEnv { nats, plugin: p, .. } = TestEnv::builder()
        .nats_config("max_payload: 131072\nmax_pending: 262144\nwrite_deadline: \"200ms\"\n")
        .start()
        .await
        .unwrap();
    let svc = RustService::start(&nats.url(), "orders", "1.0.0", &[], 0)
        .await
        .unwrap();
    let want = BTreeSet::from([svc.id.clone()]);
    let ds = DataSource::new(&nats.url()).json(json!({"sampleIntervalSec": 1, "timeoutMs": 1000}));
    assert_eq!(up_ids(&p, &ds).await, Ok(want.clone()));
    let reconnects = |m: &str| metric(m, "natsmicro_nats_reconnects_total").unwrap_or(0.0);
    let before = reconnects(&p.metrics_text().await.unwrap());
    {
        // Far more than 256 KiB answered at once to the plugin's inbox.
        let _flood = Flood::start(&nats.url(), "$SRV.PING", 400, |i| {
            padded_ping("spam", &format!("s{i}"), 60_000)
        })
        .await
        .unwrap();
        let cut = eventually(Duration::from_secs(30), || async {
            let _ = up_ids(&p, &ds).await;
            reconnects(&p.metrics_text().await.unwrap()) > before
        })
        .await;
        assert!(
            cut,
            "the server cut the plugin's connection as a slow consumer (and it reconnected)"
        );
    }
    assert!(
        eventually(Duration::from_secs(30), || async {
            up_ids(&p, &ds).await == Ok(want.clone())
        })
        .await,
        "answers again after the flood, without a plugin restart"
    );
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_or_expired_is_reported_and_a_renewal_recovers() {
    let (a, b) = (pki(), pki());
    let dir = TempDir::new().unwrap();
    let tls = |cert: &str, key: &str| format!("tls {{ cert_file: \"{cert}\", key_file: \"{key}\" }}\n");
    let (cert_a, key_a, ca_a) = server_pem_files(&a, &dir, "a_");
    let (cert_b, key_b, _) = server_pem_files(&b, &dir, "b_");
    let TestEnv {
        mut nats, plugin: p, ..
    } = TestEnv::builder()
        .nats_config(&tls(&cert_a, &key_a))
        .start()
        .await
        .unwrap();
    let svc = {
        let client = async_nats::ConnectOptions::new()
            .add_root_certificates(ca_a.clone().into())
            .require_tls(true)
            .connect(format!("tls://127.0.0.1:{}", nats.port))
            .await
            .unwrap();
        RustService::start_on(client, "orders", "1.0.0", &[], 0).await.unwrap()
    };
    let want = BTreeSet::from([svc.id.clone()]);
    let ds = DataSource::new(&format!("tls://127.0.0.1:{}", nats.port))
        .json(json!({"tlsAuthWithCACert": true, "sampleIntervalSec": 1, "timeoutMs": 500}))
        .secure("tlsCACert", &a.ca);
    assert_eq!(up_ids(&p, &ds).await, Ok(want.clone()));

    // The server gets a certificate from another CA and reloads, then drops its clients
    // (a restart on the same port): the plugin's reconnects fail TLS, and it says so.
    nats.reload(&tls(&cert_b, &key_b));
    nats.restart();
    assert!(
        eventually(Duration::from_secs(30), || async {
            let (status, message) = p.health(&ds).await.unwrap();
            status == 2 && message.contains("TLS")
        })
        .await,
        "health says TLS fails: {:?}",
        p.health(&ds).await.unwrap()
    );
    assert!(up_ids(&p, &ds).await.is_err());

    // A certificate of the trusted CA, but expired (a forgotten renewal): still a TLS failure.
    let expired = dir.path().join("a_expired.pem");
    std::fs::write(&expired, &a.server_cert_expired).unwrap();
    nats.reload(&tls(&expired.display().to_string(), &key_a));
    nats.restart();
    assert!(
        eventually(Duration::from_secs(30), || async {
            let (status, message) = p.health(&ds).await.unwrap();
            status == 2 && message.contains("TLS") && message.to_ascii_lowercase().contains("expired")
        })
        .await,
        "health says the certificate expired: {:?}",
        p.health(&ds).await.unwrap()
    );

    // Renewed: a valid certificate of the trusted CA, and the plugin reconnects by itself.
    nats.reload(&tls(&cert_a, &key_a));
    nats.restart();
    let svc_again = {
        let client = async_nats::ConnectOptions::new()
            .add_root_certificates(ca_a.clone().into())
            .require_tls(true)
            .connect(format!("tls://127.0.0.1:{}", nats.port))
            .await
            .unwrap();
        RustService::start_on(client, "orders", "1.0.0", &[], 0).await.unwrap()
    };
    let want: BTreeSet<String> = [svc_again.id.clone()].into();
    assert!(
        eventually(Duration::from_secs(30), || async {
            up_ids(&p, &ds).await.is_ok_and(|ids| want.is_subset(&ids))
        })
        .await,
        "answers again after the certificate is from the trusted CA"
    );
}
