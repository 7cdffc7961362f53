//! Telling cluster users where they look: Kubernetes Events on the Service
//! (`kubectl describe service`, `kubectl events`) and the
//! `pfwd.io/external` and `pfwd.io/status` annotations.

use k8s_openapi::api::core::v1::{ObjectReference, Service};
use k8s_openapi::api::events::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::Api;
use kube::api::{ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::json;

use crate::annotations::{EXTERNAL, STATUS};
use crate::view::ServiceKey;

/// The most an Event's note may hold (the API refuses more than 1 kB).
pub const NOTE_MAX: usize = 1000;

/// Posts Events and writes annotations on Services.
///
/// Each Event is its own object (not kube's `Recorder`, which folds
/// Events of one reason on one object into a series that keeps the first
/// note: two ports mapped would show as one). The controller posts an
/// Event only when something changed, so they do not pile up.
#[derive(Clone)]
pub struct Report {
    client: kube::Client,
    instance: String,
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
        Report {
            client,
            instance: instance.to_string(),
        }
    }

    /// Post an Event on a Service (`uid`: the one it concerns, if known).
    /// A failure to post is logged, never fatal.
    pub async fn event(
        &self,
        service: &ServiceKey,
        uid: Option<&str>,
        warning: bool,
        reason: &str,
        note: &str,
    ) {
        let reference = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("Service".into()),
            name: Some(service.name.clone()),
            namespace: Some(service.namespace.clone()),
            uid: uid.map(Into::into),
            ..Default::default()
        };
        let now = Timestamp::now();
        let event = Event {
            metadata: ObjectMeta {
                name: Some(format!("{}.{:x}", service.name, now.as_nanosecond())),
                namespace: Some(service.namespace.clone()),
                ..Default::default()
            },
            event_time: Some(MicroTime(now)),
            type_: Some(if warning { "Warning" } else { "Normal" }.into()),
            reason: Some(reason.into()),
            note: Some(cut(note, NOTE_MAX)),
            action: Some("Forward".into()),
            regarding: Some(reference),
            reporting_controller: Some("pfwd.io/pfwd-kube".into()),
            reporting_instance: Some(self.instance.clone()),
            ..Default::default()
        };
        if warning {
            log::warn!("{service}: {reason}: {note}");
        } else {
            log::info!("{service}: {reason}: {note}");
        }
        let api: Api<Event> = Api::namespaced(self.client.clone(), &service.namespace);
        if let Err(e) = api.create(&PostParams::default(), &event).await {
            log::warn!("{service}: could not post the event {reason}: {e}");
        }
    }

    /// Set the `pfwd.io/external` and `pfwd.io/status` annotations
    /// (`None` removes one). A failure is logged, never fatal.
    pub async fn annotate(
        &self,
        service: &ServiceKey,
        external: Option<&str>,
        status: Option<&str>,
    ) {
        let api: Api<Service> = Api::namespaced(self.client.clone(), &service.namespace);
        let patch = json!({"metadata": {"annotations": {EXTERNAL: external, STATUS: status}}});
        let params = PatchParams {
            field_manager: Some("pfwd-kube".into()),
            ..PatchParams::default()
        };
        if let Err(e) = api
            .patch(&service.name, &params, &Patch::Merge(&patch))
            .await
        {
            log::warn!("{service}: could not write its annotations: {e}");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::{Request, Response};
    use http_body_util::BodyExt;
    use kube::client::Body;

    /// kube's mock pattern: a `kube::Client` over `tower_test::mock::pair`;
    /// the test plays the API server and checks each request exactly.
    #[tokio::test]
    async fn an_event_and_the_annotations_are_sent_as_the_api_expects() {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let client = kube::Client::new(service, "default");
        let server = tokio::spawn(async move {
            let (request, send) = handle.next_request().await.unwrap();
            assert_eq!(request.method(), http::Method::POST);
            assert_eq!(
                request.uri().path(),
                "/apis/events.k8s.io/v1/namespaces/shop/events"
            );
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let event: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(event["reason"], "ManualForwardingRequired");
            assert_eq!(event["type"], "Warning");
            assert_eq!(event["regarding"]["kind"], "Service");
            assert_eq!(event["regarding"]["name"], "web");
            assert_eq!(event["regarding"]["uid"], "u-1");
            assert_eq!(event["reportingController"], "pfwd.io/pfwd-kube");
            assert_eq!(event["reportingInstance"], "pfwd-kube-7c9");
            assert!(event["eventTime"].is_string());
            assert!(event["note"].as_str().unwrap().len() <= NOTE_MAX);
            send.send_response(
                Response::builder()
                    .status(201)
                    .body(Body::from(body.to_vec()))
                    .unwrap(),
            );

            let (request, send) = handle.next_request().await.unwrap();
            assert_eq!(request.method(), http::Method::PATCH);
            assert_eq!(request.uri().path(), "/api/v1/namespaces/shop/services/web");
            assert!(
                request
                    .uri()
                    .query()
                    .unwrap()
                    .contains("fieldManager=pfwd-kube")
            );
            assert_eq!(
                request.headers()["content-type"],
                "application/merge-patch+json"
            );
            let body = request.into_body().collect().await.unwrap().to_bytes();
            let patch: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(
                patch,
                json!({"metadata": {"annotations": {"pfwd.io/external": "http=5.5.5.7:80/TCP", "pfwd.io/status": null}}})
            );
            let service = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop"}});
            send.send_response(
                Response::builder()
                    .body(Body::from(service.to_string().into_bytes()))
                    .unwrap(),
            );
        });
        let report = Report::new(client, "pfwd-kube-7c9");
        let key = ServiceKey::new("shop", "web");
        report
            .event(
                &key,
                Some("u-1"),
                true,
                "ManualForwardingRequired",
                &"x".repeat(5000),
            )
            .await;
        report
            .annotate(&key, Some("http=5.5.5.7:80/TCP"), None)
            .await;
        server.await.unwrap();
    }

    #[test]
    fn long_notes_are_cut_on_a_character_boundary() {
        assert_eq!(cut("short", 10), "short");
        let long = "é".repeat(700);
        let c = cut(&long, 1000);
        assert!(c.len() <= 1000);
        assert!(c.ends_with(" [...]"));
    }
}
