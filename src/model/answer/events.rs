//! `events`: what the history saw happen in the range (appeared, disappeared, restarted, version changed), as the table Grafana's annotations read.

use super::series::{history_notices, Source};
use super::{Inputs, Unplanned};
use crate::model::frames::{Field, Frame, FrameMeta, Notice, Severity, Values, TABLE};
use crate::model::query::{Query, Window};

/// `events`: what the sampler observed within the window, as an annotation-ready table.
pub fn table(q: &Query, w: &Window, src: &Source<'_>) -> Frame {
    let mut cols: [Vec<String>; 6] = Default::default();
    let mut times = Vec::new();
    if let Some(h) = src.history {
        for e in h
            .events()
            .filter(|e| w.contains(e.t) && q.scope.contains(&e.service, &e.id))
        {
            times.push(e.t.saturating_mul(1_000_000));
            let row = [
                e.title.clone(),
                e.text.clone(),
                format!("{},{}", e.kind.name(), e.service),
                e.kind.name().to_string(),
                e.service.clone(),
                e.id.clone(),
            ];
            for (c, v) in cols.iter_mut().zip(row) {
                c.push(v);
            }
        }
    }
    let mut notices = history_notices(src, w);
    if src.history.is_some_and(|h| h.oldest().is_some_and(|o| o > w.from_ms)) {
        notices.push(Notice {
            severity: Severity::Info,
            text: "events are known only since the sampler started (or since the oldest sample kept)".to_string(),
        });
    }
    let mut frame = Frame::new("events", &q.ref_id)
        .with_meta(FrameMeta {
            notices,
            ..FrameMeta::typed(TABLE)
        })
        .with_field(Field::new("time", Values::Time(times)));
    for (name, col) in ["title", "text", "tags", "kind", "service", "id"].into_iter().zip(cols) {
        frame = frame.with_field(Field::new(name, Values::String(col)));
    }
    frame
}

/// The answer of an `events` query from what its plan fetched.
pub(super) fn answer<S: AsRef<str>>(q: &Query, inputs: Inputs<'_, S>) -> Result<Vec<Frame>, Unplanned> {
    match inputs {
        Inputs::History(h) => Ok(vec![table(q, &h.window, &h.src)]),
        other => Err(Unplanned::new(q, &other)),
    }
}
