//! Logs as hclog-style JSON lines on stderr (what Grafana forwards into its own log), with third-party crates capped below TRACE so no secret they might print reaches the log.
//!
//! This crate never logs settings, requests or secrets at any level. Third-party
//! crates are capped at DEBUG as defence in depth: at TRACE they print raw
//! protocol traffic (async-nats redacts its CONNECT line, but request bodies and
//! server addresses are printed verbatim, and we do not control future versions).

use std::io::Write;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::{filter_fn, EnvFilter};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

struct JsonFields(Map<String, Value>);

impl Visit for JsonFields {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_string(), serde_json::json!(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.into());
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_string(), format!("{value:?}").into());
    }
}

/// A tracing layer writing one hclog JSON object per event.
pub struct HclogLayer;

impl<S: Subscriber> Layer<S> for HclogLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        let mut fields = JsonFields(Map::new());
        event.record(&mut fields);
        let message = fields.0.remove("message").unwrap_or(Value::String(String::new()));
        let level = match *meta.level() {
            Level::TRACE => "trace",
            Level::DEBUG => "debug",
            Level::INFO => "info",
            Level::WARN => "warn",
            Level::ERROR => "error",
        };
        let mut line = Map::new();
        line.insert("@level".into(), level.into());
        line.insert("@message".into(), message);
        line.insert(
            "@timestamp".into(),
            chrono::Utc::now()
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, false)
                .into(),
        );
        line.insert("@module".into(), meta.target().into());
        for (k, v) in fields.0 {
            line.insert(k, v);
        }
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// Whether an event may be logged at all: this crate at any level, others up to DEBUG.
pub fn allowed(target: &str, level: &Level) -> bool {
    target.starts_with("natsmicro") || target.starts_with("gpx_natsmicro") || *level <= Level::DEBUG
}

/// Install the logger. Level from `RUST_LOG` (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::registry()
        .with(
            HclogLayer
                .with_filter(filter)
                .with_filter(filter_fn(|m| allowed(m.target(), m.level()))),
        )
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn third_party_trace_is_never_allowed() {
        assert!(!allowed("async_nats::connection", &Level::TRACE));
        assert!(allowed("async_nats::connection", &Level::DEBUG));
        assert!(allowed("natsmicro::discovery", &Level::TRACE));
    }
}
