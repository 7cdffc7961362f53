//! The annotations a Service carries to ask for forwarding, and the ones the
//! controller writes back; [`Ask::parse`] reads the first kind, and says
//! exactly what is wrong with a bad one.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use pfwd_core::check::ProberUrl;
use pfwd_core::{Lease, Method};

/// The prefix of every pfwd annotation.
pub const PREFIX: &str = "pfwd.io/";
/// `"true"`: forward this Service's ports on the home router (required).
pub const FORWARD: &str = "pfwd.io/forward";
/// Which of the Service's ports: names or numbers, comma-separated
/// (default: every TCP and UDP port).
pub const PORTS: &str = "pfwd.io/ports";
/// The outside port per Service port: `http=80,8443=443` (`PORT=EXTERNAL`,
/// PORT a name or number; default: the Service's `port`).
pub const EXTERNAL_PORTS: &str = "pfwd.io/external-ports";
/// The lease asked for: `30m`, `2h`, `1d` (default 2h); renewed while the
/// controller runs, so a dead cluster leaves nothing open past it.
pub const LEASE: &str = "pfwd.io/lease";
/// The methods allowed, comma-separated: `pcp`, `natpmp`, `upnp` (default:
/// all three, the best one the router answers).
pub const METHODS: &str = "pfwd.io/methods";
/// A prober (`pfwd probe-server`) to check each mapping from outside:
/// `http://vps.example.net:8099`.
pub const CHECK_VIA: &str = "pfwd.io/check-via";
/// Which LAN address to forward to: `auto` (default: a LoadBalancer
/// address on the LAN if the Service has one, else a node and the
/// NodePort), `node` or `loadbalancer`.
pub const TARGET: &str = "pfwd.io/target";

/// Written by the controller: the outside address of each forwarded port,
/// `5.5.5.7:80/TCP,5.5.5.7:443/TCP` (the Service's port name or number
/// first: `http=5.5.5.7:80/TCP`).
pub const EXTERNAL: &str = "pfwd.io/external";
/// Written by the controller: one line on the state of the forwarding
/// (`2 of 2 ports forwarded`, or what is wrong).
pub const STATUS: &str = "pfwd.io/status";

/// Where a Service's ports should be forwarded to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Target {
    /// A LoadBalancer address on the LAN if there is one, else a node.
    #[default]
    Auto,
    /// A node's address and the NodePort.
    Node,
    /// The LoadBalancer address and the Service's port.
    LoadBalancer,
}

/// Which ports of a Service to forward.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PortSelection {
    /// Every TCP and UDP port of the Service.
    All,
    /// These, by name or number, in the order given.
    Only(Vec<PortRef>),
}

/// A Service port as an annotation names it: by name or by number.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortRef {
    /// The port's `name`.
    Name(String),
    /// The port's `port` number.
    Number(u16),
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRef::Name(n) => f.write_str(n),
            PortRef::Number(p) => write!(f, "{p}"),
        }
    }
}

/// What a Service asks for, read from its annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ask {
    /// Which ports.
    pub ports: PortSelection,
    /// The outside port per Service port, where not the Service's `port`.
    pub external: BTreeMap<PortRef, u16>,
    /// The lease to ask for.
    pub lease: Lease,
    /// The methods allowed (empty: all of them).
    pub methods: Vec<Method>,
    /// The prober to check from outside, if any (kept as written, checked
    /// to parse).
    pub check_via: Option<String>,
    /// Where to forward to.
    pub target: Target,
}

/// One thing wrong in a Service's annotations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnotationError {
    /// The annotation.
    pub annotation: &'static str,
    /// Its value as written.
    pub value: String,
    /// What is wrong and what to write instead.
    pub reason: String,
}

impl fmt::Display for AnnotationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}: {}", self.annotation, self.value, self.reason)
    }
}

/// Whether a Service asks for forwarding at all (`pfwd.io/forward` is
/// `true`, `yes`, `on` or `1`, in any case).
pub fn asks(annotations: &BTreeMap<String, String>) -> bool {
    annotations.get(FORWARD).is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "true" | "yes" | "on" | "1"
        )
    })
}

impl Ask {
    /// Read what a Service asks for from its annotations (call it when
    /// [`asks`] is true).
    ///
    /// # Errors
    ///
    /// Every annotation that is wrong, each with what to write instead.
    pub fn parse(annotations: &BTreeMap<String, String>) -> Result<Ask, Vec<AnnotationError>> {
        let mut errors = Vec::new();
        let mut fail = |annotation: &'static str, value: &str, reason: String| {
            errors.push(AnnotationError {
                annotation,
                value: value.to_string(),
                reason,
            })
        };
        let get = |key: &str| {
            annotations
                .get(key)
                .map(|v| v.trim())
                .filter(|v| !v.is_empty())
        };

