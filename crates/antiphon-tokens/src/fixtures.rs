//! Test fixtures shared by the `ops` and `anticipation` tests, which check the same reference
//! sequence.

use crate::events::raw_to_triples;
use crate::{Triple, VocabSpec};

pub(crate) fn spec() -> VocabSpec {
    VocabSpec::amt()
}

/// Six events in AMT ids: two notes at time 0, then 120, 250, 700 (a drum) and 1900.
pub(crate) fn e() -> Vec<Triple> {
    raw_to_triples(&[
        0, 10050, 11060, 0, 10100, 11064, 120, 10030, 15264, 250, 10999, 11067, 700, 10020, 27420,
        1900, 10010, 11072,
    ])
    .unwrap()
}
