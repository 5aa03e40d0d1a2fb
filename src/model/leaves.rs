//! Leaves of an endpoint's custom STATS `data` object, addressed by dot paths (`queue.depth`, `workers.0.busy`): the numeric ones for metrics and history, every one for the table; bounded in count and depth.
//!
//! A leaf whose last path token ends in `_total` or starts with `num_` is a counter (its time
//! series is a per-second rate, restart-aware like `num_requests`); every other numeric leaf is
//! a gauge (its value as reported). Numbers, and nothing else, are numeric: booleans, strings
//! and nulls show in the table only.

use serde_json::Value;

/// Numeric leaves the history keeps per endpoint (the first ones in path order); the answer
/// says when an endpoint has more.
pub const MAX_DATA_LEAVES: usize = 32;
/// Leaves a table lists per endpoint.
pub const MAX_TABLE_LEAVES: usize = 256;
/// Deepest path followed (tokens).
pub const MAX_DEPTH: usize = 8;
/// Longest path accepted in a query (`data:<path>`).
pub const MAX_PATH_LEN: usize = 200;

/// One leaf: its dot path and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct Leaf {
    pub path: String,
    pub value: LeafValue,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LeafValue {
    Number(f64),
    /// A string, boolean or null, as JSON text (strings without quotes).
    Text(String),
}

/// Every leaf of `data` in path order, at most `max`; `true` when some were left out.
pub fn leaves(data: &Value, max: usize) -> (Vec<Leaf>, bool) {
    let mut out = Vec::new();
    let mut cut = false;
    walk(data, &mut String::new(), 0, max, &mut out, &mut cut);
    out.sort_by(|a, b| a.path.cmp(&b.path));
    (out, cut)
}

/// The numeric leaves of `data` in path order, at most `max`; `true` when an endpoint has more.
pub fn numeric(data: &Value, max: usize) -> (Vec<(String, f64)>, bool) {
    let (all, cut) = leaves(data, MAX_TABLE_LEAVES.max(max));
    let mut nums: Vec<(String, f64)> = all
        .into_iter()
        .filter_map(|l| match l.value {
            LeafValue::Number(v) => Some((l.path, v)),
            LeafValue::Text(_) => None,
        })
        .collect();
    let over = nums.len() > max;
    nums.truncate(max);
    (nums, cut || over)
}

/// The numeric leaf at `path`, if there is one.
pub fn lookup(data: &Value, path: &str) -> Option<f64> {
    let mut at = data;
    for token in path.split('.') {
        at = match at {
            Value::Object(m) => m.get(token)?,
            Value::Array(a) => a.get(token.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    at.as_f64()
}

/// Whether the leaf at `path` counts up (its time series is a rate).
pub fn is_counter(path: &str) -> bool {
    let last = path.rsplit('.').next().unwrap_or(path);
    last.ends_with("_total") || last.starts_with("num_")
}

/// A path a query may ask for: dot-separated non-empty tokens, no spaces, not too long.
pub fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= MAX_PATH_LEN
        && path.split('.').count() <= MAX_DEPTH
        && path
            .split('.')
            .all(|t| !t.is_empty() && t.chars().all(|c| !c.is_whitespace() && !c.is_control()))
}

fn walk(v: &Value, path: &mut String, depth: usize, max: usize, out: &mut Vec<Leaf>, cut: &mut bool) {
    let child = |key: &str, v: &Value, path: &mut String, out: &mut Vec<Leaf>, cut: &mut bool| {
        let len = path.len();
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
        walk(v, path, depth + 1, max, out, cut);
        path.truncate(len);
    };
    match v {
        Value::Object(m) if depth < MAX_DEPTH && !path.is_empty() || depth == 0 && v.is_object() => {
            for (k, v) in m {
                child(k, v, path, out, cut);
            }
        }
        Value::Array(a) if depth < MAX_DEPTH && depth > 0 => {
            for (i, v) in a.iter().enumerate() {
                child(&i.to_string(), v, path, out, cut);
            }
        }
        _ if depth == 0 => {
            // `data` that is not an object (a bare number or string) is one leaf named `value`.
            if !v.is_null() {
                push(out, "value".to_string(), v, max, cut);
            }
        }
        Value::Object(_) | Value::Array(_) => *cut = true,
        _ => push(out, path.clone(), v, max, cut),
    }
}

fn push(out: &mut Vec<Leaf>, path: String, v: &Value, max: usize, cut: &mut bool) {
    if out.len() >= max {
        *cut = true;
        return;
    }
    let value = match v {
        Value::Number(n) => n
            .as_f64()
            .map_or_else(|| LeafValue::Text(n.to_string()), LeafValue::Number),
        Value::String(s) => LeafValue::Text(s.clone()),
        other => LeafValue::Text(other.to_string()),
    };
    out.push(Leaf { path, value });
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn leaves_are_dot_paths_in_order_and_only_numbers_are_numeric() {
        let data =
            json!({"queue": {"depth": 3, "name": "q1"}, "busy": true, "workers": [{"n": 1}, {"n": 2.5}], "none": null});
        let (all, cut) = leaves(&data, 100);
        let paths: Vec<&str> = all.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "busy",
                "none",
                "queue.depth",
                "queue.name",
                "workers.0.n",
                "workers.1.n"
            ]
        );
        assert!(!cut);
        assert_eq!(all[3].value, LeafValue::Text("q1".into()));
        let (nums, _) = numeric(&data, 100);
        assert_eq!(
            nums,
            vec![
                ("queue.depth".to_string(), 3.0),
                ("workers.0.n".into(), 1.0),
                ("workers.1.n".into(), 2.5)
            ]
        );
        assert_eq!(lookup(&data, "workers.1.n"), Some(2.5));
        assert_eq!(lookup(&data, "queue.name"), None);
        assert_eq!(lookup(&data, "queue.missing"), None);
        assert_eq!(lookup(&json!(7), "value"), None);
    }

    #[test]
    fn bounds_hold_and_say_so() {
        let wide: serde_json::Map<String, Value> = (0..100).map(|i| (format!("k{i:03}"), json!(i))).collect();
        let (nums, cut) = numeric(&Value::Object(wide), MAX_DATA_LEAVES);
        assert_eq!(nums.len(), MAX_DATA_LEAVES);
        assert!(cut);
        assert_eq!(nums[0].0, "k000");
        let mut deep = json!(1);
        for _ in 0..20 {
            deep = json!({ "d": deep });
        }
        let (all, cut) = leaves(&deep, 10);
        assert!(all.is_empty() && cut, "deeper than {MAX_DEPTH} is cut");
        assert_eq!(leaves(&json!(5), 10).0[0].path, "value");
    }

    #[test]
    fn counters_and_paths() {
        assert!(is_counter("jobs_total") && is_counter("q.num_dropped"));
        assert!(!is_counter("queue.depth"));
        assert!(valid_path("a.b.0") && !valid_path("a..b") && !valid_path("a b") && !valid_path(""));
    }
}
