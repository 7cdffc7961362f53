//! The manual guide: when the router cannot be asked, what a person does on
//! the router by hand, as structured [`Instructions`] that render as text,
//! Markdown and JSON.
//!
//! The guide knows the three things a person needs (the port and protocol,
//! the server's LAN address, how to reach the router's settings), the
//! service by name, the router's maker and model where its UPnP description
//! tells them (and then that maker's menu names), why automation did not
//! work, whether forwarding can work at all (carrier-grade NAT), the risks,
//! and how to check from outside.

mod ipv6;
mod render;
pub mod vendors;

use std::net::{IpAddr, Ipv4Addr};

use serde::Serialize;

use crate::code::ErrorKind;
use crate::gateway::{GatewayInfo, Ipv6Gateway};
use crate::mapping::{Family, Method, Protocol};
pub use crate::model::{Warning, WarningKind};
use crate::services::{self, Service};
pub use vendors::Vendor;

/// What the router says about itself in its UPnP description.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RouterInfo {
    /// `manufacturer` ("TP-Link").
    pub manufacturer: Option<String>,
    /// `modelName` ("Archer C7").
    pub model_name: Option<String>,
    /// `modelNumber` ("v5").
    pub model_number: Option<String>,
    /// `friendlyName` ("Home router").
    pub friendly_name: Option<String>,
    /// `presentationURL`: the admin page, where the router gives it.
    pub admin_url: Option<String>,
}

impl RouterInfo {
    /// "TP-Link Archer C7 v5", from what is known.
    pub fn display_name(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.manufacturer, &self.model_name, &self.model_number]
            .into_iter()
            .filter_map(|p| p.as_deref())
            .filter(|p| !p.trim().is_empty())
            .collect();
        if parts.is_empty() {
            self.friendly_name.clone()
        } else {
            Some(parts.join(" "))
        }
    }
}

/// Why one method did not make the mapping. Made from an error with
/// `MethodFailure::from(&error)` (or `MethodFailure::from_error`), which
/// the error module provides: the guide's data does not depend on errors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MethodFailure {
    /// The method, or `None` for a failure before any method (no gateway).
    pub method: Option<Method>,
    /// The error's kind.
    #[serde(serialize_with = "render::kind_name")]
    pub kind: ErrorKind,
    /// The gateway's code, where it gave one ("UPnP error 606 ActionNotAuthorized").
    pub code: Option<String>,
    /// The reason in plain words.
    pub reason: String,
}

/// One forwarding rule to enter on the router.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// TCP or UDP.
    pub protocol: Protocol,
    /// The port the internet connects to.
    pub external_port: u16,
    /// The server's LAN address (its own global address for IPv6).
    pub internal_ip: IpAddr,
    /// The port the server listens on.
    pub internal_port: u16,
}

/// How to reach the router's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RouterAccess {
    /// The router's LAN address, when known.
    pub address: Option<IpAddr>,
    /// Admin page addresses to try, best first.
    pub admin_urls: Vec<String>,
    /// Maker and model from its UPnP description, when it gave them.
    pub router: Option<RouterInfo>,
    /// The maker whose menus the steps use ("your router" when unknown).
    pub vendor: &'static str,
}

/// The manual guide: everything a person needs to forward a port by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Instructions {
    /// IPv4: port-forwarding rules; IPv6: rules in the router's IPv6
    /// firewall for the server's own address.
    pub family: Family,
    /// The rules to enter (two for a service on TCP and UDP).
    pub rules: Vec<Rule>,
    /// The service, when the port is a well-known one.
    pub service: Option<Service>,
    /// How to reach the router's settings.
    pub router: RouterAccess,
    /// The menu path to the port-forwarding page.
    pub menu: Vec<String>,
    /// The steps, in order, with this request's values filled in.
    pub steps: Vec<String>,
    /// Shell commands, for routers configured that way (OpenWrt, MikroTik).
    pub commands: Vec<String>,
    /// Why automation did not work, per method.
    pub reasons: Vec<MethodFailure>,
    /// Things to know before forwarding.
    pub warnings: Vec<Warning>,
    /// How to check from outside that it works.
    pub verify: Vec<String>,
    /// The router's external (public) address, when known.
    pub external_address: Option<Ipv4Addr>,
}

