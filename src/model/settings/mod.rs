//! Data source settings: parse and validate what Grafana stores (SPEC "Data source settings") into typed, secret-safe values.
//!
//! Pure code: no I/O, no NATS, no Grafana types. Every validation failure is a
//! [`SettingsError`] whose message tells a user what to change.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde_json::Value;

use crate::model::outbound;
pub use crate::model::outbound::subject_matches;

mod history;
mod identity;
mod probes;
mod requests;
mod urls;

use history::parse_history;
pub use history::{
    HistorySettings, StoreKind, DEFAULT_HISTORY_MAX_BYTES, DEFAULT_HISTORY_STREAM, HISTORY_MAX_BYTES_RANGE,
    HISTORY_REPLICAS_RANGE,
};
pub use identity::{Identity, SealKey};

use probes::parse_probes;
pub use probes::{Expect, Probe, MAX_PROBES};
use requests::parse_request_subjects;
use urls::parse_urls;

/// The default `$SRV` API prefix of ADR-32.
pub const DEFAULT_SRV_PREFIX: &str = "$SRV";
/// The default reply-inbox prefix of NATS clients.
pub const DEFAULT_INBOX_PREFIX: &str = "_INBOX";
/// Default longest wait for a discovery or request.
pub const DEFAULT_TIMEOUT_MS: u64 = 2000;
/// Default sampler period (used by the history sampler).
pub const DEFAULT_SAMPLE_INTERVAL_SEC: u64 = 15;
/// Default in-memory history.
pub const DEFAULT_RETENTION_MINUTES: u64 = 60;

/// A secret string: never printed by `Debug` or `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wrap a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; call only where it is handed to the NATS client.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How the plugin authenticates to NATS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (or credentials written inside the URL, see [`Settings::url_credentials`]).
    None,
    /// `authType: userpass`.
    UserPass { username: String, password: Secret },
    /// `authType: token`.
    Token(Secret),
    /// `authType: nkey`: a user NKey seed (`SU…`).
    NKey(Secret),
    /// `authType: creds`: the text of a `.creds` file (JWT + seed).
    Creds(Secret),
}

impl Auth {
    /// The `authType` name, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Auth::None => "none",
            Auth::UserPass { .. } => "userpass",
            Auth::Token(_) => "token",
            Auth::NKey(_) => "nkey",
            Auth::Creds(_) => "creds",
        }
    }

    /// The user name, where the auth type has one (never a secret).
    pub fn user_name(&self) -> Option<&str> {
        match self {
            Auth::UserPass { username, .. } => Some(username),
            _ => None,
        }
    }
}

/// Credentials found inside a server URL (`nats://user:pass@host`, `nats://token@host`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UrlCredentials {
    UserPass { username: String, password: Secret },
    Token(Secret),
}

/// One NATS server address with any credentials removed from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerUrl {
    /// `scheme://host:port`, safe to log and show.
    pub address: String,
    /// `tls` or `wss` scheme.
    pub tls: bool,
}

/// Grafana's standard TLS settings, PEM texts from secureJsonData.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// `tlsAuth`: present a client certificate.
    pub client_auth: Option<(Secret, Secret)>,
    /// `tlsAuthWithCACert`: trust only this CA (PEM text).
    pub ca_cert: Option<Secret>,
    /// `tlsSkipVerify`: accept any server certificate.
    pub skip_verify: bool,
}

impl TlsSettings {
    /// Whether any TLS option is set (then the plugin builds its own TLS config).
    pub fn is_configured(&self) -> bool {
        self.client_auth.is_some() || self.ca_cert.is_some() || self.skip_verify
    }
}

/// Validated settings of one data source instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub servers: Vec<ServerUrl>,
    pub auth: Auth,
    /// Credentials taken from the URLs (used when `authType` is `none`).
    pub url_credentials: Option<UrlCredentials>,
    pub tls: TlsSettings,
    pub srv_prefix: String,
    pub inbox_prefix: String,
    pub timeout: Duration,
    /// `None` turns the history sampler off.
    pub sample_interval: Option<Duration>,
    pub retention: Duration,
    /// Memory bound of the history (accounted bytes); hidden jsonData key `historyBudgetBytes`,
    /// meant for tests and measurements, default [`DEFAULT_HISTORY_BUDGET_BYTES`].
    pub history_budget: usize,
    /// Sampling rounds run back to back, without waiting for the period, when the sampler
    /// starts; hidden jsonData key `historyFillRounds`, meant for measurements (fill the history
    /// fast: time compressed), default 0.
    pub history_fill_rounds: u64,
    pub request_subjects: Vec<String>,
    /// Byte budget of one discovery round's replies (`maxRoundBytes`).
    pub max_round_bytes: usize,
    /// RTT (ms) above which an answering instance's `state` is `slow` (`slowMs`).
    pub slow_ms: u64,
    /// Synthetic checks the sampler runs (`probes`).
    pub probes: Vec<Probe>,
    /// Where the sampled history lives (`historyStore` and the JetStream store's keys).
    pub history: HistorySettings,
}

