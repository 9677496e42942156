//! Build time only: fetches ONNX Runtime's shared library from its PyPI wheel into `target/ort/`
//! under the workspace root, where the engine's `runtime` looks for it (see [`fetch()`]).
//!
//! Used by the xtask (`cargo xtask ort`, `bundle`, `demo`, `test`) and, through the
//! `fetch-on-build` feature, by its own build script: the crates whose tests run the real ONNX
//! Runtime (the plugin, `antiphon-engine`, `antiphon-cli`) take it as a dev-dependency with
//! that feature, so the first build of their tests fetches the CPU library and a plain
//! `cargo test` needs no earlier `cargo xtask ort`. A failed fetch there is a warning, never a
//! failed build.
//!
//! No thread of the plugin uses it, and nothing that ships links it. It writes only under
//! `target/ort/`; it knows no other Antiphon crate, model, token or plugin API.

mod fetch;

pub use fetch::{
    cache_dir, fetch, libraries, library_path, Flavour, ORT_LIBRARY_NAME, ORT_VERSION,
};