        let ports = match get(PORTS) {
            None => PortSelection::All,
            Some(text) => {
                let mut refs = Vec::new();
                for item in text.split(',').map(str::trim) {
                    match port_ref(item) {
                        Ok(r) if !refs.contains(&r) => refs.push(r),
                        Ok(_) => {}
                        Err(reason) => fail(PORTS, text, reason),
                    }
                }
                PortSelection::Only(refs)
            }
        };

        let mut external = BTreeMap::new();
        if let Some(text) = get(EXTERNAL_PORTS) {
            for item in text.split(',').map(str::trim) {
                let Some((port, outside)) = item.split_once('=') else {
                    fail(
                        EXTERNAL_PORTS,
                        text,
                        format!(
                            "{item:?} has no `=`: write SERVICE-PORT=OUTSIDE-PORT, such as http=80 or 8443=443"
                        ),
                    );
                    continue;
                };
                match (port_ref(port.trim()), number(outside.trim())) {
                    (Ok(r), Ok(n)) => {
                        if external.insert(r.clone(), n).is_some() {
                            fail(EXTERNAL_PORTS, text, format!("{r} is given twice"));
                        }
                    }
                    (Err(reason), _) | (_, Err(reason)) => fail(EXTERNAL_PORTS, text, reason),
                }
            }
        }

        let lease = match get(LEASE) {
            None => Lease::Finite(pfwd_core::defaults::LEASE),
            Some(text) => match pfwd_core::parse::parse_lease(text) {
                Ok(Lease::Finite(d)) if d < MIN_LEASE => {
                    fail(
                        LEASE,
                        text,
                        format!(
                            "a lease shorter than {} s is renewed too often for a router; write 2m or more",
                            MIN_LEASE.as_secs()
                        ),
                    );
                    Lease::Finite(pfwd_core::defaults::LEASE)
                }
                Ok(l) => l,
                Err(e) => {
                    fail(LEASE, text, e.to_string());
                    Lease::Finite(pfwd_core::defaults::LEASE)
                }
            },
        };

        let mut methods = Vec::new();
        if let Some(text) = get(METHODS) {
            for item in text.split(',').map(str::trim) {
                match pfwd_core::parse::parse_method(item) {
                    Ok(Method::Manual) => fail(
                        METHODS,
                        text,
                        "`manual` is not a method to ask a router with; name pcp, natpmp or upnp (the guide comes by itself when none can map)".into(),
                    ),
                    Ok(m) if !methods.contains(&m) => methods.push(m),
                    Ok(_) => {}
                    Err(_) => fail(
                        METHODS,
                        text,
                        format!("{item:?} is not a method: write pcp, natpmp or upnp, comma-separated"),
                    ),
                }
            }
        }

        let check_via = match get(CHECK_VIA) {
            None => None,
            Some(text) => match text.parse::<ProberUrl>() {
                Ok(_) => Some(text.to_string()),
                Err(e) => {
                    fail(CHECK_VIA, text, e.to_string());
                    None
                }
            },
        };

        let target = match get(TARGET).map(str::to_ascii_lowercase).as_deref() {
            None | Some("auto") => Target::Auto,
            Some("node") | Some("nodeport") => Target::Node,
            Some("loadbalancer") | Some("load-balancer") | Some("lb") => Target::LoadBalancer,
            Some(_) => {
                fail(
                    TARGET,
                    get(TARGET).unwrap_or_default(),
                    "write auto, node or loadbalancer".into(),
                );
                Target::Auto
            }
        };

        if errors.is_empty() {
            Ok(Ask {
                ports,
                external,
                lease,
                methods,
                check_via,
                target,
            })
        } else {
            Err(errors)
        }
    }
}

/// The shortest lease an annotation may ask for. Routers clamp PCP leases
/// to 2 minutes or more anyway (miniupnpd's `min_lifetime`).
pub const MIN_LEASE: Duration = Duration::from_secs(120);

/// A port as a number, 1 to 65535.
fn number(text: &str) -> Result<u16, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        Ok(n) => Err(format!("port {n} is out of range: a port is 1 to 65535")),
        Err(_) => Err(format!("{text:?} is not a port number (1 to 65535)")),
    }
}

