//! Signed notes (c2sp.org/signed-note): a UTF-8 text ending in a newline, a blank line, then one
//! signature line per key, `— name base64(key ID || signature)`. This module reads and writes
//! that frame, signs a text with a ledger key and verifies a note against one verifier key.
//!
//! Rules beyond the frame's grammar, each refused with its own error: a key (name and ID) signs a
//! note at most once; a note must carry a signature by the key it is checked against, and that
//! signature must verify (Ed25519, strict). Signatures by other keys are kept and ignored, as the
//! spec requires, so that witnesses can add theirs. It never decides what a note's text means:
//! [`super::checkpoint`] does.

use crate::keys::SecretKey;
use crate::note::vkey::{KeyType, VerifierKey};
use base64::prelude::{Engine, BASE64_STANDARD};
use std::fmt;

/// More signatures than any note of ours needs (the spec asks that at least 16 be accepted).
pub const MAX_SIGNATURES: usize = 100;
/// More bytes than any note of ours needs; a bound on what a reader holds.
pub const MAX_NOTE_BYTES: usize = 1_000_000;

const DASH: &str = "— ";

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("the note is larger than {MAX_NOTE_BYTES} bytes")]
    TooLarge,
    #[error("the note is not UTF-8 text")]
    NotUtf8,
    #[error("the note holds a control character other than newline")]
    ControlCharacter,
    #[error("the note does not end with a newline")]
    NoFinalNewline,
    #[error("the note has no blank line before its signatures")]
    NoSignatureBlock,
    #[error("the note's text is empty")]
    EmptyText,
    #[error("signature line {line} is not `— <key name> <base64 of key ID and signature>`")]
    BadSignatureLine { line: usize },
    #[error("the note has more than {MAX_SIGNATURES} signatures")]
    TooManySignatures,
    #[error("the key {name} ({id:08x}) signs the note more than once")]
    DuplicateSignature { name: String, id: u32 },
    #[error("the note has no signature by the key {name} ({id:08x})")]
    NotSignedBy { name: String, id: u32 },
    #[error("the signature by the key {name} ({id:08x}) does not verify")]
    BadSignature { name: String, id: u32 },
    #[error("{name:?} cannot sign a note: a key name must be non-empty, without spaces or `+`")]
    BadKeyName { name: String },
    #[error("the key {name} is {} where {} is needed", .found.role(), .wanted.role())]
    WrongKeyType {
        name: String,
        found: KeyType,
        wanted: KeyType,
    },
}

/// One signature line: the key's name and ID and the signature bytes after the ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureLine {
    pub name: String,
    pub id: u32,
    pub signature: Vec<u8>,
}

impl SignatureLine {
    /// Reads one line, without its newline; `line` is its 1-based place among the signatures.
    pub fn parse(text: &str, line: usize) -> Result<SignatureLine, NoteError> {
        let bad = || NoteError::BadSignatureLine { line };
        let rest = text.strip_prefix(DASH).ok_or_else(bad)?;
        let (name, encoded) = rest.split_once(' ').ok_or_else(bad)?;
        if !crate::note::vkey::valid_key_name(name) {
            return Err(bad());
        }
        let bytes = BASE64_STANDARD.decode(encoded).map_err(|_| bad())?;
        if bytes.len() < 5 {
            return Err(bad());
        }
        let (id, signature) = bytes.split_at(4);
        Ok(SignatureLine {
            name: name.to_string(),
            id: u32::from_be_bytes([id[0], id[1], id[2], id[3]]),
            signature: signature.to_vec(),
        })
    }

    fn is_by(&self, key: &VerifierKey) -> bool {
        self.name == key.name() && self.id == key.id()
    }
}

/// The line without its newline.
impl fmt::Display for SignatureLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = self.id.to_be_bytes().to_vec();
        bytes.extend_from_slice(&self.signature);
        write!(f, "{DASH}{} {}", self.name, BASE64_STANDARD.encode(bytes))
    }
}

/// A parsed note: its text (with the final newline) and its signatures in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<SignatureLine>,
}

impl Note {
    /// Reads a whole signed note.
    pub fn parse(bytes: &[u8]) -> Result<Note, NoteError> {
        if bytes.len() > MAX_NOTE_BYTES {
            return Err(NoteError::TooLarge);
        }
        let all = std::str::from_utf8(bytes).map_err(|_| NoteError::NotUtf8)?;
        if all.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        let all = all.strip_suffix('\n').ok_or(NoteError::NoFinalNewline)?;
        // The text ends at the last blank line: the text may itself hold blank lines.
        let (text, block) = all.rsplit_once("\n\n").ok_or(NoteError::NoSignatureBlock)?;
        if text.is_empty() {
            return Err(NoteError::EmptyText);
        }
        let lines: Vec<&str> = block.split('\n').collect();
        if lines.len() > MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        let mut signatures: Vec<SignatureLine> = Vec::with_capacity(lines.len());
        for (i, line) in lines.into_iter().enumerate() {
            let signature = SignatureLine::parse(line, i + 1)?;
            if signatures
                .iter()
                .any(|s| s.name == signature.name && s.id == signature.id)
            {
                return Err(NoteError::DuplicateSignature {
                    name: signature.name,
                    id: signature.id,
                });
            }
            signatures.push(signature);
        }
        Ok(Note {
            text: format!("{text}\n"),
            signatures,
        })
    }

