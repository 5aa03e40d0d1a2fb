//! What every answer shares: the notices of a round, the meta of frames built from one, the field configs of `up`, ratios and states, and the answer budget (rows, cells and text bytes per refId, applied while a frame is built, with the notice when it cuts).

use serde_json::json;

use crate::model::frames::{Field, FieldConfig, Frame, FrameMeta, Notice, Severity, Values};
use crate::model::observed::Round;
use crate::model::state::{state_config, State};

use crate::model::observed::StopReason;
use crate::model::state::MAX_TARGETED_PINGS;

pub(crate) fn nanos(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

pub(crate) fn ms(d: std::time::Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// What a round skipped or cut, as notices (shared by instant, table and timeseries frames).
pub fn round_notices(round: &Round) -> Vec<Notice> {
    let mut notices = Vec::new();
    let warn = |text: String| Notice {
        severity: Severity::Warning,
        text,
    };
    if round.invalid > 0 {
        notices.push(warn(format!(
            "{} invalid {} skipped (not JSON, wrong type, no name/id or one too long, or duplicate) on {}",
            round.invalid,
            if round.invalid == 1 {
                "reply was"
            } else {
                "replies were"
            },
            round.subject
        )));
    }
    if round.oversized > 0 {
        notices.push(warn(format!(
            "{} {} larger than a 64th of maxRoundBytes skipped unread on {}",
            round.oversized,
            if round.oversized == 1 { "reply" } else { "replies" },
            round.subject
        )));
    }
    let cut: Vec<String> = round
        .limited
        .iter()
        .filter(|(l, _)| **l != crate::model::micro::Limit::Name)
        .map(|(l, n)| format!("{} ({n})", l.rule()))
        .collect();
    if !cut.is_empty() {
        notices.push(warn(format!(
            "replies over the field bounds were cut: {}",
            cut.join("; ")
        )));
    }
    if round.unasked > 0 {
        notices.push(warn(format!(
            "{} silent {} not asked why with a targeted ping (at most {} per round): shown as unresponsive",
            round.unasked,
            if round.unasked == 1 {
                "instance was"
            } else {
                "instances were"
            },
            MAX_TARGETED_PINGS,
        )));
    }
    if round.late_cut_short {
        notices.push(warn(format!(
            "late replies to a round on {} within the last minute reached the reply cap or the maxRoundBytes budget: something on this account answers far more than a fleet would",
            round.subject
        )));
    }
    match round.stop {
        StopReason::Capped => notices.push(warn(format!(
            "stopped at the reply cap of {} replies: instances beyond it are not shown",
            round.replies.len()
        ))),
        StopReason::Budget => notices.push(warn(format!(
            "stopped after {} of replies (the maxRoundBytes budget): instances beyond it are not shown",
            bytes_text(round.bytes)
        ))),
        StopReason::NoResponders => notices.push(Notice {
            severity: Severity::Info,
            text: format!("no service answered {} (no responders)", round.subject),
        }),
        StopReason::Timeout if round.replies.is_empty() => notices.push(warn(format!(
            "no valid reply on {} within {:.0} ms",
            round.subject,
            ms(round.elapsed)
        ))),
        _ => {}
    }
    notices
}

/// Bytes for people: `512 B`, `3.0 KiB`, `16.0 MiB`.
pub fn bytes_text(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

/// Meta shared by every frame built from a round: type, executed subject, notices, round facts.
pub(crate) fn round_meta(kind: &'static str, round: &Round) -> FrameMeta {
    FrameMeta {
        executed_query_string: Some(round.subject.clone()),
        notices: round_notices(round),
        custom: Some(json!({
            "stop": round.stop.name(),
            "elapsedMs": ms(round.elapsed),
            "lastReplyMs": round.last_reply.map(ms),
            "replies": round.replies.len(),
            "invalidReplies": round.invalid,
            "oversizedReplies": round.oversized,
            "bytes": round.bytes,
            "down": round.down.len(),
            "targetedPings": round.targeted,
        })),
        ..FrameMeta::typed(kind)
    }
}

/// Field config of 0/1 `up` values: range and the down/up value mappings (instant and time series).
pub(crate) fn up_config() -> FieldConfig {
    FieldConfig {
        min: Some(0.0),
        max: Some(1.0),
        mappings: Some(json!([{
            "type": "value",
            "options": {
                "0": {"text": "down", "color": "red", "index": 0},
                "1": {"text": "up", "color": "green", "index": 1}
            }
        }])),
        ..FieldConfig::default()
    }
}

/// Field config of `error_ratio` (0–1 as a percentage), in every format.
pub(crate) fn ratio_config() -> FieldConfig {
    FieldConfig {
        min: Some(0.0),
        max: Some(1.0),
        ..FieldConfig::unit("percentunit")
    }
}

/// The numeric `state` field, with the value mappings of every state.
pub(crate) fn state_field(states: impl Iterator<Item = State>) -> Field {
    Field::new("state", Values::Float64(states.map(|s| f64::from(s.code())).collect())).with_config(state_config())
}

/// Most rows of one table or instant frame.
pub const MAX_ROWS: usize = 20_000;
/// Most cells (rows × columns) of one frame.
pub const MAX_CELLS: usize = 400_000;
/// Most bytes of text one frame may hold (every string cell counted).
pub const MAX_TEXT_BYTES: usize = 8 << 20;
/// Most columns a `request` reply becomes; further keys are gathered in one JSON column.
pub const MAX_REQUEST_COLUMNS: usize = 64;
/// Largest `request` reply that is read as JSON into columns; a larger one is shown as text, cut.
pub const MAX_REQUEST_JSON_BYTES: usize = 1 << 20;
/// Most bytes of all of one refId's encoded frames; beyond it the refId answers an error (a
/// safety net behind the budgets above, which apply while building and keep an answer under
/// about 16 MiB).
pub const MAX_ENCODED_BYTES: usize = 24 << 20;
/// Most bytes of encoded frames of one QueryData call, all refIds together; a refId that would
/// pass it answers an error. The gRPC answer is copied once more when it is sent, so this bounds
/// what one call can make the process hold.
pub const MAX_CALL_ENCODED_BYTES: usize = 32 << 20;
/// Most series of one time-series answer (one frame each, about 2 KiB of Arrow apiece before its
/// points).
pub const MAX_SERIES: usize = 4_000;
/// Most points of one time-series answer, all series together (16 bytes each in Arrow).
pub const MAX_POINTS: usize = 500_000;

/// Rows admitted into one frame so far, against the budget.
#[derive(Debug)]
pub struct Budget {
    max_rows: usize,
    rows: usize,
    bytes: usize,
    /// Rows offered after the budget was spent.
    cut: usize,
}

impl Budget {
    /// The budget of a frame of `columns` columns.
    pub fn new(columns: usize) -> Self {
        Self {
            max_rows: MAX_ROWS.min(MAX_CELLS / columns.max(1)),
            rows: 0,
            bytes: 0,
            cut: 0,
        }
    }

    /// Whether one more row with `text_bytes` bytes of text fits; counted either way. Once a
    /// row did not fit, none after it does (the table is cut, not thinned).
    pub fn admit(&mut self, text_bytes: usize) -> bool {
        if self.cut == 0 && self.rows < self.max_rows && self.bytes.saturating_add(text_bytes) <= MAX_TEXT_BYTES {
            self.rows += 1;
            self.bytes = self.bytes.saturating_add(text_bytes);
            return true;
        }
        self.cut += 1;
        false
    }

    /// Rows offered after the budget was spent.
    pub fn cut(&self) -> usize {
        self.cut
    }

    /// The notice of a cut table, naming how to narrow the query; `None` when nothing was cut.
    pub fn notice(&self, narrow: &str) -> Option<Notice> {
        (self.cut > 0).then(|| Notice {
            severity: Severity::Warning,
            text: format!(
                "The answer was cut at {} rows ({} more not shown): one query's table holds at most {} rows, {} cells and {} MiB of text. {narrow}",
                self.rows,
                self.cut,
                self.max_rows,
                MAX_CELLS,
                MAX_TEXT_BYTES >> 20
            ),
        })
    }

    /// Add the notice of a cut table to `frame`.
    pub fn note(&self, frame: &mut Frame, narrow: &str) {
        if let Some(n) = self.notice(narrow) {
            frame.meta.get_or_insert_with(FrameMeta::default).notices.push(n);
        }
    }
}

/// How to narrow a discovery table.
pub const NARROW_BY_FILTERS: &str = "Narrow the query with service, instance or endpoint.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_beyond_the_budget_are_cut_and_counted() {
        let mut b = Budget::new(MAX_CELLS / 10);
        for _ in 0..10 {
            assert!(b.admit(1));
        }
        assert!(!b.admit(1));
        assert!(!b.admit(0));
        assert_eq!(b.cut(), 2);
        let n = b.notice(NARROW_BY_FILTERS).unwrap();
        assert!(n.text.contains("cut at 10 rows (2 more"), "{}", n.text);
    }

    #[test]
    fn text_bytes_count_and_a_cut_table_stays_cut() {
        let mut b = Budget::new(2);
        assert!(b.admit(MAX_TEXT_BYTES - 1));
        assert!(!b.admit(2));
        assert!(!b.admit(0), "no row after the first one cut");
        assert!(Budget::new(1).notice("x").is_none());
        assert!(!Budget::new(0).admit(usize::MAX));
    }
}
