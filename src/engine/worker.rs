//! Worker thread: the loop that owns a [`Policy`], feeds it what the audio thread captured and
//! sends its planned notes back.
//!
//! It polls its queue with a short sleep instead of blocking in `recv`: a blocked receiver makes
//! the audio thread's `try_send` lock and make a system call (see `messages`).

use crate::messages::{PlannedNote, Queues, Status, ToAudio, ToWorker};
use crate::params::AntiphonParams;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the worker sleeps when it has nothing to do. Short enough that a phrase end is
/// noticed within a few milliseconds, long enough to cost nothing measurable.
const POLL_INTERVAL: Duration = Duration::from_millis(2);

/// What decides when and what to play. The worker calls it on its own thread.
pub trait Policy: Send + 'static {
    /// A message from the audio thread arrived.
    fn on_message(&mut self, message: ToWorker, ctx: &mut WorkerContext);
    /// Called after each batch of messages and at least every [`POLL_INTERVAL`].
    fn on_tick(&mut self, ctx: &mut WorkerContext);
}

/// What a [`Policy`] can see and do.
pub struct WorkerContext {
    /// The plugin's parameters (atomics; read them freely).
    pub params: Arc<AntiphonParams>,
    /// Shared status: the playhead and counters, and the editor's text lines.
    pub status: Arc<Status>,
    /// Messages for the audio thread that did not fit in its queue yet, oldest first.
    outbox: VecDeque<ToAudio>,
}

impl WorkerContext {
    /// Builds a context (the worker makes one; tests may too).
    pub fn new(params: Arc<AntiphonParams>, status: Arc<Status>) -> Self {
        Self {
            params,
            status,
            outbox: VecDeque::new(),
        }
    }

    /// Asks the audio thread to play `note`.
    pub fn play(&mut self, note: PlannedNote) {
        self.outbox.push_back(ToAudio::Play(note));
    }

    /// Asks the audio thread to forget every planned note that has not started.
    pub fn cancel_planned(&mut self) {
        self.outbox.push_back(ToAudio::CancelPlanned);
    }

    /// Messages waiting to be sent, for tests.
    pub fn pending(&self) -> impl Iterator<Item = &ToAudio> {
        self.outbox.iter()
    }

    /// Sends what fits into the audio thread's queue; the rest waits for the next tick.
    fn flush(&mut self, to_audio: &Sender<ToAudio>) {
        while let Some(message) = self.outbox.pop_front() {
            match to_audio.try_send(message) {
                Ok(()) => {}
                Err(TrySendError::Full(message)) => {
                    self.outbox.push_front(message);
                    return;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.outbox.clear();
                    return;
                }
            }
        }
    }
}

/// The running worker thread.
pub struct Worker {
    /// Set to ask the thread to finish.
    stop: Arc<AtomicBool>,
    /// Joined on [`Worker::stop`].
    handle: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the worker thread. Call from `activate()`, never from `process()`.
    pub fn spawn(
        queues: &Queues,
        params: Arc<AntiphonParams>,
        status: Arc<Status>,
        mut policy: Box<dyn Policy>,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let from_audio: Receiver<ToWorker> = queues.to_worker_rx.clone();
        let to_audio: Sender<ToAudio> = queues.to_audio_tx.clone();
        let thread_stop = stop.clone();
        let handle = std::thread::Builder::new()
            .name("antiphon-worker".into())
            .spawn(move || {
                let mut ctx = WorkerContext::new(params, status);
                while !thread_stop.load(Ordering::Acquire) {
                    while let Ok(message) = from_audio.try_recv() {
                        policy.on_message(message, &mut ctx);
                    }
                    policy.on_tick(&mut ctx);
                    ctx.flush(&to_audio);
                    std::thread::sleep(POLL_INTERVAL);
                }
            })?;
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }

    /// Asks the thread to finish and waits for it. Call from `deactivate()`.
    pub fn stop(mut self) {
        self.join();
    }

    fn join(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(handle) = self.handle.take() {
            // A policy that panicked has already said so on stderr; nothing more to do here.
            let _ = handle.join();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.join();
    }
}
