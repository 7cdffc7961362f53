//! Where the port-forwarding page is on the routers most homes have, and what
//! its fields are called. Menu names drift between firmware versions; each
//! entry names the current ones and the generic guide covers the rest.

use serde::Serialize;

use super::RouterInfo;

/// One maker's port-forwarding page.
///
/// # Examples
///
/// ```
/// use pfwd_core::guide::vendors::{self, VENDORS};
///
/// let fritz = vendors::recognise("AVM FRITZ!Box 7590");
/// assert_eq!(fritz.name, "AVM FRITZ!Box");
/// assert_eq!(fritz.admin_hosts, ["fritz.box"]);
/// assert_eq!(fritz.menu, ["Internet", "Permit Access", "Port Sharing"]);
/// // Steps hold placeholders that the guide fills in.
/// assert!(fritz.steps.iter().any(|s| s.contains("{ip}")));
/// assert!(VENDORS.iter().any(|v| v.name == "MikroTik" && !v.commands.is_empty()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Vendor {
    /// The maker's name as people know it.
    pub name: &'static str,
    /// Lower-case words that identify the maker in a UPnP description
    /// (manufacturer, model or friendly name), matched as whole words: "deco"
    /// is not found in "Decorative". A phrase's words must follow each other
    /// ("nest wifi"; "tp-link" is "tp" then "link"). An entry ending in '-' is
    /// a model family: that word joined by a dash to the rest of the model
    /// ("rt-" finds "RT-AX88U", not "RTV9015VW" nor "Smart-Box").
    #[serde(skip)]
    pub matches: &'static [&'static str],
    /// Host names that open the admin page on this maker's routers.
    pub admin_hosts: &'static [&'static str],
    /// The menu path to the port-forwarding page.
    pub menu: &'static [&'static str],
    /// What to do there. Placeholders: {name} {protocol} {external} {ip} {internal}.
    pub steps: &'static [&'static str],
    /// Commands for routers configured from a shell, same placeholders.
    pub commands: &'static [&'static str],
}

/// The guide for routers pfwd does not recognise.
///
/// # Examples
///
/// ```
/// use pfwd_core::guide::vendors::{self, GENERIC};
///
/// assert_eq!(vendors::recognise("Acme Router 3000"), &GENERIC);
/// assert_eq!(GENERIC.name, "your router");
/// ```
pub const GENERIC: Vendor = Vendor {
    name: "your router",
    matches: &[],
    admin_hosts: &[],
    menu: &[
        "look for \"Port Forwarding\", \"Virtual Server\", \"NAT\" or \"Applications & Gaming\", often under \"Advanced\"",
    ],
    steps: &[
        "Add a new rule (\"Add\", \"Create\" or \"+\").",
        "Name or service: {name}.",
        "Protocol: {protocol}.",
        "External (public, WAN) port: {external}.",
        "Internal (private, LAN) IP address or device: {ip}.",
        "Internal (private, LAN) port: {internal}.",
        "Enable the rule, then save or apply.",
    ],
    commands: &[],
};

