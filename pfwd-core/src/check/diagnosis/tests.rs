use std::net::Ipv4Addr;

use super::*;
use crate::check::messages::ProbeReply;
use crate::model::Method;

const ROUTER: Ipv4Addr = Ipv4Addr::new(5, 5, 5, 7);

fn facts(protocol: Protocol, lan: LanState, router: RouterState) -> Facts {
    Facts {
        protocol,
        host: Ipv4Addr::new(192, 168, 77, 10),
        port: 8080,
        external_port: 8080,
        host_is_local: true,
        lan,
        listen_error: None,
        router,
        router_address: Some(ROUTER),
        via: Some("http://5.5.5.1:8099".into()),
        probe: None,
        token_seen: false,
    }
}

fn probed(mut f: Facts, seen: Ipv4Addr, outcome: ProbeOutcome, token: bool) -> Facts {
    f.probe = Some(ProbeReply {
        observed_address: seen.into(),
        protocol: f.protocol,
        port: f.external_port,
        outcome,
        token_returned: token,
        reply_sample: None,
        elapsed_ms: 3,
    });
    f.token_seen = token && f.lan == LanState::HeldByPfwd;
    f
}

fn listed() -> RouterState {
    RouterState::Listed {
        external_port: 8080,
        description: "pfwd".into(),
    }
}

#[test]
fn the_token_through_the_mapping_is_reachable_and_verified() {
    let f = probed(
        facts(Protocol::Tcp, LanState::HeldByPfwd, listed()),
        ROUTER,
        ProbeOutcome::Accepted,
        true,
    );
    let (d, text) = diagnose(&f);
    assert_eq!(d, Diagnosis::Reachable);
    assert!(d.reachable() && d.verified());
    assert!(text.contains("one-time token came back"), "{text}");
    assert!(text.contains("start your server"), "{text}");
}

#[test]
fn the_real_server_answering_is_reachable_but_not_verified() {
    let mut f = probed(
        facts(Protocol::Tcp, LanState::Listening, listed()),
        ROUTER,
        ProbeOutcome::Accepted,
        false,
    );
    f.probe.as_mut().unwrap().reply_sample = Some("HTTP/1.1 400 Bad Request".into());
    let (d, text) = diagnose(&f);
    assert_eq!(d, Diagnosis::ReachableUnverified);
    assert!(d.reachable() && !d.verified());
    assert!(text.contains("could not listen there"), "{text}");
    assert!(text.contains("HTTP/1.1 400"), "{text}");
}

#[test]
fn something_else_answering_while_pfwd_listens_is_named() {
    let f = probed(
        facts(Protocol::Tcp, LanState::HeldByPfwd, RouterState::NotListed),
        ROUTER,
        ProbeOutcome::Accepted,
        false,
    );
    let (d, text) = diagnose(&f);
    assert_eq!(d, Diagnosis::ReachedSomethingElse);
    assert!(!d.reachable());
    assert!(text.contains("remote administration"), "{text}");
}

#[test]
fn a_refusal_without_a_mapping_is_not_forwarded() {
    for router in [
        RouterState::NotListed,
        RouterState::Unknown {
            why: "no UPnP".into(),
        },
    ] {
        let f = probed(
            facts(Protocol::Tcp, LanState::HeldByPfwd, router),
            ROUTER,
            ProbeOutcome::Refused,
            false,
        );
        let (d, text) = diagnose(&f);
        assert_eq!(d, Diagnosis::NotForwarded);
        assert!(text.contains("pfwd map 8080 --to 192.168.77.10"), "{text}");
    }
    let mut f = facts(Protocol::Tcp, LanState::HeldByPfwd, RouterState::NotListed);
    f.external_port = 80;
    let (_, text) = diagnose(&probed(f, ROUTER, ProbeOutcome::Refused, false));
    assert!(
        text.contains("`pfwd map 80 --to 192.168.77.10:8080`"),
        "{text}"
    );
    let f = probed(
        facts(Protocol::Udp, LanState::HeldByPfwd, RouterState::NotListed),
        ROUTER,
        ProbeOutcome::NoAnswer,
        false,
    );
    let (d, text) = diagnose(&f);
    assert_eq!(d, Diagnosis::NotForwarded);
    assert!(text.contains("--udp"), "{text}");
}

#[test]
fn a_mapping_to_nothing_is_nothing_listening() {
    let mut f = facts(Protocol::Tcp, LanState::NothingListening, listed());
    f.host_is_local = false;
    let f = probed(f, ROUTER, ProbeOutcome::Refused, false);
    let (d, text) = diagnose(&f);
    assert_eq!(d, Diagnosis::NothingListening);
    assert!(text.contains("127.0.0.1"), "{text}");
}

#[test]
fn another_address_outside_is_double_nat_with_what_to_do() {
    let mut f = facts(Protocol::Tcp, LanState::HeldByPfwd, listed());
    f.router_address = Some(Ipv4Addr::new(100, 64, 0, 2));
    let f = probed(f, ROUTER, ProbeOutcome::Refused, false);
    let (d, text) = diagnose(&f);
    assert_eq!(d, Diagnosis::DoubleNat);
    assert!(text.contains("sees this network as 5.5.5.7"), "{text}");
    assert!(text.contains("carrier-grade NAT"), "{text}");
    assert!(text.contains("IPv6"), "{text}");
}

#[test]
fn silence_through_a_held_mapping_is_blocked_upstream() {
    let f = probed(
        facts(
            Protocol::Tcp,
            LanState::HeldByPfwd,
            RouterState::Recorded {
                method: Method::Pcp,
                external_port: 8080,
                kept_by: Some(42),
            },
        ),
        ROUTER,
        ProbeOutcome::TimedOut,
        false,
    );
    let (d, text) = diagnose(&f);
    assert_eq!(d, Diagnosis::BlockedUpstream);
    assert!(text.contains("timed out"), "{text}");
    assert!(text.contains("--external"), "{text}");
}

#[test]
fn udp_silence_while_the_server_holds_the_port_is_inconclusive() {
    let f = probed(
        facts(Protocol::Udp, LanState::Listening, listed()),
        ROUTER,
        ProbeOutcome::NoAnswer,
        false,
    );
    let (d, text) = diagnose(&f);
    assert_eq!(d, Diagnosis::Inconclusive);
    assert!(!d.reachable());
    assert!(text.contains("UDP has no handshake"), "{text}");
}

#[test]
fn without_a_prober_nothing_is_called_open() {
    let mut f = facts(Protocol::Tcp, LanState::Listening, listed());
    f.via = None;
    let (d, text) = diagnose(&f);
    assert_eq!(d, Diagnosis::NotChecked);
    assert!(!d.reachable());
    assert!(text.contains("pfwd probe-server"), "{text}");
    assert!(text.contains("mobile data"), "{text}");
    assert!(!text.to_lowercase().contains(" open."), "{text}");
    f.router_address = Some(Ipv4Addr::new(100, 100, 1, 1));
    let (_, text) = diagnose(&f);
    assert!(
        text.starts_with("The router's internet address 100.100.1.1"),
        "{text}"
    );
}
