//! include/pfwd.h is what cbindgen makes of the crate now: regenerate it and
//! fail on any difference. `PFWD_UPDATE_HEADER=1` writes it instead.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::path::Path;

fn generate() -> String {
    let dir = env!("CARGO_MANIFEST_DIR");
    let mut config = cbindgen::Config::from_file(Path::new(dir).join("cbindgen.toml")).unwrap();
    config.after_includes = Some(format!(
        "\n/* The version of this header; pfwd_version() is the library's. */\n\
         #define PFWD_VERSION \"{}\"\n\
         #define PFWD_VERSION_MAJOR {}\n\
         #define PFWD_VERSION_MINOR {}\n\
         #define PFWD_VERSION_PATCH {}\n",
        env!("CARGO_PKG_VERSION"),
        env!("CARGO_PKG_VERSION_MAJOR"),
        env!("CARGO_PKG_VERSION_MINOR"),
        env!("CARGO_PKG_VERSION_PATCH"),
    ));
    let mut out = Vec::new();
    cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .unwrap()
        .write(&mut out);
    String::from_utf8(out).unwrap()
}

#[test]
fn the_committed_header_is_generated() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/pfwd.h");
    let fresh = generate();
    if std::env::var_os("PFWD_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "include/pfwd.h differs from what cbindgen generates; run\n  \
         PFWD_UPDATE_HEADER=1 cargo test -p pfwd-ffi --test header\nand commit it"
    );
}
