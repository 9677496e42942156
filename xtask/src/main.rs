//! `cargo xtask`: the project's chores.
//!
//! - `cargo xtask bundle antiphon [--release] [--features cuda]`: nice-plug-xtask's bundler,
//!   writing `target/bundled/Antiphon.clap` and `target/bundled/Antiphon.vst3`, then the ONNX
//!   Runtime library beside the plugin binary in both.
//! - `cargo xtask ort [--cuda]`: fetch the ONNX Runtime library from PyPI (see `ort.rs`).
//! - `cargo xtask demo`: build everything and answer the example song (see `demo.rs`).
//! - `cargo xtask test`: the whole test suite as CI runs it (see `test.rs`).
//! - anything else: passed on to nice-plug-xtask.

mod demo;
mod ort;
mod test;

use anyhow::{Context, Result};
use std::path::Path;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("test") => test::run(args[1..].to_vec()),
        Some("demo") => demo::run(args[1..].to_vec()),
        Some("ort") => ort::run(args[1..].to_vec()),
        Some("bundle") => bundle(args),
        _ => nice_plug_xtask::main_with_args("cargo xtask", args),
    }
}

/// Bundles with nice-plug-xtask, then ships ONNX Runtime inside both bundles.
fn bundle(args: Vec<String>) -> Result<()> {
    let cuda = args
        .windows(2)
        .any(|w| w[0] == "--features" && w[1].contains("cuda"));
    nice_plug_xtask::main_with_args("cargo xtask", args)?;
    nice_plug_xtask::chdir_workspace_root()?;
    let flavour = if cuda {
        ort::Flavour::Cuda
    } else {
        ort::Flavour::Cpu
    };
    ort::fetch(flavour)?;
    let bundled = Path::new("target/bundled");
    // A Linux CLAP is a single file: the library sits in the same folder as Antiphon.clap.
    // A VST3 bundle keeps its binary in Contents/x86_64-linux/.
    for dir in [
        bundled.to_path_buf(),
        bundled.join("Antiphon.vst3/Contents/x86_64-linux"),
    ] {
        if !dir.is_dir() {
            continue;
        }
        for lib in ort::libraries(flavour)? {
            let to = dir.join(lib.file_name().context("library name")?);
            std::fs::copy(&lib, &to)
                .with_context(|| format!("could not copy {} to {}", lib.display(), to.display()))?;
        }
        eprintln!(
            "Placed ONNX Runtime {} in '{}'",
            ort::ORT_VERSION,
            dir.display()
        );
    }
    Ok(())
}