    /// A note of `text` signed by `key` under `name`, with no other signature.
    pub fn sign(text: &str, name: &str, key: &SecretKey) -> Result<Note, NoteError> {
        if text.is_empty() || !text.ends_with('\n') {
            return Err(NoteError::NoFinalNewline);
        }
        if text.chars().any(|c| c < ' ' && c != '\n') {
            return Err(NoteError::ControlCharacter);
        }
        let vkey = VerifierKey::new(name, KeyType::Ed25519, key.public()).map_err(|_| {
            NoteError::BadKeyName {
                name: name.to_string(),
            }
        })?;
        Ok(Note {
            text: text.to_string(),
            signatures: vec![SignatureLine {
                name: name.to_string(),
                id: vkey.id(),
                signature: key.sign(text.as_bytes()).to_vec(),
            }],
        })
    }

    /// The signed text, final newline included.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn signatures(&self) -> &[SignatureLine] {
        &self.signatures
    }

    /// Adds a signature line after the others (a witness's cosignature); an earlier line by the
    /// same key (name and ID) is replaced, as signed_note's `add_sigs` does.
    pub fn add(&mut self, line: SignatureLine) -> Result<(), NoteError> {
        self.signatures
            .retain(|s| !(s.name == line.name && s.id == line.id));
        if self.signatures.len() == MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures);
        }
        self.signatures.push(line);
        Ok(())
    }

    /// The signature bytes (after the key ID) by `key`, which must be of type `wanted`.
    pub fn signature_by(&self, key: &VerifierKey, wanted: KeyType) -> Result<&[u8], NoteError> {
        if key.kind() != wanted {
            return Err(NoteError::WrongKeyType {
                name: key.name().to_string(),
                found: key.kind(),
                wanted,
            });
        }
        self.signatures
            .iter()
            .find(|s| s.is_by(key))
            .map(|s| s.signature.as_slice())
            .ok_or_else(|| NoteError::NotSignedBy {
                name: key.name().to_string(),
                id: key.id(),
            })
    }

    /// Checks the Ed25519 signature (type 0x01) by `key` over the text.
    pub fn verify(&self, key: &VerifierKey) -> Result<(), NoteError> {
        let signature = self.signature_by(key, KeyType::Ed25519)?;
        let verifies = <&[u8; 64]>::try_from(signature)
            .is_ok_and(|signature| key.key().verify(self.text.as_bytes(), signature));
        if verifies {
            Ok(())
        } else {
            Err(NoteError::BadSignature {
                name: key.name().to_string(),
                id: key.id(),
            })
        }
    }
}

