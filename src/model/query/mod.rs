//! The query model of SPEC ("Queries"): parse and validate one stored query, with an error naming its refId; the tables of query types, formats and metrics. Pure: running a query is `grafana::execute`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::model::leaves;
use crate::model::micro::{valid_name, Scope};
use crate::model::outbound;
use crate::model::settings::{json_kind, valid_subject};

mod window;
pub use window::{Window, MAX_DATA_POINTS, MAX_TIME_MS};

/// `queryType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryType {
    Ping,
    Services,
    Info,
    Stats,
    Request,
    Events,
    Slo,
    Probe,
}

impl QueryType {
    /// Every query type, in the order editors list them.
    pub const ALL: [QueryType; 8] = [
        QueryType::Ping,
        QueryType::Services,
        QueryType::Info,
        QueryType::Stats,
        QueryType::Slo,
        QueryType::Probe,
        QueryType::Request,
        QueryType::Events,
    ];

    pub fn name(self) -> &'static str {
        match self {
            QueryType::Ping => "ping",
            QueryType::Services => "services",
            QueryType::Info => "info",
            QueryType::Stats => "stats",
            QueryType::Request => "request",
            QueryType::Events => "events",
            QueryType::Slo => "slo",
            QueryType::Probe => "probe",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "ping" => QueryType::Ping,
            "services" => QueryType::Services,
            "info" => QueryType::Info,
            "stats" => QueryType::Stats,
            "request" => QueryType::Request,
            "events" => QueryType::Events,
            "slo" => QueryType::Slo,
            "probe" => QueryType::Probe,
            _ => return None,
        })
    }

    /// Formats this query type answers; the first is the default.
    pub fn formats(self) -> &'static [Format] {
        match self {
            QueryType::Ping | QueryType::Services => &[Format::Instant, Format::Table, Format::Timeseries],
            QueryType::Stats => &[Format::Instant, Format::Table, Format::Timeseries],
            QueryType::Slo => &[Format::Instant, Format::Timeseries],
            QueryType::Probe => &[Format::Instant, Format::Timeseries, Format::Table],
            QueryType::Info | QueryType::Request | QueryType::Events => &[Format::Table],
        }
    }

    /// Values of `metric` (the one numeric field of an instant frame); the first is the default.
    pub fn metrics(self) -> &'static [&'static str] {
        match self {
            QueryType::Ping => &["rtt", "up", "state", RTT_P95],
            QueryType::Services => &["instances", "down", "versions"],
            QueryType::Stats => &[
                "requests",
                "errors",
                "error_ratio",
                "processing_time",
                "average_processing_time",
            ],
            QueryType::Slo => SLO_METRICS,
            QueryType::Probe => PROBE_METRICS,
            QueryType::Info | QueryType::Request | QueryType::Events => &[],
        }
    }

    /// Values of `metric` for `format: timeseries` (the one numeric field of each series); the first is the default.
    pub fn timeseries_metrics(self) -> &'static [&'static str] {
        match self {
            QueryType::Ping => &["rtt", "up", "state"],
            QueryType::Services => &["instances", "down", "versions"],
            QueryType::Stats => &["request_rate", "error_rate", "error_ratio", "average_processing_time"],
            QueryType::Slo => SLO_METRICS,
            QueryType::Probe => PROBE_METRICS,
            QueryType::Info | QueryType::Request | QueryType::Events => &[],
        }
    }
}

/// `ping` metric `rtt_p95`: each instance's 95th percentile round-trip time over the range,
/// answered from the history in every format.
pub const RTT_P95: &str = "rtt_p95";

/// `metric` of custom STATS data: `data:<path>` for one leaf (instant, timeseries), `data` for
/// the table of every leaf.
pub const DATA_METRIC: &str = "data";

/// Split `data:<path>` off a stats metric; `data` alone asks a stats table for every leaf.
fn data_metric(query_type: QueryType, format: Format, metric: String) -> Result<(String, Option<String>), String> {
    let Some(path) = metric.strip_prefix("data:") else {
        if metric == DATA_METRIC && (query_type != QueryType::Stats || format != Format::Table) {
            return Err("metric 'data' lists every custom data leaf in a stats table; for one leaf use data:<path> (for example data:queue.depth)".to_string());
        }
        return Ok((metric, None));
    };
    if query_type != QueryType::Stats {
        return Err(format!(
            "metric '{metric}' reads custom STATS data: use it with stats queries"
        ));
    }
    if !leaves::valid_path(path) {
        return Err(format!(
            "metric '{metric}': the path must be dot-separated names or indexes without spaces (for example data:queue.depth), at most {} characters",
            leaves::MAX_PATH_LEN
        ));
    }
    Ok((DATA_METRIC.to_string(), Some(path.to_string())))
}

