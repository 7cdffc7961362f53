//! The Troubleshooting chapter (`docs/troubleshooting.md`) documents every
//! exit code of the `pfwd` command, every `pfwd check` verdict, every error
//! kind (with its exit code, Python class and C code), every C result code,
//! every Python exception, every router code pfwd has words for and every
//! router maker the guide knows.
//!
//! The lists come from the code, not from a copy: the exit codes from
//! `output::code` in `pfwd-cli/src/output.rs`, the verdicts and their exit
//! codes from `pfwd-core/src/check/diagnosis.rs` and `pfwd-cli/src/check.rs`,
//! the kinds from `ErrorKind::ALL` (their exit codes from the command's own
//! `output::exit_code`), the Python classes from `pfwd/_errors.py` and
//! `pfwd/_types.py`, the C codes from `pfwd.h`, the router codes from the
//! core's tables and the makers from `guide::vendors::VENDORS`. Adding any
//! of them without a line in the chapter fails here. The chapter links only
//! inside `docs/`; that each link and anchor resolves is checked for the
//! whole book by `scripts/check-book`, which the test command runs.
//!
//! Nothing here sends a packet: it reads files.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use pfwd_core::guide::{GuideContext, vendors::VENDORS};
use pfwd_core::wire::{CodeInfo, natpmp, pcp};
use pfwd_core::{Error, ErrorKind, GatewayCode, Instructions, Method, Protocol, UpnpCode};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

fn read(path: &str) -> String {
    let path = repo().join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn chapter() -> String {
    read("docs/troubleshooting.md")
}

/// The lines of `text` outside fenced code blocks.
fn prose_lines(text: &str) -> Vec<&str> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            lines.push(line);
        }
    }
    lines
}

/// The part of `doc` under the heading that starts with `heading` (its
/// level is its number of `#`), up to the next heading of that level or
/// above.
fn section<'a>(doc: &'a str, heading: &str) -> &'a str {
    let level = heading.chars().take_while(|c| *c == '#').count();
    let start = doc
        .lines()
        .position(|l| l.starts_with(heading))
        .unwrap_or_else(|| panic!("docs/troubleshooting.md has no heading {heading:?}"));
    let lines: Vec<&str> = doc.lines().collect();
    let end = lines[start + 1..]
        .iter()
        .position(|l| {
            let hashes = l.chars().take_while(|c| *c == '#').count();
            hashes > 0 && hashes <= level && l[hashes..].starts_with(' ')
        })
        .map_or(lines.len(), |i| start + 1 + i);
    let first = lines[..start].iter().map(|l| l.len() + 1).sum::<usize>();
    let last = lines[..end].iter().map(|l| l.len() + 1).sum::<usize>();
    &doc[first..last.min(doc.len())]
}

/// The cells of a table row (`| a | b |` gives `["a", "b"]`).
fn cells(row: &str) -> Vec<String> {
    row.trim()
        .trim_start_matches('|')
        .trim_end_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

/// The table row of `text` whose first cell is `first`.
fn row(text: &str, first: &str) -> Option<Vec<String>> {
    text.lines()
        .filter(|l| l.trim_start().starts_with('|'))
        .map(cells)
        .find(|c| c.first().is_some_and(|f| f == first))
}

/// The block of `source` from the line that starts with `opening` (after
/// indentation) to the first line that is `closing` (after indentation).
fn block<'a>(source: &'a str, opening: &str, closing: &str) -> Vec<&'a str> {
    let lines: Vec<&str> = source.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_start().starts_with(opening))
        .unwrap_or_else(|| panic!("no {opening:?} in the source"));
    let end = lines[start..]
        .iter()
        .position(|l| l.trim() == closing)
        .map(|i| start + i)
        .unwrap_or_else(|| panic!("no {closing:?} after {opening:?}"));
    lines[start + 1..end].to_vec()
}

/// The command's exit codes: `pub const NAME: i32 = N;` in `pub mod code`
/// of `pfwd-cli/src/output.rs`.
fn exit_codes() -> BTreeMap<String, i32> {
    let source = read("pfwd-cli/src/output.rs");
    let codes: BTreeMap<String, i32> = block(&source, "pub mod code {", "}")
        .into_iter()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("pub const ")?;
            let (name, value) = rest.split_once(": i32 = ")?;
            let value = value.trim_end_matches(';').parse().ok()?;
            Some((name.to_string(), value))
        })
        .collect();
    // The parse must find what the code says (and not an empty list).
    assert_eq!(codes.get("OK"), Some(&pfwd_cli::output::code::OK));
    assert_eq!(
        codes.get("CONFLICT"),
        Some(&pfwd_cli::output::code::CONFLICT)
    );
    assert_eq!(
        codes.get("INTERRUPTED"),
        Some(&pfwd_cli::output::code::INTERRUPTED)
    );
    codes
}