/// A Service port by number (digits) or by name (an IANA_SVC_NAME:
/// lower-case letters, digits and `-`, at most 15 characters).
fn port_ref(text: &str) -> Result<PortRef, String> {
    if text.is_empty() {
        return Err(
            "an empty port: name the Service's ports by name or number, comma-separated".into(),
        );
    }
    if text.chars().all(|c| c.is_ascii_digit()) {
        return number(text).map(PortRef::Number);
    }
    let valid = text.len() <= 15
        && text
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(PortRef::Name(text.to_string()))
    } else {
        Err(format!(
            "{text:?} is neither a port number nor a Service port name (lower-case letters, digits and -, at most 15)"
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn forward_must_say_yes() {
        assert!(asks(&annotations(&[(FORWARD, "true")])));
        assert!(asks(&annotations(&[(FORWARD, " Yes ")])));
        assert!(!asks(&annotations(&[(FORWARD, "false")])));
        assert!(!asks(&annotations(&[])));
    }

    #[test]
    fn defaults_when_only_forward_is_set() {
        let ask = Ask::parse(&annotations(&[(FORWARD, "true")])).unwrap();
        assert_eq!(ask.ports, PortSelection::All);
        assert!(ask.external.is_empty());
        assert_eq!(ask.lease, Lease::Finite(pfwd_core::defaults::LEASE));
        assert!(ask.methods.is_empty());
        assert_eq!(ask.target, Target::Auto);
    }

    #[test]
    fn every_annotation_is_read() {
        let ask = Ask::parse(&annotations(&[
            (FORWARD, "true"),
            (PORTS, "http, 8443,http"),
            (EXTERNAL_PORTS, "http=80, 8443=443"),
            (LEASE, "1h 30m"),
            (METHODS, "upnp,pcp"),
            (CHECK_VIA, "http://vps.example.net:8099"),
            (TARGET, "node"),
        ]))
        .unwrap();
        assert_eq!(
            ask.ports,
            PortSelection::Only(vec![PortRef::Name("http".into()), PortRef::Number(8443)])
        );
        assert_eq!(ask.external[&PortRef::Name("http".into())], 80);
        assert_eq!(ask.external[&PortRef::Number(8443)], 443);
        assert_eq!(ask.lease, Lease::Finite(Duration::from_secs(5400)));
        assert_eq!(ask.methods, vec![Method::Upnp, Method::Pcp]);
        assert_eq!(
            ask.check_via.as_deref(),
            Some("http://vps.example.net:8099")
        );
        assert_eq!(ask.target, Target::Node);
    }

    #[test]
    fn bad_values_are_each_named_with_what_to_write() {
        let errors = Ask::parse(&annotations(&[
            (FORWARD, "true"),
            (PORTS, "0,Web_Server"),
            (EXTERNAL_PORTS, "http=70000,https"),
            (LEASE, "soon"),
            (METHODS, "pcp,carrier-pigeon"),
            (TARGET, "everywhere"),
        ]))
        .unwrap_err();
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let all = text.join("\n");
        assert!(all.contains("port 0 is out of range"), "{all}");
        assert!(all.contains("\"Web_Server\" is neither"), "{all}");
        assert!(all.contains("port 70000 is out of range"), "{all}");
        assert!(all.contains("\"https\" has no `=`"), "{all}");
        assert!(all.contains("pfwd.io/lease: \"soon\""), "{all}");
        assert!(all.contains("\"carrier-pigeon\" is not a method"), "{all}");
        assert!(all.contains("write auto, node or loadbalancer"), "{all}");
        assert_eq!(errors.len(), 7, "{all}");
    }

    #[test]
    fn leases_too_short_zero_or_manual_method_are_refused() {
        for (key, value, says) in [
            (LEASE, "10s", "shorter than 120 s"),
            (LEASE, "0", "pfwd.io/lease"),
            (METHODS, "manual", "not a method to ask a router with"),
            (CHECK_VIA, "ftp://x", "pfwd.io/check-via"),
        ] {
            let errors = Ask::parse(&annotations(&[(FORWARD, "true"), (key, value)])).unwrap_err();
            assert_eq!(errors.len(), 1);
            assert!(errors[0].to_string().contains(says), "{}", errors[0]);
        }
    }

    #[test]
    fn a_permanent_lease_is_allowed() {
        let ask = Ask::parse(&annotations(&[(FORWARD, "true"), (LEASE, "forever")])).unwrap();
        assert_eq!(ask.lease, Lease::Permanent);
    }
}
