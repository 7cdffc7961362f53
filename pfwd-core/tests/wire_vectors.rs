//! Byte-exact test vectors for the NAT-PMP and PCP codecs in
//! `pfwd_core::wire`, read from `tests/vectors/natpmp.txt` and
//! `tests/vectors/pcp.txt` (the format is described at the top of each file).
//!
//! Every vector is checked both ways: the bytes decode to the expected value
//! (compared by its Debug text), the value encodes to the expected bytes, and
//! those bytes decode to the same value again. Malformed vectors must give
//! exactly the expected `DecodeError`.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::fmt::Debug;

use pfwd_core::wire::{DecodeError, natpmp, pcp};

const NATPMP_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/natpmp.txt");
const PCP_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/pcp.txt");

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

/// Fewest vectors each file must hold, so that a truncated or emptied file
/// cannot pass.
const MIN_NATPMP_VECTORS: usize = 45;
const MIN_PCP_VECTORS: usize = 75;

const KEYS: [&str; 7] = [
    "kind",
    "hex",
    "pad",
    "reencoded",
    "value",
    "error",
    "rfc-deviation",
];

/// One `[name]` block.
#[derive(Debug)]
struct Vector {
    name: String,
    /// 1-based line of the `[name]` header.
    line: usize,
    fields: Vec<(String, String)>,
}

impl Vector {
    fn get(&self, key: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn kind(&self) -> &str {
        self.get("kind").unwrap()
    }

    /// `hex` plus `pad` zero bytes.
    fn input(&self) -> Vec<u8> {
        let mut bytes = parse_hex(&self.name, "hex", self.get("hex").unwrap());
        if let Some(pad) = self.get("pad") {
            let n: usize = pad
                .parse()
                .unwrap_or_else(|_| panic!("[{}]: pad = {pad:?} is not a number", self.name));
            bytes.resize(bytes.len() + n, 0);
        }
        bytes
    }

    /// What `encode()` must give: `reencoded`, or else the input.
    fn expected_encoding(&self) -> Vec<u8> {
        match self.get("reencoded") {
            Some(hex) => parse_hex(&self.name, "reencoded", hex),
            None => self.input(),
        }
    }
}

/// Parse a vector file; panics (naming the line) on anything malformed.
fn parse(file: &str, text: &str) -> Vec<Vector> {
    let mut vectors: Vec<Vector> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line_no = i + 1;
        let here = format!("{file}:{line_no}");
        let without_comment = raw.split('#').next().unwrap_or("");
        let content = without_comment.trim();
        if content.is_empty() {
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            let vector = vectors
                .last_mut()
                .unwrap_or_else(|| panic!("{here}: continuation line outside a vector"));
            let (_, value) = vector
                .fields
                .last_mut()
                .unwrap_or_else(|| panic!("{here}: continuation line before any key"));
            if !value.is_empty() {
                value.push(' ');
            }
            value.push_str(content);
            continue;
        }
        if let Some(name) = content.strip_prefix('[') {
            let name = name
                .strip_suffix(']')
                .unwrap_or_else(|| panic!("{here}: unterminated [name]"))
                .trim();
            assert!(!name.is_empty(), "{here}: empty vector name");
            assert!(
                vectors.iter().all(|v| v.name != name),
                "{here}: vector [{name}] defined twice"
            );
            vectors.push(Vector {
                name: name.to_string(),
                line: line_no,
                fields: Vec::new(),
            });
            continue;
        }
        let (key, value) = content
            .split_once('=')
            .unwrap_or_else(|| panic!("{here}: expected `key = value`, got {content:?}"));
        let (key, value) = (key.trim(), value.trim());
        assert!(KEYS.contains(&key), "{here}: unknown key {key:?}");
        let vector = vectors
            .last_mut()
            .unwrap_or_else(|| panic!("{here}: `{key}` outside a vector"));
        assert!(
            vector.get(key).is_none(),
            "{here}: `{key}` given twice in [{}]",
            vector.name
        );
        vector.fields.push((key.to_string(), value.to_string()));
    }
    for v in &vectors {
        let at = format!("{file}:{} [{}]", v.line, v.name);
        assert!(v.get("kind").is_some(), "{at}: no `kind`");
        assert!(v.get("hex").is_some(), "{at}: no `hex`");
        assert!(
            v.get("value").is_some() != v.get("error").is_some(),
            "{at}: needs exactly one of `value` and `error`"
        );
        assert!(
            v.get("reencoded").is_none() || v.get("value").is_some(),
            "{at}: `reencoded` only goes with `value`"
        );
    }
    vectors
}

