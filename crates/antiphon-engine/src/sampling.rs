//! Worker thread: turning one row of logits into one token under the AMT grammar (SPEC §8.2).
//!
//! Pure functions of the logits, the grammar state and a seeded RNG: (model, input, parameters,
//! seed) always give the same tokens. Masks set banned ids to −∞ in place.

use antiphon_tokens::{SplitMix64, VocabSpec};

/// The reference bans absent instruments once this many are present (REST and controls count;
/// SPEC §8.2: 16 minus one reserved for drums).
pub const REFERENCE_INSTRUMENT_CAP: usize = 15;

/// Top-p the plugin and the CLI start with: the setting at which antiphon-small's accompaniments
/// and continuations sat nearer the real parts than random notes on every metric of its model
/// card (0.9 and 0.95 made continuations too dense).
pub const DEFAULT_TOP_P: f32 = antiphon_core::settings::TOP_P.default;

/// The product grammar's limit on notes starting together (two hands and a voice, or a quartet
/// in double stops, stay well below it).
pub const PRODUCT_MAX_NOTES_PER_ONSET: usize = 12;
// The Voices control's top setting is this cap, so it changes nothing.
const _: () = assert!(antiphon_core::settings::VOICES.max as usize == PRODUCT_MAX_NOTES_PER_ONSET);

/// The product grammar's limit on REST triples in a row: with a REST every 24 ticks (two beats)
/// of silence, an answer stays silent at most six beats.
pub const PRODUCT_MAX_RESTS_IN_A_ROW: usize = 2;

/// Which tokens may follow, beyond what the reference allows.
#[derive(Debug, Clone, PartialEq)]
pub struct Grammar {
    /// Whether REST may only be the note of a rest triple. The reference also lets it escape
    /// as a time or a duration (SPEC §8.3), which corrupts a run; Antiphon does not.
    pub rest_only_as_note: bool,
    /// If set, the only instrument codes new notes may use (the Instrument parameter).
    pub allowed_instruments: Option<Vec<u32>>,
    /// If set, the furthest a new onset may lie after the current time, in ticks. Training
    /// lines are REST-padded, so no gap between events ever exceeds the rest density; a model
    /// that is not sure of that would otherwise jump past the end of an answer and stop it.
    pub max_onset_gap_ticks: Option<i64>,
    /// Whether a note (instrument and key) may start only once at one onset. A small model can
    /// fall into a loop stacking the same note on one onset hundreds of times.
    pub distinct_onset_notes: bool,
    /// If set, the most notes that may start at one onset; then time must move on. Fewer than
    /// one onset in 100 000 of the training scores starts more than 12.
    pub max_notes_per_onset: Option<usize>,
    /// If set, the most REST triples in a row the model may write; then it must play a note.
    /// At a low temperature a model that starts resting can rest to the end of the answer.
    pub max_rests_in_a_row: Option<usize>,
    /// Whether duration 0 and REST go together: a REST triple has duration 0, as every one in
    /// training does, and a note has more. A zero-length note is silent on most instruments,
    /// and 0.2 % of the training scores' notes (grace notes) have one; but a model that chose
    /// a rest's duration and was then kept from resting played a note of random key and
    /// instrument there, and such answers came out as a few clicks.
    pub rest_iff_zero_duration: bool,
}

impl Grammar {
    /// Exactly the reference's masks, for conformance.
    pub fn reference() -> Self {
        Self {
            rest_only_as_note: false,
            allowed_instruments: None,
            max_onset_gap_ticks: None,
            distinct_onset_notes: false,
            max_notes_per_onset: None,
            max_rests_in_a_row: None,
            rest_iff_zero_duration: false,
        }
    }

    /// What the product uses: REST only as a rest triple with duration 0 (and only REST with
    /// duration 0), each note once per onset, at most [`PRODUCT_MAX_NOTES_PER_ONSET`] notes per
    /// onset, at most [`PRODUCT_MAX_RESTS_IN_A_ROW`] rests in a row.
    pub fn product(allowed_instruments: Option<Vec<u32>>) -> Self {
        Self {
            rest_only_as_note: true,
            allowed_instruments,
            max_onset_gap_ticks: None,
            distinct_onset_notes: true,
            max_notes_per_onset: Some(PRODUCT_MAX_NOTES_PER_ONSET),
            max_rests_in_a_row: Some(PRODUCT_MAX_RESTS_IN_A_ROW),
            rest_iff_zero_duration: true,
        }
    }

