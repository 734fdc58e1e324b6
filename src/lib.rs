//! `ledger`: a signed, append-only, hash-chained incident ledger.
//!
//! Data flows one way (README.md, "Code map"): input JSON is validated against its schema
//! ([`schema`]), read as its typed [`payload`] by the [`rules`], wrapped in a signed
//! [`statement`], sequenced and chained into an [`entry`] by the [`ledger`] façade, and committed to the
//! [`log`]'s files (behind the narrow [`log::LogFiles`] trait) with the derived [`state`] beside
//! it; dataset releases come
//! in through [`import`], which appends through the same façade. Everything else reads entries:
//! [`verify`] audits them from their stored bytes and trusts nothing derived, [`projection`]
//! folds them into views, and [`export`] writes those views out. [`note`] speaks the C2SP
//! transparency formats (checkpoints, witness cosignatures, policies, receipts) to auditors and
//! witnesses.
//!
//! The library never touches a terminal; `src/main.rs` is a thin CLI over it.

pub mod audit;
pub mod backup;
pub mod checkpoints;
mod codec;
pub mod date;
pub mod demo;
pub mod entry;
pub mod event;
pub mod evidence;
pub mod export;
pub mod import;
pub mod incident_changes;
pub mod input;
pub mod inside;
pub mod keys;
pub mod ledger;
pub mod legacy;
pub mod lines;
pub mod lock;
pub mod log;
pub mod merkle;
pub mod note;
pub mod payload;
pub mod projection;
pub mod publish;
pub mod regular;
pub mod remote;
pub mod rules;
pub mod schema;
pub mod state;
pub mod statement;
pub mod taxonomy;
pub mod time;
pub mod tree;
pub mod verify;
pub mod witnessed;

pub use crate::codec::DecodeError;
pub use crate::ledger::Ledger;
