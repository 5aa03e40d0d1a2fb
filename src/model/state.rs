//! Five-state liveness of an instance (`metric: "state"`): its codes, names and colours, the value mappings frames carry, and the rule that turns an answer or a silence into a state.
//!
//! `up` 0 · `slow` 1 (answered, RTT over `slowMs`) · `unresponsive` 2 (known and subscribed,
//! no reply in time) · `gone` 3 (no responders) · `denied` 4 (permission violation) ·
//! `malformed` 5 (the reply is not valid). Why a known instance is silent is found by one
//! targeted `PING` (see the discovery round); the answered states follow from the RTT.

use serde_json::{json, Map, Value};

use crate::model::frames::FieldConfig;

/// Most targeted pings one round sends to silent instances; those beyond it are reported
/// `unresponsive` without being asked, and the answer says how many.
pub const MAX_TARGETED_PINGS: usize = 32;

/// An instance's liveness in one round.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Up,
    Slow,
    Unresponsive,
    Gone,
    Denied,
    Malformed,
}

/// Why a known instance did not answer a round: the verdict of its targeted `PING`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Silence {
    /// Subscribed (no 503), but no reply in time.
    Unresponsive,
    /// The server answered 503: nothing subscribes to its subject any more.
    Gone,
    /// The server refused our request: a permissions violation.
    Denied,
    /// It answered with something that is not a valid PING reply.
    Malformed,
}

impl Silence {
    pub fn state(self) -> State {
        match self {
            Silence::Unresponsive => State::Unresponsive,
            Silence::Gone => State::Gone,
            Silence::Denied => State::Denied,
            Silence::Malformed => State::Malformed,
        }
    }

    /// Label for metrics.
    pub fn name(self) -> &'static str {
        self.state().name()
    }
}

impl State {
    pub const ALL: [State; 6] = [
        State::Up,
        State::Slow,
        State::Unresponsive,
        State::Gone,
        State::Denied,
        State::Malformed,
    ];

    /// The state of an instance that answered in `rtt_ms`.
    pub fn answered(rtt_ms: f64, slow_ms: f64) -> State {
        if rtt_ms > slow_ms {
            State::Slow
        } else {
            State::Up
        }
    }

    /// The state of a known instance that did not answer; `None`: nobody asked it why.
    pub fn silent(silence: Option<Silence>) -> State {
        silence.map_or(State::Unresponsive, Silence::state)
    }

    /// The number frames carry.
    pub fn code(self) -> u8 {
        match self {
            State::Up => 0,
            State::Slow => 1,
            State::Unresponsive => 2,
            State::Gone => 3,
            State::Denied => 4,
            State::Malformed => 5,
        }
    }

    pub fn from_code(code: u8) -> Option<State> {
        State::ALL.into_iter().find(|s| s.code() == code)
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Up => "up",
            State::Slow => "slow",
            State::Unresponsive => "unresponsive",
            State::Gone => "gone",
            State::Denied => "denied",
            State::Malformed => "malformed",
        }
    }

    /// Grafana colour of the state (the panel's state strip uses the same ones).
    pub fn colour(self) -> &'static str {
        match self {
            State::Up => "green",
            State::Slow => "yellow",
            State::Unresponsive => "orange",
            State::Gone => "red",
            State::Denied => "purple",
            State::Malformed => "dark-red",
        }
    }
}

/// Field config of numeric `state` values: range 0–5 and a value mapping per state (name and
/// colour), read by Grafana's state timeline, stat panels and alert rules alike.
pub fn state_config() -> FieldConfig {
    let options: Map<String, Value> = State::ALL
        .iter()
        .map(|s| {
            (
                s.code().to_string(),
                json!({"text": s.name(), "color": s.colour(), "index": s.code()}),
            )
        })
        .collect();
    FieldConfig {
        min: Some(0.0),
        max: Some(5.0),
        mappings: Some(json!([{"type": "value", "options": options}])),
        ..FieldConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_the_specs() {
        let codes: Vec<u8> = State::ALL.iter().map(|s| s.code()).collect();
        assert_eq!(codes, vec![0, 1, 2, 3, 4, 5]);
        for s in State::ALL {
            assert_eq!(State::from_code(s.code()), Some(s));
        }
        assert_eq!(State::from_code(6), None);
    }

    #[test]
    fn answers_are_up_or_slow_and_silences_say_why() {
        assert_eq!(State::answered(999.0, 1000.0), State::Up);
        assert_eq!(State::answered(1000.0, 1000.0), State::Up);
        assert_eq!(State::answered(1000.5, 1000.0), State::Slow);
        assert_eq!(State::silent(None), State::Unresponsive);
        assert_eq!(State::silent(Some(Silence::Gone)), State::Gone);
        assert_eq!(State::silent(Some(Silence::Denied)), State::Denied);
        assert_eq!(State::silent(Some(Silence::Malformed)), State::Malformed);
    }

    #[test]
    fn the_mappings_name_every_state_with_its_colour() {
        let c = state_config();
        let m = &c.mappings.expect("mappings")[0]["options"];
        for s in State::ALL {
            assert_eq!(m[s.code().to_string()]["text"], s.name());
            assert_eq!(m[s.code().to_string()]["color"], s.colour());
        }
        assert_eq!(c.max, Some(5.0));
    }
}
