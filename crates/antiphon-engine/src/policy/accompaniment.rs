//! Worker thread: Accompany. The first melody note opens a window of *Bars* bars on the bar
//! grid; its accompaniment plays on the next pass of those bars (the host loop's next turn, or
//! the following *Bars* bars), written bar by bar while the melody is still being played.

use super::saved::{loops_over, SavedPass};
use super::*;

/// A recording window on the bar grid.
#[derive(Debug, Clone, Copy)]
struct Window {
    /// First beat of the window's first pass.
    start: f64,
    /// Length in beats (Bars bars when it opened).
    len: f64,
}

/// Accompany mode's state. Notes in `current` and `next` are relative to the pass start
/// (0 = the window's first beat); `melody` is in song beats.
#[derive(Default)]
pub(super) struct Accompaniment {
    window: Option<Window>,
    /// Song position where the pass being recorded started.
    pass_start: f64,
    /// Whether the host loops over the window (next pass = the loop's next turn).
    looping: bool,
    /// Melody heard since the pass began, in song beats.
    melody: Vec<Note>,
    /// Melody notes started and not yet finished (their duration is 0).
    sounding: Vec<midi::Note>,
    /// Melody of a pass that just ended (relative), waiting for its answer to be finished.
    ended: Option<Vec<Note>>,
    /// Song position where that pass started.
    ended_start: f64,
    /// Melody of the previous pass (relative), to tell whether the next one changed.
    previous_melody: Option<Vec<Note>>,
    /// Accompaniment playing in this pass.
    current: Vec<Note>,
    /// Accompaniment being written for the next pass.
    next: Vec<Note>,
    /// How far `next` is written, in beats from the pass start.
    next_until: f64,
    /// The generation writing `next`, kept from bar to bar so each bar costs only its own
    /// tokens; `None` until a bar is generated, and after a bar was copied instead.
    writer: Option<tasks::PartWriter>,
    /// Regenerate was pressed: write `next` anew even if the melody did not change.
    force_new: bool,
    /// When the pass ended, to time the last part of the answer.
    closed_at: Option<Instant>,
    /// No note of the last part has been scheduled yet since the pass ended.
    awaiting_first_note: bool,
    /// The accompaniment saved with the project, for the first window if it opens where that
    /// one was.
    pub(super) saved: Option<SavedPass>,
}

impl Accompaniment {
    /// What Accompany is doing, for the editor.
    pub(super) fn phase(&self) -> Phase {
        match self.window {
            None => Phase::Waiting,
            Some(w) if self.current.is_empty() => Phase::Recording {
                start_beats: self.pass_start,
                len_beats: w.len,
                looping: self.looping,
            },
            Some(w) => Phase::Accompanying {
                start_beats: self.pass_start,
                len_beats: w.len,
                looping: self.looping,
            },
        }
    }

    pub(super) fn on_message(&mut self, message: ToWorker, ctx: &mut WorkerContext) {
        match message {
            ToWorker::NoteStarted {
                onset_beats,
                key,
                channel,
                velocity,
            } => {
                if self.window.is_none() {
                    self.open_window(ctx, onset_beats);
                }
                self.sounding.push(midi::Note {
                    onset_beats,
                    duration_beats: 0.0,
                    key,
                    channel,
                    velocity,
                });
            }
            ToWorker::Transport(TransportMove::Started { .. }) => {}
            ToWorker::NoteFinished(note) => {
                self.sounding
                    .retain(|s| (s.key, s.channel) != (note.key, note.channel));
                if self.window.is_some() {
                    self.melody
                        .push(captured_note(&note, note.onset_beats, MELODY_PROGRAM));
                }
            }
            ToWorker::Transport(TransportMove::Jumped { to_beats, .. }) => match self.window {
                Some(w) if self.looping && (to_beats - w.start).abs() < 1.0 => {
                    // The loop's next turn: what was heard belongs to the turn that ended.
                    self.end_pass(w);
                }
                _ => {
                    self.reset();
                    ctx.cancel_next_pass();
                }
            },
            ToWorker::Transport(TransportMove::Stopped { .. }) => {
                self.reset();
                ctx.cancel_planned();
                ctx.cancel_next_pass();
            }
        }
    }

    /// Forgets everything heard and answered (what was saved with the project stays until a
    /// window takes it up).
    pub(super) fn reset(&mut self) {
        *self = Accompaniment {
            saved: self.saved.take(),
            ..Accompaniment::default()
        };
    }

