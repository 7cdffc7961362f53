//! The `pfwd run` config file (TOML): settings, and a `[[forward]]` table
//! per mapping. Every mistake is reported with the entry and what to write.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use pfwd_core::check::ProberUrl;
use pfwd_core::defaults::{CHECK_INTERVAL, KEPT_LEASE, MIN_CHECK_INTERVAL};
use pfwd_core::parse::{parse_duration, parse_lease, parse_method, parse_transports};
use pfwd_core::{Lease, Method};
use serde::Deserialize;

use crate::target::Target;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    lease: Option<String>,
    check: Option<String>,
    check_via: Option<String>,
    method: Option<Vec<String>>,
    gateway: Option<String>,
    #[serde(default)]
    forward: Vec<FileEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    name: Option<String>,
    service: Option<String>,
    port: Option<toml::Value>,
    to: Option<String>,
    protocol: Option<String>,
    external: Option<toml::Value>,
    description: Option<String>,
    lease: Option<String>,
    family: Option<String>,
}

/// The settings that apply to every mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How often to check that the router still holds the mappings.
    pub check: Duration,
    /// Only these methods (empty: all).
    pub methods: Vec<Method>,
    /// The router, when not the default gateway.
    pub gateway: Option<Ipv4Addr>,
    /// The prober to check each mapping through when it is made or
    /// restored (`check_via = "http://HOST:8099"`).
    pub check_via: Option<ProberUrl>,
}

/// One `[[forward]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its name in the log (`name`, else the description).
    pub name: String,
    /// What to forward.
    pub target: Target,
}

/// A parsed config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The settings.
    pub settings: Settings,
    /// The mappings.
    pub entries: Vec<Entry>,
}