/// Values `timeoutMs` may take (milliseconds).
pub const TIMEOUT_MS_RANGE: (u64, u64) = (10, 120_000);
/// Values `sampleIntervalSec` may take (seconds; 0 = sampler off).
pub const SAMPLE_INTERVAL_SEC_RANGE: (u64, u64) = (0, 86_400);
/// Values `retentionMinutes` may take (one week at most).
pub const RETENTION_MINUTES_RANGE: (u64, u64) = (1, 10_080);
/// Values `maxRoundBytes` may take (64 KiB to 1 GiB).
pub const MAX_ROUND_BYTES_RANGE: (u64, u64) = (64 << 10, 1 << 30);
/// Values `slowMs` may take (milliseconds).
pub const SLOW_MS_RANGE: (u64, u64) = (1, 600_000);
/// Default of `slowMs`.
pub const DEFAULT_SLOW_MS: u64 = 1000;
/// Values of `authType` (as [`Auth::kind`] names them).
pub const AUTH_TYPES: [&str; 5] = ["none", "userpass", "token", "nkey", "creds"];
/// Default budget of accounted bytes for one data source's history (heap ≤ ≈ 2× this).
pub const DEFAULT_HISTORY_BUDGET_BYTES: usize = 32 << 20;
/// Default of `maxRoundBytes`: 16 MiB, about 30 000 typical STATS replies.
pub const DEFAULT_MAX_ROUND_BYTES: u64 = 16 * 1024 * 1024;

/// A setting a user has to fix; the message says what and how.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SettingsError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, SettingsError> {
    Err(SettingsError(msg.into()))
}

/// Raw inputs as Grafana sends them, without Grafana types.
pub struct RawSettings<'a> {
    pub url: &'a str,
    pub json_data: &'a [u8],
    pub secure: &'a HashMap<String, String>,
}

impl Settings {
    /// Parse and validate. Never panics; never puts a secret in an error.
    pub fn parse(raw: RawSettings<'_>) -> Result<Self, SettingsError> {
        let json: serde_json::Map<String, Value> = if raw.json_data.iter().all(u8::is_ascii_whitespace) {
            serde_json::Map::new()
        } else {
            match serde_json::from_slice::<Value>(raw.json_data) {
                Ok(Value::Object(map)) => map,
                Ok(Value::Null) => serde_json::Map::new(),
                Ok(_) => return err("jsonData must be a JSON object"),
                Err(e) => return err(format!("jsonData is not valid JSON: {e}")),
            }
        };
        let secure = |key: &str| -> Option<Secret> {
            raw.secure
                .get(key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
                .map(Secret::new)
        };

        let (servers, url_credentials) = parse_urls(raw.url)?;

        let auth_type = get_str(&json, "authType")?.unwrap_or_default();
        let auth = match auth_type.trim() {
            "" | "none" => Auth::None,
            "userpass" => {
                let username = get_str(&json, "username")?.unwrap_or_default();
                if username.trim().is_empty() {
                    return err("authType is userpass but no username is set");
                }
                let Some(password) = secure("password") else {
                    return err("authType is userpass but no password is set");
                };
                Auth::UserPass {
                    username: username.trim().to_string(),
                    password,
                }
            }
            "token" => match secure("token") {
                Some(t) => Auth::Token(t),
                None => return err("authType is token but no token is set"),
            },
            "nkey" => match secure("nkeySeed") {
                Some(seed) => {
                    if !seed.expose().starts_with("SU") || nkeys::KeyPair::from_seed(seed.expose()).is_err() {
                        return err(
                            "nkeySeed is not a valid NKey user seed (it starts with SU and is 58 characters long)",
                        );
                    }
                    Auth::NKey(seed)
                }
                None => return err("authType is nkey but no nkeySeed is set"),
            },
            "creds" => match secure("credentials") {
                Some(c) => {
                    let text = c.expose();
                    if !text.contains("BEGIN NATS USER JWT") || !text.contains("BEGIN USER NKEY SEED") {
                        return err("credentials is not the text of a .creds file (it needs a NATS USER JWT block and a USER NKEY SEED block)");
                    }
                    // Secrets are trimmed, but a .creds file's last block must end with a line
                    // break for the NATS client to read it.
                    Auth::Creds(Secret::new(format!("{text}\n")))
                }
                None => return err("authType is creds but no credentials are set"),
            },
            other => {
                return err(format!(
                    "authType {} is not one of none, userpass, token, nkey, creds",
                    shown_word(other)
                ))
            }
        };
        if url_credentials.is_some() && auth != Auth::None {
            return err(format!(
                "credentials are written in url and authType is {}: keep only one of them",
                auth.kind()
            ));
        }

        let mut tls = TlsSettings {
            skip_verify: get_bool(&json, "tlsSkipVerify")?,
            ..TlsSettings::default()
        };
        if get_bool(&json, "tlsAuth")? {
            let cert = secure("tlsClientCert");
            let key = secure("tlsClientKey");
            match (cert, key) {
                (Some(c), Some(k)) => {
                    check_pem(&c, "tlsClientCert", "CERTIFICATE")?;
                    check_pem(&k, "tlsClientKey", "PRIVATE KEY")?;
                    tls.client_auth = Some((c, k));
                }
                (None, _) => {
                    return err("tlsAuth is on but tlsClientCert is empty: paste the client certificate (PEM)")
                }
                (_, None) => return err("tlsAuth is on but tlsClientKey is empty: paste the client key (PEM)"),
            }
        }
        if get_bool(&json, "tlsAuthWithCACert")? {
            match secure("tlsCACert") {
                Some(ca) => {
                    check_pem(&ca, "tlsCACert", "CERTIFICATE")?;
                    tls.ca_cert = Some(ca);
                }
                None => return err("tlsAuthWithCACert is on but tlsCACert is empty: paste the CA certificate (PEM)"),
            }
        }

        let srv_prefix = get_str(&json, "srvPrefix")?
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_SRV_PREFIX.to_string());
        check_literal_subject(&srv_prefix, "srvPrefix")?;
        let inbox_prefix = get_str(&json, "inboxPrefix")?
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_INBOX_PREFIX.to_string());
        check_literal_subject(&inbox_prefix, "inboxPrefix")?;

