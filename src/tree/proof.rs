//! A Merkle proof as a list of hashes; its text form (one standard base64 hash per line, each
//! line ended by a newline); and the pure verification of an inclusion proof and of a
//! consistency proof as RFC 9162 sections 2.1.3.2 and 2.1.4.2 give them, from sizes, roots and
//! hashes alone.
//!
//! It never reads a ledger or a file: whoever holds a proof, an entry's leaf hash and the tree
//! heads can check it with nothing else.

use crate::merkle::{self, node_hash, Hash};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// The hashes of an inclusion or consistency proof, in the order RFC 9162 lists them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Proof(pub Vec<Hash>);

/// No proof in a tree of at most 2^64 leaves is longer (the C2SP witness protocol's bound too).
pub const MAX_HASHES: usize = 63;

/// Why a proof's text does not parse.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofTextError {
    #[error("line {line} is not a base64 SHA-256 hash (44 characters of standard base64)")]
    NotAHash { line: usize },
    #[error("the proof does not end with a newline")]
    NoFinalNewline,
    #[error("the proof has more than {MAX_HASHES} hashes")]
    TooMany,
}

/// Why a proof does not prove what it is offered for.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    #[error("index {index} is not in a tree of size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("a consistency proof needs 0 < old size <= new size, not {old} and {new}")]
    SizesOutOfOrder { old: u64, new: u64 },
    #[error("the proof has {got} hashes, which does not fit {what}")]
    WrongLength { got: usize, what: String },
    #[error("the proof does not lead to the tree head it is checked against")]
    RootMismatch,
    #[error("the proof does not lead to the old tree head it is checked against")]
    OldRootMismatch,
}

impl Proof {
    /// The text form: each hash in standard base64 with padding, one per line.
    pub fn to_text(&self) -> String {
        let mut text = String::with_capacity(self.0.len() * 45);
        for hash in &self.0 {
            text.push_str(&STANDARD.encode(hash));
            text.push('\n');
        }
        text
    }

    /// Parses the text form strictly: every line exactly one hash, every line ended by `\n`
    /// (no blank lines, spaces or carriage returns). Empty text is the empty proof.
    pub fn parse(text: &str) -> Result<Proof, ProofTextError> {
        let Some(body) = text.strip_suffix('\n') else {
            return if text.is_empty() {
                Ok(Proof::default())
            } else {
                Err(ProofTextError::NoFinalNewline)
            };
        };
        if body.split('\n').count() > MAX_HASHES {
            return Err(ProofTextError::TooMany);
        }
        body.split('\n')
            .enumerate()
            .map(|(i, line)| parse_hash(line).ok_or(ProofTextError::NotAHash { line: i + 1 }))
            .collect::<Result<Vec<Hash>, _>>()
            .map(Proof)
    }
}

/// One hash in standard base64, with padding, and nothing else.
pub fn parse_hash(text: &str) -> Option<Hash> {
    if text.len() != 44 {
        return None;
    }
    STANDARD.decode(text).ok()?.try_into().ok()
}

/// Checks that `proof` shows the leaf with hash `leaf` at `index` in the tree of `size` leaves
/// whose head is `root` (RFC 9162 section 2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &Proof,
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let computed =
        merkle::root_from_inclusion_proof(leaf, index, size, &proof.0).ok_or_else(|| {
            ProofError::WrongLength {
                got: proof.0.len(),
                what: format!("index {index} in a tree of size {size}"),
            }
        })?;
    if computed == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Checks that `proof` shows the tree of `new_size` leaves with head `new_root` extends the one
/// of `old_size` leaves with head `old_root` (RFC 9162 section 2.1.4.2).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    proof: &Proof,
    old_root: &Hash,
    new_root: &Hash,
) -> Result<(), ProofError> {
    let wrong_length = || ProofError::WrongLength {
        got: proof.0.len(),
        what: format!("sizes {old_size} and {new_size}"),
    };
    if old_size == 0 || old_size > new_size {
        return Err(ProofError::SizesOutOfOrder {
            old: old_size,
            new: new_size,
        });
    }
    if old_size == new_size {
        if !proof.0.is_empty() {
            return Err(wrong_length());
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    // Step 1: a power-of-two old tree is itself the first node of the path.
    let mut path = proof.0.iter();
    let first = if old_size.is_power_of_two() {
        *old_root
    } else {
        *path.next().ok_or_else(wrong_length)?
    };
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (first, first);
    for c in path {
        if sn == 0 {
            return Err(wrong_length());
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(wrong_length());
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}
