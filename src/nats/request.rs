//! One NATS request/reply to a service endpoint, with ADR-32 service errors (`Nats-Service-Error` headers) turned into errors.
//!
//! Protocol code: no Grafana types.

use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::model::observed::RequestReply;

/// Header carrying a service error's text (ADR-32).
pub const SERVICE_ERROR: &str = "Nats-Service-Error";
/// Header carrying a service error's code (ADR-32).
pub const SERVICE_ERROR_CODE: &str = "Nats-Service-Error-Code";

/// A reply's headers, by name, in the order received.
pub fn header_pairs(msg: &async_nats::Message) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    if let Some(h) = &msg.headers {
        for (name, values) in h.iter() {
            for v in values {
                pairs.push((name.to_string(), v.to_string()));
            }
        }
    }
    pairs
}

/// A request's headers, built without the client's panicking conversions (names and values
/// were checked where they entered; this is the second line of defence).
pub fn header_map(headers: &[(String, String)]) -> Result<async_nats::HeaderMap, String> {
    use std::str::FromStr;
    let mut map = async_nats::HeaderMap::new();
    for (k, v) in headers {
        let name = async_nats::HeaderName::from_str(k).map_err(|e| format!("header name: {e}"))?;
        let value = async_nats::HeaderValue::from_str(v).map_err(|e| format!("header {k}: {e}"))?;
        map.append(name, value);
    }
    Ok(map)
}

/// The ADR-32 service error a reply carries, as (text, code); header names in any case.
pub fn service_error(pairs: &[(String, String)]) -> Option<(String, String)> {
    let find = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    find(SERVICE_ERROR).map(|m| (m, find(SERVICE_ERROR_CODE).unwrap_or_else(|| "?".to_string())))
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("no service listens on {0} (no responders)")]
    NoResponders(String),
    #[error("no reply on {subject} within {timeout_ms} ms")]
    TimedOut { subject: String, timeout_ms: u128 },
    #[error("the service answered with error {code}: {message}")]
    Service { code: String, message: String },
    #[error("the NATS connection is down (reconnecting); retry in a moment")]
    NotConnected,
    #[error("request on {subject} failed: {message}")]
    Other { subject: String, message: String },
}

/// Send one request and wait for its reply.
pub async fn request(
    client: &async_nats::Client,
    subject: &str,
    payload: Bytes,
    headers: &[(String, String)],
    timeout: Duration,
) -> Result<RequestReply, RequestError> {
    if client.connection_state() != async_nats::connection::State::Connected {
        return Err(RequestError::NotConnected);
    }
    let mut req = async_nats::Request::new().payload(payload).timeout(Some(timeout));
    if !headers.is_empty() {
        req = req.headers(header_map(headers).map_err(|message| RequestError::Other {
            subject: subject.to_string(),
            message,
        })?);
    }
    let t0 = Instant::now();
    let msg = client.send_request(subject.to_string(), req).await.map_err(|e| {
        use async_nats::RequestErrorKind as K;
        match e.kind() {
            K::NoResponders => RequestError::NoResponders(subject.to_string()),
            K::TimedOut => RequestError::TimedOut {
                subject: subject.to_string(),
                timeout_ms: timeout.as_millis(),
            },
            K::InvalidSubject | K::MaxPayloadExceeded | K::Other => RequestError::Other {
                subject: subject.to_string(),
                message: e.to_string(),
            },
        }
    })?;
    let rtt = t0.elapsed();
    let pairs = header_pairs(&msg);
    if let Some((message, code)) = service_error(&pairs) {
        return Err(RequestError::Service { code, message });
    }
    Ok(RequestReply {
        payload: msg.payload,
        headers: pairs,
        rtt,
    })
}
