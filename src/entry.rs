//! Entries: what the log stores. An entry places one sealed statement in the log with its
//! sequence number, the ledger's clock (`recorded_at`) and the hash of the entry before it.
//! The canonical entry bytes are self-contained and at most 65,535 bytes, so that they can also be the
//! leaves of the log's Merkle tree; their BLAKE3 hash (derive-key mode) chains the log.
//!
//! This module owns those bytes and that hash (docs/FORMAT.md, "Entry"). It never touches
//! storage, the clock or the terminal, and never judges whether an entry is allowed.

use crate::codec::{DecodeError, Reader, Writer};
use crate::merkle::Hash;
use crate::statement::{
    batch_root, Seal, Statement, StatementRef, MAX_PAYLOAD_BYTES, MAX_PROOF_HASHES,
};
use crate::time::Timestamp;

pub const ENTRY_TAG: &[u8] = b"ledger/entry\0";
pub const ENTRY_VERSION: u8 = 1;
/// The BLAKE3 derive-key context of entry hashes.
pub const ENTRY_HASH_CONTEXT: &str = "ledger 2026-11-23 entry hash v1";
/// The most an entry may be: its length is framed as a `u16` in the log's files.
pub const MAX_ENTRY_BYTES: usize = u16::MAX as usize;
/// The `prev` of the entry at seq 0.
pub const ZERO_HASH: Hash = [0u8; 32];

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub seq: u64,
    pub recorded_at: Timestamp,
    pub prev: Hash,
    pub statement: Statement,
    /// The canonical bytes of `statement`, exactly as signed.
    pub statement_bytes: Vec<u8>,
    pub seal: Seal,
}

impl Entry {
    pub fn new(
        seq: u64,
        recorded_at: Timestamp,
        prev: Hash,
        statement: Statement,
        statement_bytes: Vec<u8>,
        seal: Seal,
    ) -> Entry {
        Entry {
            seq,
            recorded_at,
            prev,
            statement,
            statement_bytes,
            seal,
        }
    }

    /// The canonical entry bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(
            ENTRY_TAG.len() + 160 + self.statement_bytes.len() + 32 * self.seal.proof.len(),
        );
        w.raw(ENTRY_TAG);
        w.u8(ENTRY_VERSION);
        w.u64(self.seq);
        w.i64(self.recorded_at.0);
        w.raw(&self.prev);
        w.long_bytes(&self.statement_bytes);
        w.u64(self.seal.index);
        w.u64(self.seal.batch_size);
        w.u8(u8::try_from(self.seal.proof.len()).expect("proofs are at most 32 hashes"));
        for hash in &self.seal.proof {
            w.raw(hash);
        }
        w.raw(&self.seal.signature);
        debug_assert!(w.bytes.len() <= MAX_ENTRY_BYTES);
        w.bytes
    }

    pub fn decode(bytes: &[u8]) -> Result<Entry, DecodeError> {
        EntryRef::decode(bytes).map(|entry| entry.to_owned())
    }
}

/// An entry read in place from its canonical bytes, for readers of many entries (projections)
/// that copy only what they keep. It checks exactly what [`Entry::decode`] checks.
#[derive(Clone, Copy, Debug)]
pub struct EntryRef<'a> {
    pub seq: u64,
    pub recorded_at: Timestamp,
    pub prev: Hash,
    pub statement: StatementRef<'a>,
    pub statement_bytes: &'a [u8],
    seal_index: u64,
    seal_batch_size: u64,
    /// The inclusion proof's hashes, 32 bytes each.
    seal_proof: &'a [u8],
    seal_signature: [u8; 64],
}

impl<'a> EntryRef<'a> {
    pub fn decode(bytes: &'a [u8]) -> Result<EntryRef<'a>, DecodeError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(DecodeError::TooLong {
                field: "entry",
                len: bytes.len(),
                max: MAX_ENTRY_BYTES,
            });
        }
        let mut r = Reader::new(bytes);
        r.tag(ENTRY_TAG, "entry")?;
        r.version(ENTRY_VERSION)?;
        let seq = r.u64("seq")?;
        let recorded_at = Timestamp(r.i64("recorded_at")?);
        let prev = r.array("prev")?;
        let statement_bytes = r.long_bytes("statement", MAX_PAYLOAD_BYTES + 1024)?;
        let statement =
            StatementRef::decode(statement_bytes).map_err(|e| DecodeError::Invalid {
                field: "statement",
                reason: e.to_string(),
            })?;
        let seal_index = r.u64("seal index")?;
        let seal_batch_size = r.u64("seal batch size")?;
        let proof_len = r.u8("seal proof length")? as usize;
        if proof_len > MAX_PROOF_HASHES {
            return Err(DecodeError::TooLong {
                field: "seal proof",
                len: proof_len,
                max: MAX_PROOF_HASHES,
            });
        }
        let seal_proof = r.take(32 * proof_len, "seal proof")?;
        let seal_signature = r.array("seal signature")?;
        r.finish()?;
        Ok(EntryRef {
            seq,
            recorded_at,
            prev,
            statement,
            statement_bytes,
            seal_index,
            seal_batch_size,
            seal_proof,
            seal_signature,
        })
    }

    pub fn seal_batch_size(&self) -> u64 {
        self.seal_batch_size
    }

    pub fn seal_signature(&self) -> [u8; 64] {
        self.seal_signature
    }

    pub fn seal_index(&self) -> u64 {
        self.seal_index
    }

    /// The seal's inclusion proof.
    pub fn seal_proof(&self) -> &'a [Hash] {
        // Decoding took whole 32-byte hashes, so nothing is left over.
        self.seal_proof.as_chunks::<32>().0
    }

    /// The batch tree head the seal claims, as [`Seal::root`] recomputes it.
    pub fn batch_root(&self) -> Option<Hash> {
        batch_root(
            self.statement_bytes,
            self.seal_index,
            self.seal_batch_size,
            self.seal_proof(),
        )
    }

    pub fn to_owned(&self) -> Entry {
        let proof = self
            .seal_proof
            .chunks_exact(32)
            .map(|hash| hash.try_into().expect("32-byte chunks"))
            .collect();
        Entry {
            seq: self.seq,
            recorded_at: self.recorded_at,
            prev: self.prev,
            statement: self.statement.to_owned(),
            statement_bytes: self.statement_bytes.to_vec(),
            seal: Seal {
                index: self.seal_index,
                batch_size: self.seal_batch_size,
                proof,
                signature: self.seal_signature,
            },
        }
    }
}

/// The hash that chains the log: BLAKE3 in derive-key mode over the canonical entry bytes.
pub fn entry_hash(entry_bytes: &[u8]) -> Hash {
    // Deriving the key from the context string is a compression of its own; done once, the
    // hasher is copied for each entry (an entry of 600 bytes is ten compressions, so this
    // spares a tenth of the chain's hashing).
    static KEYED: std::sync::OnceLock<blake3::Hasher> = std::sync::OnceLock::new();
    let mut hasher = KEYED
        .get_or_init(|| blake3::Hasher::new_derive_key(ENTRY_HASH_CONTEXT))
        .clone();
    hasher.update(entry_bytes);
    *hasher.finalize().as_bytes()
}
