//! Anticipation (SPEC §6): interleaving controls into events, and choosing which events become
//! controls for training (by instrument, at random, in spans).
//!
//! Pure functions of their inputs and, for the random choices, of a caller-owned
//! [`SplitMix64`].

use super::events::Triple;
use super::ops::OpsError;
use super::rng::SplitMix64;
use super::vocab::VocabSpec;

/// The result of [`anticipate`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Anticipated {
    /// Events with the consumed controls interleaved.
    pub interleaved: Vec<Triple>,
    /// Controls that no later event made room for, in order (not appended, SPEC §6.1).
    pub unconsumed: Vec<Triple>,
}

/// `anticipate` (SPEC §6.1): places each control `c` right after the first event whose time is
/// ≥ `c − delta` (or first of all if `c ≤ delta`), provided another event follows.
///
/// `events` must be events (REST included) sorted by time; `controls` control triples sorted
/// by time. With no controls the events come back unchanged.
pub fn anticipate(
    spec: &VocabSpec,
    events: &[Triple],
    controls: &[Triple],
    delta_ticks: i64,
) -> Result<Anticipated, OpsError> {
    let mut out = Anticipated::default();
    anticipate_into(spec, events, controls, delta_ticks, &mut out.interleaved)
        .map(|consumed| out.unconsumed = controls[consumed..].to_vec())?;
    Ok(out)
}

/// [`anticipate`] appending the interleaved triples to `out`; returns how many controls were
/// consumed (the rest, `controls[consumed..]`, are the unconsumed ones).
pub fn anticipate_into(
    spec: &VocabSpec,
    events: &[Triple],
    controls: &[Triple],
    delta_ticks: i64,
    out: &mut Vec<Triple>,
) -> Result<usize, OpsError> {
    out.reserve(events.len() + controls.len());
    if controls.is_empty() {
        out.extend_from_slice(events);
        return Ok(0);
    }
    let mut next = 0usize;
    let mut event_time = 0i64;
    for (index, e) in events.iter().enumerate() {
        // Reference loop: before each event, emit every pending control with
        // prev_event_time ≥ control_time − delta.
        while next < controls.len() && event_time >= spec.time_of(&controls[next]) - delta_ticks {
            out.push(controls[next]);
            next += 1;
        }
        if e.note.0 >= spec.control_offset() {
            return Err(OpsError::NotAnEvent {
                index,
                op: "anticipate",
            });
        }
        event_time = spec.time_of(e);
        out.push(*e);
    }
    Ok(next)
}

/// Events split into those kept and those turned into controls.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Extracted {
    /// Events that stay events, in order.
    pub events: Vec<Triple>,
    /// Events turned into controls (all three tokens shifted), in order.
    pub controls: Vec<Triple>,
}

fn check_plain_event(
    spec: &VocabSpec,
    t: &Triple,
    index: usize,
    op: &'static str,
) -> Result<(), OpsError> {
    if t.note.0 >= spec.control_offset() || spec.is_rest(t) {
        Err(OpsError::NotAnEvent { index, op })
    } else {
        Ok(())
    }
}

fn extract_by(
    spec: &VocabSpec,
    events: &[Triple],
    op: &'static str,
    mut to_control: impl FnMut(&Triple) -> bool,
) -> Result<Extracted, OpsError> {
    let mut out = Extracted::default();
    for (index, t) in events.iter().enumerate() {
        check_plain_event(spec, t, index, op)?;
        if to_control(t) {
            out.controls.push(spec.to_control(*t));
        } else {
            out.events.push(*t);
        }
    }
    Ok(out)
}

/// `extract_instruments` (SPEC §6.2): every event of an instrument in `instruments` becomes a
/// control. Input: plain events (no REST, no controls).
pub fn extract_instruments(
    spec: &VocabSpec,
    events: &[Triple],
    instruments: &[u32],
) -> Result<Extracted, OpsError> {
    extract_by(spec, events, "extract_instruments", |t| {
        spec.instrument_of(t)
            .is_some_and(|i| instruments.contains(&i))
    })
}

