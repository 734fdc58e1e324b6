//! A hand reader of the fields [`super::Counts`] reads, for the payloads the log holds in their
//! usual form: one pass over the bytes, each key matched as bytes, each value read or passed over
//! in place. Reading a report through serde_json was a quarter of `project regions`' samples
//! at 100,000 incidents, most of it spent per key and per value rather than in the bytes.
//!
//! It never gives a verdict of its own. Whatever it reads, it reads as serde_json reads it
//! through [`super::Counts`]' types; whatever it cannot read that way (an escaped string it
//! would have to keep, a number that is not a plain whole one, a repeated field, a nesting
//! deeper than it follows, anything malformed) it gives up on, and serde_json decides. A
//! property test holds it to that.

use super::{ChangedCounts, CorrectedCounts, Counts, NamedCounts, ReportedCounts};
use crate::event::EventType;
use std::borrow::Cow;

/// The counts of a payload, or `None` when serde_json must decide.
pub(super) fn counts(event_type: EventType, bytes: &[u8]) -> Option<Counts<'_>> {
    let mut scan = Scan { bytes, at: 0 };
    let counts = match event_type {
        EventType::IncidentReported => Counts::Reported(scan.reported()?),
        EventType::IncidentCorrected => Counts::Corrected(scan.corrected()?),
        EventType::IncidentRetracted => Counts::Retracted(scan.named()?),
        EventType::IncidentWithdrawn => Counts::Withdrawn(scan.named()?),
        EventType::IncidentReinstated => Counts::Reinstated(scan.named()?),
        _ => return None,
    };
    scan.ws();
    (scan.at == bytes.len()).then_some(counts)
}

/// How deep the arrays and objects of an unread field may nest before serde_json decides.
const DEPTH: u8 = 4;

struct Scan<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// Sets a field read once; a field read twice is serde's error, so serde_json decides.
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

