//! The protocol as current Grafana (12.4, 13) speaks it: `errorSource` on every error, the newer PluginContext fields read, and calls we do not implement answered Unimplemented; messages written here from the Go SDK's `backend.proto` field numbers, independent of the plugin's own.

mod support;

use std::collections::HashMap;

use grafana_plugin_sdk::pluginv2;
use serde_json::json;
use support::*;
use tonic::codec::ProstCodec;
use tonic::codegen::http::uri::PathAndQuery;

/// PluginContext as Grafana 12.4 sends it (fields 1, 3, 5 and the newer 6–9).
#[derive(Clone, PartialEq, prost::Message)]
struct Context {
    #[prost(int64, tag = "1")]
    org_id: i64,
    #[prost(message, optional, tag = "3")]
    user: Option<pluginv2::User>,
    #[prost(message, optional, tag = "5")]
    data_source_instance_settings: Option<pluginv2::DataSourceInstanceSettings>,
    #[prost(map = "string, string", tag = "6")]
    grafana_config: HashMap<String, String>,
    #[prost(string, tag = "7")]
    plugin_version: String,
    #[prost(string, tag = "8")]
    user_agent: String,
    #[prost(string, tag = "9")]
    api_version: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct QueryRequest {
    #[prost(message, optional, tag = "1")]
    plugin_context: Option<Context>,
    #[prost(map = "string, string", tag = "2")]
    headers: HashMap<String, String>,
    #[prost(message, repeated, tag = "3")]
    queries: Vec<pluginv2::DataQuery>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct QueryResponse {
    #[prost(map = "string, message", tag = "1")]
    responses: HashMap<String, Answer>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Answer {
    #[prost(bytes = "vec", repeated, tag = "1")]
    frames: Vec<Vec<u8>>,
    #[prost(string, tag = "2")]
    error: String,
    #[prost(int32, tag = "4")]
    status: i32,
    #[prost(string, tag = "5")]
    error_source: String,
}

/// An empty message: enough to call any method and read its status.
#[derive(Clone, PartialEq, prost::Message)]
struct Empty {}

async fn call<Req, Resp>(p: &PluginProcess, path: &'static str, req: Req) -> Result<Resp, tonic::Status>
where
    Req: prost::Message + Send + Sync + 'static,
    Resp: prost::Message + Default + Send + Sync + 'static,
{
    let mut grpc = tonic::client::Grpc::new(p.channel.clone());
    grpc.ready().await.expect("channel ready");
    grpc.unary(
        tonic::Request::new(req),
        PathAndQuery::from_static(path),
        ProstCodec::<Req, Resp>::default(),
    )
    .await
    .map(tonic::Response::into_inner)
}

fn context(ds: &DataSource) -> Context {
    let old = ds.context("Admin");
    Context {
        org_id: old.org_id,
        user: old.user,
        data_source_instance_settings: old.data_source_instance_settings,
        grafana_config: HashMap::from([("concurrent_query_count".into(), "10".into())]),
        plugin_version: "0.1.0".into(),
        user_agent: "Grafana/12.4.0 (linux; amd64)".into(),
        api_version: "v0alpha1".into(),
    }
}

fn query(ref_id: &str, model: serde_json::Value) -> pluginv2::DataQuery {
    pluginv2::DataQuery {
        ref_id: ref_id.into(),
        json: model.to_string().into_bytes(),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_error_says_its_source_and_the_grafana_version_is_logged() {
    let env = TestEnv::orders().await;
    let (nats, p) = (&env.nats, &env.plugin);
    let ds = DataSource::new(&nats.url()).json(json!({"timeoutMs": 500}));
    let req = QueryRequest {
        plugin_context: Some(context(&ds)),
        headers: HashMap::new(),
        queries: vec![
            query("ok", json!({"queryType": "ping", "service": "orders"})),
            query("bad", json!({"queryType": "pong"})),
            query("denied", json!({"queryType": "request", "subject": "orders.get"})),
        ],
    };
    let r: QueryResponse = call(p, "/pluginv2.Data/QueryData", req).await.expect("QueryData");
    let ok = &r.responses["ok"];
    assert!(
        ok.error.is_empty() && ok.error_source.is_empty() && !ok.frames.is_empty(),
        "{ok:?}"
    );
    for id in ["bad", "denied"] {
        let a = &r.responses[id];
        assert!(!a.error.is_empty() && a.status == 400, "{id}: {a:?}");
        assert_eq!(a.error_source, "downstream", "{id}: a user's error is not the plugin's");
    }

    // NATS unreachable: downstream too.
    let closed = ClosedPort::new();
    let nowhere = DataSource::new(&closed.url()).json(json!({"timeoutMs": 300}));
    let req = QueryRequest {
        plugin_context: Some(context(&nowhere)),
        headers: HashMap::new(),
        queries: vec![query("A", json!({"queryType": "ping"}))],
    };
    let r: QueryResponse = call(p, "/pluginv2.Data/QueryData", req).await.expect("QueryData");
    let a = &r.responses["A"];
    assert!(a.status >= 500 && a.error.contains("NATS"), "{a:?}");
    assert_eq!(a.error_source, "downstream");

    let log = p.stderr_when(|l| l.contains("called by Grafana")).await;
    let line = log
        .lines()
        .find(|l| l.contains("called by Grafana"))
        .expect("the Grafana version is logged");
    assert!(line.contains("12.4.0"), "{line}");
    assert_eq!(
        log.matches("called by Grafana").count(),
        1,
        "logged once per Grafana, not per request"
    );
    assert!(!log.contains("concurrent_query_count"), "grafanaConfig is never logged");
}

#[tokio::test]
async fn calls_we_do_not_implement_answer_unimplemented() {
    let p = PluginProcess::start().await.unwrap();
    for path in [
        "/pluginv2.Data/QueryChunkedData",
        "/pluginv2.AdmissionControl/ValidateAdmission",
        "/pluginv2.AdmissionControl/MutateAdmission",
        "/pluginv2.ResourceConversion/ConvertObjects",
        "/pluginv2.Data/NoSuchCall",
    ] {
        let err = call::<Empty, Empty>(&p, path, Empty {}).await.unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unimplemented, "{path}: {err:?}");
    }
    // …and the plugin still answers afterwards.
    let r: Result<QueryResponse, _> = call(
        &p,
        "/pluginv2.Data/QueryData",
        QueryRequest {
            plugin_context: None,
            headers: HashMap::new(),
            queries: vec![query("A", json!({"queryType": "ping"}))],
        },
    )
    .await;
    let a = &r.expect("QueryData after unimplemented calls").responses["A"];
    assert!(!a.error.is_empty() && a.error_source == "downstream", "{a:?}");
}

#[tokio::test]
async fn errors_fixed_in_the_settings_name_the_settings_page_grafana_gives() {
    let p = PluginProcess::start().await.unwrap();
    let closed = ClosedPort::new();
    let ask = |ds: DataSource, app_url: Option<&str>| {
        let mut ctx = context(&ds);
        if let Some(url) = app_url {
            ctx.grafana_config.insert("GF_APP_URL".into(), url.into());
        }
        let uid = ctx
            .data_source_instance_settings
            .as_ref()
            .expect("settings")
            .uid
            .clone();
        let req = QueryRequest {
            plugin_context: Some(ctx),
            headers: HashMap::new(),
            queries: vec![
                query("A", json!({"queryType": "ping"})),
                query("bad", json!({"queryType": "pong"})),
            ],
        };
        let p = &p;
        async move {
            let r: QueryResponse = call(p, "/pluginv2.Data/QueryData", req).await.expect("QueryData");
            (uid, r)
        }
    };

    let (uid, r) = ask(
        DataSource::new(&closed.url()).json(json!({"timeoutMs": 300})),
        Some("https://grafana.example.com/sub/"),
    )
    .await;
    let page = format!("https://grafana.example.com/sub/connections/datasources/edit/{uid}");
    let (a, bad) = (&r.responses["A"], &r.responses["bad"]);
    assert!(
        a.error.contains("cannot reach NATS") && a.error.contains(&page),
        "{a:?}"
    );
    assert!(
        !bad.error.is_empty() && !bad.error.contains("connections/datasources"),
        "a query error is fixed in the query: {bad:?}"
    );

    let (_, r) = ask(
        DataSource::new(&closed.url()).json(json!({"authType": "kerberos"})),
        Some("http://localhost:3000"),
    )
    .await;
    let a = &r.responses["A"];
    assert!(
        a.error.contains("settings") && a.error.contains("http://localhost:3000/connections/datasources/edit/"),
        "{a:?}"
    );

    // An older Grafana that does not say its address: the message stays as it was.
    let (_, r) = ask(DataSource::new(&closed.url()).json(json!({"timeoutMs": 300})), None).await;
    let a = &r.responses["A"];
    assert!(
        a.error.contains("cannot reach NATS") && !a.error.contains("connections/datasources"),
        "{a:?}"
    );
}
