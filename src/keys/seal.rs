//! A key's 32-byte seed sealed under a passphrase: scrypt derives a 256-bit key from the
//! passphrase and a random salt, ChaCha20-Poly1305 (RFC 8439) encrypts the seed with it and
//! authenticates the key file's text before the sealed line; and the text form of the `sealed:`
//! line (docs/FORMAT.md, "Secret key files").
//!
//! It takes the passphrase as bytes and never asks for one: where a passphrase comes from is the
//! caller's business. Every copy of the derived key and of the opened seed is wiped when dropped.

use super::KeyFileProblem;
use chacha20poly1305::aead::AeadInPlace;
use chacha20poly1305::{ChaCha20Poly1305, KeyInit};
use std::fmt;
use zeroize::Zeroizing;

/// The key derivation function, the first word of a `sealed:` line.
const KDF: &str = "scrypt";
/// scrypt's cost for new key files: 2^17 blocks of 1 KiB (128 MiB of memory), scrypt's own
/// recommendation. A `ledger` process that opens such a file takes 0.37 s and 146 MiB at its
/// peak on the development machine (median of 11, scrypt optimized); each guess at the
/// passphrase costs an attacker the same.
pub const LOG_N: u8 = 17;
/// The costs a key file may name. Below 2^10 a passphrase is too cheap to guess; above 2^20
/// (1 GiB of memory) a hostile key file could exhaust memory before it is refused.
pub const MIN_LOG_N: u8 = 10;
pub const MAX_LOG_N: u8 = 20;
/// scrypt's block size and parallelism: fixed (the values every scrypt user picks), written so
/// that the line says every parameter.
const R: u32 = 8;
const P: u32 = 1;

pub const SALT_BYTES: usize = 16;
pub const NONCE_BYTES: usize = 12;
const SEED_BYTES: usize = 32;
const TAG_BYTES: usize = 16;

/// A sealed seed: the scrypt cost and salt, the nonce, and the encrypted seed with its tag.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sealed {
    log_n: u8,
    salt: [u8; SALT_BYTES],
    nonce: [u8; NONCE_BYTES],
    /// The encrypted seed followed by the Poly1305 tag.
    sealed: [u8; SEED_BYTES + TAG_BYTES],
}

/// The AEAD key scrypt derives from `passphrase` and `salt` at cost 2^`log_n`.
fn derive(
    passphrase: &[u8],
    salt: &[u8; SALT_BYTES],
    log_n: u8,
) -> Result<ChaCha20Poly1305, KeyFileProblem> {
    let params = scrypt::Params::new(log_n, R, P, SEED_BYTES).map_err(|_| KeyFileProblem::Cost)?;
    let mut key = Zeroizing::new([0u8; 32]);
    scrypt::scrypt(passphrase, salt, &params, key.as_mut_slice())
        .map_err(|_| KeyFileProblem::BadSealed)?;
    // The cipher keeps its own copy of the key, and wipes it when dropped.
    Ok(ChaCha20Poly1305::new(key.as_slice().into()))
}

impl Sealed {
    /// Seals `seed` under `passphrase` with this salt and nonce (fresh random ones, except in the
    /// test vector), authenticating `associated` with it.
    pub fn seal(
        seed: &[u8; SEED_BYTES],
        passphrase: &[u8],
        associated: &[u8],
        salt: [u8; SALT_BYTES],
        nonce: [u8; NONCE_BYTES],
    ) -> Sealed {
        // Neither can fail: LOG_N, R and P are a cost scrypt accepts, and ChaCha20-Poly1305
        // refuses only messages of more than 256 GiB (the unit tests seal with both).
        let cipher = derive(passphrase, &salt, LOG_N).expect("scrypt accepts the constant cost");
        let mut sealed = [0u8; SEED_BYTES + TAG_BYTES];
        let (body, tag_out) = sealed.split_at_mut(SEED_BYTES);
        body.copy_from_slice(seed);
        let tag = cipher
            .encrypt_in_place_detached(&nonce.into(), associated, body)
            .expect("a 32-byte message can be sealed");
        tag_out.copy_from_slice(&tag);
        Sealed {
            log_n: LOG_N,
            salt,
            nonce,
            sealed,
        }
    }

    /// The seed, if `passphrase` is the one it was sealed under and neither it nor `associated`
    /// has changed since; `None` otherwise (the two cannot be told apart).
    pub fn open(
        &self,
        passphrase: &[u8],
        associated: &[u8],
    ) -> Result<Option<Zeroizing<[u8; SEED_BYTES]>>, KeyFileProblem> {
        let cipher = derive(passphrase, &self.salt, self.log_n)?;
        let (body, tag) = self.sealed.split_at(SEED_BYTES);
        let mut seed = Zeroizing::new([0u8; SEED_BYTES]);
        seed.copy_from_slice(body);
        let opened = cipher.decrypt_in_place_detached(
            &self.nonce.into(),
            associated,
            seed.as_mut_slice(),
            tag.into(),
        );
        Ok(opened.ok().map(|()| seed))
    }

    /// Reads the value of a `sealed:` line:
    /// `scrypt ln=<log_n> r=8 p=1 <salt hex> <nonce hex> <sealed seed and tag hex>`.
    pub fn parse(text: &str) -> Result<Sealed, KeyFileProblem> {
        let bad = KeyFileProblem::BadSealed;
        let fields: Vec<&str> = text.split_ascii_whitespace().collect();
        let [kdf, ln, r, p, salt_hex, nonce_hex, sealed_hex] = fields[..] else {
            return Err(bad);
        };
        let cost = |field: &str, name: &str| {
            field
                .strip_prefix(name)
                .and_then(|v| v.strip_prefix('='))
                .and_then(|v| v.parse::<u32>().ok())
                .ok_or(bad)
        };
        if kdf != KDF || cost(r, "r")? != R || cost(p, "p")? != P {
            return Err(bad);
        }
        let log_n = u8::try_from(cost(ln, "ln")?)
            .ok()
            .filter(|log_n| (MIN_LOG_N..=MAX_LOG_N).contains(log_n))
            .ok_or(KeyFileProblem::Cost)?;
        let mut sealed = Sealed {
            log_n,
            salt: [0; SALT_BYTES],
            nonce: [0; NONCE_BYTES],
            sealed: [0; SEED_BYTES + TAG_BYTES],
        };
        hex::decode_to_slice(salt_hex, &mut sealed.salt).map_err(|_| bad)?;
        hex::decode_to_slice(nonce_hex, &mut sealed.nonce).map_err(|_| bad)?;
        hex::decode_to_slice(sealed_hex, &mut sealed.sealed).map_err(|_| bad)?;
        Ok(sealed)
    }
}

/// The value of a `sealed:` line, as [`Sealed::parse`] reads it.
impl fmt::Display for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{KDF} ln={} r={R} p={P} {} {} {}",
            self.log_n,
            hex::encode(self.salt),
            hex::encode(self.nonce),
            hex::encode(self.sealed)
        )
    }
}
