//! Verifier keys (c2sp.org/signed-note, "Verifier keys"): the text `name+hexid+base64(type ||
//! key)` that names an Ed25519 public key, the signature type it verifies and its key ID.
//!
//! Two signature types are known: plain Ed25519 note signatures (type 0x01, what a log signs its
//! checkpoints with) and timestamped Ed25519 cosignatures (type 0x04, c2sp.org/tlog-cosignature,
//! what a witness signs with). This module never verifies a signature; [`super::signed`] and
//! [`super::cosignature`] do, with the key it gives them.

use crate::keys::PublicKey;
use base64::prelude::{Engine, BASE64_STANDARD};
use std::fmt;

/// What a verifier key's signatures sign: its signature type byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// 0x01: Ed25519 over the note text (a log's checkpoint signature).
    Ed25519,
    /// 0x04: Ed25519 over `cosignature/v1`, a timestamp and the note text (a witness).
    Cosignature,
}

impl KeyType {
    pub fn byte(self) -> u8 {
        match self {
            KeyType::Ed25519 => 0x01,
            KeyType::Cosignature => 0x04,
        }
    }

    fn from_byte(byte: u8) -> Option<KeyType> {
        [KeyType::Ed25519, KeyType::Cosignature]
            .into_iter()
            .find(|kind| kind.byte() == byte)
    }

    /// What a key of this type is for, in messages.
    pub fn role(self) -> &'static str {
        match self {
            KeyType::Ed25519 => "a log's checkpoint key (type 0x01)",
            KeyType::Cosignature => "a witness's cosignature key (type 0x04)",
        }
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum VkeyError {
    #[error(
        "a verifier key is three parts joined by `+`: name, 8 hex digits of key ID, base64 key"
    )]
    Shape,
    #[error("{name:?} cannot be a key name: it must be non-empty, without spaces or `+`")]
    BadName { name: String },
    #[error("the key ID {id:?} is not 8 lowercase hex digits")]
    BadId { id: String },
    #[error("the key is not standard base64")]
    BadBase64,
    #[error(
        "signature type 0x{0:02x} is not one this ledger knows (0x01 Ed25519, 0x04 cosignature)"
    )]
    UnknownType(u8),
    #[error("an Ed25519 key is 32 bytes, not {0}")]
    BadLength(usize),
    #[error("the key ID {stated:08x} is not the one the name and key give ({computed:08x})")]
    IdMismatch { stated: u32, computed: u32 },
    #[error("the key is not a usable Ed25519 public key")]
    BadKey,
}

/// A named Ed25519 public key of one signature type, with its key ID.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    id: u32,
    kind: KeyType,
    key: PublicKey,
}

/// `SHA-256(name || 0x0A || type || key)[:4]`, big-endian: the key ID the specs require for
/// both types this ledger uses.
pub fn key_id(name: &str, kind: KeyType, key: &PublicKey) -> u32 {
    let mut typed = Vec::with_capacity(33);
    typed.push(kind.byte());
    typed.extend_from_slice(&key.0);
    signed_note::key_id(name, &typed)
}

/// Whether `name` may name a key: non-empty, no Unicode space, no `+`.
pub fn valid_key_name(name: &str) -> bool {
    signed_note::is_key_name_valid(name)
}

impl VerifierKey {
    pub fn new(name: &str, kind: KeyType, key: PublicKey) -> Result<VerifierKey, VkeyError> {
        if !valid_key_name(name) {
            return Err(VkeyError::BadName {
                name: name.to_string(),
            });
        }
        key.verifying_key().map_err(|_| VkeyError::BadKey)?;
        Ok(VerifierKey {
            name: name.to_string(),
            id: key_id(name, kind, &key),
            kind,
            key,
        })
    }

