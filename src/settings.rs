//! Data source settings: parse and validate what Grafana stores (SPEC "Data source settings") into typed, secret-safe values.
//!
//! Pure code: no I/O, no NATS, no Grafana types. Every validation failure is a
//! [`SettingsError`] whose message tells a user what to change.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use serde_json::Value;

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
    /// meant for tests and measurements, default [`crate::history::DEFAULT_BUDGET_BYTES`].
    pub history_budget: usize,
    /// Sampling rounds run back to back, without waiting for the period, when the sampler
    /// starts; hidden jsonData key `historyFillRounds`, meant for measurements (fill the history
    /// fast: time compressed), default 0.
    pub history_fill_rounds: u64,
    pub request_subjects: Vec<String>,
    /// Byte budget of one discovery round's replies (`maxRoundBytes`).
    pub max_round_bytes: usize,
}

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
        if !(10..=120_000).contains(&timeout_ms) {
            return err(format!(
                "timeoutMs is {timeout_ms}: use a value from 10 to 120000 milliseconds"
            ));
        }
        let sample = get_u64(&json, "sampleIntervalSec")?.unwrap_or(DEFAULT_SAMPLE_INTERVAL_SEC);
        if sample > 86_400 {
            return err(format!("sampleIntervalSec is {sample}: use 0 (off) to 86400 seconds"));
        }
        let retention = get_u64(&json, "retentionMinutes")?.unwrap_or(DEFAULT_RETENTION_MINUTES);
        if !(1..=10_080).contains(&retention) {
            return err(format!(
                "retentionMinutes is {retention}: use 1 to 10080 minutes (one week)"
            ));
        }

        let history_budget =
            get_u64(&json, "historyBudgetBytes")?.unwrap_or(crate::history::DEFAULT_BUDGET_BYTES as u64);
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
        if !((64 << 10)..=(1 << 30)).contains(&max_round_bytes) {
            return err(format!(
                "maxRoundBytes is {max_round_bytes}: use 65536 (64 KiB) to 1073741824 (1 GiB) bytes"
            ));
        }

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

    /// Whether `subject` may be used by a `request` query.
    pub fn request_allowed(&self, subject: &str) -> bool {
        self.request_subjects
            .iter()
            .any(|pattern| subject_matches(pattern, subject))
    }
}

