//! `cargo xtask`: the project's chores.
//!
//! - `cargo xtask test`: the whole test suite as CI runs it (see `test.rs`).
//! - `cargo xtask bundle antiphon [--release]`: nice-plug-xtask's bundler, writing
//!   `target/bundled/Antiphon.clap` and `target/bundled/Antiphon.vst3`.
//! - anything else: passed on to nice-plug-xtask.

mod test;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    match args.next().as_deref() {
        Some("test") => test::run(args.collect()),
        Some(other) => nice_plug_xtask::main_with_args(
            "cargo xtask",
            std::iter::once(other.to_string()).chain(args),
        ),
        None => {
            eprintln!("usage: cargo xtask <test | bundle antiphon [--release] | ...>");
            nice_plug_xtask::main_with_args("cargo xtask", std::iter::empty())
        }
    }
}