/// The whole note: text, blank line, one line per signature.
impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.text)?;
        for signature in &self.signatures {
            writeln!(f, "{signature}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of c2sp.org/signed-note, "Verifier keys".
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";
    const SPEC_NOTE: &str = "This is an example message.\n\n— example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n";
    /// golang.org/x/mod/sumdb/note's example, as the signed_note crate carries it.
    const PETER_SKEY: &str =
        "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const PETER_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const PETER_NOTE: &str = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    fn spec_key() -> VerifierKey {
        VerifierKey::parse(SPEC_VKEY).unwrap()
    }

    #[test]
    fn the_specs_example_note_verifies_and_prints_back() {
        let note = Note::parse(SPEC_NOTE.as_bytes()).unwrap();
        assert_eq!(note.text(), "This is an example message.\n");
        note.verify(&spec_key()).unwrap();
        assert_eq!(note.to_string(), SPEC_NOTE);
    }

    #[test]
    fn signing_with_the_go_example_key_gives_the_go_example_note() {
        use base64::prelude::{Engine, BASE64_STANDARD};
        let secret = PETER_SKEY.splitn(5, '+').nth(4).unwrap();
        let secret = BASE64_STANDARD.decode(secret).unwrap();
        let key = SecretKey::from_seed(secret[1..].try_into().unwrap(), None);
        let text = PETER_NOTE.split("\n\n").next().unwrap().to_string() + "\n";
        let note = Note::sign(&text, "PeterNeumann", &key).unwrap();
        assert_eq!(note.to_string(), PETER_NOTE);
        note.verify(&VerifierKey::parse(PETER_VKEY).unwrap())
            .unwrap();
    }

    #[test]
    fn notes_signed_here_verify_with_signed_note_and_back() {
        let key = SecretKey::from_seed([5; 32], None);
        let vkey = VerifierKey::new("log.example/a", KeyType::Ed25519, key.public()).unwrap();
        let ours = Note::sign("one\n\ntwo\n", "log.example/a", &key).unwrap();
        let theirs = signed_note::Note::from_bytes(ours.to_string().as_bytes()).unwrap();
        let verifier = signed_note::StandardVerifier::new(&vkey.to_string()).unwrap();
        let (verified, _) = theirs
            .verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
            .unwrap();
        assert_eq!(verified.len(), 1);
        assert_eq!(theirs.text(), ours.text().as_bytes());
        // And a note the crate signs reads here.
        let back = Note::parse(&theirs.to_bytes()).unwrap();
        back.verify(&vkey).unwrap();
    }

    #[test]
    fn broken_frames_are_refused_with_the_rule_they_break() {
        let sig = SPEC_NOTE.split("\n\n").nth(1).unwrap().trim_end();
        let cases: Vec<(String, NoteError)> = vec![
            ("text\n\n".to_string() + sig, NoteError::NoFinalNewline),
            (format!("text\n{sig}\n"), NoteError::NoSignatureBlock),
            (format!("\n\n{sig}\n"), NoteError::EmptyText),
            (format!("te\x01xt\n\n{sig}\n"), NoteError::ControlCharacter),
            (
                format!("text\n\n{sig}\n\n"),
                NoteError::BadSignatureLine { line: 2 },
            ),
            (
                format!("text\n\n{sig}\n- example.com/foo AAAAAAA=\n"),
                NoteError::BadSignatureLine { line: 2 },
            ),
            (
                format!("text\n\n{}\n", sig.replacen(' ', "  ", 1)),
                NoteError::BadSignatureLine { line: 1 },
            ),
            (
                format!("text\n\n{sig}\n{sig}\n"),
                NoteError::DuplicateSignature {
                    name: "example.com/foo".into(),
                    id: 0x530d_903a,
                },
            ),
            (
                format!("text\n\n{}", "— k AAAAAAA=\n".repeat(101)),
                NoteError::TooManySignatures,
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(Note::parse(text.as_bytes()), Err(expected), "{text:?}");
            assert!(
                signed_note::Note::from_bytes(text.as_bytes())
                    .and_then(|n| n.verify(&signed_note::VerifierList::new(vec![Box::new(
                        signed_note::StandardVerifier::new(SPEC_VKEY).unwrap()
                    )])))
                    .is_err(),
                "signed_note refuses it too: {text:?}"
            );
        }
        assert_eq!(Note::parse(&[0xff, b'\n']), Err(NoteError::NotUtf8));
    }

    #[test]
    fn altered_text_extra_lines_and_wrong_keys_do_not_verify() {
        let key = spec_key();
        let bad = NoteError::BadSignature {
            name: "example.com/foo".into(),
            id: 0x530d_903a,
        };
        for altered in [
            SPEC_NOTE.replace("example message", "example massage"),
            SPEC_NOTE.replace("message.\n", "message.\nextra line\n"),
            SPEC_NOTE.replace("message.\n", "message.\n\n"),
        ] {
            let note = Note::parse(altered.as_bytes()).unwrap();
            assert_eq!(note.verify(&key), Err(bad.clone()), "{altered:?}");
        }
        let other = SecretKey::from_seed([6; 32], None).public();
        let stranger = VerifierKey::new("example.com/foo", KeyType::Ed25519, other).unwrap();
        let note = Note::parse(SPEC_NOTE.as_bytes()).unwrap();
        assert_eq!(
            note.verify(&stranger),
            Err(NoteError::NotSignedBy {
                name: "example.com/foo".into(),
                id: stranger.id()
            })
        );
        let cosigner =
            VerifierKey::new("example.com/foo", KeyType::Cosignature, *key.key()).unwrap();
        assert!(matches!(
            note.verify(&cosigner),
            Err(NoteError::WrongKeyType { .. })
        ));
    }

    #[test]
    fn signatures_by_unknown_keys_are_ignored() {
        let other = SecretKey::from_seed([6; 32], None);
        let mut note = Note::parse(SPEC_NOTE.as_bytes()).unwrap();
        let extra = Note::sign(note.text(), "someone.else", &other).unwrap();
        let line = extra.signatures()[0].clone();
        let mut first = Note::parse(format!("{}\n{line}\n", note.text()).as_bytes()).unwrap();
        first.add(note.signatures()[0].clone()).unwrap();
        first.verify(&spec_key()).unwrap();
        note.add(line.clone()).unwrap();
        note.verify(&spec_key()).unwrap();
        note.add(line).unwrap();
        assert_eq!(
            note.signatures().len(),
            2,
            "a key's second line replaces its first"
        );
    }
}
