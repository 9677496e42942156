//! Audio thread: everything `process()` runs.
//!
//! No allocation, locks, blocking, logging or system calls here after [`AudioSide::new`], which
//! `activate()` calls; every capacity is fixed there. This crate knows notes in beats and the
//! queues of `antiphon-core`, nothing about models, tokens or the plugin API: it depends on
//! `antiphon-core` alone.

pub mod capture;
pub mod scheduler;
pub mod transport;

use antiphon_core::messages::{Queues, Status, ToAudio, ToWorker};
use antiphon_core::note::{Channel, Key, Velocity};
use antiphon_core::time::{samples_to_beats, BlockTime};
use antiphon_core::transport::{TransportMove, TransportSnapshot};
use capture::Capture;
use crossbeam_channel::{Receiver, Sender};
use rtsan_standalone::nonblocking;
use scheduler::{NoteOut, Scheduler, SchedulerCounts};
use std::sync::atomic::Ordering;
use std::sync::Arc;
pub use transport::HostTransport;
use transport::TransportTracker;

/// Generated note events one block can hold before the rest are dropped and counted.
pub const MAX_EVENTS_PER_BLOCK: usize = 2048;

/// The audio thread's state: capture, scheduler, transport tracking and its queue ends.
pub struct AudioSide {
    /// The player's held notes.
    capture: Capture,
    /// Planned and sounding generated notes.
    scheduler: Scheduler,
    /// Where the previous block ended.
    tracker: TransportTracker,
    /// Captured notes and transport news for the worker.
    to_worker: Sender<ToWorker>,
    /// Planned notes from the worker.
    from_worker: Receiver<ToAudio>,
    /// Counters and the playhead for the worker and the editor.
    status: Arc<Status>,
    /// This block's generated events in non-decreasing timing order; capacity fixed.
    generated: Vec<NoteOut>,
    /// How many of `generated` have been handed out.
    generated_sent: usize,
    /// Musical time of the current block, if the transport plays.
    block: Option<BlockTime>,
    /// Scheduler counters already published to `status`.
    published: SchedulerCounts,
    /// The transport as last published to `status`.
    transport: TransportSnapshot,
    /// Release every sounding note at the start of the next block.
    release_pending: bool,
}

impl AudioSide {
    /// Allocates every table and buffer: call from `activate()`.
    pub fn new(queues: &Queues, status: Arc<Status>) -> Self {
        Self {
            capture: Capture::new(),
            scheduler: Scheduler::new(),
            tracker: TransportTracker::default(),
            to_worker: queues.to_worker_tx.clone(),
            from_worker: queues.to_audio_rx.clone(),
            status,
            generated: Vec::with_capacity(MAX_EVENTS_PER_BLOCK),
            generated_sent: 0,
            block: None,
            published: SchedulerCounts::default(),
            transport: TransportSnapshot::default(),
            release_pending: false,
        }
    }

    /// Asks for every sounding note to be released, and every planned one forgotten, at the
    /// start of the next block (deactivation, reset, a mode change).
    ///
    /// Real-time safe.
    pub fn release_on_next_block(&mut self) {
        self.release_pending = true;
    }

    /// Starts a block: follows the transport, takes the worker's planned notes and lays out
    /// every generated event of the block. Call once per `process()` before reading input.
    ///
    /// Real-time safe.
    #[nonblocking]
    pub fn begin_block(&mut self, host: &HostTransport, len_samples: u32) {
        self.generated.clear();
        self.generated_sent = 0;
        let (block, grid, change) = self.tracker.update(host, len_samples);
        self.block = block;

        let mut generated = BoundedSink::new(&mut self.generated, &self.status);
        if std::mem::take(&mut self.release_pending) {
            self.scheduler.release_all(0, &mut |e| generated.push(e));
            self.scheduler.cancel_planned();
        }
        let to_worker = &self.to_worker;
        let status = &self.status;
        let mut send = |message: ToWorker| send_to_worker(to_worker, status, message);
        if let Some(movement) = change {
            match movement {
                TransportMove::Started { .. } => {}
                TransportMove::Stopped { pos_beats } => {
                    self.capture.close_all(pos_beats, &mut send);
                    self.scheduler.release_all(0, &mut |e| generated.push(e));
                }
                TransportMove::Jumped {
                    from_beats,
                    to_beats,
                } => {
                    self.capture.close_all(from_beats, &mut send);
                    self.scheduler.release_all(0, &mut |e| generated.push(e));
                    self.scheduler.skip_before(to_beats);
                    if to_beats < from_beats {
                        self.scheduler.begin_next_pass(to_beats);
                    }
                }
            }
            // After the notes it closed, so the worker hears them first.
            send(ToWorker::Transport(movement));
        }
        // Published after the messages above, so a worker that reads the new position has been
        // sent every note that ended before it.
        let transport = &mut self.transport;
        transport.playing = block.is_some();
        if let Some(b) = block {
            transport.has_transport = true;
            transport.playhead_beats = b.start_beats;
            transport.tempo_bpm = b.tempo_bpm;
        }
        if let Some(g) = grid {
            transport.bar_start_beats = g.bar_start_beats;
            transport.bar_len_beats = g.bar_len_beats;
        }
        transport.loop_active = host.loop_beats.is_some();
        if let Some((start, end)) = host.loop_beats {
            transport.loop_start_beats = start;
            transport.loop_end_beats = end;
        }
        status.transport.publish(*transport);

        while let Ok(message) = self.from_worker.try_recv() {
            match message {
                ToAudio::Play(note) => {
                    if self.scheduler.plan(note).is_err() {
                        Status::bump(&self.status.dropped_output);
                    }
                }
                ToAudio::PlayNextPass(note) => {
                    if self.scheduler.plan_next_pass(note).is_err() {
                        Status::bump(&self.status.dropped_output);
                    }
                }
                ToAudio::CancelPlanned => self.scheduler.cancel_planned(),
                ToAudio::CancelPlannedFrom(beats) => self.scheduler.cancel_planned_from(beats),
                ToAudio::CancelNextPass => self.scheduler.cancel_next_pass(),
            }
        }
        if let Some(block) = &self.block {
            self.scheduler.emit_block(block, &mut |e| generated.push(e));
        }
        self.publish_counts();
    }