/// The verdicts of `pfwd check` (`Diagnosis::X => "name"` in
/// `pfwd-core/src/check/diagnosis.rs`), each with its exit code (the
/// `match` of `pfwd_cli::check::exit_code`, read from its source).
fn verdicts() -> BTreeMap<String, i32> {
    let diagnosis = read("pfwd-core/src/check/diagnosis.rs");
    let names: BTreeMap<String, String> = block(&diagnosis, "pub fn as_str(self)", "}")
        .into_iter()
        .filter_map(|l| {
            let (variant, name) = l.trim().split_once(" => ")?;
            let variant = variant.strip_prefix("Diagnosis::")?;
            let name = name.trim_end_matches(',').trim_matches('"');
            Some((variant.to_string(), name.to_string()))
        })
        .collect();
    assert!(names.len() >= 9, "the verdicts were not found: {names:?}");
    let codes = exit_codes();
    let check = read("pfwd-cli/src/check.rs");
    let mut by_variant: BTreeMap<String, i32> = BTreeMap::new();
    let mut otherwise = None;
    for l in block(&check, "pub fn exit_code(report: &CheckReport)", "}") {
        let Some((left, right)) = l.trim().split_once(" => ") else {
            continue;
        };
        let Some(code) = right
            .trim_end_matches(',')
            .strip_prefix("code::")
            .and_then(|c| codes.get(c))
        else {
            continue;
        };
        for pattern in left.split('|').map(str::trim) {
            match pattern.strip_prefix("Diagnosis::") {
                Some(variant) => {
                    by_variant.insert(variant.to_string(), *code);
                }
                None if pattern == "_" => otherwise = Some(*code),
                None => panic!("an unexpected pattern in check::exit_code: {pattern}"),
            }
        }
    }
    names
        .into_iter()
        .map(|(variant, name)| {
            let code = by_variant
                .get(&variant)
                .copied()
                .or(otherwise)
                .unwrap_or_else(|| panic!("no exit code for Diagnosis::{variant}"));
            (name, code)
        })
        .collect()
}

/// An error of `kind`, to ask the command for its exit code.
fn sample(kind: ErrorKind) -> Error {
    let method = Method::Upnp;
    let e = match kind {
        ErrorKind::NoGateway => Error::NoGateway {
            method: None,
            detail: "x".into(),
            refused: false,
        },
        ErrorKind::Unsupported => Error::Unsupported {
            method,
            what: "x".into(),
            detail: "x".into(),
        },
        ErrorKind::Refused => Error::Refused {
            method,
            what: "x".into(),
            code: GatewayCode::Upnp(UpnpCode::NOT_AUTHORIZED),
        },
        ErrorKind::Conflict => Error::Conflict {
            method,
            protocol: Protocol::Tcp,
            external_port: 80,
            holder: None,
        },
        ErrorKind::Timeout => Error::Timeout {
            method,
            operation: "x".into(),
            after: Duration::from_secs(1),
        },
        ErrorKind::InvalidRequest => Error::invalid("x"),
        ErrorKind::InvalidResponse => Error::InvalidResponse {
            method,
            detail: "x".into(),
        },
        ErrorKind::Io => Error::io("x", std::io::Error::other("x")),
        ErrorKind::Manual => Error::Manual {
            instructions: Box::new(Instructions::build(
                &GuideContext::default(),
                &[Protocol::Tcp],
                80,
                None,
                80,
            )),
        },
        ErrorKind::Cancelled => Error::Cancelled {
            operation: "x".into(),
        },
        ErrorKind::Closed => Error::Closed { what: "x".into() },
        ErrorKind::WouldDeadlock => Error::WouldDeadlock {
            operation: "x".into(),
            why: "x".into(),
        },
        ErrorKind::Prober => Error::Prober {
            url: "x".into(),
            detail: "x".into(),
        },
        other => panic!(
            "a new error kind, {other}: add a sample of it here, and document it in \
             docs/troubleshooting.md (its row in the table of kinds, and a section)"
        ),
    };
    assert_eq!(e.kind(), kind);
    e
}

