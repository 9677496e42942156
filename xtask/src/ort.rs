//! `cargo xtask ort [--cuda]`: fetches ONNX Runtime's shared library from its PyPI wheel into
//! `target/ort/cpu/` (or `target/ort/cuda/` from `onnxruntime-gpu`), where the engine looks for
//! it. The fetch itself is `antiphon-ort-fetch`'s, which also runs it on the tests' first build.

pub use antiphon_ort_fetch::{Flavour, ORT_VERSION};
use anyhow::{Context, Result};
use std::path::PathBuf;

/// `cargo xtask ort [--cuda]`: prints the library's path.
pub fn run(cuda: bool) -> Result<()> {
    let flavour = if cuda { Flavour::Cuda } else { Flavour::Cpu };
    let library = fetch(flavour)?;
    println!("{}", library.display());
    Ok(())
}

/// Changes to the workspace root, as every chore does, and returns it.
pub fn workspace_root() -> Result<PathBuf> {
    nice_plug_xtask::chdir_workspace_root()?;
    std::env::current_dir().context("could not read the current folder")
}

/// Makes sure the library of `flavour` is in the workspace's cache and returns its path.
pub fn fetch(flavour: Flavour) -> Result<PathBuf> {
    antiphon_ort_fetch::fetch(&workspace_root()?, flavour)
}

/// Libraries of `flavour` in the workspace's cache, to ship beside the plugin.
pub fn libraries(flavour: Flavour) -> Result<Vec<PathBuf>> {
    antiphon_ort_fetch::libraries(&workspace_root()?, flavour)
}
