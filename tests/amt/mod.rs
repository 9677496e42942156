//! Shared fixtures of the integration tests: where the AMT conformance set lives, how to list
//! and load its files, and a SHA-256 to check byte-exact outputs.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use antiphon_tokens::{CompoundNote, Event};
use serde_json::Value;

/// The conformance folder: `$AMT_CONFORMANCE_DIR`, or `../shared/amt/conformance` beside the
/// crate. A missing folder fails the test: conformance is never skipped silently.
pub fn conformance_dir() -> PathBuf {
    let dir = match std::env::var_os("AMT_CONFORMANCE_DIR") {
        Some(d) => PathBuf::from(d),
        None => repo_root().join("../shared/amt/conformance"),
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
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes(block[4 * i..4 * i + 4].try_into().unwrap());
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for i in 0..8 {
            h[i] = h[i].wrapping_add(v[i]);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

pub mod expr;