/// NATS subject matching with `*` (one token) and `>` (one or more trailing tokens).
pub fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut p = pattern.split('.');
    let mut s = subject.split('.');
    loop {
        match (p.next(), s.next()) {
            (Some(">"), Some(_)) => return true,
            (Some("*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            (None, None) => return true,
            _ => return false,
        }
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
            "{key} '{value}' is not a valid NATS subject prefix (dot-separated tokens, no spaces, no * or >)"
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

/// A rejected keyword is quoted when it looks like one (short, lower-case letters); otherwise it
/// may be something pasted into the wrong field and is not repeated.
fn shown_word(s: &str) -> String {
    if s.len() <= 16 && s.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_' || b == b'-') {
        format!("'{s}'")
    } else {
        "(this value)".to_string()
    }
}

fn parse_request_subjects(value: Option<&Value>) -> Result<Vec<String>, SettingsError> {
    let items: Vec<String> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split([',', '\n']).map(str::to_string).collect(),
        Some(Value::Array(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for v in a {
                match v {
                    Value::String(s) => out.push(s.clone()),
                    other => return err(format!("requestSubjects must list strings, not {}", json_kind(other))),
                }
            }
            out
        }
        Some(other) => {
            return err(format!(
                "requestSubjects must be a list of subject patterns, not {}",
                json_kind(other)
            ))
        }
    };
    let mut out = Vec::new();
    for s in items {
        let s = s.trim();
        if s.is_empty() {
            continue;
        }
        if !valid_subject(s, true) {
            return err(format!(
                "requestSubjects entry '{s}' is not a valid subject pattern (tokens separated by dots; * matches one token, > the rest)"
            ));
        }
        out.push(s.to_string());
    }
    Ok(out)
}

/// Split the comma-separated `url` setting, normalise each entry and take credentials out of it.
fn parse_urls(raw: &str) -> Result<(Vec<ServerUrl>, Option<UrlCredentials>), SettingsError> {
    let mut servers = Vec::new();
    let mut creds: Option<UrlCredentials> = None;
    for (i, part) in raw.split(',').enumerate() {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let with_scheme = if part.contains("://") {
            part.to_string()
        } else {
            format!("nats://{part}")
        };
        // Never echo the raw text back: it may hold a password.
        let shown = format!("server #{} in url", i + 1);
        let parsed = url::Url::parse(&with_scheme).map_err(|e| {
            SettingsError(format!(
                "{shown} is not a valid URL ({e}); write it as nats://host:4222"
            ))
        })?;
        let scheme = parsed.scheme().to_ascii_lowercase();
        if !matches!(scheme.as_str(), "nats" | "tls" | "ws" | "wss") {
            return err(format!(
                "{shown} uses scheme '{scheme}': use nats://, tls://, ws:// or wss://"
            ));
        }
        let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
            return err(format!("{shown} has no host name"));
        };
        let port = parsed.port().unwrap_or(match scheme.as_str() {
            "ws" => 80,
            "wss" => 443,
            _ => 4222,
        });
        let mut address = format!("{scheme}://{host}:{port}");
        if matches!(scheme.as_str(), "ws" | "wss") && parsed.path() != "/" && !parsed.path().is_empty() {
            address.push_str(parsed.path());
        }
        let user = percent_decode(parsed.username());
        let pass = parsed.password().map(percent_decode);
        let found = match (user.is_empty(), pass) {
            (true, None) => None,
            (false, None) => Some(UrlCredentials::Token(Secret::new(user))),
            (_, Some(p)) => Some(UrlCredentials::UserPass {
                username: user,
                password: Secret::new(p),
            }),
        };
        if let Some(found) = found {
            match &creds {
                Some(existing) if *existing != found => {
                    return err("the URLs in url carry different credentials: use the same ones in every URL, or set them with authType")
                }
                _ => creds = Some(found),
            }
        }
        servers.push(ServerUrl {
            address,
            tls: matches!(scheme.as_str(), "tls" | "wss"),
        });
    }
    if servers.is_empty() {
        return err("url is empty: enter one or more NATS server URLs, comma separated, e.g. nats://localhost:4222");
    }
    Ok((servers, creds))
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str, json: &str, secure: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let secure: HashMap<String, String> = secure.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Settings::parse(RawSettings {
            url,
            json_data: json.as_bytes(),
            secure: &secure,
        })
    }

    #[test]
    fn defaults_follow_the_spec() {
        let s = parse("localhost", "", &[]).unwrap();
        assert_eq!(s.servers[0].address, "nats://localhost:4222");
        assert_eq!(s.auth, Auth::None);
        assert_eq!(s.srv_prefix, "$SRV");
        assert_eq!(s.inbox_prefix, "_INBOX");
        assert_eq!(s.timeout, Duration::from_millis(2000));
        assert_eq!(s.sample_interval, Some(Duration::from_secs(15)));
        assert_eq!(s.retention, Duration::from_secs(3600));
        assert!(s.request_subjects.is_empty());
        assert!(!s.request_allowed("anything"));
        assert_eq!(s.history_fill_rounds, 0);
    }

    #[test]
    fn hidden_measurement_keys_are_range_checked() {
        let s = parse(
            "localhost",
            r#"{"historyFillRounds":700,"historyBudgetBytes":4096}"#,
            &[],
        )
        .unwrap();
        assert_eq!((s.history_fill_rounds, s.history_budget), (700, 4096));
        assert_eq!(s.max_round_bytes, DEFAULT_MAX_ROUND_BYTES as usize);
        let s = parse("localhost", r#"{"maxRoundBytes":"1048576"}"#, &[]).unwrap();
        assert_eq!(s.max_round_bytes, 1 << 20);
        for bad in ["1000", "2000000000"] {
            let e = parse("localhost", &format!(r#"{{"maxRoundBytes":{bad}}}"#), &[]).unwrap_err();
            assert!(e.0.contains(&format!("maxRoundBytes is {bad}")), "{e}");
        }
        let e = parse("localhost", r#"{"historyFillRounds":100001}"#, &[]).unwrap_err();
        assert!(e.0.contains("historyFillRounds is 100001: use 0 to 100000"), "{e}");
        let e = parse("localhost", r#"{"historyBudgetBytes":10}"#, &[]).unwrap_err();
        assert!(e.0.contains("historyBudgetBytes is 10"), "{e}");
    }

    #[test]
    fn comma_separated_urls_with_schemes() {
        let s = parse(" nats://a:4222, tls://b:4443 ,ws://c:8080/ws,wss://d", "{}", &[]).unwrap();
        let addrs: Vec<_> = s.servers.iter().map(|s| (s.address.as_str(), s.tls)).collect();
        assert_eq!(
            addrs,
            vec![
                ("nats://a:4222", false),
                ("tls://b:4443", true),
                ("ws://c:8080/ws", false),
                ("wss://d:443", true)
            ]
        );
        assert!(parse("http://x", "{}", &[]).unwrap_err().0.contains("scheme 'http'"));
        assert!(parse(" , ", "{}", &[]).unwrap_err().0.starts_with("url is empty"));
    }

    #[test]
    fn credentials_in_urls_are_taken_out_and_never_echoed() {
        let s = parse("nats://alice:s%40cret@h1:4222,nats://alice:s%40cret@h2", "{}", &[]).unwrap();
        assert_eq!(s.servers_display(), "nats://h1:4222, nats://h2:4222");
        assert_eq!(
            s.url_credentials,
            Some(UrlCredentials::UserPass {
                username: "alice".into(),
                password: Secret::new("s@cret")
            })
        );
        let t = parse("nats://tok123@h1", "{}", &[]).unwrap();
        assert_eq!(t.url_credentials, Some(UrlCredentials::Token(Secret::new("tok123"))));
        let e = parse("nats://a:pw1@h1,nats://a:pw2@h2", "{}", &[]).unwrap_err();
        assert!(!e.0.contains("pw1") && !e.0.contains("pw2"), "{e}");
        let e = parse("nats://a:pw1@[bad", "{}", &[]).unwrap_err();
        assert!(!e.0.contains("pw1"), "{e}");
        let e = parse("nats://a:pw1@h1", r#"{"authType":"token"}"#, &[("token", "t")]).unwrap_err();
        assert!(e.0.contains("keep only one"), "{e}");
        assert!(!format!("{s:?}").contains("s@cret"));
    }

    #[test]
    fn auth_types_need_their_fields() {
        let cases = [
            (r#"{"authType":"userpass"}"#, vec![], "no username"),
            (r#"{"authType":"userpass","username":"u"}"#, vec![], "no password"),
            (r#"{"authType":"token"}"#, vec![], "no token"),
            (
                r#"{"authType":"nkey"}"#,
                vec![],
                "authType is nkey but no nkeySeed is set",
            ),
            (
                r#"{"authType":"nkey"}"#,
                vec![("nkeySeed", "SUnotaseed")],
                "not a valid NKey",
            ),
            (r#"{"authType":"creds"}"#, vec![], "no credentials"),
            (
                r#"{"authType":"creds"}"#,
                vec![("credentials", "junk")],
                "not the text of a .creds",
            ),
            (r#"{"authType":"kerberos"}"#, vec![], "'kerberos' is not one of"),
        ];
        for (json, secure, want) in cases {
            let e = parse("h", json, &secure).unwrap_err();
            assert!(e.0.contains(want), "{json}: {e}");
        }
        let s = parse("h", r#"{"authType":"userpass","username":"u"}"#, &[("password", "pw")]).unwrap();
        assert_eq!(s.auth.kind(), "userpass");
        assert!(!format!("{s:?}").contains("pw\""));
        let seed = nkeys::KeyPair::new_user().seed().unwrap();
        let s = parse("h", r#"{"authType":"nkey"}"#, &[("nkeySeed", &seed)]).unwrap();
        assert!(matches!(s.auth, Auth::NKey(_)));
        assert!(!format!("{s:?}").contains(&seed));
    }

    #[test]
    fn tls_switches_need_pem_text() {
        let e = parse("tls://h", r#"{"tlsAuth":true}"#, &[]).unwrap_err();
        assert!(e.0.contains("tlsClientCert is empty"));
        let e = parse("tls://h", r#"{"tlsAuthWithCACert":true}"#, &[("tlsCACert", "nope")]).unwrap_err();
        assert!(e.0.contains("tlsCACert does not contain PEM"));
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let s = parse(
            "tls://h",
            r#"{"tlsAuthWithCACert":true,"tlsSkipVerify":true}"#,
            &[("tlsCACert", pem)],
        )
        .unwrap();
        assert!(s.tls.ca_cert.is_some() && s.tls.skip_verify && s.tls.is_configured());
    }

    #[test]
    fn numbers_prefixes_and_subjects() {
        let s = parse(
            "h",
            r#"{"timeoutMs":"500","sampleIntervalSec":0,"retentionMinutes":5,"srvPrefix":"$SRV.acct","inboxPrefix":"_INBOX_g","requestSubjects":["orders.*","admin.>"]}"#,
            &[],
        )
        .unwrap();
        assert_eq!(s.timeout, Duration::from_millis(500));
        assert_eq!(s.sample_interval, None);
        assert_eq!(s.srv_prefix, "$SRV.acct");
        assert!(s.request_allowed("orders.get"));
        assert!(!s.request_allowed("orders.get.x"));
        assert!(s.request_allowed("admin.a.b"));
        assert!(!s.request_allowed("admin"));
        assert!(parse("h", r#"{"timeoutMs":0}"#, &[])
            .unwrap_err()
            .0
            .contains("timeoutMs"));
        assert!(parse("h", r#"{"timeoutMs":"soon"}"#, &[])
            .unwrap_err()
            .0
            .contains("whole number"));
        assert!(parse("h", r#"{"srvPrefix":"a b"}"#, &[])
            .unwrap_err()
            .0
            .contains("srvPrefix"));
        assert!(parse("h", r#"{"inboxPrefix":"_INBOX.>"}"#, &[])
            .unwrap_err()
            .0
            .contains("inboxPrefix"));
        assert!(parse("h", r#"{"requestSubjects":["a.>.b"]}"#, &[])
            .unwrap_err()
            .0
            .contains("a.>.b"));
        assert_eq!(
            parse("h", r#"{"requestSubjects":"a.b, c.*"}"#, &[])
                .unwrap()
                .request_subjects,
            vec!["a.b", "c.*"]
        );
        assert!(parse("h", "[1]", &[]).unwrap_err().0.contains("JSON object"));
        assert!(parse("h", "{", &[]).unwrap_err().0.contains("not valid JSON"));
    }

    #[test]
    fn subject_matching() {
        assert!(subject_matches("a.*.c", "a.b.c"));
        assert!(!subject_matches("a.*", "a"));
        assert!(subject_matches(">", "x.y"));
        assert!(!valid_subject("a..b", false));
        assert!(!valid_subject("a.*", false));
        assert!(valid_subject("a.*.>", true));
        assert!(!valid_subject("a.b*", true));
    }
}
