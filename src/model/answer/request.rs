//! `request` frames: one request's reply as a table, bounded by the answer budget before anything is built.
//!
//! A JSON object reply becomes one row with a column per key, an array of objects one row per
//! element; anything else one `reply` column. Numbers become numbers, booleans booleans, nested
//! values their JSON text. At most [`MAX_REQUEST_COLUMNS`] keys become columns (in the order they
//! first appear); the other keys of a row are gathered in one `more_keys` column as a JSON object.
//! Rows stop at the budget, and a reply over [`MAX_REQUEST_JSON_BYTES`] is shown as cut text.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::meta::{ms, Budget, MAX_REQUEST_COLUMNS, MAX_REQUEST_JSON_BYTES};
use super::{Inputs, Unplanned};
use crate::model::frames::{Field, Frame, FrameMeta, Notice, Severity, Values, TABLE};
use crate::model::observed::RequestReply;
use crate::model::query::Query;

/// The column that gathers the keys beyond [`MAX_REQUEST_COLUMNS`].
const MORE: &str = "more_keys";

fn warn(frame: &mut Frame, text: String) {
    frame.meta.get_or_insert_with(FrameMeta::default).notices.push(Notice {
        severity: Severity::Warning,
        text,
    });
}

/// The text of a cell (strings as they are, other values as JSON).
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Bytes a cell will hold as text (strings, and the JSON of objects and arrays).
fn text_len(v: &Value) -> usize {
    match v {
        Value::String(s) => s.len(),
        Value::Array(_) | Value::Object(_) => v.to_string().len(),
        _ => 0,
    }
}

