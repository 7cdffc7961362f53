//! The guide for IPv6: there is nothing to translate, so the person opens
//! the router's IPv6 firewall for the server's own address ("allow incoming
//! TCP 80 to 2001:db8::4"), on the makers' IPv6 firewall pages.

use std::net::IpAddr;

use super::{GuideContext, Instructions, Rule, Vendor, vendors};
use crate::model::{Family, Protocol, Warning, WarningKind};

/// Where a maker keeps its IPv6 firewall, and what to do there. Makers not
/// listed get [`GENERIC`]. Placeholders as in [`Vendor::steps`].
struct Ipv6Page {
    vendor: &'static str,
    menu: &'static [&'static str],
    steps: &'static [&'static str],
    commands: &'static [&'static str],
}

const GENERIC: Ipv6Page = Ipv6Page {
    vendor: "",
    menu: &[
        "look for \"IPv6 Firewall\", \"IPv6 Pinholes\", \"IPv6 Port Opening\" or \"Traffic Rules\", often under \"Security\", \"Firewall\" or \"Advanced > IPv6\" (not the IPv4 \"Port Forwarding\" page)",
    ],
    steps: &[
        "Add a rule that allows incoming {protocol} from any address to {ip}, port {internal} (some routers call it \"allow\", \"open\" or \"pinhole\"; the IPv6 address may have to be typed in full).",
        "Save and apply.",
    ],
    commands: &[],
};

const PAGES: &[Ipv6Page] = &[
    Ipv6Page {
        vendor: "AVM FRITZ!Box",
        menu: &["Internet", "Permit Access", "Port Sharing"],
        steps: &[
            "Click \"Add Device for Sharing\" and choose the device with the IPv6 address {ip} (or edit it if it is listed).",
            "Click \"New Sharing\", choose \"Port sharing\": Name {name}; Protocol {protocol}; port {internal}; and tick \"IPv6\" (\"Sharing enabled for IPv6\").",
            "Click \"OK\", then \"Apply\".",
        ],
        commands: &[],
    },
    Ipv6Page {
        vendor: "OpenWrt",
        menu: &["Network", "Firewall", "Traffic Rules"],
        steps: &[
            "Click \"Add\": Name {name}; Restrict to address family IPv6 only; Protocol {protocol}; Source zone wan; Destination zone lan; Destination address {ip}; Destination port {internal}; Action accept.",
            "Click \"Save\", then \"Save & Apply\".",
        ],
        commands: &[
            "uci add firewall rule",
            "uci set firewall.@rule[-1].name='{name}'",
            "uci set firewall.@rule[-1].family='ipv6'",
            "uci set firewall.@rule[-1].src='wan'",
            "uci set firewall.@rule[-1].dest='lan'",
            "uci set firewall.@rule[-1].proto='{uci_protocol}'",
            "uci set firewall.@rule[-1].dest_ip='{ip}'",
            "uci set firewall.@rule[-1].dest_port='{internal}'",
            "uci set firewall.@rule[-1].target='ACCEPT'",
            "uci commit firewall && /etc/init.d/firewall reload",
        ],
    },
    Ipv6Page {
        vendor: "MikroTik",
        menu: &["WinBox or WebFig", "IPv6", "Firewall", "Filter Rules"],
        steps: &[
            "Add a rule (\"+\"): Chain forward; Protocol {protocol}; Dst. Address {ip}; Dst. Port {internal}; In. Interface List WAN; Action accept; Comment {name}.",
            "Drag it above the rule that drops what does not come from the LAN (the default configuration ends with one), or it never matches. Or run the command below.",
        ],
        commands: &[
            "/ipv6 firewall filter add chain=forward action=accept protocol={lower_protocol} dst-address={ip}/128 dst-port={internal} in-interface-list=WAN comment=\"{name}\" place-before=[find where action=drop chain=forward]",
        ],
    },
];

/// The IPv6 guide: open `internal_port` on `server` in the router's IPv6
/// firewall, for `protocols`.
pub(super) fn build(
    context: &GuideContext,
    protocols: &[Protocol],
    server: IpAddr,
    internal_port: u16,
) -> Instructions {
    let vendor: &Vendor = context
        .router
        .as_ref()
        .map_or(&vendors::GENERIC, vendors::recognise_router);
    let page = PAGES
        .iter()
        .find(|p| p.vendor == vendor.name)
        .unwrap_or(&GENERIC);
    let rules: Vec<Rule> = protocols
        .iter()
        .map(|&protocol| Rule {
            protocol,
            external_port: internal_port,
            internal_ip: server,
            internal_port,
        })
        .collect();
    let service = crate::services::by_port(internal_port).copied();
    let name = service.map_or_else(|| format!("pfwd {internal_port}"), |s| s.title.to_string());
    let fill = |t: &str| super::fill(t, &name, protocols, internal_port, server, internal_port);
    let admin_urls = super::admin_urls(
        context.router.as_ref(),
        context.gateway.as_ref().map(|g| g.gateway.into()),
        vendor,
    );
    let menu: Vec<String> = page.menu.iter().map(|m| m.to_string()).collect();
    let protocol_text = super::protocol_words(protocols);
    let mut steps = vec![
        super::open_settings_step(&admin_urls),
        format!("Go to the IPv6 firewall page: {}.", menu.join(" > ")),
    ];
    steps.extend(page.steps.iter().map(|s| fill(s)));
    if protocols.len() > 1 {
        steps.push(format!(
            "If the router has no \"{protocol_text}\" choice, add the rule twice, once for TCP and once for UDP."
        ));
    }
    steps.push(format!(
        "Make sure {server} keeps its address: it must be the machine's stable address, not a temporary \
         (privacy) one, which changes daily (`ip -6 addr` marks those \"temporary\"). If the provider changes \
         your IPv6 prefix, the rule must change with it."
    ));
    let mut warnings = vec![Warning {
        kind: WarningKind::Ipv6PortSpace,
        text: format!(
            "Over IPv6 every device has its own public address, so every address is its own port space: this \
             rule opens port {internal_port} on {server} only, and another device can open the same port on \
             its own address. There is no forwarding and no other external port: people connect to \
             [{server}]:{internal_port}."
        ),
    }];
    warnings.extend(super::risk_warning(service, "Open"));
    let mut verify = vec![format!(
        "From another network that has IPv6 (many mobile networks do; not your Wi-Fi), connect to \
         [{server}]:{internal_port}{}.",
        if protocols.contains(&Protocol::Tcp) && internal_port == 80 {
            format!(" (open http://[{server}]/)")
        } else {
            String::new()
        }
    )];
    verify.push(
        "Many open-port checkers test only IPv4: use one that says it tests IPv6, or the application \
         itself from outside."
            .into(),
    );
    Instructions {
        family: Family::Ipv6,
        rules,
        service,
        router: super::RouterAccess {
            address: context
                .ipv6
                .as_ref()
                .map(|g| g.router.into())
                .or(context.gateway.as_ref().map(|g| g.gateway.into())),
            admin_urls,
            router: context.router.clone(),
            vendor: vendor.name,
        },
        menu,
        steps,
        commands: page.commands.iter().map(|c| fill(c)).collect(),
        reasons: context.failures.clone(),
        warnings,
        verify,
        external_address: None,
    }
}
