//! What the reconciler needs to know of Services and Nodes, read from the
//! Kubernetes objects: plain values, so that the reconciler stays a pure
//! function and its tests need no API types.

use std::collections::BTreeMap;
use std::fmt;
use std::net::Ipv4Addr;

use k8s_openapi::api::core::v1::{Node, Service};

/// A Service by namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    /// Its namespace.
    pub namespace: String,
    /// Its name.
    pub name: String,
}

impl ServiceKey {
    /// The key of `namespace/name`.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> ServiceKey {
        ServiceKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A Service's type, as far as forwarding cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceType {
    /// `NodePort`: reachable on every node at the NodePort.
    NodePort,
    /// `LoadBalancer`: an address of its own (ServiceLB, MetalLB), and
    /// NodePorts unless switched off.
    LoadBalancer,
    /// `ClusterIP` or `ExternalName`: not reachable from the LAN.
    Other,
}

/// A Service's transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
    /// SCTP: home routers do not forward it.
    Sctp,
}

/// One port of a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortView {
    /// Its name, if it has one.
    pub name: Option<String>,
    /// The Service's `port`.
    pub port: u16,
    /// The NodePort, if allocated.
    pub node_port: Option<u16>,
    /// Its transport.
    pub transport: Transport,
}

/// What the reconciler reads of a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceView {
    /// Namespace and name.
    pub key: ServiceKey,
    /// Its UID (a Service deleted and made again is another one).
    pub uid: String,
    /// When it was made (RFC 3339): the older of two Services asking for
    /// one outside port gets it.
    pub created: String,
    /// Its type.
    pub kind: ServiceType,
    /// Its annotations.
    pub annotations: BTreeMap<String, String>,
    /// Its ports.
    pub ports: Vec<PortView>,
    /// Its LoadBalancer addresses (IPv4), in the order of the status.
    pub load_balancer: Vec<Ipv4Addr>,
}

/// What the reconciler reads of a Node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    /// Its name.
    pub name: String,
    /// Its `InternalIP` (IPv4), if it has one.
    pub address: Option<Ipv4Addr>,
    /// Whether its `Ready` condition is `True`.
    pub ready: bool,
}

impl ServiceView {
    /// Read a Service object; `None` when it has no name or is being
    /// deleted (a deleted Service asks for nothing).
    pub fn of(service: &Service) -> Option<ServiceView> {
        let meta = &service.metadata;
        if meta.deletion_timestamp.is_some() {
            return None;
        }
        let spec = service.spec.as_ref();
        let kind = match spec.and_then(|s| s.type_.as_deref()) {
            Some("NodePort") => ServiceType::NodePort,
            Some("LoadBalancer") => ServiceType::LoadBalancer,
            _ => ServiceType::Other,
        };
        let ports = spec
            .and_then(|s| s.ports.as_ref())
            .map(|ports| {
                ports
                    .iter()
                    .filter_map(|p| {
                        Some(PortView {
                            name: p.name.clone().filter(|n| !n.is_empty()),
                            port: u16::try_from(p.port).ok().filter(|p| *p > 0)?,
                            node_port: p
                                .node_port
                                .and_then(|n| u16::try_from(n).ok())
                                .filter(|n| *n > 0),
                            transport: match p.protocol.as_deref() {
                                Some("UDP") => Transport::Udp,
                                Some("SCTP") => Transport::Sctp,
                                _ => Transport::Tcp,
                            },
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let load_balancer = service
            .status
            .as_ref()
            .and_then(|s| s.load_balancer.as_ref())
            .and_then(|lb| lb.ingress.as_ref())
            .map(|ingress| {
                ingress
                    .iter()
                    .filter_map(|i| i.ip.as_deref()?.parse::<Ipv4Addr>().ok())
                    .collect()
            })
            .unwrap_or_default();
        Some(ServiceView {
            key: ServiceKey::new(
                meta.namespace.clone().unwrap_or_else(|| "default".into()),
                meta.name.clone()?,
            ),
            uid: meta.uid.clone().unwrap_or_default(),
            created: meta
                .creation_timestamp
                .as_ref()
                .map(|t| t.0.to_string())
                .unwrap_or_default(),
            kind,
            annotations: meta.annotations.clone().unwrap_or_default(),
            ports,
            load_balancer,
        })
    }
}

impl NodeView {
    /// Read a Node object; `None` when it has no name.
    pub fn of(node: &Node) -> Option<NodeView> {
        let status = node.status.as_ref();
        let address = status
            .and_then(|s| s.addresses.as_ref())
            .and_then(|addresses| {
                addresses
                    .iter()
                    .filter(|a| a.type_ == "InternalIP")
                    .find_map(|a| a.address.parse::<Ipv4Addr>().ok())
            });
        let ready = status
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
        Some(NodeView {
            name: node.metadata.name.clone()?,
            address,
            ready,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_service_object_is_read() {
        let service: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop", "uid": "u1",
                         "creationTimestamp": "2026-11-01T10:00:00Z",
                         "annotations": {"pfwd.io/forward": "true"}},
            "spec": {"type": "LoadBalancer", "ports": [
                {"name": "http", "port": 80, "nodePort": 30080, "protocol": "TCP"},
                {"port": 53, "nodePort": 30053, "protocol": "UDP"}]},
            "status": {"loadBalancer": {"ingress": [{"ip": "192.168.1.240"}, {"hostname": "x"}]}}
        }))
        .unwrap();
        let v = ServiceView::of(&service).unwrap();
        assert_eq!(v.key.to_string(), "shop/web");
        assert_eq!(v.kind, ServiceType::LoadBalancer);
        assert_eq!(v.ports.len(), 2);
        assert_eq!(v.ports[0].name.as_deref(), Some("http"));
        assert_eq!(v.ports[1].transport, Transport::Udp);
        assert_eq!(v.ports[1].node_port, Some(30053));
        assert_eq!(v.load_balancer, vec![Ipv4Addr::new(192, 168, 1, 240)]);
        assert!(v.created.starts_with("2026-11-01T10:00:00"));
    }

    #[test]
    fn a_service_being_deleted_asks_for_nothing() {
        let service: Service = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "web", "namespace": "shop",
                         "deletionTimestamp": "2026-11-01T10:00:00Z"},
            "spec": {"type": "NodePort"}
        }))
        .unwrap();
        assert!(ServiceView::of(&service).is_none());
    }

    #[test]
    fn a_node_object_is_read() {
        let node: Node = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "pi1"},
            "status": {"addresses": [{"type": "Hostname", "address": "pi1"},
                                      {"type": "InternalIP", "address": "fd00::1"},
                                      {"type": "InternalIP", "address": "192.168.1.4"}],
                       "conditions": [{"type": "Ready", "status": "True"}]}
        }))
        .unwrap();
        let v = NodeView::of(&node).unwrap();
        assert_eq!(v.address, Some(Ipv4Addr::new(192, 168, 1, 4)));
        assert!(v.ready);
    }
}