/// Metrics of `probe` queries, instant and timeseries alike.
const PROBE_METRICS: &[&str] = &["latency", "success", "state"];

/// Metrics of `slo` queries, instant and timeseries alike.
const SLO_METRICS: &[&str] = &["uptime", "reachability", "budget_remaining"];
/// `slo` defaults (SPEC): objective 0.999, one instance up.
pub const DEFAULT_OBJECTIVE: f64 = 0.999;
pub const DEFAULT_MIN_INSTANCES: u32 = 1;
/// Most instances `minInstances` may ask for.
pub const MAX_MIN_INSTANCES: u32 = 100_000;

/// `objective` and `minInstances` (any query may carry them; only `slo` reads them).
fn slo_keys(model: &Model) -> Result<(f64, u32), String> {
    let number = |v: &Option<Value>| -> Option<Option<f64>> {
        match v {
            None | Some(Value::Null) => Some(None),
            Some(Value::Number(n)) => n.as_f64().map(Some),
            Some(Value::String(s)) if s.trim().is_empty() => Some(None),
            Some(Value::String(s)) => s.trim().parse().ok().map(Some),
            Some(_) => None,
        }
    };
    let objective = match number(&model.objective) {
        Some(None) => DEFAULT_OBJECTIVE,
        Some(Some(o)) if o > 0.0 && o < 1.0 => o,
        _ => return Err("objective must be a number between 0 and 1 (exclusive), e.g. 0.999".to_string()),
    };
    let min_instances = match number(&model.min_instances) {
        Some(None) => DEFAULT_MIN_INSTANCES,
        Some(Some(n)) if n.fract() == 0.0 && (1.0..=f64::from(MAX_MIN_INSTANCES)).contains(&n) => n as u32,
        _ => {
            return Err(format!(
                "minInstances must be a whole number from 1 to {MAX_MIN_INSTANCES}"
            ))
        }
    };
    Ok((objective, min_instances))
}

/// `aggregate`: how the instances of each service combine (`none` keeps one row or series per instance).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Aggregate {
    #[default]
    None,
    Sum,
    Avg,
    Min,
    Max,
    Count,
}

impl Aggregate {
    /// Every value, in the order editors list them.
    pub const ALL: [Aggregate; 6] = [
        Aggregate::None,
        Aggregate::Sum,
        Aggregate::Avg,
        Aggregate::Min,
        Aggregate::Max,
        Aggregate::Count,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Aggregate::None => "none",
            Aggregate::Sum => "sum",
            Aggregate::Avg => "avg",
            Aggregate::Min => "min",
            Aggregate::Max => "max",
            Aggregate::Count => "count",
        }
    }

    /// Query types whose instances combine.
    pub fn applies_to(t: QueryType) -> bool {
        matches!(t, QueryType::Ping | QueryType::Stats)
    }
}

/// `format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Instant,
    Table,
    Timeseries,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Instant => "instant",
            Format::Table => "table",
            Format::Timeseries => "timeseries",
        }
    }
}

/// A validated query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub ref_id: String,
    pub query_type: QueryType,
    pub format: Format,
    pub scope: Scope,
    pub endpoint: Option<String>,
    pub metric: &'static str,
    /// `stats` with `metric: "data:<path>"`: the custom `data` leaf (then `metric` is `"data"`).
    pub data_path: Option<String>,
    pub aggregate: Aggregate,
    /// `slo`: the objective the error budget is measured against (0 < objective < 1).
    pub objective: f64,
    /// `slo`: instances that must be up for a sampling round to count as up.
    pub min_instances: u32,
    pub subject: String,
    pub payload: String,
    pub headers: Vec<(String, String)>,
    /// `probe`: the probe's name; `None` = every probe.
    pub probe: Option<String>,
    /// Time range of `timeseries` and `events` queries; `None` = the retention window up to now.
    pub window: Option<Window>,
    /// Whether a dashboard's `timeseries` query may stream (key `live`: `false` or `"false"`
    /// turns it off; any other value, or none, leaves it on).
    pub live: bool,
}

impl Query {
    /// The name of the value field: the metric, or `data:<path>` for a custom data leaf.
    pub fn metric_name(&self) -> String {
        match &self.data_path {
            Some(path) if self.metric == DATA_METRIC => format!("data:{path}"),
            _ => self.metric.to_string(),
        }
    }
}

