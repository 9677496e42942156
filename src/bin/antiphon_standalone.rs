//! Antiphon as a standalone program (JACK, ALSA or a dummy backend), mainly to open the editor
//! without a host: `cargo run --features standalone --bin antiphon-standalone -- --backend dummy`.

fn main() {
    nice_plug::prelude::nice_export_standalone::<antiphon::Antiphon>();
}
