//! An in-memory Kubernetes API server for tests (feature `testing`): a
//! `tower` service that a [`kube::Client`] talks to, with no socket at all.
//!
//! It keeps objects as JSON and serves what the controller and its leader
//! election use: get, list, watch (from a resource version, streamed),
//! create, replace (with the resource-version check), delete, and patch as
//! JSON merge, strategic merge (as a merge; lists replace) and server-side
//! apply (with the field-manager conflict on fields another manager owns,
//! which kube-lease-manager's locking relies on). Several clients, on
//! several runtimes, can share one [`FakeApi`], as several controller
//! replicas share one cluster. Every request is logged, for assertions.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody, combinators::UnsyncBoxBody};
use serde_json::{Map, Value, json};

/// An object's place: its collection (`api/v1/services`,
/// `apis/coordination.k8s.io/v1/leases`), namespace (empty for cluster
/// objects) and name.
type Key = (String, String, String);

/// One change, for watchers.
#[derive(Debug, Clone)]
struct Change {
    version: u64,
    key: Key,
    kind: &'static str,
    object: Value,
}

#[derive(Debug, Default)]
struct Store {
    version: u64,
    objects: BTreeMap<Key, Value>,
    changes: Vec<Change>,
    /// Who set each field (`spec.holderIdentity`), per object.
    owners: BTreeMap<Key, BTreeMap<String, String>>,
    requests: Vec<String>,
}

/// The in-memory API server; clone it to share it.
#[derive(Debug, Clone)]
pub struct FakeApi {
    store: Arc<Mutex<Store>>,
    changed: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Default for FakeApi {
    fn default() -> Self {
        FakeApi::new()
    }
}

/// `apiVersion` and `kind` of the collections this server knows.
fn type_of(collection: &str) -> (&'static str, &'static str) {
    match collection {
        "api/v1/services" => ("v1", "Service"),
        "api/v1/nodes" => ("v1", "Node"),
        "api/v1/configmaps" => ("v1", "ConfigMap"),
        "api/v1/events" => ("v1", "Event"),
        "apis/coordination.k8s.io/v1/leases" => ("coordination.k8s.io/v1", "Lease"),
        "apis/events.k8s.io/v1/events" => ("events.k8s.io/v1", "Event"),
        _ => ("v1", "Unknown"),
    }
}

/// A request's target, parsed from its path.
#[derive(Debug)]
struct Target {
    collection: String,
    namespace: Option<String>,
    name: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group_version, rest) = match *parts.first()? {
        "api" => (parts.get(..2)?.join("/"), parts.get(2..)?),
        "apis" => (parts.get(..3)?.join("/"), parts.get(3..)?),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(ns.to_string()), tail),
        _ => (None, rest),
    };
    let (plural, name) = match rest {
        [plural] => (plural, None),
        [plural, name] => (plural, Some(name.to_string())),
        _ => return None,
    };
    Some(Target {
        collection: format!("{group_version}/{plural}"),
        namespace,
        name,
    })
}

fn query(uri: &http::Uri) -> BTreeMap<String, String> {
    uri.query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.replace("%3A", ":").replace("%2F", "/")))
        .collect()
}

type Body = UnsyncBoxBody<Bytes, Infallible>;

fn respond(code: StatusCode, body: &Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())).boxed_unsync());
    *response.status_mut() = code;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    response
}

fn status(code: StatusCode, reason: &str, message: String) -> Response<Body> {
    respond(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code.as_u16()}),
    )
}

/// RFC 7386 merge of `patch` into `target`; the leaf paths set and removed.
fn merge(target: &mut Value, patch: &Value, path: &str, leaves: &mut Vec<(String, bool)>) {
    match patch {
        Value::Object(fields) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in fields {
                    let p = if path.is_empty() {
                        k.clone()
                    } else {
                        format!("{path}.{k}")
                    };
                    if v.is_null() {
                        t.remove(k);
                        leaves.push((p, false));
                    } else {
                        merge(t.entry(k.clone()).or_insert(Value::Null), v, &p, leaves);
                    }
                }
            }
        }
        other => {
            *target = other.clone();
            leaves.push((path.to_string(), true));
        }
    }
}

