//! Checkpoints (c2sp.org/tlog-checkpoint): a signed note whose text is the log's origin, its tree
//! size in decimal and the base64 RFC 6962 root hash, one per line, then optional extension lines.
//! This module builds and signs one from (origin, size, root) with the log's key, the key's name
//! being the origin, and opens one: reads the text, checks the log's signature and returns what
//! it states.
//!
//! It never writes extension lines (the spec advises against them; a reader accepts and returns
//! them) and never judges whether a checkpoint is consistent with another: that takes a proof
//! (the tree's) and a memory of earlier checkpoints ([`super::witness`], the ledger's own).

use crate::keys::SecretKey;
use crate::merkle::Hash;
use crate::note::signed::{Note, NoteError};
use crate::note::vkey::VerifierKey;
use base64::prelude::{Engine, BASE64_STANDARD};

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the checkpoint is not a well-formed signed note")]
    Note(#[source] NoteError),
    #[error("the checkpoint's signature does not check out")]
    Signature(#[source] NoteError),
    #[error("the checkpoint's text has {0} lines; it needs origin, size and root hash")]
    TooFewLines(usize),
    #[error("the checkpoint's origin line is empty")]
    EmptyOrigin,
    #[error("the checkpoint's size line {0:?} is not a decimal number without leading zeros")]
    BadSize(String),
    #[error("the checkpoint's root line {0:?} is not the base64 of a 32-byte hash")]
    BadRoot(String),
    #[error("the checkpoint's extension line {0} is empty")]
    EmptyExtension(usize),
    #[error("the checkpoint is for the log {found:?}, but the key given is for {expected:?}")]
    OriginMismatch { expected: String, found: String },
    #[error("{0:?} cannot be a checkpoint's origin and key name: it must be non-empty, without spaces or `+`")]
    BadOrigin(String),
}

/// What a checkpoint states: which log, how many entries, the root of their tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    /// Extension lines, without their newlines, as read; empty in every checkpoint we sign.
    pub extensions: Vec<String>,
}

impl Checkpoint {
    /// The note text: origin, size, root and extension lines, each ending in a newline.
    pub fn text(&self) -> String {
        let mut text = format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64_STANDARD.encode(self.root)
        );
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Reads a note text (final newline included) as a checkpoint.
    pub fn parse_text(text: &str) -> Result<Checkpoint, CheckpointError> {
        let body = text.strip_suffix('\n').unwrap_or(text);
        let lines: Vec<&str> = body.split('\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointError::TooFewLines(lines.len()));
        };
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let canonical = size == &"0" || (!size.starts_with('0') && !size.is_empty());
        let size_value = size
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| size.parse::<u64>().ok())
            .flatten()
            .filter(|_| canonical)
            .ok_or_else(|| CheckpointError::BadSize(size.to_string()))?;
        let root_value = BASE64_STANDARD
            .decode(root)
            .ok()
            .and_then(|bytes| Hash::try_from(bytes).ok())
            .ok_or_else(|| CheckpointError::BadRoot(root.to_string()))?;
        if let Some(i) = extensions.iter().position(|line| line.is_empty()) {
            return Err(CheckpointError::EmptyExtension(i + 1));
        }
        Ok(Checkpoint {
            origin: origin.to_string(),
            size: size_value,
            root: root_value,
            extensions: extensions.iter().map(ToString::to_string).collect(),
        })
    }
}

/// The signed note of the checkpoint (origin, size, root), signed by the log's `key` under the
/// key name `origin`.
pub fn sign(origin: &str, size: u64, root: Hash, key: &SecretKey) -> Result<Note, CheckpointError> {
    let checkpoint = Checkpoint {
        origin: origin.to_string(),
        size,
        root,
        extensions: Vec::new(),
    };
    Note::sign(&checkpoint.text(), origin, key)
        .map_err(|_| CheckpointError::BadOrigin(origin.to_string()))
}

/// A checkpoint read from its signed note, with the note kept for the signatures beside the
/// log's (cosignatures).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Opened {
    pub checkpoint: Checkpoint,
    pub note: Note,
}

