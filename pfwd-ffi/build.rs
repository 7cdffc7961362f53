//! libpfwd.so gets a soname with the ABI's major number, so programs
//! linked against it find a compatible library: libpfwd.so.0 while the
//! crate is 0.x (the install script makes the links).

fn main() {
    let major = env!("CARGO_PKG_VERSION_MAJOR");
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libpfwd.so.{major}");
    }
}
