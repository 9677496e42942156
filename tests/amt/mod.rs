//! Shared fixtures of the integration tests: where the AMT conformance set lives, how to list
//! and load its files, and a SHA-256 to check byte-exact outputs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use antiphon_tokens::{CompoundNote, Event};
use serde_json::Value;

/// The conformance folder: `$AMT_CONFORMANCE_DIR` (for the reference's whole set, which
/// `cargo xtask test` also runs), else the cases kept in the repository,
/// `tests/data/conformance` (made from inputs that may be redistributed; its README says
/// which). A missing folder fails the test: conformance is never skipped silently.
pub fn conformance_dir() -> PathBuf {
    let dir = match std::env::var_os("AMT_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => repo_root().join("tests/data/conformance"),
    };
    assert!(
        dir.join("expected").is_dir(),
        "AMT conformance set not found at {} (set AMT_CONFORMANCE_DIR)",
        dir.display()
    );
    dir
}

/// The repository's root: the nearest folder above the testing crate with a `Cargo.lock` (the
/// root crate's tests and other crates' tests share this module).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .find(|dir| dir.join("Cargo.lock").is_file())
        .expect("the workspace root")
        .to_path_buf()
}

/// Files in `sub` with extension `ext`, sorted by name.
pub fn files(sub: &str, ext: &str) -> Vec<PathBuf> {
    let dir = conformance_dir().join(sub);
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .collect();
    out.sort();
    assert!(!out.is_empty(), "no .{ext} files in {}", dir.display());
    out
}

/// Parses a JSON file.
pub fn load_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// One expected file with its MIDI input.
pub struct Case {
    /// File name of the MIDI input.
    pub name: String,
    /// The expected JSON.
    pub expected: Value,
    /// The MIDI bytes.
    pub midi: Vec<u8>,
}

/// Every `expected/*.json` with its `midi/` input, in name order.
pub fn cases() -> Vec<Case> {
    let dir = conformance_dir();
    files("expected", "json")
        .into_iter()
        .map(|p| {
            let expected = load_json(&p);
            let name = expected["file"].as_str().expect("`file` field").to_string();
            let midi = std::fs::read(dir.join("midi").join(&name))
                .unwrap_or_else(|e| panic!("midi/{name}: {e}"));
            Case {
                name,
                expected,
                midi,
            }
        })
        .collect()
}

/// A JSON list of integers.
pub fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x.as_i64().unwrap_or_else(|| panic!("not an integer: {x}")))
        .collect()
}

/// A JSON list of non-negative integers as ids.
pub fn ids(v: &Value) -> Vec<u32> {
    ints(v)
        .into_iter()
        .map(|x| u32::try_from(x).expect("id"))
        .collect()
}

/// Compound records flattened as the reference writes them (−1 for unclosed).
pub fn flat_compound(c: &[CompoundNote]) -> Vec<i64> {
    c.iter()
        .flat_map(|n| {
            [
                n.onset_ticks as i64,
                n.duration_ticks.map_or(-1, |d| d as i64),
                n.pitch as i64,
                n.instrument as i64,
                n.velocity as i64,
            ]
        })
        .collect()
}

/// Events as flat ids (the reference's `events`).
pub fn flat_events(spec: &antiphon_tokens::VocabSpec, events: &[Event]) -> Vec<u32> {
    let mut out = Vec::new();
    antiphon_tokens::encode_into(spec, events, &mut out).unwrap();
    out.into_iter().map(|t| t.0).collect()
}

/// Collects mismatches so one run reports all of them.
#[derive(Default)]
pub struct Failures(Vec<String>);

impl Failures {
    /// Records a mismatch unless `a == b`.
    pub fn eq<T: PartialEq + std::fmt::Debug>(&mut self, what: impl std::fmt::Display, a: T, b: T) {
        if a != b {
            let (sa, sb) = (format!("{a:?}"), format!("{b:?}"));
            let cut = |s: &str| s.chars().take(300).collect::<String>();
            self.0
                .push(format!("{what}: got {} expected {}", cut(&sa), cut(&sb)));
        }
    }

    /// Records a failure.
    pub fn fail(&mut self, what: impl std::fmt::Display) {
        self.0.push(what.to_string());
    }

    /// Panics with every mismatch, if any.
    pub fn finish(self, checked: usize) {
        assert!(checked > 0, "nothing was checked");
        assert!(
            self.0.is_empty(),
            "{} mismatches:\n{}",
            self.0.len(),
            self.0.join("\n")
        );
    }
}

/// SHA-256 of `data` as lowercase hex (FIPS 180-4), to check the reference's digests.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub mod expr;