/// A query that cannot run as stored: what is wrong with it, and its refId.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("query {ref_id}: {message}")]
pub struct BadQuery {
    pub ref_id: String,
    pub message: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct Model {
    query_type: Option<Value>,
    service: Option<Value>,
    instance: Option<Value>,
    endpoint: Option<Value>,
    format: Option<Value>,
    metric: Option<Value>,
    aggregate: Option<Value>,
    probe: Option<Value>,
    objective: Option<Value>,
    min_instances: Option<Value>,
    subject: Option<Value>,
    payload: Option<Value>,
    headers: Option<Value>,
    live: Option<Value>,
}

fn text(v: &Option<Value>, key: &str) -> Result<String, String> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(other) => Err(format!("{key} must be a string, not {}", json_kind(other))),
    }
}

/// Whether the key `live` turns streaming off: `false`, or the text `false` (any case).
fn live_off(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => !b,
        Some(Value::String(s)) => s.trim().eq_ignore_ascii_case("false"),
        _ => false,
    }
}

fn bad<T>(msg: String) -> Result<T, String> {
    Err(msg)
}

fn check_no_variable(value: &str, key: &str) -> Result<(), String> {
    if value.contains('$') {
        return bad(format!(
            "{key} '{value}' looks like an unresolved template variable; alert rules run without dashboard variables, so store a concrete value"
        ));
    }
    Ok(())
}

impl Query {
    /// Parse one query's JSON; `proto_query_type` is the request's own `queryType` field, used when the JSON has none.
    pub fn parse(ref_id: &str, proto_query_type: &str, json: &[u8]) -> Result<Self, BadQuery> {
        Self::parse_inner(ref_id, proto_query_type, json).map_err(|message| BadQuery {
            ref_id: ref_id.to_string(),
            message,
        })
    }

