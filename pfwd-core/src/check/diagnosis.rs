//! From what a check observed ([`Facts`]) to what it means ([`Diagnosis`]),
//! in plain words. Pure rules, no I/O: each case has a test.

use std::net::IpAddr;

use serde::Serialize;

use super::messages::ProbeOutcome;
use super::report::{Facts, LanState, RouterState};
use crate::guide::external_address_warning;
use crate::model::Protocol;

/// What a check concluded, as a stable name (`diagnosis` in JSON).
///
/// # Examples
///
/// ```
/// use pfwd_core::check::Diagnosis;
///
/// assert_eq!(Diagnosis::ReachableUnverified.as_str(), "reachable_unverified");
/// assert!(Diagnosis::ReachableUnverified.reachable());
/// assert!(!Diagnosis::ReachableUnverified.verified()); // the token did not come back
/// assert!(Diagnosis::Reachable.verified());
/// assert!(!Diagnosis::DoubleNat.reachable());
/// assert_eq!(serde_json::to_value(Diagnosis::NotForwarded).unwrap(), "not_forwarded");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Diagnosis {
    /// Reachable, and verified: the token came back through the mapping to
    /// this host.
    Reachable,
    /// Something answered from outside, but pfwd could not tell what: the
    /// server holds the port, so pfwd could not listen there.
    ReachableUnverified,
    /// The router does not forward the port.
    NotForwarded,
    /// The router forwards the port, but nothing listens on the LAN host.
    NothingListening,
    /// Something answered on the public address, but not this host (the
    /// router's own admin page, a forward to another host).
    ReachedSomethingElse,
    /// The internet sees another address than the router's: a second NAT
    /// (the provider's carrier-grade NAT, or another router) sits in front.
    DoubleNat,
    /// The router holds the mapping and the internet sees the router's
    /// address, yet nothing arrived: blocked before the router (the
    /// provider) or by a firewall.
    BlockedUpstream,
    /// UDP without an answer while the server holds the port: nothing can
    /// tell whether the datagram arrived.
    Inconclusive,
    /// No prober was given: only the LAN-side steps ran.
    NotChecked,
}

impl Diagnosis {
    /// The stable name, as in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Diagnosis::Reachable => "reachable",
            Diagnosis::ReachableUnverified => "reachable_unverified",
            Diagnosis::NotForwarded => "not_forwarded",
            Diagnosis::NothingListening => "nothing_listening",
            Diagnosis::ReachedSomethingElse => "reached_something_else",
            Diagnosis::DoubleNat => "double_nat",
            Diagnosis::BlockedUpstream => "blocked_upstream",
            Diagnosis::Inconclusive => "inconclusive",
            Diagnosis::NotChecked => "not_checked",
        }
    }

    /// Whether something answered from outside and was not shown to be
    /// something else.
    pub fn reachable(self) -> bool {
        matches!(self, Diagnosis::Reachable | Diagnosis::ReachableUnverified)
    }

    /// Whether the path to this host is proven by the token.
    pub fn verified(self) -> bool {
        self == Diagnosis::Reachable
    }
}

impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How to run a check from outside, for a report that could not.
pub const HOW_TO_CHECK_FROM_OUTSIDE: &str = "To check from outside, run `pfwd probe-server --listen 0.0.0.0:8099` \
on a machine outside this network (a rented server, a friend's Pi) and pass `--via http://THAT-MACHINE:8099`; \
or open the address from a phone on mobile data (not on this network's Wi-Fi).";

