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
                .internal_ip(ip.parse().unwrap())
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
        "5.5.5.7:51820".parse().unwrap(),
        "192.168.1.4:51820".parse().unwrap(),
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
        "5.5.5.7:8080".parse().unwrap(),
        "192.168.1.4:80".parse().unwrap(),
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
    assert_eq!(r.internal_ip(), Some(Ipv4Addr::new(192, 168, 1, 4)));
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
        "5.5.5.7:3389".parse().unwrap(),
        "192.168.1.4:3389".parse().unwrap(),
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
