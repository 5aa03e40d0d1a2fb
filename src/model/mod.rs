//! The model: settings, queries, the history store and every frame the plugin returns; pure, no I/O.
//!
//! May use: [`crate::metrics`] only (no module here does I/O, spawns tasks or holds a connection).
//! Used by: [`crate::nats`] (settings, the history it fills, the observed data it produces) and
//! [`crate::grafana`].

pub mod aggregate;
pub mod answer;
pub mod channel;
pub mod contract;
pub mod frames;
pub mod history;
pub mod key;
pub mod leaves;
pub mod live;
pub mod micro;
pub mod observed;
pub mod outbound;
pub mod probe;
pub mod query;
pub mod rate;
pub mod settings;
pub mod state;
