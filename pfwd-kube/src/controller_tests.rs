//! The controller against the in-memory API server ([`FakeApi`], a
//! `kube::Client` over a mock service) and a fake router: the watch, the
//! Lease, the Events, the annotations, the state ConfigMap, failover.
//! The router side against the real miniupnpd is tests/gateway/kube.rs.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pfwd_core::{BoxFuture, Forwarder, Mapping, MappingRequest, Method, MethodState};
use serde_json::{Value, json};

use super::{Options, run_with};
use crate::fake_api::FakeApi;
use crate::keeping::{Connect, Connected};

const SERVICES: &str = "api/v1/services";
const NODES: &str = "api/v1/nodes";
const EVENTS: &str = "apis/events.k8s.io/v1/events";
const CONFIGMAPS: &str = "api/v1/configmaps";
const LEASES: &str = "apis/coordination.k8s.io/v1/leases";

/// A router that grants every request, as PCP would (a nonce per
/// mapping), and logs every request.
#[derive(Debug, Default)]
struct Router {
    /// Secure mode: only the host that asks may map, renew or delete.
    secure: bool,
    table: Mutex<BTreeMap<u16, (SocketAddrV4, [u8; 12])>>,
    log: Mutex<Vec<String>>,
    nonces: Mutex<u8>,
}

/// The router as one host (`.1`, the address it asks from) sees it.
#[derive(Debug)]
struct RouterHandle(Arc<Router>, Ipv4Addr);

fn refused(what: String) -> pfwd_core::Error {
    pfwd_core::Error::Refused {
        method: Method::Upnp,
        what,
        code: pfwd_core::GatewayCode::Upnp(pfwd_core::UpnpCode(606)),
    }
}

impl Router {
    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }
    fn table(&self) -> BTreeMap<u16, (SocketAddrV4, [u8; 12])> {
        self.table.lock().unwrap().clone()
    }
}

impl Forwarder for RouterHandle {
    fn method(&self) -> Method {
        Method::Pcp
    }
    fn external_address(&self) -> BoxFuture<'_, pfwd_core::Result<Ipv4Addr>> {
        Box::pin(async { Ok(Ipv4Addr::new(5, 5, 5, 7)) })
    }
    fn map<'a>(&'a self, r: &'a MappingRequest) -> BoxFuture<'a, pfwd_core::Result<Mapping>> {
        Box::pin(async move {
            let internal = SocketAddrV4::new(r.internal_ipv4().unwrap(), r.internal_port());
            let external_port = r.external_port().unwrap_or(r.internal_port());
            let renewed = r.previous().and_then(|m| match m.state() {
                MethodState::Pcp { nonce, .. } => Some(*nonce),
                _ => None,
            });
            let nonce = renewed.unwrap_or_else(|| {
                let mut n = self.0.nonces.lock().unwrap();
                *n += 1;
                [*n; 12]
            });
            let what = if renewed.is_some() { "renew" } else { "map" };
            if self.0.secure && *internal.ip() != self.1 {
                self.0.log.lock().unwrap().push(format!(
                    "refused {what} {external_port} -> {internal} from {}",
                    self.1
                ));
                return Err(refused(format!("{what} {external_port}")));
            }
            if let Some((held, _)) = self.0.table.lock().unwrap().get(&external_port)
                && *held != internal
            {
                self.0
                    .log
                    .lock()
                    .unwrap()
                    .push(format!("conflict {external_port} held by {held}"));
                return Err(pfwd_core::Error::Conflict {
                    method: Method::Pcp,
                    protocol: r.protocol(),
                    external_port,
                    holder: None,
                });
            }
            self.0.log.lock().unwrap().push(format!(
                "{what} {external_port} -> {internal} nonce {}",
                nonce[0]
            ));
            self.0
                .table
                .lock()
                .unwrap()
                .insert(external_port, (internal, nonce));
            Ok(Mapping::new(
                Method::Pcp,
                r.protocol(),
                Ipv4Addr::new(192, 168, 77, 1),
                SocketAddrV4::new(Ipv4Addr::new(5, 5, 5, 7), external_port),
                internal,
                r.lease(),
                std::time::Instant::now(),
                r.description(),
                MethodState::Pcp {
                    nonce,
                    epoch: 1,
                    generation: 0,
                },
            ))
        })
    }
    fn unmap<'a>(&'a self, m: &'a Mapping) -> BoxFuture<'a, pfwd_core::Result<()>> {
        Box::pin(async move {
            if self.0.secure && m.internal().ip() != std::net::IpAddr::V4(self.1) {
                self.0.log.lock().unwrap().push(format!(
                    "refused unmap {} from {}",
                    m.external().port(),
                    self.1
                ));
                return Err(refused(format!("delete {}", m.external().port())));
            }
            self.0
                .log
                .lock()
                .unwrap()
                .push(format!("unmap {}", m.external().port()));
            self.0.table.lock().unwrap().remove(&m.external().port());
            Ok(())
        })
    }
}

