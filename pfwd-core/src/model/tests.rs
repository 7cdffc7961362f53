//! Tests of the model: request checks, mapping times, JSON round trips.

use std::net::Ipv4Addr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::*;

fn err_text(r: Result<MappingRequest, Invalid>) -> String {
    match r {
        Err(e) => e.to_string(),
        other => panic!("expected an invalid request, got {other:?}"),
    }
}

#[test]
fn defaults_are_same_port_finite_lease() {
    let r = MappingRequest::builder(Protocol::Tcp, 80).build().unwrap();
    assert_eq!(r.external_port(), Some(80));
    assert_eq!(r.lease(), Lease::Finite(DEFAULT_LEASE));
    assert_eq!(r.description(), "pfwd TCP 80");
    assert!(r.internal_ip().is_none());
    assert!(r.previous().is_none());
}

#[test]
fn external_port_choices() {
    let b = || MappingRequest::builder(Protocol::Tcp, 80);
    let r = b().external(ExternalPort::Preferred(8080)).build().unwrap();
    assert_eq!(
        (r.external_port(), r.exact_external_port()),
        (Some(8080), false)
    );
    let r = b().external(ExternalPort::Exact(8000)).build().unwrap();
    assert_eq!(
        (r.external_port(), r.exact_external_port()),
        (Some(8000), true)
    );
    let r = b().external(ExternalPort::Any).build().unwrap();
    assert_eq!(r.external_port(), None);
    let r = b().external(ExternalPort::Same).build().unwrap();
    assert_eq!(r.external_port(), Some(80));
}

#[test]
fn rejects_port_zero() {
    assert!(err_text(MappingRequest::builder(Protocol::Tcp, 0).build()).contains("port 0"));
    assert!(
        err_text(
            MappingRequest::builder(Protocol::Udp, 53)
                .external_port(0)
                .build()
        )
        .contains("any port")
    );
}

#[test]
fn zero_lease_needs_permanent() {
    let e = err_text(
        MappingRequest::builder(Protocol::Tcp, 80)
            .lease(Duration::ZERO)
            .build(),
    );
    assert!(e.contains("permanent"), "{e}");
    let r = MappingRequest::builder(Protocol::Tcp, 80)
        .lease_of(Lease::Permanent)
        .build()
        .unwrap();
    assert_eq!(r.lease(), Lease::Permanent);
    assert_eq!(r.lease().as_secs(), 0);
    err_text(
        MappingRequest::builder(Protocol::Tcp, 80)
            .permanent()
            .lease(Duration::from_secs(5))
            .build(),
    );
}

#[test]
fn huge_and_tiny_leases() {
    err_text(
        MappingRequest::builder(Protocol::Tcp, 80)
            .lease(Duration::from_secs(u64::from(u32::MAX) + 1))
            .build(),
    );
    let r = MappingRequest::builder(Protocol::Tcp, 80)
        .lease(Duration::from_millis(10))
        .build()
        .unwrap();
    assert_eq!(r.lease().as_secs(), 1);
}

#[test]
fn rejects_non_lan_hosts() {
    for ip in [
        "0.0.0.0",
        "127.0.0.1",
        "224.0.0.1",
        "255.255.255.255",
        "169.254.1.1",
    ] {
        let e = err_text(
            MappingRequest::builder(Protocol::Tcp, 80)
                .internal_ip(ip.parse::<std::net::IpAddr>().unwrap())
                .build(),
        );
        assert!(e.contains(ip), "{e}");
    }
    MappingRequest::builder(Protocol::Tcp, 80)
        .internal_ip(Ipv4Addr::new(192, 168, 1, 4))
        .build()
        .unwrap();
}

#[test]
fn rejects_bad_descriptions() {
    err_text(
        MappingRequest::builder(Protocol::Tcp, 80)
            .description("x".repeat(65))
            .build(),
    );
    err_text(
        MappingRequest::builder(Protocol::Tcp, 80)
            .description("a\nb")
            .build(),
    );
}

#[test]
fn protocol_parses() {
    assert_eq!("TCP".parse::<Protocol>().unwrap(), Protocol::Tcp);
    assert_eq!(" udp ".parse::<Protocol>().unwrap(), Protocol::Udp);
    assert!("sctp".parse::<Protocol>().is_err());
    assert_eq!(serde_json::to_string(&Protocol::Udp).unwrap(), "\"udp\"");
    assert_eq!(
        serde_json::from_str::<Protocol>("\"TCP\"").unwrap(),
        Protocol::Tcp
    );
}

