//! Fault points for tests: in debug builds, a panic where the environment variable `NATSMICRO_PANIC_AT` names the point; release builds have none (the function is empty).
//!
//! `NATSMICRO_PANIC_AT` is a comma-separated list of `<point>` or `<point>:<key>` (a query's
//! refId), each optionally followed by `@N` (only the first N times this process passes there).
//! Tests use it to prove that a panic stays in its refId or task.

#[cfg(debug_assertions)]
use crate::sync::lock;

#[cfg(debug_assertions)]
static HITS: std::sync::Mutex<Vec<(String, u64)>> = std::sync::Mutex::new(Vec::new());

/// Panic here when this is a debug build and `NATSMICRO_PANIC_AT` names `point` (with `key`).
pub fn point(point: &str, key: &str) {
    #[cfg(debug_assertions)]
    {
        let Ok(spec) = std::env::var("NATSMICRO_PANIC_AT") else {
            return;
        };
        for entry in spec.split(',') {
            let (name, times) = match entry.split_once('@') {
                Some((n, t)) => (n, t.parse::<u64>().ok()),
                None => (entry, None),
            };
            let named = name == point || name.strip_prefix(point).and_then(|r| r.strip_prefix(':')) == Some(key);
            if !named {
                continue;
            }
            let mut hits = lock(&HITS);
            let n = match hits.iter_mut().find(|(e, _)| e == entry) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    hits.push((entry.to_string(), 1));
                    1
                }
            };
            if times.is_none_or(|t| n <= t) {
                drop(hits);
                panic!("fault injected at {point} {key}");
            }
        }
    }
    #[cfg(not(debug_assertions))]
    let _ = (point, key);
}