fn connect(router: &Arc<Router>, host: Ipv4Addr) -> Connect {
    let router = router.clone();
    Arc::new(move |_methods| {
        let router = router.clone();
        Box::pin(async move {
            Ok(Connected {
                forwarder: Arc::new(RouterHandle(router, host)),
                client: None,
            })
        })
    })
}

fn options(identity: &str, node: &str) -> Options {
    Options {
        namespace: "pfwd-system".into(),
        identity: identity.into(),
        node_name: Some(node.into()),
        leader_lease: Duration::from_secs(2),
        leader_grace: Duration::from_secs(1),
        check_interval: Duration::from_secs(3600),
        resync: Duration::from_secs(3600),
        ..Options::default()
    }
}

fn cluster() -> FakeApi {
    let api = FakeApi::new();
    api.put(
        NODES,
        json!({"metadata": {"name": "pi1"},
               "status": {"addresses": [{"type": "InternalIP", "address": "192.168.77.10"}],
                          "conditions": [{"type": "Ready", "status": "True"}]}}),
    );
    api
}

fn web(annotations: Value) -> Value {
    json!({"metadata": {"name": "web", "namespace": "default", "annotations": annotations},
           "spec": {"type": "NodePort", "ports": [
               {"name": "http", "port": 80, "nodePort": 30080, "protocol": "TCP"},
               {"name": "dns", "port": 53, "nodePort": 30053, "protocol": "UDP"}]}})
}

/// A controller running on the test's runtime until `stop` is sent.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

fn start(api: &FakeApi, router: &Arc<Router>, identity: &str) -> Running {
    start_on(
        api,
        router,
        identity,
        "pi1",
        Ipv4Addr::new(192, 168, 77, 10),
    )
}

/// A replica on node `node`, whose address is `host`.
fn start_on(
    api: &FakeApi,
    router: &Arc<Router>,
    identity: &str,
    node: &str,
    host: Ipv4Addr,
) -> Running {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let client = api.client();
    let (options, connect) = (options(identity, node), connect(router, host));
    let task = tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        if let Err(e) = run_with(client, options, connect, shutdown).await {
            panic!("the controller stopped: {e}");
        }
    });
    Running { stop, task }
}

