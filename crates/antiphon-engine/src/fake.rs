//! Worker thread and tests: the deterministic fake model of the AMT conformance fixtures
//! (`conformance/sampling/README`), so the sampling driver can be checked token for token
//! without a network.
//!
//! Its logits peak at a target id computed from a hash of the whole input, and fall off
//! linearly around it, so greedy selection picks the allowed id nearest the target.

use super::model::{LanguageModel, ModelError};

/// Hash modulus of the fixtures' fake model.
const HASH_MODULUS: u64 = 1_000_003;
/// Steps added to the last event's time, by hash mod 7.
const TIME_STEPS: [u32; 7] = [0, 0, 5, 10, 15, 25, 40];
/// Durations, by hash mod 6.
const DURATIONS: [u32; 6] = [0, 10, 25, 50, 100, 999];
/// Instruments, by hash mod 7.
const INSTRUMENTS: [u32; 7] = [0, 0, 0, 33, 128, 40, 73];

/// One evaluation, as the fixtures' `trace` records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeCall {
    /// Length of the whole input.
    pub input_len: usize,
    /// The whole input (task flag first).
    pub input: Vec<u32>,
    /// The id the logits peak at.
    pub target: u32,
}

/// The fixtures' fake model over the AMT vocabulary layout (ids as in SPEC §2).
#[derive(Debug, Clone)]
pub struct FakeModel {
    vocab_size: usize,
    context_length: usize,
    /// Everything fed since the last reset.
    history: Vec<u32>,
    logits: Vec<f32>,
    /// Every evaluation so far.
    pub calls: Vec<FakeCall>,
}

impl FakeModel {
    /// A fake model with the AMT vocabulary (55028 ids) and a context that never fills.
    pub fn amt() -> Self {
        Self {
            vocab_size: 55_028,
            context_length: usize::MAX,
            history: Vec::new(),
            logits: vec![0.0; 55_028],
            calls: Vec::new(),
        }
    }

    fn target(x: &[u32]) -> u32 {
        let len = x.len();
        let h = x.iter().enumerate().fold(0u64, |h, (j, &id)| {
            (h + (j as u64 + 1) * id as u64) % HASH_MODULUS
        });
        match (len - 1) % 3 {
            0 => {
                // The time of the last complete triple whose note is an event or REST.
                let last = (0..)
                    .map(|k| 3 + 3 * k)
                    .take_while(|&end| end < len)
                    .filter(|&end| x[end] < 27_513)
                    .last()
                    .map(|end| x[end - 2])
                    .unwrap_or(0);
                last + TIME_STEPS[(h % 7) as usize]
            }
            1 => 10_000 + DURATIONS[(h % 6) as usize],
            _ if h % 11 == 0 => 27_512,
            _ => 11_000 + 128 * INSTRUMENTS[(h % 7) as usize] + 36 + ((h / 7) % 48) as u32,
        }
    }
}

impl LanguageModel for FakeModel {
    fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    fn context_length(&self) -> usize {
        self.context_length
    }

    fn cached(&self) -> &[u32] {
        &self.history
    }

    fn truncate(&mut self, len: usize) {
        self.history.truncate(len);
    }

    fn feed(&mut self, tokens: &[u32]) -> Result<&[f32], ModelError> {
        self.history.extend_from_slice(tokens);
        let target = Self::target(&self.history);
        for (v, logit) in self.logits.iter_mut().enumerate() {
            let v = v as i64;
            let t = target as i64;
            *logit = -((2 * (v - t).abs() + i64::from(v > t)) as f32);
        }
        self.calls.push(FakeCall {
            input_len: self.history.len(),
            input: self.history.clone(),
            target,
        });
        Ok(&self.logits)
    }
}
