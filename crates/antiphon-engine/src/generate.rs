//! Worker thread: the AMT generation loop (SPEC §8.1, §8.4) over any [`LanguageModel`].
//!
//! The model input is what the reference builds: the task flag, then the last tokens of the
//! history with times re-based to the window's minimum, then the partial triple. A
//! [`Feeder`] feeds only what the model's cache does not already hold: the longest prefix the
//! new input shares with the cache stays, across runs too, and only the rest is prefilled (all
//! of it when the window moved or its time base changed).
//!
//! Two window policies: [`WindowPolicy::Reference`] slides by one triple once the history is
//! full, exactly as the reference does (and rebuilds the cache every triple from then on);
//! [`WindowPolicy::Hop`] keeps the window's start until it is full, then jumps ahead so the
//! cache is rebuilt only every few hundred tokens (the authors' `caching` branch, SPEC §9).

use super::melody_now;
use super::model::{LanguageModel, ModelError};
use super::sampling::{
    apply_temperature, choose, mask_by_type, mask_far_onsets, mask_instruments, mask_onset,
    mask_past_onsets, mask_rest, mask_started_notes, mask_zero_duration, nucleus, only_rest,
    Chooser, Grammar, SamplingParams,
};
use super::steering::Steerer;
use antiphon_tokens::anticipation::anticipate;
use antiphon_tokens::{ops, OpsError, Triple, TripleKind, VocabSpec};

/// Tokens of history the reference keeps in the model input (SPEC §8.2: 339 triples).
pub const REFERENCE_HISTORY_TOKENS: usize = 1017;

/// Where the model input's window starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowPolicy {
    /// The last 1017 tokens, every step (the reference; conformance).
    Reference,
    /// Keep the start until the history exceeds 1017 tokens, then keep only the last
    /// `keep_tokens` (a multiple of 3); also jump when the window's time span no longer fits
    /// the vocabulary.
    Hop {
        /// Tokens kept after a jump.
        keep_tokens: usize,
    },
}

/// Why generation stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    /// The model failed.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A token operation failed (malformed input).
    #[error("token operation failed: {0}")]
    Tokens(#[from] OpsError),
    /// The grammar left no token to choose.
    #[error(
        "no token is allowed at triple position {position} (current time {current_time} ticks)"
    )]
    NothingAllowed {
        /// 0 time, 1 duration, 2 note.
        position: usize,
        /// The generation cursor.
        current_time: i64,
    },
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Request {
    /// Generation starts here (ticks); input events up to it form the prompt.
    pub start_ticks: i64,
    /// A sampled onset at or after this (ticks) ends generation and is discarded.
    pub end_ticks: i64,
    /// Input events (no REST needed). Those after `start_ticks` are anticipated as controls.
    pub inputs: Vec<Triple>,
    /// Control triples (events shifted into the control block), e.g. a melody.
    pub controls: Vec<Triple>,
    /// Controls earlier than this (ticks) are dropped. The reference drops those before tick 5
    /// (SPEC §8.1 step 3, a unit slip); the product keeps them all (0).
    pub drop_controls_before_ticks: i64,
    /// Anticipation interval in ticks (SPEC §6).
    pub delta_ticks: i64,
    /// Temperature and top-p.
    pub sampling: SamplingParams,
    /// Grammar beyond the reference's masks.
    pub grammar: Grammar,
    /// Window policy.
    pub window: WindowPolicy,
    /// Stop after this many generated triples even if `end_ticks` is not reached.
    pub max_new_triples: usize,
    /// Whether a model that reads the melody's key finds it from every melody note known,
    /// the controls not yet placed included ([`crate::melody_now`]), not from those placed.
    pub key_from_whole_melody: bool,
}

/// What came out.
#[derive(Debug, Clone, PartialEq)]
pub struct Generated {
    /// The whole interleaved sequence at the end (absolute times; RESTs and controls kept).
    pub tokens: Vec<Triple>,
    /// `sort(unpad(events of tokens) + future inputs)` (SPEC §8.1 step 8).
    pub events: Vec<Triple>,
    /// How many triples the model produced.
    pub new_triples: usize,
    /// Every id the sampler chose, in order (time ids relative to their window's offset, as
    /// the conformance traces record them).
    pub choices: Vec<u32>,
    /// The triples the model produced and kept, in order (absolute times; RESTs included).
    pub sampled: Vec<Triple>,
    /// Times the model's cache was cut back to a shorter prefix and partly refilled.
    pub cache_rebuilds: usize,
}