/// Python's exception classes (`class Name(Base, ...)` deriving from
/// `Exception` or from one of them) in `pfwd/_errors.py`, each with the
/// `ErrorKind` member it sets as `kind` (if any).
fn python_classes() -> BTreeMap<String, Option<String>> {
    let source = read("pfwd-py/python/pfwd/_errors.py");
    let mut classes: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in source.lines() {
        if let Some(rest) = line.strip_prefix("class ") {
            current = None;
            let Some((name, bases)) = rest.split_once('(') else {
                continue;
            };
            let bases = bases.split(')').next().unwrap_or_default();
            let is_exception = bases
                .split(',')
                .map(str::trim)
                .any(|b| b == "Exception" || classes.contains_key(b));
            if is_exception {
                classes.insert(name.to_string(), None);
                current = Some(name.to_string());
            }
        } else if let Some(kind) = line.trim().strip_prefix("kind = ErrorKind.")
            && line.starts_with("    ")
            && let Some(class) = &current
        {
            classes.insert(class.clone(), Some(kind.trim().to_string()));
        }
    }
    assert!(classes.contains_key("Error"), "{classes:?}");
    classes
}

/// Python's `ErrorKind` members and their numbers (`pfwd/_types.py`).
fn python_kinds() -> BTreeMap<u32, String> {
    let source = read("pfwd-py/python/pfwd/_types.py");
    let lines: Vec<&str> = source.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("class ErrorKind("))
        .expect("class ErrorKind in _types.py");
    lines[start + 1..]
        .iter()
        .take_while(|l| l.is_empty() || l.starts_with(' '))
        .filter_map(|l| {
            let (name, number) = l.trim().split_once(" = ")?;
            Some((number.parse().ok()?, name.to_string()))
        })
        .collect()
}

/// The names and values of a C enum in `pfwd.h`.
fn c_enum(name: &str) -> BTreeMap<String, u32> {
    let header = read("pfwd-ffi/include/pfwd.h");
    let values: BTreeMap<String, u32> = block(&header, &format!("enum {name}"), "};")
        .into_iter()
        .filter_map(|l| {
            let (constant, value) = l.trim().split_once(" = ")?;
            Some((
                constant.to_string(),
                value.trim_end_matches(',').parse().ok()?,
            ))
        })
        .collect();
    assert!(!values.is_empty(), "enum {name} has no values");
    values
}

#[test]
fn every_exit_code_has_a_row() {
    let doc = chapter();
    let table = section(&doc, "## Exit codes of `pfwd`");
    let codes = exit_codes();
    assert!(codes.len() >= 10, "{codes:?}");
    for (name, code) in &codes {
        let cells = row(table, &code.to_string()).unwrap_or_else(|| {
            panic!(
                "docs/troubleshooting.md, \"Exit codes of `pfwd`\": no row `| {code} |` for \
                 output::code::{name}"
            )
        });
        assert!(
            cells.len() == 3 && cells.iter().all(|c| !c.is_empty()),
            "the row for exit code {code} needs a meaning and what to do: {cells:?}"
        );
    }
}

#[test]
fn every_check_verdict_has_a_row_with_its_exit_code() {
    let doc = chapter();
    let table = section(&doc, "## `pfwd check` verdicts");
    let c_names = c_enum("pfwd_diagnosis");
    let verdicts = verdicts();
    assert_eq!(verdicts.len(), c_names.len(), "C's pfwd_diagnosis");
    for (name, exit) in &verdicts {
        let cells = row(table, &format!("`{name}`")).unwrap_or_else(|| {
            panic!("docs/troubleshooting.md: no row for the verdict `{name}` in its table")
        });
        assert_eq!(
            cells.get(1),
            Some(&exit.to_string()),
            "the verdict `{name}` exits {exit} (pfwd-cli/src/check.rs)"
        );
        let c = format!("`PFWD_DIAGNOSIS_{}`", name.to_ascii_uppercase());
        assert_eq!(cells.get(2), Some(&c), "the verdict `{name}`'s C name");
        assert!(
            cells.len() == 5 && cells.iter().all(|c| !c.is_empty()),
            "the verdict `{name}` needs what it means and what to do: {cells:?}"
        );
    }
    for c in c_names.keys() {
        assert!(
            table.contains(&format!("`{c}`")),
            "{c} is not in the verdicts"
        );
    }
}

