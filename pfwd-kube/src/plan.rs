//! The reconciler: a pure function from Services, Nodes and what is mapped
//! now to what should change ([`Action`]s) and what to tell each Service
//! ([`Problem`]s). No I/O, no clock: the controller feeds it and carries
//! out what it says.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};

use pfwd_core::{Lease, Method, Protocol};

use crate::annotations::{self, AnnotationError, Ask, PortRef, PortSelection, Target};
use crate::view::{NodeView, PortView, ServiceKey, ServiceType, ServiceView, Transport};

/// One forwarded port: a Service's port (by name, or number where it has
/// no name) and its transport.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MappingKey {
    /// The Service.
    pub service: ServiceKey,
    /// Its port, by name where it has one.
    pub port: PortRef,
    /// TCP or UDP.
    pub protocol: Protocol,
}

impl MappingKey {
    fn order(&self) -> (&ServiceKey, &PortRef, u8) {
        (&self.service, &self.port, rank(self.protocol))
    }
}

/// An order for protocols (pfwd-core's `Protocol` has none).
fn rank(protocol: Protocol) -> u8 {
    match protocol {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
    }
}

impl Ord for MappingKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.order().cmp(&other.order())
    }
}

impl PartialOrd for MappingKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for MappingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} port {} ({})", self.service, self.port, self.protocol)
    }
}

/// What one forwarded port should be on the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    /// The outside port.
    pub external_port: u16,
    /// The LAN address and port to forward to.
    pub internal: SocketAddrV4,
    /// The lease to ask for.
    pub lease: Lease,
    /// The methods allowed (empty: all).
    pub methods: Vec<Method>,
    /// The prober to check it from outside, if any.
    pub check_via: Option<String>,
}

/// A change the controller should make on the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Map a port that is not mapped.
    Map(MappingKey, Want),
    /// A mapped port should be another way (another target, outside port,
    /// lease, methods): delete it and map it as asked.
    Remap(MappingKey, Want),
    /// Delete a mapping nothing asks for any more.
    Unmap(MappingKey),
}

/// Something a Service should be told (as a Kubernetes Event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// Its annotations are wrong; what it has mapped stays as it is.
    Annotations(Vec<AnnotationError>),
    /// It is neither NodePort nor LoadBalancer: nothing on the LAN reaches it.
    NotReachable,
    /// An annotation names a port the Service does not have.
    NoSuchPort(PortRef),
    /// An SCTP port: home routers do not forward SCTP.
    Sctp(PortRef),
    /// No LAN address to forward the port to yet, and why.
    NoAddress(PortRef, String),
    /// Another (older) Service asks for the same outside port.
    PortTaken {
        /// The port of this Service.
        port: PortRef,
        /// The outside port.
        external_port: u16,
        /// Its transport.
        protocol: Protocol,
        /// The Service that has it.
        by: ServiceKey,
    },
}

impl Problem {
    /// The Event reason (PascalCase).
    pub fn reason(&self) -> &'static str {
        match self {
            Problem::Annotations(_) => "InvalidAnnotation",
            Problem::NotReachable => "NotForwardable",
            Problem::NoSuchPort(_) => "NoSuchPort",
            Problem::Sctp(_) => "NotForwardable",
            Problem::NoAddress(..) => "NoLanAddress",
            Problem::PortTaken { .. } => "ExternalPortTaken",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Annotations(errors) => {
                let list: Vec<String> = errors.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "{}; fix the annotation (see docs/kubernetes.md). Nothing was changed on the router: what was forwarded stays forwarded",
                    list.join("; ")
                )
            }
            Problem::NotReachable => f.write_str(
                "the Service asks for forwarding but is neither type NodePort nor LoadBalancer, so nothing on the LAN reaches it; make it type NodePort or LoadBalancer",
            ),
            Problem::NoSuchPort(p) => write!(
                f,
                "{} names port {p}, which the Service does not have; name one of its ports (by name or port number)",
                annotations::PORTS
            ),
            Problem::Sctp(p) => {
                write!(f, "port {p} is SCTP, which home routers do not forward; it is left out")
            }
            Problem::NoAddress(p, why) => write!(f, "port {p} has no LAN address yet: {why}"),
            Problem::PortTaken {
                port,
                external_port,
                protocol,
                by,
            } => write!(
                f,
                "port {port} asks for outside port {external_port}/{protocol}, which Service {by} (older) has; give this one another with {}, such as {port}={}",
                annotations::EXTERNAL_PORTS,
                external_port.saturating_add(1)
            ),
        }
    }
}

/// What the reconciler decided.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// The changes, deletions first (they free outside ports others want).
    pub actions: Vec<Action>,
    /// What each Service asking for forwarding should be told; every such
    /// Service has an entry, empty when all is well.
    pub problems: BTreeMap<ServiceKey, Vec<Problem>>,
    /// Every port that should be mapped, and how.
    pub wanted: BTreeMap<MappingKey, Want>,
}

