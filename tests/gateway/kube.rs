//! pfwd-kube against the real miniupnpd: an annotated Service's port is
//! reached from the wan namespace at the node's address and NodePort; the
//! leader is killed and the standby takes over with the mapping still
//! reachable (and not mapped twice); a rolling update hands over the same
//! way; deleting the Service deletes the mapping.
//!
//! The router side is real (miniupnpd in the testbed's namespaces, bytes
//! sent from "the internet"). The Kubernetes side is pfwd-kube's in-memory
//! API server (`pfwd_kube::fake_api`): no API server can be had on these
//! machines. Each controller replica runs on its own thread and runtime in
//! the LAN namespace, as a pod with hostNetwork on the node would; killing
//! one drops its runtime, so it sends nothing more, as SIGKILL would.
//!
//! Run with `--nocapture` to see the timings.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::time::{Duration, Instant};

use pfwd_core::Protocol;
use pfwd_kube::controller::{Options, run};
use pfwd_kube::fake_api::FakeApi;
use pfwd_testbed::{GatewayConfig, LAN_HOST, Netns, Testbed, reaches, testbed};
use serde_json::{Value, json};

const SERVICES: &str = "api/v1/services";
const EVENTS: &str = "apis/events.k8s.io/v1/events";
const LEASES: &str = "apis/coordination.k8s.io/v1/leases";
const EXTERNAL_PORT: u16 = 8080;
const NODE_PORT: u16 = 30080;

