//! Operations on token sequences (SPEC §5): clip, mask, sort, split, pad, unpad, min/max time,
//! instrument counts, translate, combine.
//!
//! Pure functions on whole triples, each reproducing the reference helper of the same name,
//! quirks included (they are listed per function). Times are in the vocabulary's ticks; the
//! reference's `seconds=True` arguments are converted by the caller with
//! [`units_to_ticks`] (truncation, as `int(100·x)`). A triple's time is its time token minus
//! `time_offset`, or minus the control shift as well when its note token marks a control.

use thiserror::Error;

use super::events::Triple;
use super::vocab::VocabSpec;

pub use super::anticipation::{anticipate, extract_instruments, Anticipated};

/// Errors where the reference asserts.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum OpsError {
    /// `translate` would move a triple before time 0.
    #[error(
        "translating triple {index} (time {time_ticks}) by {dt_ticks} ticks gives a negative time"
    )]
    NegativeTime {
        /// Index of the triple.
        index: usize,
        /// Its time before the shift.
        time_ticks: i64,
        /// The shift.
        dt_ticks: i64,
    },
    /// An operation defined on events met a control (or a special triple).
    #[error("triple {index} is a control or special triple, but `{op}` takes events only")]
    NotAnEvent {
        /// Index of the triple.
        index: usize,
        /// Operation name.
        op: &'static str,
    },
}

/// Converts a time in the vocabulary's units (seconds or quarter notes) to ticks by truncation,
/// like the reference's `int(TIME_RESOLUTION * x)` (SPEC §5: truncation, not rounding).
pub fn units_to_ticks(spec: &VocabSpec, units: f64) -> i64 {
    (spec.ticks_per_unit() as f64 * units).trunc() as i64
}

/// Converts ticks to the vocabulary's units (`x / TIME_RESOLUTION` in float).
pub fn ticks_to_units(spec: &VocabSpec, ticks: i64) -> f64 {
    ticks as f64 / spec.ticks_per_unit() as f64
}

/// `clip` (SPEC §5): keeps triples with `start ≤ time ≤ end`; with `clip_duration`, shortens
/// notes that would end after `end`. Events and controls alike.
pub fn clip(
    spec: &VocabSpec,
    tokens: &[Triple],
    start_ticks: i64,
    end_ticks: i64,
    clip_duration: bool,
) -> Vec<Triple> {
    let mut out = Vec::with_capacity(tokens.len());
    for t in tokens {
        let time = spec.time_of(t);
        if time < start_ticks || end_ticks < time {
            continue;
        }
        let mut t = *t;
        let dur = spec.duration_of(&t);
        if clip_duration && end_ticks < time + dur {
            // time ≤ end here, so the shortened duration stays ≥ 0.
            t.duration.0 -= (time + dur - end_ticks) as u32;
        }
        out.push(t);
    }
    out
}

/// `mask` (SPEC §5): removes triples whose time in **float units** lies strictly between
/// `start_units` and `end_units`.
pub fn mask(spec: &VocabSpec, tokens: &[Triple], start_units: f64, end_units: f64) -> Vec<Triple> {
    tokens
        .iter()
        .filter(|t| {
            let time = spec.time_of(t) as f64 / spec.ticks_per_unit() as f64;
            !(start_units < time && time < end_units)
        })
        .copied()
        .collect()
}

/// `delete` (SPEC §5): removes triples for which `criterion` is true.
pub fn delete(tokens: &[Triple], mut criterion: impl FnMut(&Triple) -> bool) -> Vec<Triple> {
    tokens.iter().filter(|t| !criterion(t)).copied().collect()
}

/// `sort` (SPEC §5): **stable** sort by the raw time token. Meant for events or controls, not
/// a mix (their time tokens live in different blocks).
pub fn sort(tokens: &[Triple]) -> Vec<Triple> {
    let mut out = tokens.to_vec();
    out.sort_by_key(|t| t.time);
    out
}

/// `split` (SPEC §5): (events incl. REST, controls), by note token below `control_offset`.
/// Separators and flags fall on the control side, as in the reference.
pub fn split(spec: &VocabSpec, tokens: &[Triple]) -> (Vec<Triple>, Vec<Triple>) {
    tokens
        .iter()
        .partition(|t| t.note.0 < spec.control_offset())
}