/// Read and check the config file at `path`.
///
/// # Errors
///
/// One line naming the file, the entry and the mistake.
pub fn load(path: &Path) -> Result<Config, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the config file {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parse a config file's text.
///
/// # Errors
///
/// One line naming the entry and the mistake.
pub fn parse(text: &str) -> Result<Config, String> {
    let file: FileSettings = toml::from_str(text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
        match line {
            Some(l) => format!("line {l}: {}", e.message().trim()),
            None => e.message().trim().to_string(),
        }
    })?;
    let lease = match &file.lease {
        Some(l) => parse_lease(l).map_err(|e| format!("lease: {e}"))?,
        None => Lease::Finite(KEPT_LEASE),
    };
    let check = match &file.check {
        Some(c) => parse_duration(c).map_err(|e| format!("check: {e}"))?,
        None => CHECK_INTERVAL,
    };
    if check < MIN_CHECK_INTERVAL {
        return Err(format!(
            "check: checking more often than every {} ms would flood the router; \
             write 100ms or more (30s is usual)",
            MIN_CHECK_INTERVAL.as_millis()
        ));
    }
    let methods = file
        .method
        .unwrap_or_default()
        .iter()
        .map(|m| match parse_method(m) {
            Ok(Method::Manual) => Err(
                "method: \"manual\" is not a method pfwd can use; write \"pcp\", \"natpmp\" or \"upnp\""
                    .to_string(),
            ),
            Ok(m) => Ok(m),
            Err(e) => Err(format!("method: {e}")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let gateway = file
        .gateway
        .as_deref()
        .map(|g| {
            g.parse::<Ipv4Addr>().map_err(|_| {
                format!("gateway: {g:?} is not an IPv4 address: write the router's LAN address, such as \"192.168.1.1\"")
            })
        })
        .transpose()?;
    let check_via = file
        .check_via
        .as_deref()
        .map(|v| {
            v.parse::<ProberUrl>()
                .map_err(|e| format!("check_via: {}", e.reason))
        })
        .transpose()?;
    if file.forward.is_empty() {
        return Err("no [[forward]] entries: add one per mapping, such as\n[[forward]]\nservice = \"http\"\nto = \"192.168.1.4\"".replace('\n', " "));
    }
    let mut entries: Vec<Entry> = Vec::new();
    for (i, e) in file.forward.iter().enumerate() {
        let entry = entry(e, lease).map_err(|m| format!("[[forward]] number {}: {m}", i + 1))?;
        if let Some(dup) = entries.iter().find(|o| o.name == entry.name) {
            return Err(format!(
                "[[forward]] number {}: the name {:?} is used twice; give each entry its own `name`",
                i + 1,
                dup.name
            ));
        }
        entries.push(entry);
    }
    Ok(Config {
        settings: Settings {
            check,
            methods,
            gateway,
            check_via,
        },
        entries,
    })
}

fn entry(e: &FileEntry, default_lease: Lease) -> Result<Entry, String> {
    let port = match (&e.service, &e.port) {
        (Some(s), None) => s.clone(),
        (None, Some(toml::Value::Integer(n))) => n.to_string(),
        (None, Some(toml::Value::String(s))) => s.clone(),
        (None, Some(other)) => {
            return Err(format!(
                "port = {} is not a port: write a number such as 8080",
                other.type_str()
            ));
        }
        (Some(_), Some(_)) => {
            return Err("give `service` or `port`, not both".into());
        }
        (None, None) => {
            return Err("say what to forward: `service = \"http\"` or `port = 8080`".into());
        }
    };
    let protocols = e
        .protocol
        .as_deref()
        .map(parse_transports)
        .transpose()
        .map_err(|err| err.reason)?;
    let external = match &e.external {
        None => None,
        Some(toml::Value::Integer(n)) => Some(n.to_string()),
        Some(toml::Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(format!(
                "external is a {}: write a port number, or \"any\"",
                other.type_str()
            ));
        }
    };
    let lease = match &e.lease {
        Some(l) => parse_lease(l).map_err(|err| format!("lease: {err}"))?,
        None => default_lease,
    };
    let family = match e.family.as_deref().map(str::trim) {
        None | Some("auto") => None,
        Some(f) => Some(f.parse::<pfwd_core::Family>().map_err(|err| {
            format!(
                "family: {}, or \"auto\" (both where IPv6 works)",
                err.reason
            )
        })?),
    };
    let target = crate::target::parse(
        &port,
        e.to.as_deref(),
        protocols,
        external.as_deref(),
        lease,
        e.description.as_deref(),
        family,
    )
    .map_err(|err| err.reason)?;
    let name = e
        .name
        .clone()
        .or_else(|| e.description.clone())
        .unwrap_or_else(|| match target.host {
            Some(h) => format!("{port}@{h}"),
            None => port.clone(),
        });
    Ok(Entry { name, target })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_config_parses() {
        let c = parse(
            r#"
lease = "2h"
check = "10s"
check_via = "http://203.0.113.9:8099"
method = ["pcp", "upnp"]

[[forward]]
service = "http"
to = "192.168.1.4"
description = "pi4 web"

[[forward]]
port = 25565
to = "192.168.1.5:25566"
protocol = "both"
external = "any"
name = "minecraft"

[[forward]]
service = "wireguard"
lease = "forever"
"#,
        )
        .unwrap();
        assert_eq!(c.settings.check, Duration::from_secs(10));
        assert_eq!(
            c.settings.check_via.as_ref().map(ToString::to_string),
            Some("http://203.0.113.9:8099".to_string())
        );
        assert_eq!(c.settings.methods, vec![Method::Pcp, Method::Upnp]);
        assert_eq!(c.entries.len(), 3);
        assert_eq!(c.entries[0].name, "pi4 web");
        assert_eq!(
            c.entries[0].target.lease,
            Lease::Finite(Duration::from_secs(7200))
        );
        assert_eq!(c.entries[1].target.internal_port, 25566);
        assert_eq!(c.entries[1].target.protocols.len(), 2);
        assert_eq!(c.entries[2].name, "wireguard");
        assert_eq!(c.entries[2].target.lease, Lease::Permanent);
    }

    #[test]
    fn the_example_config_parses() {
        let c = parse(include_str!("../../examples/pfwd.toml")).unwrap();
        let names: Vec<&str> = c.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["pi4 web", "pi4 web tls", "minecraft", "wireguard"]);
        assert_eq!(c.settings.check, CHECK_INTERVAL);
        // Kept mappings get the kept lease, as with `pfwd map`.
        assert_eq!(c.entries[0].target.lease, Lease::Finite(KEPT_LEASE));
    }

    #[test]
    fn mistakes_name_the_entry_and_the_fix() {
        let err = |t: &str| parse(t).unwrap_err();
        assert!(err("").contains("no [[forward]]"));
        assert!(
            err("check_via = \"https://x\"\n[[forward]]\nport = 1\n").contains(
                "check_via: \"https://x\" is not a prober address: pfwd speaks plain HTTP"
            )
        );
        assert!(
            err("[[forward]]\nport = 70000\n").contains("number 1: port 70000 is out of range")
        );
        assert!(err("[[forward]]\nservice = \"nope\"\n").contains("unknown service"));
        assert!(
            err("[[forward]]\nservice = \"http\"\nto = \"1.2.3.400\"\n").contains("not an IPv4")
        );
        assert!(err("[[forward]]\nservice = \"http\"\nprotocol = \"sctp\"\n").contains("\"both\""));
        assert!(err("[[forward]]\nservice = \"http\"\ncolour = 1\n").contains("line 3"));
        assert!(err("check = \"1ms\"\n[[forward]]\nport = 1\n").contains("100 ms"));
        assert!(err("[[forward]]\nport = 80\n[[forward]]\nport = 80\n").contains("twice"));
        assert!(err("method = [\"smoke\"]\n[[forward]]\nport = 1\n").contains("unknown method"));
        assert!(err("method = [\"manual\"]\n[[forward]]\nport = 1\n").contains("\"upnp\""));
        assert!(!err("[[forward]]\nservice = \"http\"\ncolour = 1\n").contains('\n'));
        assert!(err("[[forward]]\nport = 80\nfamily = \"ipv5\"\n").contains("\"auto\""));
        assert!(
            err("[[forward]]\nport = 80\nto = \"192.168.1.4\"\nfamily = \"ipv6\"\n")
                .contains("is an IPv4 address, and IPv6 was asked for")
        );
    }

    #[test]
    fn entries_take_a_family() {
        let c = parse(
            "[[forward]]\nport = 8080\n\n[[forward]]\nport = 8443\nfamily = \"ipv6\"\n\n\
             [[forward]]\nport = 9000\nfamily = \"ipv4\"\n\n[[forward]]\nport = 9001\n\
             family = \"auto\"\n\n[[forward]]\nport = 9002\nto = \"[2001:db8::4]:22\"\n",
        )
        .unwrap();
        let t: Vec<_> = c.entries.iter().map(|e| &e.target).collect();
        assert!(t[0].ipv6_also() && t[3].ipv6_also());
        assert_eq!(t[1].family, Some(pfwd_core::Family::Ipv6));
        assert_eq!(
            t[1].requests().unwrap()[0].family(),
            pfwd_core::Family::Ipv6
        );
        assert!(!t[2].ipv6_also());
        assert_eq!(t[4].family, Some(pfwd_core::Family::Ipv6));
        assert_eq!(t[4].internal_port, 22);
    }
}
