//! The plugin as Grafana runs it: handshake, services, shutdown, orphans, roles, per-refId errors, metrics, and no secret in its output at any log level.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use grafana_plugin_sdk::pluginv2;
use serde_json::json;
use support::*;

#[tokio::test]
async fn refuses_to_run_outside_grafana() {
    let out = Command::new(env!("CARGO_BIN_EXE_gpx_natsmicro"))
        .env_remove("grafana_plugin_type")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "no handshake without the cookie");
    assert!(String::from_utf8_lossy(&out.stderr).contains("Grafana starts it"));
}

#[tokio::test]
async fn handshake_honours_the_port_range_and_serves_every_service() {
    // Grafana hands out a range; a port in it that is taken must be skipped, not fatal. The pair
    // is random below the ephemeral range; a port someone else holds just means another pair.
    let mut attempt = 0;
    let (first, _taken, p) = loop {
        attempt += 1;
        assert!(attempt < 50, "no free port pair below the ephemeral range");
        let first = port_below_ephemeral();
        let Ok(taken) = std::net::TcpListener::bind(("127.0.0.1", first)) else {
            continue;
        };
        match PluginProcess::start_with_env(&[
            ("PLUGIN_MIN_PORT", &first.to_string()),
            ("PLUGIN_MAX_PORT", &(first + 1).to_string()),
        ])
        .await
        {
            Ok(p) => break (first, taken, p),
            Err(e) if attempt < 5 && e.to_string().contains("could not listen") => continue,
            Err(e) => panic!("{e:#}"),
        }
    };
    assert_eq!(p.addr.port(), first + 1, "the busy first port is skipped");
    assert!(p.addr.ip().is_loopback());

    // go-plugin's health check of the "plugin" service.
    let mut health = tonic_health::pb::health_client::HealthClient::new(p.channel.clone());
    let status = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "plugin".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(
        status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );

    // Stream service answers; a path that is not one of the plugin's channels is refused.
    let ds = DataSource::new("nats://127.0.0.1:1");
    let sub = p
        .stream()
        .subscribe_stream(pluginv2::SubscribeStreamRequest {
            plugin_context: Some(ds.context("Viewer")),
            path: "ping".into(),
            data: Default::default(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(sub.status, pluginv2::subscribe_stream_response::Status::NotFound as i32);

    // Metrics are served in the Prometheus text format.
    let text = p.metrics_text().await.unwrap();
    assert!(text.contains("# TYPE natsmicro_queries_total counter"), "{text}");
}

#[tokio::test]
async fn shutdown_request_ends_the_process() {
    let mut p = PluginProcess::start().await.unwrap();
    let t0 = Instant::now();
    p.shutdown().await.unwrap();
    loop {
        if let Some(status) = p.child.try_wait().unwrap() {
            assert!(status.success(), "exit status {status}");
            break;
        }
        // How fast it exits is not the point on 2 busy cores; that it exits is.
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "still running 10 s after Shutdown"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    eprintln!("exited {:?} after Shutdown", t0.elapsed());
}

fn state_of(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim().chars().next()
}

#[tokio::test]
async fn exits_when_its_parent_dies() {
    // A shell stands in for Grafana: it starts the plugin in the background and is then killed.
    let mut parent = Command::new("sh")
        .arg("-c")
        .arg(format!("'{}' & echo $!; wait", env!("CARGO_BIN_EXE_gpx_natsmicro")))
        .env("grafana_plugin_type", "datasource")
        .env("PLUGIN_PROTOCOL_VERSIONS", "2")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(parent.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let pid: u32 = line.trim().parse().unwrap();
    line.clear();
    out.read_line(&mut line).unwrap();
    parse_handshake(&line).unwrap();
    assert!(matches!(state_of(pid), Some('S' | 'R')), "plugin runs");
    parent.kill().unwrap();
    parent.wait().unwrap();
    let t0 = Instant::now();
    while matches!(state_of(pid), Some(s) if s != 'Z' && s != 'X') {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "plugin {pid} outlived its parent by 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn roles_none_and_empty_are_served_and_a_bad_query_fails_only_its_ref_id() {
    let mut env = TestEnv::builder()
        .rust("orders", "1.0.0", &[("get", "orders.get")])
        .start()
        .await
        .unwrap();
    let svc = env.rust.remove(0);
    let (nats, p) = (&env.nats, &env.plugin);
    let ds = DataSource::new(&nats.url());
    for role in ["None", "", "Viewer", "Admin"] {
        let r = p
            .query_as(
                &ds,
                role,
                &[
                    json!({"refId": "A", "queryType": "ping", "service": "orders"}),
                    json!({"refId": "B", "queryType": "pong"}),
                    json!({"refId": "C", "queryType": "ping", "service": "$service"}),
                ],
            )
            .await
            .unwrap();
        let a = r["A"].frame();
        assert_eq!(a.strings("id"), vec![svc.id.clone()], "role {role:?}");
        assert!(r["B"].error.contains("unknown queryType 'pong'"), "{}", r["B"].error);
        assert_eq!(r["B"].status, 400);
        assert!(r["C"].error.contains("template variable"), "{}", r["C"].error);
    }
    // Unparsable JSON in one query: raw request, since the helper always sends valid JSON.
    let now = chrono::Utc::now().timestamp_millis();
    let mk = |ref_id: &str, body: &[u8]| pluginv2::DataQuery {
        ref_id: ref_id.into(),
        json: body.to_vec(),
        time_range: Some(pluginv2::TimeRange {
            from_epoch_ms: now - 60_000,
            to_epoch_ms: now,
        }),
        ..Default::default()
    };
    let resp = p
        .data()
        .query_data(pluginv2::QueryDataRequest {
            plugin_context: Some(ds.context("None")),
            headers: HashMap::new(),
            queries: vec![
                mk("X", b"{\"queryType\": \"ping\""),
                mk("Y", br#"{"queryType":"services"}"#),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert!(resp.responses["X"].error.contains("not valid JSON"));
    assert!(resp.responses["Y"].error.is_empty());
    let y = decode_frame(&resp.responses["Y"].frames[0]).unwrap();
    assert_eq!(y.strings("service"), ["orders"]);
    assert_eq!(y.ref_id, "Y");

    let text = p.metrics_text().await.unwrap();
    assert!(
        text.contains(r#"natsmicro_queries_total{query_type="ping",outcome="ok"} 4"#),
        "{text}"
    );
    assert!(
        text.contains(r#"natsmicro_queries_total{query_type="unknown",outcome="bad_request"} 9"#),
        "{text}"
    );
    assert!(
        text.contains(r#"natsmicro_nats_connections{state="connected"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("natsmicro_discovery_duration_seconds_count{verb=\"ping\"}"),
        "{text}"
    );
    svc.stop().await;
}
