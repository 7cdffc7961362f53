//! The gateway's UPnP descriptions remembered between processes, one file
//! per gateway address (`gateway-192.168.1.1.upnp` in the directory given
//! by `UpnpOptions::cache_dir`): where its description is, and the
//! description and SCPD as the router served them. Read back, they are
//! parsed and checked as on first sight, and the service is proved by a
//! SOAP call before it is used; a stale or damaged file costs nothing but
//! the search that runs alongside.

use std::fs;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use log::debug;

use super::description::MAX_DESCRIPTION;
use crate::wire::ssdp::Location;

/// The first line of a file: its format.
const MAGIC: &str = "pfwd upnp 1";

/// A gateway's descriptions, as served.
#[derive(Debug, Clone)]
pub(super) struct Known {
    /// Where the root description was (the SSDP answer's `LOCATION`).
    pub location: Location,
    /// The root device description.
    pub description: Vec<u8>,
    /// The WAN connection service's SCPD.
    pub scpd: Vec<u8>,
}

fn file(dir: &Path, gateway: Ipv4Addr) -> PathBuf {
    dir.join(format!("gateway-{gateway}.upnp"))
}

/// The file's bytes for `known`: the magic line, the location line, the
/// two documents' lengths, then the documents.
fn encode(known: &Known) -> Vec<u8> {
    let mut out = format!(
        "{MAGIC}\n{}\n{} {}\n",
        known.location,
        known.description.len(),
        known.scpd.len()
    )
    .into_bytes();
    out.extend_from_slice(&known.description);
    out.extend_from_slice(&known.scpd);
    out
}

fn decode(bytes: &[u8], gateway: Ipv4Addr) -> Result<Known, &'static str> {
    let mut lines = bytes.splitn(4, |&b| b == b'\n');
    let mut line = || {
        lines
            .next()
            .and_then(|l| std::str::from_utf8(l).ok())
            .ok_or("truncated")
    };
    if line()? != MAGIC {
        return Err("not a pfwd UPnP file of this version");
    }
    let location = Location::parse(line()?)?;
    if location.ip != IpAddr::V4(gateway) {
        return Err("its location is not on the gateway");
    }
    let (a, b) = line()?.split_once(' ').ok_or("no lengths")?;
    let (a, b): (usize, usize) = (
        a.parse().map_err(|_| "bad length")?,
        b.parse().map_err(|_| "bad length")?,
    );
    if a > MAX_DESCRIPTION || b > MAX_DESCRIPTION {
        return Err("documents too large");
    }
    let rest = lines.next().unwrap_or_default();
    if rest.len() != a + b {
        return Err("truncated documents");
    }
    Ok(Known {
        location,
        description: rest[..a].to_vec(),
        scpd: rest[a..].to_vec(),
    })
}

/// What is remembered for `gateway` in `dir`, if anything usable.
pub(super) fn load(dir: &Path, gateway: Ipv4Addr) -> Option<Known> {
    let path = file(dir, gateway);
    let bytes = fs::read(&path).ok()?;
    match decode(&bytes, gateway) {
        Ok(known) => Some(known),
        Err(why) => {
            debug!("UPnP: ignoring {}: {why}", path.display());
            None
        }
    }
}

/// Remember `known` for `gateway` in `dir` (created if missing). Best
/// effort: a directory that cannot be written only costs the next process
/// the search.
pub(super) fn save(dir: &Path, gateway: Ipv4Addr, known: &Known) {
    let path = file(dir, gateway);
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let written = fs::create_dir_all(dir)
        .and_then(|()| fs::File::create(&tmp))
        .and_then(|mut f| f.write_all(&encode(known)))
        .and_then(|()| fs::rename(&tmp, &path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        debug!(
            "UPnP: could not remember the gateway in {}: {e}",
            path.display()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known() -> Known {
        Known {
            location: Location::parse("http://192.168.1.1:5000/rootDesc.xml").unwrap(),
            description: b"<root>\n</root>".to_vec(),
            scpd: b"<scpd/>".to_vec(),
        }
    }

    #[test]
    fn a_remembered_gateway_reads_back_as_written() {
        let dir = std::env::temp_dir().join(format!("pfwd-upnp-cache-{}", std::process::id()));
        let gw = Ipv4Addr::new(192, 168, 1, 1);
        save(&dir, gw, &known());
        let back = load(&dir, gw).unwrap();
        assert_eq!(back.location, known().location);
        assert_eq!(back.description, known().description);
        assert_eq!(back.scpd, known().scpd);
        // Another gateway has nothing remembered.
        assert!(load(&dir, Ipv4Addr::new(192, 168, 1, 254)).is_none());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn damaged_or_foreign_files_are_ignored() {
        let gw = Ipv4Addr::new(192, 168, 1, 1);
        let good = encode(&known());
        assert!(decode(&good, gw).is_ok());
        // Pointing elsewhere than the gateway: refused.
        assert!(decode(&good, Ipv4Addr::new(10, 0, 0, 1)).is_err());
        // Every truncation is refused, never a panic.
        for n in 0..good.len() {
            assert!(decode(&good[..n], gw).is_err(), "{n}");
        }
        assert!(decode(b"pfwd upnp 1\nhttp://192.168.1.1/\n99999999 1\n", gw).is_err());
        assert!(decode(b"something else\n", gw).is_err());
    }
}
