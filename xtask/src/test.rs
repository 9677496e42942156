//! `cargo xtask test`: every check CI runs, in order.
//!
//! 0. `cargo xtask ort`: the ONNX Runtime library from PyPI, for the engine's tests.
//! 1. `cargo test --workspace --features rt-alloc-check`: unit, property and integration tests,
//!    the CLAP host harness included, with `process()` under nice-plug's allocation checker.
//!    The AMT conformance tests run on the cases kept in `tests/data/conformance`.
//! 2. The conformance tests again, on the reference's whole set when it is beside the
//!    repository (`../shared/amt/conformance`, or `AMT_CONFORMANCE_DIR`): it adds the corpus
//!    pieces that may not be kept in the repository (required when
//!    `ANTIPHON_REQUIRE_REFERENCE_SET=1`, as in CI).
//! 3. The same host harness against the bundled `target/bundled/Antiphon.clap`.
//! 4. `tests/realtime_sanitizer.rs` rebuilt with RealtimeSanitizer in `target/rtsan`, when
//!    Debian's `libclang-rt-22-dev` is installed (required when `ANTIPHON_REQUIRE_RTSAN=1`,
//!    as in CI). Extra arguments are passed to the first `cargo test`.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's LLVM packages put the RealtimeSanitizer runtime.
const RTSAN_GLOB_ROOT: &str = "/usr/lib";

pub fn run(extra_args: Vec<String>) -> Result<()> {
    nice_plug_xtask::chdir_workspace_root()?;
    // The engine's tests run the real ONNX Runtime, found in this cache.
    crate::ort::fetch(crate::ort::Flavour::Cpu)?;

    let mut test = cargo();
    test.args(["test", "--workspace", "--features", "rt-alloc-check"])
        .args(&extra_args)
        // The cases kept in the repository, whatever the caller's environment names; the
        // whole set gets its own pass below.
        .env_remove("AMT_CONFORMANCE_DIR");
    run_step("unit, property and host tests (allocation-checked)", test)?;

    match whole_conformance_set() {
        Some(set) => {
            // Only the tests that read the conformance folder; they are already built.
            let mut whole = cargo();
            whole
                .args(["test", "--workspace", "--features", "rt-alloc-check"])
                .args(["--test", "conformance", "--test", "sampling_conformance"])
                .args(["--test", "cli"])
                .env("AMT_CONFORMANCE_DIR", set);
            run_step("AMT conformance on the reference's whole set", whole)?;
        }
        None if std::env::var_os("ANTIPHON_REQUIRE_REFERENCE_SET").is_some() => {
            bail!("the AMT conformance set is not at ../shared/amt/conformance: set AMT_CONFORMANCE_DIR")
        }
        None => eprintln!(
            "\nxtask: the reference's whole AMT conformance set is not beside the repository: \
             conformance ran on the cases in tests/data/conformance only."
        ),
    }

    {
        // The checked debug bundle must not replace the user's own bundles: set them aside and
        // put them back whatever happens.
        let _keep = SetAside::new("target/bundled", "target/bundled.user")?;
        let mut bundle = cargo();
        bundle.args([
            "xtask",
            "bundle",
            "antiphon",
            "--features",
            "rt-alloc-check",
        ]);
        run_step("debug bundle with the allocation checker", bundle)?;
        let mut bundled = cargo();
        bundled
            .args([
                "test",
                "--features",
                "rt-alloc-check",
                "--test",
                "clap_host",
            ])
            .env(
                "ANTIPHON_CLAP",
                Path::new("target/bundled/Antiphon.clap").canonicalize()?,
            );
        run_step("host tests against the bundled Antiphon.clap", bundled)?;
    }

    match rtsan_runtime() {
        Some(lib) => {
            let mut sanitized = cargo();
            sanitized
                .args(["test", "--test", "realtime_sanitizer"])
                .env("RTSAN_ENABLE", "1")
                .env("RTSAN_LIB_PATH", &lib)
                .env("CARGO_TARGET_DIR", "target/rtsan");
            if let Some(addr2line) = which("addr2line") {
                sanitized.env(
                    "RTSAN_OPTIONS",
                    format!("external_symbolizer_path={}", addr2line.display()),
                );
            }
            run_step("real-time path under RealtimeSanitizer", sanitized)?;
        }
        None if std::env::var_os("ANTIPHON_REQUIRE_RTSAN").is_some() => {
            bail!("RealtimeSanitizer runtime not found: apt-get install libclang-rt-22-dev")
        }
        None => eprintln!(
            "\nxtask: skipped the RealtimeSanitizer run: its runtime is not installed \
             (apt-get install libclang-rt-22-dev)."
        ),
    }
    eprintln!("\nxtask: all test steps passed.");
    Ok(())
}

/// Moves a folder out of the way and back again on drop; what was made in its place moves to
/// `<folder>-test`.
struct SetAside {
    path: PathBuf,
    aside: PathBuf,
}

impl SetAside {
    fn new(path: &str, aside: &str) -> Result<Self> {
        let (path, aside) = (PathBuf::from(path), PathBuf::from(aside));
        if path.exists() {
            std::fs::rename(&path, &aside)
                .with_context(|| format!("could not move {} aside", path.display()))?;
        }
        Ok(Self { path, aside })
    }
}

impl Drop for SetAside {
    fn drop(&mut self) {
        let test_copy = PathBuf::from(format!("{}-test", self.path.display()));
        let _ = std::fs::remove_dir_all(&test_copy);
        if self.path.exists() {
            let _ = std::fs::rename(&self.path, &test_copy);
        }
        if self.aside.exists() {
            let _ = std::fs::rename(&self.aside, &self.path);
        }
    }
}

/// The reference's whole conformance set: `$AMT_CONFORMANCE_DIR`, else the shared folder beside
/// the repository, if it holds the training corpus.
fn whole_conformance_set() -> Option<PathBuf> {
    let dir = std::env::var_os("AMT_CONFORMANCE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/amt/conformance"));
    dir.join("training")
        .is_dir()
        .then(|| dir.canonicalize().ok())
        .flatten()
}

fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

fn run_step(what: &str, mut command: Command) -> Result<()> {
    eprintln!("\nxtask: {what}");
    let status = command
        .status()
        .with_context(|| format!("could not start {command:?}"))?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

/// `libclang_rt.rtsan-x86_64.a` from the newest installed `llvm-*` package.
fn rtsan_runtime() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(RTSAN_GLOB_ROOT)
        .ok()?
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("llvm-"))
        .filter_map(|e| {
            let clang = e.path().join("lib/clang");
            std::fs::read_dir(clang).ok()
        })
        .flatten()
        .flatten()
        .map(|version| version.path().join("lib/linux/libclang_rt.rtsan-x86_64.a"))
        .filter(|p| p.exists())
        .collect();
    found.sort();
    found.pop()
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}
