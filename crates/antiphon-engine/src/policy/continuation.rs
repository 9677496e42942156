//! Worker thread: Continue. A phrase ends at the first bar line reached with no new note-on
//! for a beat; the answer continues it from that bar line for *Bars* bars.

use super::*;

/// Continue mode's state.
#[derive(Default)]
pub(super) struct Continuation {
    /// Finished notes of the current phrase (song beats).
    notes: Vec<Note>,
    /// Notes held now: (onset, key, velocity).
    held: Vec<(f64, midi::Key, Velocity)>,
    /// The phrase's last note-on.
    last_on: Option<f64>,
    /// Where the planned answer starts; the phrase is kept until then in case it goes on.
    answer_from: Option<f64>,
    /// The last phrase answered, for Regenerate.
    last_phrase: Vec<Note>,
}

impl Continuation {
    /// What Continue is doing, for the editor; an answer lasts `answer_beats`.
    pub(super) fn phase(&self, answer_beats: f64) -> Phase {
        match self.answer_from {
            Some(from) => Phase::Answering {
                from_beats: from,
                to_beats: from + answer_beats,
            },
            None if !self.notes.is_empty() || !self.held.is_empty() => Phase::Listening,
            None => Phase::Waiting,
        }
    }

    pub(super) fn on_message(&mut self, message: ToWorker, ctx: &mut WorkerContext) {
        match message {
            ToWorker::NoteStarted {
                onset_beats,
                key,
                velocity,
                ..
            } => {
                if let Some(from) = self.answer_from.take() {
                    if onset_beats < from - EPSILON_BEATS {
                        // The phrase goes on: the answer was premature.
                        ctx.cancel_planned();
                    } else {
                        self.notes.clear();
                    }
                }
                self.held.push((onset_beats, key, velocity));
                self.last_on = Some(onset_beats);
            }
            ToWorker::NoteFinished(note) => {
                self.held
                    .retain(|(onset, key, _)| !(*key == note.key && *onset == note.onset_beats));
                let program = phrase_program(ctx);
                self.notes
                    .push(captured_note(&note, note.onset_beats, program));
            }
            ToWorker::Transport(TransportMove::Started { .. }) => {}
            ToWorker::Transport(TransportMove::Stopped { .. })
            | ToWorker::Transport(TransportMove::Jumped { .. }) => {
                let last = std::mem::take(&mut self.last_phrase);
                *self = Continuation {
                    last_phrase: last,
                    ..Continuation::default()
                };
            }
        }
    }

    pub(super) fn on_tick(
        &mut self,
        ctx: &mut WorkerContext,
        clock: &Clock,
        gen: &mut Generator,
        regenerate: bool,
    ) {
        if regenerate && !self.last_phrase.is_empty() {
            ctx.cancel_planned();
            let from = clock.bar_line_at_or_after(clock.playhead + ANSWER_LEAD_BEATS);
            let phrase = self.last_phrase.clone();
            self.answer(ctx, clock, gen, &phrase, from);
            return;
        }
        let Some(last_on) = self.last_on else { return };
        if self.answer_from.is_some() || (self.notes.is_empty() && self.held.is_empty()) {
            return;
        }
        let phrase_end = clock.bar_line_at_or_after(last_on + PHRASE_END_SILENCE_BEATS);
        if clock.playhead < phrase_end - ANSWER_LEAD_BEATS {
            return;
        }
        // Late (the worker was busy): answer from the next bar line that can still be met.
        let from = if clock.playhead <= phrase_end - 0.05 {
            phrase_end
        } else {
            clock.bar_line_at_or_after(clock.playhead + 0.5)
        };
        // The phrase as it stood when the answer became due: a note still held then, or let go
        // since, ends there, so the answer does not depend on when the worker noticed.
        let due = phrase_end - ANSWER_LEAD_BEATS;
        let program = phrase_program(ctx);
        let mut phrase = self.notes.clone();
        for &(onset, key, velocity) in &self.held {
            phrase.push(Note {
                onset_beats: onset,
                duration_beats: f64::INFINITY,
                pitch: key.get(),
                instrument: GmInstrument::Program(program),
                velocity: velocity.get(),
            });
        }
        for note in &mut phrase {
            if note.onset_beats + note.duration_beats > due {
                note.duration_beats = (due - note.onset_beats).max(MIN_HELD_BEATS);
            }
        }
        phrase.sort_by(|a, b| a.onset_beats.total_cmp(&b.onset_beats));
        if self.answer(ctx, clock, gen, &phrase, from) {
            self.answer_from = Some(from);
            self.last_phrase = phrase;
        }
    }

    /// Generates and streams an answer to `phrase` from `from`; false if a new note-on before
    /// `from` interrupted it (the answer is withdrawn).
    fn answer(
        &mut self,
        ctx: &mut WorkerContext,
        clock: &Clock,
        gen: &mut Generator,
        phrase: &[Note],
        from: f64,
    ) -> bool {
        let bars = ctx.settings.bars as f64;
        let to = from + bars * clock.bar_len;
        let channel = ctx.settings.out_channel;
        let started = Instant::now();
        let mut first_note_ms = None;
        let mut interrupted = false;
        let mut sink = |note: &Note| -> bool {
            if ctx.check_audio(|m| matches!(m, ToWorker::NoteStarted { onset_beats, .. } if *onset_beats < from - EPSILON_BEATS)) {
                interrupted = true;
                return false;
            }
            first_note_ms.get_or_insert(started.elapsed().as_secs_f64() * 1e3);
            ctx.play(planned(note, note.onset_beats, channel));
            true
        };
        let mut writer = tasks::PartWriter::continuation(gen.spec, phrase, from, &gen.settings);
        let result = writer.write_until(gen.model, gen.spec, &[], to, &mut sink);
        match result {
            Ok(_) if interrupted => {
                ctx.cancel_planned();
                false
            }
            Ok(answer) => {
                gen.report(
                    ctx,
                    answer.len(),
                    started,
                    first_note_ms,
                    writer.key_in_use(),
                );
                save_answer(
                    ctx,
                    SavedAnswer {
                        mode: "continue".into(),
                        window_start_beats: phrase.first().map(|n| n.onset_beats).unwrap_or(from),
                        window_len_beats: 0.0,
                        heard: phrase
                            .iter()
                            .map(|n| saved::saved(n, n.onset_beats))
                            .collect(),
                        answer: answer
                            .iter()
                            .map(|n| saved::saved(n, n.onset_beats))
                            .collect(),
                    },
                );
                true
            }
            Err(e) => {
                ctx.status.set_error_line(format!("Generation failed: {e}"));
                true
            }
        }
    }
}
