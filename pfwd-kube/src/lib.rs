//! A Kubernetes controller that keeps Services reachable from the internet
//! through the home router: it watches Services annotated
//! `pfwd.io/forward: "true"` and keeps each asked port mapped on the router
//! by PCP, NAT-PMP or UPnP-IGD (pfwd-core's automatic client and lease
//! keeper), reports on the Service (Events, the `pfwd.io/external`
//! annotation), and writes the manual guide into an Event where the router
//! cannot be asked.
//!
//! - [`annotations`]: what a Service asks for, and what is wrong with it.
//! - [`view`]: the parts of Services and Nodes the reconciler reads.
//! - [`plan`]: the reconciler, a pure function: Services, Nodes and what
//!   is mapped now in, actions and problems out.
//!
//! See docs/kubernetes.md for deployment, the annotations and the Events.

pub mod annotations;
pub mod controller;
#[cfg(any(test, feature = "testing"))]
pub mod fake_api;
pub mod keeping;
pub mod plan;
pub mod report;
pub mod state;
pub mod view;

#[cfg(test)]
mod tls_tests {
    /// The client for a real API server builds its TLS (rustls on ring,
    /// the only provider compiled in) without a network: a missing or
    /// ambiguous crypto provider would fail here, not in a cluster.
    #[tokio::test]
    async fn a_client_for_an_https_api_server_builds() {
        let url = "https://10.43.0.1:443"
            .parse()
            .unwrap_or_else(|e| panic!("{e}"));
        let config = kube::Config::new(url);
        let client = kube::Client::try_from(config);
        assert!(client.is_ok(), "{:?}", client.err());
    }
}
