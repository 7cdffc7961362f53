use super::*;
use crate::guide::MethodFailure;

#[test]
fn refused_message_carries_code_meaning_and_advice() {
    let e = &one_of_each()[3];
    let s = e.to_string();
    assert!(s.contains("606"), "{s}");
    assert!(s.contains("ActionNotAuthorized"), "{s}");
    assert!(s.contains("above 1024"), "{s}");
    assert_eq!(e.kind(), ErrorKind::Refused);
    assert_eq!(e.method(), Some(Method::Upnp));
}

#[test]
fn conflict_message_names_the_holder() {
    let e = &one_of_each()[4];
    let s = e.to_string();
    assert!(
        s.contains("192.168.77.20:8080") && s.contains("\"nas\""),
        "{s}"
    );
}

/// One error of every kind, with data in every field (a refusal at
/// index 3, a conflict at 4, an I/O error at 13).
fn one_of_each() -> Vec<Error> {
    use crate::guide::GuideContext;
    let mut context = GuideContext::default();
    context
        .failures
        .push(MethodFailure::from_error(&Error::NoGateway {
            refused: false,
            method: Some(Method::Pcp),
            detail: "no answer".into(),
        }));
    let instructions = Instructions::build(
        &context,
        &[Protocol::Tcp],
        80,
        Some(std::net::Ipv4Addr::new(192, 168, 1, 4).into()),
        80,
    );
    vec![
        Error::NoGateway {
            refused: false,
            method: None,
            detail: "no default route".into(),
        },
        Error::NoGateway {
            refused: false,
            method: Some(Method::Upnp),
            detail: "no answer".into(),
        },
        Error::Unsupported {
            method: Method::NatPmp,
            what: "permanent mappings".into(),
            detail: "leases end".into(),
        },
        Error::Refused {
            method: Method::Upnp,
            what: "TCP port 80 -> 192.168.1.4:80".into(),
            code: GatewayCode::Upnp(UpnpCode::NOT_AUTHORIZED),
        },
        Error::Conflict {
            method: Method::Upnp,
            protocol: Protocol::Tcp,
            external_port: 8080,
            holder: Some(Holder {
                internal: "192.168.77.20:8080"
                    .parse::<std::net::SocketAddr>()
                    .unwrap(),
                description: "nas".into(),
                process: None,
            }),
        },
        Error::Timeout {
            method: Method::Pcp,
            operation: "the mapping request".into(),
            after: Duration::from_millis(4000),
        },
        Error::invalid("port 0 is not a port"),
        Error::InvalidResponse {
            method: Method::Pcp,
            detail: "bad length".into(),
        },
        Error::Manual {
            instructions: Box::new(instructions),
        },
        Error::Cancelled {
            operation: "mapping TCP port 80".into(),
        },
        Error::Closed {
            what: "the client is closed".into(),
        },
        Error::WouldDeadlock {
            operation: "map".into(),
            why: "inside an event callback".into(),
        },
        Error::Prober {
            url: "http://203.0.113.9:8099".into(),
            detail: "did not answer within 10 s".into(),
        },
        Error::io("reading the routing table", io::Error::from_raw_os_error(2)),
    ]
}

#[test]
fn no_message_has_a_run_of_spaces() {
    for e in one_of_each() {
        let s = e.to_string();
        assert!(!s.contains("  "), "{:?}: {s:?}", e.kind());
    }
}

#[test]
fn every_kind_serialises_to_the_one_json_shape() {
    let allowed = [
        "kind",
        "code",
        "message",
        "method",
        "gateway_code",
        "holder",
        "os_error",
        "instructions",
    ];
    let errors = one_of_each();
    let kinds: std::collections::HashSet<ErrorKind> = errors.iter().map(Error::kind).collect();
    assert_eq!(kinds.len(), ErrorKind::ALL.len(), "one error of every kind");
    for e in errors {
        let j = e.to_json();
        let obj = j.as_object().unwrap();
        assert!(obj.keys().all(|k| allowed.contains(&k.as_str())), "{j}");
        assert_eq!(j["kind"], e.kind().name());
        assert_eq!(j["code"], e.kind().number());
        assert_eq!(j["message"], e.to_string());
        assert_eq!(
            obj.get("method"),
            e.method()
                .map(|m| serde_json::to_value(m).unwrap())
                .as_ref()
        );
        assert_eq!(
            obj.contains_key("gateway_code"),
            e.kind() == ErrorKind::Refused
        );
        assert_eq!(obj.contains_key("holder"), e.kind() == ErrorKind::Conflict);
        assert_eq!(obj.contains_key("os_error"), e.kind() == ErrorKind::Io);
        assert_eq!(
            obj.get("instructions"),
            e.instructions()
                .map(|i| serde_json::to_value(i).unwrap())
                .as_ref()
        );
    }
}

#[test]
fn json_carries_the_code_the_holder_and_the_os_error() {
    let errors = one_of_each();
    let refused = errors[3].to_json();
    assert_eq!(
        refused["gateway_code"],
        serde_json::json!({
            "method": "upnp",
            "number": 606,
            "name": "ActionNotAuthorized",
            "meaning": UpnpCode::NOT_AUTHORIZED.info().meaning,
            "advice": UpnpCode::NOT_AUTHORIZED.info().advice,
        })
    );
    assert_eq!(
        errors[4].to_json()["holder"],
        serde_json::json!({"internal": "192.168.77.20:8080", "description": "nas"})
    );
    let io = &errors[13];
    assert_eq!(io.os_error(), Some(2));
    assert_eq!(io.to_json()["os_error"], 2);
}

#[test]
fn clones_keep_the_message_and_the_source_chain() {
    for e in one_of_each() {
        let c = e.clone();
        assert_eq!(c.to_string(), e.to_string());
        assert_eq!(c.to_json(), e.to_json());
    }
    let e = Error::io("reading", io::Error::new(io::ErrorKind::NotFound, "gone"));
    let c = e.clone();
    let source = std::error::Error::source(&c).unwrap();
    assert_eq!(source.to_string(), "gone");
    assert_eq!(
        c.io_error().map(io::Error::kind),
        Some(io::ErrorKind::NotFound)
    );
}

#[test]
fn method_failures_come_from_errors() {
    let refused = &one_of_each()[3];
    let f = MethodFailure::from(refused);
    assert_eq!(f, MethodFailure::from_error(refused));
    assert_eq!(f.method, Some(Method::Upnp));
    assert_eq!(f.kind, ErrorKind::Refused);
    assert_eq!(
        f.code.as_deref(),
        Some("UPnP error 606 ActionNotAuthorized")
    );
}