impl<'a> Scan<'a> {
    fn reported(&mut self) -> Option<ReportedCounts<'a>> {
        let (mut id, mut date, mut actor1, mut admin1, mut fatalities) =
            (None, None, None, None, None);
        self.object(|scan, key| match key {
            b"incident_id" => once(&mut id, scan.text()?),
            b"event_date" => once(&mut date, scan.text()?),
            b"actor1" => once(&mut actor1, scan.text()?),
            b"admin1" => once(&mut admin1, scan.text()?),
            b"fatalities" => once(&mut fatalities, scan.whole()?),
            _ => scan.skip_value(DEPTH),
        })?;
        Some(ReportedCounts {
            incident_id: Cow::Borrowed(id?),
            event_date: Cow::Borrowed(date?),
            actor1: Cow::Borrowed(actor1?),
            admin1: admin1.map(Cow::Borrowed),
            fatalities: fatalities?,
        })
    }

    fn corrected(&mut self) -> Option<CorrectedCounts<'a>> {
        let (mut id, mut changes) = (None, None);
        self.object(|scan, key| match key {
            b"incident_id" => once(&mut id, scan.text()?),
            b"changes" => once(&mut changes, scan.changes()?),
            _ => scan.skip_value(DEPTH),
        })?;
        Some(CorrectedCounts {
            incident_id: Cow::Borrowed(id?),
            changes: changes?,
        })
    }

    fn changes(&mut self) -> Option<ChangedCounts<'a>> {
        let (mut date, mut actor1, mut admin1, mut fatalities) = (None, None, None, None);
        self.object(|scan, key| match key {
            b"event_date" => once(&mut date, scan.text()?),
            b"actor1" => once(&mut actor1, scan.text()?),
            b"admin1" => once(&mut admin1, scan.nullable_text()?),
            b"fatalities" => once(&mut fatalities, scan.whole()?),
            _ => scan.skip_value(DEPTH),
        })?;
        Some(ChangedCounts {
            event_date: date.map(Cow::Borrowed),
            actor1: actor1.map(Cow::Borrowed),
            admin1: admin1.map(|admin1| admin1.map(Cow::Borrowed)),
            fatalities,
        })
    }

    fn named(&mut self) -> Option<NamedCounts<'a>> {
        let mut id = None;
        self.object(|scan, key| match key {
            b"incident_id" => once(&mut id, scan.text()?),
            _ => scan.skip_value(DEPTH),
        })?;
        Some(NamedCounts {
            incident_id: Cow::Borrowed(id?),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    /// Passes over JSON whitespace, as serde_json counts it.
    fn ws(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// Whitespace, then `byte`.
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.ws();
        (self.peek() == Some(byte)).then(|| self.at += 1)
    }

    /// Whitespace, then `word` (`null`, `true`, `false`).
    fn word(&mut self, word: &[u8]) -> Option<()> {
        self.ws();
        self.bytes[self.at..]
            .starts_with(word)
            .then(|| self.at += word.len())
    }

    /// An object, calling `field` with each key to read its value.
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a [u8]) -> Option<()>) -> Option<()> {
        self.list(b'{', b'}', |scan| {
            scan.expect(b'"')?;
            let key = scan.plain()?;
            if !key.is_ascii() {
                return None;
            }
            scan.expect(b':')?;
            field(scan, key)
        })
    }

    /// An array or object: `open`, items read by `item` and separated by commas, `close`.
    fn list(
        &mut self,
        open: u8,
        close: u8,
        mut item: impl FnMut(&mut Self) -> Option<()>,
    ) -> Option<()> {
        self.expect(open)?;
        self.ws();
        if self.peek() == Some(close) {
            self.at += 1;
            return Some(());
        }
        loop {
            item(self)?;
            self.ws();
            match self.peek()? {
                b',' => self.at += 1,
                end if end == close => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// The bytes of a string with no escape and no control character, its opening quote read.
    fn plain(&mut self) -> Option<&'a [u8]> {
        let rest = &self.bytes[self.at..];
        let len = to_escape(rest);
        (rest.get(len) == Some(&b'"')).then(|| {
            self.at += len + 1;
            &rest[..len]
        })
    }

    /// A string, as serde_json borrows it.
    fn text(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        std::str::from_utf8(self.plain()?).ok()
    }

    /// A string or null, as a [`super::Change`] of text reads it.
    fn nullable_text(&mut self) -> Option<Option<&'a str>> {
        self.ws();
        if self.peek() == Some(b'n') {
            return self.word(b"null").map(|()| None);
        }
        self.text().map(Some)
    }

    /// A whole number written as plain digits, short enough to fit 64 bits; serde_json decides
    /// the others (a fraction or exponent, a sign, a leading zero).
    fn whole(&mut self) -> Option<u64> {
        self.ws();
        let rest = &self.bytes[self.at..];
        let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
        let plain = (1..=19).contains(&digits) && (digits == 1 || rest[0] != b'0');
        if !plain || matches!(rest.get(digits), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.at += digits;
        Some(
            rest[..digits]
                .iter()
                .fold(0, |whole, digit| whole * 10 + u64::from(digit - b'0')),
        )
    }

    /// Passes over a value as serde_json passes over a field it does not read.
    fn skip_value(&mut self, depth: u8) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => {
                self.at += 1;
                self.skip_string()
            }
            b'n' => self.word(b"null"),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            b'[' if depth > 0 => self.list(b'[', b']', |scan| scan.skip_value(depth - 1)),
            b'{' if depth > 0 => self.object(|scan, _| scan.skip_value(depth - 1)),
            _ => None,
        }
    }

    /// Passes over a string, its opening quote read: escapes as serde_json allows them, and
    /// its text not checked as UTF-8, as serde_json does not for a field it does not read.
    fn skip_string(&mut self) -> Option<()> {
        loop {
            self.at += to_escape(&self.bytes[self.at..]);
            match self.peek()? {
                b'"' => {
                    self.at += 1;
                    return Some(());
                }
                b'\\' => {
                    self.at += 1;
                    let escape = self.peek()?;
                    self.at += 1;
                    match escape {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                        b'u' => {
                            let hex = self.bytes.get(self.at..self.at + 4)?;
                            if !hex.iter().all(u8::is_ascii_hexdigit) {
                                return None;
                            }
                            self.at += 4;
                        }
                        _ => return None,
                    }
                }
                _ => return None,
            }
        }
    }

    /// Passes over a number as JSON writes one.
    fn skip_number(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.some_digits()?;
        }
        // A digit after a leading zero is not JSON.
        (!self.peek().is_some_and(|b| b.is_ascii_digit())).then_some(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }
}