/// The makers pfwd knows, matched in this order.
pub const VENDORS: &[Vendor] = &[
    Vendor {
        name: "AVM FRITZ!Box",
        matches: &["avm", "fritz"],
        admin_hosts: &["fritz.box"],
        menu: &["Internet", "Permit Access", "Port Sharing"],
        steps: &[
            "Click \"Add Device for Sharing\" and choose the device with the IP address {ip}.",
            "Click \"New Sharing\", choose \"Port sharing\" and application \"Other application\".",
            "Name: {name}; Protocol: {protocol}; port to device: {internal} to {internal}; port requested externally: {external}.",
            "Click \"OK\", then \"OK\" again, and \"Apply\".",
        ],
        commands: &[],
    },
    Vendor {
        name: "TP-Link",
        matches: &["tp-link", "tplink", "archer", "deco"],
        admin_hosts: &["tplinkwifi.net"],
        menu: &["Advanced", "NAT Forwarding", "Virtual Servers"],
        steps: &[
            "Click \"Add\".",
            "Service Name: {name}; External Port: {external}; Internal IP: {ip}; Internal Port: {internal}; Protocol: {protocol}.",
            "Tick \"Enable This Entry\" and click \"Save\".",
        ],
        commands: &[],
    },
    Vendor {
        name: "NETGEAR",
        matches: &["netgear", "nighthawk", "orbi"],
        admin_hosts: &["routerlogin.net"],
        menu: &[
            "ADVANCED",
            "Advanced Setup",
            "Port Forwarding / Port Triggering",
        ],
        steps: &[
            "Select \"Port Forwarding\" and click \"Add Custom Service\".",
            "Service Name: {name}; Protocol: {protocol}; External Port Range: {external}; Internal Port Range: {internal}; Internal IP Address: {ip}.",
            "Click \"Apply\".",
        ],
        commands: &[],
    },
    Vendor {
        name: "ASUS",
        matches: &["asus", "asustek", "rt-", "zenwifi"],
        admin_hosts: &["router.asus.com"],
        menu: &[
            "Advanced Settings",
            "WAN",
            "Virtual Server / Port Forwarding",
        ],
        steps: &[
            "Set \"Enable Port Forwarding\" to \"ON\" and click \"Add profile\".",
            "Service Name: {name}; Protocol: {protocol}; External Port: {external}; Internal Port: {internal}; Internal IP Address: {ip}.",
            "Click \"OK\", then \"Apply\".",
        ],
        commands: &[],
    },
    Vendor {
        name: "Linksys",
        matches: &["linksys", "velop"],
        admin_hosts: &["myrouter.local"],
        menu: &["Security", "Apps and Gaming", "Single Port Forwarding"],
        steps: &[
            "Click \"Add a new Single Port Forwarding\".",
            "Application name: {name}; External Port: {external}; Internal Port: {internal}; Protocol: {protocol}; Device IP#: {ip}; tick \"Enabled\".",
            "Click \"Save\", then \"OK\".",
        ],
        commands: &[],
    },
    Vendor {
        name: "D-Link",
        matches: &["d-link", "dlink"],
        admin_hosts: &["dlinkrouter.local"],
        menu: &["Features", "Port Forwarding"],
        steps: &[
            "Click \"Add Rules\" (older models: Advanced > Port Forwarding or Virtual Server).",
            "Name: {name}; Local IP: {ip}; {protocol} port: {external} (and the internal port {internal}, where the model asks for it).",
            "Click \"Apply\", then \"Save\".",
        ],
        commands: &[],
    },
    Vendor {
        name: "Huawei",
        matches: &["huawei", "honor"],
        admin_hosts: &["192.168.3.1", "192.168.8.1"],
        menu: &[
            "More Functions",
            "Security Settings",
            "Port Mapping (or \"Virtual Servers\")",
        ],
        steps: &[
            "Click \"Add\" (\"Add Port Mapping\").",
            "Device or internal IP: {ip}; Protocol: {protocol}; external port: {external}; internal port: {internal}; name: {name}.",
            "Click \"Save\" (\"OK\").",
        ],
        commands: &[],
    },
    Vendor {
        name: "Ubiquiti UniFi",
        matches: &[
            "ubiquiti",
            "unifi",
            "ubnt",
            "edgerouter",
            "dream machine",
            "udm",
        ],
        admin_hosts: &["unifi.ui.com"],
        menu: &[
            "UniFi Network",
            "Settings",
            "Routing (older versions: Firewall & Security)",
            "Port Forwarding",
        ],
        steps: &[
            "Click \"Create Entry\".",
            "Name: {name}; WAN Port: {external}; Forward IP: {ip}; Forward Port: {internal}; Protocol: {protocol}; From: Any.",
            "Click \"Apply Changes\".",
        ],
        commands: &[],
    },
    Vendor {
        name: "OpenWrt",
        matches: &["openwrt", "lede", "turris", "gl.inet", "gl-inet"],
        admin_hosts: &["openwrt.lan"],
        menu: &["Network", "Firewall", "Port Forwards"],
        steps: &[
            "Click \"Add\".",
            "Name: {name}; Protocol: {protocol}; Source zone: wan; External port: {external}; Destination zone: lan; Internal IP address: {ip}; Internal port: {internal}.",
            "Click \"Save\", then \"Save & Apply\".",
        ],
        commands: &[
            "uci add firewall redirect",
            "uci set firewall.@redirect[-1].name='{name}'",
            "uci set firewall.@redirect[-1].src='wan'",
            "uci set firewall.@redirect[-1].proto='{uci_protocol}'",
            "uci set firewall.@redirect[-1].src_dport='{external}'",
            "uci set firewall.@redirect[-1].dest='lan'",
            "uci set firewall.@redirect[-1].dest_ip='{ip}'",
            "uci set firewall.@redirect[-1].dest_port='{internal}'",
            "uci set firewall.@redirect[-1].target='DNAT'",
            "uci commit firewall && /etc/init.d/firewall reload",
        ],
    },
    Vendor {
        name: "MikroTik",
        matches: &["mikrotik", "routeros", "routerboard"],
        admin_hosts: &[],
        menu: &["WinBox or WebFig", "IP", "Firewall", "NAT"],
        steps: &[
            "Add a rule (\"+\"): Chain dstnat; Protocol {protocol}; Dst. Port {external}; In. Interface List WAN.",
            "Action tab: Action dst-nat; To Addresses {ip}; To Ports {internal}; Comment {name}.",
            "Click \"OK\". Or run the command below in a terminal.",
        ],
        commands: &[
            "/ip firewall nat add chain=dstnat action=dst-nat protocol={lower_protocol} dst-port={external} in-interface-list=WAN to-addresses={ip} to-ports={internal} comment=\"{name}\"",
        ],
    },
    Vendor {
        name: "Google Nest Wifi",
        matches: &["google", "nest wifi"],
        admin_hosts: &[],
        menu: &[
            "Google Home app",
            "Wi-Fi",
            "Settings",
            "Advanced networking",
            "Port management",
        ],
        steps: &[
            "Tap \"+\", choose the device with the IP address {ip}.",
            "Internal port: {internal}; External port: {external}; Protocol: {protocol}.",
            "Tap \"Save\".",
        ],
        commands: &[],
    },
];

