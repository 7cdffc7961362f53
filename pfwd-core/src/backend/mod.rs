//! One [`Forwarder`](crate::Forwarder) per method, on tokio.

pub(crate) mod engine;
pub mod manual;
pub mod natpmp;
pub mod pcp;
pub mod upnp;

pub use engine::PmpOptions;
