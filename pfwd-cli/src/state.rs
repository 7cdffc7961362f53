//! The state directory: the mappings pfwd made from this machine, one JSON
//! file each, so that a later `pfwd unmap` can delete them (a PCP mapping
//! can only be deleted with the nonce that made it) and `pfwd list` can
//! show them.
//!
//! One file per mapping, named after the gateway, protocol and outside port
//! (the router holds one mapping per those), written to a temporary name and
//! renamed into place: every change is one atomic rename or unlink, so
//! several pfwd processes need no lock. A new mapping's file is a new name,
//! which ext4 renames without the flush it forces when a rename replaces a
//! file (half a millisecond of a 12 ms `pfwd map --once`). No fsync: a lost
//! record costs at worst a mapping left to expire with its lease.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::record::Record;

/// The state directory at a path.
#[derive(Debug, Clone)]
pub struct State {
    dir: PathBuf,
}

impl State {
    /// The state directory at `dir`, or at the default place: `$PFWD_STATE`,
    /// `$XDG_STATE_HOME/pfwd/mappings`, `~/.local/state/pfwd/mappings`.
    pub fn new(dir: Option<PathBuf>) -> State {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let dir = dir
            .or_else(|| env("PFWD_STATE"))
            .or_else(|| env("XDG_STATE_HOME").map(|d| d.join("pfwd/mappings")))
            .or_else(|| env("HOME").map(|d| d.join(".local/state/pfwd/mappings")))
            .unwrap_or_else(|| std::env::temp_dir().join("pfwd-mappings"));
        State { dir }
    }

    /// Where the records are.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The records whose lease has not ended, oldest first. A missing
    /// directory is empty; a file that is not a record is skipped.
    ///
    /// # Errors
    ///
    /// When the directory cannot be read.
    pub fn load(&self) -> io::Result<Vec<Record>> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot read {}: {e}", self.dir.display()),
                ));
            }
        };
        let mut records: Vec<Record> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| fs::read(e.path()).ok())
            .filter_map(|bytes| serde_json::from_slice::<Record>(&bytes).ok())
            .filter(|r| !r.info.expired())
            .collect();
        records.sort_by_key(|r| (r.info.granted_at, r.info.external.port()));
        Ok(records)
    }

    fn file(&self, r: &Record) -> PathBuf {
        self.dir.join(format!(
            "{}-{}-{}.json",
            r.info.gateway,
            r.info.protocol,
            r.info.external.port()
        ))
    }

    /// Add or replace the record of a mapping.
    ///
    /// # Errors
    ///
    /// When the directory or the file cannot be written.
    pub fn put(&self, record: &Record) -> io::Result<()> {
        fs::create_dir_all(&self.dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create {}: {e}", self.dir.display()),
            )
        })?;
        let path = self.file(record);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        let json = serde_json::to_vec_pretty(record).map_err(io::Error::other)?;
        fs::write(&tmp, json)?;
        fs::rename(&tmp, &path)
    }

    /// Remove the record of a mapping (none is fine).
    ///
    /// # Errors
    ///
    /// When the file exists and cannot be removed.
    pub fn remove(&self, record: &Record) -> io::Result<()> {
        match fs::remove_file(self.file(record)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::{Duration, Instant};

    use pfwd_core::{Lease, Mapping, Method, MethodState, Protocol};

    use super::*;

    fn record(port: u16, lease: Duration, granted: Instant) -> Record {
        Record::of(
            &Mapping::new(
                Method::Upnp,
                Protocol::Tcp,
                Ipv4Addr::new(192, 168, 1, 1),
                format!("5.5.5.7:{port}").parse().unwrap(),
                "192.168.1.4:80".parse().unwrap(),
                Lease::Finite(lease),
                granted,
                "web",
                MethodState::Upnp {
                    forced_permanent: false,
                },
            ),
            None,
        )
    }

    #[test]
    fn records_are_put_replaced_listed_and_removed() {
        let dir = std::env::temp_dir().join(format!("pfwd-state-test-{}", std::process::id()));
        let state = State::new(Some(dir.clone()));
        assert!(state.load().unwrap().is_empty());
        let a = record(80, Duration::from_secs(3600), Instant::now());
        let b = record(443, Duration::from_secs(3600), Instant::now());
        state.put(&a).unwrap();
        state.put(&b).unwrap();
        state.put(&a).unwrap();
        assert_eq!(state.load().unwrap().len(), 2);
        // An ended lease is not listed; a stray file is skipped.
        let ended = record(
            8080,
            Duration::from_secs(1),
            Instant::now().checked_sub(Duration::from_secs(5)).unwrap(),
        );
        state.put(&ended).unwrap();
        fs::write(dir.join("junk.json"), "not json").unwrap();
        assert_eq!(state.load().unwrap().len(), 2);
        state.remove(&a).unwrap();
        state.remove(&a).unwrap();
        let left = state.load().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].info.external.port(), 443);
        fs::remove_dir_all(dir).unwrap();
    }
}
