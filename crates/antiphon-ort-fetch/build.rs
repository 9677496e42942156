//! With the `fetch-on-build` feature (the dev-dependency of the crates whose tests run ONNX
//! Runtime), fetches the CPU library into `target/ort/cpu/` when it is missing there, so a
//! plain `cargo test` on a fresh clone finds it. Without the feature it does nothing.
//!
//! It never fails the build: with no network, no `python3` or no pip it says why in a
//! `cargo:warning`, and the tests that need ONNX Runtime then fail with the engine's message.
//! It watches the library's path, so it runs again while the library is missing and not once
//! the library is there. With `ANTIPHON_ORT_LIB` set, the engine loads that file alone, so
//! nothing is fetched. Nothing is fetched when the tests are run, only when they are built.

fn main() {
    #[cfg(feature = "fetch-on-build")]
    fetch_on_build::run();
    #[cfg(not(feature = "fetch-on-build"))]
    println!("cargo::rerun-if-changed=build.rs");
}

#[cfg(feature = "fetch-on-build")]
#[allow(dead_code)]
#[path = "src/fetch.rs"]
mod fetch;

#[cfg(feature = "fetch-on-build")]
mod fetch_on_build {
    use crate::fetch::{fetch, library_path, Flavour, ORT_LIBRARY_NAME, ORT_VERSION};
    use std::path::PathBuf;

    /// Names the library file to use instead of the cache (the engine's `ORT_LIBRARY_ENV`).
    const ORT_LIBRARY_ENV: &str = "ANTIPHON_ORT_LIB";

    pub fn run() {
        println!("cargo::rerun-if-env-changed={ORT_LIBRARY_ENV}");
        // This crate is `crates/antiphon-ort-fetch/`: the workspace root is two folders up,
        // the same root the engine's `xtask_cache_dir` takes from its own manifest folder.
        // CARGO_TARGET_DIR does not move the cache, as it does not move where the engine looks.
        let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
        let Some(root) = manifest_dir.ancestors().nth(2) else {
            println!(
                "cargo::warning=no workspace root above {}",
                manifest_dir.display()
            );
            return;
        };
        if std::env::var_os(ORT_LIBRARY_ENV).is_some_and(|v| !v.is_empty()) {
            // The engine then loads that file alone: the cache is not needed, and this runs
            // again only when the variable changes.
            println!("cargo::rerun-if-changed=build.rs");
            return;
        }
        let library = library_path(root, Flavour::Cpu);
        // While the library is missing, cargo runs this again on every build (and rebuilds what
        // depends on this crate); once it is there, never again until it changes.
        println!("cargo::rerun-if-changed={}", library.display());
        if library.is_file() {
            return;
        }
        // A success is not a `cargo::warning`: cargo would show it again on every later build.
        // `fetch` says what it does on this script's standard error (`cargo test -vv`).
        if let Err(error) = fetch(root, Flavour::Cpu) {
            println!(
                "cargo::warning=could not fetch ONNX Runtime {ORT_VERSION} for the tests: \
                 {error:#}. The tests that run ONNX Runtime will fail until `cargo xtask ort` \
                 (python3 with pip, and network) puts {ORT_LIBRARY_NAME} in {}, or \
                 {ORT_LIBRARY_ENV} names it",
                library.parent().unwrap_or(root).display()
            );
        }
    }
}