impl Running {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

/// Wait up to 10 s for `check` to give something.
async fn wait_for<T>(what: &str, check: impl Fn() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "waited 10 s for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn annotation(api: &FakeApi, key: &str) -> Option<String> {
    let s = api.get(SERVICES, "default", "web")?;
    s["metadata"]["annotations"][key].as_str().map(Into::into)
}

fn events(api: &FakeApi, reason: &str) -> Vec<Value> {
    api.list(EVENTS)
        .into_iter()
        .filter(|e| e["reason"] == reason)
        .collect()
}

fn holder(api: &FakeApi) -> Option<String> {
    api.get(LEASES, "pfwd-system", "pfwd-kube")?["spec"]["holderIdentity"]
        .as_str()
        .map(Into::into)
}

#[tokio::test]
async fn an_annotated_service_is_mapped_reported_and_recorded() {
    let api = cluster();
    let router = Arc::new(Router::default());
    api.put(
        SERVICES,
        web(json!({"pfwd.io/forward": "true", "pfwd.io/external-ports": "http=8080"})),
    );
    let running = start(&api, &router, "a");
    let external = wait_for("the external annotation", || {
        annotation(&api, "pfwd.io/external").filter(|e| e.contains(','))
    })
    .await;
    assert_eq!(external, "dns=5.5.5.7:53/UDP,http=5.5.5.7:8080/TCP");
    assert_eq!(
        annotation(&api, "pfwd.io/status").unwrap(),
        "2 of 2 ports forwarded via PCP"
    );
    assert_eq!(holder(&api).as_deref(), Some("a"));
    // The router holds both, to the node's address and NodePorts.
    let table = router.table();
    assert_eq!(table[&8080].0, "192.168.77.10:30080".parse().unwrap());
    assert_eq!(table[&53].0, "192.168.77.10:30053".parse().unwrap());
    // An Event per port, on the Service.
    let mapped = events(&api, "Mapped");
    assert_eq!(mapped.len(), 2, "{mapped:?}");
    assert_eq!(mapped[0]["regarding"]["kind"], "Service");
    assert_eq!(mapped[0]["regarding"]["name"], "web");
    assert_eq!(mapped[0]["type"], "Normal");
    assert!(mapped.iter().any(|e| {
        e["note"]
            .as_str()
            .unwrap()
            .contains("port http: forwarded TCP 5.5.5.7:8080 -> 192.168.77.10:30080 via PCP")
    }));
    // The state, with the PCP nonce, in the ConfigMap.
    let state = api
        .get(CONFIGMAPS, "pfwd-system", "pfwd-kube-state")
        .unwrap();
    let http = state["data"]["default.web.http.tcp"].as_str().unwrap();
    assert!(http.contains("\"pcp_nonce\""), "{http}");
    // It watched (not polled) Services and Nodes.
    let requests = api.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /api/v1/services?") && r.contains("watch=true")),
        "{requests:?}"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /api/v1/nodes?") && r.contains("watch=true"))
    );
    running.stop().await;
    // Stopping hands over: nothing deleted, the Lease released.
    assert!(
        !router.log().iter().any(|l| l.starts_with("unmap")),
        "{:?}",
        router.log()
    );
    assert_eq!(router.table().len(), 2);
}

#[tokio::test]
async fn annotation_removed_then_service_deleted_unmaps() {
    let api = cluster();
    let router = Arc::new(Router::default());
    api.put(
        SERVICES,
        web(json!({"pfwd.io/forward": "true", "pfwd.io/ports": "http"})),
    );
    let running = start(&api, &router, "a");
    wait_for("mapped", || router.table().get(&80).cloned()).await;
    wait_for("the annotation", || annotation(&api, "pfwd.io/external")).await;

    // The annotation goes: so do the mapping, its record and our annotations.
    let mut service = api.get(SERVICES, "default", "web").unwrap();
    service["metadata"]["annotations"]
        .as_object_mut()
        .unwrap()
        .remove("pfwd.io/forward");
    api.put(SERVICES, service);
    wait_for("unmapped", || router.table().is_empty().then_some(())).await;
    wait_for("annotations removed", || {
        annotation(&api, "pfwd.io/external").is_none().then_some(())
    })
    .await;
    let state = api
        .get(CONFIGMAPS, "pfwd-system", "pfwd-kube-state")
        .unwrap();
    assert!(
        state["data"].as_object().is_none_or(|d| d.is_empty()),
        "{state}"
    );
    assert_eq!(events(&api, "Unmapped").len(), 1);

    // Asked again, then the Service is deleted: unmapped too.
    let mut service = api.get(SERVICES, "default", "web").unwrap();
    service["metadata"]["annotations"]["pfwd.io/forward"] = json!("true");
    api.put(SERVICES, service);
    wait_for("mapped again", || router.table().get(&80).cloned()).await;
    api.delete(SERVICES, "default", "web");
    wait_for("unmapped after deletion", || {
        router.table().is_empty().then_some(())
    })
    .await;
    running.stop().await;
}