        let timeout_ms = get_u64(&json, "timeoutMs")?.unwrap_or(DEFAULT_TIMEOUT_MS);
        let (lo, hi) = TIMEOUT_MS_RANGE;
        if !(lo..=hi).contains(&timeout_ms) {
            return err(format!(
                "timeoutMs is {timeout_ms}: use a value from {lo} to {hi} milliseconds"
            ));
        }
        let sample = get_u64(&json, "sampleIntervalSec")?.unwrap_or(DEFAULT_SAMPLE_INTERVAL_SEC);
        let (lo, hi) = SAMPLE_INTERVAL_SEC_RANGE;
        if !(lo..=hi).contains(&sample) {
            return err(format!("sampleIntervalSec is {sample}: use {lo} (off) to {hi} seconds"));
        }
        let retention = get_u64(&json, "retentionMinutes")?.unwrap_or(DEFAULT_RETENTION_MINUTES);
        let (lo, hi) = RETENTION_MINUTES_RANGE;
        if !(lo..=hi).contains(&retention) {
            return err(format!(
                "retentionMinutes is {retention}: use {lo} to {hi} minutes (one week)"
            ));
        }

        let history_budget = get_u64(&json, "historyBudgetBytes")?.unwrap_or(DEFAULT_HISTORY_BUDGET_BYTES as u64);
        if !(1024..=(1 << 32)).contains(&history_budget) {
            return err(format!(
                "historyBudgetBytes is {history_budget}: use 1024 to 4294967296 bytes"
            ));
        }

        let history_fill_rounds = get_u64(&json, "historyFillRounds")?.unwrap_or(0);
        if history_fill_rounds > 100_000 {
            return err(format!(
                "historyFillRounds is {history_fill_rounds}: use 0 to 100000 rounds"
            ));
        }

        let request_subjects = parse_request_subjects(json.get("requestSubjects"))?;

        let max_round_bytes = get_u64(&json, "maxRoundBytes")?.unwrap_or(DEFAULT_MAX_ROUND_BYTES);
        let (lo, hi) = MAX_ROUND_BYTES_RANGE;
        if !(lo..=hi).contains(&max_round_bytes) {
            return err(format!(
                "maxRoundBytes is {max_round_bytes}: use 65536 (64 KiB) to 1073741824 (1 GiB) bytes"
            ));
        }

        let slow_ms = get_u64(&json, "slowMs")?.unwrap_or(DEFAULT_SLOW_MS);
        let (lo, hi) = SLOW_MS_RANGE;
        if !(lo..=hi).contains(&slow_ms) {
            return err(format!(
                "slowMs is {slow_ms}: use {lo} to {hi} milliseconds (the RTT above which an instance counts as slow)"
            ));
        }

        let history = parse_history(&json)?;
        let reserved = outbound::reserved_patterns(&history.stream, &srv_prefix, &inbox_prefix);
        let probes = parse_probes(
            json.get("probes"),
            (&request_subjects, &reserved),
            Duration::from_millis(timeout_ms),
        )?;

