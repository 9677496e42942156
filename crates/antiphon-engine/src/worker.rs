//! Worker thread: the loop that owns a [`Policy`], feeds it what the audio thread captured and
//! sends its planned notes back.
//!
//! It polls its queue with a short sleep instead of blocking in `recv`: a blocked receiver makes
//! the audio thread's `try_send` lock and make a system call (see `messages`).

use crate::settings::{Settings, SettingsSource};
use antiphon_core::messages::{Queues, Status, ToAudio, ToWorker};
use antiphon_core::note::Note;
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
    /// The controls as they were at the start of this batch of messages or tick.
    pub settings: Settings,
    /// Shared status: the playhead and counters, and the editor's text lines.
    pub status: Arc<Status>,
    /// Where planned notes go; `None` in tests, where they stay in the outbox.
    to_audio: Option<Sender<ToAudio>>,
    /// Where captured notes come from; `None` in tests.
    from_audio: Option<Receiver<ToWorker>>,
    /// Messages for the audio thread that did not fit in its queue yet, oldest first.
    outbox: VecDeque<ToAudio>,
    /// Messages from the audio thread taken out of the queue during a long job, oldest first.
    inbox: VecDeque<ToWorker>,
    /// The playhead as read just before the queue was last drained; `None` until then.
    heard_until: Option<f64>,
}

impl WorkerContext {
    /// A context not connected to queues (tests keep what is sent in [`pending`](Self::pending)).
    pub fn new(settings: Settings, status: Arc<Status>) -> Self {
        Self {
            settings,
            status,
            to_audio: None,
            from_audio: None,
            outbox: VecDeque::new(),
            inbox: VecDeque::new(),
            heard_until: None,
        }
    }

    /// Reads the playhead as the position before which every input note has been sent. Call
    /// it just before draining the audio thread's queue: the audio thread publishes a block's
    /// start only after sending everything played before it.
    pub fn mark_heard(&mut self) {
        self.heard_until = Some(self.status.transport.read().playhead_beats);
    }

    /// Song position (beats) before which every input note-on and note-off has reached the
    /// policy: the playhead at the last [`mark_heard`](Self::mark_heard). The live playhead
    /// may be ahead of the messages handled, so decisions that must not depend on when the
    /// worker happens to run (which notes a bar's answer hears) use this one. Before any mark
    /// it is the live playhead.
    pub fn heard_until(&self) -> f64 {
        self.heard_until
            .unwrap_or_else(|| self.status.transport.read().playhead_beats)
    }

    /// Asks the audio thread to play `note`, now (streaming as an answer is decoded).
    pub fn play(&mut self, note: Note) {
        self.show_planned(&note);
        self.send(ToAudio::Play(note));
    }

    /// Asks the audio thread to play `note` after the playhead next jumps back (a loop).
    pub fn play_next_pass(&mut self, note: Note) {
        self.show_planned(&note);
        self.send(ToAudio::PlayNextPass(note));
    }

    fn show_planned(&self, note: &Note) {
        self.status.with_roll(|roll| roll.planned(*note));
    }

    /// Asks the audio thread to forget every planned note that has not started.
    pub fn cancel_planned(&mut self) {
        self.send(ToAudio::CancelPlanned);
    }

    /// Asks the audio thread to forget the planned notes from `beats` on.
    pub fn cancel_planned_from(&mut self, beats: f64) {
        self.send(ToAudio::CancelPlannedFrom(beats));
    }

    /// Asks the audio thread to forget the notes waiting for the next pass.
    pub fn cancel_next_pass(&mut self) {
        self.send(ToAudio::CancelNextPass);
    }

    /// Messages waiting to be sent, for tests.
    pub fn pending(&self) -> impl Iterator<Item = &ToAudio> {
        self.outbox.iter()
    }

    /// Takes every message the audio thread has queued into the inbox (to be handled after
    /// the current job) and says whether any of them matches `interrupts`. Lets a long
    /// generation notice, say, a new note-on and stop.
    pub fn check_audio(&mut self, interrupts: impl Fn(&ToWorker) -> bool) -> bool {
        if let Some(rx) = &self.from_audio {
            while let Ok(message) = rx.try_recv() {
                self.inbox.push_back(message);
            }
        }
        self.inbox.iter().any(interrupts)
    }

    fn send(&mut self, message: ToAudio) {
        self.outbox.push_back(message);
        self.flush();
    }

    /// Sends what fits into the audio thread's queue; the rest waits for the next tick.
    fn flush(&mut self) {
        let Some(to_audio) = &self.to_audio else {
            return;
        };
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

    /// The next message: first those taken during a job, then the queue's.
    fn next_message(&mut self) -> Option<ToWorker> {
        self.inbox
            .pop_front()
            .or_else(|| self.from_audio.as_ref()?.try_recv().ok())
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
        settings: SettingsSource,
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
                let mut ctx = WorkerContext::new(settings(), status);
                ctx.to_audio = Some(to_audio);
                ctx.from_audio = Some(from_audio);
                while !thread_stop.load(Ordering::Acquire) {
                    ctx.settings = settings();
                    ctx.mark_heard();
                    while let Some(message) = ctx.next_message() {
                        if let ToWorker::NoteFinished(note) = message {
                            ctx.status.with_roll(|roll| roll.heard(note));
                        }
                        policy.on_message(message, &mut ctx);
                    }
                    policy.on_tick(&mut ctx);
                    ctx.flush();
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