    /// Records an input note-on at `timing` samples into the block. Ignored while the transport
    /// is not playing, because the note has no place in the song.
    ///
    /// Real-time safe.
    #[nonblocking]
    pub fn note_on(&mut self, timing: u32, key: Key, channel: Channel, velocity: Velocity) {
        if let Some(at_beats) = self.beats_at(timing) {
            let (to_worker, status) = (&self.to_worker, &self.status);
            self.capture
                .note_on(at_beats, key, channel, velocity, &mut |m| {
                    send_to_worker(to_worker, status, m)
                });
        }
    }

    /// Records an input note-off at `timing` samples into the block.
    ///
    /// Real-time safe.
    #[nonblocking]
    pub fn note_off(&mut self, timing: u32, key: Key, channel: Channel) {
        if let Some(at_beats) = self.beats_at(timing) {
            let (to_worker, status) = (&self.to_worker, &self.status);
            self.capture.note_off(at_beats, key, channel, &mut |m| {
                send_to_worker(to_worker, status, m)
            });
        }
    }

    /// The next generated event due at or before `timing`, in order. Call it before passing
    /// through an input event at `timing` (generated events go first on a tie, so output
    /// timings never decrease), and with `u32::MAX` at the end of the block.
    ///
    /// Real-time safe.
    #[inline]
    pub fn next_generated(&mut self, timing: u32) -> Option<NoteOut> {
        let next = *self.generated.get(self.generated_sent)?;
        if next.timing() > timing {
            return None;
        }
        self.generated_sent += 1;
        if matches!(next, NoteOut::On { .. }) {
            Status::bump(&self.status.notes_played);
        }
        Some(next)
    }

    /// Counts an output event the host refused (its buffer was full).
    ///
    /// Real-time safe.
    pub fn count_refused_output(&self) {
        Status::bump(&self.status.dropped_output);
    }

    /// Scheduler counters, for tests and benchmarks.
    pub fn scheduler_counts(&self) -> SchedulerCounts {
        self.scheduler.counts()
    }

    /// Song position of sample `timing` of the current block.
    fn beats_at(&self, timing: u32) -> Option<f64> {
        self.block
            .map(|b| b.start_beats + samples_to_beats(timing as f64, b.tempo_bpm, b.sample_rate_hz))
    }

    fn publish_counts(&mut self) {
        let now = self.scheduler.counts();
        let status = &self.status;
        status.missed_deadlines.fetch_add(
            now.missed_deadlines - self.published.missed_deadlines,
            Ordering::Relaxed,
        );
        status.dropped_output.fetch_add(
            now.dropped_full - self.published.dropped_full,
            Ordering::Relaxed,
        );
        self.published = now;
    }

    /// Forgets the transport history, so the next playing block counts as a start.
    pub fn forget_transport(&mut self) {
        self.tracker.forget();
    }
}

/// Sends to the worker; a full queue drops the message and counts it.
#[inline]
fn send_to_worker(to_worker: &Sender<ToWorker>, status: &Status, message: ToWorker) {
    if to_worker.try_send(message).is_err() {
        Status::bump(&status.dropped_to_worker);
    }
}

/// Pushes into a fixed-capacity vector, counting what does not fit instead of growing it.
struct BoundedSink<'a> {
    events: &'a mut Vec<NoteOut>,
    status: &'a Status,
}

impl<'a> BoundedSink<'a> {
    fn new(events: &'a mut Vec<NoteOut>, status: &'a Status) -> Self {
        Self { events, status }
    }

    #[inline]
    fn push(&mut self, event: NoteOut) {
        if self.events.len() < self.events.capacity() {
            self.events.push(event);
        } else {
            Status::bump(&self.status.dropped_output);
        }
    }
}
