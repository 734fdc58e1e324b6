//! The event-time filter: a [`Window`] of dates that a view's rows must fall in (an event,
//! effective or adoption date, as each view says). Knowledge time, what the ledger had recorded
//! by when, is [`super::AsOf`]'s.

use super::ProjectionError;
use crate::date::iso_date;
use chrono::NaiveDate;

/// An event-time range, both ends inclusive, on ISO 8601 dates; open at an end that is `None`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
}

impl Window {
    pub fn is_open(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// A window that starts after it ends holds no date: asking for it is a mistake (the ends
    /// swapped, a typo), which an empty view would hide.
    pub fn check(&self) -> Result<(), ProjectionError> {
        match (self.from, self.to) {
            (Some(from), Some(to)) if from > to => Err(ProjectionError::EmptyWindow { from, to }),
            _ => Ok(()),
        }
    }

    /// Whether an event date (YYYY-MM-DD) falls in the window; a date that does not parse
    /// (the schemas rule that out) falls outside any bounded window.
    pub fn contains(&self, date: &str) -> bool {
        if self.is_open() {
            return true;
        }
        iso_date(date).is_some_and(|date| self.contains_date(date))
    }

    pub fn contains_date(&self, date: NaiveDate) -> bool {
        self.from.is_none_or(|from| date >= from) && self.to.is_none_or(|to| date <= to)
    }
}