fn parse_hex(name: &str, key: &str, text: &str) -> Vec<u8> {
    let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(
        digits.len().is_multiple_of(2),
        "[{name}]: `{key}` has an odd number of hex digits"
    );
    digits
        .chunks(2)
        .map(|pair| {
            let pair = std::str::from_utf8(pair).unwrap();
            u8::from_str_radix(pair, 16)
                .unwrap_or_else(|_| panic!("[{name}]: `{key}` has a bad hex byte {pair:?}"))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Check one vector against one decoder/encoder pair; `Err` says what differs.
fn check<T: Debug + PartialEq>(
    v: &Vector,
    decode: fn(&[u8]) -> Result<T, DecodeError>,
    encode: fn(&T) -> Vec<u8>,
) -> Result<(), String> {
    let input = v.input();
    let decoded = decode(&input);
    if let Some(want) = v.get("error") {
        return match decoded {
            Err(e) if format!("{e:?}") == want => Ok(()),
            Err(e) => Err(format!("error: want {want}\n        got  {e:?}")),
            Ok(value) => Err(format!("error: want {want}\n        got  Ok({value:?})")),
        };
    }
    let want = v.get("value").unwrap();
    let value = decoded.map_err(|e| format!("value: want {want}\n        got  Err({e:?})"))?;
    let got = format!("{value:?}");
    if got != want {
        return Err(format!("value: want {want}\n        got  {got}"));
    }
    let encoded = encode(&value);
    let expected = v.expected_encoding();
    if encoded != expected {
        return Err(format!(
            "encode: want {}\n        got  {}",
            hex(&expected),
            hex(&encoded)
        ));
    }
    match decode(&encoded) {
        Ok(again) if again == value => Ok(()),
        Ok(again) => Err(format!(
            "decode(encode(value)): want {value:?}\n        got  {again:?}"
        )),
        Err(e) => Err(format!("decode(encode(value)): got Err({e:?})")),
    }
}

fn check_vector(v: &Vector) -> Result<(), String> {
    match v.kind() {
        "natpmp-request" => check(v, natpmp::Request::decode, natpmp::Request::encode),
        "natpmp-response" => check(v, natpmp::Response::decode, natpmp::Response::encode),
        "pcp-request" => check(v, pcp::Request::decode, pcp::Request::encode),
        "pcp-response" => check(v, pcp::Response::decode, pcp::Response::encode),
        other => Err(format!("unknown kind {other:?}")),
    }
}

/// Run every vector of a file; one panic listing all the failures.
fn run_file(file: &str, text: &str) {
    let vectors = parse(file, text);
    let mut failures = Vec::new();
    let mut deviations = 0;
    for v in &vectors {
        let outcome = check_vector(v);
        match (v.get("rfc-deviation"), outcome) {
            (None, Ok(())) => {}
            (None, Err(why)) => {
                failures.push(format!("{file}:{} [{}]\n        {why}", v.line, v.name));
            }
            (Some(note), Err(_)) => {
                deviations += 1;
                eprintln!(
                    "known RFC deviation, {file}:{} [{}]: {note}",
                    v.line, v.name
                );
            }
            (Some(_), Ok(())) => failures.push(format!(
                "{file}:{} [{}]\n        the codec now does what the RFC says: \
                 remove the `rfc-deviation` line",
                v.line, v.name
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} vectors in {file} failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
    eprintln!(
        "{file}: {} vectors passed ({deviations} known RFC deviations)",
        vectors.len()
    );
}

#[test]
fn natpmp_vectors() {
    run_file("natpmp.txt", &read(NATPMP_FILE));
}

#[test]
fn pcp_vectors() {
    run_file("pcp.txt", &read(PCP_FILE));
}

#[test]
fn files_hold_enough_vectors_of_each_kind() {
    for (file, text, min, kinds) in [
        (
            "natpmp.txt",
            read(NATPMP_FILE),
            MIN_NATPMP_VECTORS,
            ["natpmp-request", "natpmp-response"],
        ),
        (
            "pcp.txt",
            read(PCP_FILE),
            MIN_PCP_VECTORS,
            ["pcp-request", "pcp-response"],
        ),
    ] {
        let vectors = parse(file, &text);
        assert!(
            vectors.len() >= min,
            "{file} holds {} vectors, fewer than {min}",
            vectors.len()
        );
        for kind in kinds {
            let with_value = vectors
                .iter()
                .filter(|v| v.kind() == kind && v.get("value").is_some())
                .count();
            let with_error = vectors
                .iter()
                .filter(|v| v.kind() == kind && v.get("error").is_some())
                .count();
            assert!(
                with_value > 0 && with_error > 0,
                "{file}: kind {kind} needs valid and malformed vectors \
                 ({with_value} valid, {with_error} malformed)"
            );
        }
    }
}

#[test]
fn every_result_code_is_covered() {
    let natpmp_codes: BTreeSet<u16> = parse("natpmp.txt", &read(NATPMP_FILE))
        .iter()
        .filter(|v| v.kind() == "natpmp-response" && v.get("value").is_some())
        .map(|v| {
            natpmp::Response::decode(&v.input())
                .unwrap()
                .result()
                .code()
        })
        .collect();
    for code in 0..=5 {
        assert!(
            natpmp_codes.contains(&code),
            "no NAT-PMP vector has result code {code}"
        );
    }
    assert!(
        natpmp_codes.iter().any(|&c| c > 5),
        "no NAT-PMP vector has a result code pfwd does not know"
    );

    let pcp_codes: BTreeSet<u8> = parse("pcp.txt", &read(PCP_FILE))
        .iter()
        .filter(|v| v.kind() == "pcp-response" && v.get("value").is_some())
        .map(|v| pcp::Response::decode(&v.input()).unwrap().result.code())
        .collect();
    for code in 0..=13 {
        assert!(
            pcp_codes.contains(&code),
            "no PCP vector has result code {code}"
        );
    }
    assert!(
        pcp_codes.iter().any(|&c| c > 13),
        "no PCP vector has a result code pfwd does not know"
    );
}
