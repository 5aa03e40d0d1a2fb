//! Our own definition of the plugin protocol's `Data` service: the messages current Grafana sends and reads beyond the SDK crate's 2023 copy (`errorSource`, `grafanaConfig`, `userAgent`, …), and a gRPC server for them.
//!
//! Field names and numbers follow `backend.proto` of Grafana's Go plugin SDK. Messages the crate
//! already has right (`DataQuery`, the instance settings, `User`) are reused inside ours. Calls we
//! do not implement (`QueryChunkedData`, and the `AdmissionControl` and `ResourceConversion`
//! services, which have no server here at all) answer gRPC `Unimplemented`, which Grafana reads as
//! "not supported".

use std::collections::HashMap;
use std::sync::Arc;

use grafana_plugin_sdk::pluginv2;
use tonic::codegen::*;

/// `errorSource` of a failed query: whose fault it is, for Grafana's plugin SLOs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorSource {
    /// Our bug.
    Plugin,
    /// NATS, a micro service, the data source settings or the query: not the plugin's fault.
    Downstream,
}

impl ErrorSource {
    pub fn name(self) -> &'static str {
        match self {
            ErrorSource::Plugin => "plugin",
            ErrorSource::Downstream => "downstream",
        }
    }
}

/// `pluginv2.PluginContext`, with the fields Grafana 10.3+ adds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PluginContext {
    #[prost(int64, tag = "1")]
    pub org_id: i64,
    #[prost(string, tag = "2")]
    pub plugin_id: String,
    #[prost(message, optional, tag = "3")]
    pub user: Option<pluginv2::User>,
    #[prost(message, optional, tag = "4")]
    pub app_instance_settings: Option<pluginv2::AppInstanceSettings>,
    #[prost(message, optional, tag = "5")]
    pub data_source_instance_settings: Option<pluginv2::DataSourceInstanceSettings>,
    /// Grafana's configuration as key/value pairs (never logged: it may hold secrets).
    #[prost(map = "string, string", tag = "6")]
    pub grafana_config: HashMap<String, String>,
    #[prost(string, tag = "7")]
    pub plugin_version: String,
    /// The Grafana server that sent the request, e.g. `Grafana/12.4.0 (linux; amd64)`.
    #[prost(string, tag = "8")]
    pub user_agent: String,
    #[prost(string, tag = "9")]
    pub api_version: String,
}

impl PluginContext {
    /// The context in the SDK crate's shape, for code shared with the other services.
    pub fn sdk(&self) -> pluginv2::PluginContext {
        pluginv2::PluginContext {
            org_id: self.org_id,
            plugin_id: self.plugin_id.clone(),
            user: self.user.clone(),
            app_instance_settings: self.app_instance_settings.clone(),
            data_source_instance_settings: self.data_source_instance_settings.clone(),
        }
    }

    /// Where this data source's settings are edited, when Grafana says its own address (`GF_APP_URL`).
    pub fn settings_page(&self) -> Option<String> {
        let app = self.grafana_config.get("GF_APP_URL")?.trim().trim_end_matches('/');
        let uid = &self.data_source_instance_settings.as_ref()?.uid;
        let plain = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        let web = app.starts_with("http://") || app.starts_with("https://");
        (web && !uid.is_empty() && uid.chars().all(plain)).then(|| format!("{app}/connections/datasources/edit/{uid}"))
    }

    /// The Grafana version from the user agent (`Grafana/12.4.0 (…)` → `12.4.0`), if it says.
    pub fn grafana_version(&self) -> Option<&str> {
        let rest = self.user_agent.trim().strip_prefix("Grafana/")?;
        let version = rest.split(|c: char| c.is_whitespace() || c == '(').next()?;
        (!version.is_empty()).then_some(version)
    }
}

/// `pluginv2.QueryDataRequest` (the frame `format` field is left out: we always answer Arrow, the default).
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryDataRequest {
    #[prost(message, optional, tag = "1")]
    pub plugin_context: Option<PluginContext>,
    #[prost(map = "string, string", tag = "2")]
    pub headers: HashMap<String, String>,
    #[prost(message, repeated, tag = "3")]
    pub queries: Vec<pluginv2::DataQuery>,
}

/// `pluginv2.QueryDataResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryDataResponse {
    #[prost(map = "string, message", tag = "1")]
    pub responses: HashMap<String, DataResponse>,
}

