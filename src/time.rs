//! Timestamps as they appear in statements and entries: signed microseconds since the Unix
//! epoch, UTC. Owns reading the clock and the RFC 3339 text form; never decides ordering rules
//! (the ledger keeps `recorded_at` from decreasing).

use chrono::{DateTime, SecondsFormat, Utc};

/// Microseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    pub fn now() -> Timestamp {
        Timestamp(Utc::now().timestamp_micros())
    }

    /// The start of a whole second since the epoch, as a cosignature states its time; past
    /// what microseconds in 64 bits reach (the year 294,247), the last instant they do.
    pub fn from_seconds(seconds: u64) -> Timestamp {
        let micros = i64::try_from(seconds).map_or(i64::MAX, |s| s.saturating_mul(1_000_000));
        Timestamp(micros)
    }

    /// RFC 3339 in UTC with microseconds, e.g. `2023-06-30T12:00:00.000000Z`.
    pub fn to_rfc3339(self) -> String {
        match DateTime::<Utc>::from_timestamp_micros(self.0) {
            Some(t) => t.to_rfc3339_opts(SecondsFormat::Micros, true),
            None => format!("{}us", self.0),
        }
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}
