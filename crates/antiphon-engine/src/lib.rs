//! Worker thread: everything that decides what to play. It may allocate, lock and sleep, but it
//! never blocks on a queue the audio thread feeds.

pub mod default_model;
pub mod fake;
pub mod generate;
pub mod model;
pub mod onnx;
pub mod policy;
pub mod runtime;
pub mod sampling;
pub mod settings;
pub mod steering;
pub mod tasks;
pub mod worker;

pub use settings::{Settings, SettingsSource};
pub use worker::{Policy, Worker, WorkerContext};
