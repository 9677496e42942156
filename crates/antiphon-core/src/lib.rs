//! What every layer of Antiphon shares, and nothing else: musical time in beats, the messages
//! and status that cross between the audio thread and the worker, the answer saved with a
//! project, and the settings' kinds, ranges and defaults.
//!
//! Any thread may use it. The audio thread uses only what is marked real-time safe: the pure
//! time functions, the queues' `try_send`/`try_recv` and the status atomics. Nothing here knows a
//! model, a token or a plugin API.

pub mod messages;
pub mod note;
pub mod saved;
pub mod settings;
pub mod time;
pub mod transport;
