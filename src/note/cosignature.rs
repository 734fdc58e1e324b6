//! Cosignatures (c2sp.org/tlog-cosignature, Ed25519, signature type 0x04): a witness's signature
//! line on a checkpoint, over `cosignature/v1`, `time <seconds>` and the checkpoint's text, whose
//! signature bytes are the timestamp (`u64`, big-endian) then the Ed25519 signature. The timestamp
//! is the witness's clock: the checkpoint existed by then.
//!
//! This module makes and checks one line; it never decides whether a witness should sign (that
//! is [`super::witness`]) or how many cosignatures are enough ([`super::policy`]).

use crate::keys::SecretKey;
use crate::note::signed::{Note, NoteError, SignatureLine};
use crate::note::vkey::{KeyType, VerifierKey, VkeyError};

/// The largest timestamp the spec allows (2^63 - 1).
pub const MAX_TIMESTAMP: u64 = i64::MAX as u64;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CosignatureError {
    #[error("no cosignature by this witness")]
    Note(#[source] NoteError),
    #[error("the cosignature by {name} is {length} bytes, not 8 of timestamp and 64 of signature")]
    Length { name: String, length: usize },
    #[error("the cosignature by {name} has timestamp {timestamp}, past 2^63 - 1")]
    TimestampTooLarge { name: String, timestamp: u64 },
    #[error("the cosignature by {name} (time {timestamp}) does not verify")]
    BadSignature { name: String, timestamp: u64 },
    #[error("the witness key cannot sign")]
    Key(#[source] VkeyError),
}

/// What a cosignature of `checkpoint_text` at `timestamp` signs.
pub fn message(checkpoint_text: &str, timestamp: u64) -> String {
    format!("cosignature/v1\ntime {timestamp}\n{checkpoint_text}")
}

/// The cosignature line of the witness `key`, named `name`, on `note` at `timestamp`.
pub fn cosign(
    note: &Note,
    name: &str,
    key: &SecretKey,
    timestamp: u64,
) -> Result<SignatureLine, CosignatureError> {
    if timestamp > MAX_TIMESTAMP {
        return Err(CosignatureError::TimestampTooLarge {
            name: name.to_string(),
            timestamp,
        });
    }
    let vkey = VerifierKey::new(name, KeyType::Cosignature, key.public())
        .map_err(CosignatureError::Key)?;
    let mut signature = timestamp.to_be_bytes().to_vec();
    signature.extend_from_slice(&key.sign(message(note.text(), timestamp).as_bytes()));
    Ok(SignatureLine {
        name: name.to_string(),
        id: vkey.id(),
        signature,
    })
}

/// Checks the cosignature of `witness` (a type 0x04 key) on `note`; returns its timestamp.
pub fn verify(note: &Note, witness: &VerifierKey) -> Result<u64, CosignatureError> {
    let name = || witness.name().to_string();
    let bytes = note
        .signature_by(witness, KeyType::Cosignature)
        .map_err(CosignatureError::Note)?;
    let (Some(time), Some(signature)) = (bytes.first_chunk::<8>(), bytes.get(8..)) else {
        return Err(CosignatureError::Length {
            name: name(),
            length: bytes.len(),
        });
    };
    let signature: &[u8; 64] = signature.try_into().map_err(|_| CosignatureError::Length {
        name: name(),
        length: bytes.len(),
    })?;
    let timestamp = u64::from_be_bytes(*time);
    if timestamp > MAX_TIMESTAMP {
        return Err(CosignatureError::TimestampTooLarge {
            name: name(),
            timestamp,
        });
    }
    if witness
        .key()
        .verify(message(note.text(), timestamp).as_bytes(), signature)
    {
        Ok(timestamp)
    } else {
        Err(CosignatureError::BadSignature {
            name: name(),
            timestamp,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::note::checkpoint;

    const WITNESS: &str = "witness.example.org/w1";

    fn cosigned() -> (Note, VerifierKey) {
        let operator = SecretKey::from_seed([1; 32], None);
        let witness = SecretKey::from_seed([4; 32], None);
        let mut note = checkpoint::sign("log.example/a", 4, [3; 32], &operator).unwrap();
        note.add(cosign(&note, WITNESS, &witness, 1_700_006_460).unwrap())
            .unwrap();
        let vkey = VerifierKey::new(WITNESS, KeyType::Cosignature, witness.public()).unwrap();
        (note, vkey)
    }

    #[test]
    fn a_cosignature_verifies_and_gives_its_timestamp() {
        let (note, vkey) = cosigned();
        assert_eq!(verify(&note, &vkey), Ok(1_700_006_460));
        let reread = Note::parse(note.to_string().as_bytes()).unwrap();
        assert_eq!(verify(&reread, &vkey), Ok(1_700_006_460));
    }

    #[test]
    fn the_message_is_the_specs_example_layout() {
        assert_eq!(
            message(
                "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
                1_679_315_147
            ),
            "cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
        );
    }

    #[test]
    fn an_altered_timestamp_text_or_key_is_refused() {
        let (note, vkey) = cosigned();
        let mut line = note.signatures()[1].clone();
        line.signature[7] ^= 1;
        let mut altered = Note::parse(format!("{}\n{line}\n", note.text()).as_bytes()).unwrap();
        assert_eq!(
            verify(&altered, &vkey),
            Err(CosignatureError::BadSignature {
                name: WITNESS.into(),
                timestamp: 1_700_006_460 ^ 1
            })
        );
        line.signature.pop();
        altered = Note::parse(format!("{}\n{line}\n", note.text()).as_bytes()).unwrap();
        assert!(matches!(
            verify(&altered, &vkey),
            Err(CosignatureError::Length { length: 71, .. })
        ));
        let moved = note.to_string().replacen("\n4\n", "\n5\n", 1);
        assert!(matches!(
            verify(&Note::parse(moved.as_bytes()).unwrap(), &vkey),
            Err(CosignatureError::BadSignature { .. })
        ));
        let as_plain = VerifierKey::new(WITNESS, KeyType::Ed25519, *vkey.key()).unwrap();
        assert!(matches!(
            verify(&note, &as_plain),
            Err(CosignatureError::Note(NoteError::WrongKeyType { .. }))
        ));
        let other = SecretKey::from_seed([8; 32], None).public();
        let stranger = VerifierKey::new(WITNESS, KeyType::Cosignature, other).unwrap();
        assert!(matches!(
            verify(&note, &stranger),
            Err(CosignatureError::Note(NoteError::NotSignedBy { .. }))
        ));
    }

    #[test]
    fn signed_note_reads_a_cosigned_checkpoint_and_ignores_the_unknown_cosigner() {
        let (note, _) = cosigned();
        let operator = SecretKey::from_seed([1; 32], None).public();
        let log = VerifierKey::new("log.example/a", KeyType::Ed25519, operator).unwrap();
        let theirs = signed_note::Note::from_bytes(note.to_string().as_bytes()).unwrap();
        let verifier = signed_note::StandardVerifier::new(&log.to_string()).unwrap();
        let (verified, unverified) = theirs
            .verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
            .unwrap();
        assert_eq!((verified.len(), unverified.len()), (1, 1));
        assert_eq!(unverified[0].name(), WITNESS);
    }
}
