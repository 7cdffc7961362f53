//! The `pfwd` command; everything is in the `pfwd_cli` library.

fn main() {
    std::process::exit(pfwd_cli::run(std::env::args_os()));
}
