//! The answer budget: how many rows, cells and bytes one refId's table may hold, applied while the table is built (rows beyond it are never built), and the notice that says what was cut and how to narrow the query.
//!
//! Replies are whatever the services on an account send: within every field bound, a few hundred
//! STATS replies of a thousand endpoints each are still 88 000 rows, and an INFO round a
//! gigabyte of repeated metadata if every endpoint row copied its instance's. One process serves
//! every org, so one refId's answer is bounded before it is built.

use super::frames::{Frame, FrameMeta, Notice, Severity};

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