    /// The first melody note opens a window of Bars bars at the bar line before it.
    fn open_window(&mut self, ctx: &mut WorkerContext, onset_beats: f64) {
        let status = &ctx.status;
        let transport = status.transport.read();
        let clock = Clock {
            playhead: onset_beats,
            bar_start: transport.bar_start_beats,
            bar_len: transport.bar_len_beats.max(0.25),
            tempo_bpm: transport.tempo_bpm,
        };
        let mut start = clock.bar_line_at_or_before(onset_beats + EPSILON_BEATS);
        let mut len = ctx.settings.bars as f64 * clock.bar_len;
        // The saved window, if this one is it, or if the host loops over it and plays in it.
        let saved = self.saved.take().filter(|s| {
            let same =
                (s.start - start).abs() < EPSILON_BEATS && (s.len - len).abs() < EPSILON_BEATS;
            same || s.is_looped_at(status, onset_beats)
        });
        if let Some(s) = &saved {
            (start, len) = (s.start, s.len);
        }
        self.window = Some(Window { start, len });
        self.pass_start = start;
        self.looping = loops_over(status, start, len);
        if let Some(saved) = saved {
            self.resume(ctx, saved, onset_beats);
        }
    }

    /// Takes up the accompaniment saved with the project, as if the session had gone on: it is
    /// the answer to its melody (a pass repeating it, or any pass with Freeze on, gets it
    /// again), and in a host loop it plays from this turn on.
    fn resume(&mut self, ctx: &mut WorkerContext, saved: SavedPass, playhead: f64) {
        if self.looping {
            let channel = ctx.settings.out_channel;
            for note in &saved.answer {
                let onset = saved.start + note.onset_beats;
                if onset >= playhead {
                    ctx.play(planned(note, onset, channel));
                }
            }
        }
        self.previous_melody = Some(saved.heard);
        self.current = saved.answer;
    }

    /// Splits off the melody of the pass that ended; its answer is finished on the next tick.
    /// A note still held at the end counts as ending there, whether or not its note-off has
    /// arrived yet, so the answer does not depend on when the worker noticed the end.
    fn end_pass(&mut self, window: Window) {
        let end = self.pass_start + window.len;
        let (ended, later): (Vec<Note>, Vec<Note>) = if self.looping {
            (std::mem::take(&mut self.melody), Vec::new())
        } else {
            std::mem::take(&mut self.melody)
                .into_iter()
                .partition(|n| n.onset_beats < end)
        };
        let held = self.sounding.iter().map(|c| Note {
            // Clipped at the end below, with the notes that were let go after it.
            duration_beats: f64::INFINITY,
            ..captured_note(c, c.onset_beats, MELODY_PROGRAM)
        });
        let pass_start = self.pass_start;
        self.ended = Some(
            ended
                .into_iter()
                .chain(held)
                .filter(|n| (pass_start..end).contains(&n.onset_beats))
                .map(|n| Note {
                    onset_beats: n.onset_beats - pass_start,
                    duration_beats: n.duration_beats.min(end - n.onset_beats),
                    ..n
                })
                .collect(),
        );
        self.melody = later;
        self.ended_start = self.pass_start;
        self.pass_start = if self.looping { window.start } else { end };
        self.closed_at = Some(Instant::now());
        self.awaiting_first_note = true;
    }

