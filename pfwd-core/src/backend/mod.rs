//! One [`Forwarder`](crate::Forwarder) per method, on tokio.

pub mod upnp;
