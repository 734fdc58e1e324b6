//! The text form of a proof: one hash per line, standard base64 (44 characters), each line ending
//! in a newline. Receipts carry inclusion paths this way and a witness reads consistency proofs
//! this way (c2sp.org/tlog-proof, c2sp.org/tlog-witness).
//!
//! It knows nothing of what the hashes prove: the tree's verifiers decide that.

use crate::merkle::Hash;
use base64::prelude::{Engine, BASE64_STANDARD};

/// No proof in a tree of at most 2^64 leaves is longer (the witness protocol's bound too).
pub const MAX_HASHES: usize = 63;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum HashLinesError {
    #[error("line {line} is not the base64 of a 32-byte hash")]
    BadHash { line: usize },
    #[error("more than {MAX_HASHES} hashes")]
    TooMany,
    #[error("the last line does not end with a newline")]
    NoFinalNewline,
}

/// One line's hash, or `None` if the line is not one.
pub fn parse_hash(line: &str) -> Option<Hash> {
    if line.len() != 44 {
        return None;
    }
    BASE64_STANDARD
        .decode(line)
        .ok()
        .and_then(|bytes| Hash::try_from(bytes).ok())
}

/// Reads a whole text of hash lines; an empty text is an empty proof.
pub fn parse(text: &str) -> Result<Vec<Hash>, HashLinesError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let body = text
        .strip_suffix('\n')
        .ok_or(HashLinesError::NoFinalNewline)?;
    let mut hashes = Vec::new();
    for (i, line) in body.split('\n').enumerate() {
        if hashes.len() == MAX_HASHES {
            return Err(HashLinesError::TooMany);
        }
        hashes.push(parse_hash(line).ok_or(HashLinesError::BadHash { line: i + 1 })?);
    }
    Ok(hashes)
}

/// The hashes, one line each.
pub fn write(hashes: &[Hash]) -> String {
    hashes
        .iter()
        .map(|hash| BASE64_STANDARD.encode(hash) + "\n")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_print_and_read_back() {
        let hashes = vec![[0u8; 32], [255; 32], crate::merkle::leaf_hash(b"")];
        let text = write(&hashes);
        assert_eq!(text.lines().count(), 3);
        assert!(text.starts_with("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n"));
        assert_eq!(parse(&text), Ok(hashes));
        assert_eq!(parse(""), Ok(vec![]));
    }

    #[test]
    fn malformed_lines_are_refused_with_their_number() {
        let one = write(&[[1; 32]]);
        assert_eq!(
            parse(&format!("{one}{}\n", &one[..43])),
            Err(HashLinesError::BadHash { line: 2 })
        );
        assert_eq!(
            parse(&format!("{one}\n")),
            Err(HashLinesError::BadHash { line: 2 })
        );
        assert_eq!(
            parse(&format!(" {one}")),
            Err(HashLinesError::BadHash { line: 1 })
        );
        assert_eq!(parse(one.trim_end()), Err(HashLinesError::NoFinalNewline));
        assert_eq!(parse(&one.repeat(64)), Err(HashLinesError::TooMany));
    }
}