/// The accompaniment task's split: event `i` becomes a control where `to_control[i]` holds
/// (e.g. the notes of the melody track). Input: plain events, `to_control` of the same length.
pub fn extract_mask(
    spec: &VocabSpec,
    events: &[Triple],
    to_control: &[bool],
) -> Result<Extracted, OpsError> {
    debug_assert_eq!(events.len(), to_control.len());
    let mut i = 0;
    extract_by(spec, events, "extract_mask", |_| {
        i += 1;
        to_control.get(i - 1).copied().unwrap_or(false)
    })
}

/// `extract_random` (SPEC §6.2): each event independently becomes a control with probability
/// `rate_tenths / 10`.
pub fn extract_random(
    spec: &VocabSpec,
    events: &[Triple],
    rate_tenths: u32,
    rng: &mut SplitMix64,
) -> Result<Extracted, OpsError> {
    let p = rate_tenths as f64 / 10.0;
    extract_by(spec, events, "extract_random", |_| rng.next_f64() < p)
}

/// `extract_spans` (SPEC §6.2): alternates plain and anticipated spans. A span starts at the
/// first event at or after `next_span` and lasts `span_ticks`; when it ends, the next start is
/// `time + ⌊Exponential(mean_gap_ticks)⌋`. The initial state is "in a span ending at 0".
pub fn extract_spans(
    spec: &VocabSpec,
    events: &[Triple],
    mean_gap_ticks: f64,
    span_ticks: i64,
    rng: &mut SplitMix64,
) -> Result<Extracted, OpsError> {
    let mut in_span = true;
    let mut end_span = 0i64;
    let mut next_span = 0i64;
    extract_by(spec, events, "extract_spans", |t| {
        let time = spec.time_of(t);
        if in_span && time >= end_span {
            in_span = false;
            next_span = time + rng.exponential(mean_gap_ticks) as i64;
        }
        if !in_span && time >= next_span {
            in_span = true;
            end_span = time + span_ticks;
        }
        in_span
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::raw_to_triples;
    use crate::fixtures::{e, spec};

    fn c() -> Vec<Triple> {
        raw_to_triples(&[
            27563, 37553, 43709, 28113, 37553, 43710, 28163, 37553, 43712, 30113, 37523, 43714,
        ])
        .unwrap()
    }

    #[test]
    fn places_control_after_first_event_within_delta() {
        let a = anticipate(&spec(), &e(), &c(), 500).unwrap();
        let times: Vec<u32> = a.interleaved.iter().map(|t| t.time.0).collect();
        assert_eq!(times, [27563, 0, 0, 120, 28113, 250, 28163, 700, 1900]);
        assert_eq!(a.unconsumed, &c()[3..]);
    }

    #[test]
    fn returns_every_control_when_there_are_no_events() {
        let a = anticipate(&spec(), &[], &c(), 500).unwrap();
        assert!(a.interleaved.is_empty());
        assert_eq!(a.unconsumed, c());
    }

    #[test]
    fn leaves_events_unchanged_without_controls() {
        let a = anticipate(&spec(), &e(), &[], 500).unwrap();
        assert_eq!(a.interleaved, e());
    }

    #[test]
    fn extracts_instrument_as_controls() {
        let x = extract_instruments(&spec(), &e(), &[0]).unwrap();
        assert_eq!(x.events.len(), 2);
        assert_eq!(x.controls[0], Triple::from_raw(27513, 37563, 38573));
    }

    #[test]
    fn random_extraction_at_rate_zero_and_ten() {
        let mut g = SplitMix64::new(0);
        assert!(extract_random(&spec(), &e(), 0, &mut g)
            .unwrap()
            .controls
            .is_empty());
        assert!(extract_random(&spec(), &e(), 10, &mut g)
            .unwrap()
            .events
            .is_empty());
    }

    #[test]
    fn spans_start_anticipated_at_time_zero() {
        let mut g = SplitMix64::new(0);
        let x = extract_spans(&spec(), &e(), 2000.0, 500, &mut g).unwrap();
        // Events at time 0 end the initial span (it ends at 0) unless the gap draws 0.
        assert_eq!(x.events.len() + x.controls.len(), e().len());
    }

    #[test]
    fn extraction_refuses_rest() {
        let r = [spec().rest_triple(0)];
        assert!(extract_instruments(&spec(), &r, &[0]).is_err());
    }
}
