//! `cargo xtask`: the project's chores.
//!
//! - `cargo xtask bundle antiphon [--release] [--features cuda]`: nice-plug-xtask's bundler,
//!   writing `target/bundled/Antiphon.clap` and `target/bundled/Antiphon.vst3`, then the ONNX
//!   Runtime library beside the plugin binary in both.
//! - `cargo xtask ort [--cuda]`: fetch the ONNX Runtime library from PyPI (see `ort.rs`).
//! - `cargo xtask demo [--seed N]`: build everything and answer the example song (see `demo.rs`).
//! - `cargo xtask test [ARGS]`: the whole test suite as CI runs it (see `test.rs`).
//! - anything else: passed on to nice-plug-xtask.

mod demo;
mod ort;
mod test;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use std::path::Path;

/// The project's chores; other subcommands go to nice-plug-xtask.
#[derive(Parser, Debug)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    after_help = "Other subcommands (bundle-universal, …) go to nice-plug-xtask."
)]
struct Cli {
    /// What to do; none prints nice-plug-xtask's usage.
    #[command(subcommand)]
    command: Option<Command>,
}

/// The xtask's own subcommands.
#[derive(Subcommand, Debug)]
enum Command {
    /// Every check CI runs, in order; extra arguments go to the first `cargo test`.
    #[command(disable_help_flag = true)]
    Test {
        /// Passed to `cargo test --workspace --features rt-alloc-check` as given.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        cargo_test_args: Vec<String>,
    },
    /// Build and bundle everything, then answer the example song.
    Demo {
        /// Seed of both answers.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Fetch the ONNX Runtime library from PyPI into target/ort/.
    Ort {
        /// The CUDA build (`onnxruntime-gpu`) instead of the CPU one.
        #[arg(long)]
        cuda: bool,
    },
    /// nice-plug-xtask's bundler (e.g. `bundle antiphon --release [--features cuda]`), then
    /// ONNX Runtime beside the plugin in both bundles.
    #[command(disable_help_flag = true)]
    Bundle {
        /// Passed to nice-plug-xtask's `bundle` as given.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        bundler_args: Vec<String>,
    },
    /// Any other subcommand of nice-plug-xtask (e.g. `bundle-universal`).
    #[command(external_subcommand)]
    Other(Vec<String>),
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // clap drops a leading `--` (`cargo xtask test -- --nocapture`), which `cargo test` needs:
    // the pass-through subcommands hand on the arguments as given, not as parsed.
    match Cli::parse().command {
        Some(Command::Test { .. }) => test::run(args[1..].to_vec()),
        Some(Command::Demo { seed }) => demo::run(seed),
        Some(Command::Ort { cuda }) => ort::run(cuda),
        Some(Command::Bundle { .. }) => bundle(args),
        Some(Command::Other(args)) => nice_plug_xtask::main_with_args("cargo xtask", args),
        None => nice_plug_xtask::main_with_args("cargo xtask", args),
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
