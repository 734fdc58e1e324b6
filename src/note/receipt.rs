//! Receipts: one entry's offline proof of logging, as a C2SP tlog-proof
//! (`c2sp.org/tlog-proof@v1`): the header line, `extra <base64>`, `index <seq>`, the inclusion
//! path (one base64 hash per line, the leaf's sibling first), a blank line, then the cosigned
//! checkpoint verbatim.
//!
//! The entry travels in the `extra` line: its canonical bytes (docs/FORMAT.md section 3), base64.
//! The spec made `extra` for data needed to rebuild the leaf hash, and a reader trusts it no more
//! than anything else in the file: the bytes must hash to the leaf that the path proves included
//! in the checkpoint's root, so one file is the whole receipt. This module prints and reads that
//! text; checking it (entry, path, signatures, quorum) is the audit's, with the tree's verifier.

use crate::entry::MAX_ENTRY_BYTES;
use crate::merkle::Hash;
use crate::tree::proof::{Proof, ProofTextError};
use base64::prelude::{Engine, BASE64_STANDARD};

/// The format's header line.
pub const HEADER: &str = "c2sp.org/tlog-proof@v1";

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("the receipt is not UTF-8 text")]
    NotUtf8,
    #[error("the first line is not `{HEADER}`")]
    Header,
    #[error("there is no `extra` line: a ledger receipt carries its entry there")]
    NoEntry,
    #[error("the `extra` line is not base64 of 1 to {MAX_ENTRY_BYTES} bytes")]
    BadEntry,
    #[error("there is no `index` line with a decimal number without leading zeros")]
    BadIndex,
    #[error("the inclusion path is malformed")]
    Path(#[source] ProofTextError),
    #[error("there is no blank line before the checkpoint")]
    NoCheckpoint,
}

/// What a receipt holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The entry's canonical bytes.
    pub entry: Vec<u8>,
    /// The entry's seq: its leaf index in the log's tree.
    pub index: u64,
    /// The inclusion path from the leaf's sibling up to the root's child.
    pub path: Vec<Hash>,
    /// The signed, cosigned checkpoint, verbatim (a whole signed note).
    pub checkpoint: String,
}

impl Receipt {
    /// The receipt's text.
    pub fn to_text(&self) -> String {
        format!(
            "{HEADER}\nextra {}\nindex {}\n{}\n{}",
            BASE64_STANDARD.encode(&self.entry),
            self.index,
            Proof(self.path.clone()).to_text(),
            self.checkpoint
        )
    }

    /// Reads a receipt's text; nothing in it is verified here.
    pub fn parse(bytes: &[u8]) -> Result<Receipt, ReceiptError> {
        let text = std::str::from_utf8(bytes).map_err(|_| ReceiptError::NotUtf8)?;
        let (head, checkpoint) = text.split_once("\n\n").ok_or(ReceiptError::NoCheckpoint)?;
        let mut lines = head.split('\n');
        if lines.next() != Some(HEADER) {
            return Err(ReceiptError::Header);
        }
        let entry = lines
            .next()
            .and_then(|line| line.strip_prefix("extra "))
            .ok_or(ReceiptError::NoEntry)?;
        let entry = BASE64_STANDARD
            .decode(entry)
            .ok()
            .filter(|bytes| (1..=MAX_ENTRY_BYTES).contains(&bytes.len()))
            .ok_or(ReceiptError::BadEntry)?;
        let index = lines
            .next()
            .and_then(|line| line.strip_prefix("index "))
            .filter(|digits| *digits == "0" || !digits.starts_with('0'))
            .filter(|digits| digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|digits| digits.parse().ok())
            .ok_or(ReceiptError::BadIndex)?;
        let path: String = lines.map(|line| format!("{line}\n")).collect();
        Ok(Receipt {
            entry,
            index,
            path: Proof::parse(&path).map_err(ReceiptError::Path)?.0,
            checkpoint: checkpoint.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receipt(path: Vec<Hash>) -> Receipt {
        Receipt {
            entry: b"ledger/entry\0 bytes".to_vec(),
            index: 3,
            path,
            checkpoint: "log.example/a\n4\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n— log.example/a AAAAAQ==\n".into(),
        }
    }

    #[test]
    fn a_receipt_prints_in_the_specs_layout_and_reads_back() {
        for path in [vec![], vec![[1; 32], [2; 32]]] {
            let receipt = receipt(path);
            let text = receipt.to_text();
            let lines: Vec<&str> = text.lines().collect();
            assert_eq!(lines[0], HEADER);
            assert!(lines[1].starts_with("extra "));
            assert_eq!(lines[2], "index 3");
            assert_eq!(lines[3 + receipt.path.len()], "");
            assert_eq!(Receipt::parse(text.as_bytes()), Ok(receipt));
        }
    }

    #[test]
    fn malformed_receipts_are_refused_with_the_rule_they_break() {
        let text = receipt(vec![[1; 32]]).to_text();
        let extra = text.lines().nth(1).unwrap();
        let cases = [
            (text.replacen("@v1", "@v2", 1), ReceiptError::Header),
            (
                text.replacen(&format!("{extra}\n"), "", 1),
                ReceiptError::NoEntry,
            ),
            (text.replacen(extra, "extra ", 1), ReceiptError::BadEntry),
            (text.replacen(extra, "extra !!", 1), ReceiptError::BadEntry),
            (
                text.replacen("index 3", "index 03", 1),
                ReceiptError::BadIndex,
            ),
            (
                text.replacen("index 3", "index -3", 1),
                ReceiptError::BadIndex,
            ),
            (
                text.replacen("index 3", "index: 3", 1),
                ReceiptError::BadIndex,
            ),
            (
                text.replacen("AQEB", "AQE", 1),
                ReceiptError::Path(ProofTextError::NotAHash { line: 1 }),
            ),
            (
                text.replacen("\n\n", "\n", 1).replacen("\n\n", "\n", 1),
                ReceiptError::NoCheckpoint,
            ),
        ];
        for (altered, expected) in cases {
            assert_eq!(
                Receipt::parse(altered.as_bytes()),
                Err(expected),
                "{altered}"
            );
        }
    }
}
