//! What can go wrong with one query, as Grafana shows it: the kinds of error, their HTTP-like status, whose fault each is (`errorSource`), and the refId every error carries.

use crate::grafana::protocol::ErrorSource;
use crate::model::answer::Unplanned;
use crate::model::frames::FrameError;
use crate::model::query::BadQuery;
use crate::model::settings::SettingsError;
use crate::nats::connection::ConnectError;
use crate::nats::discovery::DiscoveryError;
use crate::nats::request::RequestError;

/// What went wrong with one query.
#[derive(Debug, thiserror::Error)]
pub enum QueryErrorKind {
    #[error("{0}")]
    BadQuery(String),
    #[error("data source settings: {0}")]
    Settings(#[from] SettingsError),
    #[error("{0}")]
    Connect(#[from] ConnectError),
    #[error("{0}")]
    Discovery(#[from] DiscoveryError),
    #[error("{0}")]
    Request(#[from] RequestError),
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("{0}")]
    Unplanned(#[from] Unplanned),
    /// The connection is down, and why (a refused reconnect, a TLS failure…).
    #[error("{0}")]
    Down(String),
}

impl QueryErrorKind {
    /// HTTP-like status Grafana shows with the error.
    pub fn status(&self) -> i32 {
        match self {
            QueryErrorKind::BadQuery(_) | QueryErrorKind::Settings(_) => 400,
            QueryErrorKind::Connect(ConnectError::TimedOut { .. })
            | QueryErrorKind::Request(RequestError::TimedOut { .. }) => 504,
            QueryErrorKind::Connect(_)
            | QueryErrorKind::Discovery(_)
            | QueryErrorKind::Request(_)
            | QueryErrorKind::Down(_) => 502,
            QueryErrorKind::Frame(_) | QueryErrorKind::Unplanned(_) => 500,
        }
    }

    /// Whose fault it is, for Grafana's `errorSource`: only a frame we could not build is ours.
    pub fn source(&self) -> ErrorSource {
        match self {
            QueryErrorKind::Frame(_) | QueryErrorKind::Unplanned(_) => ErrorSource::Plugin,
            _ => ErrorSource::Downstream,
        }
    }

    /// Whether the user fixes this on the data source's settings page (settings, credentials, TLS, address).
    pub fn fixed_in_settings(&self) -> bool {
        matches!(
            self,
            QueryErrorKind::Settings(_)
                | QueryErrorKind::Connect(
                    ConnectError::Auth { .. }
                        | ConnectError::Tls { .. }
                        | ConnectError::TlsSettings(_)
                        | ConnectError::Unreachable { .. }
                )
        )
    }

    /// Label for metrics.
    pub fn outcome(&self) -> &'static str {
        match self {
            QueryErrorKind::BadQuery(_) | QueryErrorKind::Settings(_) => "bad_request",
            _ => "error",
        }
    }
}

/// An error of one query, carrying its refId.
#[derive(Debug, thiserror::Error)]
#[error("query {ref_id}: {kind}")]
pub struct QueryError {
    pub ref_id: String,
    pub kind: QueryErrorKind,
}

impl QueryError {
    pub fn new(ref_id: &str, kind: impl Into<QueryErrorKind>) -> Self {
        Self {
            ref_id: ref_id.to_string(),
            kind: kind.into(),
        }
    }
}

impl From<BadQuery> for QueryError {
    fn from(e: BadQuery) -> Self {
        QueryError {
            ref_id: e.ref_id,
            kind: QueryErrorKind::BadQuery(e.message),
        }
    }
}