        Ok(Settings {
            servers,
            auth,
            url_credentials,
            tls,
            srv_prefix,
            inbox_prefix,
            timeout: Duration::from_millis(timeout_ms),
            sample_interval: (sample > 0).then(|| Duration::from_secs(sample)),
            retention: Duration::from_secs(retention * 60),
            history_budget: usize::try_from(history_budget).unwrap_or(usize::MAX),
            history_fill_rounds,
            request_subjects,
            max_round_bytes: usize::try_from(max_round_bytes).unwrap_or(usize::MAX),
            slow_ms,
            probes,
            history,
        })
    }

    /// The server list for messages, comma separated, without credentials.
    pub fn servers_display(&self) -> String {
        self.servers
            .iter()
            .map(|s| s.address.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// Check a subject (or prefix) is well formed; `wildcards` allows `*` and `>`.
pub fn valid_subject(subject: &str, wildcards: bool) -> bool {
    if subject.is_empty() || subject.len() > 4096 {
        return false;
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    for (i, t) in tokens.iter().enumerate() {
        if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return false;
        }
        let wild = *t == "*" || *t == ">";
        if (t.contains('*') || t.contains('>')) && (!wildcards || !wild || (*t == ">" && i + 1 != tokens.len())) {
            return false;
        }
    }
    true
}

fn check_literal_subject(value: &str, key: &str) -> Result<(), SettingsError> {
    if valid_subject(value, false) {
        Ok(())
    } else {
        err(format!(
            "{key} {} is not a valid NATS subject prefix (dot-separated tokens, no spaces, no * or >)",
            shown_value(value)
        ))
    }
}

fn check_pem(value: &Secret, key: &str, label: &str) -> Result<(), SettingsError> {
    let text = value.expose();
    if text.contains("-----BEGIN ") && text.contains(label) && text.contains("-----END ") {
        Ok(())
    } else {
        err(format!("{key} does not contain PEM text (-----BEGIN …{label}-----)"))
    }
}

/// What kind of JSON value this is, for error messages: values themselves are never echoed,
/// since a misplaced one may be a secret (a token typed into the wrong field, a header value).
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn get_str(json: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, SettingsError> {
    match json.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => err(format!("{key} must be a string, not {}", json_kind(other))),
    }
}

fn get_bool(json: &serde_json::Map<String, Value>, key: &str) -> Result<bool, SettingsError> {
    match json.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(Value::String(s)) if s == "true" => Ok(true),
        Some(Value::String(s)) if s == "false" || s.is_empty() => Ok(false),
        Some(other) => err(format!("{key} must be true or false, not {}", json_kind(other))),
    }
}

/// Numbers may arrive as JSON numbers or, from provisioning files, as strings.
fn get_u64(json: &serde_json::Map<String, Value>, key: &str) -> Result<Option<u64>, SettingsError> {
    let bad = |v: &Value| err(format!("{key} must be a whole number, not {}", shown_number(v)));
    match json.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match (n.as_u64(), n.as_f64()) {
            (Some(u), _) => Ok(Some(u)),
            (None, Some(f)) if f >= 0.0 && f.fract() == 0.0 && f < 1e15 => Ok(Some(f as u64)),
            _ => bad(&Value::Number(n.clone())),
        },
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => match s.trim().parse::<u64>() {
            Ok(u) => Ok(Some(u)),
            Err(_) => bad(&Value::String(s.clone())),
        },
        Some(other) => bad(other),
    }
}

/// A rejected number is shown when it is a number or short numeric-looking text (helps fix a
/// typo like `15s`); anything else is described by its kind only.
fn shown_number(v: &Value) -> String {
    match v {
        Value::Number(n) => n.to_string(),
        Value::String(s)
            if s.len() <= 12
                && s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-+. ".contains(&b)) =>
        {
            format!("'{s}'")
        }
        other => json_kind(other).to_string(),
    }
}

/// A rejected name, subject or pattern is quoted when it looks like one (at most 64 letters,
/// digits and `. _ - $ * >`); anything else may be a secret pasted into the wrong field and is
/// described by its length only.
pub(crate) fn shown_value(s: &str) -> String {
    if s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-$*>".contains(&b)) {
        format!("'{s}'")
    } else {
        format!("(a value of {} characters, not shown)", s.chars().count())
    }
}

/// A rejected keyword is quoted when it looks like one (short, lower-case letters); otherwise it
/// may be something pasted into the wrong field and is not repeated.
fn shown_word(s: &str) -> String {
    if s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-') {
        format!("'{s}'")
    } else {
        "(this value)".to_string()
    }
}

#[cfg(test)]
mod tests;