    /// How many REST triples in a row may be written (unlimited when not set).
    pub fn rest_limit(&self) -> usize {
        self.max_rests_in_a_row.unwrap_or(usize::MAX)
    }

    /// Also bans onsets more than `ticks` after the current time.
    pub fn with_max_onset_gap(self, ticks: i64) -> Self {
        Self {
            max_onset_gap_ticks: Some(ticks),
            ..self
        }
    }
}

/// How to pick a token from the masked distribution.
#[derive(Debug, Clone)]
pub enum Chooser {
    /// The first most probable token (the conformance fixtures' stand-in for sampling).
    Greedy,
    /// Draw from the distribution with a seeded generator.
    Sample(SplitMix64),
}

/// Sampling parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingParams {
    /// Logits are divided by this before the nucleus filter; 1 leaves them as they are.
    pub temperature: f32,
    /// Nucleus threshold in (0, 1]; 1 keeps everything.
    pub top_p: f32,
}

impl Default for SamplingParams {
    fn default() -> Self {
        Self {
            temperature: 1.0,
            top_p: 1.0,
        }
    }
}

/// Bans, for the token at `position` (0 time, 1 duration, 2 note) of a triple, every id of the
/// wrong type, every control and every special token (SPEC §8.2 `safe_logits`).
pub fn mask_by_type(logits: &mut [f32], spec: &VocabSpec, position: usize, grammar: &Grammar) {
    let times = spec.time_offset() as usize..(spec.time_offset() + spec.max_time()) as usize;
    let durations =
        spec.duration_offset() as usize..(spec.duration_offset() + spec.max_duration()) as usize;
    let notes = spec.note_offset() as usize
        ..(spec.note_offset() + spec.max_pitch() * spec.num_instruments()) as usize;
    ban(logits, spec.control_offset() as usize..logits.len());
    match position {
        0 => {
            ban(logits, durations);
            ban(logits, notes);
        }
        1 => {
            ban(logits, times);
            ban(logits, notes);
        }
        _ => {
            ban(logits, times);
            ban(logits, durations);
        }
    }
    if grammar.rest_only_as_note && position != 2 {
        ban(logits, spec.rest() as usize..spec.rest() as usize + 1);
    }
}

/// Bans onsets before `current_time_ticks` (relative to the window; SPEC §8.2 `future_logits`).
/// Like the reference, the ban is a prefix of the id space, so a time past the vocabulary's
/// range bans durations too and leaves only REST (or nothing, under the product grammar).
pub fn mask_past_onsets(logits: &mut [f32], spec: &VocabSpec, current_time_ticks: i64) {
    if current_time_ticks > 0 {
        let end = (spec.time_offset() as i64 + current_time_ticks).min(logits.len() as i64);
        ban(logits, spec.time_offset() as usize..end as usize);
    }
}

/// Bans time tokens more than `gap_ticks` after `current_time_ticks` (window-relative).
pub fn mask_far_onsets(
    logits: &mut [f32],
    spec: &VocabSpec,
    current_time_ticks: i64,
    gap_ticks: i64,
) {
    let first_banned = spec.time_offset() as i64 + current_time_ticks.max(0) + gap_ticks + 1;
    let end = spec.time_offset() as i64 + spec.max_time() as i64;
    if first_banned < end {
        ban(logits, first_banned as usize..end as usize);
    }
}

/// Bans the time token `current_time_ticks` (window-relative): the onset is full.
pub fn mask_onset(logits: &mut [f32], spec: &VocabSpec, current_time_ticks: i64) {
    let id = spec.time_offset() as i64 + current_time_ticks.max(0);
    ban(logits, id as usize..id as usize + 1);
}

/// Bans the note ids in `started` (notes that already start at the chosen onset).
pub fn mask_started_notes(logits: &mut [f32], started: impl IntoIterator<Item = u32>) {
    for id in started {
        ban(logits, id as usize..id as usize + 1);
    }
}

