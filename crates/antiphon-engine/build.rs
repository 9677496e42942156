//! Compiles the default model into the engine (so into the plugin and the CLI) when the
//! repository's `models/antiphon-small/` holds one, so a fresh install works with no files to
//! place (DESIGN §5).

use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/antiphon-small");
    println!("cargo::rustc-check-cfg=cfg(antiphon_default_model)");
    println!(
        "cargo::rerun-if-changed={}",
        dir.join("model.onnx").display()
    );
    println!(
        "cargo::rerun-if-changed={}",
        dir.join("model.json").display()
    );
    if dir.join("model.onnx").is_file() && dir.join("model.json").is_file() {
        println!("cargo::rustc-cfg=antiphon_default_model");
    }
}