/// `pluginv2.DataResponse`, with `errorSource`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DataResponse {
    #[prost(bytes = "vec", repeated, tag = "1")]
    pub frames: Vec<Vec<u8>>,
    #[prost(string, tag = "2")]
    pub error: String,
    #[prost(bytes = "vec", tag = "3")]
    pub json_meta: Vec<u8>,
    #[prost(int32, tag = "4")]
    pub status: i32,
    /// `plugin` or `downstream` on an error; empty otherwise.
    #[prost(string, tag = "5")]
    pub error_source: String,
}

/// What answers `pluginv2.Data/QueryData`.
#[tonic::async_trait]
pub trait Data: Send + Sync + 'static {
    async fn query_data(&self, request: QueryDataRequest) -> QueryDataResponse;
}

/// The gRPC server of `pluginv2.Data`.
pub struct DataServer<T> {
    inner: Arc<T>,
}

impl<T> DataServer<T> {
    pub fn new(inner: T) -> Self {
        Self { inner: Arc::new(inner) }
    }
}

impl<T> Clone for DataServer<T> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> tonic::server::NamedService for DataServer<T> {
    const NAME: &'static str = "pluginv2.Data";
}

struct QueryData<T>(Arc<T>);

impl<T: Data> tonic::server::UnaryService<QueryDataRequest> for QueryData<T> {
    type Response = QueryDataResponse;
    type Future = BoxFuture<tonic::Response<QueryDataResponse>, tonic::Status>;

    fn call(&mut self, request: tonic::Request<QueryDataRequest>) -> Self::Future {
        let inner = Arc::clone(&self.0);
        Box::pin(async move { Ok(tonic::Response::new(inner.query_data(request.into_inner()).await)) })
    }
}

/// A gRPC answer with status `Unimplemented` and no body.
pub fn unimplemented() -> http::Response<tonic::body::BoxBody> {
    let mut response = http::Response::new(empty_body());
    let headers = response.headers_mut();
    headers.insert(tonic::Status::GRPC_STATUS, (tonic::Code::Unimplemented as i32).into());
    headers.insert(http::header::CONTENT_TYPE, tonic::metadata::GRPC_CONTENT_TYPE);
    response
}

impl<T, B> Service<http::Request<B>> for DataServer<T>
where
    T: Data,
    B: Body + Send + 'static,
    B::Error: Into<StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::BoxBody>;
    type Error = std::convert::Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let inner = Arc::clone(&self.inner);
        match request.uri().path() {
            "/pluginv2.Data/QueryData" => Box::pin(async move {
                let codec = tonic::codec::ProstCodec::<QueryDataResponse, QueryDataRequest>::default();
                let mut grpc = tonic::server::Grpc::new(codec);
                Ok(grpc.unary(QueryData(inner), request).await)
            }),
            // QueryChunkedData and anything newer.
            _ => Box::pin(async move { Ok(unimplemented()) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    #[test]
    fn new_context_fields_decode_and_old_messages_still_read_ours() {
        let ctx = PluginContext {
            org_id: 3,
            user_agent: "Grafana/12.4.0 (linux; amd64)".into(),
            grafana_config: HashMap::from([("GF_LIVE_MAX_CONNECTIONS".into(), "0".into())]),
            data_source_instance_settings: Some(pluginv2::DataSourceInstanceSettings {
                uid: "u".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let bytes = ctx.encode_to_vec();
        let old = pluginv2::PluginContext::decode(bytes.as_slice()).unwrap();
        assert_eq!(old, ctx.sdk());
        assert_eq!(PluginContext::decode(bytes.as_slice()).unwrap(), ctx);
        assert_eq!(ctx.grafana_version(), Some("12.4.0"));
        for ua in ["", "Grafana/", "curl/8"] {
            let c = PluginContext {
                user_agent: ua.into(),
                ..Default::default()
            };
            assert_eq!(c.grafana_version(), None, "{ua}");
        }
        // The SDK's DataResponse reads ours, errorSource aside.
        let ours = DataResponse {
            error: "e".into(),
            status: 502,
            error_source: "downstream".into(),
            ..Default::default()
        };
        let theirs = pluginv2::DataResponse::decode(ours.encode_to_vec().as_slice()).unwrap();
        assert_eq!((theirs.error.as_str(), theirs.status), ("e", 502));
    }
}