#[tokio::test]
async fn bad_annotations_are_told_and_lose_nothing() {
    let api = cluster();
    let router = Arc::new(Router::default());
    api.put(
        SERVICES,
        web(json!({"pfwd.io/forward": "true", "pfwd.io/ports": "http"})),
    );
    let running = start(&api, &router, "a");
    wait_for("mapped", || router.table().get(&80).cloned()).await;
    let mut service = api.get(SERVICES, "default", "web").unwrap();
    service["metadata"]["annotations"]["pfwd.io/external-ports"] = json!("http=70000");
    service["metadata"]["annotations"]["pfwd.io/methods"] = json!("pcp,telepathy");
    api.put(SERVICES, service);
    let told = wait_for("the InvalidAnnotation event", || {
        events(&api, "InvalidAnnotation").pop()
    })
    .await;
    assert_eq!(told["type"], "Warning");
    let note = told["note"].as_str().unwrap();
    assert!(note.contains("port 70000 is out of range"), "{note}");
    assert!(note.contains("\"telepathy\" is not a method"), "{note}");
    assert!(
        note.contains("what was forwarded stays forwarded"),
        "{note}"
    );
    // Still mapped, nothing deleted; the status says there is a problem.
    assert!(router.table().contains_key(&80));
    assert!(!router.log().iter().any(|l| l.starts_with("unmap")));
    wait_for("the status", || {
        annotation(&api, "pfwd.io/status").filter(|s| s.contains("1 problem"))
    })
    .await;
    // Told once, not at every reconcile.
    let mut service = api.get(SERVICES, "default", "web").unwrap();
    service["metadata"]["labels"] = json!({"touched": "yes"});
    api.put(SERVICES, service);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(events(&api, "InvalidAnnotation").len(), 1);
    running.stop().await;
}