/// What the facts mean, and the words for it.
///
/// A pure function: the facts can come from a real check
/// ([`check`][check-fn] fills them in) or be made up, as here.
///
/// # Examples
///
/// The router holds the mapping, yet the prober's connection timed out and
/// the internet sees another address than the router's, which is in the
/// provider's carrier-grade NAT range:
///
/// ```
/// use std::net::Ipv4Addr;
/// use pfwd_core::Protocol;
/// use pfwd_core::check::messages::{ProbeOutcome, ProbeReply};
/// use pfwd_core::check::{Diagnosis, Facts, LanState, RouterState, diagnose};
///
/// let facts = Facts {
///     protocol: Protocol::Tcp,
///     host: Ipv4Addr::new(192, 168, 1, 4),
///     port: 80,
///     external_port: 80,
///     host_is_local: true,
///     lan: LanState::Listening,
///     listen_error: None,
///     router: RouterState::Listed { external_port: 80, description: "pfwd http".into() },
///     router_address: Some(Ipv4Addr::new(100, 72, 1, 9)),
///     via: Some("http://203.0.113.50:8099".into()),
///     probe: Some(ProbeReply {
///         observed_address: Ipv4Addr::new(198, 51, 100, 23).into(),
///         protocol: Protocol::Tcp,
///         port: 80,
///         outcome: ProbeOutcome::TimedOut,
///         token_returned: false,
///         reply_sample: None,
///         elapsed_ms: 3000,
///     }),
///     token_seen: false,
/// };
/// let (diagnosis, words) = diagnose(&facts);
/// assert_eq!(diagnosis, Diagnosis::DoubleNat);
/// assert!(words.starts_with("Not reachable: the internet sees this network as 198.51.100.23"));
/// assert!(words.contains("carrier-grade NAT"));
///
/// // Without a prober, pfwd does not claim anything about the outside.
/// let unchecked = Facts { probe: None, via: None, ..facts };
/// assert_eq!(diagnose(&unchecked).0, Diagnosis::NotChecked);
/// ```
#[cfg_attr(feature = "runtime", doc = " \n [check-fn]: super::check")]
#[cfg_attr(not(feature = "runtime"), doc = " \n [check-fn]: crate#features")]
pub fn diagnose(f: &Facts) -> (Diagnosis, String) {
    let (diagnosis, mut text) = conclude(f);
    if f.lan == LanState::HeldByPfwd && diagnosis == Diagnosis::Reachable {
        text.push_str(&format!(
            " Nothing of yours listens on port {} yet: start your server there.",
            f.port
        ));
    }
    (diagnosis, text)
}

fn conclude(f: &Facts) -> (Diagnosis, String) {
    let what = format!("{} port {}", f.protocol, f.external_port);
    let target = format!("{}:{}", f.host, f.port);
    let Some(probe) = &f.probe else {
        let mut text = format!(
            "Not checked from outside, so pfwd does not say whether {what} can be reached. On the LAN: {}. \
             On the router: {}. {HOW_TO_CHECK_FROM_OUTSIDE}",
            lan_words(f),
            router_words(f)
        );
        if let Some(w) = f.router_address.and_then(external_address_warning) {
            text = format!("{} {text}", w.text);
        }
        return (Diagnosis::NotChecked, text);
    };
    let seen = probe.observed_address;
    let at = format!("{seen}:{}", f.external_port);
    let via = f.via.as_deref().unwrap_or("the prober");
    if f.token_seen {
        let mut text = format!(
            "Reachable: the prober at {via} reached {at} and the one-time token came back \
             through the mapping to {target}."
        );
        if let Some(router) = f.router_address
            && seen != IpAddr::V4(router)
        {
            text.push_str(&format!(
                " The internet sees this network as {seen}, not as the router's {router}: \
                 give people {seen}."
            ));
        }
        return (Diagnosis::Reachable, text);
    }
    if probe.outcome.got_through() {
        let answered = match &probe.reply_sample {
            Some(s) => format!(" It answered {s:?}."),
            None => String::new(),
        };
        if f.lan == LanState::HeldByPfwd {
            return (
                Diagnosis::ReachedSomethingElse,
                format!(
                    "Not reachable: something at {at} took the prober's {}, but it was not this host: \
                     pfwd listened on {target} and nothing arrived.{answered} Often this is the router's \
                     own remote administration on that port, or a forward to another host. Turn \
                     remote administration off, remove the other forward, or use another outside port.",
                    contact(f.protocol)
                ),
            );
        }
        let why = if f.host_is_local {
            format!(
                "your server holds port {}, so pfwd could not listen there to prove it",
                f.port
            )
        } else {
            format!(
                "{} is another host, so pfwd could not listen there to prove it",
                f.host
            )
        };
        return (
            Diagnosis::ReachableUnverified,
            format!(
                "Reachable, not verified: something at {at} took the prober's {}, and the router \
                 forwards it to {target}; {why} was your server.{answered}",
                contact(f.protocol)
            ),
        );
    }
    if let Some(router) = f.router_address
        && seen != IpAddr::V4(router)
    {
        let mut text = format!(
            "Not reachable: the internet sees this network as {seen}, but the router's internet \
             address is {router}. Another NAT sits between the router and the internet, so a \
             port forwarded on your router cannot be reached from outside."
        );
        match external_address_warning(router) {
            Some(w) => text.push_str(&format!(" {}", w.text)),
            None => text.push_str(
                " Ask the provider for a public IPv4 address, forward the port on the device in \
                 front too, use IPv6 if the provider offers it, or use a tunnel (WireGuard to a \
                 rented server, Cloudflare Tunnel, Tailscale Funnel).",
            ),
        }
        return (Diagnosis::DoubleNat, text);
    }
    let outcome = outcome_words(probe.outcome);
    let not_held = match &f.router {
        RouterState::NotListed => Some("the router does not list a mapping for it".to_string()),
        RouterState::Unknown { why } => Some(format!(
            "pfwd could not ask the router whether it forwards it ({why})"
        )),
        RouterState::Listed { .. } | RouterState::Recorded { .. } => None,
    };
    if let Some(router) = not_held {
        let nothing = if f.lan == LanState::NothingListening {
            format!(" Nothing listens on {target} either: start the server.")
        } else {
            String::new()
        };
        return (
            Diagnosis::NotForwarded,
            format!(
                "Not reachable: {what} is not forwarded. The prober's {} to {at} {outcome}, and \
                 {router}. Forward it: `{}`.{nothing}",
                contact(f.protocol),
                map_command(f)
            ),
        );
    }
    let refused = probe.outcome == ProbeOutcome::Refused;
    if refused && f.lan == LanState::NothingListening {
        return (
            Diagnosis::NothingListening,
            format!(
                "Not reachable: the router forwards {what} to {target}, but nothing listens there \
                 (the prober's connection was refused, and so was pfwd's on the LAN). Start the \
                 server, and make it listen on {} or 0.0.0.0, not only on 127.0.0.1.",
                f.host
            ),
        );
    }
    if f.protocol == Protocol::Udp && f.lan != LanState::HeldByPfwd && !refused {
        return (
            Diagnosis::Inconclusive,
            format!(
                "Could not tell: the router forwards {what} to {target}, but the prober's token \
                 datagram to {at} got no answer. UDP has no handshake, and {} holds the port, so \
                 pfwd could not listen to see whether it arrived. Stop the server for a moment and \
                 check again, or look in its log for a datagram of 16 to 64 letters.",
                if f.host_is_local {
                    "your server"
                } else {
                    "another host"
                }
            ),
        );
    }
    (
        Diagnosis::BlockedUpstream,
        format!(
            "Not reachable: the router forwards {what} to {target} and the internet sees the \
             router's own address, yet the prober's {} {outcome}. Something before the router (the \
             provider blocks some ports, often 25, 80 and 445) or a firewall (on the router, or on \
             {}) stops it. Try another outside port (`--external 8080`), and check the host's \
             firewall (`nft list ruleset`, `ufw status`).",
            contact(f.protocol),
            f.host
        ),
    )
}