/// Bans duration 0 (a rest's), unless nothing else is left.
pub fn mask_zero_duration(logits: &mut [f32], spec: &VocabSpec) {
    keep_unless_alone(logits, spec.duration_offset() as usize);
}

/// Leaves REST as the only note (after a rest's duration 0).
pub fn only_rest(logits: &mut [f32], spec: &VocabSpec) {
    let rest = spec.rest() as usize;
    let kept = logits[rest];
    logits.fill(f32::NEG_INFINITY);
    logits[rest] = kept;
}

/// Bans REST as the note, unless nothing else is left.
pub fn mask_rest(logits: &mut [f32], spec: &VocabSpec) {
    keep_unless_alone(logits, spec.rest() as usize);
}

/// Bans `id`, unless nothing else is left.
fn keep_unless_alone(logits: &mut [f32], id: usize) {
    let kept = logits[id];
    logits[id] = f32::NEG_INFINITY;
    if !logits.iter().any(|x| x.is_finite()) {
        logits[id] = kept;
    }
}

/// Bans the notes of instruments that may not play: absent ones once `present` (with REST and
/// controls counted, as `get_instruments` does) reaches the cap, and, under the product grammar,
/// every one outside the allow-list.
pub fn mask_instruments(logits: &mut [f32], spec: &VocabSpec, present: &[u32], grammar: &Grammar) {
    let pitches = spec.max_pitch() as usize;
    let note_range = |code: u32| {
        let start = spec.note_offset() as usize + code as usize * pitches;
        start..start + pitches
    };
    if present.len() >= REFERENCE_INSTRUMENT_CAP {
        for code in 0..spec.num_instruments() {
            if !present.contains(&code) {
                ban(logits, note_range(code));
            }
        }
    }
    if let Some(allowed) = &grammar.allowed_instruments {
        for code in 0..spec.num_instruments() {
            if !allowed.contains(&code) {
                ban(logits, note_range(code));
            }
        }
    }
}

/// Divides logits by `temperature` (skipped at 1 so the reference path is bit-exact).
pub fn apply_temperature(logits: &mut [f32], temperature: f32) {
    if temperature != 1.0 {
        let t = temperature.max(1e-3);
        for x in logits.iter_mut() {
            *x /= t;
        }
    }
}

/// The nucleus filter (SPEC §8.2, the Hugging Face recipe): keep the smallest set of most
/// probable tokens whose probability reaches `top_p`, and always the most probable one.
/// `order` is scratch space reused across calls.
///
/// Only the head of the ranking is sorted: the candidates grow fourfold until their mass
/// crosses `top_p`, which gives the same set as a full sort at a fraction of its cost.
pub fn nucleus(logits: &mut [f32], top_p: f32, order: &mut Vec<u32>) {
    if top_p >= 1.0 || logits.is_empty() {
        return;
    }
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return;
    }
    let total: f32 = logits.iter().map(|&x| (x - max).exp()).sum();
    // Descending by logit; ties by id so the result is deterministic.
    let rank = |a: &u32, b: &u32| {
        logits[*b as usize]
            .total_cmp(&logits[*a as usize])
            .then(a.cmp(b))
    };
    order.clear();
    order.extend(0..logits.len() as u32);
    let mut head = 64.min(order.len());
    let kept = loop {
        if head < order.len() {
            order.select_nth_unstable_by(head - 1, rank);
        }
        order[..head].sort_unstable_by(rank);
        let mut cumulative = 0.0f32;
        // The token that crosses the threshold stays; everything after it goes.
        let crossing = order[..head].iter().position(|&id| {
            cumulative += (logits[id as usize] - max).exp() / total;
            cumulative > top_p
        });
        match crossing {
            Some(i) => break i + 1,
            None if head == order.len() => break head,
            None => head = (head * 4).min(order.len()),
        }
    };
    for &id in &order[kept..] {
        logits[id as usize] = f32::NEG_INFINITY;
    }
}