/// The vendor whose words appear in `text` (a description's manufacturer,
/// model and friendly name), or the generic guide. Prefer
/// [`recognise_router`], which knows which field said what.
///
/// # Examples
///
/// ```
/// use pfwd_core::guide::vendors::recognise;
///
/// assert_eq!(recognise("TP-LINK Technologies Archer C7").name, "TP-Link");
/// assert_eq!(recognise("MikroTik hAP ac2").name, "MikroTik");
/// // Whole words only: "deco" is not in "Decorative".
/// assert_eq!(recognise("Decorative lamp").name, "your router");
/// ```
pub fn recognise(text: &str) -> &'static Vendor {
    mentioned_in(&words(text)).unwrap_or(&GENERIC)
}

/// The vendor whose guide fits `router`, or the generic guide.
///
/// The manufacturer field decides first (OpenWrt on a TP-Link board gets
/// OpenWrt's menus), then the model name and number. The friendly name is
/// often the owner's own text ("Google Home hub" on a Livebox), so it only
/// counts when the router gives no manufacturer at all: a wrong maker's menu
/// path misleads, where the generic guide is only vague.
///
/// # Examples
///
/// ```
/// use pfwd_core::RouterInfo;
/// use pfwd_core::guide::vendors::recognise_router;
///
/// // OpenWrt on a TP-Link board: OpenWrt's menus.
/// let router = RouterInfo {
///     manufacturer: Some("OpenWrt".into()),
///     model_name: Some("TP-Link Archer C7 v5".into()),
///     ..RouterInfo::default()
/// };
/// assert_eq!(recognise_router(&router).name, "OpenWrt");
///
/// // The owner's own name for a router of a known maker does not count.
/// let livebox = RouterInfo {
///     manufacturer: Some("Sagemcom".into()),
///     friendly_name: Some("Google Home hub".into()),
///     ..RouterInfo::default()
/// };
/// assert_eq!(recognise_router(&livebox).name, "your router");
/// ```
pub fn recognise_router(router: &RouterInfo) -> &'static Vendor {
    let field = |f: &Option<String>| words(f.as_deref().unwrap_or_default());
    let maker = field(&router.manufacturer);
    mentioned_in(&maker)
        .or_else(|| mentioned_in(&field(&router.model_name)))
        .or_else(|| mentioned_in(&field(&router.model_number)))
        .or_else(|| {
            maker
                .is_empty()
                .then(|| mentioned_in(&field(&router.friendly_name)))
                .flatten()
        })
        .unwrap_or(&GENERIC)
}

/// One word of a description: a run of letters and digits, lower-cased.
struct Word {
    text: String,
    /// Whether a '-' and another word follow it directly ("rt" in "RT-AX88U").
    dashed: bool,
}

/// The words of `text`: "TP-LINK Archer C7" is tp (dashed), link, archer, c7.
fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(char::is_alphanumeric) {
        let word = &rest[start..];
        let end = word
            .find(|c: char| !c.is_alphanumeric())
            .unwrap_or(word.len());
        rest = &word[end..];
        out.push(Word {
            text: word[..end].to_lowercase(),
            dashed: rest
                .strip_prefix('-')
                .and_then(|after| after.chars().next())
                .is_some_and(char::is_alphanumeric),
        });
    }
    out
}

