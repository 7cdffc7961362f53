//! The state file: the mappings pfwd made from this machine, so that a later
//! `pfwd unmap` can delete them (a PCP mapping can only be deleted with the
//! nonce that made it) and `pfwd list` can show them.
//!
//! Several pfwd processes may share it: every change holds an exclusive lock
//! on `FILE.lock` and replaces the file atomically (write, then rename).

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::record::Record;

/// The file's contents.
#[derive(Debug, Default, Serialize, Deserialize)]
struct StateFile {
    version: u32,
    mappings: Vec<Record>,
}

/// The state file at a path.
#[derive(Debug, Clone)]
pub struct State {
    path: PathBuf,
}

impl State {
    /// The state file at `path`, or at the default place: `$PFWD_STATE`,
    /// `$XDG_STATE_HOME/pfwd/mappings.json`, `~/.local/state/pfwd/mappings.json`.
    pub fn new(path: Option<PathBuf>) -> State {
        let env = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let path = path
            .or_else(|| env("PFWD_STATE"))
            .or_else(|| env("XDG_STATE_HOME").map(|d| d.join("pfwd/mappings.json")))
            .or_else(|| env("HOME").map(|d| d.join(".local/state/pfwd/mappings.json")))
            .unwrap_or_else(|| std::env::temp_dir().join("pfwd-mappings.json"));
        State { path }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The records, without those whose lease has ended. A missing file is empty.
    ///
    /// # Errors
    ///
    /// When the file cannot be read or is not pfwd's.
    pub fn load(&self) -> io::Result<Vec<Record>> {
        Ok(self.read()?.mappings)
    }

    fn read(&self) -> io::Result<StateFile> {
        match fs::read(&self.path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(StateFile::default()),
            Ok(bytes) => {
                let mut f: StateFile = serde_json::from_slice(&bytes).map_err(|e| {
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{} is not a pfwd state file ({e}); move it away or give \
                             another with --state",
                            self.path.display()
                        ),
                    )
                })?;
                f.mappings.retain(|r| !r.info.expired());
                Ok(f)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(StateFile::default()),
            Err(e) => Err(io::Error::new(
                e.kind(),
                format!("cannot read {}: {e}", self.path.display()),
            )),
        }
    }

    /// Change the records under the lock; `change` returns a value to pass on.
    ///
    /// # Errors
    ///
    /// When the file cannot be read, locked or written.
    pub fn update<T>(&self, change: impl FnOnce(&mut Vec<Record>) -> T) -> io::Result<T> {
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let lock_path = self.path.with_extension("lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot open {}: {e}", lock_path.display()),
                )
            })?;
        lock.lock()?;
        let mut file = self.read()?;
        let out = change(&mut file.mappings);
        file.version = 1;
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        let json = serde_json::to_vec_pretty(&file).map_err(io::Error::other)?;
        // No fsync: this record is a convenience (a lost one costs at worst
        // a mapping left to expire with its lease), and a sync costs a
        // `pfwd map --once` several milliseconds on an SD card.
        fs::write(&tmp, &json)?;
        fs::rename(&tmp, &self.path)?;
        drop(lock);
        Ok(out)
    }

    /// Add or replace the record of a mapping.
    ///
    /// # Errors
    ///
    /// As [`update`](Self::update).
    pub fn put(&self, record: Record) -> io::Result<()> {
        self.update(|all| {
            all.retain(|r| !r.same_as(&record));
            all.push(record);
        })
    }

    /// Remove the record of a mapping.
    ///
    /// # Errors
    ///
    /// As [`update`](Self::update).
    pub fn remove(&self, record: &Record) -> io::Result<()> {
        self.update(|all| all.retain(|r| !r.same_as(record)))
    }
}
