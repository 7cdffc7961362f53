//! The reconciler's decisions: multi-port Services, NodePort and
//! LoadBalancer, annotation changes, deletion, two Services asking for one
//! outside port, bad annotations, failover onto another node.

#![allow(clippy::unwrap_used)]

use super::*;
use crate::annotations::{EXTERNAL_PORTS, FORWARD, LEASE, METHODS, PORTS, TARGET};
use std::time::Duration;

const NODE1: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 11);
const NODE2: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 12);
const LB: Ipv4Addr = Ipv4Addr::new(192, 168, 1, 240);

fn nodes() -> Vec<NodeView> {
    vec![
        NodeView {
            name: "pi2".into(),
            address: Some(NODE2),
            ready: true,
        },
        NodeView {
            name: "pi1".into(),
            address: Some(NODE1),
            ready: true,
        },
        NodeView {
            name: "pi3".into(),
            address: Some(Ipv4Addr::new(192, 168, 1, 13)),
            ready: false,
        },
    ]
}

fn port(name: Option<&str>, port: u16, node_port: u16, transport: Transport) -> PortView {
    PortView {
        name: name.map(Into::into),
        port,
        node_port: Some(node_port),
        transport,
    }
}

fn service(
    name: &str,
    kind: ServiceType,
    ports: Vec<PortView>,
    notes: &[(&str, &str)],
) -> ServiceView {
    ServiceView {
        key: ServiceKey::new("default", name),
        uid: format!("uid-{name}"),
        created: "2026-11-01T10:00:00Z".into(),
        kind,
        annotations: notes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ports,
        load_balancer: Vec::new(),
    }
}

fn web() -> ServiceView {
    service(
        "web",
        ServiceType::NodePort,
        vec![
            port(Some("http"), 80, 30080, Transport::Tcp),
            port(Some("https"), 443, 30443, Transport::Tcp),
            port(Some("quic"), 443, 30444, Transport::Udp),
        ],
        &[(FORWARD, "true")],
    )
}

fn key(service: &str, port: &str, protocol: Protocol) -> MappingKey {
    MappingKey {
        service: ServiceKey::new("default", service),
        port: PortRef::Name(port.into()),
        protocol,
    }
}

fn want(external_port: u16, internal: SocketAddrV4) -> Want {
    Want {
        external_port,
        internal,
        lease: Lease::Finite(pfwd_core::defaults::LEASE),
        methods: Vec::new(),
        check_via: None,
    }
}

fn run(services: &[ServiceView], current: &BTreeMap<MappingKey, Want>) -> Plan {
    plan(Inputs {
        services,
        nodes: &nodes(),
        own_node: Some("pi1"),
        current,
    })
}

/// Apply a plan's actions to `current`, as a controller whose every
/// request succeeds would.
fn apply(current: &mut BTreeMap<MappingKey, Want>, plan: &Plan) {
    for action in &plan.actions {
        match action {
            Action::Map(k, w) | Action::Remap(k, w) => {
                current.insert(k.clone(), w.clone());
            }
            Action::Unmap(k) => {
                current.remove(k);
            }
        }
    }
}

#[test]
fn every_port_of_a_multi_port_node_port_service_goes_to_this_node() {
    let plan = run(&[web()], &BTreeMap::new());
    assert_eq!(
        plan.actions,
        vec![
            Action::Map(
                key("web", "http", Protocol::Tcp),
                want(80, SocketAddrV4::new(NODE1, 30080))
            ),
            Action::Map(
                key("web", "https", Protocol::Tcp),
                want(443, SocketAddrV4::new(NODE1, 30443))
            ),
            Action::Map(
                key("web", "quic", Protocol::Udp),
                want(443, SocketAddrV4::new(NODE1, 30444))
            ),
        ]
    );
    assert_eq!(plan.problems[&ServiceKey::new("default", "web")], vec![]);
}

#[test]
fn nothing_changes_when_everything_is_mapped_as_asked() {
    let mut current = BTreeMap::new();
    apply(&mut current, &run(&[web()], &BTreeMap::new()));
    let again = run(&[web()], &current);
    assert!(again.actions.is_empty(), "{:?}", again.actions);
    assert_eq!(again.wanted, current);
}

#[test]
fn services_without_the_annotation_are_left_alone() {
    let mut other = web();
    other.annotations.clear();
    let mut no = web();
    no.key.name = "no".into();
    no.annotations.insert(FORWARD.into(), "false".into());
    let plan = run(&[other, no], &BTreeMap::new());
    assert!(plan.actions.is_empty());
    assert!(plan.problems.is_empty());
}