/// The world as the reconciler sees it.
#[derive(Debug, Clone, Copy)]
pub struct Inputs<'a> {
    /// Every Service in the cluster (those without the annotation too).
    pub services: &'a [ServiceView],
    /// Every Node.
    pub nodes: &'a [NodeView],
    /// The node the controller runs on: mappings go to its address where
    /// there is a choice (routers in secure mode map only the asking host).
    pub own_node: Option<&'a str>,
    /// What is mapped now, and how.
    pub current: &'a BTreeMap<MappingKey, Want>,
}

/// Decide what to change so that every port asked for is mapped as asked,
/// and nothing else is.
///
/// - A Service asks with `pfwd.io/forward: "true"`; its ports (all TCP and
///   UDP ones, or those `pfwd.io/ports` names) go to a LoadBalancer address
///   on the LAN, or a ready node's address and the NodePort. The
///   controller's own node is the target wherever it is a choice (a router
///   in secure mode maps, renews and deletes only for the host that asks);
///   elsewhere a port mapped now keeps its target while that is still a
///   choice.
/// - Two Services asking for one outside port: the older one gets it.
/// - A Service whose annotations are wrong keeps what it has mapped and is
///   told what is wrong; one that is gone or asks no more loses its mappings.
pub fn plan(inputs: Inputs<'_>) -> Plan {
    let mut problems: BTreeMap<ServiceKey, Vec<Problem>> = BTreeMap::new();
    let mut protected: BTreeSet<ServiceKey> = BTreeSet::new();
    // Every want, with the Service's age for settling outside-port clashes.
    let mut candidates: Vec<(MappingKey, Want, String)> = Vec::new();

    for service in inputs.services {
        if !annotations::asks(&service.annotations) {
            continue;
        }
        let told = problems.entry(service.key.clone()).or_default();
        let ask = match Ask::parse(&service.annotations) {
            Ok(ask) => ask,
            Err(errors) => {
                told.push(Problem::Annotations(errors));
                protected.insert(service.key.clone());
                continue;
            }
        };
        if service.kind == ServiceType::Other {
            told.push(Problem::NotReachable);
            continue;
        }
        for port in selected_ports(service, &ask, told) {
            let port_ref = ref_of(port);
            let protocol = match port.transport {
                Transport::Tcp => Protocol::Tcp,
                Transport::Udp => Protocol::Udp,
                Transport::Sctp => {
                    told.push(Problem::Sctp(port_ref));
                    continue;
                }
            };
            let key = MappingKey {
                service: service.key.clone(),
                port: port_ref.clone(),
                protocol,
            };
            let choices = match targets(service, port, &ask, inputs.nodes, inputs.own_node) {
                Ok(choices) => choices,
                Err(why) => {
                    told.push(Problem::NoAddress(port_ref, why));
                    continue;
                }
            };
            // This node's own address when it is a choice: a router in
            // secure mode lets only the host that made a mapping renew it.
            // Otherwise the target of what is mapped now, while it is a
            // choice, so that nothing moves for no reason.
            let own = own_address(inputs.nodes, inputs.own_node);
            let internal = if own.is_some_and(|ip| *choices[0].ip() == ip) {
                choices[0]
            } else {
                inputs
                    .current
                    .get(&key)
                    .map(|w| w.internal)
                    .filter(|now| choices.contains(now))
                    .unwrap_or(choices[0])
            };
            let external_port = ask
                .external
                .get(&port_ref)
                .or_else(|| ask.external.get(&PortRef::Number(port.port)))
                .copied()
                .unwrap_or(port.port);
            let want = Want {
                external_port,
                internal,
                lease: ask.lease,
                methods: ask.methods.clone(),
                check_via: ask.check_via.clone(),
            };
            candidates.push((key, want, service.created.clone()));
        }
    }

    // One outside port, one Service: the oldest (then the first by name).
    candidates.sort_by(|a, b| (&a.2, &a.0).cmp(&(&b.2, &b.0)));
    let mut owner: BTreeMap<(u8, u16), ServiceKey> = BTreeMap::new();
    let mut wanted = BTreeMap::new();
    // A Service whose annotations are wrong keeps its mappings: they stay
    // wanted as they are, and nothing else takes their outside ports.
    for (key, now) in inputs.current {
        if protected.contains(&key.service) {
            owner.insert((rank(key.protocol), now.external_port), key.service.clone());
            wanted.insert(key.clone(), now.clone());
        }
    }
    for (key, want, _) in candidates {
        match owner.get(&(rank(key.protocol), want.external_port)) {
            Some(by) => {
                let problem = Problem::PortTaken {
                    port: key.port.clone(),
                    external_port: want.external_port,
                    protocol: key.protocol,
                    by: by.clone(),
                };
                problems
                    .entry(key.service.clone())
                    .or_default()
                    .push(problem);
            }
            None => {
                owner.insert(
                    (rank(key.protocol), want.external_port),
                    key.service.clone(),
                );
                wanted.insert(key, want);
            }
        }
    }

    let mut unmaps = Vec::new();
    let mut remaps = Vec::new();
    let mut maps = Vec::new();
    for (key, now) in inputs.current {
        match wanted.get(key) {
            None => unmaps.push(Action::Unmap(key.clone())),
            Some(want) if want != now => remaps.push(Action::Remap(key.clone(), want.clone())),
            Some(_) => {}
        }
    }
    for (key, want) in &wanted {
        if !inputs.current.contains_key(key) {
            maps.push(Action::Map(key.clone(), want.clone()));
        }
    }
    let mut actions = unmaps;
    actions.extend(remaps);
    actions.extend(maps);
    Plan {
        actions,
        problems,
        wanted,
    }
}

