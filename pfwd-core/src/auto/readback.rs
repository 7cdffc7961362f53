//! Whether the router still holds a mapping, asked as honestly as each
//! method allows, and the pacing of every request to one gateway.
//!
//! - UPnP reads its entry back (`GetSpecificPortMappingEntry`).
//! - PCP and NAT-PMP cannot read a mapping back; their epoch tells only a
//!   restart. Where the router also speaks UPnP and its table is seen to
//!   list PCP and NAT-PMP mappings (miniupnpd's does), that table tells a
//!   deletion behind pfwd's back. Otherwise the answer is
//!   [`Presence::Unknown`], and the keeper refreshes the mapping instead.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use tokio::sync::SemaphorePermit;

use super::Client;
use super::probe::Backend;
use crate::error::Result;
use crate::forwarder::Presence;
use crate::mapping::{Mapping, Method};
use crate::sync::lock;

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

    /// UPnP's backend to read the router's table with: the one that
    /// answered, else probed now. A failed probe here is not recorded as
    /// UPnP's failure (a read in passing, during a router restart, must not
    /// make `list` or a mapping fail for `retry_failed_after`); it only
    /// stops reads in passing from probing again for that long.
    async fn upnp_for_reading(&self) -> Option<Arc<Backend>> {
        let keep = self.options.retry_failed_after;
        let read_failed_lately = lock(&self.upnp_read_failed).is_some_and(|t| t.elapsed() < keep);
        if self.upnp.ok.get().is_none()
            && (read_failed_lately || self.upnp.recent_failure(keep).is_some())
        {
            return None;
        }
        match self.backend_remembering(Method::Upnp, false).await {
            Ok(b) => Some(b),
            Err(f) => {
                log::debug!("UPnP, to read the router's table: {}", f.reason);
                *lock(&self.upnp_read_failed) = Some(Instant::now());
                None
            }
        }
    }

    /// See [`Forwarder::presence`](crate::Forwarder::presence) on [`Client`].
    pub(super) async fn read_back(&self, mapping: &Mapping) -> Result<Presence> {
        let own = {
            let _turn = self.turn().await;
            self.backend_for(mapping)
                .await?
                .forwarder()
                .presence(mapping)
                .await?
        };
        if own != Presence::Unknown
            || mapping.is_pinhole()
            || !matches!(mapping.method(), Method::Pcp | Method::NatPmp)
            || !self.options.methods().contains(&Method::Upnp)
        {
            return Ok(own);
        }
        let Some(upnp) = self.upnp_for_reading().await else {
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