    fn parse_inner(ref_id: &str, proto_query_type: &str, json: &[u8]) -> Result<Self, String> {
        let model: Model = if json.iter().all(u8::is_ascii_whitespace) {
            Model::default()
        } else {
            serde_json::from_slice(json).map_err(|e| format!("query is not valid JSON: {e}"))?
        };
        let mut qt = text(&model.query_type, "queryType")?;
        if qt.is_empty() {
            qt = proto_query_type.trim().to_string();
        }
        if qt.is_empty() {
            qt = "ping".to_string();
        }
        let query_type = QueryType::parse(&qt).ok_or_else(|| {
            format!("unknown queryType '{qt}': use ping, services, info, stats, slo, request or events")
        })?;

        let format_text = text(&model.format, "format")?;
        let format = if format_text.is_empty() {
            query_type.formats()[0]
        } else {
            *query_type
                .formats()
                .iter()
                .find(|f| f.name() == format_text)
                .ok_or_else(|| {
                    let names: Vec<_> = query_type.formats().iter().map(|f| f.name()).collect();
                    format!(
                        "format '{format_text}' is not available for {} queries: use {}",
                        query_type.name(),
                        names.join(" or ")
                    )
                })?
        };
        let service = text(&model.service, "service")?;
        let instance = text(&model.instance, "instance")?;
        let endpoint = text(&model.endpoint, "endpoint")?;
        for (value, key) in [(&service, "service"), (&instance, "instance"), (&endpoint, "endpoint")] {
            check_no_variable(value, key)?;
        }
        if !service.is_empty() && !valid_name(&service) {
            return bad(format!(
                "service '{service}' is not a valid service name (letters, digits, - and _)"
            ));
        }
        if !instance.is_empty() && !valid_name(&instance) {
            return bad(format!(
                "instance '{instance}' is not a valid instance id (letters, digits, - and _)"
            ));
        }
        if query_type == QueryType::Services && !instance.is_empty() {
            return bad("services queries count instances per service; leave instance empty".to_string());
        }
        if query_type == QueryType::Probe && !(service.is_empty() && instance.is_empty() && endpoint.is_empty()) {
            return bad(
                "probe queries select probes by name (probe); leave service, instance and endpoint empty".to_string(),
            );
        }
        if query_type == QueryType::Slo && !instance.is_empty() {
            return bad("slo queries measure a service across its instances; leave instance empty".to_string());
        }

        let metric_text = text(&model.metric, "metric")?;
        let (metric_text, data_path) = data_metric(query_type, format, metric_text)?;
        let (metrics, wanted) = match format {
            Format::Timeseries => (
                query_type.timeseries_metrics(),
                // Instant names of counters mean their rates over time.
                match metric_text.as_str() {
                    "requests" => "request_rate",
                    "errors" => "error_rate",
                    other => other,
                },
            ),
            _ => (query_type.metrics(), metric_text.as_str()),
        };
        let metric = match metrics {
            _ if metric_text == DATA_METRIC => DATA_METRIC,
            [] => "",
            all if wanted.is_empty() || format == Format::Table => all[0],
            all => all.iter().copied().find(|m| *m == wanted).ok_or_else(|| {
                format!(
                    "metric '{metric_text}' is not available for {} queries in format {}: use {}",
                    query_type.name(),
                    format.name(),
                    all.join(", ")
                )
            })?,
        };

        let aggregate_text = text(&model.aggregate, "aggregate")?;
        let aggregate = match Aggregate::ALL.into_iter().find(|a| a.name() == aggregate_text) {
            _ if aggregate_text.is_empty() => Aggregate::None,
            Some(a) => a,
            None => {
                let names: Vec<_> = Aggregate::ALL.iter().map(|a| a.name()).collect();
                return bad(format!(
                    "aggregate '{aggregate_text}' is not one of {}",
                    names.join(", ")
                ));
            }
        };
        if aggregate != Aggregate::None {
            if !Aggregate::applies_to(query_type) {
                return bad(format!(
                    "aggregate combines the instances of ping and stats queries; {} queries take aggregate none",
                    query_type.name()
                ));
            }
            if format == Format::Table {
                return bad(
                    "aggregate applies to formats instant and timeseries; a table lists every instance".to_string(),
                );
            }
        }

        if metric == RTT_P95 && aggregate != Aggregate::None {
            return bad(
                "rtt_p95 is each instance's 95th percentile over the time range; use aggregate none".to_string(),
            );
        }
        let (objective, min_instances) = slo_keys(&model)?;
        let probe = text(&model.probe, "probe")?;
        check_no_variable(&probe, "probe")?;

        let subject = text(&model.subject, "subject")?;
        let payload = match &model.payload {
            Some(Value::String(s)) => s.clone(),
            None | Some(Value::Null) => String::new(),
            Some(other) => other.to_string(),
        };
        let headers = parse_headers(model.headers.as_ref())?;
        if query_type == QueryType::Request {
            if subject.is_empty() {
                return bad("request queries need a subject".to_string());
            }
            check_no_variable(&subject, "subject")?;
            if !valid_subject(&subject, false) {
                return bad(format!(
                    "subject '{subject}' is not a valid NATS subject to send to (dot-separated tokens, no spaces, no wildcards)"
                ));
            }
        }

        Ok(Query {
            ref_id: ref_id.to_string(),
            query_type,
            format,
            scope: Scope {
                service: (!service.is_empty()).then_some(service),
                id: (!instance.is_empty()).then_some(instance),
            },
            endpoint: (!endpoint.is_empty()).then_some(endpoint),
            metric,
            data_path,
            aggregate,
            objective,
            min_instances,
            subject,
            payload,
            headers,
            probe: (query_type == QueryType::Probe && !probe.is_empty()).then_some(probe),
            window: None,
            live: !live_off(model.live.as_ref()),
        })
    }

    /// The same query over `window`.
    pub fn with_window(mut self, window: Window) -> Self {
        self.window = Some(window);
        self
    }
}

fn parse_headers(v: Option<&Value>) -> Result<Vec<(String, String)>, String> {
    let pair = |k: &str, v: &Value| -> Result<(String, String), String> {
        let value = match v {
            Value::String(s) => outbound::header_value(s).to_string(),
            Value::Null => String::new(),
            other => other.to_string(),
        };
        let key = k.trim();
        outbound::check_header(key, &value)?;
        Ok((key.to_string(), value))
    };
    let count = match v {
        Some(Value::Object(map)) => map.len(),
        Some(Value::Array(items)) => items.len(),
        _ => 0,
    };
    if count > outbound::MAX_HEADERS {
        return bad(format!(
            "{count} headers: a request may carry at most {}",
            outbound::MAX_HEADERS
        ));
    }
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Object(map)) => {
            let sorted: BTreeMap<_, _> = map.iter().collect();
            sorted.into_iter().map(|(k, v)| pair(k, v)).collect()
        }
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| {
                let key = item.get("key").or_else(|| item.get("name")).and_then(Value::as_str)?;
                if key.trim().is_empty() {
                    return None;
                }
                Some(pair(key, item.get("value").unwrap_or(&Value::Null)))
            })
            .collect(),
        Some(other) => bad(format!(
            "headers must be an object of name: value or a list of {{key, value}}, not {}",
            json_kind(other)
        )),
    }
}

#[cfg(test)]
mod tests;
