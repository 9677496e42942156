//! `cargo xtask ort [--cuda]`: fetches ONNX Runtime's shared library from its PyPI wheel.
//!
//! The wheel is downloaded with pip (no install, no virtual environment) and the libraries in
//! its `onnxruntime/capi/` folder are extracted to `target/ort/cpu/` (or `target/ort/cuda/`
//! from `onnxruntime-gpu`), where the engine looks for them.

use anyhow::{bail, Context, Result};
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
pub fn run(args: Vec<String>) -> Result<()> {
    nice_plug_xtask::chdir_workspace_root()?;
    let flavour = if args.iter().any(|a| a == "--cuda") {
        Flavour::Cuda
    } else {
        Flavour::Cpu
    };
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
    // A wheel is a zip file; Python (already needed for pip) unpacks the libraries.
    let status = Command::new("python3")
        .args([
            "-c",
            "import sys, zipfile, os\n\
             z = zipfile.ZipFile(sys.argv[1])\n\
             for n in z.namelist():\n\
             \x20   if n.startswith('onnxruntime/capi/libonnxruntime') and '.so' in n:\n\
             \x20       open(os.path.join(sys.argv[2], os.path.basename(n)), 'wb').write(z.read(n))\n",
        ])
        .arg(&wheel)
        .arg(&dir)
        .status()?;
    if !status.success() || !library.is_file() {
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

fn checksum_ok(flavour: Flavour, library: &Path) -> Result<bool> {
    if flavour != Flavour::Cpu {
        return Ok(true);
    }
    let output = Command::new("sha256sum").arg(library).output()?;
    let text = String::from_utf8_lossy(&output.stdout);
    Ok(text.split_whitespace().next() == Some(CPU_LIBRARY_SHA256))
}
