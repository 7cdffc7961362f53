//! The keeper's records in a state directory
//! ([`KeeperOptions::state_dir`](super::KeeperOptions::state_dir)): each held
//! mapping recorded as kept by this process, so that another process can
//! renew or delete it, refuses to keep it twice, or takes it over.

use std::io;
use std::net::IpAddr;

use crate::forwarder::Forwarder;
use crate::mapping::{Family, Mapping, MappingRequest};
use crate::record::{Record, process_alive};
use crate::state::StateDir;

/// A keeper's view of its state directory.
#[derive(Debug)]
pub(super) struct Records {
    dir: StateDir,
    take_over: bool,
    pid: u32,
}

impl Records {
    pub(super) fn new(dir: StateDir, take_over: bool) -> Records {
        Records {
            dir,
            take_over,
            pid: std::process::id(),
        }
    }

    /// The record of the mapping `request` asks for that another live
    /// process keeps, if one does (only where `forwarder` knows its gateway).
    pub(super) fn kept_elsewhere(
        &self,
        forwarder: &dyn Forwarder,
        request: &MappingRequest,
    ) -> Option<Record> {
        let (gateway, local) = match request.family() {
            Family::Ipv4 => forwarder
                .gateway()
                .map(|g| (IpAddr::V4(g.gateway), IpAddr::V4(g.local)))?,
            Family::Ipv6 => forwarder
                .ipv6_gateway()
                .map(|g| (IpAddr::V6(g.router), IpAddr::V6(g.local)))?,
        };
        self.dir.kept_elsewhere(request, gateway, local)
    }

    /// Whether another process's mapping may be taken over.
    pub(super) fn take_over(&self) -> bool {
        self.take_over
    }

    /// Record `mapping` as kept here; drop the record of `replaced` (a
    /// mapping of the same item on another outside port).
    pub(super) fn hold(&self, mapping: &Mapping, replaced: Option<&Mapping>) -> io::Result<()> {
        if let Some(old) = replaced.filter(|o| self.dir.file_of(o) != self.dir.file_of(mapping)) {
            self.dir.remove(old)?;
        }
        self.dir.put(&Record::new(mapping.clone(), Some(self.pid)))
    }

    /// `mapping` is deleted from the gateway: its record goes.
    pub(super) fn deleted(&self, mapping: &Mapping) -> io::Result<()> {
        self.dir.remove(mapping)
    }

    /// `mapping` is still on the gateway but nobody keeps it: the record
    /// stays (with its PCP nonce) for a later `unmap` or keeper, kept by
    /// no one.
    pub(super) fn let_go(&self, mapping: &Mapping) -> io::Result<()> {
        match self.dir.get(mapping) {
            Some(r) if r.kept_by.is_some_and(|p| p != self.pid) => Ok(()),
            _ => self.dir.put(&Record::new(mapping.clone(), None)),
        }
    }

    /// The live process that now keeps `mapping` instead of this one (it
    /// took it over), if one does.
    pub(super) fn taken_by(&self, mapping: &Mapping) -> Option<u32> {
        let record = self.dir.get(mapping)?;
        let by = record.kept_by?;
        (by != self.pid
            && process_alive(by)
            && record.mapping.internal() == mapping.internal()
            && record.mapping.protocol() == mapping.protocol())
        .then_some(by)
    }
}
