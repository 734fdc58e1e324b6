//! The byte-level building blocks of every hashed or signed layout in docs/FORMAT.md: big-endian
//! integers, length-prefixed byte strings and fixed tags. It knows no layouts itself; `statement`
//! and `entry` spell theirs out with it, so that the two can never drift apart in how they
//! encode a length.

/// Why a stored or received byte string does not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("it ends early: {field} is cut off at byte {offset}")]
    Truncated { field: &'static str, offset: usize },
    #[error("it does not start with the {expected} tag")]
    BadTag { expected: &'static str },
    #[error("it has format version {found}, and this build reads version {supported}")]
    Version { found: u8, supported: u8 },
    #[error("{field} is {len} bytes, over its limit of {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} is not valid: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("it has {extra} unexpected bytes after its last field")]
    Trailing { extra: usize },
}

/// Where `part`, a slice read out of `whole`, lies in it; `None` when it is not one of its
/// slices. Readers that keep a buffer keep places in it rather than copies of what they read.
pub(crate) fn place_in(whole: &[u8], part: &[u8]) -> Option<std::ops::Range<usize>> {
    let start = (part.as_ptr() as usize).checked_sub(whole.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    (end <= whole.len()).then_some(start..end)
}

#[derive(Default)]
pub(crate) struct Writer {
    pub bytes: Vec<u8>,
}

impl Writer {
    pub fn with_capacity(capacity: usize) -> Writer {
        Writer {
            bytes: Vec::with_capacity(capacity),
        }
    }
    pub fn raw(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
    }
    pub fn u8(&mut self, v: u8) {
        self.bytes.push(v);
    }
    pub fn u16(&mut self, v: u16) {
        self.raw(&v.to_be_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.raw(&v.to_be_bytes());
    }
    pub fn i64(&mut self, v: i64) {
        self.raw(&v.to_be_bytes());
    }
    /// A u16 length followed by the bytes; callers check the limit before encoding.
    pub fn short_bytes(&mut self, v: &[u8]) {
        self.u16(u16::try_from(v.len()).expect("short field checked against its limit"));
        self.raw(v);
    }
    /// A u32 length followed by the bytes.
    pub fn long_bytes(&mut self, v: &[u8]) {
        self.raw(
            &u32::try_from(v.len())
                .expect("long field checked against its limit")
                .to_be_bytes(),
        );
        self.raw(v);
    }
}

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { bytes, offset: 0 }
    }
    pub fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], DecodeError> {
        let end = self
            .offset
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        let end = end.ok_or(DecodeError::Truncated {
            field,
            offset: self.offset,
        })?;
        let out = &self.bytes[self.offset..end];
        self.offset = end;
        Ok(out)
    }
    pub fn tag(&mut self, tag: &'static [u8], name: &'static str) -> Result<(), DecodeError> {
        match self.take(tag.len(), name) {
            Ok(found) if found == tag => Ok(()),
            _ => Err(DecodeError::BadTag { expected: name }),
        }
    }
    pub fn version(&mut self, supported: u8) -> Result<(), DecodeError> {
        match self.u8("version")? {
            found if found == supported => Ok(()),
            found => Err(DecodeError::Version { found, supported }),
        }
    }
    pub fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], DecodeError> {
        Ok(self
            .take(N, field)?
            .try_into()
            .expect("take returns N bytes"))
    }
    pub fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        Ok(self.array::<1>(field)?[0])
    }
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }
    pub fn u64(&mut self, field: &'static str) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }
    pub fn i64(&mut self, field: &'static str) -> Result<i64, DecodeError> {
        Ok(i64::from_be_bytes(self.array(field)?))
    }
    pub fn short_bytes(
        &mut self,
        field: &'static str,
        max: usize,
    ) -> Result<&'a [u8], DecodeError> {
        let len = self.u16(field)? as usize;
        if len > max {
            return Err(DecodeError::TooLong { field, len, max });
        }
        self.take(len, field)
    }
    pub fn long_bytes(&mut self, field: &'static str, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = self.u32(field)? as usize;
        if len > max {
            return Err(DecodeError::TooLong { field, len, max });
        }
        self.take(len, field)
    }
    pub fn finish(self) -> Result<(), DecodeError> {
        match self.bytes.len() - self.offset {
            0 => Ok(()),
            extra => Err(DecodeError::Trailing { extra }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::place_in;

    #[test]
    fn a_slice_has_its_place_and_a_copy_has_none() {
        let whole = b"ledger/entry".to_vec();
        assert_eq!(place_in(&whole, &whole[7..]), Some(7..12));
        assert_eq!(place_in(&whole, &whole[..0]), Some(0..0));
        let copy = whole[7..].to_vec();
        assert_eq!(place_in(&whole, &copy), None);
    }
}
