//! Knowledge time: [`AsOf`] cuts the log at a seq or at an instant of ledger time, so that a view
//! shows what the ledger had recorded by then. What the facts themselves are dated (event time)
//! is [`super::Window`]'s.

use super::ProjectionError;
use crate::date::iso_date;
use crate::ledger::Head;
use crate::log::LogFiles;
use crate::time::Timestamp;
use crate::Ledger;
use chrono::{DateTime, NaiveTime};

/// Knowledge time: only entries recorded up to this seq, or up to this ledger time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AsOf {
    Seq(u64),
    /// The last instant included.
    Time(Timestamp),
}

/// Text that names no knowledge time.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AsOfError {
    #[error("seq {text} is too large")]
    SeqTooLarge { text: String },
    #[error("\"{text}\" is neither a seq (a number), a date (YYYY-MM-DD) nor an RFC 3339 date-time (e.g. 2023-06-01T12:00:00Z)")]
    Unreadable { text: String },
}

const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

impl std::str::FromStr for AsOf {
    type Err = AsOfError;

    /// A seq (digits), an ISO 8601 date (the whole UTC day is included), or an RFC 3339
    /// date-time.
    fn from_str(text: &str) -> Result<AsOf, AsOfError> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text
                .parse()
                .map(AsOf::Seq)
                .map_err(|_| AsOfError::SeqTooLarge {
                    text: text.to_string(),
                });
        }
        if let Some(date) = iso_date(text) {
            let midnight = date.and_time(NaiveTime::MIN).and_utc().timestamp_micros();
            return Ok(AsOf::Time(Timestamp(midnight + MICROS_PER_DAY - 1)));
        }
        DateTime::parse_from_rfc3339(text)
            .map(|t| AsOf::Time(Timestamp(t.timestamp_micros())))
            .map_err(|_| AsOfError::Unreadable {
                text: text.to_string(),
            })
    }
}

impl AsOf {
    /// The last seq this cut keeps of a log that ends at `head`; `None` when it keeps nothing
    /// (an instant before the first entry was recorded: [`AsOf::nothing_recorded`] says so). A
    /// seq past the head is refused: the ledger has never been in the state it asks for.
    pub(super) fn last_seq<F: LogFiles>(
        self,
        ledger: &Ledger<F>,
        head: &Head,
    ) -> Result<Option<u64>, ProjectionError> {
        let time = match self {
            AsOf::Seq(seq) if seq > head.seq => {
                return Err(ProjectionError::PastHead {
                    seq,
                    head: head.seq,
                })
            }
            AsOf::Seq(seq) => return Ok(Some(seq)),
            AsOf::Time(time) => time,
        };
        if recorded_at(ledger, 0)? > time {
            return Ok(None);
        }
        // recorded_at never decreases along the log. Invariant: recorded_at(low) <= time;
        // everything after high is later than time.
        let (mut low, mut high) = (0, head.seq);
        while low < high {
            let mid = low + (high - low).div_ceil(2);
            if recorded_at(ledger, mid)? <= time {
                low = mid;
            } else {
                high = mid - 1;
            }
        }
        Ok(Some(low))
    }

    /// Why this cut keeps nothing of `ledger`, if that is so: it is an instant before the first
    /// entry was recorded. An empty view is the right answer to it, but not a self-explaining one.
    pub fn nothing_recorded<F: LogFiles>(
        self,
        ledger: &Ledger<F>,
    ) -> Result<Option<NothingRecorded>, ProjectionError> {
        let AsOf::Time(as_of) = self else {
            return Ok(None);
        };
        if ledger.head().is_none() {
            return Ok(None);
        }
        let first = recorded_at(ledger, 0)?;
        Ok((first > as_of).then_some(NothingRecorded { as_of, first }))
    }
}

/// A knowledge time before the ledger's first entry, at which it had recorded nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NothingRecorded {
    pub as_of: Timestamp,
    pub first: Timestamp,
}

impl std::fmt::Display for NothingRecorded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "nothing had been recorded by {}: the ledger's first entry was recorded at {}, so the view is empty",
            self.as_of, self.first
        )
    }
}

/// When the entry at `seq` was recorded.
fn recorded_at<F: LogFiles>(ledger: &Ledger<F>, seq: u64) -> Result<Timestamp, ProjectionError> {
    let (entry, _) = ledger
        .entry(seq)?
        .ok_or_else(|| ProjectionError::missing(seq))?;
    Ok(entry.recorded_at)
}

#[cfg(test)]
mod tests {
    use super::{AsOf, AsOfError};
    use crate::time::Timestamp;

    #[test]
    fn a_date_includes_its_whole_utc_day() {
        let end: AsOf = "2023-06-01".parse().unwrap();
        let next: AsOf = "2023-06-02T00:00:00Z".parse().unwrap();
        match (end, next) {
            (AsOf::Time(Timestamp(end)), AsOf::Time(Timestamp(next))) => {
                assert_eq!(end, next - 1);
            }
            other => panic!("two times expected, got {other:?}"),
        }
    }

    #[test]
    fn digits_are_a_seq_and_other_text_is_refused() {
        assert_eq!("42".parse::<AsOf>(), Ok(AsOf::Seq(42)));
        assert!(matches!(
            "99999999999999999999".parse::<AsOf>(),
            Err(AsOfError::SeqTooLarge { .. })
        ));
        assert!(matches!(
            "2023-13-01".parse::<AsOf>(),
            Err(AsOfError::Unreadable { .. })
        ));
    }
}
