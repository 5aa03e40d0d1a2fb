//! The files users provision — data source YAML, the example dashboard, the alert rule examples (instant and time-series forms) and the recording rules into Prometheus — run unchanged against the real plugin, real nats-server and real services.

mod support;

use std::time::Duration;

use serde_json::{json, Value};
use support::*;

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo().join(path)).unwrap();
    serde_yaml::from_str(&text).unwrap()
}

/// What Grafana does to a provisioned data source value: `$NAME` / `${NAME}` from the environment, `$$` for `$`.
fn expand_env(text: &str, env: &[(&str, &str)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        let (name, r) = if let Some(r) = rest.strip_prefix('{') {
            let end = r.find('}').unwrap();
            (&r[..end], &r[end + 1..])
        } else {
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        out.push_str(env.iter().find(|(k, _)| *k == name).map(|(_, v)| *v).unwrap_or(""));
        rest = r;
    }
    out.push_str(rest);
    out
}

fn expand_all(v: &Value, env: &[(&str, &str)]) -> Value {
    match v {
        Value::String(s) => Value::String(expand_env(s, env)),
        Value::Array(a) => Value::Array(a.iter().map(|x| expand_all(x, env)).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), expand_all(x, env))).collect()),
        other => other.clone(),
    }
}

/// The provisioned data source, as Grafana would hand it to the plugin with NATS_URL set.
fn provisioned_datasource(nats_url: &str) -> DataSource {
    let file = yaml("provisioning/datasources/natsmicro.yaml");
    let ds = expand_all(&file["datasources"][0], &[("NATS_URL", nats_url)]);
    assert_eq!(ds["type"], "natsmicro-datasource");
    assert_eq!(ds["uid"], "natsmicro", "dashboard and alert rules refer to this uid");
    let mut source = DataSource::new(ds["url"].as_str().unwrap()).json(ds["jsonData"].clone());
    source.uid = "natsmicro".into();
    source
}

/// A threshold expression's verdict on one value, as Grafana's `threshold` type computes it.
fn fires(evaluator: &Value, value: f64) -> bool {
    let p = |i: usize| evaluator["params"][i].as_f64().unwrap();
    match evaluator["type"].as_str().unwrap() {
        "gt" => value > p(0),
        "lt" => value < p(0),
        "within_range" => value > p(0) && value < p(1),
        "outside_range" => value < p(0) || value > p(1),
        other => panic!("evaluator {other} not handled by this test"),
    }
}

/// One billing instance whose `charge` endpoint fails every second request.
fn failing_billing(url: &str) -> PythonService {
    PythonService::start(
        url,
        "billing",
        "2.1.0",
        1,
        &["--fail-every", "2", "--endpoint", "charge:billing.charge"],
    )
    .unwrap()
}

/// Every rule of an alerting provisioning file, group after group.
fn rules_of(file: &Value) -> Vec<Value> {
    file["groups"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|g| g["rules"].as_array().unwrap().iter().cloned())
        .collect()
}

/// Whether a STATS round counts at least `n` requests of billing, asked for up to 10 s (answers
/// are shared for 100 ms, so a round taken after the requests comes within that).
async fn billing_requests_show(p: &PluginProcess, ds: &DataSource, n: f64) -> bool {
    let requests = [json!({"refId": "A", "queryType": "stats", "metric": "requests"})];
    eventually(Duration::from_secs(10), || async {
        let r = p.query(ds, &requests).await.unwrap();
        let f = r["A"].frame();
        f.strings("service")
            .iter()
            .zip(f.numbers("requests"))
            .any(|(s, v)| s == "billing" && v >= Some(n))
    })
    .await
}

#[tokio::test]
async fn provisioned_data_source_is_healthy() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let _orders = PythonService::start(&nats.url(), "orders", "1.4.0", 2, &[]).unwrap();
    let ds = provisioned_datasource(&nats.url());
    assert_eq!(ds.json["srvPrefix"], "$SRV", "$$SRV must reach the plugin as $SRV");
    let (status, message) = p.health(&ds).await.unwrap();
    assert_eq!(status, 1, "{message}");
    assert!(message.contains("orders"), "{message}");
}

