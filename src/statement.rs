//! Statements: what an author signs, independent of where it lands in the log (event type,
//! schema version, author key, the author's claimed time and the exact payload bytes), and the
//! seal that signs a batch of them at once.
//!
//! A seal is one Ed25519 signature over the RFC 6962 tree head of a batch of statements; each
//! statement keeps its inclusion proof, so every statement stays verifiable on its own while an
//! author signs once per batch instead of once per statement (docs/FORMAT.md). This module owns
//! those bytes; it never touches storage, the clock or the terminal.

use crate::codec::{DecodeError, Reader, Writer};
use crate::keys::{PublicKey, SecretKey};
use crate::merkle::{self, Hash};
use crate::time::Timestamp;
use rayon::prelude::*;

pub const STATEMENT_TAG: &[u8] = b"ledger/statement\0";
pub const STATEMENT_VERSION: u8 = 1;
pub const SEAL_TAG: &[u8] = b"ledger/seal\0";
pub const SEAL_VERSION: u8 = 1;
/// The largest payload, chosen so that a whole entry stays within 64 KiB (docs/FORMAT.md).
pub const MAX_PAYLOAD_BYTES: usize = 60 * 1024;
pub const MAX_EVENT_TYPE_BYTES: usize = 64;
/// Statements sealed under one signature; proofs then hold at most 8 hashes.
pub const MAX_SEAL_BATCH: usize = 256;
/// The longest inclusion proof a decoder accepts (a tree of 2^32 statements).
pub const MAX_PROOF_HASHES: usize = 32;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement {
    pub event_type: String,
    pub schema_version: u16,
    pub author: PublicKey,
    pub claimed_at: Timestamp,
    /// The exact JSON bytes that were validated and signed.
    pub payload: Vec<u8>,
}

impl Statement {
    /// The canonical statement bytes. Callers keep event type and payload within their limits.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(
            STATEMENT_TAG.len() + 64 + self.event_type.len() + self.payload.len(),
        );
        w.raw(STATEMENT_TAG);
        w.u8(STATEMENT_VERSION);
        w.short_bytes(self.event_type.as_bytes());
        w.u16(self.schema_version);
        w.raw(&self.author.0);
        w.i64(self.claimed_at.0);
        w.long_bytes(&self.payload);
        w.bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<Statement, DecodeError> {
        StatementRef::decode(bytes).map(|statement| statement.to_owned())
    }
}

/// A statement read in place from its canonical bytes, for readers of many entries that copy
/// only what they keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatementRef<'a> {
    pub event_type: &'a str,
    pub schema_version: u16,
    pub author: PublicKey,
    pub claimed_at: Timestamp,
    pub payload: &'a [u8],
}

impl<'a> StatementRef<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<StatementRef<'a>, DecodeError> {
        let mut r = Reader::new(bytes);
        r.tag(STATEMENT_TAG, "statement")?;
        r.version(STATEMENT_VERSION)?;
        let event_type = r.short_bytes("event type", MAX_EVENT_TYPE_BYTES)?;
        let event_type = std::str::from_utf8(event_type).map_err(|_| DecodeError::Invalid {
            field: "event type",
            reason: "not UTF-8".into(),
        })?;
        let schema_version = r.u16("schema version")?;
        let author = PublicKey(r.array("author key")?);
        let claimed_at = Timestamp(r.i64("claimed time")?);
        let payload = r.long_bytes("payload", MAX_PAYLOAD_BYTES)?;
        r.finish()?;
        Ok(StatementRef {
            event_type,
            schema_version,
            author,
            claimed_at,
            payload,
        })
    }

    pub fn to_owned(&self) -> Statement {
        Statement {
            event_type: self.event_type.to_string(),
            schema_version: self.schema_version,
            author: self.author,
            claimed_at: self.claimed_at,
            payload: self.payload.to_vec(),
        }
    }
}

/// A statement's place under a batch signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Seal {
    pub index: u64,
    pub batch_size: u64,
    /// RFC 6962 inclusion proof of the statement's leaf in the batch tree.
    pub proof: Vec<Hash>,
    pub signature: [u8; 64],
}

/// The bytes an author's key signs for a batch: tag, version, batch size and tree head.
pub fn seal_message(batch_size: u64, root: &Hash) -> Vec<u8> {
    let mut w = Writer::with_capacity(SEAL_TAG.len() + 1 + 8 + 32);
    w.raw(SEAL_TAG);
    w.u8(SEAL_VERSION);
    w.u64(batch_size);
    w.raw(root);
    w.bytes
}

impl Seal {
    /// The batch tree head this seal claims, recomputed from the statement's own bytes.
    pub fn root(&self, statement_bytes: &[u8]) -> Option<Hash> {
        batch_root(statement_bytes, self.index, self.batch_size, &self.proof)
    }

    /// Whether `author` signed a batch containing exactly these statement bytes at this place.
    pub fn verifies(&self, statement_bytes: &[u8], author: &PublicKey) -> bool {
        self.root(statement_bytes).is_some_and(|root| {
            author.verify(&seal_message(self.batch_size, &root), &self.signature)
        })
    }
}

/// The batch tree head that a seal at `index` of `batch_size` with this inclusion proof claims
/// for these statement bytes; `None` when the proof does not fit the index and size.
pub fn batch_root(
    statement_bytes: &[u8],
    index: u64,
    batch_size: u64,
    proof: &[Hash],
) -> Option<Hash> {
    merkle::root_from_inclusion_proof(
        &merkle::leaf_hash(statement_bytes),
        index,
        batch_size,
        proof,
    )
}

/// Seals encoded statements in batches of at most [`MAX_SEAL_BATCH`], signing the batches on
/// all cores. Returns one seal per statement, in order.
pub fn seal_all(key: &SecretKey, encoded: &[Vec<u8>]) -> Vec<Seal> {
    encoded
        .par_chunks(MAX_SEAL_BATCH)
        .flat_map_iter(|batch| {
            let leaves: Vec<Hash> = batch.iter().map(|s| merkle::leaf_hash(s)).collect();
            let (root, proofs) = merkle::root_and_proofs(&leaves);
            let signature = key.sign(&seal_message(batch.len() as u64, &root));
            let batch_size = batch.len() as u64;
            proofs
                .into_iter()
                .enumerate()
                .map(move |(index, proof)| Seal {
                    index: index as u64,
                    batch_size,
                    proof,
                    signature,
                })
        })
        .collect()
}
