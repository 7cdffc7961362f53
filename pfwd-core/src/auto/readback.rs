//! Whether the router still holds a mapping, asked as honestly as each
//! method allows, and the pacing of every request to one gateway.
//!
//! - UPnP reads its entry back (`GetSpecificPortMappingEntry`).
//! - PCP and NAT-PMP cannot read a mapping back; their epoch tells only a
//!   restart. Where the router also speaks UPnP and its table is seen to
//!   list PCP and NAT-PMP mappings (miniupnpd's does), that table tells a
//!   deletion behind pfwd's back. Otherwise the answer is
//!   [`Presence::Unknown`], and the keeper refreshes the mapping instead.

use std::sync::atomic::Ordering;

use tokio::sync::SemaphorePermit;

use super::Client;
use crate::error::Result;
use crate::forwarder::Presence;
use crate::mapping::{Mapping, Method};

impl Client {
    /// A turn to talk to the gateway: at most
    /// [`GATEWAY_IN_FLIGHT`](crate::defaults::GATEWAY_IN_FLIGHT) requests
    /// are in flight at once, however many keepers share this client, so a
    /// busy router is paced rather than flooded.
    pub(super) async fn turn(&self) -> Option<SemaphorePermit<'_>> {
        // The semaphore is never closed: `None` cannot happen in practice,
        // and would only mean "unpaced".
        self.pace.acquire().await.ok()
    }

    /// See [`Forwarder::presence`](crate::Forwarder::presence) on [`Client`].
    pub(super) async fn read_back(&self, mapping: &Mapping) -> Result<Presence> {
        let own = {
            let _turn = self.turn().await;
            self.backend_of(mapping.method())
                .await?
                .forwarder()
                .presence(mapping)
                .await?
        };
        if own != Presence::Unknown
            || !matches!(mapping.method(), Method::Pcp | Method::NatPmp)
            || !self.options.methods().contains(&Method::Upnp)
        {
            return Ok(own);
        }
        // UPnP only if it answers (probed now if discovery did not wait
        // for it; a failure stands for `retry_failed_after`).
        let Ok(upnp) = self.backend(Method::Upnp).await else {
            return Ok(Presence::Unknown);
        };
        let _turn = self.turn().await;
        match upnp.forwarder().presence(mapping).await {
            Ok(Presence::Held) => {
                self.upnp_lists_pmp.store(true, Ordering::Relaxed);
                Ok(Presence::Held)
            }
            // Trusted once the table was seen listing such mappings: a
            // router whose UPnP table leaves them out would otherwise
            // look as if it lost every one.
            Ok(Presence::Lost) if self.upnp_lists_pmp.load(Ordering::Relaxed) => Ok(Presence::Lost),
            Ok(_) => Ok(Presence::Unknown),
            Err(e) => {
                log::debug!("reading {mapping} back over UPnP: {e}");
                Ok(Presence::Unknown)
            }
        }
    }
}