/// The value at a dotted path.
fn at<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.').try_fold(value, |v, k| v.get(k))
}

impl FakeApi {
    /// An empty cluster.
    pub fn new() -> FakeApi {
        FakeApi {
            store: Arc::default(),
            changed: Arc::new(tokio::sync::watch::channel(0).0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A client for this server, with `default` as its default namespace.
    /// Make it on the runtime that uses it (kube's client spawns a task).
    pub fn client(&self) -> kube::Client {
        let api = self.clone();
        let service = tower::service_fn(move |request: Request<kube::client::Body>| {
            let api = api.clone();
            async move { Ok::<_, Infallible>(api.handle(request).await) }
        });
        kube::Client::new(service, "default")
    }

    /// Every request so far, as `METHOD path?query`.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// The object in `collection` (such as `api/v1/services`), if there.
    pub fn get(&self, collection: &str, namespace: &str, name: &str) -> Option<Value> {
        let key = (
            collection.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        self.lock().objects.get(&key).cloned()
    }

    /// Every object in `collection`.
    pub fn list(&self, collection: &str) -> Vec<Value> {
        self.lock()
            .objects
            .iter()
            .filter(|(k, _)| k.0 == collection)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Create or replace an object (as `kubectl apply` would, for the
    /// test's own objects): `apiVersion`, `kind`, a resource version, a
    /// UID and a creation time are filled in.
    pub fn put(&self, collection: &str, object: Value) -> Value {
        let mut store = self.lock();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let key = (collection.to_string(), namespace, name);
        let stored = Self::store(&mut store, key, object);
        drop(store);
        self.notify();
        stored
    }

    /// Delete an object; whether it was there.
    pub fn delete(&self, collection: &str, namespace: &str, name: &str) -> bool {
        let key = (
            collection.to_string(),
            namespace.to_string(),
            name.to_string(),
        );
        let mut store = self.lock();
        let removed = Self::remove(&mut store, &key);
        drop(store);
        self.notify();
        removed
    }

    fn notify(&self) {
        let version = self.lock().version;
        self.changed.send_replace(version);
    }

    fn remove(store: &mut Store, key: &Key) -> bool {
        let Some(object) = store.objects.remove(key) else {
            return false;
        };
        store.owners.remove(key);
        store.version += 1;
        let version = store.version;
        store.changes.push(Change {
            version,
            key: key.clone(),
            kind: "DELETED",
            object,
        });
        true
    }

    fn store(store: &mut Store, key: Key, mut object: Value) -> Value {
        store.version += 1;
        let version = store.version;
        let (api_version, kind) = type_of(&key.0);
        let existed = store.objects.get(&key).cloned();
        object["apiVersion"] = json!(api_version);
        object["kind"] = json!(kind);
        let meta = &mut object["metadata"];
        meta["name"] = json!(key.2);
        if !key.1.is_empty() {
            meta["namespace"] = json!(key.1);
        }
        meta["resourceVersion"] = json!(version.to_string());
        let old_meta = existed.as_ref().map(|o| o["metadata"].clone());
        for (field, made) in [
            ("uid", format!("uid-{version}")),
            ("creationTimestamp", "2026-11-26T00:00:00Z".to_string()),
        ] {
            if meta.get(field).is_none_or(Value::is_null) {
                meta[field] = old_meta
                    .as_ref()
                    .and_then(|m| m.get(field).cloned())
                    .unwrap_or(json!(made));
            }
        }
        store.objects.insert(key.clone(), object.clone());
        store.changes.push(Change {
            version,
            key,
            kind: if existed.is_some() {
                "MODIFIED"
            } else {
                "ADDED"
            },
            object: object.clone(),
        });
        object
    }

    async fn handle(&self, request: Request<kube::client::Body>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let q = query(&parts.uri);
        self.lock()
            .requests
            .push(format!("{} {}", parts.method, parts.uri));
        let Some(target) = parse_path(parts.uri.path()) else {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("no such path {}", parts.uri),
            );
        };
        let body = match body.collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()),
        };
        let content_type = parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let response = match (&parts.method, &target.name) {
            (&Method::GET, None) if q.get("watch").is_some_and(|w| w == "true" || w == "1") => {
                return self.watch(target, &q);
            }
            (&Method::GET, None) => self.list_response(&target),
            (&Method::GET, Some(_)) => self.get_response(&target),
            (&Method::POST, _) => self.create(&target, &body),
            (&Method::PUT, Some(_)) => self.replace(&target, &body),
            (&Method::PATCH, Some(_)) => self.patch(&target, &body, &content_type, &q),
            (&Method::DELETE, Some(name)) => {
                let key = (
                    target.collection.clone(),
                    target.namespace.clone().unwrap_or_default(),
                    name.clone(),
                );
                let mut store = self.lock();
                let object = store.objects.get(&key).cloned();
                if Self::remove(&mut store, &key) {
                    respond(StatusCode::OK, &object.unwrap_or(Value::Null))
                } else {
                    status(
                        StatusCode::NOT_FOUND,
                        "NotFound",
                        format!("{} not found", key.2),
                    )
                }
            }
            _ => status(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                format!("{} {} is not served", parts.method, parts.uri),
            ),
        };
        if parts.method != Method::GET {
            self.notify();
        }
        response
    }

    fn key(target: &Target, name: &str) -> Key {
        (
            target.collection.clone(),
            target.namespace.clone().unwrap_or_default(),
            name.to_string(),
        )
    }

    fn get_response(&self, target: &Target) -> Response<Body> {
        let key = Self::key(target, target.name.as_deref().unwrap_or(""));
        match self.lock().objects.get(&key) {
            Some(o) => respond(StatusCode::OK, o),
            None => status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("{} \"{}\" not found", type_of(&key.0).1, key.2),
            ),
        }
    }

    fn in_target(target: &Target, key: &Key) -> bool {
        key.0 == target.collection && target.namespace.as_ref().is_none_or(|ns| *ns == key.1)
    }

    fn list_response(&self, target: &Target) -> Response<Body> {
        let store = self.lock();
        let items: Vec<Value> = store
            .objects
            .iter()
            .filter(|(k, _)| Self::in_target(target, k))
            .map(|(_, v)| v.clone())
            .collect();
        let (api_version, kind) = type_of(&target.collection);
        respond(
            StatusCode::OK,
            &json!({"apiVersion": api_version, "kind": format!("{kind}List"),
                    "metadata": {"resourceVersion": store.version.to_string()}, "items": items}),
        )
    }

    fn create(&self, target: &Target, body: &[u8]) -> Response<Body> {
        let object: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()),
        };
        let Some(name) = object["metadata"]["name"].as_str() else {
            return status(
                StatusCode::UNPROCESSABLE_ENTITY,
                "Invalid",
                "metadata.name is required".into(),
            );
        };
        let key = Self::key(target, name);
        let mut store = self.lock();
        if store.objects.contains_key(&key) {
            return status(
                StatusCode::CONFLICT,
                "AlreadyExists",
                format!("{name} already exists"),
            );
        }
        let stored = Self::store(&mut store, key, object);
        respond(StatusCode::CREATED, &stored)
    }

