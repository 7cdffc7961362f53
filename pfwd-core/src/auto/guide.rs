//! What the automatic client tells a person: the manual guide, with what
//! the methods found out, and what the router says about itself.

use std::net::IpAddr;

use super::probe::Backend;
use super::{Client, PREFERENCE};
use crate::backend::manual::Manual;
use crate::guide::{GuideContext, Instructions, MethodFailure, RouterInfo};
use crate::mapping::{Family, MappingRequest, Method, Protocol};
use crate::sync::lock;

impl Client {
    /// The manual guide for `request`, whatever the methods can do: for
    /// people who prefer to forward by hand, and for `pfwd guide`.
    pub async fn instructions(&self, request: &MappingRequest) -> Instructions {
        self.guide(request, self.discovery().failures()).await
    }

    /// The guide for forwarding a service on several protocols at once.
    pub async fn instructions_for(
        &self,
        protocols: &[Protocol],
        external_port: u16,
        internal_ip: Option<IpAddr>,
        internal_port: u16,
    ) -> Instructions {
        let family = internal_ip.map_or(Family::Ipv4, Family::of);
        self.instructions_in(family, protocols, external_port, internal_ip, internal_port)
            .await
    }

    /// [`instructions_for`](Self::instructions_for) in `family`: for
    /// [`Family::Ipv6`], the guide to the router's IPv6 firewall for this
    /// host's global address when `internal_ip` is `None`.
    pub async fn instructions_in(
        &self,
        family: Family,
        protocols: &[Protocol],
        external_port: u16,
        internal_ip: Option<IpAddr>,
        internal_port: u16,
    ) -> Instructions {
        let context = self.context(family, self.discovery().failures()).await;
        Instructions::build(
            &context,
            protocols,
            external_port,
            internal_ip,
            internal_port,
        )
    }

    pub(super) async fn guide(
        &self,
        request: &MappingRequest,
        failures: Vec<MethodFailure>,
    ) -> Instructions {
        let context = self.context(request.family(), failures).await;
        Manual::new(context).instructions(request)
    }

    /// What the guide in `family` knows, with one reason per method.
    async fn context(&self, family: Family, mut failures: Vec<MethodFailure>) -> GuideContext {
        // Keep one reason per method: the latest.
        let mut seen = Vec::new();
        failures.reverse();
        failures.retain(|f| {
            let fresh = !seen.contains(&f.method);
            seen.push(f.method);
            fresh
        });
        failures.reverse();
        failures.sort_by_key(|f| PREFERENCE.iter().position(|m| Some(*m) == f.method));
        GuideContext {
            gateway: self.gateway.clone(),
            router: self.router_info().await,
            external_address: lock(&self.discovery).external_address,
            failures,
            family,
            ipv6: match family {
                Family::Ipv4 => None,
                Family::Ipv6 => self.ipv6_gateway().ok(),
            },
        }
    }

    /// What the router says about itself, when it answers UPnP (even when it
    /// refuses mappings).
    pub async fn router_info(&self) -> Option<RouterInfo> {
        if !self.options.methods().contains(&Method::Upnp) && self.upnp.ok.get().is_none() {
            return None;
        }
        match self.backend(Method::Upnp).await.as_deref() {
            Ok(Backend::Upnp(u)) => u.router_info().await.ok(),
            _ => None,
        }
    }
}
