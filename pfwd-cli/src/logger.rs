//! The command's logger: the core's `log` lines on stderr with `-v` (info)
//! and `-vv` (debug), nothing otherwise, never with `--json` (stdout and
//! stderr stay machine-readable) or `-q`.

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};

/// Prints every record the maximum level lets through, as
/// `pfwd [LEVEL target] message`.
struct Stderr;

static LOGGER: Stderr = Stderr;

impl Log for Stderr {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &Record<'_>) {
        if self.enabled(record.metadata()) {
            let line = line(record);
            crate::stdio::errln(&line);
        }
    }

    fn flush(&self) {
        let _ = std::io::stderr().flush();
    }
}

/// One record as a line.
fn line(record: &Record<'_>) -> String {
    format!(
        "pfwd [{} {}] {}",
        record.level().as_str().to_ascii_lowercase(),
        record.target(),
        record.args()
    )
}

/// The level for these flags: `-v` info, `-vv` and more debug; off when
/// quiet, with `--json`, or without `-v`.
pub fn level(verbose: u8, quiet: bool, json: bool) -> LevelFilter {
    match (quiet || json, verbose) {
        (true, _) | (false, 0) => LevelFilter::Off,
        (false, 1) => LevelFilter::Info,
        (false, _) => LevelFilter::Debug,
    }
}

/// Install the logger (once per process; `run` may be called again, as the
/// tests and the Python package do) and set the level for this run.
pub fn install(level: LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbosity_maps_to_levels_and_json_silences_it() {
        assert_eq!(level(0, false, false), LevelFilter::Off);
        assert_eq!(level(1, false, false), LevelFilter::Info);
        assert_eq!(level(2, false, false), LevelFilter::Debug);
        assert_eq!(level(5, false, false), LevelFilter::Debug);
        assert_eq!(level(2, false, true), LevelFilter::Off);
        assert_eq!(level(1, true, false), LevelFilter::Off);
    }

    #[test]
    fn a_line_names_level_and_source() {
        let args = format_args!("probing {}", "PCP");
        let record = Record::builder()
            .args(args)
            .level(log::Level::Debug)
            .target("pfwd_core::auto")
            .build();
        assert_eq!(line(&record), "pfwd [debug pfwd_core::auto] probing PCP");
    }
}
