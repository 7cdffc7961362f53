use std::net::Ipv4Addr;

use super::*;
use crate::error::{Error, GatewayCode, UpnpCode};

fn home() -> GatewayInfo {
    GatewayInfo {
        interface: Some("eth0".into()),
        gateway: Ipv4Addr::new(192, 168, 1, 1),
        local: Ipv4Addr::new(192, 168, 1, 4),
        lan: None,
    }
}

fn tp_link() -> RouterInfo {
    RouterInfo {
        manufacturer: Some("TP-Link".into()),
        model_name: Some("Archer C7".into()),
        model_number: Some("5.0".into()),
        friendly_name: Some("Home".into()),
        admin_url: Some("http://192.168.1.1/".into()),
    }
}

fn refused_606() -> MethodFailure {
    MethodFailure::from_error(&Error::Refused {
        method: Method::Upnp,
        what: "TCP port 80".into(),
        code: GatewayCode::Upnp(UpnpCode::NOT_AUTHORIZED),
    })
}

#[test]
fn the_three_things_a_person_needs() {
    let ctx = GuideContext {
        gateway: Some(home()),
        router: Some(tp_link()),
        external_address: Some(Ipv4Addr::new(81, 2, 3, 4)),
        failures: vec![refused_606()],
        ..GuideContext::default()
    };
    let i = Instructions::build(&ctx, &[Protocol::Tcp], 80, None, 80);
    assert_eq!(i.rule_lines(), ["TCP port 80 -> 192.168.1.4:80"]);
    assert_eq!(i.service.map(|s| s.name), Some("http"));
    assert_eq!(i.router.address, Some(Ipv4Addr::new(192, 168, 1, 1).into()));
    assert_eq!(i.router.admin_urls[0], "http://192.168.1.1/");
    assert!(
        i.router
            .admin_urls
            .contains(&"http://tplinkwifi.net/".to_string())
    );
    assert_eq!(i.router.vendor, "TP-Link");
    assert_eq!(i.menu, ["Advanced", "NAT Forwarding", "Virtual Servers"]);
    let text = i.to_text();
    assert!(
        text.contains(
            "Service Name: Web server (HTTP); External Port: 80; Internal IP: 192.168.1.4"
        ),
        "{text}"
    );
    assert!(text.contains("TP-Link Archer C7 5.0"), "{text}");
    assert!(text.contains("606") && text.contains("refused"), "{text}");
    assert!(
        text.contains("canyouseeme.org") && text.contains("81.2.3.4"),
        "{text}"
    );
    assert!(i.warnings.is_empty(), "{:?}", i.warnings);
    assert!(i.forwarding_can_work());
}

#[test]
fn carrier_grade_and_double_nat_are_warned() {
    for (ip, kind) in [
        (Ipv4Addr::new(100, 64, 0, 7), WarningKind::CarrierGradeNat),
        (
            Ipv4Addr::new(100, 127, 255, 1),
            WarningKind::CarrierGradeNat,
        ),
        (Ipv4Addr::new(10, 0, 0, 2), WarningKind::DoubleNat),
        (Ipv4Addr::new(192, 168, 0, 10), WarningKind::DoubleNat),
    ] {
        let ctx = GuideContext {
            gateway: Some(home()),
            external_address: Some(ip),
            ..Default::default()
        };
        let i = Instructions::build(&ctx, &[Protocol::Tcp], 8080, None, 8080);
        assert!(
            i.warnings.iter().any(|w| w.kind == kind),
            "{ip}: {:?}",
            i.warnings
        );
        assert!(!i.forwarding_can_work());
        assert!(i.to_text().contains(&ip.to_string()));
    }
    assert!(external_address_warning(Ipv4Addr::new(100, 128, 0, 1)).is_none());
    assert!(external_address_warning(Ipv4Addr::new(5, 5, 5, 7)).is_none());
}

#[test]
fn risky_services_are_warned() {
    let ctx = GuideContext {
        gateway: Some(home()),
        external_address: Some(Ipv4Addr::new(81, 2, 3, 4)),
        ..Default::default()
    };
    for port in [23, 3389, 5631, 445, 3306] {
        let i = Instructions::build(&ctx, &[Protocol::Tcp], port, None, port);
        assert!(
            i.warnings
                .iter()
                .any(|w| w.kind == WarningKind::RiskyService),
            "{port}"
        );
    }
    let i = Instructions::build(&ctx, &[Protocol::Tcp], 443, None, 443);
    assert!(i.warnings.is_empty());
}

