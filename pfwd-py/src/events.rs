//! Keeper events and close reports as JSON for `pfwd/_events.py`; mappings
//! in the core's own JSON shape (which keeps the PCP nonce).

use pfwd_core::Mapping;
use pfwd_core::lease::{CloseReport, Event};
use serde_json::{Value, json};

use crate::errors::carried;

/// A mapping in the core's JSON shape.
pub(crate) fn mapping(m: &Mapping) -> Value {
    serde_json::to_value(m).unwrap_or(Value::Null)
}

/// A mapping as JSON text.
pub(crate) fn mapping_text(m: &Mapping) -> String {
    mapping(m).to_string()
}

/// What closing deleted, and what it left on the router (with why).
pub(crate) fn report(r: &CloseReport) -> Value {
    json!({
        "deleted": r.deleted.iter().map(|(i, m)| json!([i, mapping(m)])).collect::<Vec<_>>(),
        "left": r.left.iter().map(|(i, m, e)| json!([i, mapping(m), carried(e)])).collect::<Vec<_>>(),
    })
}

/// One event: `{"kind": ..., fields...}`.
pub(crate) fn event(e: &Event) -> Value {
    match e {
        Event::Mapped { index, mapping: m } => {
            json!({"kind": "mapped", "index": index, "mapping": mapping(m)})
        }
        Event::Renewed { index, mapping: m } => {
            json!({"kind": "renewed", "index": index, "mapping": mapping(m)})
        }
        Event::Restored { index, mapping: m } => {
            json!({"kind": "restored", "index": index, "mapping": mapping(m)})
        }
        Event::Lost {
            index,
            mapping: m,
            reason,
        } => json!({"kind": "lost", "index": index, "mapping": mapping(m), "reason": reason}),
        Event::ExternalAddressChanged { old, new } => {
            json!({"kind": "external_address_changed", "old": old, "new": new})
        }
        Event::Failed {
            index,
            error,
            retry_in,
        } => json!({"kind": "failed", "index": index, "error": carried(error),
                    "retry_in": retry_in.as_secs_f64()}),
        Event::Warning {
            index,
            message,
            error,
        } => json!({"kind": "warning", "index": index, "message": message,
                    "error": error.as_deref().map(carried)}),
        Event::Removed { index, mapping: m } => {
            json!({"kind": "removed", "index": index, "mapping": m.as_ref().map(mapping)})
        }
        Event::Missed { count } => json!({"kind": "missed", "count": count}),
        Event::Checked { index, report } => json!({"kind": "checked", "index": index,
                    "report": serde_json::to_value(&**report).unwrap_or(Value::Null)}),
        Event::TakenOver {
            index,
            mapping: m,
            by,
        } => json!({"kind": "taken_over", "index": index, "mapping": mapping(m), "by": by}),
        Event::Closed { report: r } => json!({"kind": "closed", "report": report(r)}),
        other => {
            json!({"kind": "warning", "index": null, "message": other.to_string(), "error": null})
        }
    }
}