/// Feeds a model only what its cache does not already hold.
#[derive(Debug, Default)]
pub struct Feeder {
    /// The last logits row, copied so it can be masked.
    logits: Vec<f32>,
    /// Times the cache was cut back (the window moved, the input changed, or the model was
    /// last used for something else).
    pub rebuilds: usize,
}

impl Feeder {
    /// Returns logits for the token after `input`, feeding the model as little as possible:
    /// the longest prefix `input` shares with the model's cache stays, whoever filled it, so
    /// a run that re-reads what the last run wrote costs only the tokens that differ.
    pub fn logits(
        &mut self,
        model: &mut dyn LanguageModel,
        input: &[u32],
    ) -> Result<&mut [f32], ModelError> {
        let cached = model.cached();
        let shared = cached
            .iter()
            .zip(input)
            .take_while(|(a, b)| a == b)
            .count()
            // The logits of the last token are not kept: at least one token is fed.
            .min(input.len().saturating_sub(1));
        if shared < cached.len() {
            model.truncate(shared);
            self.rebuilds += 1;
        }
        let row = model.feed(&input[shared..])?;
        self.logits.clear();
        self.logits.extend_from_slice(row);
        Ok(&mut self.logits)
    }
}

/// The reference's `generate` (SPEC §8.1) with this crate's sampler.
pub fn generate(
    model: &mut dyn LanguageModel,
    spec: &VocabSpec,
    request: &Request,
    chooser: &mut Chooser,
) -> Result<Generated, GenerateError> {
    generate_streaming(model, spec, request, chooser, &mut |_| true)
}

/// [`generate`], handing each kept triple to `observe` as soon as it is sampled; `observe`
/// returning `false` stops generation there (the triple is kept).
pub fn generate_streaming(
    model: &mut dyn LanguageModel,
    spec: &VocabSpec,
    request: &Request,
    chooser: &mut Chooser,
    observe: &mut dyn FnMut(&Triple) -> bool,
) -> Result<Generated, GenerateError> {
    let mut generation = Generation::new(spec, request.clone())?;
    generation.run_until(model, spec, request.end_ticks, chooser, observe)?;
    Ok(generation.finish(spec))
}

/// A generation that can be taken further: the interleaved tokens so far, the controls not
/// yet placed, and the window the model sees. [`generate_streaming`] is one run; the worker
/// writes an accompaniment bar by bar with one run per bar, handing over the melody heard
/// since, so each bar costs the model only its own tokens (its input extends the cache).
#[derive(Debug)]
pub struct Generation {
    request: Request,
    flag: u32,
    /// The interleaved sequence: prompt, placed controls and kept triples.
    tokens: Vec<Triple>,
    /// Controls not yet placed, sorted by time.
    pending: Vec<Triple>,
    /// Inputs after the start, anticipated (SPEC §8.1 step 8 returns them with the events).
    future: Vec<Triple>,
    /// Time of the last event (ticks): controls within `delta` of it are placed.
    current: i64,
    state: StepState,
    /// Key, harmony, register and density steering, if any (none: the plain product grammar).
    steerer: Option<Steerer>,
}

impl Generation {
    /// The prompt of `request` (SPEC §8.1 steps 1–5): inputs before the start, padded with
    /// RESTs, with the controls and later inputs anticipated into it.
    pub fn new(spec: &VocabSpec, request: Request) -> Result<Self, GenerateError> {
        let (prompt, future) = prompt_and_future(spec, &request.inputs, request.start_ticks)?;
        let controls = ops::clip(
            spec,
            &request.controls,
            request.drop_controls_before_ticks,
            ops::max_time(spec, &request.controls, None),
            false,
        );
        let flag = if !controls.is_empty() || !future.is_empty() {
            spec.anticipate()
        } else {
            spec.autoregress()
        };
        let mut pending = controls;
        pending.extend(future.iter().map(|t| spec.to_control(*t)));
        let pending = ops::sort(&pending);
        let anticipated = anticipate(spec, &prompt, &pending, request.delta_ticks)?;
        Ok(Self {
            flag,
            tokens: anticipated.interleaved,
            pending: anticipated.unconsumed,
            future,
            current: ops::max_time(spec, &prompt, None),
            state: StepState::new(request.window),
            steerer: None,
            request,
        })
    }

