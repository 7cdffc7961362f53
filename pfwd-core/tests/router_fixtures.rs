//! Real routers' UPnP descriptions (`tests/vectors/routers/*.xml`, each
//! naming where it was published), read the way the UPnP backend reads
//! them, and the maker whose menus the manual guide then uses.
//!
//! A wrong maker is worse than none: the generic guide is vague but never
//! wrong, a wrong maker's menu path sends the person to pages that do not
//! exist. So the makers without a guide of their own (Sagemcom, Technicolor,
//! MitraStar...) must get the generic guide, and the constructed variants
//! that substring matching misnamed must not be misnamed again.
#![cfg(feature = "runtime")]

use std::fs;
use std::path::{Path, PathBuf};

use pfwd_core::RouterInfo;
use pfwd_core::guide::vendors;

/// The description's root device, read by the UPnP backend's own parser.
fn router_info(xml: &str) -> RouterInfo {
    let from = "192.168.1.1:5000".parse().expect("a socket address");
    pfwd_core::backend::upnp::parse_description(xml.as_bytes(), from)
        .expect("the fixture is a device description")
}

/// The value of the `key:` line in the fixture's leading comment.
fn header<'a>(xml: &'a str, key: &str) -> Option<&'a str> {
    let comment = xml.split("-->").next()?;
    comment
        .lines()
        .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix(':'))
        .map(str::trim)
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/routers");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    files.sort();
    files
}

#[test]
fn each_router_gets_its_makers_guide_or_the_generic_one() {
    let mut wrong = Vec::new();
    let mut real_makers = 0;
    for path in fixtures() {
        let xml = fs::read_to_string(&path).expect("the fixture reads");
        let file = path.file_name().unwrap_or_default().to_string_lossy();
        let expected = header(&xml, "expect").unwrap_or_else(|| panic!("{file}: no expect:"));
        let source = header(&xml, "source").unwrap_or_else(|| panic!("{file}: no source:"));
        assert!(!source.is_empty(), "{file}: empty source");
        let info = router_info(&xml);
        assert!(
            info.manufacturer.is_some() && info.model_name.is_some(),
            "{file}: {info:?}"
        );
        let got = vendors::recognise_router(&info).name;
        if got != expected {
            wrong.push(format!("{file}: {got}, expected {expected} ({info:?})"));
        }
        if !file.starts_with("constructed") && expected != vendors::GENERIC.name {
            real_makers += 1;
        }
    }
    assert!(wrong.is_empty(), "misnamed:\n{}", wrong.join("\n"));
    assert!(
        real_makers >= 10,
        "only {real_makers} real routers of known makers"
    );
}

#[test]
fn the_fixtures_read_like_the_backend_reads_them() {
    let xml = fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/routers/tp-link-tl-wr740n.xml"),
    )
    .expect("the fixture reads");
    let info = router_info(&xml);
    assert_eq!(info.manufacturer.as_deref(), Some("TP-LINK"));
    assert_eq!(info.model_number.as_deref(), Some("4.0"));
    // The router pads its presentationURL with spaces; the backend trims.
    assert_eq!(info.admin_url.as_deref(), Some("http://192.168.0.1:80/"));
    assert_eq!(
        info.display_name().as_deref(),
        Some("TP-LINK TL-WR740N 4.0")
    );
}