#[test]
fn the_risk_warning_says_forward_over_ipv4_and_open_over_ipv6() {
    let v4 = GuideContext {
        gateway: Some(home()),
        external_address: Some(Ipv4Addr::new(81, 2, 3, 4)),
        ..Default::default()
    };
    let v6 = GuideContext {
        family: crate::mapping::Family::Ipv6,
        ipv6: Some(ipv6_home()),
        ..v4.clone()
    };
    for (ctx, action) in [(v4, "Forward"), (v6, "Open")] {
        let i = Instructions::build(&ctx, &[Protocol::Tcp], 23, None, 23);
        let risk = i
            .warnings
            .iter()
            .find(|w| w.kind == WarningKind::RiskyService)
            .unwrap_or_else(|| panic!("{action}: {:?}", i.warnings));
        assert!(risk.text.starts_with("Telnet"), "{}", risk.text);
        assert!(
            risk.text.ends_with(&format!(
                ". {action} only what you need, and remove the rule when you no longer do."
            )),
            "{}",
            risk.text
        );
    }
}

#[test]
fn unknown_router_gets_the_generic_guide_and_both_protocols() {
    let ctx = GuideContext::default();
    let i = Instructions::build(
        &ctx,
        &[Protocol::Tcp, Protocol::Udp],
        53,
        Some(Ipv4Addr::new(192, 168, 1, 53).into()),
        53,
    );
    assert_eq!(i.rules.len(), 2);
    assert_eq!(i.router.vendor, "your router");
    assert!(
        i.steps.iter().any(|s| s.contains("Protocol: TCP and UDP")),
        "{:?}",
        i.steps
    );
    assert!(
        i.warnings
            .iter()
            .any(|w| w.kind == WarningKind::UnknownExternalAddress)
    );
    assert!(i.verify.iter().any(|v| v.contains("only TCP")));
    assert!(i.to_text().contains("192.168.1.53"));
}

#[test]
fn without_the_routers_address_the_check_step_makes_no_url() {
    let i = Instructions::build(
        &GuideContext::default(),
        &[Protocol::Tcp],
        80,
        Some(Ipv4Addr::new(192, 168, 1, 4).into()),
        80,
    );
    assert!(
        i.verify[0].contains("connect to the router's internet address port 80."),
        "{:?}",
        i.verify
    );
    assert!(
        !i.to_text().contains("http://the router"),
        "{}",
        i.to_text()
    );
}