    /// Steers the rest of the generation with `steerer`, which hears the prompt and every
    /// control (the melody) handed over so far.
    pub fn steer(&mut self, spec: &VocabSpec, mut steerer: Steerer) {
        for t in self.tokens.iter().chain(&self.pending) {
            match spec.classify(t) {
                Ok(TripleKind::Event(e)) => steerer.add_heard([e]),
                Ok(TripleKind::Control(e)) => steerer.add_melody([e]),
                _ => {}
            }
        }
        self.steerer = Some(steerer);
    }

    /// The steering in force, if any.
    pub fn steerer(&self) -> Option<&Steerer> {
        self.steerer.as_ref()
    }

    /// Hands over controls heard since the generation began (control triples, any order).
    /// Each is placed where anticipation puts it, or, if generation is already past that
    /// point, before the next triple: as early as is still possible.
    pub fn add_controls(&mut self, spec: &VocabSpec, controls: &[Triple]) {
        if controls.is_empty() {
            return;
        }
        self.flag = spec.anticipate();
        self.pending.extend_from_slice(controls);
        self.pending = ops::sort(&self.pending);
        if let Some(steerer) = &mut self.steerer {
            steerer.add_melody(controls.iter().filter_map(|t| match spec.classify(t) {
                Ok(TripleKind::Control(e)) => Some(e),
                _ => None,
            }));
        }
    }

    /// Generates until a sampled onset reaches `end_ticks` (that triple is discarded and the
    /// next run samples its place anew), the triple limit is reached, or `observe` says stop.
    pub fn run_until(
        &mut self,
        model: &mut dyn LanguageModel,
        spec: &VocabSpec,
        end_ticks: i64,
        chooser: &mut Chooser,
        observe: &mut dyn FnMut(&Triple) -> bool,
    ) -> Result<(), GenerateError> {
        let result = self.run_steps(model, spec, end_ticks, chooser, observe);
        // The model outlives this generation: the next one starts from the causal key.
        model.set_melody_ahead([0; 12]);
        result
    }

    fn run_steps(
        &mut self,
        model: &mut dyn LanguageModel,
        spec: &VocabSpec,
        end_ticks: i64,
        chooser: &mut Chooser,
        observe: &mut dyn FnMut(&Triple) -> bool,
    ) -> Result<(), GenerateError> {
        let start = self.request.start_ticks;
        let delta = self.request.delta_ticks;
        // The pending melody changes only where controls are placed (or handed over between runs).
        let mut ahead_stale = true;
        let whole_melody_key = self.request.key_from_whole_melody || model.key_from_whole_melody();
        while self.state.sampled.len() < self.request.max_new_triples {
            let due = self
                .pending
                .iter()
                .take_while(|c| self.current >= spec.time_of(c) - delta)
                .count();
            self.tokens.extend(self.pending.drain(..due));
            ahead_stale |= due > 0;
            if whole_melody_key && std::mem::take(&mut ahead_stale) {
                let mut ahead = [0; 12];
                melody_now::add_control_weights(spec, &self.pending, &mut ahead);
                model.set_melody_ahead(ahead);
            }
            let new = self.state.add_triple(
                model,
                spec,
                self.flag,
                &self.tokens,
                start.max(self.current),
                &self.request,
                chooser,
                self.steerer.as_mut(),
            )?;
            let new_time = spec.time_of(&new);
            if new_time >= end_ticks {
                break;
            }
            if let (Some(steerer), Ok(TripleKind::Event(e))) =
                (&mut self.steerer, spec.classify(&new))
            {
                steerer.observe(&e);
            }
            self.tokens.push(new);
            self.state.sampled.push(new);
            self.current = new_time;
            if !observe(&new) {
                break;
            }
        }
        Ok(())
    }

    /// The result so far (SPEC §8.1 step 8).
    pub fn finish(self, spec: &VocabSpec) -> Generated {
        let (events, _) = ops::split(spec, &self.tokens);
        self.state.finish(spec, self.tokens, &events, &self.future)
    }
}

