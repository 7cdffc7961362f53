//! The lease keeper's events as the command prints them: a line of text, or
//! a JSON object per line (`{"event": "mapped", ...}`).

use pfwd_core::lease::Event;
use serde_json::{Value, json};

use crate::record::MappingInfo;

/// The event as a JSON object; `entry` names the config entry (`pfwd run`).
pub fn to_json(event: &Event, entry: Option<&str>) -> Value {
    let mut v = match event {
        Event::Mapped { index, mapping } => {
            json!({"event": "mapped", "index": index, "mapping": MappingInfo::of(mapping)})
        }
        Event::Renewed { index, mapping } => {
            json!({"event": "renewed", "index": index, "mapping": MappingInfo::of(mapping)})
        }
        Event::Restored { index, mapping } => {
            json!({"event": "restored", "index": index, "mapping": MappingInfo::of(mapping)})
        }
        Event::Lost {
            index,
            mapping,
            reason,
        } => json!({
            "event": "lost", "index": index, "mapping": MappingInfo::of(mapping), "reason": reason
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
            "error": {"kind": error.kind().name(), "message": error.to_string()},
            "retry_in_ms": u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX),
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
        Event::Mapped { mapping, .. } => {
            format!("forwarded {}", MappingInfo::of(mapping).describe())
        }
        Event::Renewed { mapping, .. } => {
            format!("renewed {}", MappingInfo::of(mapping).describe())
        }
        Event::Restored { mapping, .. } => {
            format!("forwarded again {}", MappingInfo::of(mapping).describe())
        }
        Event::Lost {
            mapping, reason, ..
        } => format!(
            "the router lost {} ({reason}); forwarding it again",
            MappingInfo::of(mapping).describe()
        ),
        other => other.to_string(),
    }
}