    pub(super) fn on_tick(
        &mut self,
        ctx: &mut WorkerContext,
        clock: &Clock,
        gen: &mut Generator,
        regenerate: bool,
    ) {
        // Reopened in a host loop over the saved window: its accompaniment plays at once.
        if self.window.is_none() {
            let saved = self.saved.as_ref();
            if saved.is_some_and(|s| s.is_looped_at(&ctx.status, clock.playhead)) {
                self.open_window(ctx, clock.playhead);
            }
        }
        let Some(window) = self.window else { return };
        if regenerate {
            // The accompaniment playing now plays on; the next pass gets a new one.
            if self.looping {
                ctx.cancel_next_pass();
            } else {
                ctx.cancel_planned_from(self.pass_start + window.len);
            }
            self.next.clear();
            self.next_until = 0.0;
            self.writer = None;
            self.force_new = true;
        }
        if !self.looping && self.ended.is_none() && clock.playhead >= self.pass_start + window.len {
            self.end_pass(window);
        }
        if let Some(ended) = self.ended.take() {
            // The pass that ended: finish its answer (its last part plays in the pass that has
            // just begun), then it becomes the answer playing now.
            while self.next_until < window.len - EPSILON_BEATS {
                let target = (self.next_until + clock.bar_len).min(window.len);
                let heard = ended_by(&ended, (target + gen.delta_beats()).min(window.len));
                self.extend_next(ctx, gen, &heard, target, Placement::ThisPass);
            }
            if let Some(closed_at) = self.closed_at {
                let ms = closed_at.elapsed().as_secs_f64() * 1e3;
                ctx.status.last_answer_ms.store(ms, Ordering::Relaxed);
            }
            let silent_pass = ended.is_empty() && self.next.is_empty();
            self.rotate(ctx, self.ended_start, window.len, ended);
            if silent_pass && !self.looping {
                // The player stopped: the next note opens a new window at its own bar.
                self.reset();
                return;
            }
            // Bars changes apply from the next window on (a loop keeps its window).
            if !self.looping {
                let len = ctx.settings.bars as f64 * clock.bar_len;
                self.window = Some(Window {
                    start: window.start,
                    len,
                });
            }
            return;
        }
        // Write the next pass bar by bar, each bar once the melody is known `delta` past it.
        let rel = clock.playhead - self.pass_start;
        let known = (rel - gen.delta_beats()).min(window.len);
        let target = (known / clock.bar_len).floor() * clock.bar_len;
        // One bar at a time, each hearing the notes that ended by `delta` past it (as the
        // last bars do once the pass has ended), so the answer does not depend on how often
        // or how late the worker ticks.
        while target >= self.next_until + clock.bar_len - EPSILON_BEATS {
            let melody: Vec<Note> = self
                .melody
                .iter()
                .filter(|n| n.onset_beats >= self.pass_start)
                .map(|n| Note {
                    onset_beats: n.onset_beats - self.pass_start,
                    ..*n
                })
                .collect();
            let bar_end = self.next_until + clock.bar_len;
            let heard = ended_by(&melody, bar_end + gen.delta_beats());
            self.extend_next(ctx, gen, &heard, bar_end, Placement::NextPass);
        }
    }

    /// Writes `next` from `next_until` to `target` for `melody` (relative): copied from
    /// `current` when the melody repeats the previous pass's (or Freeze is on), generated
    /// otherwise. Each note goes to the audio thread at once.
    fn extend_next(
        &mut self,
        ctx: &mut WorkerContext,
        gen: &mut Generator,
        melody: &[Note],
        target: f64,
        placement: Placement,
    ) {
        let Some(window) = self.window else { return };
        if target <= self.next_until + EPSILON_BEATS {
            return;
        }
        let from = self.next_until;
        let channel = ctx.settings.out_channel;
        let silent = melody.is_empty();
        let repeats = self
            .previous_melody
            .as_ref()
            .is_some_and(|prev| same_melody(prev, melody, target));
        // In a loop a silent turn keeps its accompaniment (the player is listening); on a
        // linear timeline a silent pass means the player stopped, so nothing follows it.
        let reuse = !self.force_new
            && !self.current.is_empty()
            && (self.looping || !silent)
            && (ctx.settings.freeze || repeats || silent);
        // Where a note of the next pass sounds: the loop's next turn, the turn that has just
        // begun, or the following window.
        let (looping, pass_start) = (self.looping, self.pass_start);
        let send = |ctx: &mut WorkerContext, note: &Note| match (looping, placement) {
            (true, Placement::NextPass) => {
                ctx.play_next_pass(planned(note, window.start + note.onset_beats, channel))
            }
            (true, Placement::ThisPass) => {
                ctx.play(planned(note, window.start + note.onset_beats, channel))
            }
            (false, Placement::NextPass) => ctx.play(planned(
                note,
                pass_start + window.len + note.onset_beats,
                channel,
            )),
            (false, Placement::ThisPass) => {
                ctx.play(planned(note, pass_start + note.onset_beats, channel))
            }
        };
        if reuse {
            let copied: Vec<Note> = self
                .current
                .iter()
                .filter(|n| {
                    n.onset_beats >= from - EPSILON_BEATS && n.onset_beats < target - EPSILON_BEATS
                })
                .copied()
                .collect();
            for note in &copied {
                send(ctx, note);
            }
            self.next.extend(copied);
        } else if !melody.is_empty() {
            let started = Instant::now();
            let closed_at = self.closed_at;
            let mut first_note_ms = None;
            let mut sink = |note: &Note| {
                first_note_ms
                    .get_or_insert(closed_at.unwrap_or(started).elapsed().as_secs_f64() * 1e3);
                send(ctx, note);
                true
            };
            let writer = match &mut self.writer {
                Some(writer) if (writer.written_until() - from).abs() < EPSILON_BEATS => writer,
                _ => self.writer.insert(tasks::PartWriter::accompaniment(
                    gen.spec,
                    melody,
                    &self.next,
                    from,
                    &gen.settings,
                )),
            };
            let result = writer.write_until(gen.model, gen.spec, melody, target, &mut sink);
            if result.is_err() {
                self.writer = None;
            }
            match result {
                Ok(notes) => {
                    let first = first_note_ms.filter(|_| closed_at.is_some());
                    if let Some(ms) = first.filter(|_| self.awaiting_first_note) {
                        ctx.status.last_latency_ms.store(ms, Ordering::Relaxed);
                        self.awaiting_first_note = false;
                    }
                    let key = self.writer.as_ref().and_then(|w| w.key_in_use());
                    gen.report(ctx, notes.len(), started, first, key);
                    self.next.extend(notes);
                }
                Err(e) => ctx.status.set_error_line(format!("Generation failed: {e}")),
            }
        }
        self.next_until = target;
    }

