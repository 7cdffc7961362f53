//! Is it really reachable? A check from outside, through a prober the user
//! runs elsewhere (`pfwd probe-server`), with a one-time token that proves
//! the path reaches this host.
//!
//! - [`messages`]: what pfwd and the prober say to each other.
//! - `prober` (feature `prober`): the probe server, `pfwd probe-server`.

pub mod messages;
#[cfg(feature = "prober")]
pub mod prober;