/// What the guide is about: the ports, the server, what pfwd learned.
#[derive(Debug, Clone, Default)]
pub struct GuideContext {
    /// The gateway and this host's address, when known.
    pub gateway: Option<GatewayInfo>,
    /// The router's description, when UPnP gave one.
    pub router: Option<RouterInfo>,
    /// The router's external address, when a method told it.
    pub external_address: Option<Ipv4Addr>,
    /// Why each method failed.
    pub failures: Vec<MethodFailure>,
    /// The family of the guide: [`Family::Ipv6`] writes the IPv6 firewall
    /// guide.
    pub family: Family,
    /// The IPv6 router and this host's global address, when known.
    pub ipv6: Option<Ipv6Gateway>,
}

/// Whether an external address can be reached from the internet, and if
/// not, why (the warning to give).
pub fn external_address_warning(ip: Ipv4Addr) -> Option<Warning> {
    let o = ip.octets();
    if o[0] == 100 && (64..128).contains(&o[1]) {
        Some(Warning {
            kind: WarningKind::CarrierGradeNat,
            text: format!(
                "The router's internet address {ip} is a carrier-grade NAT address (100.64.0.0/10): your \
                 provider shares one public address among many customers, so a port forwarded on your router \
                 cannot be reached from the internet. Ask the provider for a public IPv4 address (often free or \
                 a small fee, sometimes called \"dedicated IP\" or \"disable CGNAT\"), use IPv6 if the provider \
                 offers it, or use a tunnel (WireGuard to a rented server, or a service such as Cloudflare \
                 Tunnel or Tailscale Funnel)."
            ),
        })
    } else if ip.is_private() || ip.is_link_local() || ip.is_loopback() || ip.is_unspecified() {
        Some(Warning {
            kind: WarningKind::DoubleNat,
            text: format!(
                "The router's internet address {ip} is a private address: another router (often the \
                 provider's modem) sits in front of it. Forward the port on that router too, from it to \
                 this router's address, or put the modem in bridge mode."
            ),
        })
    } else {
        None
    }
}

impl Instructions {
    /// The guide for forwarding `external_port` to `internal_port` on the
    /// server (`internal_ip`, or this host's address), for `protocols`.
    /// An IPv6 server, or a context of [`Family::Ipv6`], gets the IPv6
    /// firewall guide, where the port is the server's own (`external_port`
    /// is not used: nothing is translated).
    pub fn build(
        context: &GuideContext,
        protocols: &[Protocol],
        external_port: u16,
        internal_ip: Option<IpAddr>,
        internal_port: u16,
    ) -> Instructions {
        if context.family == Family::Ipv6 || matches!(internal_ip, Some(IpAddr::V6(_))) {
            let server = internal_ip
                .or(context.ipv6.as_ref().map(|g| g.local.into()))
                .unwrap_or(IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED));
            return ipv6::build(context, protocols, server, internal_port);
        }
        let server: IpAddr = internal_ip
            .or(context.gateway.as_ref().map(|g| g.local.into()))
            .unwrap_or(Ipv4Addr::UNSPECIFIED.into());
        let rules: Vec<Rule> = protocols
            .iter()
            .map(|&protocol| Rule {
                protocol,
                external_port,
                internal_ip: server,
                internal_port,
            })
            .collect();
        let service = services::by_port(internal_port)
            .or_else(|| services::by_port(external_port))
            .copied();
        let vendor = context
            .router
            .as_ref()
            .map_or(&vendors::GENERIC, vendors::recognise_router);
        let gateway = context.gateway.as_ref().map(|g| IpAddr::V4(g.gateway));
        let admin_urls = admin_urls(context.router.as_ref(), gateway, vendor);

        let name = service.map_or_else(|| format!("pfwd {external_port}"), |s| s.title.to_string());
        let fill = |t: &str| fill(t, &name, protocols, external_port, server, internal_port);
        let protocol_text = protocol_words(protocols);
        let menu: Vec<String> = vendor.menu.iter().map(|m| m.to_string()).collect();

        let mut steps = vec![open_settings_step(&admin_urls)];
        steps.push(format!(
            "Go to the port-forwarding page: {}.",
            menu.join(" > ")
        ));
        steps.extend(vendor.steps.iter().map(|s| fill(s)));
        if protocols.len() > 1 && vendor.name != vendors::GENERIC.name {
            steps.push(format!(
                "If the router has no \"{protocol_text}\" choice, add the rule twice, once for TCP and once for UDP."
            ));
        }
        steps.push(format!(
            "Make sure {server} keeps its address: reserve it for this machine in the router's DHCP settings \
             (\"address reservation\" or \"static lease\"), or the rule will point at the wrong machine one day."
        ));
        let commands = vendor.commands.iter().map(|c| fill(c)).collect();

