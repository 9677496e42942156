//! `cargo xtask demo`: what a new user runs first. It fetches ONNX Runtime, builds and bundles
//! the plugin, then runs the engine with the built-in model on the example song: an
//! accompaniment of its melody and a continuation, as MIDI (and WAV when fluidsynth and a
//! General MIDI soundfont are installed), and says where they are and how fast they were made.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The example: eight bars of a CC0 song from OpenScore Lieder (see examples/README.md).
const EXAMPLE: &str = "examples/song.mid";
/// Where the demo writes.
const OUT_DIR: &str = "target/demo";
/// Soundfonts fluidsynth can render with, most likely first.
const SOUNDFONTS: &[&str] = &[
    "/usr/share/sounds/sf2/FluidR3_GM.sf2",
    "/usr/share/sounds/sf2/default-GM.sf2",
];

pub fn run(seed: u64) -> Result<()> {
    nice_plug_xtask::chdir_workspace_root()?;
    crate::ort::fetch(crate::ort::Flavour::Cpu)?;
    crate::bundle(
        ["bundle", "antiphon", "--release"]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    )?;
    // The command line is its own crate: the bundle does not build it.
    let built = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .args(["build", "--release", "-p", "antiphon-cli"])
        .status()
        .context("could not run cargo")?;
    if !built.success() {
        bail!("building the command line failed");
    }
    let cli = Path::new("target/release/antiphon");
    if !cli.is_file() {
        bail!("{} was not built", cli.display());
    }
    std::fs::create_dir_all(OUT_DIR)?;
    let seed = seed.to_string();

    let runs: [(&str, &str, Vec<&str>); 2] = [
        ("accompany", "accompaniment", vec!["--melody-track", "1"]),
        ("continue", "continuation", vec!["--bars", "4"]),
    ];
    let mut written = Vec::new();
    for (command, name, extra) in runs {
        let out = PathBuf::from(OUT_DIR).join(format!("{name}.mid"));
        eprintln!("\nxtask: antiphon {command} {EXAMPLE}");
        let status = Command::new(cli)
            .arg(command)
            .arg(EXAMPLE)
            .arg("-o")
            .arg(&out)
            .args(["--seed", &seed])
            .args(&extra)
            .status()
            .context("could not run the antiphon CLI")?;
        if !status.success() {
            bail!("antiphon {command} failed ({status})");
        }
        written.push(out);
    }
    let mut rendered = Vec::new();
    match SOUNDFONTS.iter().find(|sf| Path::new(sf).is_file()) {
        Some(soundfont) if which("fluidsynth") => {
            for midi in &written {
                let wav = midi.with_extension("wav");
                let ok = Command::new("fluidsynth")
                    .args(["-ni", "-g", "0.8", "-r", "44100", "-F"])
                    .arg(&wav)
                    .arg(soundfont)
                    .arg(midi)
                    .output()
                    .map(|o| o.status.success())
                    .unwrap_or(false);
                if ok {
                    rendered.push(wav);
                }
            }
        }
        _ => eprintln!("xtask: for WAV files too: apt-get install fluidsynth fluid-soundfont-gm"),
    }
    println!("\nAntiphon's answers to {EXAMPLE}:");
    for file in written.iter().chain(&rendered) {
        println!("  {}", file.display());
    }
    println!("The plugin: target/bundled/Antiphon.clap and target/bundled/Antiphon.vst3");
    Ok(())
}

fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