#[test]
fn shell_routers_get_commands() {
    let ctx = GuideContext {
        gateway: Some(home()),
        router: Some(RouterInfo {
            manufacturer: Some("OpenWrt".into()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let i = Instructions::build(&ctx, &[Protocol::Udp], 51820, None, 51820);
    assert!(
        i.commands
            .contains(&"uci set firewall.@redirect[-1].dest_ip='192.168.1.4'".to_string()),
        "{:?}",
        i.commands
    );
    assert!(
        i.commands
            .contains(&"uci set firewall.@redirect[-1].proto='udp'".to_string())
    );
    assert!(i.to_markdown().contains("```sh\nuci add firewall redirect"));
}

#[test]
fn renders_as_markdown_and_json() {
    let ctx = GuideContext {
        gateway: Some(home()),
        router: Some(tp_link()),
        external_address: Some(Ipv4Addr::new(100, 64, 1, 2)),
        failures: vec![refused_606()],
        ..GuideContext::default()
    };
    let i = Instructions::build(&ctx, &[Protocol::Tcp], 3389, None, 3389);
    let md = i.to_markdown();
    assert!(
        md.starts_with("# Forward a port by hand for Remote Desktop (RDP) (rdp)"),
        "{md}"
    );
    assert!(
        md.contains("## Steps (TP-Link)") && md.contains("> **Warning:**"),
        "{md}"
    );
    let v: serde_json::Value = serde_json::from_str(&i.to_json()).unwrap();
    assert_eq!(v["rules"][0]["protocol"], "tcp");
    assert_eq!(v["rules"][0]["internal_ip"], "192.168.1.4");
    assert_eq!(v["router"]["vendor"], "TP-Link");
    assert_eq!(v["router"]["router"]["model_name"], "Archer C7");
    assert_eq!(v["reasons"][0]["method"], "upnp");
    assert_eq!(v["reasons"][0]["kind"], "refused");
    assert_eq!(
        v["reasons"][0]["code"],
        "UPnP error 606 ActionNotAuthorized"
    );
    assert_eq!(v["warnings"][0]["kind"], "carrier_grade_nat");
    assert_eq!(v["service"]["name"], "rdp");
}

#[test]
fn the_manual_error_carries_the_guide() {
    let ctx = GuideContext {
        gateway: Some(home()),
        failures: vec![refused_606()],
        ..Default::default()
    };
    let e = Error::Manual {
        instructions: Box::new(Instructions::build(&ctx, &[Protocol::Tcp], 80, None, 80)),
    };
    assert_eq!(e.kind(), ErrorKind::Manual);
    assert!(e.instructions().is_some());
    let s = e.to_string();
    assert!(
        s.contains("TCP port 80 -> 192.168.1.4:80")
            && s.contains("http://192.168.1.1/")
            && s.contains("606"),
        "{s}"
    );
}

/// The Markdown line naming the router, for `router` reached at `gateway`.
fn markdown_router_line(router: Option<RouterInfo>, gateway: Option<GatewayInfo>) -> String {
    let ctx = GuideContext {
        gateway,
        router,
        ..Default::default()
    };
    let md = Instructions::build(&ctx, &[Protocol::Tcp], 8080, None, 8080).to_markdown();
    md.lines()
        .find(|l| l.starts_with("- **Router"))
        .unwrap_or_else(|| panic!("no router line in {md}"))
        .to_string()
}

#[test]
fn the_markdown_router_line_is_balanced_bold() {
    let named = |friendly: &str| RouterInfo {
        friendly_name: Some(friendly.into()),
        ..Default::default()
    };
    for (router, gateway, expected) in [
        (
            Some(tp_link()),
            Some(home()),
            "- **Router:** TP-Link Archer C7 5.0, at 192.168.1.1",
        ),
        (None, None, "- **Router:** not known, at not known"),
        (
            None,
            Some(home()),
            "- **Router:** not known, at 192.168.1.1",
        ),
        (
            Some(RouterInfo {
                manufacturer: Some("AVM Berlin".into()),
                model_name: Some("FRITZ!Box 7490".into()),
                ..Default::default()
            }),
            None,
            "- **Router:** AVM Berlin FRITZ!Box 7490, at not known",
        ),
        (
            Some(named("Home: main router")),
            Some(home()),
            "- **Router:** Home: main router, at 192.168.1.1",
        ),
        (
            Some(named("router**")),
            Some(home()),
            "- **Router:** router\\*\\*, at 192.168.1.1",
        ),
        (
            Some(named("<b>_x_</b> [a](b)")),
            None,
            "- **Router:** \\<b>\\_x\\_\\</b> \\[a\\](b), at not known",
        ),
    ] {
        let line = markdown_router_line(router, gateway);
        assert_eq!(line, expected);
        assert_eq!(line.matches("**").count(), 2, "{line}");
    }
}

fn ipv6_home() -> crate::gateway::Ipv6Gateway {
    crate::gateway::Ipv6Gateway {
        interface: Some("eth0".into()),
        router: "fe80::1".parse().unwrap(),
        scope_id: 2,
        local: "2001:db8::4".parse().unwrap(),
    }
}

#[test]
fn the_ipv6_guide_opens_the_firewall_for_the_hosts_own_address() {
    let ctx = GuideContext {
        gateway: Some(home()),
        router: Some(tp_link()),
        external_address: Some(Ipv4Addr::new(81, 2, 3, 4)),
        failures: vec![refused_606()],
        family: crate::mapping::Family::Ipv6,
        ipv6: Some(ipv6_home()),
    };
    let i = Instructions::build(&ctx, &[Protocol::Tcp], 8080, None, 80);
    assert_eq!(i.family, crate::mapping::Family::Ipv6);
    // Nothing is translated: the rule is the server's own port.
    assert_eq!(i.rule_lines(), ["TCP port 80 -> [2001:db8::4]:80"]);
    assert_eq!(i.external_address, None);
    let text = i.to_text();
    assert!(text.contains("IPv6 firewall page"), "{text}");
    assert!(
        text.contains("allows incoming TCP from any address to 2001:db8::4, port 80"),
        "{text}"
    );
    assert!(text.contains("temporary"), "{text}");
    assert!(
        i.warnings
            .iter()
            .any(|w| w.kind == WarningKind::Ipv6PortSpace),
        "{:?}",
        i.warnings
    );
    assert!(text.contains("http://[2001:db8::4]/"), "{text}");
    // The admin page is still the router's IPv4 LAN address.
    assert_eq!(i.router.admin_urls[0], "http://192.168.1.1/");
    assert_eq!(i.router.address, Some("fe80::1".parse().unwrap()));
    // An IPv6 server given by address asks for the IPv6 guide by itself.
    let plain = GuideContext::default();
    let j = Instructions::build(
        &plain,
        &[Protocol::Udp],
        51820,
        Some("2001:db8::9".parse().unwrap()),
        51820,
    );
    assert_eq!(j.family, crate::mapping::Family::Ipv6);
    assert_eq!(j.rule_lines(), ["UDP port 51820 -> [2001:db8::9]:51820"]);
}

#[test]
fn openwrt_gets_an_ipv6_traffic_rule() {
    let ctx = GuideContext {
        router: Some(RouterInfo {
            manufacturer: Some("OpenWrt".into()),
            ..RouterInfo::default()
        }),
        family: crate::mapping::Family::Ipv6,
        ipv6: Some(ipv6_home()),
        ..GuideContext::default()
    };
    let i = Instructions::build(&ctx, &[Protocol::Tcp, Protocol::Udp], 443, None, 443);
    assert_eq!(i.menu, ["Network", "Firewall", "Traffic Rules"]);
    assert!(
        i.commands
            .contains(&"uci set firewall.@rule[-1].family='ipv6'".to_string())
    );
    assert!(
        i.commands
            .contains(&"uci set firewall.@rule[-1].dest_ip='2001:db8::4'".to_string())
    );
    assert!(
        i.commands
            .contains(&"uci set firewall.@rule[-1].proto='tcp udp'".to_string())
    );
}