/// Whether `vendor.matches` finds `text`'s words, as [`Vendor::matches`]
/// describes.
fn mentions(vendor: &Vendor, text: &[Word]) -> bool {
    vendor.matches.iter().any(|m| match m.strip_suffix('-') {
        Some(family) => text.iter().any(|w| w.dashed && w.text == family),
        None => {
            let phrase = words(m);
            !phrase.is_empty()
                && text
                    .windows(phrase.len())
                    .any(|w| w.iter().zip(&phrase).all(|(a, b)| a.text == b.text))
        }
    })
}

/// The first vendor, in [`VENDORS`] order, that `text` mentions.
fn mentioned_in(text: &[Word]) -> Option<&'static Vendor> {
    VENDORS.iter().find(|v| mentions(v, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_common_makers() {
        for (text, name) in [
            ("TP-LINK Technologies Archer C7", "TP-Link"),
            ("NETGEAR, Inc. R7000", "NETGEAR"),
            ("ASUSTeK Computer Inc. RT-AX88U", "ASUS"),
            ("Linksys EA7500", "Linksys"),
            ("AVM Berlin FRITZ!Box 7590", "AVM FRITZ!Box"),
            ("D-Link Corporation DIR-882", "D-Link"),
            ("Huawei Technologies HG8245", "Huawei"),
            ("Ubiquiti Networks UniFi Dream Machine", "Ubiquiti UniFi"),
            ("OpenWrt Linux-IGD", "OpenWrt"),
            ("MikroTik hAP ac2", "MikroTik"),
            ("miniupnp pfwd testbed router", "your router"),
        ] {
            assert_eq!(recognise(text).name, name, "{text}");
        }
        assert!(VENDORS.len() >= 10);
    }

    #[test]
    fn whole_words_not_parts_of_words() {
        for (text, name) in [
            // "smart-box" contains "rt-", "lederer" contains "lede",
            // "googleplex" contains "google", "decorative" contains "deco",
            // "studmaster" contains "udm": none of them names a maker.
            ("Arcadyan Smart-Box Smart-Box", "your router"),
            ("Technicolor MediaAccess TG Lederer family", "your router"),
            ("Sagemcom Livebox Googleplex guest Wi-Fi", "your router"),
            ("Acme Decorative router", "your router"),
            ("Acme Studmaster 3000", "your router"),
            ("ASKEY RTV9015VW RTV9015VW", "your router"),
            // The model families still count, as whole tokens.
            ("Acme RT-AX88U", "ASUS"),
            ("Acme RT -AX88U", "your router"),
            ("Acme RT-", "your router"),
            ("TP-LINK TL-WR740N Wireless Router TL-WR740N", "TP-Link"),
            ("TP-Link Deco M5", "TP-Link"),
            ("Ubiquiti UDM-Pro", "Ubiquiti UniFi"),
        ] {
            assert_eq!(recognise(text).name, name, "{text}");
        }
    }

    #[test]
    fn the_manufacturer_outweighs_the_model_and_the_friendly_name() {
        let router = |maker: &str, model: &str, friendly: &str| RouterInfo {
            manufacturer: Some(maker.into()),
            model_name: Some(model.into()),
            friendly_name: Some(friendly.into()),
            ..Default::default()
        };
        for (info, name) in [
            // OpenWrt on a TP-Link board: OpenWrt's menus.
            (
                router("OpenWrt", "TP-Link Archer C7 v5", "OpenWrt router"),
                "OpenWrt",
            ),
            // A maker without a guide, renamed by its owner: generic.
            (
                router("Sagemcom", "Residential Livebox", "Google Home hub"),
                "your router",
            ),
            (
                router("Technicolor", "MediaAccess TG", "lede"),
                "your router",
            ),
            // The model speaks when the manufacturer names nobody we know.
            (router("Acme", "RT-AX88U", "home"), "ASUS"),
            // The friendly name speaks only when there is no manufacturer.
            (router("", "", "ASUS RT-AX88U"), "ASUS"),
            (router(" - ", "", "FRITZ!Box 7590"), "AVM FRITZ!Box"),
            (RouterInfo::default(), "your router"),
        ] {
            assert_eq!(recognise_router(&info).name, name, "{info:?}");
        }
    }

    #[test]
    fn every_vendor_says_where_and_what() {
        for v in VENDORS {
            assert!(!v.menu.is_empty() && !v.steps.is_empty(), "{}", v.name);
            let all: String = v.steps.concat();
            for field in ["{ip}", "{external}", "{protocol}"] {
                assert!(
                    all.contains(field) || v.commands.concat().contains(field),
                    "{} lacks {field}",
                    v.name
                );
            }
        }
    }
}