#[test]
fn every_error_kind_has_its_exit_code_python_class_and_c_code() {
    let doc = chapter();
    let table = section(&doc, "## Error kinds in Rust, the command, Python and C");
    let errors = section(&doc, "## Every error, what it says and what to do");
    let python = python_classes();
    let python_kinds = python_kinds();
    let c = c_enum("pfwd_result");
    for kind in ErrorKind::ALL {
        let name = kind.name();
        let cells = row(table, &format!("`{name}`")).unwrap_or_else(|| {
            panic!("docs/troubleshooting.md: no row for the error kind `{name}` in its table")
        });
        assert_eq!(cells.get(1), Some(&kind.number().to_string()), "{name}");
        assert_eq!(
            cells.get(2),
            Some(&format!("`Error::{kind:?}`")),
            "{name}: the Rust variant"
        );
        let exit = pfwd_cli::output::exit_code(&sample(kind));
        assert_eq!(
            cells.get(3),
            Some(&exit.to_string()),
            "{name}: `pfwd` exits {exit} (pfwd_cli::output::exit_code)"
        );
        let member = python_kinds
            .get(&kind.number())
            .unwrap_or_else(|| panic!("Python's ErrorKind has no member {}", kind.number()));
        let class = python
            .iter()
            .find(|(_, k)| k.as_ref() == Some(member))
            .map(|(c, _)| c)
            .unwrap_or_else(|| panic!("no Python exception has kind = ErrorKind.{member}"));
        assert!(
            cells
                .get(4)
                .is_some_and(|p| p.starts_with(&format!("`{class}`"))),
            "{name}: the Python class is {class}: {cells:?}"
        );
        let constant = c
            .iter()
            .find(|(_, v)| **v == kind.number())
            .map(|(n, _)| n)
            .unwrap_or_else(|| panic!("pfwd.h has no pfwd_result {}", kind.number()));
        assert!(
            cells
                .get(5)
                .is_some_and(|p| p.starts_with(&format!("`{constant}`"))),
            "{name}: the C code is {constant}: {cells:?}"
        );
        // Each kind has a section saying what it says and what to do.
        let tick = format!("`{name}`");
        assert!(
            errors
                .lines()
                .any(|l| l.starts_with("### ") && l.contains(&tick)),
            "docs/troubleshooting.md: no \"### ...{tick}...\" heading under \"Every error\""
        );
    }
}

#[test]
fn every_c_result_code_is_documented() {
    let doc = chapter();
    for (name, value) in c_enum("pfwd_result") {
        assert!(
            doc.contains(&format!("`{name}`")),
            "docs/troubleshooting.md does not name the C result {name} ({value})"
        );
        if ErrorKind::try_from(value).is_err() {
            let table = section(&doc, "## Error kinds in Rust, the command, Python and C");
            let cells = row(table, &value.to_string())
                .unwrap_or_else(|| panic!("no row `| {value} |` for {name} (C's own codes)"));
            assert_eq!(cells.get(1), Some(&format!("`{name}`")));
        }
    }
}

#[test]
fn every_python_exception_is_documented() {
    let doc = chapter();
    let classes = python_classes();
    assert!(classes.len() > ErrorKind::ALL.len(), "{classes:?}");
    for class in classes.keys() {
        let named = if class == "Error" {
            doc.contains("`pfwd.Error`")
        } else {
            doc.contains(&format!("`{class}`"))
        };
        assert!(
            named,
            "docs/troubleshooting.md does not name the Python exception {class}"
        );
    }
}

#[test]
fn every_router_code_has_a_row() {
    let doc = chapter();
    let tables: [(&str, &[CodeInfo]); 3] = [
        ("### UPnP error codes", UpnpCode::TABLE),
        ("### NAT-PMP result codes", natpmp::ResultCode::TABLE),
        ("### PCP result codes", pcp::ResultCode::TABLE),
    ];
    for (heading, codes) in tables {
        let table = section(&doc, heading);
        for code in codes {
            let cells = row(table, &code.number.to_string()).unwrap_or_else(|| {
                panic!(
                    "docs/troubleshooting.md, {heading:?}: no row for {} {}",
                    code.number, code.name
                )
            });
            assert_eq!(
                cells.get(1),
                Some(&format!("`{}`", code.name)),
                "{heading}: {}",
                code.number
            );
        }
    }
}

#[test]
fn every_maker_the_guide_knows_has_a_section() {
    let doc = chapter();
    let makers = section(&doc, "## Router makers");
    for vendor in VENDORS {
        assert!(
            makers.lines().any(|l| l == format!("### {}", vendor.name)),
            "docs/troubleshooting.md: no \"### {}\" under \"Router makers\"",
            vendor.name
        );
    }
}

#[test]
fn one_heading_and_links_only_inside_docs() {
    let doc = chapter();
    let headings = prose_lines(&doc)
        .into_iter()
        .filter(|l| l.starts_with("# "))
        .count();
    assert_eq!(headings, 1, "one `# Troubleshooting` heading");
    assert!(doc.starts_with("# Troubleshooting\n"));
    let text = prose_lines(&doc).join("\n");
    let mut rest = text.as_str();
    let mut links = 0;
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        let target = &rest[..rest.find(')').expect("a link's closing parenthesis")];
        links += 1;
        assert!(
            !target.contains("://") && !target.starts_with('/') && !target.contains(".."),
            "a link outside docs/: {target}"
        );
    }
    assert!(links > 10, "only {links} links found");
}
