//! The NATS side: connections, discovery rounds, requests and the background sampler; knows nothing of Grafana.
//!
//! May use: [`crate::model`] (settings to connect with, the observed data it hands back, the
//! history the sampler fills) and [`crate::metrics`]. Never [`crate::grafana`].

pub mod connection;
pub mod discovery;
pub mod probe;
pub mod request;
pub mod sampler;
pub mod server_errors;
pub mod shared_history;
