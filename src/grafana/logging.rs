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

/// Where the log level comes from, first match wins:
/// 1. `GF_PLUGIN_LOG_LEVEL`: Grafana passes every key of the `[plugin.natsmicro-datasource]`
///    section of its configuration as `GF_PLUGIN_<KEY>`, so `log_level = debug` there reaches the
///    plugin; since Grafana 12.4 plugins receive only such `GF_*` variables;
/// 2. `RUST_LOG`, for running the binary by hand (and Grafana before 12.4, which passed its whole
///    environment);
/// 3. `info`.
///
/// A value is a level (`trace`, `debug`, `info`, `warn`, `error`; hclog's `warning` too) or a
/// tracing directive list (`info,natsmicro::nats::discovery=debug`). One that does not parse falls
/// back to `info`.
pub fn directives(env: impl Fn(&str) -> Option<String>) -> String {
    let value = ["GF_PLUGIN_LOG_LEVEL", "RUST_LOG"]
        .iter()
        .find_map(|k| env(k).map(|v| v.trim().to_ascii_lowercase()).filter(|v| !v.is_empty()));
    match value.as_deref() {
        None => "info".to_string(),
        Some("warning") => "warn".to_string(),
        Some(v) if EnvFilter::try_new(v).is_ok() => v.to_string(),
        Some(_) => "info".to_string(),
    }
}

/// Install the logger, at the level [`directives`] reads from the environment.
pub fn init() {
    let filter = EnvFilter::try_new(directives(|k| std::env::var(k).ok())).unwrap_or_else(|_| EnvFilter::new("info"));
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
        assert!(allowed("natsmicro::nats::discovery", &Level::TRACE));
    }

    #[test]
    fn grafanas_plugin_setting_wins_over_rust_log() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(directives(env(&[])), "info");
        assert_eq!(directives(env(&[("RUST_LOG", "debug")])), "debug");
        assert_eq!(
            directives(env(&[("RUST_LOG", "trace"), ("GF_PLUGIN_LOG_LEVEL", "DEBUG")])),
            "debug"
        );
        assert_eq!(directives(env(&[("GF_PLUGIN_LOG_LEVEL", "warning")])), "warn");
        assert_eq!(directives(env(&[("GF_PLUGIN_LOG_LEVEL", " ")])), "info");
        assert_eq!(directives(env(&[("GF_PLUGIN_LOG_LEVEL", "loud[")])), "info");
        assert_eq!(
            directives(env(&[("GF_PLUGIN_LOG_LEVEL", "info,natsmicro::nats::discovery=trace")])),
            "info,natsmicro::nats::discovery=trace"
        );
    }
}
