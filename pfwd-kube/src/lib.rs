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