/// Where the first `"`, `\` or control character of `bytes` is (their length when there is
/// none), eight bytes at a time as serde_json finds it: the lowest flagged byte of a word is
/// always one of them (a borrow only flags bytes above one that is).
fn to_escape(bytes: &[u8]) -> usize {
    const ONES: u64 = u64::MAX / 255;
    let has = |word: u64, byte: u8| {
        let diff = word ^ (ONES * u64::from(byte));
        diff.wrapping_sub(ONES) & !diff
    };
    let (words, rest) = bytes.as_chunks::<8>();
    for (i, word) in words.iter().enumerate() {
        let word = u64::from_le_bytes(*word);
        let control = word.wrapping_sub(ONES * 0x20) & !word;
        let found = (control | has(word, b'"') | has(word, b'\\')) & (ONES << 7);
        if found != 0 {
            return i * 8 + found.trailing_zeros() as usize / 8;
        }
    }
    let done = words.len() * 8;
    done + rest
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .unwrap_or(rest.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    fn serde(event_type: EventType, bytes: &[u8]) -> Option<Counts<'_>> {
        Counts::parse_serde(event_type, bytes)
    }

    /// The payloads the log holds are read by hand, not left to serde_json.
    #[test]
    fn reads_the_usual_payloads() {
        let report = br#"{"incident_id":"MLI1","event_type":"Battles","actor1":"JNIM","admin1":"Gao","fatalities":1,"event_date":"2023-01-02","notes":"report text, \"quoted\"\n","sources":["a","b"],"latitude":-14.5e0}"#;
        let correction = br#"{"incident_id":"MLI3","changes":{"fatalities":3,"admin1":null},"reason":"revised"}"#;
        let retraction = br#"{"incident_id":"MLI3","reason":"duplicate"}"#;
        for (event_type, bytes) in [
            (EventType::IncidentReported, &report[..]),
            (EventType::IncidentCorrected, correction),
            (EventType::IncidentRetracted, retraction),
        ] {
            let scanned = counts(event_type, bytes);
            assert!(scanned.is_some(), "{}", String::from_utf8_lossy(bytes));
            assert_eq!(scanned, serde(event_type, bytes));
        }
    }

    #[test]
    fn finds_the_first_escape_in_any_word() {
        for len in 0..20 {
            for at in 0..=len {
                for byte in [b'"', b'\\', 0, 0x1f] {
                    let mut bytes = vec![b'a'; len];
                    if at < len {
                        bytes[at] = byte;
                        // Bytes after the first must not move it.
                        for after in at + 1..len {
                            bytes[after] = [0x1f, b'"', 0xff, b' '][after % 4];
                        }
                    }
                    assert_eq!(to_escape(&bytes), at, "{bytes:?}");
                }
            }
        }
        assert_eq!(to_escape("é ÿ\u{7f}".as_bytes()), 6);
    }

    /// A piece of JSON text, valid or nearly so.
    fn piece() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_string()),
            Just("true".to_string()),
            Just("nul".to_string()),
            "-?(0|[1-9][0-9]{0,21})(\\.[0-9]{0,2})?([eE][+-]?[0-9]{0,2})?",
            "0[0-9]",
            "\"([a-z ]|é|\\\\[\"\\\\/bfnrtu]|\\\\u[0-9a-fA-F]{4}|\\\\u[0-9g]{2}|\\\\x|\t|\\x01|\\x7f){0,6}\"",
        ];
        leaf.prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                prop::collection::vec(inner, 0..3).prop_map(|v| {
                    let fields: Vec<String> =
                        v.iter().map(|value| format!("\"k\":{value}")).collect();
                    format!("{{{}}}", fields.join(","))
                }),
            ]
        })
    }

    /// A payload of an incident event: the fields of the usual payloads, some left out, and
    /// other fields, known or not, with values of every kind, in any order, spaced in any way,
    /// and sometimes damaged.
    fn payload() -> impl Strategy<Value = Vec<u8>> {
        let usual = vec![
            ("incident_id", r#""MLI1""#),
            ("event_date", r#""2023-01-02""#),
            ("actor1", r#""JNIM""#),
            ("admin1", r#""Gao""#),
            ("fatalities", "3"),
            (
                "changes",
                r#"{"fatalities":3,"admin1":null,"actor1":"JNIM","event_date":"2023-01-02"}"#,
            ),
            ("notes", r#""report text""#),
        ];
        let key = prop_oneof![
            Just("incident_id"),
            Just("event_date"),
            Just("actor1"),
            Just("admin1"),
            Just("fatalities"),
            Just("changes"),
            Just("reason"),
            Just("incident\\u005fid"),
            Just("é"),
        ];
        let value = prop_oneof![
            3 => piece(),
            1 => prop::collection::vec((key.clone(), piece()), 0..4).prop_map(|fields| {
                let fields: Vec<String> =
                    fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                format!("{{{}}}", fields.join(","))
            }),
        ];
        let fields = (
            prop::sample::subsequence(usual, 0..=7),
            prop::collection::vec((key, value), 0..4),
        )
            .prop_flat_map(|(usual, other)| {
                let mut fields: Vec<(String, String)> = usual
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                fields.extend(other.into_iter().map(|(k, v)| (k.to_string(), v)));
                Just(fields).prop_shuffle()
            });
        let space = || {
            prop_oneof![
                Just(""),
                Just(""),
                Just(" "),
                Just("\n\t\r "),
                Just("\u{0b}")
            ]
        };
        (
            fields,
            space(),
            space(),
            prop::option::of((any::<prop::sample::Index>(), any::<u8>(), 0..3u8)),
        )
            .prop_map(|(fields, s1, s2, damage)| {
                let fields: Vec<String> = fields
                    .iter()
                    .map(|(k, v)| format!("{s1}\"{k}\"{s2}:{s1}{v}{s2}"))
                    .collect();
                let mut bytes = format!("{s2}{{{}}}{s1}", fields.join(",")).into_bytes();
                if let Some((at, byte, how)) = damage {
                    let at = at.index(bytes.len() + 1);
                    match how {
                        0 => bytes.insert(at, byte),
                        1 if at < bytes.len() => bytes[at] = byte,
                        _ => bytes.truncate(at),
                    }
                }
                bytes
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        /// Whatever the hand reader reads, serde_json reads the same.
        #[test]
        fn reads_only_what_serde_json_reads_the_same(bytes in payload()) {
            for event_type in [
                EventType::IncidentReported,
                EventType::IncidentCorrected,
                EventType::IncidentRetracted,
            ] {
                if let Some(scanned) = counts(event_type, &bytes) {
                    prop_assert_eq!(Some(scanned), serde(event_type, &bytes));
                }
            }
        }
    }

    /// The payloads generated above reach the hand reader's readings of every incident event,
    /// so that the property is not held by its giving up on all of them.
    #[test]
    fn the_generated_payloads_are_often_read_by_hand() {
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let mut read = [0; 3];
        for _ in 0..5_000 {
            let bytes = payload().new_tree(&mut runner).unwrap().current();
            for (read, event_type) in read.iter_mut().zip([
                EventType::IncidentReported,
                EventType::IncidentCorrected,
                EventType::IncidentRetracted,
            ]) {
                *read += usize::from(counts(event_type, &bytes).is_some());
            }
        }
        assert!(
            read.iter().all(|&read| read > 100),
            "read by hand: {read:?}"
        );
    }
}
