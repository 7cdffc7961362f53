//! Re-adoption after a crash: a kept `pfwd map` or `pfwd run` started again
//! renews the mappings its killed predecessor recorded (a PCP mapping with
//! its nonce, UPnP by its entry, NAT-PMP by its internal port) instead of
//! making second ones. Which record fits which request is the core's
//! [`Record::answers`](pfwd_core::Record::answers); this is the glue. A
//! mapping another live process keeps is the keeper's business
//! ([`KeeperOptions::state_dir`](pfwd_core::lease::KeeperOptions::state_dir)).

use pfwd_core::lease::Keep;
use pfwd_core::{Client, MappingRequest, Method};

use crate::Ctx;
use crate::output::describe;

/// What to keep for `requests`: an orphaned record that answers a request
/// is renewed ([`Keep::recorded`]); the others are mapped anew. `methods`
/// are those allowed (empty: all).
pub fn keeps(
    ctx: &Ctx,
    client: &Client,
    requests: Vec<MappingRequest>,
    methods: &[Method],
) -> Vec<Keep> {
    let gateway = client.discovery().gateway.map(|g| (g.gateway, g.local));
    let records = match (gateway, ctx.state.load()) {
        (Some(_), Ok(r)) => r,
        (_, Err(e)) => {
            ctx.printer.warn(&format!(
                "cannot read the records of earlier mappings ({e})"
            ));
            Vec::new()
        }
        (None, Ok(_)) => Vec::new(),
    };
    let mut taken: Vec<usize> = Vec::new();
    requests
        .into_iter()
        .map(|request| {
            let Some((gateway, local)) = gateway else {
                return Keep::new(request);
            };
            let found = records.iter().enumerate().find(|(i, r)| {
                !taken.contains(i)
                    && r.answers(&request, gateway, local)
                    && (methods.is_empty() || methods.contains(&r.mapping.method()))
            });
            match found {
                Some((i, r)) if r.orphaned() => {
                    taken.push(i);
                    ctx.printer.detail(&format!(
                        "renewing the recorded {} (its keeper is gone)",
                        describe(&r.mapping)
                    ));
                    Keep::recorded(request, r.mapping.clone())
                }
                // Kept by another live process: the keeper refuses it, or
                // takes it over (`--take-over`), through the same records.
                Some(_) | None => Keep::new(request),
            }
        })
        .collect()
}
