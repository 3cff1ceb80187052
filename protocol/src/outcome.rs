//! How a sent message ended on its source: the one byte stored at
//! `outcomes/{destination}/{sequence}` ([`paths::outcome`]) when its commitment is deleted,
//! which relayers prove to settle a message they did not see settle, and which a destination
//! proves to move an ordered lane past a message the source timed out (PROTOCOL.md §6.1).

use serde::{Deserialize, Serialize};
#[cfg(doc)]
use xrelay_light_client::paths;

/// How a sent message ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// Acknowledged, the app accepted it.
    Acknowledged = 1,
    /// Acknowledged with an error; the sender was refunded.
    Refused = 2,
    /// Timed out; the sender was refunded.
    TimedOut = 3,
}

impl Outcome {
    /// From the stored byte; `None` for anything else.
    pub fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Outcome::Acknowledged),
            2 => Some(Outcome::Refused),
            3 => Some(Outcome::TimedOut),
            _ => None,
        }
    }

    /// The stored byte.
    pub const fn byte(self) -> u8 {
        self as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_stored_byte_reads_back_and_nothing_else_reads() {
        for o in [Outcome::Acknowledged, Outcome::Refused, Outcome::TimedOut] {
            assert_eq!(Outcome::from_byte(o.byte()), Some(o));
        }
        for b in (0..=255u8).filter(|b| !(1..=3).contains(b)) {
            assert_eq!(Outcome::from_byte(b), None, "byte {b}");
        }
    }
}