fn mapping(method: Method, state: MethodState, lease: Lease) -> Mapping {
    Mapping::new(
        method,
        Protocol::Udp,
        Ipv4Addr::new(192, 168, 1, 1),
        "5.5.5.7:51820".parse::<std::net::SocketAddr>().unwrap(),
        "192.168.1.4:51820".parse::<std::net::SocketAddr>().unwrap(),
        lease,
        Instant::now(),
        "pfwd wireguard",
        state,
    )
}

#[test]
fn mapping_times_and_renewal() {
    let now = Instant::now();
    let m = Mapping::new(
        Method::Upnp,
        Protocol::Tcp,
        Ipv4Addr::new(192, 168, 1, 1),
        "5.5.5.7:8080".parse::<std::net::SocketAddr>().unwrap(),
        "192.168.1.4:80".parse::<std::net::SocketAddr>().unwrap(),
        Lease::Finite(Duration::from_secs(100)),
        now,
        "web",
        MethodState::Upnp {
            forced_permanent: false,
        },
    );
    assert_eq!(m.renew_after(), Some(now + Duration::from_secs(50)));
    assert_eq!(m.good_until(), Some(now + Duration::from_secs(100)));
    let wall = m.granted_at_wall();
    let skew = SystemTime::now().duration_since(wall).unwrap();
    assert!(skew < Duration::from_secs(1), "{skew:?}");
    assert_eq!(m.expires_at_wall(), Some(wall + Duration::from_secs(100)));
    assert!(!m.ended_at(SystemTime::now()));
    assert!(m.ended_at(wall + Duration::from_secs(100)));
    let r = m.renewal();
    assert_eq!(r.external_port(), Some(8080));
    assert_eq!(r.internal_ip(), Some(Ipv4Addr::new(192, 168, 1, 4).into()));
    assert_eq!(r.previous(), Some(&m));
    assert!(!m.needs_explicit_delete());
}

#[test]
fn a_wall_time_sets_the_instant_too() {
    let hour_ago = SystemTime::now() - Duration::from_secs(3600);
    let m = mapping(Method::Manual, MethodState::None, Lease::Permanent).with_wall_time(hour_ago);
    assert_eq!(m.granted_at_wall(), hour_ago);
    let age = m.granted_at().elapsed();
    assert!(
        age >= Duration::from_secs(3599) && age < Duration::from_secs(3602),
        "{age:?}"
    );
}

#[test]
fn each_methods_mapping_round_trips_through_json() {
    let granted = UNIX_EPOCH + Duration::from_secs(1_795_633_606);
    let hour = Lease::Finite(Duration::from_secs(3600));
    let cases = [
        mapping(
            Method::Pcp,
            MethodState::Pcp {
                nonce: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0xff],
                epoch: 77,
                generation: 0,
            },
            hour,
        ),
        mapping(
            Method::NatPmp,
            MethodState::NatPmp {
                epoch: 9,
                generation: 0,
            },
            hour,
        ),
        mapping(
            Method::Upnp,
            MethodState::Upnp {
                forced_permanent: true,
            },
            Lease::Permanent,
        ),
        mapping(Method::Manual, MethodState::None, hour),
        mapping(Method::Manual, MethodState::Custom("rule 7".into()), hour),
    ];
    for m in cases {
        let m = m.with_wall_time(granted);
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["method"], m.method().as_str());
        assert_eq!(json["granted_at"], 1_795_633_606u64);
        let back: Mapping = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.state(), m.state(), "{json}");
        assert_eq!(back.lease(), m.lease());
        assert_eq!(back.granted_at_wall(), granted);
        assert_eq!(back.expires_at_wall(), m.expires_at_wall());
        assert_eq!(
            (back.external(), back.internal(), back.gateway()),
            (m.external(), m.internal(), m.gateway())
        );
        assert_eq!(back.description(), m.description());
    }
    let pcp = serde_json::to_value(mapping(
        Method::Pcp,
        MethodState::Pcp {
            nonce: [0xab; 12],
            epoch: 5,
            generation: 3,
        },
        hour,
    ))
    .unwrap();
    assert_eq!(pcp["pcp_nonce"], "ab".repeat(12));
    assert_eq!(pcp["epoch"], 5);
    assert_eq!(
        pcp["expires_at"].as_u64().unwrap() - pcp["granted_at"].as_u64().unwrap(),
        3600
    );
}