#[tokio::test]
async fn the_older_of_two_services_gets_a_contested_port() {
    let api = cluster();
    let router = Arc::new(Router::default());
    let mut old = web(json!({"pfwd.io/forward": "true", "pfwd.io/ports": "http"}));
    old["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
    api.put(SERVICES, old);
    let mut new = web(json!({"pfwd.io/forward": "true", "pfwd.io/ports": "http"}));
    new["metadata"]["name"] = json!("blog");
    new["metadata"]["creationTimestamp"] = json!("2026-06-01T00:00:00Z");
    new["spec"]["ports"][0]["nodePort"] = json!(30081);
    api.put(SERVICES, new);
    let running = start(&api, &router, "a");
    let taken = wait_for("ExternalPortTaken", || {
        events(&api, "ExternalPortTaken").pop()
    })
    .await;
    assert_eq!(taken["regarding"]["name"], "blog");
    assert!(
        taken["note"]
            .as_str()
            .unwrap()
            .contains("default/web (older) has")
    );
    wait_for("mapped", || router.table().get(&80).cloned()).await;
    assert_eq!(
        router.table()[&80].0,
        "192.168.77.10:30080".parse().unwrap()
    );
    running.stop().await;
}

#[tokio::test]
async fn a_standby_takes_over_and_re_adopts_without_mapping_twice() {
    let api = cluster();
    let router = Arc::new(Router::default());
    api.put(
        SERVICES,
        web(json!({"pfwd.io/forward": "true", "pfwd.io/ports": "http"})),
    );
    let a = start(&api, &router, "a");
    wait_for("a leads and maps", || router.table().get(&80).cloned()).await;
    let b = start(&api, &router, "b");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(holder(&api).as_deref(), Some("a"), "b waits");
    assert_eq!(router.log().len(), 1, "{:?}", router.log());
    let nonce = router.table()[&80].1;

    let stopped = Instant::now();
    a.stop().await;
    wait_for("b leads", || {
        (holder(&api).as_deref() == Some("b")).then_some(())
    })
    .await;
    let adopted = wait_for("Adopted", || events(&api, "Adopted").pop()).await;
    eprintln!("failover (graceful) took {:?}", stopped.elapsed());
    assert!(adopted["note"].as_str().unwrap().contains("re-adopted"));
    assert_eq!(adopted["reportingInstance"], "b");
    // Renewed with the recorded nonce: one mapping, never deleted.
    let log = router.log();
    assert_eq!(
        log,
        vec![
            "map 80 -> 192.168.77.10:30080 nonce 1",
            "renew 80 -> 192.168.77.10:30080 nonce 1"
        ]
    );
    assert_eq!(router.table()[&80].1, nonce);
    // The new leader still removes it when asked to.
    api.delete(SERVICES, "default", "web");
    wait_for("unmapped by b", || router.table().is_empty().then_some(())).await;
    b.stop().await;
}

#[tokio::test]
async fn mappings_of_a_service_deleted_while_no_leader_ran_are_deleted() {
    let api = cluster();
    let router = Arc::new(Router::default());
    api.put(
        SERVICES,
        web(json!({"pfwd.io/forward": "true", "pfwd.io/ports": "http"})),
    );
    let a = start(&api, &router, "a");
    wait_for("mapped", || router.table().get(&80).cloned()).await;
    a.stop().await;
    api.delete(SERVICES, "default", "web");
    let b = start(&api, &router, "b");
    wait_for("unmapped by the next leader", || {
        router.table().is_empty().then_some(())
    })
    .await;
    let state = api
        .get(CONFIGMAPS, "pfwd-system", "pfwd-kube-state")
        .unwrap();
    assert!(
        state["data"].as_object().is_none_or(|d| d.is_empty()),
        "{state}"
    );
    b.stop().await;
}

/// One RBAC rule of deploy/pfwd-kube.yaml; `namespace` None: a ClusterRole's.
#[derive(Debug)]
struct Rule {
    namespace: Option<String>,
    groups: Vec<String>,
    resources: Vec<String>,
    names: Vec<String>,
    verbs: Vec<String>,
}

/// The rules of the ClusterRole and the Role in the manifest. Their lists
/// are written in flow style (`verbs: ["get", "list"]`), which is JSON.
fn manifest_rules() -> Vec<Rule> {
    let text = include_str!("../../deploy/pfwd-kube.yaml");
    let list = |line: &str| -> Vec<String> {
        let json = line.split_once(':').unwrap().1.trim();
        serde_json::from_str(json).unwrap()
    };
    let mut rules = Vec::new();
    for doc in text.split("\n---\n") {
        let namespace = if doc.contains("\nkind: ClusterRole\n") {
            None
        } else if doc.contains("\nkind: Role\n") {
            Some("pfwd-system".to_string())
        } else {
            continue;
        };
        for line in doc.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("- apiGroups:") {
                rules.push(Rule {
                    namespace: namespace.clone(),
                    groups: list(&format!("x:{rest}")),
                    resources: vec![],
                    names: vec![],
                    verbs: vec![],
                });
            } else if let Some(rule) = rules.last_mut() {
                if line.starts_with("resources:") {
                    rule.resources = list(line);
                } else if line.starts_with("resourceNames:") {
                    rule.names = list(line);
                } else if line.starts_with("verbs:") {
                    rule.verbs = list(line);
                }
            }
        }
    }
    rules
}

/// A request as RBAC sees it: verb, group, resource, namespace, name.
fn as_rbac(request: &str) -> (String, String, String, Option<String>, Option<String>) {
    let (method, uri) = request.split_once(' ').unwrap();
    let (path, query) = uri.split_once('?').unwrap_or((uri, ""));
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, rest) = if parts[0] == "api" {
        (String::new(), &parts[2..])
    } else {
        (parts[1].to_string(), &parts[3..])
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(ns.to_string()), tail),
        _ => (None, rest),
    };
    let name = rest.get(1).map(|n| n.to_string());
    let verb = match (method, &name) {
        ("GET", Some(_)) => "get",
        ("GET", None) if query.contains("watch=true") => "watch",
        ("GET", None) => "list",
        ("POST", _) => "create",
        ("PATCH", _) => "patch",
        ("PUT", _) => "update",
        ("DELETE", _) => "delete",
        _ => "unknown",
    };
    (verb.into(), group, rest[0].to_string(), namespace, name)
}

