//! [`Instructions`] as plain text for a terminal, Markdown, and JSON.

use crate::mapping::Family;
use std::fmt::Write;

use serde::Serializer;

use super::Instructions;
use crate::code::ErrorKind;

pub(super) fn kind_name<S: Serializer>(kind: &ErrorKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.name())
}

impl Instructions {
    /// One line per rule: "TCP port 80 -> 192.168.1.4:80" (an IPv6 server
    /// as `[2001:db8::4]:80`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::guide::{GuideContext, Instructions};
    /// use pfwd_core::Protocol;
    ///
    /// let server = Some(Ipv4Addr::new(192, 168, 1, 53).into());
    /// let dns = Instructions::build(&GuideContext::default(), &[Protocol::Tcp, Protocol::Udp], 53, server, 53);
    /// assert_eq!(dns.rule_lines(), ["TCP port 53 -> 192.168.1.53:53", "UDP port 53 -> 192.168.1.53:53"]);
    /// ```
    pub fn rule_lines(&self) -> Vec<String> {
        self.rules
            .iter()
            .map(|r| {
                format!(
                    "{} port {} -> {}",
                    r.protocol,
                    r.external_port,
                    std::net::SocketAddr::new(r.internal_ip, r.internal_port)
                )
            })
            .collect()
    }

    fn title(&self) -> String {
        let what = self
            .service
            .map_or_else(String::new, |s| format!(" for {} ({})", s.title, s.name));
        match self.family {
            Family::Ipv4 => format!("Forward a port by hand{what}"),
            Family::Ipv6 => format!("Open a port in the router's IPv6 firewall by hand{what}"),
        }
    }