#[tokio::test]
async fn alert_rule_examples_fire_on_real_frames() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let ds = provisioned_datasource(&nats.url());
    let _billing = failing_billing(&nats.url());
    let orders_a = PythonService::start(&nats.url(), "orders", "1.4.0", 1, &[]).unwrap();
    let _orders_b = PythonService::start(&nats.url(), "orders", "1.4.0", 1, &[]).unwrap();
    let client = connect(&nats.url()).await.unwrap();
    for _ in 0..4 {
        let _ = client.request("billing.charge", "".into()).await;
    }
    // A first round teaches the plugin every instance (and starts the sampler, whose first sample
    // is taken at once); then one orders instance goes away and billing gets more traffic.
    let r = p
        .query(&ds, &[json!({"refId": "A", "queryType": "ping"})])
        .await
        .unwrap();
    assert_eq!(r["A"].frame().rows(), 3);
    let gone = orders_a.ids[0].clone();
    drop(orders_a);
    // Answers are shared for 100 ms, so ask until a fresh round reports it down.
    let up = [json!({"refId": "A", "queryType": "ping", "metric": "up"})];
    assert!(
        eventually(Duration::from_secs(10), || async {
            let r = p.query(&ds, &up).await.unwrap();
            let f = r["A"].frame();
            f.strings("id")
                .iter()
                .zip(f.numbers("up"))
                .any(|(id, up)| *id == gone && up == Some(0.0))
        })
        .await,
        "instance {gone} never reported down"
    );
    for _ in 0..4 {
        let _ = client.request("billing.charge", "".into()).await;
    }
    // The rules must see a STATS round taken after these requests (answers are shared for 100 ms).
    assert!(
        billing_requests_show(&p, &ds, 8.0).await,
        "billing's 8 requests never showed in STATS"
    );

    let file = yaml("provisioning/alerting/natsmicro-alerts.yaml");
    assert_eq!(file["groups"][0]["rules"].as_array().unwrap().len(), 7);
    // The recipes: six rules in each of three sensitivities, each with its runbook and summary.
    let recipes = yaml("provisioning/alerting/natsmicro-recipes.json");
    let groups = recipes["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 3);
    let rules: Vec<Value> = rules_of(&file).into_iter().chain(rules_of(&recipes)).collect();
    assert_eq!(rules.len(), 7 + 18);
    for rule in &rules[7..] {
        let a = &rule["annotations"];
        assert!(
            a["summary"].is_string() && a["description"].is_string(),
            "{}",
            rule["uid"]
        );
        assert!(a["runbook_url"]
            .as_str()
            .unwrap()
            .starts_with("/public/plugins/natsmicro-datasource/RUNBOOKS.md#"));
        let anchor = a["runbook_url"].as_str().unwrap().split('#').nth(1).unwrap();
        let runbooks = std::fs::read_to_string(repo().join("docs/alerting.md")).unwrap();
        assert!(
            runbooks.contains(&format!("<a id=\"{anchor}\"></a>")),
            "no runbook for {anchor}"
        );
    }
    let now = chrono::Utc::now().timestamp_millis();
    let mut firing = std::collections::BTreeMap::new();
    for rule in &rules {
        let title = rule["title"].as_str().unwrap();
        let data = rule["data"].as_array().unwrap();
        let step = |ref_id: &Value| data.iter().find(|d| d["refId"] == *ref_id).unwrap();
        let query = data.iter().find(|d| d["datasourceUid"] == "natsmicro").unwrap();
        let model = &query["model"];
        assert!(
            !model.to_string().contains('$'),
            "{title}: alert queries run without dashboard variables"
        );
        let cond = step(&rule["condition"]);
        assert_eq!(cond["model"]["type"], "threshold");
        // Between the query and the threshold: nothing (instant frames) or a Reduce (time series).
        let input = step(&cond["model"]["expression"]);
        let reducer = (input["model"]["type"] == "reduce").then(|| {
            assert_eq!(input["model"]["expression"], query["refId"], "{title}");
            input["model"]["reducer"].as_str().unwrap().to_string()
        });
        if reducer.is_none() {
            assert_eq!(cond["model"]["expression"], query["refId"], "{title}");
        }

        // As Grafana's alert evaluation asks: FromAlert, the rule's relative time range.
        let from = query["relativeTimeRange"]["from"].as_i64().unwrap() * 1000;
        let r = p
            .query_window(&ds, std::slice::from_ref(model), (now - from, now), 43_200, 1000)
            .await
            .unwrap();
        let resp = &r[model["refId"].as_str().unwrap()];
        assert!(resp.error.is_empty(), "{title}: {}", resp.error);
        // One (labels, value) per alert instance.
        let mut instances: Vec<(String, Option<f64>)> = vec![];
        match reducer.as_deref() {
            None => {
                let frame = resp.frame();
                assert!(alertable_instant(frame), "{title}: not alertable: {frame:?}");
                let value = frame.numeric_fields()[0].name.clone();
                for (row, v) in frame.numbers(&value).into_iter().enumerate() {
                    let labels: Vec<String> = ["service", "id", "endpoint", "probe"]
                        .iter()
                        .filter(|k| frame.fields.iter().any(|f| f.name == **k))
                        .map(|k| frame.strings(k)[row].clone())
                        .collect();
                    instances.push((labels.join("/"), v));
                }
            }
            Some(reducer) => {
                assert!(alertable_timeseries(&resp.frames), "{title}: {:?}", resp.frames);
                assert_eq!(reducer, "mean", "{title}: this test evaluates mean");
                assert_eq!(input["model"]["settings"]["mode"], "dropNN");
                for f in &resp.frames {
                    let field = f.numeric_fields()[0];
                    let labels = field.labels.clone().unwrap();
                    let key: Vec<String> = ["service", "id", "endpoint"]
                        .iter()
                        .filter_map(|k| labels[*k].as_str().map(str::to_string))
                        .collect();
                    let vals: Vec<f64> = field.values.iter().filter_map(Value::as_f64).collect();
                    let mean = (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64);
                    instances.push((key.join("/"), mean));
                }
            }
        }
        let evaluator = &cond["model"]["conditions"][0]["evaluator"];
        let hits: Vec<String> = instances
            .into_iter()
            .filter(|(_, v)| v.is_some_and(|v| fires(evaluator, v)))
            .map(|(k, _)| k)
            .collect();
        firing.insert(rule["uid"].as_str().unwrap().to_string(), hits);
    }
    eprintln!("firing: {firing:?}");
    assert_eq!(firing["natsmicro-instance-down"], [format!("orders/{gone}")]);
    assert!(
        firing["natsmicro-rtt-high"].is_empty(),
        "loopback RTT is far below 250 ms"
    );
    assert_eq!(firing["natsmicro-orders-instances-low"], ["orders"]);
    // orders ran with 2 instances, then 1: rounds below its quorum of 2 spent the budget.
    assert_eq!(firing["natsmicro-orders-slo-burn"], ["orders"]);
    // Aggregated: one alert instance per service and endpoint, no instance id.
    assert_eq!(firing["natsmicro-service-error-ratio-high"], ["billing/charge"]);
    // The recipes, sensitivity by sensitivity: the same facts, seen by each threshold.
    for s in ["high", "medium", "low"] {
        let hits = |recipe: &str| firing[&format!("natsmicro-{recipe}-{s}")].clone();
        assert_eq!(
            hits("quorum"),
            ["billing", "orders"],
            "{s}: one instance each is below 2"
        );
        assert_eq!(
            hits("not-answering"),
            [format!("orders/{gone}")],
            "{s}: the stopped instance is gone"
        );
        assert_eq!(
            hits("error-ratio"),
            ["billing/charge"],
            "{s}: billing fails every 2nd request"
        );
        assert!(hits("latency-p95").is_empty(), "{s}: loopback RTT is far below 100 ms");
        assert_eq!(
            hits("probe-failing"),
            ["orders-get"],
            "{s}: nothing answers orders.get here"
        );
        assert!(
            hits("slo-burn").is_empty(),
            "{s}: a service with one instance up all along keeps its budget"
        );
    }
    for uid in ["natsmicro-error-ratio-high", "natsmicro-error-ratio-5m"] {
        assert_eq!(firing[uid].len(), 1, "{uid}: billing fails every 2nd request");
        assert!(firing[uid][0].starts_with("billing/"), "{uid}: {:?}", firing[uid]);
        assert!(firing[uid][0].ends_with("/charge"), "{uid}: {:?}", firing[uid]);
    }
}

