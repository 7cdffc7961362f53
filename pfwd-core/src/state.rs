//! The state directory: the mappings made from this machine, one JSON
//! [`Record`] file each, so that a later process (`pfwd unmap`, a Python or
//! C program) can renew or delete them (a PCP mapping only with the nonce
//! that made it) and list them.
//!
//! Any language can share it: the directory is a plain path (see
//! [`default_dir`]), each file is `GATEWAY-PROTOCOL-EXTERNALPORT.json`
//! holding one record in the shape [`crate::record`] documents.
//!
//! One file per mapping, named after the gateway, protocol and outside port
//! (the router holds one mapping per those), written to a temporary name and
//! renamed into place: every change is one atomic rename or unlink, so
//! several processes need no lock. A new mapping's file is a new name, which
//! ext4 renames without the flush it forces when a rename replaces a file
//! (half a millisecond of a 12 ms `pfwd map --once`, docs/performance.md).
//! No fsync: a lost record costs at worst a mapping left to expire with its
//! lease.

use std::fs;
use std::io;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::model::{Mapping, MappingRequest};
use crate::record::{self, Record};

/// The default state directory: `$PFWD_STATE`, else
/// `$XDG_STATE_HOME/pfwd/mappings`, else `~/.local/state/pfwd/mappings`
/// (and, with no home at all, `pfwd-mappings` in the temporary directory).
///
/// # Examples
///
/// ```
/// use pfwd_core::StateDir;
/// use pfwd_core::state::default_dir;
///
/// assert_eq!(StateDir::default_location().path(), default_dir());
/// ```
pub fn default_dir() -> PathBuf {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("PFWD_STATE")
        .or_else(|| env("XDG_STATE_HOME").map(|d| d.join("pfwd/mappings")))
        .or_else(|| env("HOME").map(|d| d.join(".local/state/pfwd/mappings")))
        .unwrap_or_else(|| std::env::temp_dir().join("pfwd-mappings"))
}

/// A file in the state directory that is not a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    /// The file.
    pub path: PathBuf,
    /// Why it is not a record.
    pub reason: String,
}

/// What [`StateDir::scan`] found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    /// The records whose lease has not ended, oldest first.
    pub records: Vec<Record>,
    /// The files that are not records (skipped).
    pub damaged: Vec<Damaged>,
}

/// A state directory.
///
/// # Examples
///
/// Record a mapping, find it again (as a later `pfwd unmap` would), and
/// drop the record once the mapping is deleted. This example writes to a
/// directory of its own under the system's temporary directory.
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddrV4};
/// use std::time::{Duration, Instant};
/// use pfwd_core::{Lease, Mapping, MappingRequest, Method, MethodState, Protocol, Record, StateDir};
///
/// let dir = std::env::temp_dir().join(format!("pfwd-doc-state-{}", std::process::id()));
/// let state = StateDir::new(&dir);
/// assert!(state.load()?.is_empty()); // a missing directory is empty
///
/// let mapping = Mapping::new(
///     Method::Pcp,
///     Protocol::Tcp,
///     Ipv4Addr::new(192, 168, 1, 1),
///     SocketAddrV4::new(Ipv4Addr::new(203, 0, 113, 7), 8080),
///     SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 4), 80),
///     Lease::Finite(Duration::from_secs(3600)),
///     Instant::now(),
///     "pfwd http",
///     MethodState::Pcp { nonce: [1; 12], epoch: 5, generation: 0 },
/// );
/// state.put(&Record::new(mapping.clone(), None))?;
/// assert_eq!(state.file_of(&mapping), dir.join("192.168.1.1-tcp-8080.json"));
///
/// let found = state.load()?;
/// assert_eq!(found.len(), 1);
/// assert_eq!(found[0].mapping.state(), mapping.state()); // the nonce, to renew or delete it
/// assert!(state.get(&mapping).is_some());
///
/// // Nobody keeps it (`kept_by` is none), so nobody else can be in the way.
/// let web = MappingRequest::builder(Protocol::Tcp, 80).build()?;
/// assert!(state.kept_elsewhere(&web, Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(192, 168, 1, 4)).is_none());
///
/// // A file that is not a record is skipped, and named.
/// std::fs::write(dir.join("junk.json"), "not json")?;
/// let scan = state.scan()?;
/// assert_eq!((scan.records.len(), scan.damaged.len()), (1, 1));
/// state.remove_damaged(&scan.damaged[0])?;
///
/// state.remove(&mapping)?;
/// assert!(state.load()?.is_empty());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir {
    dir: PathBuf,
}