#[test]
fn a_load_balancer_address_on_the_lan_is_the_target() {
    let mut lb = web();
    lb.kind = ServiceType::LoadBalancer;
    lb.load_balancer = vec![Ipv4Addr::new(5, 5, 5, 5), LB];
    let plan = run(&[lb.clone()], &BTreeMap::new());
    assert_eq!(
        plan.wanted[&key("web", "http", Protocol::Tcp)].internal,
        SocketAddrV4::new(LB, 80)
    );
    // Without a LAN address yet (MetalLB still assigning): the NodePort.
    lb.load_balancer = vec![];
    let plan = run(&[lb.clone()], &BTreeMap::new());
    assert_eq!(
        plan.wanted[&key("web", "http", Protocol::Tcp)].internal,
        SocketAddrV4::new(NODE1, 30080)
    );
    // Asked for the balancer explicitly: told to wait for an address.
    lb.annotations.insert(TARGET.into(), "loadbalancer".into());
    let plan = run(&[lb], &BTreeMap::new());
    assert!(plan.actions.is_empty());
    assert!(matches!(
        plan.problems[&ServiceKey::new("default", "web")][0],
        Problem::NoAddress(..)
    ));
}

#[test]
fn servicelb_addresses_prefer_this_node() {
    let mut lb = web();
    lb.kind = ServiceType::LoadBalancer;
    lb.load_balancer = vec![NODE2, NODE1];
    let plan = run(&[lb], &BTreeMap::new());
    assert_eq!(
        plan.wanted[&key("web", "http", Protocol::Tcp)].internal,
        SocketAddrV4::new(NODE1, 80)
    );
}

#[test]
fn target_node_uses_the_node_port_even_with_a_balancer() {
    let mut lb = web();
    lb.kind = ServiceType::LoadBalancer;
    lb.load_balancer = vec![LB];
    lb.annotations.insert(TARGET.into(), "node".into());
    let plan = run(&[lb], &BTreeMap::new());
    assert_eq!(
        plan.wanted[&key("web", "https", Protocol::Tcp)].internal,
        SocketAddrV4::new(NODE1, 30443)
    );
}

#[test]
fn selected_ports_and_outside_ports_follow_the_annotations() {
    let mut s = web();
    s.annotations.insert(PORTS.into(), "https,http".into());
    s.annotations
        .insert(EXTERNAL_PORTS.into(), "http=8080,443=8443".into());
    let plan = run(&[s], &BTreeMap::new());
    let wanted: Vec<(String, u16)> = plan
        .wanted
        .iter()
        .map(|(k, w)| (k.port.to_string(), w.external_port))
        .collect();
    // PORTS "https" is by name: the UDP port of the same number is left out.
    assert_eq!(wanted, vec![("http".into(), 8080), ("https".into(), 8443)]);
}

#[test]
fn a_port_the_service_lacks_is_told() {
    let mut s = web();
    s.annotations.insert(PORTS.into(), "http,ssh".into());
    let plan = run(&[s], &BTreeMap::new());
    assert_eq!(plan.wanted.len(), 1);
    let told = &plan.problems[&ServiceKey::new("default", "web")];
    assert_eq!(
        told,
        &vec![Problem::NoSuchPort(PortRef::Name("ssh".into()))]
    );
    assert!(told[0].to_string().contains("does not have"));
}

#[test]
fn unnamed_ports_are_named_by_number() {
    let s = service(
        "dns",
        ServiceType::NodePort,
        vec![port(None, 53, 30053, Transport::Udp)],
        &[(FORWARD, "true")],
    );
    let plan = run(&[s], &BTreeMap::new());
    let k = plan.wanted.keys().next().unwrap();
    assert_eq!(k.port, PortRef::Number(53));
    assert_eq!(k.protocol, Protocol::Udp);
}

