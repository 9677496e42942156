//! Worker thread: everything that decides what to play. It may allocate, lock and sleep, but it
//! never blocks on a queue the audio thread feeds.
//!
//! It knows no plugin API: the shell hands the worker a [`SettingsSource`] for snapshots of the
//! controls, and the worker reports back only through `antiphon_core`'s `Status` and queues.
//! The policies ([`policy`]) run over any [`model::LanguageModel`], so they are tested on
//! [`fake::FakeModel`] without ONNX Runtime.

pub mod default_model;
pub mod fake;
pub mod generate;
pub mod melody_now;
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