/// `pad` (SPEC §5): inserts REST triples so that consecutive times are at most
/// `density_ticks` apart, up to `end_ticks`.
///
/// RESTs sit at `prev + density` while the next time is strictly beyond `prev + density`, so
/// a gap of exactly `density` gets none. `end_ticks` of `None` or `Some(0)` means "the input's
/// max time" (the reference treats 0 as not given). Events only.
pub fn pad(
    spec: &VocabSpec,
    tokens: &[Triple],
    end_ticks: Option<i64>,
    density_ticks: i64,
) -> Result<Vec<Triple>, OpsError> {
    let mut out = Vec::with_capacity(tokens.len() + tokens.len() / 2);
    pad_into(spec, tokens, end_ticks, density_ticks, &mut out)?;
    Ok(out)
}

/// [`pad`] into the caller's buffer (appends).
pub fn pad_into(
    spec: &VocabSpec,
    tokens: &[Triple],
    end_ticks: Option<i64>,
    density_ticks: i64,
    out: &mut Vec<Triple>,
) -> Result<(), OpsError> {
    let end = match end_ticks {
        Some(e) if e != 0 => e,
        _ => max_time(spec, tokens, None),
    };
    let mut prev = 0i64;
    for (index, t) in tokens.iter().enumerate() {
        if t.note.0 >= spec.control_offset() {
            return Err(OpsError::NotAnEvent { index, op: "pad" });
        }
        let time = spec.time_of(t);
        while time > prev + density_ticks {
            prev += density_ticks;
            out.push(spec.rest_triple(prev as u32));
        }
        out.push(*t);
        prev = time;
    }
    while end > prev + density_ticks {
        prev += density_ticks;
        out.push(spec.rest_triple(prev as u32));
    }
    Ok(())
}

/// `unpad` (SPEC §5): removes REST triples.
pub fn unpad(spec: &VocabSpec, tokens: &[Triple]) -> Vec<Triple> {
    tokens
        .iter()
        .filter(|t| !spec.is_rest(t))
        .copied()
        .collect()
}

/// `sparsity` (SPEC §5): the largest gap between consecutive event times, separators skipped,
/// measured from time 0. Events only.
pub fn sparsity(spec: &VocabSpec, tokens: &[Triple]) -> Result<i64, OpsError> {
    let mut max_dt = 0i64;
    let mut prev = 0i64;
    for (index, t) in tokens.iter().enumerate() {
        if spec.is_separator(t) {
            continue;
        }
        if t.note.0 >= spec.control_offset() {
            return Err(OpsError::NotAnEvent {
                index,
                op: "sparsity",
            });
        }
        let time = spec.time_of(t);
        max_dt = max_dt.max(time - prev);
        prev = time;
    }
    Ok(max_dt)
}

/// `min_time` (SPEC §5): the smallest time **up to the first SEPARATOR triple** (where it
/// stops), over events, REST and controls; `instrument` restricts it to one code (REST counts
/// as `num_instruments`). 0 if nothing qualifies.
pub fn min_time(spec: &VocabSpec, tokens: &[Triple], instrument: Option<u32>) -> i64 {
    let mut min: Option<i64> = None;
    for t in tokens {
        if spec.is_separator(t) {
            break;
        }
        if instrument.is_some() && instrument != spec.instrument_of(t) {
            continue;
        }
        let time = spec.time_of(t);
        min = Some(min.map_or(time, |m| m.min(time)));
    }
    min.unwrap_or(0)
}

/// `max_time` (SPEC §5): the largest time over all triples, **skipping separators and going
/// on after them**, starting from 0; REST and controls included.
pub fn max_time(spec: &VocabSpec, tokens: &[Triple], instrument: Option<u32>) -> i64 {
    let mut max = 0i64;
    for t in tokens {
        if spec.is_separator(t) {
            continue;
        }
        if instrument.is_some() && instrument != spec.instrument_of(t) {
            continue;
        }
        max = max.max(spec.time_of(t));
    }
    max
}

/// Triple counts per instrument code, in order of first appearance.
pub type InstrumentCounts = Vec<(u32, usize)>;

/// `get_instruments` (SPEC §5): triples per instrument. Specials are skipped; controls count
/// under their instrument; **REST counts as instrument `num_instruments`** (129 for `amt`).
pub fn get_instruments(spec: &VocabSpec, tokens: &[Triple]) -> InstrumentCounts {
    let mut counts: InstrumentCounts = Vec::new();
    // Direct-indexed slots keep this linear; the Vec keeps first-appearance order.
    let mut slot = vec![usize::MAX; spec.num_instruments() as usize + 1];
    for t in tokens {
        let Some(code) = spec.instrument_of(t) else {
            continue;
        };
        let i = (code as usize).min(slot.len() - 1);
        if slot[i] == usize::MAX {
            slot[i] = counts.len();
            counts.push((code, 0));
        }
        counts[slot[i]].1 += 1;
    }
    counts
}