/// The reference's plain-autoregressive baseline `generate_ar` (SPEC §8.4), kept for
/// conformance. It shares the reference's defect of returning back-filled inputs twice.
pub fn generate_ar(
    model: &mut dyn LanguageModel,
    spec: &VocabSpec,
    request: &Request,
    chooser: &mut Chooser,
) -> Result<Generated, GenerateError> {
    let start = request.start_ticks;
    let end = request.end_ticks;
    let mut inputs = request.inputs.clone();
    inputs.extend(request.controls.iter().map(|t| from_control(spec, *t)));
    let inputs = ops::sort(&inputs);
    let (mut tokens, future) = prompt_and_future(spec, &inputs, start)?;
    let mut next_future = 0;
    let mut current = ops::max_time(spec, &tokens, None);

    let mut state = StepState::new(request.window);
    while state.sampled.len() < request.max_new_triples {
        let new = state.add_triple(
            model,
            spec,
            spec.autoregress(),
            &tokens,
            start.max(current),
            request,
            chooser,
            None,
        )?;
        let new_time = spec.time_of(&new);
        if new_time >= end {
            break;
        }
        current = new_time;
        // Back-fill the inputs that belong before the new triple.
        while let Some(event) = future.get(next_future) {
            if current < spec.time_of(event) {
                break;
            }
            tokens.push(*event);
            next_future += 1;
        }
        tokens.push(new);
        state.sampled.push(new);
    }
    if let Some(event) = future.get(next_future) {
        tokens.push(*event);
    }
    let events = tokens.clone();
    Ok(state.finish(spec, tokens, &events, &future))
}

/// The inputs up to `start` padded with RESTs (the prompt), and those after it.
fn prompt_and_future(
    spec: &VocabSpec,
    inputs: &[Triple],
    start: i64,
) -> Result<(Vec<Triple>, Vec<Triple>), GenerateError> {
    let clipped = ops::clip(spec, inputs, 0, start, false);
    let prompt = ops::pad(
        spec,
        &clipped,
        Some(start),
        spec.rest_density_ticks() as i64,
    )?;
    let last = ops::max_time(spec, inputs, None);
    Ok((prompt, ops::clip(spec, inputs, start + 1, last, false)))
}

/// A control triple turned back into an event (27513 off every token, SPEC §8.4).
fn from_control(spec: &VocabSpec, t: Triple) -> Triple {
    let off = spec.control_offset();
    Triple::from_raw(t.time.0 - off, t.duration.0 - off, t.note.0 - off)
}

/// The sampled notes (not RESTs) that start at `onset` (absolute ticks); sampled times never
/// decrease, so they are at the end.
fn notes_starting_at<'t>(
    spec: &'t VocabSpec,
    sampled: &'t [Triple],
    onset: i64,
) -> impl Iterator<Item = &'t Triple> + 't {
    sampled
        .iter()
        .rev()
        .take_while(move |t| spec.time_of(t) == onset)
        .filter(move |t| t.note.0 != spec.rest())
}

/// REST triples at the end of what was sampled.
fn rests_in_a_row(spec: &VocabSpec, sampled: &[Triple]) -> usize {
    let rests = sampled.iter().rev();
    rests.take_while(|t| t.note.0 == spec.rest()).count()
}

/// What persists between triples: the window's start, the feeder and scratch buffers.
#[derive(Debug)]
struct StepState {
    window: WindowPolicy,
    /// Index (in triples) where the window starts, for [`WindowPolicy::Hop`].
    window_start: usize,
    feeder: Feeder,
    input: Vec<u32>,
    order: Vec<u32>,
    choices: Vec<u32>,
    sampled: Vec<Triple>,
}

impl StepState {
    /// The run's result: `sort(unpad(events) + future)` (SPEC §8.1 step 8) and the trace.
    fn finish(
        self,
        spec: &VocabSpec,
        tokens: Vec<Triple>,
        events: &[Triple],
        future: &[Triple],
    ) -> Generated {
        let mut out = ops::unpad(spec, events);
        out.extend_from_slice(future);
        Generated {
            events: ops::sort(&out),
            tokens,
            new_triples: self.sampled.len(),
            cache_rebuilds: self.feeder.rebuilds,
            choices: self.choices,
            sampled: self.sampled,
        }
    }