#[test]
fn changing_an_annotation_remaps_only_what_changed() {
    let mut current = BTreeMap::new();
    apply(&mut current, &run(&[web()], &BTreeMap::new()));
    let mut changed = web();
    changed
        .annotations
        .insert(EXTERNAL_PORTS.into(), "http=8080".into());
    let plan = run(&[changed.clone()], &current);
    assert_eq!(
        plan.actions,
        vec![Action::Remap(
            key("web", "http", Protocol::Tcp),
            want(8080, SocketAddrV4::new(NODE1, 30080))
        )]
    );
    apply(&mut current, &plan);
    // Fewer ports: the others go.
    changed.annotations.insert(PORTS.into(), "http".into());
    let plan = run(&[changed.clone()], &current);
    assert_eq!(
        plan.actions,
        vec![
            Action::Unmap(key("web", "https", Protocol::Tcp)),
            Action::Unmap(key("web", "quic", Protocol::Udp)),
        ]
    );
    apply(&mut current, &plan);
    // A new lease and methods: remapped with them.
    changed.annotations.insert(LEASE.into(), "30m".into());
    changed.annotations.insert(METHODS.into(), "upnp".into());
    let plan = run(&[changed], &current);
    match &plan.actions[..] {
        [Action::Remap(_, w)] => {
            assert_eq!(w.lease, Lease::Finite(Duration::from_secs(1800)));
            assert_eq!(w.methods, vec![Method::Upnp]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn annotation_removed_or_service_deleted_unmaps_everything() {
    let mut current = BTreeMap::new();
    apply(&mut current, &run(&[web()], &BTreeMap::new()));
    assert_eq!(current.len(), 3);
    let mut removed = web();
    removed.annotations.remove(FORWARD);
    let plan = run(&[removed], &current);
    assert_eq!(plan.actions.len(), 3);
    assert!(plan.actions.iter().all(|a| matches!(a, Action::Unmap(_))));
    let plan = run(&[], &current);
    assert_eq!(plan.actions.len(), 3);
    assert!(plan.actions.iter().all(|a| matches!(a, Action::Unmap(_))));
    assert!(plan.problems.is_empty());
}

#[test]
fn a_type_change_to_cluster_ip_unmaps_and_says_why() {
    let mut current = BTreeMap::new();
    apply(&mut current, &run(&[web()], &BTreeMap::new()));
    let mut internal = web();
    internal.kind = ServiceType::Other;
    let plan = run(&[internal], &current);
    assert_eq!(plan.actions.len(), 3);
    assert_eq!(
        plan.problems[&ServiceKey::new("default", "web")],
        vec![Problem::NotReachable]
    );
}

#[test]
fn two_services_asking_for_one_outside_port_the_older_wins() {
    let mut old = service(
        "old",
        ServiceType::NodePort,
        vec![port(Some("http"), 80, 30001, Transport::Tcp)],
        &[(FORWARD, "true")],
    );
    old.created = "2026-01-01T00:00:00Z".into();
    let mut new = service(
        "aaa-new",
        ServiceType::NodePort,
        vec![port(Some("web"), 8080, 30002, Transport::Tcp)],
        &[(FORWARD, "true"), (EXTERNAL_PORTS, "web=80")],
    );
    new.created = "2026-06-01T00:00:00Z".into();
    let plan = run(&[new.clone(), old.clone()], &BTreeMap::new());
    assert_eq!(
        plan.actions,
        vec![Action::Map(
            key("old", "http", Protocol::Tcp),
            want(80, SocketAddrV4::new(NODE1, 30001))
        )]
    );
    let told = &plan.problems[&new.key];
    assert!(
        matches!(&told[..], [Problem::PortTaken { by, external_port: 80, .. }] if by == &old.key)
    );
    assert!(told[0].to_string().contains("web=81"), "{}", told[0]);

    // The newer one came first and holds the port: it yields it to the older.
    let mut current = BTreeMap::new();
    current.insert(
        key("aaa-new", "web", Protocol::Tcp),
        want(80, SocketAddrV4::new(NODE1, 30002)),
    );
    let plan = run(&[new.clone(), old], &current);
    assert_eq!(
        plan.actions[0],
        Action::Unmap(key("aaa-new", "web", Protocol::Tcp))
    );
    assert!(
        matches!(plan.actions[1], Action::Map(ref k, _) if k == &key("old", "http", Protocol::Tcp))
    );

    // One TCP and one UDP on the same number do not clash.
    let mut udp = new;
    udp.ports[0].transport = Transport::Udp;
    let mut tcp = web();
    tcp.annotations.insert(PORTS.into(), "http".into());
    let plan = run(&[udp, tcp], &BTreeMap::new());
    assert_eq!(plan.wanted.len(), 2);
}

#[test]
fn bad_annotations_keep_what_is_mapped_and_say_what_is_wrong() {
    let mut current = BTreeMap::new();
    apply(&mut current, &run(&[web()], &BTreeMap::new()));
    let mut bad = web();
    bad.annotations
        .insert(EXTERNAL_PORTS.into(), "http=0".into());
    bad.annotations
        .insert(METHODS.into(), "smoke-signals".into());
    let plan = run(&[bad.clone()], &current);
    assert!(plan.actions.is_empty(), "{:?}", plan.actions);
    assert_eq!(plan.wanted, current, "its ports stay reserved");
    match &plan.problems[&bad.key][..] {
        [p @ Problem::Annotations(errors)] => {
            assert_eq!(errors.len(), 2);
            let text = p.to_string();
            assert!(text.contains("port 0 is out of range"), "{text}");
            assert!(text.contains("smoke-signals"), "{text}");
            assert!(text.contains("stays forwarded"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    // Another Service cannot take a port a broken one holds.
    let mut other = service(
        "other",
        ServiceType::NodePort,
        vec![port(Some("http"), 80, 30009, Transport::Tcp)],
        &[(FORWARD, "true")],
    );
    other.created = "2020-01-01T00:00:00Z".into();
    let plan = run(&[bad.clone(), other], &current);
    assert!(plan.actions.is_empty(), "{:?}", plan.actions);
    // Deleted while broken: its mappings go.
    let plan = run(&[], &current);
    assert_eq!(plan.actions.len(), 3);
}

#[test]
fn sctp_ports_are_left_out_and_told() {
    let s = service(
        "sig",
        ServiceType::NodePort,
        vec![
            port(Some("sctp"), 3868, 30868, Transport::Sctp),
            port(Some("tcp"), 3868, 30869, Transport::Tcp),
        ],
        &[(FORWARD, "true")],
    );
    let plan = run(std::slice::from_ref(&s), &BTreeMap::new());
    assert_eq!(plan.wanted.len(), 1);
    assert_eq!(
        plan.problems[&s.key],
        vec![Problem::Sctp(PortRef::Name("sctp".into()))]
    );
}

#[test]
fn a_new_leader_maps_to_its_own_node_and_keeps_other_targets_while_good() {
    // Mapped by a leader on pi2; the new leader runs on pi1: its own node
    // is a choice, so the mappings move there (a router in secure mode
    // would not let pi1 renew pi2's mappings).
    let mut current = BTreeMap::new();
    for (k, w) in run(&[web()], &BTreeMap::new()).wanted {
        let moved = SocketAddrV4::new(NODE2, w.internal.port());
        current.insert(
            k,
            Want {
                internal: moved,
                ..w
            },
        );
    }
    let plan = run(&[web()], &current);
    assert_eq!(plan.actions.len(), 3);
    assert!(
        plan.actions
            .iter()
            .all(|a| matches!(a, Action::Remap(_, w) if *w.internal.ip() == NODE1))
    );
    // A leader whose node is not a choice (not Ready): what is mapped stays.
    let mut pi1_down = nodes();
    for n in &mut pi1_down {
        if n.name == "pi1" {
            n.ready = false;
        }
    }
    let plan = plan_with(&[web()], &pi1_down, &current);
    assert!(plan.actions.is_empty(), "{:?}", plan.actions);
    // ... until its node goes too: then the first ready node.
    let mut only_pi3 = pi1_down.clone();
    only_pi3.retain(|n| n.name != "pi2");
    only_pi3[1].ready = true;
    let plan = plan_with(&[web()], &only_pi3, &current);
    assert!(plan.actions.iter().all(
        |a| matches!(a, Action::Remap(_, w) if *w.internal.ip() == Ipv4Addr::new(192, 168, 1, 13))
    ), "{:?}", plan.actions);
}

fn plan_with(
    services: &[ServiceView],
    nodes: &[NodeView],
    current: &BTreeMap<MappingKey, Want>,
) -> Plan {
    plan(Inputs {
        services,
        nodes,
        own_node: Some("pi1"),
        current,
    })
}

#[test]
fn no_ready_node_is_told_and_nothing_is_mapped() {
    let plan = plan_with(&[web()], &[], &BTreeMap::new());
    assert!(plan.actions.is_empty());
    assert_eq!(plan.problems[&web().key].len(), 3);
    assert!(
        plan.problems[&web().key][0]
            .to_string()
            .contains("no node is Ready")
    );
}