pub fn table(q: &Query, reply: &RequestReply) -> Frame {
    let meta = FrameMeta {
        executed_query_string: Some(q.subject.clone()),
        custom: Some(json!({
            "rttMs": ms(reply.rtt),
            "bytes": reply.payload.len(),
            "headers": reply.headers.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        })),
        ..FrameMeta::typed(TABLE)
    };
    let mut frame = Frame::new("request", &q.ref_id).with_meta(meta);
    let parsed = (reply.payload.len() <= MAX_REQUEST_JSON_BYTES)
        .then(|| serde_json::from_slice::<Value>(&reply.payload).ok())
        .flatten();
    let rows: Vec<Map<String, Value>> = match parsed {
        Some(Value::Object(o)) => vec![o],
        Some(Value::Array(items)) if !items.is_empty() && items.iter().all(Value::is_object) => items
            .into_iter()
            .filter_map(|v| match v {
                Value::Object(o) => Some(o),
                _ => None,
            })
            .collect(),
        _ => {
            let mut end = reply.payload.len().min(MAX_REQUEST_JSON_BYTES);
            let cut = end < reply.payload.len();
            let mut shown = String::from_utf8_lossy(&reply.payload[..end]).into_owned();
            if cut {
                // Do not end inside a character the cut split.
                while shown.ends_with('\u{FFFD}') && end > 0 {
                    shown.pop();
                    end -= 1;
                }
                warn(
                    &mut frame,
                    format!(
                        "The reply has {} bytes: its first {} KiB are shown as text (replies over {} KiB are not read as JSON)",
                        reply.payload.len(),
                        MAX_REQUEST_JSON_BYTES >> 10,
                        MAX_REQUEST_JSON_BYTES >> 10
                    ),
                );
            }
            return frame.with_field(Field::new("reply", Values::String(vec![shown])));
        }
    };
    let mut columns: Vec<&str> = Vec::new();
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut more = false;
    for row in &rows {
        for k in row.keys() {
            if seen.contains(k.as_str()) {
                continue;
            }
            if columns.len() < MAX_REQUEST_COLUMNS {
                seen.insert(k);
                columns.push(k);
            } else {
                more = true;
            }
        }
    }
    let more_name = if columns.contains(&MORE) { "more_keys_" } else { MORE };
    let mut budget = Budget::new(columns.len() + usize::from(more));
    let mut kept: Vec<(&Map<String, Value>, Option<String>)> = Vec::new();
    for row in &rows {
        let rest: Option<String> = more.then(|| {
            let other: Map<String, Value> = row
                .iter()
                .filter(|(k, _)| !seen.contains(k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            Value::Object(other).to_string()
        });
        let bytes = columns.iter().filter_map(|c| row.get(*c)).map(text_len).sum::<usize>()
            + rest.as_ref().map_or(0, String::len);
        if budget.admit(bytes) {
            kept.push((row, rest));
        }
    }
    for name in &columns {
        let cells: Vec<Option<&Value>> = kept
            .iter()
            .map(|(r, _)| r.get(*name).filter(|v| !v.is_null()))
            .collect();
        let values = if cells.iter().all(|c| c.is_none_or(Value::is_number)) {
            Values::NullableFloat64(cells.iter().map(|c| c.and_then(Value::as_f64)).collect())
        } else if cells.iter().all(|c| c.is_none_or(Value::is_boolean)) {
            Values::NullableBool(cells.iter().map(|c| c.and_then(Value::as_bool)).collect())
        } else {
            Values::NullableString(cells.iter().map(|c| c.map(text)).collect())
        };
        frame = frame.with_field(Field::new(*name, values));
    }
    if more {
        let cells = kept.into_iter().map(|(_, rest)| rest).collect();
        frame = frame.with_field(Field::new(more_name, Values::NullableString(cells)));
        warn(
            &mut frame,
            format!(
                "The reply has more than {MAX_REQUEST_COLUMNS} keys: the first {MAX_REQUEST_COLUMNS} are columns, the others are in the column {more_name} as JSON"
            ),
        );
    }
    budget.note(
        &mut frame,
        "Ask the service for fewer items (a smaller page or a filter in the payload).",
    );
    frame
}

/// The answer of a `request` query from what its plan fetched.
pub(super) fn answer<S: AsRef<str>>(q: &Query, inputs: Inputs<'_, S>) -> Result<Vec<Frame>, Unplanned> {
    match inputs {
        Inputs::Reply(reply) => Ok(vec![table(q, reply)]),
        other => Err(Unplanned::new(q, &other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::answer::meta::{MAX_CELLS, MAX_ROWS};

    fn reply(body: &str) -> RequestReply {
        RequestReply {
            payload: body.as_bytes().to_vec().into(),
            headers: Vec::new(),
            rtt: std::time::Duration::from_millis(1),
        }
    }

    fn query() -> Query {
        Query::parse("A", "request", br#"{"queryType":"request","subject":"a.b"}"#).unwrap()
    }

    fn notices(f: &Frame) -> Vec<String> {
        f.meta
            .iter()
            .flat_map(|m| m.notices.iter().map(|n| n.text.clone()))
            .collect()
    }

    #[test]
    fn thousands_of_keys_become_a_bounded_number_of_columns() {
        let body: Vec<Value> = (0..8000).map(|i| json!({format!("k{i}"): 0})).collect();
        let f = table(&query(), &reply(&Value::Array(body).to_string()));
        assert_eq!(f.fields.len(), MAX_REQUEST_COLUMNS + 1);
        assert_eq!(f.fields.last().unwrap().name, MORE);
        assert_eq!(f.rows(), MAX_CELLS / (MAX_REQUEST_COLUMNS + 1), "cells bounded");
        let n = notices(&f);
        assert!(n.iter().any(|t| t.contains("more than 64 keys")), "{n:?}");
    }

    #[test]
    fn rows_stop_at_the_budget_with_a_notice() {
        let body: Vec<Value> = (0..MAX_ROWS + 5).map(|i| json!({"n": i})).collect();
        let f = table(&query(), &reply(&Value::Array(body).to_string()));
        assert_eq!(f.rows(), MAX_ROWS);
        assert!(notices(&f).iter().any(|t| t.contains("5 more not shown")));
    }

    #[test]
    fn a_reply_too_large_for_columns_is_cut_text() {
        let body = format!("\"{}\"", "é".repeat(MAX_REQUEST_JSON_BYTES));
        let f = table(&query(), &reply(&body));
        assert_eq!(f.fields.len(), 1);
        let Values::String(v) = &f.fields[0].values else {
            panic!()
        };
        assert!(v[0].len() <= MAX_REQUEST_JSON_BYTES && !v[0].ends_with('\u{FFFD}'));
        assert!(notices(&f)[0].contains("not read as JSON"));
    }
}
