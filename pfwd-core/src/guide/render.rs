//! [`Instructions`] as plain text for a terminal, Markdown, and JSON.

use std::fmt::Write;

use serde::Serializer;

use super::Instructions;
use crate::error::ErrorKind;

pub(super) fn kind_name<S: Serializer>(kind: &ErrorKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(kind.name())
}

impl Instructions {
    /// One line per rule: "TCP port 80 -> 192.168.1.4:80".
    pub fn rule_lines(&self) -> Vec<String> {
        self.rules
            .iter()
            .map(|r| {
                format!(
                    "{} port {} -> {}:{}",
                    r.protocol, r.external_port, r.internal_ip, r.internal_port
                )
            })
            .collect()
    }

    fn title(&self) -> String {
        let what = self
            .service
            .map_or_else(String::new, |s| format!(" for {} ({})", s.title, s.name));
        format!("Forward a port by hand{what}")
    }

    fn router_line(&self) -> String {
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
        format!("Router: {name}, at {address}")
    }

    /// The guide as plain text for a terminal.
    pub fn to_text(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(t, "{}", self.title());
        let _ = writeln!(t, "{}", "=".repeat(self.title().len()));
        for line in self.rule_lines() {
            let _ = writeln!(t, "Forward: {line}");
        }
        let _ = writeln!(t, "{}", self.router_line());
        if let Some(url) = self.router.admin_urls.first() {
            let _ = writeln!(t, "Settings page: {url}");
        }
        if !self.reasons.is_empty() {
            let _ = writeln!(t, "\nWhy pfwd could not do it:");
            for r in &self.reasons {
                let _ = writeln!(t, "  - {}", r.reason);
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(t, "\nBefore you start:");
            for w in &self.warnings {
                let _ = writeln!(t, "  ! {}", w.text);
            }
        }
        let _ = writeln!(t, "\nSteps ({}):", self.router.vendor);
        for (i, s) in self.steps.iter().enumerate() {
            let _ = writeln!(t, "  {}. {s}", i + 1);
        }
        if !self.commands.is_empty() {
            let _ = writeln!(t, "\nOr from the router's shell:");
            for c in &self.commands {
                let _ = writeln!(t, "    {c}");
            }
        }
        let _ = writeln!(t, "\nCheck that it works:");
        for v in &self.verify {
            let _ = writeln!(t, "  - {v}");
        }
        t
    }

    /// The guide as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut m = String::new();
        let _ = writeln!(m, "# {}\n", self.title());
        for line in self.rule_lines() {
            let _ = writeln!(m, "- **Forward:** {line}");
        }
        let _ = writeln!(
            m,
            "- **{}**",
            self.router_line()
                .replacen(": ", ":** ", 1)
                .trim_end_matches("**")
        );
        for url in &self.router.admin_urls {
            let _ = writeln!(m, "- **Settings page:** <{url}>");
        }
        if !self.reasons.is_empty() {
            let _ = writeln!(m, "\n## Why pfwd could not do it\n");
            for r in &self.reasons {
                let _ = writeln!(m, "- {}", r.reason);
            }
        }
        if !self.warnings.is_empty() {
            let _ = writeln!(m, "\n## Before you start\n");
            for w in &self.warnings {
                let _ = writeln!(m, "> **Warning:** {}\n", w.text);
            }
        }
        let _ = writeln!(m, "\n## Steps ({})\n", self.router.vendor);
        for (i, s) in self.steps.iter().enumerate() {
            let _ = writeln!(m, "{}. {s}", i + 1);
        }
        if !self.commands.is_empty() {
            let _ = writeln!(m, "\nOr from the router's shell:\n\n```sh");
            for c in &self.commands {
                let _ = writeln!(m, "{c}");
            }
            let _ = writeln!(m, "```");
        }
        let _ = writeln!(m, "\n## Check that it works\n");
        for v in &self.verify {
            let _ = writeln!(m, "- {v}");
        }
        m
    }

    /// The guide as JSON (pretty-printed), for programs and the bindings.
    pub fn to_json(&self) -> String {
        // Every field is a plain value: serialising cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}