#[tokio::test]
async fn the_manifests_rbac_allows_every_request_made_and_nothing_unused() {
    let rules = manifest_rules();
    assert!(rules.len() >= 5, "{rules:?}");
    // A whole life: first start (Lease and ConfigMap made), mapping, a bad
    // annotation, a standby, a failover, a deletion.
    let api = cluster();
    let router = Arc::new(Router::default());
    api.put(SERVICES, web(json!({"pfwd.io/forward": "true"})));
    let a = start(&api, &router, "a");
    wait_for("mapped", || annotation(&api, "pfwd.io/external")).await;
    let b = start(&api, &router, "b");
    let mut service = api.get(SERVICES, "default", "web").unwrap();
    service["metadata"]["annotations"]["pfwd.io/lease"] = json!("soon");
    api.put(SERVICES, service);
    wait_for("told", || events(&api, "InvalidAnnotation").pop()).await;
    a.stop().await;
    wait_for("b adopts", || events(&api, "Adopted").pop()).await;
    api.delete(SERVICES, "default", "web");
    wait_for("unmapped", || router.table().is_empty().then_some(())).await;
    b.stop().await;

    let mut used = vec![std::collections::BTreeSet::new(); rules.len()];
    for request in api.requests() {
        let (verb, group, resource, namespace, name) = as_rbac(&request);
        let allowed = rules.iter().position(|r| {
            r.verbs.contains(&verb)
                && r.groups.contains(&group)
                && r.resources.contains(&resource)
                && (r.names.is_empty() || name.as_ref().is_some_and(|n| r.names.contains(n)))
                && (r.namespace.is_none() || r.namespace == namespace)
        });
        match allowed {
            Some(i) => {
                used[i].insert(verb);
            }
            None => {
                panic!("deploy/pfwd-kube.yaml does not allow {request} ({verb} {group}/{resource})")
            }
        }
    }
    for (rule, used) in rules.iter().zip(used) {
        for verb in &rule.verbs {
            assert!(
                used.contains(verb),
                "deploy/pfwd-kube.yaml grants {verb} that the controller never uses: {rule:?}"
            );
        }
    }
}

#[tokio::test]
async fn a_leader_on_another_node_moves_the_mapping_to_its_node() {
    // Two nodes; a router in secure mode. a runs on pi1, b on pi2.
    let api = cluster();
    api.put(
        NODES,
        json!({"metadata": {"name": "pi2"},
               "status": {"addresses": [{"type": "InternalIP", "address": "192.168.77.11"}],
                          "conditions": [{"type": "Ready", "status": "True"}]}}),
    );
    let router = Arc::new(Router {
        secure: true,
        ..Router::default()
    });
    api.put(
        SERVICES,
        web(json!({"pfwd.io/forward": "true", "pfwd.io/ports": "http"})),
    );
    let a = start(&api, &router, "a");
    wait_for("a maps to pi1", || router.table().get(&80).cloned()).await;
    a.stop().await;
    let b = start_on(&api, &router, "b", "pi2", Ipv4Addr::new(192, 168, 77, 11));
    // b cannot delete pi1's mapping: told, left to its lease; b's own
    // mapping waits for the port (exact outside port, no other port).
    let left = wait_for("LeftToExpire", || events(&api, "LeftToExpire").pop()).await;
    let note = left["note"].as_str().unwrap();
    assert!(note.contains("was made from 192.168.77.10"), "{note}");
    assert!(note.contains("until its lease ends at 20"), "{note}");
    wait_for("b tried and met the held port", || {
        router
            .log()
            .iter()
            .any(|l| l.starts_with("conflict 80"))
            .then_some(())
    })
    .await;
    assert!(
        !router.log().iter().any(|l| l.starts_with("refused renew")),
        "{:?}",
        router.log()
    );
    // The old lease ends (the router drops it): b's retry maps it to pi2.
    router.table.lock().unwrap().clear();
    let to = wait_for("mapped to pi2", || {
        router
            .table()
            .get(&80)
            .map(|(to, _)| *to)
            .filter(|to| *to.ip() == Ipv4Addr::new(192, 168, 77, 11))
    })
    .await;
    assert_eq!(to.port(), 30080);
    b.stop().await;
}