/// The address of the node the controller runs on, if known.
pub fn own_address(nodes: &[NodeView], own_node: Option<&str>) -> Option<Ipv4Addr> {
    let own = own_node?;
    nodes.iter().find(|n| n.name == own)?.address
}

/// A port as annotations and keys name it: its name, else its number.
fn ref_of(port: &PortView) -> PortRef {
    match &port.name {
        Some(name) => PortRef::Name(name.clone()),
        None => PortRef::Number(port.port),
    }
}

/// The ports `ask` selects, in order; names it gives that the Service lacks
/// are told.
fn selected_ports<'s>(
    service: &'s ServiceView,
    ask: &Ask,
    told: &mut Vec<Problem>,
) -> Vec<&'s PortView> {
    match &ask.ports {
        PortSelection::All => service.ports.iter().collect(),
        PortSelection::Only(refs) => {
            let mut out: Vec<&PortView> = Vec::new();
            for r in refs {
                let found = service.ports.iter().filter(|p| match r {
                    PortRef::Name(n) => p.name.as_deref() == Some(n.as_str()),
                    PortRef::Number(n) => p.port == *n,
                });
                let mut any = false;
                for p in found {
                    any = true;
                    if !out.iter().any(|o| std::ptr::eq(*o, p)) {
                        out.push(p);
                    }
                }
                if !any {
                    told.push(Problem::NoSuchPort(r.clone()));
                }
            }
            out
        }
    }
}

/// The LAN addresses `port` can be forwarded to, best first; or why there
/// is none.
fn targets(
    service: &ServiceView,
    port: &PortView,
    ask: &Ask,
    nodes: &[NodeView],
    own_node: Option<&str>,
) -> Result<Vec<SocketAddrV4>, String> {
    let own_address = own_address(nodes, own_node);
    let lan_balancer: Vec<Ipv4Addr> = service
        .load_balancer
        .iter()
        .copied()
        .filter(Ipv4Addr::is_private)
        .collect();
    let use_balancer = match ask.target {
        Target::Node => false,
        Target::LoadBalancer => true,
        Target::Auto => service.kind == ServiceType::LoadBalancer && !lan_balancer.is_empty(),
    };
    if use_balancer {
        if service.kind != ServiceType::LoadBalancer {
            return Err(format!(
                "{} is loadbalancer but the Service is type NodePort; make it type LoadBalancer or write node",
                annotations::TARGET
            ));
        }
        if lan_balancer.is_empty() {
            return Err(
                "the Service has no LoadBalancer address on the LAN (a private IPv4 address) yet; k3s's ServiceLB or MetalLB gives one"
                    .into(),
            );
        }
        // ServiceLB's addresses are the nodes' own: this node's first.
        let mut ips = lan_balancer;
        if let Some(own) = own_address
            && let Some(i) = ips.iter().position(|ip| *ip == own)
        {
            ips.swap(0, i);
            ips[1..].sort();
        }
        return Ok(ips
            .into_iter()
            .map(|ip| SocketAddrV4::new(ip, port.port))
            .collect());
    }
    let Some(node_port) = port.node_port else {
        return Err(
            "it has no NodePort (allocateLoadBalancerNodePorts is false, or it is not allocated yet); write pfwd.io/target: loadbalancer, or allow NodePorts"
                .into(),
        );
    };
    let mut ready: Vec<&NodeView> = nodes
        .iter()
        .filter(|n| n.ready && n.address.is_some())
        .collect();
    ready.sort_by_key(|n| (Some(n.name.as_str()) != own_node, n.name.as_str()));
    let choices: Vec<SocketAddrV4> = ready
        .iter()
        .filter_map(|n| n.address)
        .map(|ip| SocketAddrV4::new(ip, node_port))
        .collect();
    if choices.is_empty() {
        Err("no node is Ready with an InternalIP address".into())
    } else {
        Ok(choices)
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