/// One controller replica on its own thread and runtime in the LAN
/// namespace.
struct Replica {
    stop: Option<tokio::sync::oneshot::Sender<bool>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Replica {
    fn start(tb: &Testbed, api: &FakeApi, identity: &str) -> Replica {
        let lan = tb.lan().name().to_string();
        let api = api.clone();
        let options = Options {
            namespace: "pfwd-system".into(),
            identity: identity.into(),
            node_name: Some("pi".into()),
            leader_lease: Duration::from_secs(2),
            leader_grace: Duration::from_secs(1),
            check_interval: Duration::from_secs(30),
            ..Options::default()
        };
        let (stop, how) = tokio::sync::oneshot::channel::<bool>();
        let thread = std::thread::spawn(move || {
            Netns::attach(&lan).run(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                runtime.block_on(async move {
                    let (graceful, stopped) = tokio::sync::oneshot::channel::<()>();
                    let controller = run(api.client(), options, async {
                        let _ = stopped.await;
                    });
                    tokio::pin!(controller);
                    tokio::select! {
                        outcome = &mut controller => outcome.unwrap(),
                        how = how => {
                            if how.unwrap_or(true) {
                                // SIGTERM: the controller hands over and ends.
                                let _ = graceful.send(());
                                controller.await.unwrap();
                            }
                            // Killed: nothing more runs; the runtime is
                            // dropped with every task in it.
                        }
                    }
                });
            })
        });
        Replica {
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn end(mut self, graceful: bool) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(graceful);
        }
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(false);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn wait_for<T>(what: &str, limit: Duration, check: impl Fn() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn holder(api: &FakeApi) -> Option<String> {
    api.get(LEASES, "pfwd-system", "pfwd-kube")?["spec"]["holderIdentity"]
        .as_str()
        .map(Into::into)
}

fn events_by(api: &FakeApi, reason: &str, instance: &str) -> Vec<Value> {
    api.list(EVENTS)
        .into_iter()
        .filter(|e| e["reason"] == reason && e["reportingInstance"] == instance)
        .collect()
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

#[test]
fn a_service_is_reached_from_the_internet_and_survives_its_leader() {
    let Some(tb) = testbed("kube", GatewayConfig::all_on()) else {
        return;
    };
    let api = FakeApi::new();
    api.put(
        "api/v1/nodes",
        json!({"metadata": {"name": "pi"},
               "status": {"addresses": [{"type": "InternalIP", "address": LAN_HOST.to_string()}],
                          "conditions": [{"type": "Ready", "status": "True"}]}}),
    );
    let a = Replica::start(&tb, &api, "a");
    wait_for("a leads", Duration::from_secs(10), || {
        (holder(&api).as_deref() == Some("a")).then_some(())
    });
    let b = Replica::start(&tb, &api, "b");

    // An annotated Service, as `kubectl apply` would make it.
    let annotated = Instant::now();
    api.put(
        SERVICES,
        json!({"metadata": {"name": "web", "namespace": "default",
                            "annotations": {"pfwd.io/forward": "true",
                                            "pfwd.io/external-ports": format!("http={EXTERNAL_PORT}")}},
               "spec": {"type": "NodePort", "ports": [
                   {"name": "http", "port": 80, "nodePort": NODE_PORT, "protocol": "TCP"}]}}),
    );
    let external = wait_for(
        "the pfwd.io/external annotation",
        Duration::from_secs(15),
        || {
            let s = api.get(SERVICES, "default", "web")?;
            s["metadata"]["annotations"]["pfwd.io/external"]
                .as_str()
                .filter(|e| !e.is_empty())
                .map(String::from)
        },
    );
    let mapped = annotated.elapsed();
    assert_eq!(external, format!("http=5.5.5.7:{EXTERNAL_PORT}/TCP"));
    assert!(
        reaches(&tb, Protocol::Tcp, EXTERNAL_PORT, NODE_PORT),
        "bytes from the internet did not reach the node's NodePort"
    );
    let bytes = annotated.elapsed();
    let rules = tb.forwarded();
    assert_eq!(rules.len(), 1, "{rules:?}");
    assert_eq!(rules[0].internal, LAN_HOST);
    assert_eq!(rules[0].internal_port, NODE_PORT);
    let nonce_before = api
        .get("api/v1/configmaps", "pfwd-system", "pfwd-kube-state")
        .unwrap()["data"]["default.web.http.tcp"]
        .as_str()
        .map(|s| serde_json::from_str::<Value>(s).unwrap()["record"]["pcp_nonce"].clone())
        .unwrap();
    assert!(
        nonce_before.is_string(),
        "mapped by PCP, its nonce recorded"
    );

    // The leader is killed: the mapping stays on the router meanwhile.
    let killed = Instant::now();
    a.end(false);
    assert!(
        reaches(&tb, Protocol::Tcp, EXTERNAL_PORT, NODE_PORT),
        "the mapping must outlive a killed leader"
    );
    wait_for("b leads", Duration::from_secs(15), || {
        (holder(&api).as_deref() == Some("b")).then_some(())
    });
    let elected = killed.elapsed();
    wait_for("b re-adopts", Duration::from_secs(15), || {
        events_by(&api, "Adopted", "b").pop()
    });
    let adopted = killed.elapsed();
    assert!(reaches(&tb, Protocol::Tcp, EXTERNAL_PORT, NODE_PORT));
    // Renewed with the recorded nonce: still one rule, one record.
    assert_eq!(tb.forwarded().len(), 1, "{:?}", tb.forwarded());
    let nonce_after = api
        .get("api/v1/configmaps", "pfwd-system", "pfwd-kube-state")
        .unwrap()["data"]["default.web.http.tcp"]
        .as_str()
        .map(|s| serde_json::from_str::<Value>(s).unwrap()["record"]["pcp_nonce"].clone())
        .unwrap();
    assert_eq!(nonce_after, nonce_before);
    assert!(
        events_by(&api, "Mapped", "b").is_empty(),
        "b mapped nothing anew"
    );

    // A rolling update: c comes up, b gets SIGTERM and hands over.
    let c = Replica::start(&tb, &api, "c");
    let terminated = Instant::now();
    b.end(true);
    assert!(reaches(&tb, Protocol::Tcp, EXTERNAL_PORT, NODE_PORT));
    wait_for("c re-adopts", Duration::from_secs(15), || {
        events_by(&api, "Adopted", "c").pop()
    });
    let handed = terminated.elapsed();
    assert!(reaches(&tb, Protocol::Tcp, EXTERNAL_PORT, NODE_PORT));
    assert_eq!(tb.forwarded().len(), 1);

    // A real removal: the Service is deleted, the mapping goes.
    let deleted = Instant::now();
    api.delete(SERVICES, "default", "web");
    wait_for("the rule to go", Duration::from_secs(15), || {
        (!tb.forwards(Protocol::Tcp, EXTERNAL_PORT)).then_some(())
    });
    let removed = deleted.elapsed();
    assert!(!reaches(&tb, Protocol::Tcp, EXTERNAL_PORT, NODE_PORT));
    c.end(true);

    println!(
        "pfwd-kube timings (miniupnpd, PCP; Kubernetes side in-memory; leader Lease 2 s):\n\
         \x20 annotated Service -> mapped (pfwd.io/external written): {} ms\n\
         \x20 annotated Service -> bytes from the internet arrived:   {} ms\n\
         \x20 leader killed -> standby holds the Lease:               {} ms\n\
         \x20 leader killed -> standby re-adopted (Adopted event):    {} ms (bytes arrived throughout)\n\
         \x20 SIGTERM (rolling update) -> new replica re-adopted:     {} ms\n\
         \x20 Service deleted -> rule gone from the router:           {} ms",
        ms(mapped),
        ms(bytes),
        ms(elected),
        ms(adopted),
        ms(handed),
        ms(removed)
    );
}

/// Start one replica, annotate `service`, and wait for an Event `reason`
/// on it; the Event.
fn event_for(tb: &Testbed, service: Value, reason: &str) -> (FakeApi, Value) {
    let api = FakeApi::new();
    api.put(
        "api/v1/nodes",
        json!({"metadata": {"name": "pi"},
               "status": {"addresses": [{"type": "InternalIP", "address": LAN_HOST.to_string()}],
                          "conditions": [{"type": "Ready", "status": "True"}]}}),
    );
    let replica = Replica::start(tb, &api, "a");
    api.put(SERVICES, service);
    let deadline = Instant::now() + Duration::from_secs(20);
    let event = loop {
        if let Some(e) = api.list(EVENTS).into_iter().find(|e| e["reason"] == reason) {
            break e;
        }
        if Instant::now() > deadline {
            let seen: Vec<String> = api
                .list(EVENTS)
                .iter()
                .map(|e| format!("{}: {}", e["reason"], e["note"]))
                .collect();
            panic!("no {reason} event within 20 s; the events: {seen:#?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    replica.end(true);
    (api, event)
}

#[test]
fn a_router_that_cannot_be_asked_puts_the_guide_on_the_service() {
    let Some(tb) = testbed("kube_manual", GatewayConfig::no_daemon()) else {
        return;
    };
    let started = Instant::now();
    let (api, event) = event_for(
        &tb,
        json!({"metadata": {"name": "web", "namespace": "default",
                            "annotations": {"pfwd.io/forward": "true"}},
               "spec": {"type": "NodePort", "ports": [
                   {"name": "http", "port": 80, "nodePort": NODE_PORT, "protocol": "TCP"}]}}),
        "ManualForwardingRequired",
    );
    println!(
        "no router to ask: the guide was on the Service after {} ms",
        ms(started.elapsed())
    );
    assert_eq!(event["type"], "Warning");
    assert_eq!(event["regarding"]["name"], "web");
    let note = event["note"].as_str().unwrap();
    assert!(note.contains("forward it by hand"), "{note}");
    assert!(note.contains(&format!("{LAN_HOST}")), "{note}");
    assert!(note.contains(&NODE_PORT.to_string()), "{note}");
    let status =
        api.get(SERVICES, "default", "web").unwrap()["metadata"]["annotations"]["pfwd.io/status"]
            .as_str()
            .map(String::from)
            .unwrap();
    assert!(status.starts_with("0 of 1 ports forwarded"), "{status}");
}

#[test]
fn a_mapping_for_another_host_that_the_router_refuses_is_told() {
    let Some(tb) = testbed("kube_refused", GatewayConfig::all_on()) else {
        return;
    };
    // A LoadBalancer address on the LAN that is not this node (MetalLB):
    // miniupnpd in secure mode maps only the asking host.
    let (_api, event) = event_for(
        &tb,
        json!({"metadata": {"name": "web", "namespace": "default",
                            "annotations": {"pfwd.io/forward": "true"}},
               "spec": {"type": "LoadBalancer", "ports": [
                   {"name": "http", "port": 80, "nodePort": NODE_PORT, "protocol": "TCP"}]},
               "status": {"loadBalancer": {"ingress": [{"ip": "192.168.77.20"}]}}}),
        "RouterRefused",
    );
    let note = event["note"].as_str().unwrap();
    println!("refused: {note}");
    assert!(note.contains("192.168.77.20"), "{note}");
    assert!(note.contains("by hand"), "{note}");
    assert!(!tb.forwards(Protocol::Tcp, 80));
}
