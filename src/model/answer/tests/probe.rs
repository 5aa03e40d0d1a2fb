//! Unit tests of the `probe` instant and table frames: the probe and metric a query picks.
//!
//! Test code only: the parent module includes it as `mod probe;`.
#![cfg(test)]

use crate::model::answer::probe::instant;
use crate::model::frames::Values;
use crate::model::probe::tests::{probe, reply};
use crate::model::probe::{judge, ProbeFailure};
use crate::model::query::Query;
use crate::model::settings::Expect;

#[test]
fn frames_pick_the_probe_and_the_metric() {
    let p = probe(Expect::default());
    let results = vec![judge(&p, 0, reply("{}", 12.0)), {
        let mut other = judge(&p, 0, Err(ProbeFailure::TimedOut));
        other.name = "q".into();
        other
    }];
    let q = |json: &str| Query::parse("A", "", json.as_bytes()).unwrap();
    let f = instant(&q(r#"{"queryType":"probe","metric":"state"}"#), &results);
    assert_eq!(f.fields[2].values, Values::Float64(vec![0.0, 2.0]));
    let one = instant(&q(r#"{"queryType":"probe","probe":"q","metric":"success"}"#), &results);
    assert_eq!(one.fields[2].values, Values::Float64(vec![0.0]));
    let t = instant(&q(r#"{"queryType":"probe","format":"table"}"#), &results);
    let names: Vec<_> = t.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["probe", "subject", "latency", "success", "state", "code", "detail"]
    );
    t.to_arrow().unwrap();
}
