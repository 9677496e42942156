//! The fetch itself, shared by the library and the build script (`build.rs` includes this file).
//!
//! The wheel is downloaded with pip (no install, no virtual environment); the libraries in its
//! `onnxruntime/capi/` folder are read out of it (the `zip` crate) into `target/ort/cpu/` (or
//! `target/ort/cuda/` from `onnxruntime-gpu`) under the workspace root, where the engine looks
//! for them, and the CPU library's SHA-256 is checked (the `sha2` crate).

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

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
    /// The PyPI package.
    pub fn package(self) -> &'static str {
        match self {
            Flavour::Cpu => "onnxruntime",
            Flavour::Cuda => "onnxruntime-gpu",
        }
    }

    /// The folder under `target/ort/`.
    pub fn dir_name(self) -> &'static str {
        match self {
            Flavour::Cpu => "cpu",
            Flavour::Cuda => "cuda",
        }
    }
}

/// The folder holding the libraries of `flavour`: `target/ort/<flavour>/` under
/// `workspace_root`, whatever `CARGO_TARGET_DIR` says, since that is where the engine looks.
pub fn cache_dir(workspace_root: &Path, flavour: Flavour) -> PathBuf {
    workspace_root
        .join("target")
        .join("ort")
        .join(flavour.dir_name())
}

/// The library of `flavour` in the cache, whether or not it is there yet.
pub fn library_path(workspace_root: &Path, flavour: Flavour) -> PathBuf {
    cache_dir(workspace_root, flavour).join(ORT_LIBRARY_NAME)
}

/// Makes sure the library of `flavour` is in the cache under `workspace_root` and returns its
/// path. Downloads the wheel (into `target/ort/wheels/`) only when the library is missing or,
/// for the CPU one, does not have the expected digest.
pub fn fetch(workspace_root: &Path, flavour: Flavour) -> Result<PathBuf> {
    let dir = cache_dir(workspace_root, flavour);
    let library = dir.join(ORT_LIBRARY_NAME);
    if library.is_file() && checksum_ok(flavour, &library)? {
        return Ok(library);
    }
    let wheels = workspace_root.join("target").join("ort").join("wheels");
    std::fs::create_dir_all(&wheels)
        .with_context(|| format!("could not create {}", wheels.display()))?;
    eprintln!(
        "antiphon-ort-fetch: downloading {}=={ORT_VERSION} from PyPI",
        flavour.package()
    );
    let output = Command::new("python3")
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
        // Captured, not inherited: a build script's standard output is read by cargo.
        .output()
        .context("could not run `python3 -m pip` (install Python 3 with pip)")?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        let last = said.lines().rev().find(|l| !l.trim().is_empty());
        bail!(
            "pip could not download {}=={ORT_VERSION}{}",
            flavour.package(),
            last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
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
    std::fs::create_dir_all(&dir).with_context(|| format!("could not create {}", dir.display()))?;
    extract_libraries(&wheel, &dir)?;
    if !library.is_file() {
        bail!("{} holds no {ORT_LIBRARY_NAME}", wheel.display());
    }
    if !checksum_ok(flavour, &library)? {
        bail!("{} does not have the expected sha256", library.display());
    }
    eprintln!(
        "antiphon-ort-fetch: ONNX Runtime {ORT_VERSION} ({}) is in {}",
        flavour.dir_name(),
        dir.display()
    );
    Ok(library)
}

/// Libraries of `flavour` in the cache under `workspace_root`, to ship beside the plugin.
pub fn libraries(workspace_root: &Path, flavour: Flavour) -> Result<Vec<PathBuf>> {
    let dir = cache_dir(workspace_root, flavour);
    let mut libs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .with_context(|| format!("could not read {}", dir.display()))?
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
///
/// Each file is written beside its final name and then renamed, so a reader never sees half a
/// library, and it keeps the member's date, as `unzip` does: a build script watching the library
/// (`cargo::rerun-if-changed`) then finds it unchanged on the next build instead of newer than
/// its own last run.
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
        let partial = dir.join(format!(
            ".{}.partial-{}",
            base.to_string_lossy(),
            std::process::id()
        ));
        let mut out = File::create(&partial)
            .with_context(|| format!("could not create {}", partial.display()))?;
        std::io::copy(&mut member, &mut out)
            .with_context(|| format!("could not unpack {name} to {}", partial.display()))?;
        if let Some(date) = member.last_modified().and_then(zip_date_to_system_time) {
            out.set_modified(date)
                .with_context(|| format!("could not date {}", partial.display()))?;
        }
        drop(out);
        std::fs::rename(&partial, &to)
            .with_context(|| format!("could not move {} to {}", partial.display(), to.display()))?;
    }
    Ok(())
}

/// A zip member's date (taken as UTC; zip dates carry no zone) as a `SystemTime`.
fn zip_date_to_system_time(date: zip::DateTime) -> Option<SystemTime> {
    let date = time::PrimitiveDateTime::try_from(date).ok()?;
    Some(date.assume_utc().into())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_dates_become_the_same_instant_in_utc() {
        let at = |y, mo, d, h, mi, s| {
            let date = zip::DateTime::from_date_and_time(y, mo, d, h, mi, s).unwrap();
            zip_date_to_system_time(date)
                .unwrap()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        // `date -u -d '1980-01-01 00:00:00' +%s`, the earliest zip date, and a leap day.
        assert_eq!(at(1980, 1, 1, 0, 0, 0), 315_532_800);
        assert_eq!(at(2024, 2, 29, 12, 34, 56), 1_709_210_096);
    }

    #[test]
    fn the_cache_is_under_the_workspace_root_given() {
        let root = Path::new("/some/workspace");
        assert_eq!(
            library_path(root, Flavour::Cpu),
            Path::new("/some/workspace/target/ort/cpu/libonnxruntime.so.1.31.1")
        );
        assert_eq!(
            cache_dir(root, Flavour::Cuda),
            Path::new("/some/workspace/target/ort/cuda")
        );
    }
}