    fn new(window: WindowPolicy) -> Self {
        Self {
            window,
            window_start: 0,
            feeder: Feeder::default(),
            input: Vec::new(),
            order: Vec::new(),
            choices: Vec::new(),
            sampled: Vec::new(),
        }
    }

    /// The reference's `add_token` (SPEC §8.2): one triple, three model evaluations.
    #[allow(clippy::too_many_arguments)]
    fn add_triple(
        &mut self,
        model: &mut dyn LanguageModel,
        spec: &VocabSpec,
        flag: u32,
        tokens: &[Triple],
        current_time: i64,
        request: &Request,
        chooser: &mut Chooser,
        mut steerer: Option<&mut Steerer>,
    ) -> Result<Triple, GenerateError> {
        let history = self.window_of(spec, tokens, current_time);
        let offset = ops::min_time(spec, history, None);
        self.input.clear();
        self.input.push(flag);
        for t in history {
            self.input.extend_from_slice(&[
                (t.time.0 as i64 - offset) as u32,
                t.duration.0,
                t.note.0,
            ]);
        }
        let present: Vec<u32> = ops::get_instruments(spec, tokens)
            .into_iter()
            .map(|(code, _)| code)
            .collect();

        let rests = rests_in_a_row(spec, &self.sampled);
        let onset_cap = match (request.grammar.max_notes_per_onset, &steerer) {
            (Some(cap), Some(s)) => Some(cap.min(s.max_notes_per_onset())),
            (cap, None) => cap,
            (None, Some(s)) => Some(s.max_notes_per_onset()),
        };
        let mut new = [0u32; 3];
        for position in 0..3 {
            let logits = self.feeder.logits(model, &self.input)?;
            mask_by_type(logits, spec, position, &request.grammar);
            match position {
                0 => {
                    mask_past_onsets(logits, spec, current_time - offset);
                    if let Some(gap) = request.grammar.max_onset_gap_ticks {
                        mask_far_onsets(logits, spec, current_time - offset, gap);
                    }
                    if let Some(cap) = onset_cap {
                        if notes_starting_at(spec, &self.sampled, current_time).count() >= cap {
                            mask_onset(logits, spec, current_time - offset);
                        }
                    }
                }
                1 if request.grammar.rest_iff_zero_duration
                    && rests >= request.grammar.rest_limit() =>
                {
                    mask_zero_duration(logits, spec);
                }
                2 => {
                    mask_instruments(logits, spec, &present, &request.grammar);
                    if request.grammar.distinct_onset_notes {
                        let onset = new[0] as i64 + offset;
                        let started = notes_starting_at(spec, &self.sampled, onset);
                        mask_started_notes(logits, started.map(|t| t.note.0));
                    }
                    if request.grammar.rest_iff_zero_duration {
                        if new[1] == spec.duration_offset() {
                            only_rest(logits, spec);
                        } else {
                            mask_rest(logits, spec);
                        }
                    } else if rests >= request.grammar.rest_limit() {
                        mask_rest(logits, spec);
                    }
                }
                _ => {}
            }
            apply_temperature(logits, request.sampling.temperature);
            if let Some(steerer) = steerer.as_deref_mut() {
                // After the temperature, so a key lock of 90 % removes 90 % of the out-of-key
                // probability at any temperature.
                match position {
                    0 => steerer.steer_time(logits, current_time, current_time - offset),
                    2 => {
                        let onset = new[0] as i64 + offset;
                        let started: Vec<u8> = notes_starting_at(spec, &self.sampled, onset)
                            .map(|t| ((t.note.0 - spec.note_offset()) % spec.max_pitch()) as u8)
                            .collect();
                        steerer.steer_notes(logits, onset, &started);
                    }
                    _ => {}
                }
            }
            nucleus(logits, request.sampling.top_p, &mut self.order);
            let token = choose(logits, chooser).ok_or(GenerateError::NothingAllowed {
                position,
                current_time,
            })?;
            new[position] = token;
            self.choices.push(token);
            self.input.push(token);
        }
        new[0] = (new[0] as i64 + offset) as u32;
        Ok(Triple::from_raw(new[0], new[1], new[2]))
    }

