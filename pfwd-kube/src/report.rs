//! Telling cluster users where they look: Kubernetes Events on the Service
//! (`kubectl describe service`, `kubectl events`) and the
//! `pfwd.io/external` and `pfwd.io/status` annotations.

use k8s_openapi::api::core::v1::{ObjectReference, Service};
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use serde_json::json;

use crate::annotations::{EXTERNAL, STATUS};
use crate::view::ServiceKey;

/// The most an Event's note may hold (the API refuses more than 1 kB).
pub const NOTE_MAX: usize = 1000;

/// Posts Events and writes annotations on Services.
#[derive(Clone)]
pub struct Report {
    client: kube::Client,
    recorder: Recorder,
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Report")
    }
}

/// Cut `text` to at most `max` bytes on a character boundary, saying so.
pub fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    const MORE: &str = " [...]";
    let mut end = max.saturating_sub(MORE.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{MORE}", &text[..end])
}

impl Report {
    /// Report as `instance` (the pod's name) of the `pfwd-kube` controller.
    pub fn new(client: kube::Client, instance: &str) -> Report {
        let reporter = Reporter {
            controller: "pfwd-kube".into(),
            instance: Some(instance.to_string()),
        };
        Report {
            recorder: Recorder::new(client.clone(), reporter),
            client,
        }
    }

    /// Post an Event on a Service (`uid`: the one it concerns, if known).
    /// A failure to post is logged, never fatal.
    pub async fn event(&self, service: &ServiceKey, uid: Option<&str>, warning: bool, reason: &str, note: &str) {
        let reference = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Service".into()),
            name: Some(service.name.clone()),
            namespace: Some(service.namespace.clone()),
            uid: uid.map(Into::into),
            ..Default::default()
        };
        let event = Event {
            type_: if warning { EventType::Warning } else { EventType::Normal },
            reason: reason.into(),
            note: Some(cut(note, NOTE_MAX)),
            action: "Forward".into(),
            secondary: None,
        };
        log::info!("{service}: {reason}: {note}");
        if let Err(e) = self.recorder.publish(&event, &reference).await {
            log::warn!("{service}: could not post the event {reason}: {e}");
        }
    }

    /// Set the `pfwd.io/external` and `pfwd.io/status` annotations
    /// (`None` removes one). A failure is logged, never fatal.
    pub async fn annotate(&self, service: &ServiceKey, external: Option<&str>, status: Option<&str>) {
        let api: Api<Service> = Api::namespaced(self.client.clone(), &service.namespace);
        let patch = json!({"metadata": {"annotations": {EXTERNAL: external, STATUS: status}}});
        let params = PatchParams {
            field_manager: Some("pfwd-kube".into()),
            ..PatchParams::default()
        };
        if let Err(e) = api.patch(&service.name, &params, &Patch::Merge(&patch)).await {
            log::warn!("{service}: could not write its annotations: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn long_notes_are_cut_on_a_character_boundary() {
        assert_eq!(cut("short", 10), "short");
        let long = "é".repeat(700);
        let c = cut(&long, 1000);
        assert!(c.len() <= 1000);
        assert!(c.ends_with(" [...]"));
    }
}