#[tokio::test]
async fn dashboard_queries_answer_with_their_declared_shapes() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let ds = provisioned_datasource(&nats.url());
    let _orders = PythonService::start(
        &nats.url(),
        "orders",
        "1.4.0",
        2,
        &["--endpoint", "get:orders.get", "--stats-data"],
    )
    .unwrap();
    let ds_uid = yaml("provisioning/datasources/natsmicro.yaml")["datasources"][0]["uid"].clone();
    let mut files: Vec<_> = std::fs::read_dir(repo().join("provisioning/dashboards"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into())
        .collect();
    assert_eq!(
        names,
        ["natsmicro-health.json", "natsmicro-services.json"],
        "the provisioned dashboards"
    );
    let mut n = 0;
    for file in &files {
        let dash: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().to_string();
        let panels = dash["panels"].as_array().unwrap();
        // Every data source reference (panels, variables, annotations) is the provisioned one.
        for v in dash["templating"]["list"].as_array().unwrap() {
            assert_eq!(v["datasource"]["uid"], ds_uid, "{name}: variable {}", v["name"]);
        }
        for panel in panels.iter().filter(|p| p["type"] != "row") {
            assert_eq!(panel["datasource"]["uid"], ds_uid, "{name}: panel {}", panel["title"]);
        }
        let mut queries: Vec<(String, Value)> = panels
            .iter()
            .flat_map(|panel| {
                let title = format!("{name}: {}", panel["title"].as_str().unwrap());
                panel["targets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(move |t| (title.clone(), t.clone()))
            })
            .collect();
        let annotations = dash["annotations"]["list"].as_array().unwrap();
        let events = annotations
            .iter()
            .find(|a| a["datasource"]["uid"] == "natsmicro")
            .unwrap();
        let mut target = events["target"].clone();
        target["datasource"] = events["datasource"].clone();
        queries.push((format!("{name}: annotations"), target));
        for (title, target) in queries {
            assert_eq!(target["datasource"]["uid"], "natsmicro", "{title}");
            // "All" of the multi-value $service variable reaches the backend as an empty filter.
            let query = expand_all(&target, &[("service", "")]);
            let r = p.query(&ds, std::slice::from_ref(&query)).await.unwrap();
            let resp = &r[query["refId"].as_str().unwrap()];
            assert!(resp.error.is_empty(), "{title}: {}", resp.error);
            let aggregated = query.get("aggregate").is_some_and(|a| a != "none");
            let custom_data = query["metric"].as_str().is_some_and(|m| m.starts_with("data:"));
            let streamed = matches!(query["queryType"].as_str(), Some("ping" | "stats"))
                && query["live"] != false
                && !aggregated
                && !custom_data;
            match (query["format"].as_str().unwrap(), streamed) {
                // A dashboard's ping/stats time series goes live: one seed frame carrying the channel.
                ("timeseries", true) => {
                    let frame = resp.frame();
                    assert_eq!(frame.meta["type"], "timeseries-wide", "{title}");
                    let channel = frame.meta["channel"].as_str().unwrap_or_default();
                    assert!(channel.starts_with("ds/natsmicro/v1/"), "{title}: channel {channel:?}");
                }
                ("timeseries", false) => {
                    assert!(alertable_timeseries(&resp.frames), "{title}");
                    assert!(resp.frames.iter().all(|f| f.rows() >= 1), "{title}: no points");
                }
                (format, _) => {
                    let frame = resp.frame();
                    let want = match format {
                        "table" => "table",
                        "instant" => "numeric-long",
                        other => panic!("{title}: format {other} not expected in the example dashboard"),
                    };
                    assert_eq!(frame.meta["type"], want, "{title}");
                    // Events start empty (the sampler's first round is the baseline); every other query has rows.
                    assert!(frame.rows() >= 1 || query["queryType"] == "events", "{title}: no rows");
                }
            }
            n += 1;
        }
    }
    assert!(n >= 24, "{n} queries");
}

/// A Prometheus metric or label name (`[a-zA-Z_:][a-zA-Z0-9_:]*`; labels without `:`).
fn prometheus_name(name: &str, colon: bool) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':');
    name.chars().next().is_some_and(|c| !c.is_ascii_digit() && ok(c)) && name.chars().all(ok)
}

