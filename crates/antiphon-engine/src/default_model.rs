//! The default model, compiled in when `models/antiphon-small/` holds one at build time.

use super::model::ModelSource;

/// Name of the built-in model.
pub const DEFAULT_MODEL_NAME: &str = "antiphon-small";

/// The built-in model, if this build has one.
pub fn default_model() -> Option<ModelSource> {
    #[cfg(antiphon_default_model)]
    {
        Some(ModelSource::Bytes {
            label: DEFAULT_MODEL_NAME.to_string(),
            onnx: include_bytes!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../models/antiphon-small/model.onnx"
            )),
            json: include_str!(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../models/antiphon-small/model.json"
            )),
        })
    }
    #[cfg(not(antiphon_default_model))]
    {
        None
    }
}