    /// What a rule line is: forwarded (IPv4), or let in (IPv6).
    fn rule_label(&self) -> &'static str {
        match self.family {
            Family::Ipv4 => "Forward",
            Family::Ipv6 => "Allow incoming",
        }
    }

    /// The router's name ("TP-Link Archer C7 5.0", from its UPnP description,
    /// so untrusted text) and its LAN address, each "not known" when unknown.
    fn router_value(&self) -> (String, String) {
        let name = self
            .router
            .router
            .as_ref()
            .and_then(|r| r.display_name())
            .unwrap_or_else(|| "not known".into());
        let address = self
            .router
            .address
            .map_or_else(|| "not known".to_string(), |a| a.to_string());
        (name, address)
    }

    /// The lists after the header, in reading order, shared by the text and
    /// Markdown renderers so both walk the guide the same way. Empty lists
    /// are left out when rendered.
    fn lists(&self) -> [List<'_>; 5] {
        [
            List {
                heading: "Why pfwd could not do it".into(),
                style: Style::Bullet,
                items: self.reasons.iter().map(|r| r.reason.as_str()).collect(),
            },
            List {
                heading: "Before you start".into(),
                style: Style::Warning,
                items: self.warnings.iter().map(|w| w.text.as_str()).collect(),
            },
            List {
                heading: format!("Steps ({})", self.router.vendor),
                style: Style::Numbered,
                items: strs(&self.steps),
            },
            List {
                heading: "Or from the router's shell".into(),
                style: Style::Commands,
                items: strs(&self.commands),
            },
            List {
                heading: "Check that it works".into(),
                style: Style::Bullet,
                items: strs(&self.verify),
            },
        ]
    }

    /// The guide as plain text for a terminal.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::guide::{GuideContext, Instructions};
    /// use pfwd_core::Protocol;
    ///
    /// let server = Some(Ipv4Addr::new(192, 168, 1, 4).into());
    /// let guide = Instructions::build(&GuideContext::default(), &[Protocol::Tcp], 22, server, 22);
    /// let text = guide.to_text();
    /// let mut lines = text.lines();
    /// assert_eq!(lines.next(), Some("Forward a port by hand for Secure shell (SSH) (ssh)"));
    /// assert!(lines.next().is_some_and(|l| l.chars().all(|c| c == '=')));
    /// assert_eq!(lines.next(), Some("Forward: TCP port 22 -> 192.168.1.4:22"));
    /// assert_eq!(lines.next(), Some("Router: not known, at not known"));
    /// assert!(text.contains("\nSteps (your router):\n  1. On a device at home, open the router's settings"));
    /// ```
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let title = self.title();
        let _ = writeln!(t, "{title}\n{}", "=".repeat(title.len()));
        for line in self.rule_lines() {
            let _ = writeln!(t, "{}: {line}", self.rule_label());
        }
        let (name, address) = self.router_value();
        let _ = writeln!(t, "Router: {name}, at {address}");
        if let Some(url) = self.router.admin_urls.first() {
            let _ = writeln!(t, "Settings page: {url}");
        }
        for list in self.lists().iter().filter(|l| !l.items.is_empty()) {
            let _ = writeln!(t, "\n{}:", list.heading);
            for (i, item) in list.items.iter().enumerate() {
                let _ = match list.style {
                    Style::Bullet => writeln!(t, "  - {item}"),
                    Style::Warning => writeln!(t, "  ! {item}"),
                    Style::Numbered => writeln!(t, "  {}. {item}", i + 1),
                    Style::Commands => writeln!(t, "    {item}"),
                };
            }
        }
        t
    }

    /// The guide as Markdown.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::guide::{GuideContext, Instructions};
    /// use pfwd_core::Protocol;
    ///
    /// let server = Some(Ipv4Addr::new(192, 168, 1, 4).into());
    /// let guide = Instructions::build(&GuideContext::default(), &[Protocol::Tcp], 80, server, 80);
    /// let md = guide.to_markdown();
    /// assert!(md.starts_with("# Forward a port by hand for Web server (HTTP) (http)\n\n"));
    /// assert!(md.contains("- **Forward:** TCP port 80 -> 192.168.1.4:80\n"));
    /// assert!(md.contains("\n## Check that it works\n"));
    /// ```
    pub fn to_markdown(&self) -> String {
        let mut m = String::new();
        let _ = writeln!(m, "# {}\n", self.title());
        for line in self.rule_lines() {
            let _ = writeln!(m, "- **{}:** {line}", self.rule_label());
        }
        let (name, address) = self.router_value();
        let _ = writeln!(m, "- **Router:** {}, at {address}", markdown_escape(&name));
        for url in &self.router.admin_urls {
            let _ = writeln!(m, "- **Settings page:** <{url}>");
        }
        for list in self.lists().iter().filter(|l| !l.items.is_empty()) {
            if list.style == Style::Commands {
                let _ = writeln!(m, "\n{}:\n\n```sh", list.heading);
            } else {
                let _ = writeln!(m, "\n## {}\n", list.heading);
            }
            for (i, item) in list.items.iter().enumerate() {
                let _ = match list.style {
                    Style::Bullet => writeln!(m, "- {item}"),
                    Style::Warning => writeln!(m, "> **Warning:** {item}\n"),
                    Style::Numbered => writeln!(m, "{}. {item}", i + 1),
                    Style::Commands => writeln!(m, "{item}"),
                };
            }
            if list.style == Style::Commands {
                let _ = writeln!(m, "```");
            }
        }
        m
    }

    /// The guide as JSON (pretty-printed), for programs and the bindings.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::net::Ipv4Addr;
    /// use pfwd_core::guide::{GuideContext, Instructions};
    /// use pfwd_core::Protocol;
    ///
    /// let server = Some(Ipv4Addr::new(192, 168, 1, 4).into());
    /// let guide = Instructions::build(&GuideContext::default(), &[Protocol::Tcp], 8080, server, 80);
    /// let json: serde_json::Value = serde_json::from_str(&guide.to_json())?;
    /// assert_eq!(json["family"], "ipv4");
    /// assert_eq!(json["rules"][0]["protocol"], "tcp");
    /// assert_eq!(json["rules"][0]["external_port"], 8080);
    /// assert_eq!(json["rules"][0]["internal_ip"], "192.168.1.4");
    /// assert_eq!(json["router"]["vendor"], "your router");
    /// # Ok::<(), serde_json::Error>(())
    /// ```
    pub fn to_json(&self) -> String {
        // Every field is a plain value: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

/// One titled list of the guide.
struct List<'a> {
    heading: String,
    style: Style,
    items: Vec<&'a str>,
}

/// How a [`List`]'s items are marked.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Style {
    Bullet,
    Warning,
    Numbered,
    /// Shell commands, verbatim (a code block in Markdown).
    Commands,
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// `text` with the characters that Markdown would read as emphasis, code,
/// links or HTML backslash-escaped, so a router's name shows as it is.
fn markdown_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