/// Picks a token from masked logits. `None` if every id is banned.
pub fn choose(logits: &[f32], chooser: &mut Chooser) -> Option<u32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if max == f32::NEG_INFINITY {
        return None;
    }
    match chooser {
        Chooser::Greedy => logits.iter().position(|&x| x == max).map(|i| i as u32),
        Chooser::Sample(rng) => {
            let total: f64 = logits.iter().map(|&x| ((x - max) as f64).exp()).sum();
            let mut target = rng.next_f64() * total;
            let mut last_allowed = None;
            for (i, &x) in logits.iter().enumerate() {
                if x == f32::NEG_INFINITY {
                    continue;
                }
                last_allowed = Some(i as u32);
                target -= ((x - max) as f64).exp();
                if target < 0.0 {
                    return Some(i as u32);
                }
            }
            last_allowed
        }
    }
}

fn ban(logits: &mut [f32], range: std::ops::Range<usize>) {
    let end = range.end.min(logits.len());
    if range.start < end {
        logits[range.start..end].fill(f32::NEG_INFINITY);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ids a mask left finite, as half-open ranges (units.json's form).
    fn allowed_ranges(logits: &[f32]) -> Vec<[usize; 2]> {
        let mut out: Vec<[usize; 2]> = Vec::new();
        for (i, x) in logits.iter().enumerate() {
            if x.is_finite() {
                match out.last_mut() {
                    Some(r) if r[1] == i => r[1] = i + 1,
                    _ => out.push([i, i + 1]),
                }
            }
        }
        out
    }

    #[test]
    fn product_grammar_keeps_rest_out_of_times_and_durations() {
        let spec = VocabSpec::amt();
        for position in 0..3 {
            let mut logits = vec![0.0f32; spec.vocab_size() as usize];
            mask_by_type(&mut logits, &spec, position, &Grammar::product(None));
            assert_eq!(logits[spec.rest() as usize].is_finite(), position == 2);
        }
    }

    #[test]
    fn allow_list_leaves_only_its_instruments() {
        let spec = VocabSpec::amt();
        let mut logits = vec![0.0f32; spec.vocab_size() as usize];
        mask_by_type(&mut logits, &spec, 2, &Grammar::product(Some(vec![40])));
        mask_instruments(&mut logits, &spec, &[], &Grammar::product(Some(vec![40])));
        let start = 11000 + 40 * 128;
        assert_eq!(
            allowed_ranges(&logits),
            vec![[start, start + 128], [27512, 27513]]
        );
    }

    #[test]
    fn onsets_stay_between_now_and_the_largest_gap() {
        let spec = VocabSpec::beats();
        let mut logits = vec![0.0f32; spec.vocab_size() as usize];
        mask_by_type(&mut logits, &spec, 0, &Grammar::product(None));
        mask_past_onsets(&mut logits, &spec, 100);
        mask_far_onsets(&mut logits, &spec, 100, 24);
        let t0 = spec.time_offset() as usize;
        assert_eq!(allowed_ranges(&logits), vec![[t0 + 100, t0 + 125]]);
        // Near the top of the time range nothing beyond it is touched.
        let mut logits = vec![0.0f32; spec.vocab_size() as usize];
        let top = spec.max_time() as i64 - 5;
        mask_far_onsets(&mut logits, &spec, top, 24);
        assert!(logits.iter().all(|x| x.is_finite()));
    }

    #[test]
    fn nucleus_keeps_the_top_token_at_zero() {
        let mut logits = vec![1.0f32, 3.0, 2.0];
        nucleus(&mut logits, 0.0, &mut Vec::new());
        assert_eq!(allowed_ranges(&logits), vec![[1, 2]]);
    }

    #[test]
    fn sampling_is_repeatable_for_a_seed() {
        let logits: Vec<f32> = (0..100).map(|i| (i % 7) as f32).collect();
        let draw = |seed| {
            let mut chooser = Chooser::Sample(SplitMix64::new(seed));
            (0..20)
                .map(|_| choose(&logits, &mut chooser).unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(draw(7), draw(7));
        assert_ne!(draw(7), draw(8));
    }

    #[test]
    fn everything_banned_gives_none() {
        let logits = vec![f32::NEG_INFINITY; 4];
        assert_eq!(choose(&logits, &mut Chooser::Greedy), None);
    }
}
