//! [`Reread`]: facts read again by seq while a view makes its rows, for a view that keeps where
//! its facts are rather than their text (`incidents` keeps each incident's statements by seq,
//! so that its state does not grow with the text of every report).
//!
//! A read that fails ends the view's rows and is kept, and [`super::Output::with_rows`] returns
//! it: rows cut short by a log that changed or became unreadable since the fold are never taken
//! for the whole view.

use super::{Fact, ProjectionError};
use crate::ledger::LedgerError;
use crate::log::LogFiles;
use crate::Ledger;
use std::cell::RefCell;

pub struct Reread<'a> {
    read: Box<dyn Fn(u64) -> Result<Fact, ProjectionError> + 'a>,
    failed: RefCell<Option<ProjectionError>>,
}

impl<'a> Reread<'a> {
    /// Reads `ledger`'s entries up to its head as it is now.
    pub(super) fn of<F: LogFiles>(ledger: &'a Ledger<F>) -> Reread<'a> {
        let lookup = ledger.log().lookup();
        let read = move |seq| {
            let bytes = lookup
                .entry(seq)?
                .ok_or_else(|| ProjectionError::missing(seq))?;
            let fact = Fact::from_entry(bytes).map_err(|problem| LedgerError::DamagedEntry {
                seq,
                problem: Box::new(problem),
            })?;
            if fact.seq != seq {
                return Err(LedgerError::Damaged {
                    seq,
                    reason: format!("the entry stored there says it is seq {}", fact.seq),
                }
                .into());
            }
            Ok(fact)
        };
        Reread {
            read: Box::new(read),
            failed: RefCell::default(),
        }
    }

    /// The fact at `seq`; `None` once a read has failed, which is kept for
    /// [`Reread::take_failure`].
    pub fn fact(&self, seq: u64) -> Option<Fact> {
        if self.failed.borrow().is_some() {
            return None;
        }
        match (self.read)(seq) {
            Ok(fact) => Some(fact),
            Err(failure) => {
                *self.failed.borrow_mut() = Some(failure);
                None
            }
        }
    }

    pub(super) fn take_failure(&self) -> Option<ProjectionError> {
        self.failed.borrow_mut().take()
    }
}