    /// Reads the text form; surrounding whitespace (a file's final newline) is ignored.
    pub fn parse(text: &str) -> Result<VerifierKey, VkeyError> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(VkeyError::Shape);
        };
        let bad_id = || VkeyError::BadId { id: id.to_string() };
        let lower_hex = id.len() == 8 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !lower_hex {
            return Err(bad_id());
        }
        let stated = u32::from_str_radix(id, 16).map_err(|_| bad_id())?;
        let typed = BASE64_STANDARD
            .decode(key)
            .map_err(|_| VkeyError::BadBase64)?;
        let (&kind, key) = typed.split_first().ok_or(VkeyError::BadLength(0))?;
        let kind = KeyType::from_byte(kind).ok_or(VkeyError::UnknownType(kind))?;
        let key: [u8; 32] = key
            .try_into()
            .map_err(|_| VkeyError::BadLength(key.len()))?;
        let vkey = VerifierKey::new(name, kind, PublicKey(key))?;
        if vkey.id != stated {
            return Err(VkeyError::IdMismatch {
                stated,
                computed: vkey.id,
            });
        }
        Ok(vkey)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn id(&self) -> u32 {
        self.id
    }

    pub fn kind(&self) -> KeyType {
        self.kind
    }

    pub fn key(&self) -> &PublicKey {
        &self.key
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut typed = vec![self.kind.byte()];
        typed.extend_from_slice(&self.key.0);
        write!(
            f,
            "{}+{:08x}+{}",
            self.name,
            self.id,
            BASE64_STANDARD.encode(typed)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of c2sp.org/signed-note, "Verifier keys".
    const SPEC_VKEY: &str = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k";

    #[test]
    fn the_specs_example_key_reads_and_prints_back() {
        let vkey = VerifierKey::parse(SPEC_VKEY).unwrap();
        assert_eq!(
            (vkey.name(), vkey.id(), vkey.kind()),
            ("example.com/foo", 0x530d_903a, KeyType::Ed25519)
        );
        assert_eq!(vkey.to_string(), SPEC_VKEY);
    }

    #[test]
    fn our_text_is_the_one_signed_note_writes() {
        let key = crate::keys::SecretKey::from_seed([7; 32], None);
        let ours = VerifierKey::new("log.example/x", KeyType::Ed25519, key.public()).unwrap();
        let theirs = signed_note::new_ed25519_verifier_key(
            "log.example/x",
            &key.public().verifying_key().unwrap(),
        );
        assert_eq!(ours.to_string(), theirs);
        assert!(signed_note::StandardVerifier::new(&ours.to_string()).is_ok());
    }

    #[test]
    fn malformed_keys_are_refused_with_the_rule_they_break() {
        let cases = [
            ("example.com/foo+530d903a", VkeyError::Shape),
            (
                "+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                VkeyError::BadName {
                    name: String::new(),
                },
            ),
            (
                "example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                VkeyError::BadId {
                    id: "530D903A".into(),
                },
            ),
            (
                "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2",
                VkeyError::BadBase64,
            ),
            (
                "example.com/bar+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k",
                VkeyError::IdMismatch {
                    stated: 0x530d_903a,
                    computed: key_id(
                        "example.com/bar",
                        KeyType::Ed25519,
                        VerifierKey::parse(SPEC_VKEY).unwrap().key(),
                    ),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(VerifierKey::parse(text), Err(expected), "{text}");
        }
        let short = format!("a+00000000+{}", BASE64_STANDARD.encode([1; 32]));
        assert_eq!(VerifierKey::parse(&short), Err(VkeyError::BadLength(31)));
        let mut typed = vec![0x02];
        typed.extend_from_slice(&[9; 32]);
        let unknown = format!("a+00000000+{}", BASE64_STANDARD.encode(typed));
        assert_eq!(VerifierKey::parse(&unknown), Err(VkeyError::UnknownType(2)));
    }

    #[test]
    fn a_cosignature_key_has_its_own_id() {
        let key = crate::keys::SecretKey::from_seed([4; 32], None).public();
        let plain = VerifierKey::new("w.example", KeyType::Ed25519, key).unwrap();
        let cosigner = VerifierKey::new("w.example", KeyType::Cosignature, key).unwrap();
        assert_ne!(plain.id(), cosigner.id());
        assert_eq!(VerifierKey::parse(&cosigner.to_string()).unwrap(), cosigner);
    }
}