fn contact(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "connection",
        Protocol::Udp => "datagram",
    }
}

/// The `pfwd map` command that forwards what was checked.
fn map_command(f: &Facts) -> String {
    let to = if f.external_port == f.port {
        format!("{}", f.host)
    } else {
        format!("{}:{}", f.host, f.port)
    };
    format!(
        "pfwd map {} --to {to}{}",
        f.external_port,
        udp_flag(f.protocol)
    )
}

fn udp_flag(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::Tcp => "",
        Protocol::Udp => " --udp",
    }
}

fn outcome_words(outcome: ProbeOutcome) -> &'static str {
    match outcome {
        ProbeOutcome::Accepted => "was accepted",
        ProbeOutcome::Answered => "got an answer",
        ProbeOutcome::Refused => "was refused",
        ProbeOutcome::TimedOut => "timed out",
        ProbeOutcome::NoAnswer => "got no answer",
        ProbeOutcome::Unreachable => "found the address unreachable",
    }
}

fn lan_words(f: &Facts) -> String {
    let target = format!("{}:{}", f.host, f.port);
    match &f.lan {
        LanState::Listening => format!("a server listens on {target}"),
        LanState::NothingListening => match &f.listen_error {
            Some(e) => {
                format!("nothing listens on {target} (and pfwd could not listen there: {e})")
            }
            None => format!("nothing listens on {target}"),
        },
        LanState::HeldByPfwd => format!("nothing listens on {target} yet"),
        LanState::Unknown { why } => {
            format!("not known whether anything listens on {target} ({why})")
        }
    }
}

fn router_words(f: &Facts) -> String {
    match &f.router {
        RouterState::Listed { external_port, .. } => format!(
            "it forwards {} port {external_port} to {}:{}",
            f.protocol, f.host, f.port
        ),
        RouterState::Recorded {
            method,
            external_port,
            kept_by,
        } => format!(
            "pfwd mapped {} port {external_port} there by {method}{} (the router cannot list it)",
            f.protocol,
            kept_by
                .map(|p| format!(", kept by process {p}"))
                .unwrap_or_default()
        ),
        RouterState::NotListed => "it does not forward this port".to_string(),
        RouterState::Unknown { why } => format!("not known ({why})"),
    }
}

#[cfg(test)]
mod tests;