impl StateDir {
    /// The state directory at `dir` (created when the first record is put).
    pub fn new(dir: impl Into<PathBuf>) -> StateDir {
        StateDir { dir: dir.into() }
    }

    /// The state directory at [`default_dir`].
    pub fn default_location() -> StateDir {
        StateDir::new(default_dir())
    }

    /// Where the records are.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The path of `m`'s record.
    pub fn file_of(&self, m: &Mapping) -> PathBuf {
        self.dir.join(record::file_name(m))
    }

    /// The records whose lease has not ended, oldest first. A missing
    /// directory is empty; a file that is not a record is skipped.
    ///
    /// # Errors
    ///
    /// When the directory cannot be read.
    pub fn load(&self) -> io::Result<Vec<Record>> {
        self.scan().map(|s| s.records)
    }

    /// Like [`load`](Self::load), also naming the files that are not records.
    ///
    /// # Errors
    ///
    /// When the directory cannot be read.
    pub fn scan(&self) -> io::Result<Scan> {
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Scan::default()),
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("cannot read {}: {e}", self.dir.display()),
                ));
            }
        };
        let mut scan = Scan::default();
        for path in entries.filter_map(Result::ok).map(|e| e.path()) {
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let read = fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| Record::from_json(&t).map_err(|e| e.reason));
            match read {
                Ok(r) if r.ended() => {}
                Ok(r) => scan.records.push(r),
                Err(reason) => scan.damaged.push(Damaged { path, reason }),
            }
        }
        scan.records.sort_by_key(|r| {
            (
                r.mapping.granted_at_wall(),
                r.mapping.external().port(),
                r.mapping.protocol().as_str(),
            )
        });
        Ok(scan)
    }

    /// Add or replace the record of a mapping.
    ///
    /// # Errors
    ///
    /// When the directory or the file cannot be written.
    pub fn put(&self, record: &Record) -> io::Result<()> {
        private_dir(&self.dir).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("cannot create {}: {e}", self.dir.display()),
            )
        })?;
        let path = self.file_of(&record.mapping);
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        write_private(&tmp, record.to_json().as_bytes())
            .and_then(|()| fs::rename(&tmp, &path))
            .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {e}", path.display())))
    }

    /// Remove the record of a mapping (none is fine).
    ///
    /// # Errors
    ///
    /// When the file exists and cannot be removed.
    pub fn remove(&self, mapping: &Mapping) -> io::Result<()> {
        match fs::remove_file(self.file_of(mapping)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    /// The record of `mapping` (the file for its gateway, protocol and
    /// outside port), if there is one and it can be read.
    pub fn get(&self, mapping: &Mapping) -> Option<Record> {
        let text = fs::read_to_string(self.file_of(mapping)).ok()?;
        Record::from_json(&text).ok()
    }

    /// The record of the mapping `request` asks for on `gateway` (for this
    /// host `local`, see [`Record::answers`]) that another live process
    /// keeps, if one does: a second keeper of it would undo the first
    /// (a new PCP nonce takes the mapping over, and whichever stops first
    /// deletes it). Records of dead processes and ended leases never count.
    pub fn kept_elsewhere(
        &self,
        request: &MappingRequest,
        gateway: impl Into<IpAddr>,
        local: impl Into<IpAddr>,
    ) -> Option<Record> {
        let (gateway, local) = (gateway.into(), local.into());
        self.load()
            .ok()?
            .into_iter()
            .find(|r| !r.orphaned() && r.answers(request, gateway, local))
    }

    /// Remove a file that is not a record (see [`Scan::damaged`]).
    ///
    /// # Errors
    ///
    /// When the file exists and cannot be removed.
    pub fn remove_damaged(&self, damaged: &Damaged) -> io::Result<()> {
        match fs::remove_file(&damaged.path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

/// Create `dir` (and its missing parents) readable by this user only: a
/// record holds a PCP mapping's nonce, which is what lets a client renew
/// or delete that mapping, so other users of the machine must not read it.
fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Write `bytes` to a new file at `path` that only this user can read.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;
    use std::time::{Duration, Instant, SystemTime};

    use super::*;
    use crate::model::{Lease, Method, MethodState, Protocol};

    fn mapping(port: u16, lease: Duration) -> Mapping {
        Mapping::new(
            Method::Upnp,
            Protocol::Tcp,
            Ipv4Addr::new(192, 168, 1, 1),
            format!("5.5.5.7:{port}")
                .parse::<std::net::SocketAddr>()
                .unwrap(),
            "192.168.1.4:80".parse::<std::net::SocketAddr>().unwrap(),
            Lease::Finite(lease),
            Instant::now(),
            "web",
            MethodState::Upnp {
                forced_permanent: false,
            },
        )
    }

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("pfwd-core-state-{name}-{}", std::process::id()))
    }

    #[test]
    fn records_are_put_replaced_listed_and_removed() {
        let dir = temp("cycle");
        let state = StateDir::new(&dir);
        assert!(state.load().unwrap().is_empty());
        let hour = Duration::from_secs(3600);
        let a = Record::new(mapping(80, hour), Some(7));
        let b = Record::new(mapping(443, hour), None);
        state.put(&a).unwrap();
        state.put(&b).unwrap();
        state.put(&a).unwrap();
        assert_eq!(state.load().unwrap().len(), 2);
        assert!(dir.join("192.168.1.1-tcp-80.json").exists());
        // An ended lease is not listed; a damaged file is skipped and named.
        let ended = mapping(8080, Duration::from_secs(1))
            .with_wall_time(SystemTime::now() - Duration::from_secs(5));
        state.put(&Record::new(ended, None)).unwrap();
        fs::write(dir.join("junk.json"), "not json").unwrap();
        fs::write(dir.join("notes.txt"), "not a record, not json").unwrap();
        let scan = state.scan().unwrap();
        assert_eq!(scan.records.len(), 2);
        assert_eq!(scan.damaged.len(), 1);
        assert!(scan.damaged[0].reason.contains("not a mapping record"));
        state.remove_damaged(&scan.damaged[0]).unwrap();
        state.remove(&a.mapping).unwrap();
        state.remove(&a.mapping).unwrap();
        let left = state.load().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].mapping.external().port(), 443);
        assert_eq!(left[0].kept_by, None);
        assert!(state.scan().unwrap().damaged.is_empty());
        fs::remove_dir_all(dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn records_are_readable_by_this_user_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp("private").join("state");
        let state = StateDir::new(&dir);
        let record = Record::new(mapping(80, Duration::from_secs(3600)), Some(7));
        state.put(&record).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700, "the directory");
        assert_eq!(
            mode(&dir.join("192.168.1.1-tcp-80.json")),
            0o600,
            "a record"
        );
        fs::remove_dir_all(dir.parent().unwrap()).unwrap();
    }

    #[test]
    fn a_mapping_kept_by_a_live_process_is_kept_elsewhere() {
        let dir = temp("elsewhere");
        let state = StateDir::new(&dir);
        let hour = Duration::from_secs(3600);
        let (gw, me) = (Ipv4Addr::new(192, 168, 1, 1), Ipv4Addr::new(192, 168, 1, 4));
        let web = MappingRequest::builder(Protocol::Tcp, 80)
            .external_port(8080)
            .build()
            .unwrap();
        // Process 1 (init) runs; a dead pid and this process do not count.
        state
            .put(&Record::new(mapping(8080, hour), Some(1)))
            .unwrap();
        let found = state.kept_elsewhere(&web, gw, me).unwrap();
        assert_eq!(found.kept_by, Some(1));
        assert_eq!(state.get(&found.mapping).and_then(|r| r.kept_by), Some(1));
        let conflict = found.conflict().to_string();
        assert!(conflict.contains("pfwd process 1"), "{conflict}");
        assert!(conflict.contains("--take-over"), "{conflict}");
        for pid in [Some(std::process::id()), Some(u32::MAX - 1), None] {
            state.put(&Record::new(mapping(8080, hour), pid)).unwrap();
            assert!(state.kept_elsewhere(&web, gw, me).is_none(), "{pid:?}");
        }
        state
            .put(&Record::new(mapping(8080, hour), Some(1)))
            .unwrap();
        assert!(
            state
                .kept_elsewhere(&web, gw, Ipv4Addr::new(192, 168, 1, 5))
                .is_none()
        );
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn an_unwritable_directory_says_where() {
        let file = temp("file");
        fs::write(&file, "a file, not a directory").unwrap();
        let state = StateDir::new(file.join("sub"));
        let e = state
            .put(&Record::new(mapping(80, Duration::from_secs(60)), None))
            .unwrap_err();
        assert!(e.to_string().contains("cannot create"), "{e}");
        fs::remove_file(file).unwrap();
    }

    #[test]
    fn the_default_directory_follows_the_environment() {
        // Only reads the environment of this process: no other test sets these.
        let dir = default_dir();
        match std::env::var_os("PFWD_STATE").filter(|v| !v.is_empty()) {
            Some(v) => assert_eq!(dir, PathBuf::from(v)),
            None => assert!(dir.ends_with("pfwd/mappings") || dir.ends_with("pfwd-mappings")),
        }
    }
}
