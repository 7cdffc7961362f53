//! One [`Forwarder`](crate::Forwarder) per method, on tokio.

mod engine;
pub mod natpmp;
pub mod pcp;
pub mod upnp;

pub use engine::PmpOptions;
