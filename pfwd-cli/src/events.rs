//! The lease keeper's events as the command prints them: a line of text, or
//! a JSON object per line (`{"event": "mapped", ...}`).

use pfwd_core::lease::Event;
use serde_json::{Value, json};

use crate::output::{describe, error_json};

/// The event as a JSON object; `entry` names the config entry (`pfwd run`).
pub fn to_json(event: &Event, entry: Option<&str>) -> Value {
    let mut v = match event {
        Event::Mapped { index, mapping } => json!({
            "event": "mapped", "index": index, "mapping": mapping, "warnings": mapping.warnings()
        }),
        Event::Renewed { index, mapping } => {
            json!({"event": "renewed", "index": index, "mapping": mapping})
        }
        Event::Restored { index, mapping } => json!({
            "event": "restored", "index": index, "mapping": mapping, "warnings": mapping.warnings()
        }),
        Event::Lost {
            index,
            mapping,
            reason,
        } => json!({
            "event": "lost", "index": index, "mapping": mapping, "reason": reason
        }),
        Event::ExternalAddressChanged { old, new } => {
            json!({"event": "external_address_changed", "old": old, "new": new})
        }
        Event::Failed {
            index,
            error,
            retry_in,
        } => json!({
            "event": "failed",
            "index": index,
            "error": error_json(error),
            "retry_in_ms": u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
        }),
        Event::Warning {
            index,
            message,
            error,
        } => json!({
            "event": "warning",
            "index": index,
            "message": message,
            "error": error.as_deref().map(error_json),
        }),
        Event::Removed { index, mapping } => {
            json!({"event": "removed", "index": index, "mapping": mapping})
        }
        Event::Missed { count } => json!({"event": "missed", "count": count}),
        Event::Checked { index, report } => {
            json!({"event": "checked", "index": index, "report": report})
        }
        Event::TakenOver { index, mapping, by } => json!({
            "event": "taken_over", "index": index, "mapping": mapping, "by": by
        }),
        Event::Closed { report } => {
            json!({"event": "closed", "deleted": report.deleted_count()})
        }
        _ => json!({"event": "other", "text": event.to_string()}),
    };
    if let Some(name) = entry {
        v["entry"] = json!(name);
    }
    v
}

/// The event as one line of text.
pub fn to_text(event: &Event) -> String {
    match event {
        Event::Mapped { mapping, .. } => format!("forwarded {}", describe(mapping)),
        Event::Renewed { mapping, .. } => format!("renewed {}", describe(mapping)),
        Event::Restored { mapping, .. } => format!("forwarded again {}", describe(mapping)),
        Event::Lost {
            mapping, reason, ..
        } => format!(
            "the router lost {} ({reason}); forwarding it again",
            describe(mapping)
        ),
        Event::Checked { report, .. } => crate::check::summary(report),
        Event::TakenOver { mapping, by, .. } => format!(
            "pfwd process {by} took over {}; no longer kept here (not removed)",
            describe(mapping)
        ),
        Event::ExternalAddressChanged { old, new } => format!(
            "the router's internet address changed from {old} to {new}; \
             renewing every mapping to follow it"
        ),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use pfwd_core::Error;

    use super::*;

    #[test]
    fn a_failure_carries_the_exit_code_and_the_guide_shape() {
        let event = Event::Failed {
            index: 0,
            error: Arc::new(Error::invalid("port 0 is not a port")),
            retry_in: Duration::from_secs(2),
        };
        let v = to_json(&event, Some("web"));
        assert_eq!(v["error"]["kind"], "invalid_request");
        assert_eq!(v["error"]["exit_code"], 2);
        assert_eq!(v["retry_in_ms"], 2000);
        assert_eq!(v["entry"], "web");
    }
}