    fn replace(&self, target: &Target, body: &[u8]) -> Response<Body> {
        let object: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()),
        };
        let key = Self::key(target, target.name.as_deref().unwrap_or(""));
        let mut store = self.lock();
        let Some(current) = store.objects.get(&key) else {
            return status(
                StatusCode::NOT_FOUND,
                "NotFound",
                format!("{} not found", key.2),
            );
        };
        let asked = object["metadata"]["resourceVersion"].as_str();
        if asked.is_some_and(|v| Some(v) != current["metadata"]["resourceVersion"].as_str()) {
            return status(
                StatusCode::CONFLICT,
                "Conflict",
                "the object has been modified; please apply your changes to the latest version and try again".into(),
            );
        }
        let stored = Self::store(&mut store, key, object);
        respond(StatusCode::OK, &stored)
    }

    fn patch(
        &self,
        target: &Target,
        body: &[u8],
        content_type: &str,
        q: &BTreeMap<String, String>,
    ) -> Response<Body> {
        let patch: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(e) => return status(StatusCode::BAD_REQUEST, "BadRequest", e.to_string()),
        };
        let apply = content_type.starts_with("application/apply-patch");
        if !apply && !content_type.contains("merge-patch") {
            return status(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UnsupportedMediaType",
                format!("patch type {content_type} is not served by this fake"),
            );
        }
        let manager = q.get("fieldManager").cloned().unwrap_or_default();
        let force = q.get("force").is_some_and(|f| f == "true");
        let key = Self::key(target, target.name.as_deref().unwrap_or(""));
        let mut store = self.lock();
        let current = match store.objects.get(&key) {
            Some(o) => o.clone(),
            None if apply => json!({"metadata": {}}),
            None => {
                return status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    format!("{} not found", key.2),
                );
            }
        };
        let mut merged = current.clone();
        let mut leaves = Vec::new();
        merge(&mut merged, &patch, "", &mut leaves);
        let owned = store.owners.entry(key.clone()).or_default();
        if apply && !force {
            let conflicts: Vec<String> = leaves
                .iter()
                .filter(|(path, set)| {
                    *set && !path.starts_with("metadata.") && path != "apiVersion" && path != "kind"
                })
                .filter(|(path, _)| {
                    owned.get(path).is_some_and(|o| *o != manager)
                        && at(&current, path) != at(&merged, path)
                })
                .map(|(path, _)| format!(".{path} (owned by {})", owned[path]))
                .collect();
            if !conflicts.is_empty() {
                return status(
                    StatusCode::CONFLICT,
                    "Conflict",
                    format!(
                        "Apply failed with {} conflict(s): {}",
                        conflicts.len(),
                        conflicts.join(", ")
                    ),
                );
            }
        }
        for (path, set) in leaves {
            if set {
                owned.insert(path, manager.clone());
            } else {
                owned.retain(|p, _| !(p == &path || p.starts_with(&format!("{path}."))));
            }
        }
        let stored = Self::store(&mut store, key, merged);
        respond(StatusCode::OK, &stored)
    }

    fn watch(&self, target: Target, q: &BTreeMap<String, String>) -> Response<Body> {
        let from: u64 = q
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let timeout = Duration::from_secs(
            q.get("timeoutSeconds")
                .and_then(|v| v.parse().ok())
                .unwrap_or(290),
        );
        let api = self.clone();
        let changed = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        let lines = futures::stream::unfold(
            (api, changed, from, target),
            move |(api, mut changed, mut seen, target)| async move {
                loop {
                    let next: Vec<Change> = api
                        .lock()
                        .changes
                        .iter()
                        .filter(|c| c.version > seen && Self::in_target(&target, &c.key))
                        .cloned()
                        .collect();
                    if !next.is_empty() {
                        let mut text = String::new();
                        for c in &next {
                            seen = seen.max(c.version);
                            text.push_str(&json!({"type": c.kind, "object": c.object}).to_string());
                            text.push('\n');
                        }
                        let frame = http_body::Frame::data(Bytes::from(text));
                        return Some((Ok::<_, Infallible>(frame), (api, changed, seen, target)));
                    }
                    tokio::select! {
                        r = changed.changed() => if r.is_err() { return None },
                        _ = tokio::time::sleep_until(deadline) => return None,
                    }
                }
            },
        );
        let mut response = Response::new(BodyExt::boxed_unsync(StreamBody::new(lines.boxed())));
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        response
    }
}
