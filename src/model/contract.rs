//! The user-facing tables of SPEC (query types, formats, metrics, auth types, setting defaults and ranges) as one JSON value: the frontend reads it from `frontend/src/common/contract.json`, and `tests/contract.rs` keeps that file equal to this.

use serde_json::{json, Map, Value};

use crate::model::answer::slo;
use crate::model::channel;
use crate::model::leaves::{self, MAX_DATA_LEAVES};
use crate::model::query::{
    Aggregate, Format, QueryType, DATA_METRIC, DEFAULT_MIN_INSTANCES, DEFAULT_OBJECTIVE, MAX_MIN_INSTANCES,
};
use crate::model::settings::{
    StoreKind, AUTH_TYPES, DEFAULT_HISTORY_MAX_BYTES, DEFAULT_HISTORY_STREAM, DEFAULT_INBOX_PREFIX,
    DEFAULT_MAX_ROUND_BYTES, DEFAULT_RETENTION_MINUTES, DEFAULT_SAMPLE_INTERVAL_SEC, DEFAULT_SLOW_MS,
    DEFAULT_SRV_PREFIX, DEFAULT_TIMEOUT_MS, HISTORY_MAX_BYTES_RANGE, HISTORY_REPLICAS_RANGE, MAX_ROUND_BYTES_RANGE,
    RETENTION_MINUTES_RANGE, SAMPLE_INTERVAL_SEC_RANGE, SLOW_MS_RANGE, TIMEOUT_MS_RANGE,
};
use crate::model::state::State;

/// Per query type, the list `f` gives.
fn per_type(f: impl Fn(QueryType) -> Vec<&'static str>) -> Value {
    let map: Map<String, Value> = QueryType::ALL
        .iter()
        .map(|t| (t.name().to_string(), json!(f(*t))))
        .collect();
    Value::Object(map)
}

/// The tables, as `frontend/src/common/contract.json` holds them.
pub fn contract() -> Value {
    json!({
        "queryTypes": QueryType::ALL.iter().map(|t| t.name()).collect::<Vec<_>>(),
        "formats": per_type(|t| t.formats().iter().map(|f| f.name()).collect()),
        "metrics": per_type(|t| t.metrics().to_vec()),
        "timeseriesMetrics": per_type(|t| t.timeseries_metrics().to_vec()),
        // Query types whose `timeseries` dashboard queries stream through Grafana Live.
        "liveQueryTypes": QueryType::ALL
            .iter()
            .filter(|t| channel::streams(**t, Format::Timeseries))
            .map(|t| t.name())
            .collect::<Vec<_>>(),
        "aggregates": Aggregate::ALL.iter().map(|a| a.name()).collect::<Vec<_>>(),
        // Query types whose instances `aggregate` combines (formats instant and timeseries).
        "aggregateQueryTypes": QueryType::ALL
            .iter()
            .filter(|t| Aggregate::applies_to(**t))
            .map(|t| t.name())
            .collect::<Vec<_>>(),
        // `slo` keys: defaults and the largest minInstances.
        "slo": {
            "objective": DEFAULT_OBJECTIVE,
            "minInstances": DEFAULT_MIN_INSTANCES,
            "maxMinInstances": MAX_MIN_INSTANCES,
            "rollingWindowMs": slo::ROLLING_MS,
        },
        // Custom STATS data: `data:<path>` for one leaf, `data` for the table of leaves.
        "data": {
            "queryTypes": [QueryType::Stats.name()],
            "prefix": "data:",
            "tableMetric": DATA_METRIC,
            "maxLeaves": MAX_DATA_LEAVES,
            "maxPathLength": leaves::MAX_PATH_LEN,
        },
        // Five-state liveness (`metric: state`): code, name and colour of each state.
        "states": State::ALL
            .iter()
            .map(|s| json!({"code": s.code(), "name": s.name(), "color": s.colour()}))
            .collect::<Vec<_>>(),
        "authTypes": AUTH_TYPES,
        // `historyStore` values, the default first.
        "historyStores": StoreKind::ALL.iter().map(|k| k.name()).collect::<Vec<_>>(),
        "defaults": {
            "srvPrefix": DEFAULT_SRV_PREFIX,
            "inboxPrefix": DEFAULT_INBOX_PREFIX,
            "timeoutMs": DEFAULT_TIMEOUT_MS,
            "sampleIntervalSec": DEFAULT_SAMPLE_INTERVAL_SEC,
            "retentionMinutes": DEFAULT_RETENTION_MINUTES,
            "maxRoundBytes": DEFAULT_MAX_ROUND_BYTES,
            "slowMs": DEFAULT_SLOW_MS,
            "historyStream": DEFAULT_HISTORY_STREAM,
            "historyMaxBytes": DEFAULT_HISTORY_MAX_BYTES,
            "historyReplicas": HISTORY_REPLICAS_RANGE.0,
        },
        "ranges": {
            "timeoutMs": [TIMEOUT_MS_RANGE.0, TIMEOUT_MS_RANGE.1],
            "sampleIntervalSec": [SAMPLE_INTERVAL_SEC_RANGE.0, SAMPLE_INTERVAL_SEC_RANGE.1],
            "retentionMinutes": [RETENTION_MINUTES_RANGE.0, RETENTION_MINUTES_RANGE.1],
            "maxRoundBytes": [MAX_ROUND_BYTES_RANGE.0, MAX_ROUND_BYTES_RANGE.1],
            "slowMs": [SLOW_MS_RANGE.0, SLOW_MS_RANGE.1],
            "historyMaxBytes": [HISTORY_MAX_BYTES_RANGE.0, HISTORY_MAX_BYTES_RANGE.1],
            "historyReplicas": [HISTORY_REPLICAS_RANGE.0, HISTORY_REPLICAS_RANGE.1],
        },
    })
}