/// Reads a signed checkpoint and checks the log's signature with `log`, whose name must be the
/// checkpoint's origin.
pub fn open(bytes: &[u8], log: &VerifierKey) -> Result<Opened, CheckpointError> {
    let note = Note::parse(bytes).map_err(CheckpointError::Note)?;
    let checkpoint = Checkpoint::parse_text(note.text())?;
    if checkpoint.origin != log.name() {
        return Err(CheckpointError::OriginMismatch {
            expected: log.name().to_string(),
            found: checkpoint.origin,
        });
    }
    note.verify(log).map_err(CheckpointError::Signature)?;
    Ok(Opened { checkpoint, note })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::vkey::KeyType;

    const ORIGIN: &str = "ledger.example.org/mali-panel";

    fn operator() -> (SecretKey, VerifierKey) {
        let key = SecretKey::from_seed([1; 32], None);
        let vkey = VerifierKey::new(ORIGIN, KeyType::Ed25519, key.public()).unwrap();
        (key, vkey)
    }

    #[test]
    fn a_signed_checkpoint_opens_to_what_was_signed_and_tlog_tiles_agrees() {
        let (key, vkey) = operator();
        let root = crate::merkle::leaf_hash(b"x");
        let note = sign(ORIGIN, 3, root, &key).unwrap().to_string();
        let opened = open(note.as_bytes(), &vkey).unwrap();
        assert_eq!(
            (
                opened.checkpoint.origin.as_str(),
                opened.checkpoint.size,
                opened.checkpoint.root
            ),
            (ORIGIN, 3, root)
        );
        // The independent reading: signed_note checks the signature, tlog_tiles the text.
        let theirs = signed_note::Note::from_bytes(note.as_bytes()).unwrap();
        let verifier = signed_note::StandardVerifier::new(&vkey.to_string()).unwrap();
        theirs
            .verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
            .unwrap();
        let parsed = tlog_tiles::Checkpoint::from_bytes(theirs.text()).unwrap();
        assert_eq!(
            (parsed.origin(), parsed.size(), parsed.hash().0),
            (ORIGIN, 3, root)
        );
    }

    #[test]
    fn the_specs_example_text_reads_as_tlog_tiles_reads_it() {
        let text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\nabc\n";
        let ours = Checkpoint::parse_text(text).unwrap();
        let theirs = tlog_tiles::Checkpoint::from_bytes(text.as_bytes()).unwrap();
        assert_eq!(ours.size, theirs.size());
        assert_eq!(ours.root, theirs.hash().0);
        assert_eq!(ours.extensions, ["abc"]);
        assert_eq!(ours.text().as_bytes(), theirs.to_bytes());
    }

    #[test]
    fn malformed_texts_are_refused_with_the_rule_they_break_as_tlog_tiles_refuses_them() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        let cases = [
            ("o\n5\n".to_string(), CheckpointError::TooFewLines(2)),
            (format!("\n5\n{root}\n"), CheckpointError::EmptyOrigin),
            (
                format!("o\n05\n{root}\n"),
                CheckpointError::BadSize("05".into()),
            ),
            (
                format!("o\n+5\n{root}\n"),
                CheckpointError::BadSize("+5".into()),
            ),
            (
                format!("o\n18446744073709551616\n{root}\n"),
                CheckpointError::BadSize("18446744073709551616".into()),
            ),
            (
                format!("o\n5\n{}\n", &root[..40]),
                CheckpointError::BadRoot(root[..40].into()),
            ),
            (
                format!("o\n5\n{root}\nx\n\ny\n"),
                CheckpointError::EmptyExtension(2),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Checkpoint::parse_text(&text), Err(expected), "{text:?}");
            assert!(
                tlog_tiles::Checkpoint::from_bytes(text.as_bytes()).is_err(),
                "tlog_tiles refuses {text:?} too"
            );
        }
    }

    #[test]
    fn tampered_checkpoints_and_wrong_keys_are_refused() {
        let (key, vkey) = operator();
        let note = sign(ORIGIN, 4, [7; 32], &key).unwrap().to_string();
        let bad_signature = |text: String| {
            assert!(
                matches!(
                    open(text.as_bytes(), &vkey),
                    Err(CheckpointError::Signature(NoteError::BadSignature { .. }))
                ),
                "{text:?}"
            );
        };
        bad_signature(note.replacen("\n4\n", "\n5\n", 1));
        bad_signature(note.replacen("\n\n", "\nextension\n\n", 1));
        let reordered = {
            let mut lines: Vec<&str> = note.lines().collect();
            lines.swap(1, 2);
            lines.join("\n") + "\n"
        };
        assert!(matches!(
            open(reordered.as_bytes(), &vkey),
            Err(CheckpointError::BadSize(_))
        ));
        let missing = {
            let mut lines: Vec<&str> = note.lines().collect();
            lines.remove(2);
            lines.join("\n") + "\n"
        };
        assert_eq!(
            open(missing.as_bytes(), &vkey),
            Err(CheckpointError::TooFewLines(2))
        );
        let other = SecretKey::from_seed([9; 32], None);
        let stranger = VerifierKey::new(ORIGIN, KeyType::Ed25519, other.public()).unwrap();
        assert!(matches!(
            open(note.as_bytes(), &stranger),
            Err(CheckpointError::Signature(NoteError::NotSignedBy { .. }))
        ));
        let elsewhere =
            VerifierKey::new("other.example/log", KeyType::Ed25519, key.public()).unwrap();
        assert_eq!(
            open(note.as_bytes(), &elsewhere),
            Err(CheckpointError::OriginMismatch {
                expected: "other.example/log".into(),
                found: ORIGIN.into()
            })
        );
    }
}
