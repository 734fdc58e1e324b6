//! The transparency formats of C2SP that the ledger speaks: signed notes and verifier keys
//! ([`signed`], [`vkey`]), checkpoints ([`checkpoint`]), witness cosignatures with their
//! timestamps ([`cosignature`]), trust policies with k-of-n witness quorums ([`policy`]), one
//! entry's offline receipt ([`receipt`], its path in the tree's proof text) and a witness's
//! record of what it cosigned ([`witness`]). docs/FORMAT.md describes them as this
//! ledger uses them.
//!
//! It reads, writes, signs and checks texts; it never computes a Merkle tree (the log's tree does,
//! and hands its root and proofs in) and never touches a ledger directory.

pub mod checkpoint;
pub mod cosignature;
pub mod policy;
pub mod receipt;
pub mod signed;
pub mod vkey;
pub mod witness;