    /// The history the model sees for the next triple.
    fn window_of<'t>(&mut self, spec: &VocabSpec, tokens: &'t [Triple], now: i64) -> &'t [Triple] {
        let limit = REFERENCE_HISTORY_TOKENS / 3;
        match self.window {
            WindowPolicy::Reference => &tokens[tokens.len().saturating_sub(limit)..],
            WindowPolicy::Hop { keep_tokens } => {
                if tokens.len() - self.window_start.min(tokens.len()) > limit {
                    self.window_start = tokens.len() - (keep_tokens / 3).min(limit);
                }
                // Re-base so every time in the window, and the cursor, fits the vocabulary.
                let span_limit = spec.max_time() as i64 - 1;
                while self.window_start < tokens.len()
                    && now - ops::min_time(spec, &tokens[self.window_start..], None) > span_limit
                {
                    self.window_start += 1;
                }
                &tokens[self.window_start.min(tokens.len())..]
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakeModel;

    /// A model stuck on one idea: the current onset, a quarter note, and key 60 on the piano
    /// above every other key (lower keys next).
    struct StuckModel {
        spec: VocabSpec,
        logits: Vec<f32>,
        fed: Vec<u32>,
        /// Prefer REST above every note, and the furthest onset allowed.
        resting: bool,
        /// Prefer duration 0 (a rest's) above every other.
        zero_length: bool,
        /// Every melody-ahead histogram it was given, in order.
        aheads: Vec<crate::melody_now::PitchClassWeights>,
        /// What its card says: the whole melody's key, whatever the request asks.
        wants_whole_melody_key: bool,
    }

    impl StuckModel {
        fn new(spec: &VocabSpec, resting: bool, zero_length: bool) -> Self {
            Self {
                logits: vec![0.0; spec.vocab_size() as usize],
                spec: spec.clone(),
                fed: Vec::new(),
                resting,
                zero_length,
                aheads: Vec::new(),
                wants_whole_melody_key: false,
            }
        }
    }

    impl LanguageModel for StuckModel {
        fn vocab_size(&self) -> usize {
            self.spec.vocab_size() as usize
        }
        fn context_length(&self) -> usize {
            1024
        }
        fn cached(&self) -> &[u32] {
            &self.fed
        }
        fn truncate(&mut self, len: usize) {
            self.fed.truncate(len);
        }
        fn feed(&mut self, tokens: &[u32]) -> Result<&[f32], ModelError> {
            self.fed.extend_from_slice(tokens);
            let s = &self.spec;
            self.logits.fill(0.0);
            self.logits[s.time_offset() as usize] = 10.0;
            self.logits[(s.duration_offset() + 12) as usize] = 10.0;
            for key in 0..=60u32 {
                self.logits[(s.note_offset() + key) as usize] = 10.0 + key as f32;
            }
            if self.zero_length {
                self.logits[s.duration_offset() as usize] = 20.0;
            }
            if self.resting {
                self.logits[s.rest() as usize] = 100.0;
                let times = s.time_offset() as usize..(s.time_offset() + s.max_time()) as usize;
                for (k, id) in times.enumerate() {
                    self.logits[id] = k as f32;
                }
            }
            Ok(&self.logits)
        }
        fn set_melody_ahead(&mut self, ahead: crate::melody_now::PitchClassWeights) {
            self.aheads.push(ahead);
        }
        fn key_from_whole_melody(&self) -> bool {
            self.wants_whole_melody_key
        }
    }

    fn greedy(model: &mut StuckModel, spec: &VocabSpec, request: &Request) -> Generated {
        generate_streaming(model, spec, request, &mut Chooser::Greedy, &mut |_| true).unwrap()
    }

    /// The product grammar over 48 ticks from an empty prompt, with sampling left neutral.
    fn product_request(spec: &VocabSpec) -> Request {
        Request {
            start_ticks: 0,
            end_ticks: 48,
            inputs: Vec::new(),
            controls: Vec::new(),
            drop_controls_before_ticks: 0,
            delta_ticks: spec.delta_ticks() as i64,
            sampling: SamplingParams {
                temperature: 1.0,
                top_p: 1.0,
            },
            grammar: Grammar::product(None),
            window: WindowPolicy::Reference,
            max_new_triples: 40,
            key_from_whole_melody: false,
        }
    }

    #[test]
    fn the_product_grammar_starts_each_note_once_and_at_most_twelve_per_onset() {
        let spec = VocabSpec::beats();
        let mut model = StuckModel::new(&spec, false, false);
        let request = product_request(&spec);
        let out = greedy(&mut model, &spec, &request);
        let first: Vec<(i64, u32)> = out
            .sampled
            .iter()
            .map(|t| (spec.time_of(t), t.note.0 - spec.note_offset()))
            .collect();
        // Twelve keys on the first onset, from 60 down, then the next onset.
        let expected: Vec<(i64, u32)> = (0..12).map(|k| (0, 60 - k)).collect();
        assert_eq!(first[..12], expected[..]);
        assert_ne!(first[12].0, 0);
        let mut seen = std::collections::HashSet::new();
        for pair in &first {
            assert!(seen.insert(*pair), "{pair:?} started twice");
        }
    }

    #[test]
    fn the_product_grammar_rests_at_most_twice_in_a_row() {
        let spec = VocabSpec::beats();
        let mut model = StuckModel::new(&spec, true, true);
        let request = Request {
            end_ticks: 240,
            grammar: Grammar::product(None).with_max_onset_gap(spec.rest_density_ticks() as i64),
            ..product_request(&spec)
        };
        let out = greedy(&mut model, &spec, &request);
        let kinds: String = out
            .sampled
            .iter()
            .map(|t| if t.note.0 == spec.rest() { 'r' } else { 'n' })
            .collect();
        assert!(kinds.contains('n'), "{kinds}");
        assert!(!kinds.contains("rrr"), "{kinds}");
        // Onsets never more than 24 ticks apart.
        let times: Vec<i64> = out.sampled.iter().map(|t| spec.time_of(t)).collect();
        assert!(times.windows(2).all(|w| w[1] - w[0] <= 24), "{times:?}");
    }

    #[test]
    fn the_product_grammar_gives_rests_and_only_rests_duration_zero() {
        let spec = VocabSpec::beats();
        let request = Request {
            end_ticks: 240,
            ..product_request(&spec)
        };
        let zero = spec.duration_offset();
        // The reference writes the zero-length notes this model asks for.
        let mut model = StuckModel::new(&spec, false, true);
        let reference = Request {
            grammar: Grammar::reference(),
            ..request.clone()
        };
        let out = greedy(&mut model, &spec, &reference);
        assert!(out
            .sampled
            .iter()
            .any(|t| t.duration.0 == zero && t.note.0 != spec.rest()));
        // The product rests on duration 0, twice at most, then plays a note that sounds.
        let mut model = StuckModel::new(&spec, false, true);
        let out = greedy(&mut model, &spec, &request);
        let kinds: String = out
            .sampled
            .iter()
            .map(|t| match (t.note.0 == spec.rest(), t.duration.0 == zero) {
                (true, true) => 'r',
                (false, false) => 'n',
                _ => '?',
            })
            .collect();
        assert!(kinds.starts_with("rrnrrn"), "{kinds}");
        assert!(!kinds.contains('?'), "{kinds}");
    }

    #[test]
    fn the_model_hears_the_melody_not_yet_placed_and_then_none() {
        let spec = VocabSpec::beats();
        let delta = spec.delta_ticks();
        // Melody notes (C, E, G, A; 12 ticks each) at 0, 12, and two past the anticipation
        // interval of a 48-tick answer.
        let controls: Vec<Triple> = [(0, 60), (12, 64), (delta + 60, 67), (delta + 72, 69)]
            .into_iter()
            .map(|(time, pitch)| {
                spec.to_control(Triple::from_raw(
                    spec.time_offset() + time,
                    spec.duration_offset() + 12,
                    spec.note_offset() + pitch,
                ))
            })
            .collect();
        let request = Request {
            controls,
            key_from_whole_melody: true,
            ..product_request(&spec)
        };
        let mut model = StuckModel::new(&spec, false, false);
        greedy(&mut model, &spec, &request);
        let mut unplaced = [0; 12];
        (unplaced[7], unplaced[9]) = (12, 12);
        assert_eq!(model.aheads.first(), Some(&unplaced));
        assert_eq!(model.aheads.last(), Some(&[0; 12]));

        let mut causal = StuckModel::new(&spec, false, false);
        let request = Request {
            key_from_whole_melody: false,
            ..request
        };
        greedy(&mut causal, &spec, &request);
        assert_eq!(causal.aheads, [[0; 12]], "only the reset at the end");

        // A model trained with one key for a whole line asks for the whole melody's key itself.
        let mut whole = StuckModel::new(&spec, false, false);
        whole.wants_whole_melody_key = true;
        greedy(&mut whole, &spec, &request);
        assert_eq!(whole.aheads, model.aheads);
    }

    #[test]
    fn a_generation_taken_in_two_runs_is_the_generation_taken_in_one() {
        let spec = VocabSpec::amt();
        let event = |time: u32, instrument: u32, pitch: u32| {
            Triple::from_raw(
                spec.time_offset() + time,
                spec.duration_offset() + 50,
                spec.note_offset() + instrument * spec.max_pitch() + pitch,
            )
        };
        let inputs: Vec<Triple> = (0..10).map(|k| event(100 * k, 0, 60 + k)).collect();
        let controls: Vec<Triple> = [1200, 1800, 2600, 2900]
            .into_iter()
            .map(|t| spec.to_control(event(t, 73, 72)))
            .collect();
        let request = Request {
            start_ticks: 1000,
            end_ticks: 3000,
            inputs,
            controls: controls.clone(),
            window: WindowPolicy::Hop { keep_tokens: 768 },
            max_new_triples: 10_000,
            ..product_request(&spec)
        };
        let mut model = FakeModel::amt();
        let one = generate(&mut model, &spec, &request, &mut Chooser::Greedy).unwrap();

        // The controls after the first run's end plus delta are handed over only then.
        let early = Request {
            controls: controls[..2].to_vec(),
            ..request.clone()
        };
        let mut two = Generation::new(&spec, early).unwrap();
        let mut keep = |_: &Triple| true;
        two.run_until(&mut model, &spec, 2000, &mut Chooser::Greedy, &mut keep)
            .unwrap();
        two.add_controls(&spec, &controls[2..]);
        two.run_until(&mut model, &spec, 3000, &mut Chooser::Greedy, &mut keep)
            .unwrap();
        let two = two.finish(&spec);
        assert!(one.new_triples > 20, "{}", one.new_triples);
        assert_eq!(two.tokens, one.tokens);
        assert_eq!(two.events, one.events);

        // A control heard after its place went by comes right after what was written.
        let mut late = Generation::new(&spec, request.clone()).unwrap();
        late.run_until(&mut model, &spec, 2000, &mut Chooser::Greedy, &mut keep)
            .unwrap();
        let written = late.tokens.len();
        let heard_late = spec.to_control(event(1900, 73, 74));
        late.add_controls(&spec, &[heard_late]);
        late.run_until(&mut model, &spec, 3000, &mut Chooser::Greedy, &mut keep)
            .unwrap();
        assert_eq!(late.tokens[written], heard_late);
    }

    #[test]
    fn feeder_keeps_the_prefix_a_cache_shares_with_the_input() {
        let mut model = FakeModel::amt();
        model.feed(&[55026, 0, 10000]).unwrap();
        let mut feeder = Feeder::default();
        feeder.logits(&mut model, &[55026, 5]).unwrap();
        assert_eq!(model.calls.last().unwrap().input, [55026, 5]);
        assert_eq!(feeder.rebuilds, 1, "a diverging cache is cut back");
        feeder.logits(&mut model, &[55026, 5, 10010]).unwrap();
        assert_eq!(model.calls.last().unwrap().input, [55026, 5, 10010]);
        assert_eq!(
            feeder.rebuilds, 1,
            "an extended input only feeds what is new"
        );
        // The same input again: the last token is fed again to get its logits back.
        let before = model.calls.len();
        feeder.logits(&mut model, &[55026, 5, 10010]).unwrap();
        assert_eq!(model.calls.len(), before + 1);
        assert_eq!(model.cached(), [55026, 5, 10010]);
    }
}
