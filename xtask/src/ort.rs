//! `cargo xtask ort [--cuda]`: fetches ONNX Runtime's shared library from its PyPI wheel.
//!
//! The wheel is downloaded with pip (no install, no virtual environment); the libraries in its
//! `onnxruntime/capi/` folder are read out of it (the `zip` crate) into `target/ort/cpu/` (or
//! `target/ort/cuda/` from `onnxruntime-gpu`), where the engine looks for them, and the CPU
//! library's SHA-256 is checked (the `sha2` crate).

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The version the engine is built for (see `crates/antiphon-engine/src/runtime.rs`).
pub const ORT_VERSION: &str = "1.31.1";
/// The library's file name inside the wheel.
pub const ORT_LIBRARY_NAME: &str = "libonnxruntime.so.1.31.1";
/// sha256 of the CPU library in `onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl`.
const CPU_LIBRARY_SHA256: &str = "fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3";

/// Which wheel to take the library from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `onnxruntime`: CPU execution provider.
    Cpu,
    /// `onnxruntime-gpu`: CUDA and CPU execution providers.
    Cuda,
}

impl Flavour {
    fn package(self) -> &'static str {
        match self {
            Flavour::Cpu => "onnxruntime",
            Flavour::Cuda => "onnxruntime-gpu",
        }
    }

    fn dir_name(self) -> &'static str {
        match self {
            Flavour::Cpu => "cpu",
            Flavour::Cuda => "cuda",
        }
    }
}

/// `cargo xtask ort [--cuda]`.
pub fn run(cuda: bool) -> Result<()> {
    nice_plug_xtask::chdir_workspace_root()?;
    let flavour = if cuda { Flavour::Cuda } else { Flavour::Cpu };
    let library = fetch(flavour)?;
    println!("{}", library.display());
    Ok(())
}

/// The folder holding the libraries of `flavour`, relative to the workspace root.
pub fn cache_dir(flavour: Flavour) -> PathBuf {
    Path::new("target").join("ort").join(flavour.dir_name())
}

/// Makes sure the library of `flavour` is in the cache and returns its path.
pub fn fetch(flavour: Flavour) -> Result<PathBuf> {
    let dir = cache_dir(flavour);
    let library = dir.join(ORT_LIBRARY_NAME);
    if library.is_file() && checksum_ok(flavour, &library)? {
        return Ok(library);
    }
    let wheels = Path::new("target").join("ort").join("wheels");
    std::fs::create_dir_all(&wheels)?;
    eprintln!(
        "xtask: downloading {}=={ORT_VERSION} from PyPI",
        flavour.package()
    );
    let status = Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
        ])
        // Pin the wheel's tags so the download does not depend on the local Python.
        .args([
            "--python-version",
            "3.11",
            "--implementation",
            "cp",
            "--abi",
            "cp311",
        ])
        .args([
            "--platform",
            "manylinux_2_28_x86_64",
            "--platform",
            "manylinux_2_27_x86_64",
        ])
        .arg("--dest")
        .arg(&wheels)
        .arg(format!("{}=={ORT_VERSION}", flavour.package()))
        .status()
        .context("could not run `python3 -m pip` (install Python 3 with pip)")?;
    if !status.success() {
        bail!(
            "pip could not download {}=={ORT_VERSION}",
            flavour.package()
        );
    }
    let prefix = format!("{}-{ORT_VERSION}-", flavour.package().replace('-', "_"));
    let wheel = std::fs::read_dir(&wheels)?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with(&prefix))
        })
        .with_context(|| format!("no {prefix}*.whl in {}", wheels.display()))?;
    std::fs::create_dir_all(&dir)?;
    extract_libraries(&wheel, &dir)?;
    if !library.is_file() {
        bail!("{} holds no {ORT_LIBRARY_NAME}", wheel.display());
    }
    if !checksum_ok(flavour, &library)? {
        bail!("{} does not have the expected sha256", library.display());
    }
    eprintln!(
        "xtask: ONNX Runtime {ORT_VERSION} ({}) is in {}",
        flavour.dir_name(),
        dir.display()
    );
    Ok(library)
}

/// Libraries of `flavour` to ship beside the plugin.
pub fn libraries(flavour: Flavour) -> Result<Vec<PathBuf>> {
    let dir = cache_dir(flavour);
    let mut libs: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("libonnxruntime"))
        })
        .collect();
    libs.sort();
    Ok(libs)
}

/// Writes the wheel's `onnxruntime/capi/libonnxruntime*.so*` members into `dir`, by base name.
fn extract_libraries(wheel: &Path, dir: &Path) -> Result<()> {
    let file = File::open(wheel).with_context(|| format!("could not open {}", wheel.display()))?;
    let mut archive = zip::ZipArchive::new(file)
        .with_context(|| format!("{} is not a zip file", wheel.display()))?;
    // Names are read from the central directory; only the members wanted are decompressed.
    let mut members = Vec::new();
    for name in archive.file_names() {
        let name = name?;
        if name.starts_with("onnxruntime/capi/libonnxruntime") && name.contains(".so") {
            members.push(name.into_owned());
        }
    }
    for name in members {
        let mut member = archive.by_name(&name)?;
        let base = Path::new(&name).file_name().context("member name")?;
        let to = dir.join(base);
        let mut out =
            File::create(&to).with_context(|| format!("could not create {}", to.display()))?;
        std::io::copy(&mut member, &mut out)
            .with_context(|| format!("could not unpack {name} to {}", to.display()))?;
    }
    Ok(())
}

fn checksum_ok(flavour: Flavour, library: &Path) -> Result<bool> {
    if flavour != Flavour::Cpu {
        return Ok(true);
    }
    let bytes =
        std::fs::read(library).with_context(|| format!("could not read {}", library.display()))?;
    let hex: String = Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(hex == CPU_LIBRARY_SHA256)
}