/// `translate` (SPEC §5): adds `dt_ticks` to the time of every triple **before the first
/// SEPARATOR triple**; from the separator on, times are unchanged. Fails (the reference
/// asserts) if a shifted time would be negative.
pub fn translate(
    spec: &VocabSpec,
    tokens: &[Triple],
    dt_ticks: i64,
) -> Result<Vec<Triple>, OpsError> {
    let mut out = tokens.to_vec();
    translate_in_place(spec, &mut out, dt_ticks)?;
    Ok(out)
}

/// [`translate`] in place. On error the tokens are unchanged.
pub fn translate_in_place(
    spec: &VocabSpec,
    tokens: &mut [Triple],
    dt_ticks: i64,
) -> Result<(), OpsError> {
    let end = tokens
        .iter()
        .position(|t| spec.is_separator(t))
        .unwrap_or(tokens.len());
    for (index, t) in tokens[..end].iter().enumerate() {
        let time = spec.time_of(t);
        if time + dt_ticks < 0 {
            return Err(OpsError::NegativeTime {
                index,
                time_ticks: time,
                dt_ticks,
            });
        }
    }
    for t in &mut tokens[..end] {
        t.time.0 = (t.time.0 as i64 + dt_ticks) as u32;
    }
    Ok(())
}

/// `combine` (SPEC §5): `sort(events + controls moved back to the event block)`. The control
/// shift is subtracted from every token of `controls`, which must be control triples.
pub fn combine(spec: &VocabSpec, events: &[Triple], controls: &[Triple]) -> Vec<Triple> {
    let c = spec.control_offset();
    let mut all = events.to_vec();
    all.extend(controls.iter().map(|t| {
        Triple::from_raw(
            t.time.0.saturating_sub(c),
            t.duration.0.saturating_sub(c),
            t.note.0.saturating_sub(c),
        )
    }));
    all.sort_by_key(|t| t.time);
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::raw_to_triples;
    use crate::fixtures::{e, spec};

    #[test]
    fn clip_shortens_notes_that_cross_the_end() {
        let out = clip(&spec(), &e(), 0, 700, true);
        assert_eq!(out[3].duration.0, 10450);
        assert_eq!(out[4].duration.0, 10000);
        assert_eq!(out.len(), 5);
    }

    #[test]
    fn pad_puts_rests_one_density_after_previous_event() {
        let out = pad(&spec(), &e()[..3], None, 100).unwrap();
        let times: Vec<u32> = out.iter().map(|t| t.time.0).collect();
        assert_eq!(times, [0, 0, 100, 120]);
        assert_eq!(out[2].note.0, 27512);
    }

    #[test]
    fn pad_leaves_exact_density_gap_unpadded() {
        let t = raw_to_triples(&[0, 10000, 11060, 100, 10000, 11060]).unwrap();
        assert_eq!(pad(&spec(), &t, None, 100).unwrap().len(), 2);
    }

    #[test]
    fn pad_refuses_controls() {
        let c = [spec().to_control(e()[0])];
        assert!(matches!(
            pad(&spec(), &c, None, 100),
            Err(OpsError::NotAnEvent { .. })
        ));
    }

    #[test]
    fn min_time_stops_at_separator_but_max_time_does_not() {
        let s =
            raw_to_triples(&[300, 10010, 11060, 55025, 55025, 55025, 100, 10010, 11062]).unwrap();
        assert_eq!(min_time(&spec(), &s, None), 300);
        assert_eq!(max_time(&spec(), &s, None), 300);
        let t = translate(&spec(), &s, -300).unwrap();
        assert_eq!(t[0].time.0, 0);
        assert_eq!(t[2].time.0, 100);
    }

    #[test]
    fn translate_refuses_negative_times_and_leaves_input() {
        let mut s = e();
        assert!(translate_in_place(&spec(), &mut s, -1).is_err());
        assert_eq!(s, e());
    }

    #[test]
    fn get_instruments_counts_rest_as_129_in_first_appearance_order() {
        let mut t = e();
        t.push(spec().rest_triple(5));
        let counts = get_instruments(&spec(), &t);
        assert_eq!(counts, [(0, 4), (33, 1), (128, 1), (129, 1)]);
    }

    #[test]
    fn sort_is_stable_on_equal_times() {
        let mut rev = e();
        rev.reverse();
        let sorted = sort(&rev);
        assert_eq!(sorted[0].duration.0, 10100);
        assert_eq!(sorted[1].duration.0, 10050);
    }
}