#[test]
fn times_read_as_rfc3339_too() {
    let json = serde_json::json!({
        "method": "upnp", "protocol": "tcp", "external": "5.5.5.7:80",
        "internal": "192.168.1.4:80", "gateway": "192.168.1.1",
        "lease_seconds": 60, "granted_at": "2026-11-25T21:06:46Z",
    });
    let m: Mapping = serde_json::from_value(json).unwrap();
    let secs = m
        .granted_at_wall()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert_eq!(secs, 1_795_640_806);
    assert!(m.ended_at(SystemTime::now()));
}

#[test]
fn damaged_json_says_what_is_wrong() {
    let good = serde_json::to_value(mapping(
        Method::Pcp,
        MethodState::Pcp {
            nonce: [0; 12],
            epoch: 0,
            generation: 0,
        },
        Lease::Finite(Duration::from_secs(60)),
    ))
    .unwrap();
    let broken = |field: &str, value: serde_json::Value| {
        let mut j = good.clone();
        if value.is_null() {
            j.as_object_mut().unwrap().remove(field);
        } else {
            j[field] = value;
        }
        serde_json::from_value::<Mapping>(j)
            .unwrap_err()
            .to_string()
    };
    assert!(broken("pcp_nonce", "zz".into()).contains("24 hex digits"));
    assert!(broken("pcp_nonce", serde_json::Value::Null).contains("pcp_nonce"));
    assert!(broken("method", "smoke".into()).contains("unknown method"));
    assert!(broken("protocol", "sctp".into()).contains("\"tcp\""));
    assert!(broken("granted_at", "yesterday".into()).contains("RFC 3339"));
    assert!(broken("lease_seconds", 0.into()).contains("permanent"));
    assert!(broken("version", 2.into()).contains("update pfwd"));
    assert!(broken("external", "nowhere".into()).contains("socket address"));
    assert!(broken("gateway", serde_json::Value::Null).contains("gateway"));
}

#[test]
fn gateway_mappings_carry_lease_seconds() {
    let g = GatewayMapping {
        protocol: Protocol::Tcp,
        external_port: 80,
        internal_client: "192.168.1.4".into(),
        internal_port: 8080,
        description: "web".into(),
        lease: Lease::Permanent,
        enabled: true,
    };
    let j = serde_json::to_value(&g).unwrap();
    assert_eq!(j["lease_seconds"], 0);
    assert_eq!(j["protocol"], "tcp");
    assert_eq!(serde_json::from_value::<GatewayMapping>(j).unwrap(), g);
}

#[test]
fn risky_ports_carry_warnings() {
    let rdp = Mapping::new(
        Method::Upnp,
        Protocol::Tcp,
        Ipv4Addr::new(192, 168, 1, 1),
        "5.5.5.7:3389".parse::<std::net::SocketAddr>().unwrap(),
        "192.168.1.4:3389".parse::<std::net::SocketAddr>().unwrap(),
        Lease::Permanent,
        Instant::now(),
        "rdp",
        MethodState::None,
    );
    let w = rdp.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].kind, WarningKind::RiskyService);
    assert!(w[0].text.contains("VPN"), "{}", w[0].text);
    // Telnet on the outside, a harmless port inside: still a warning.
    let telnet = MappingRequest::builder(Protocol::Tcp, 8080)
        .exact_external_port(23)
        .build()
        .unwrap();
    assert!(telnet.warnings()[0].text.contains("SSH"));
    let web = mapping(Method::Manual, MethodState::None, Lease::Permanent);
    assert!(web.warnings().is_empty());
}

const HOST6: &str = "2001:db8:77::10";

fn pinhole(method: Method, state: MethodState) -> Mapping {
    let host: std::net::Ipv6Addr = HOST6.parse().unwrap();
    Mapping::new(
        method,
        Protocol::Tcp,
        "2001:db8:77::1".parse::<std::net::Ipv6Addr>().unwrap(),
        std::net::SocketAddrV6::new(host, 80, 0, 0),
        std::net::SocketAddrV6::new(host, 80, 0, 0),
        Lease::Finite(Duration::from_secs(3600)),
        Instant::now(),
        "pfwd http",
        state,
    )
}