#[tokio::test]
async fn recording_rules_write_one_prometheus_series_per_label_set() {
    let TestEnv { nats, plugin: p, .. } = TestEnv::empty().await;
    let ds = provisioned_datasource(&nats.url());
    let _billing = failing_billing(&nats.url());
    // orders serves orders.get, which the provisioned probe `orders-get` asks.
    let _orders = PythonService::start(&nats.url(), "orders", "1.4.0", 2, &["--endpoint", "get:orders.get"]).unwrap();
    let client = connect(&nats.url()).await.unwrap();
    for _ in 0..4 {
        let _ = client.request("billing.charge", "".into()).await;
    }
    assert!(
        billing_requests_show(&p, &ds, 4.0).await,
        "billing's requests never showed in STATS"
    );

    let rules = rules_of(&yaml("provisioning/recording/natsmicro-recording.yaml"));
    assert_eq!(rules.len(), 7);
    let now = chrono::Utc::now().timestamp_millis();
    // metric → (labels → value), as Grafana writes them: one series per label set.
    type Series = std::collections::BTreeMap<std::collections::BTreeMap<String, String>, f64>;
    let mut recorded: std::collections::BTreeMap<String, Series> = Default::default();
    for rule in &rules {
        let record = &rule["record"];
        let metric = record["metric"].as_str().unwrap().to_string();
        assert!(prometheus_name(&metric, true), "{metric}");
        assert!(metric.starts_with("natsmicro_"), "{metric}");
        assert!(
            rule.get("condition").is_none(),
            "{metric}: a recording rule has no condition"
        );
        // The target is named by the environment, as Grafana expands it.
        let target = record["targetDatasourceUid"].as_str().unwrap();
        assert_eq!(target, "$NATSMICRO_RECORDING_DATASOURCE_UID", "{metric}");
        assert_eq!(
            expand_env(target, &[("NATSMICRO_RECORDING_DATASOURCE_UID", "prom")]),
            "prom"
        );
        let data = rule["data"].as_array().unwrap();
        let query = data.iter().find(|d| d["datasourceUid"] == "natsmicro").unwrap();
        let model = &query["model"];
        let from = query["relativeTimeRange"]["from"].as_i64().unwrap() * 1000;
        let r = p
            .query_window(&ds, std::slice::from_ref(model), (now - from, now), 43_200, 1000)
            .await
            .unwrap();
        let resp = &r[model["refId"].as_str().unwrap()];
        assert!(resp.error.is_empty(), "{metric}: {}", resp.error);
        let frame = resp.frame();
        assert!(alertable_instant(frame), "{metric}: not numeric: {frame:?}");
        // The recorded step: the query, or a math expression on it (`$A / 1000`).
        let step = data.iter().find(|d| d["refId"] == record["from"]).unwrap();
        let scale = if step["datasourceUid"] == "__expr__" {
            assert_eq!(step["model"]["type"], "math", "{metric}");
            let want = format!("${} / 1000", query["refId"].as_str().unwrap());
            assert_eq!(step["model"]["expression"], want.as_str(), "{metric}");
            1e-3
        } else {
            assert_eq!(step, query, "{metric}");
            1.0
        };
        // Each row becomes a series: its text columns are the labels, its number the value.
        let value = frame.numeric_fields()[0].name.clone();
        let labels: Vec<&str> = frame
            .fields
            .iter()
            .filter(|f| f.name != value)
            .map(|f| f.name.as_str())
            .collect();
        let mut series = Series::new();
        for (row, v) in frame.numbers(&value).into_iter().enumerate() {
            let set: std::collections::BTreeMap<String, String> = labels
                .iter()
                .map(|l| (l.to_string(), frame.strings(l)[row].clone()))
                .collect();
            assert!(set.keys().all(|l| prometheus_name(l, false) && !l.starts_with("__")));
            if let Some(v) = v {
                assert!(
                    series.insert(set.clone(), v * scale).is_none(),
                    "{metric}: {set:?} twice"
                );
            }
        }
        assert!(
            recorded.insert(metric.clone(), series).is_none(),
            "{metric} recorded twice"
        );
    }
    eprintln!("recorded: {recorded:?}");
    let one = |metric: &str, pairs: &[(&str, &str)]| -> Vec<f64> {
        recorded[metric]
            .iter()
            .filter(|(l, _)| pairs.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
            .map(|(_, v)| *v)
            .collect()
    };
    assert_eq!(one("natsmicro_service_instances_up", &[("service", "orders")]), [2.0]);
    assert_eq!(one("natsmicro_service_instances_up", &[("service", "billing")]), [1.0]);
    assert_eq!(one("natsmicro_service_instances_down", &[("service", "orders")]), [0.0]);
    let billing = [("service", "billing"), ("endpoint", "charge")];
    let requests = one("natsmicro_endpoint_requests_total", &billing);
    let errors = one("natsmicro_endpoint_errors_total", &billing);
    assert_eq!(
        (requests.len(), errors.len()),
        (1, 1),
        "one series per instance and endpoint"
    );
    assert!(requests[0] >= 4.0 && errors[0] >= 2.0, "{requests:?} {errors:?}");
    assert_eq!(
        recorded["natsmicro_endpoint_requests_total"]
            .keys()
            .filter(|l| l["service"] == "orders")
            .count(),
        2,
        "every orders instance has its own counter series"
    );
    assert_eq!(one("natsmicro_slo_uptime_ratio", &[("service", "orders")]), [1.0]);
    assert_eq!(one("natsmicro_probe_success", &[("probe", "orders-get")]), [1.0]);
    let latency = one("natsmicro_probe_latency_seconds", &[("probe", "orders-get")]);
    assert!(
        latency.len() == 1 && latency[0] > 0.0 && latency[0] < 1.0,
        "seconds, not milliseconds: {latency:?}"
    );

    // The dashboard that reads them asks Prometheus only for what the rules record.
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("provisioning/recording/natsmicro-prometheus.json")).unwrap(),
    )
    .unwrap();
    for panel in dash["panels"].as_array().unwrap() {
        assert_eq!(panel["datasource"]["type"], "prometheus");
        for t in panel["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            let names: Vec<&str> = expr
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| w.starts_with("natsmicro_"))
                .collect();
            assert!(!names.is_empty(), "{expr}");
            for n in names {
                assert!(recorded.contains_key(n), "{expr}: {n} is not recorded");
            }
        }
    }
}
