//! `requestSubjects`: the patterns `request` queries and probes may use, parsed; and the rule that decides whether a subject may be sent (allowed by a pattern and not reserved).

use serde_json::Value;

use super::{err, json_kind, shown_value, valid_subject, Settings, SettingsError};
use crate::model::outbound::{self, subject_matches};

impl Settings {
    /// Whether `subject` may be used by a `request` query.
    pub fn request_allowed(&self, subject: &str) -> bool {
        self.request_refusal(subject).is_none()
    }

    /// Why a request to `subject` is refused: it is reserved (see [`outbound`]), or no
    /// `requestSubjects` pattern allows it; `None` when it may be sent.
    pub fn request_refusal(&self, subject: &str) -> Option<String> {
        let reserved = self.reserved_subjects();
        if let Some(pattern) = outbound::reserved_by(subject, &reserved) {
            return Some(format!(
                "subject '{subject}' is reserved ({pattern}): the history stream, its lease bucket, $JS, $KV, $SYS, $SRV and inbox subjects are never reachable by a request query or probe, whatever requestSubjects allows"
            ));
        }
        if self
            .request_subjects
            .iter()
            .any(|pattern| subject_matches(pattern, subject))
        {
            return None;
        }
        let allowed = if self.request_subjects.is_empty() {
            "none: add patterns to requestSubjects in the data source settings to allow request queries".to_string()
        } else {
            self.request_subjects.join(", ")
        };
        Some(format!(
            "subject '{subject}' is not allowed by this data source (allowed: {allowed})"
        ))
    }

    /// The subjects no request or probe of this data source may reach.
    pub fn reserved_subjects(&self) -> Vec<String> {
        outbound::reserved_patterns(&self.history.stream, &self.srv_prefix, &self.inbox_prefix)
    }

    /// Advice for the health check: the `requestSubjects` patterns that also cover reserved
    /// subjects (requests there are refused all the same).
    pub fn request_subject_warnings(&self) -> Vec<String> {
        let reserved = self.reserved_subjects();
        self.request_subjects
            .iter()
            .filter_map(|pattern| {
                let covered: Vec<&str> = reserved
                    .iter()
                    .filter(|r| outbound::overlaps(pattern, r))
                    .map(String::as_str)
                    .collect();
                (!covered.is_empty()).then(|| {
                    format!(
                        "requestSubjects pattern {pattern} also covers {}: requests and probes there are always refused (the plugin's own and the server's subjects)",
                        covered.join(", ")
                    )
                })
            })
            .collect()
    }
}

/// Parse `requestSubjects`: a list, or one comma- or line-separated text.
pub(super) fn parse_request_subjects(value: Option<&Value>) -> Result<Vec<String>, SettingsError> {
    let items: Vec<String> = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split([',', '\n']).map(str::to_string).collect(),
        Some(Value::Array(a)) => {
            let mut out = Vec::with_capacity(a.len());
            for v in a {
                match v {
                    Value::String(s) => out.push(s.clone()),
                    other => return err(format!("requestSubjects must list strings, not {}", json_kind(other))),
                }
            }
            out
        }
        Some(other) => {
            return err(format!(
                "requestSubjects must be a list of subject patterns, not {}",
                json_kind(other)
            ))
        }
    };
    let mut out = Vec::new();
    for s in items {
        let s = s.trim();
        if s.is_empty() {
            continue;
        }
        if !valid_subject(s, true) {
            return err(format!(
                "requestSubjects entry {} is not a valid subject pattern (tokens separated by dots; * matches one token, > the rest)",
                shown_value(s)
            ));
        }
        out.push(s.to_string());
    }
    Ok(out)
}
