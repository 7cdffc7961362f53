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
//!
//! Building a guide is a pure function of what pfwd learned
//! ([`GuideContext`]): it runs offline, and a program can build one for any
//! router it knows about.
//!
//! # Examples
//!
//! The guide for a TP-Link router whose UPnP is switched off, for the Pi's
//! web server:
//!
//! ```
//! use std::net::Ipv4Addr;
//! use pfwd_core::guide::{GuideContext, Instructions, MethodFailure, RouterInfo};
//! use pfwd_core::{Error, GatewayInfo, Method, Protocol};
//!
//! let upnp_off = Error::NoGateway {
//!     method: Some(Method::Upnp),
//!     detail: "no answer to the SSDP search".into(),
//!     refused: false,
//! };
//! let context = GuideContext {
//!     gateway: Some(GatewayInfo {
//!         interface: Some("wlan0".into()),
//!         gateway: Ipv4Addr::new(192, 168, 0, 1),
//!         local: Ipv4Addr::new(192, 168, 0, 23),
//!         lan: None,
//!     }),
//!     router: Some(RouterInfo {
//!         manufacturer: Some("TP-Link".into()),
//!         model_name: Some("Archer C7".into()),
//!         ..RouterInfo::default()
//!     }),
//!     external_address: Some(Ipv4Addr::new(203, 0, 113, 7)),
//!     failures: vec![MethodFailure::from(&upnp_off)],
//!     ..GuideContext::default()
//! };
//! let pi = Ipv4Addr::new(192, 168, 0, 4);
//! let guide = Instructions::build(&context, &[Protocol::Tcp], 80, Some(pi.into()), 80);
//!
//! assert_eq!(guide.rule_lines(), ["TCP port 80 -> 192.168.0.4:80"]);
//! assert_eq!(guide.router.vendor, "TP-Link");
//! assert_eq!(guide.router.admin_urls[0], "http://192.168.0.1/");
//! assert_eq!(guide.service.map(|s| s.name), Some("http"));
//! assert!(guide.forwarding_can_work());
//! assert!(guide.reasons[0].reason.starts_with("UPnP-IGD: the router did not answer"));
//!
//! let text = guide.to_text();
//! assert!(text.starts_with("Forward a port by hand for Web server (HTTP) (http)\n"));
//! assert!(text.contains("Router: TP-Link Archer C7, at 192.168.0.1"));
//! assert!(text.contains("connect to 203.0.113.7 port 80 (open http://203.0.113.7/)"));
//! ```

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
///
/// A UPnP router gives it (see [`parse_description`]); a program that
/// knows the router another way can fill it in, to get that maker's menus
/// in the guide.
///
/// # Examples
///
/// ```
/// use pfwd_core::RouterInfo;
/// use pfwd_core::guide::vendors;
///
/// let router = RouterInfo {
///     manufacturer: Some("ASUSTeK Computer Inc.".into()),
///     model_name: Some("RT-AX88U".into()),
///     friendly_name: Some("Home".into()),
///     ..RouterInfo::default()
/// };
/// assert_eq!(router.display_name().as_deref(), Some("ASUSTeK Computer Inc. RT-AX88U"));
/// assert_eq!(vendors::recognise_router(&router).name, "ASUS");
///
/// // With no maker or model, the friendly name is all there is.
/// let anonymous = RouterInfo { friendly_name: Some("Home".into()), ..RouterInfo::default() };
/// assert_eq!(anonymous.display_name().as_deref(), Some("Home"));
/// ```
#[cfg_attr(
    feature = "runtime",
    doc = " \n [`parse_description`]: crate::backend::upnp::parse_description"
)]
#[cfg_attr(
    not(feature = "runtime"),
    doc = " \n [`parse_description`]: crate#features"
)]
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
///
/// # Examples
///
/// ```
/// use pfwd_core::guide::MethodFailure;
/// use pfwd_core::wire::natpmp::ResultCode;
/// use pfwd_core::{Error, ErrorKind, GatewayCode, Method};
///
/// let refused = Error::Refused {
///     method: Method::NatPmp,
///     what: "TCP port 80 -> 192.168.1.4:80".into(),
///     code: GatewayCode::NatPmp(ResultCode::NotAuthorized),
/// };
/// let failure = MethodFailure::from_error(&refused);
/// assert_eq!(failure.method, Some(Method::NatPmp));
/// assert_eq!(failure.kind, ErrorKind::Refused);
/// assert_eq!(failure.code.as_deref(), Some("NAT-PMP result 2 NOT_AUTHORIZED"));
/// assert!(failure.reason.starts_with("NAT-PMP: the router refused"));
/// ```
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
///
/// Build one with [`Instructions::build`]; show it with
/// [`to_text`](Self::to_text) or [`to_markdown`](Self::to_markdown), or hand
/// it to a program with [`to_json`](Self::to_json). The automatic client
/// answers with one ([`Error::Manual`](crate::Error::Manual)) when no method
/// can make the mapping.
///
/// # Examples
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::guide::{GuideContext, Instructions};
/// use pfwd_core::{GatewayInfo, Protocol, RouterInfo};
///
/// let openwrt = GuideContext {
///     gateway: Some(GatewayInfo {
///         interface: Some("eth0".into()),
///         gateway: Ipv4Addr::new(192, 168, 1, 1),
///         local: Ipv4Addr::new(192, 168, 1, 4),
///         lan: None,
///     }),
///     router: Some(RouterInfo { manufacturer: Some("OpenWrt".into()), ..RouterInfo::default() }),
///     ..GuideContext::default()
/// };
/// let guide = Instructions::build(&openwrt, &[Protocol::Udp], 51820, None, 51820);
/// assert_eq!(guide.menu, ["Network", "Firewall", "Port Forwards"]);
/// // OpenWrt is configured from a shell too: the commands, values filled in.
/// assert!(guide.commands.iter().any(|c| c.contains("dest_ip='192.168.1.4'")));
/// assert!(guide.verify.iter().any(|v| v.contains("Open-port checkers test only TCP")));
/// ```
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
///
/// Every field is optional: the default context gives the generic guide,
/// with "the router's settings" for an address nobody knows. See the
/// [module's example](self) for a full one.
///
/// # Examples
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::guide::{GuideContext, Instructions};
/// use pfwd_core::{Protocol, WarningKind};
///
/// let nothing_known = GuideContext::default();
/// let server = Some(Ipv4Addr::new(192, 168, 1, 4).into());
/// let guide = Instructions::build(&nothing_known, &[Protocol::Udp], 51820, server, 51820);
/// assert_eq!(guide.router.vendor, "your router");
/// assert_eq!(guide.router.address, None);
/// assert_eq!(guide.warnings[0].kind, WarningKind::UnknownExternalAddress);
/// ```
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
///
/// # Examples
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::WarningKind;
/// use pfwd_core::guide::external_address_warning;
///
/// // The provider's NAT in front: forwarding on the router cannot help.
/// let cgnat = external_address_warning(Ipv4Addr::new(100, 72, 1, 9)).expect("a warning");
/// assert_eq!(cgnat.kind, WarningKind::CarrierGradeNat);
/// // Another router (often the provider's modem) in front.
/// let double = external_address_warning(Ipv4Addr::new(192, 168, 178, 20)).expect("a warning");
/// assert_eq!(double.kind, WarningKind::DoubleNat);
/// // A public address: nothing to warn about.
/// assert_eq!(external_address_warning(Ipv4Addr::new(203, 0, 113, 7)), None);
/// ```
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
    ///
    /// # Examples
    ///
    /// A game on TCP and UDP, outside port 27015 to port 27016 on this
    /// host, whose address the context knows:
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::guide::{GuideContext, Instructions};
    /// use pfwd_core::{GatewayInfo, Protocol};
    ///
    /// let context = GuideContext {
    ///     gateway: Some(GatewayInfo {
    ///         interface: None,
    ///         gateway: Ipv4Addr::new(10, 0, 0, 1),
    ///         local: Ipv4Addr::new(10, 0, 0, 7),
    ///         lan: None,
    ///     }),
    ///     ..GuideContext::default()
    /// };
    /// let both = [Protocol::Tcp, Protocol::Udp];
    /// let guide = Instructions::build(&context, &both, 27015, None, 27016);
    /// assert_eq!(
    ///     guide.rule_lines(),
    ///     ["TCP port 27015 -> 10.0.0.7:27016", "UDP port 27015 -> 10.0.0.7:27016"]
    /// );
    /// assert!(guide.steps.iter().any(|s| s == "Protocol: TCP and UDP (\"Both\")."));
    /// ```
    ///
    /// Over IPv6 there is nothing to translate: the guide opens the server's
    /// own port in the router's IPv6 firewall.
    ///
    /// ```
    /// use std::net::IpAddr;
    /// use pfwd_core::guide::{GuideContext, Instructions};
    /// use pfwd_core::{Family, Protocol, WarningKind};
    ///
    /// let server: IpAddr = "2001:db8::4".parse().unwrap();
    /// let guide = Instructions::build(&GuideContext::default(), &[Protocol::Tcp], 80, Some(server), 80);
    /// assert_eq!(guide.family, Family::Ipv6);
    /// assert_eq!(guide.rule_lines(), ["TCP port 80 -> [2001:db8::4]:80"]);
    /// assert_eq!(guide.warnings[0].kind, WarningKind::Ipv6PortSpace);
    /// assert!(guide.to_text().starts_with("Open a port in the router's IPv6 firewall by hand"));
    /// ```
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
        warnings.extend(risk_warning(service, "Forward"));

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
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::guide::{GuideContext, Instructions};
    /// use pfwd_core::Protocol;
    ///
    /// let behind_cgnat = GuideContext {
    ///     external_address: Some(Ipv4Addr::new(100, 64, 12, 34)),
    ///     ..GuideContext::default()
    /// };
    /// let server = Some(Ipv4Addr::new(192, 168, 1, 4).into());
    /// let guide = Instructions::build(&behind_cgnat, &[Protocol::Tcp], 443, server, 443);
    /// assert!(!guide.forwarding_can_work());
    /// assert!(guide.to_text().contains("carrier-grade NAT"));
    /// ```
    pub fn forwarding_can_work(&self) -> bool {
        !self.warnings.iter().any(|w| {
            matches!(
                w.kind,
                WarningKind::CarrierGradeNat | WarningKind::DoubleNat
            )
        })
    }
}

/// The warning for a service that is risky to expose, when `service` is
/// one; `action` is what the rule does ("Forward", or "Open" for an IPv6
/// pinhole).
fn risk_warning(service: Option<Service>, action: &str) -> Option<Warning> {
    let service = service?;
    Some(Warning {
        kind: WarningKind::RiskyService,
        text: format!(
            "{}: {}. {action} only what you need, and remove the rule when you no longer do.",
            service.title, service.risk?
        ),
    })
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