        let mut warnings = Vec::new();
        match context.external_address {
            Some(ip) => warnings.extend(external_address_warning(ip)),
            None => warnings.push(Warning {
                kind: WarningKind::UnknownExternalAddress,
                text: "pfwd could not learn the router's internet address. Look it up on the router's status \
                       page: if it starts with 10., 172.16-31., 192.168. or 100.64-127., another NAT sits in \
                       front and forwarding on this router alone will not work."
                    .into(),
            }),
        }
        if let Some(risk) = service.and_then(|s| s.risk) {
            warnings.push(Warning {
                kind: WarningKind::RiskyService,
                text: format!(
                    "{}: {risk}. Forward only what you need, and remove the rule when you no longer do.",
                    service.map_or("This service", |s| s.title)
                ),
            });
        }

        let known = context
            .external_address
            .filter(|ip| external_address_warning(*ip).is_none());
        let target = known.map_or_else(
            || "the router's internet address".to_string(),
            |ip| ip.to_string(),
        );
        let mut verify = vec![format!(
            "From another network (a phone on mobile data, not on your Wi-Fi), connect to {target} port \
             {external_port}{}.",
            match known {
                // "open http://the router's internet address/" reads as a
                // broken URL: only a real address makes one.
                Some(ip) if protocols.contains(&Protocol::Tcp) && external_port == 80 => {
                    format!(" (open http://{ip}/)")
                }
                _ => String::new(),
            }
        )];
        if protocols.contains(&Protocol::Tcp) {
            verify.push(format!(
                "Or use an open-port checker such as canyouseeme.org or portchecker.co with port {external_port}; \
                 the server must be running, or the port shows as closed."
            ));
        }
        if protocols.contains(&Protocol::Udp) {
            verify.push(
                "Open-port checkers test only TCP: check UDP with the application itself (a game or VPN \
                 client) from another network."
                    .into(),
            );
        }
        verify.push(
            "Testing from inside your home network is not enough: many routers do not loop traffic to \
             their own internet address back in."
                .into(),
        );

        Instructions {
            family: Family::Ipv4,
            rules,
            service,
            router: RouterAccess {
                address: gateway,
                admin_urls,
                router: context.router.clone(),
                vendor: vendor.name,
            },
            menu,
            steps,
            commands,
            reasons: context.failures.clone(),
            warnings,
            verify,
            external_address: context.external_address,
        }
    }

    /// Whether forwarding on this router can make the server reachable at
    /// all (false behind carrier-grade or double NAT).
    pub fn forwarding_can_work(&self) -> bool {
        !self.warnings.iter().any(|w| {
            matches!(
                w.kind,
                WarningKind::CarrierGradeNat | WarningKind::DoubleNat
            )
        })
    }
}

/// The first step of every guide: log in to the router's settings.
fn open_settings_step(admin_urls: &[String]) -> String {
    format!(
        "On a device at home, open the router's settings at {} and log in (the password is often on a \
         sticker on the router).",
        admin_urls.first().map_or("its address", String::as_str)
    )
}

/// A vendor's step or command with the request's values in place of its
/// placeholders.
fn fill(
    template: &str,
    name: &str,
    protocols: &[Protocol],
    external_port: u16,
    server: IpAddr,
    internal_port: u16,
) -> String {
    template
        .replace("{name}", name)
        .replace("{protocol}", &protocol_words(protocols))
        .replace(
            "{lower_protocol}",
            protocols.first().map_or("tcp", |p| p.as_str()),
        )
        .replace(
            "{uci_protocol}",
            &protocols
                .iter()
                .map(|p| p.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        )
        .replace("{external}", &external_port.to_string())
        .replace("{ip}", &server.to_string())
        .replace("{internal}", &internal_port.to_string())
}

fn protocol_words(protocols: &[Protocol]) -> String {
    match protocols {
        [one] => one.to_string(),
        [Protocol::Tcp, Protocol::Udp] | [Protocol::Udp, Protocol::Tcp] => {
            "TCP and UDP (\"Both\")".into()
        }
        many => many
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" and "),
    }
}

fn admin_urls(
    router: Option<&RouterInfo>,
    gateway: Option<IpAddr>,
    vendor: &Vendor,
) -> Vec<String> {
    let mut urls: Vec<String> = Vec::new();
    if let Some(url) = router
        .and_then(|r| r.admin_url.clone())
        .filter(|u| u.starts_with("http"))
    {
        urls.push(url);
    }
    if let Some(gw) = gateway {
        urls.push(format!("http://{gw}/"));
    }
    urls.extend(vendor.admin_hosts.iter().map(|h| format!("http://{h}/")));
    urls.dedup();
    urls
}

#[cfg(test)]
mod tests;