    /// The pass is over: its accompaniment becomes the one playing, its melody the reference.
    /// `start` and `len` place the pass that ended in the song.
    fn rotate(&mut self, ctx: &mut WorkerContext, start: f64, len: f64, ended: Vec<Note>) {
        if !ended.is_empty() {
            self.previous_melody = Some(ended);
        }
        if !self.next.is_empty() {
            self.current = std::mem::take(&mut self.next);
            let heard = self.previous_melody.iter().flatten();
            save_answer(
                ctx,
                SavedAnswer {
                    mode: "accompany".into(),
                    window_start_beats: start,
                    window_len_beats: len,
                    heard: heard
                        .map(|n| saved::saved(n, start + n.onset_beats))
                        .collect(),
                    answer: self
                        .current
                        .iter()
                        .map(|n| saved::saved(n, start + n.onset_beats))
                        .collect(),
                },
            );
        }
        self.next.clear();
        self.next_until = 0.0;
        self.writer = None;
        self.force_new = false;
        self.closed_at = None;
        self.awaiting_first_note = false;
    }
}

/// Which pass an answer's notes are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Placement {
    /// The pass after the one being recorded.
    NextPass,
    /// The pass that has just begun (the last part of an answer finished late).
    ThisPass,
}

/// The notes of `melody` that ended by `until` (beats).
fn ended_by(melody: &[Note], until: f64) -> Vec<Note> {
    melody
        .iter()
        .filter(|n| n.onset_beats + n.duration_beats <= until + EPSILON_BEATS)
        .copied()
        .collect()
}

/// Whether two passes' melodies agree before `until` (same keys, onsets within a 32nd).
fn same_melody(a: &[Note], b: &[Note], until: f64) -> bool {
    let before = |notes: &[Note]| -> Vec<(u8, f64)> {
        let mut v: Vec<(u8, f64)> = notes
            .iter()
            .filter(|n| n.onset_beats < until)
            .map(|n| (n.pitch, n.onset_beats))
            .collect();
        v.sort_by(|x, y| x.1.total_cmp(&y.1).then(x.0.cmp(&y.0)));
        v
    };
    let (a, b) = (before(a), before(b));
    a.len() == b.len()
        && a.iter()
            .zip(&b)
            .all(|(x, y)| x.0 == y.0 && (x.1 - y.1).abs() < SAME_ONSET_BEATS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(onset: f64, pitch: u8) -> Note {
        Note {
            onset_beats: onset,
            duration_beats: 1.0,
            pitch,
            instrument: GmInstrument::Program(MELODY_PROGRAM),
            velocity: 90,
        }
    }

    #[test]
    fn melodies_match_within_a_tolerance_and_only_before_the_limit() {
        let a = vec![note(0.0, 60), note(1.0, 62), note(9.0, 64)];
        let b = vec![note(0.05, 60), note(1.0, 62), note(9.0, 65)];
        assert!(same_melody(&a, &b, 8.0));
        assert!(!same_melody(&a, &b, 10.0));
        assert!(!same_melody(&a, &[note(0.0, 60)], 8.0));
    }
}