#[test]
fn family_parses_and_follows_the_address() {
    for (text, f) in [
        ("ipv4", Family::Ipv4),
        ("IPv6", Family::Ipv6),
        (" 6 ", Family::Ipv6),
        ("inet", Family::Ipv4),
    ] {
        assert_eq!(text.parse::<Family>().unwrap(), f, "{text}");
    }
    let e = "ipv5".parse::<Family>().unwrap_err().to_string();
    assert!(e.contains("\"ipv4\" or \"ipv6\""), "{e}");
    let r = MappingRequest::builder(Protocol::Tcp, 80)
        .internal_ip(HOST6.parse::<std::net::Ipv6Addr>().unwrap())
        .build()
        .unwrap();
    assert_eq!(r.family(), Family::Ipv6);
    assert_eq!(r.internal_ipv4(), None);
    assert_eq!(
        r.internal_ipv6().map(|a| a.to_string()).as_deref(),
        Some(HOST6)
    );
    let this_host = MappingRequest::builder(Protocol::Tcp, 80)
        .family(Family::Ipv6)
        .build()
        .unwrap();
    assert_eq!(
        (this_host.family(), this_host.internal_ip()),
        (Family::Ipv6, None)
    );
    assert_eq!(
        MappingRequest::builder(Protocol::Tcp, 80)
            .build()
            .unwrap()
            .family(),
        Family::Ipv4
    );
}

#[test]
fn an_ipv6_request_checks_its_address_and_port() {
    let b = || MappingRequest::builder(Protocol::Tcp, 80);
    let e = err_text(
        b().family(Family::Ipv4)
            .internal_ip(HOST6.parse::<std::net::Ipv6Addr>().unwrap())
            .build(),
    );
    assert!(
        e.contains("is an IPv6 address but the request asks for IPv4"),
        "{e}"
    );
    for (ip, why) in [
        ("fd12:3456::10", "unique local"),
        ("fe80::1", "link-local"),
        ("::1", "loopback"),
        ("ff02::1", "multicast"),
        ("::", "unspecified"),
        ("::ffff:192.168.1.4", "192.168.1.4"),
    ] {
        let e = err_text(
            b().internal_ip(ip.parse::<std::net::Ipv6Addr>().unwrap())
                .build(),
        );
        assert!(e.contains(why), "{ip}: {e}");
    }
    // Nothing is translated over IPv6: the outside port is the server's own.
    let e = err_text(b().family(Family::Ipv6).external_port(8080).build());
    assert!(e.contains("nothing is translated"), "{e}");
    let any = b()
        .family(Family::Ipv6)
        .any_external_port()
        .build()
        .unwrap();
    assert_eq!(any.external_port(), Some(80));
    let v4 = b().external_port(8080).build().unwrap();
    assert!(v4.in_family(Family::Ipv6).is_some());
    let named = b()
        .internal_ip(Ipv4Addr::new(192, 168, 1, 4))
        .build()
        .unwrap();
    assert!(
        named.in_family(Family::Ipv6).is_none(),
        "a named IPv4 host cannot move"
    );
}

#[test]
fn pinholes_round_trip_through_json() {
    for m in [
        pinhole(
            Method::Pcp,
            MethodState::Pcp {
                nonce: [7; 12],
                epoch: 3,
                generation: 0,
            },
        ),
        pinhole(Method::Upnp, MethodState::UpnpPinhole { unique_id: 4242 }),
    ] {
        assert!(m.is_pinhole());
        assert_eq!(m.external_v4(), None);
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["family"], "ipv6");
        assert_eq!(json["external"], format!("[{HOST6}]:80"));
        let back: Mapping = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back.state(), m.state(), "{json}");
        assert_eq!(back.family(), Family::Ipv6);
        assert_eq!(
            (back.internal(), back.gateway()),
            (m.internal(), m.gateway())
        );
        // The renewal keeps the family and the host.
        let r = back.renewal();
        assert_eq!(r.family(), Family::Ipv6);
        assert_eq!(r.internal_ip(), Some(m.internal().ip()));
    }
    let upnp = serde_json::to_value(pinhole(
        Method::Upnp,
        MethodState::UpnpPinhole { unique_id: 9 },
    ))
    .unwrap();
    assert_eq!(upnp["pinhole_id"], 9);
    let mut lost_id = upnp.clone();
    lost_id.as_object_mut().unwrap().remove("pinhole_id");
    let e = serde_json::from_value::<Mapping>(lost_id)
        .unwrap_err()
        .to_string();
    assert!(e.contains("pinhole_id"), "{e}");
    let mut mixed = upnp;
    mixed["internal"] = "192.168.1.4:80".into();
    let e = serde_json::from_value::<Mapping>(mixed)
        .unwrap_err()
        .to_string();
    assert!(e.contains("mixes address families"), "{e}");
    // Version-1 records written before families read as IPv4.
    let old = serde_json::json!({
        "method": "natpmp", "protocol": "tcp", "external": "5.5.5.7:80",
        "internal": "192.168.1.4:80", "gateway": "192.168.1.1", "lease_seconds": 60,
        "granted_at": 1_795_633_606u64,
    });
    let m: Mapping = serde_json::from_value(old).unwrap();
    assert_eq!(m.family(), Family::Ipv4);
}
