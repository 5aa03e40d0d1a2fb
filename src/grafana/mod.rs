//! The Grafana side: the plugin protocol's handlers and what they need (health, resources, Live, serving, logging); thin.
//!
//! May use: [`crate::nats`], [`crate::model`] and [`crate::metrics`]. Nothing uses this layer
//! except the binary.

pub mod execute;
pub mod health;
pub mod logging;
pub mod plugin;
pub mod protocol;
pub mod query_error;
pub mod resources;
pub mod serve;
pub mod stream;
