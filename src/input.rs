//! Reading events from text: one JSON object `{"type": ..., "data": {...}}`, or NDJSON with one
//! such object per line, read as a stream in bounded blocks so that an input of any size never
//! sits in memory whole. Each event keeps the exact bytes of its `data` (what will be validated
//! and signed) and the line it started on (lines end at LF, CRLF or CR, as [`crate::lines`]
//! counts them), so that every later error can name it.
//!
//! It only splits and shapes input; schemas and rules are checked elsewhere.

use crate::lines::LineCounter;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::{ErrorKind, Read};

/// One event as given, before validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventInput {
    /// 1-based line where the event starts; `None` for events the CLI builds itself.
    pub line: Option<usize>,
    pub event_type: String,
    /// The exact bytes of `data`.
    pub payload: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("the input is not valid UTF-8 (line {line}, byte {byte}); save it as UTF-8")]
    NotUtf8 { line: usize, byte: usize },
    #[error("line {line}: not valid JSON: {message}")]
    Json { line: usize, message: String },
    #[error("line {line}: {message}")]
    Shape { line: usize, message: String },
    #[error("line {line}: the event runs past {} MiB without ending; an event's data holds at most {} KiB", MAX_EVENT_TEXT >> 20, crate::statement::MAX_PAYLOAD_BYTES >> 10)]
    TooLong { line: usize },
    #[error("the input holds no events")]
    Empty,
    #[error("the input could not be read")]
    Read {
        #[source]
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(borrow)]
    data: &'a RawValue,
}

/// How much is read at a time; a block grows past this only while one event needs it.
const BLOCK: usize = 1 << 20;

/// The most text one event may take, its spaces and line breaks included. Its data is at most
/// [`crate::statement::MAX_PAYLOAD_BYTES`], so an event this long is never one that could be
/// signed; stopping here keeps a line that never ends from filling memory.
pub const MAX_EVENT_TEXT: usize = 1 << 20;

/// JSON's whitespace, which may precede a value.
const WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];

fn leading_whitespace(text: &str) -> usize {
    text.len() - text.trim_start_matches(WHITESPACE).len()
}

/// Bytes after which a block of text can be cut without cutting a token: whitespace, structural
/// characters and quotes end every number and literal. Cut there, a value the parser has not
/// finished ends in one of serde_json's end-of-input errors, never in a wrong verdict (a cut
/// number such as `1.` or `-` would be "invalid number", a cut `12` a complete 12). None of them
/// is part of a multi-byte UTF-8 character.
fn is_cut_point(byte: &u8) -> bool {
    matches!(
        byte,
        b' ' | b'\t' | b'\n' | b'\r' | b'{' | b'}' | b'[' | b']' | b',' | b':' | b'"'
    )
}

/// Splits input into events, reading it all at once: the same reader as [`read_events`], for
/// input already in memory.
pub fn parse_events(bytes: &[u8]) -> Result<Vec<EventInput>, InputError> {
    read_events(bytes).collect()
}

/// Reads events from `reader` as they come. Both a single (possibly pretty-printed) object and
/// NDJSON are read as a stream of JSON values; each must be an envelope object. The first error
/// in the input's order ends the stream; an input with no events at all gives
/// [`InputError::Empty`].
pub fn read_events<R: Read>(reader: R) -> EventReader<R> {
    EventReader::with_block(reader, BLOCK)
}

/// The events of a reader, in order; see [`read_events`].
/// The byte order mark, U+FEFF, as UTF-8 starts a file with it.
const BOM: &str = "\u{feff}";

pub struct EventReader<R> {
    reader: R,
    block: usize,
    /// Text read and checked to be UTF-8; `text[pos..]` is not consumed yet.
    text: String,
    pos: usize,
    /// `text[..limit]` ends at a cut point, or at the end of the input.
    limit: usize,
    /// Bytes read but not yet in `text`: the start of a character the next read completes, or,
    /// once `invalid` is set, the bytes from the first that is not UTF-8.
    raw: Vec<u8>,
    invalid: bool,
    eof: bool,
    /// Offset of `text[0]` in the whole input.
    base: usize,
    /// The line of `text[counted]`, counted forward as the reader moves on.
    lines: LineCounter,
    counted: usize,
    any: bool,
    done: bool,
}

/// What one attempt to parse the next value found.
enum Step {
    Event(EventInput),
    /// The text read so far ends before the next value does.
    NeedMore,
}

impl<R: Read> EventReader<R> {
    fn with_block(reader: R, block: usize) -> Self {
        EventReader {
            reader,
            block: block.max(1),
            text: String::new(),
            pos: 0,
            limit: 0,
            raw: Vec::new(),
            invalid: false,
            eof: false,
            base: 0,
            lines: LineCounter::default(),
            counted: 0,
            any: false,
            done: false,
        }
    }

    /// The 1-based line of `text[at]`, which is at or after every offset asked about before.
    fn line_of(&mut self, at: usize) -> usize {
        let at = at.clamp(self.counted, self.text.len());
        self.lines.count(&self.text.as_bytes()[self.counted..at]);
        self.counted = at;
        usize::try_from(self.lines.line()).unwrap_or(usize::MAX)
    }

    /// Whether `text[..limit]` is all the input there is to parse.
    fn at_end(&self) -> bool {
        self.eof && !self.invalid && self.limit == self.text.len()
    }

    /// Parses the value at `pos`, if the text read so far holds all of it.
    fn step(&mut self) -> Result<Step, InputError> {
        let start = self.pos;
        let text = &self.text[start..self.limit];
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
        let value_start = start + leading_whitespace(text);
        let raw = match stream.next() {
            None => {
                self.pos = self.limit;
                return Ok(Step::NeedMore);
            }
            Some(Err(e)) if e.is_eof() && !self.at_end() => return Ok(Step::NeedMore),
            Some(Err(e)) => {
                // At end of input the parser's position is past the last line; the object that
                // was left open is the one to name.
                let line = if e.is_eof() {
                    self.line_of(value_start)
                } else {
                    self.line_of(start + error_offset(text, &e))
                };
                return Err(InputError::Json {
                    line,
                    message: strip_position(&e),
                });
            }
            Some(Ok(raw)) => raw,
        };
        let end = start + stream.byte_offset();
        let event = shape(raw);
        let line = self.line_of(value_start);
        self.pos = end;
        let (event_type, payload) = event.map_err(|message| InputError::Shape { line, message })?;
        Ok(Step::Event(EventInput {
            line: Some(line),
            event_type,
            payload,
        }))
    }

    /// Reads the next block (at least as much again as is held, so that re-parsing an event that
    /// spans blocks stays linear), after dropping the text already consumed.
    fn fill(&mut self) -> std::io::Result<()> {
        self.line_of(self.pos);
        self.text.drain(..self.pos);
        self.base += self.pos;
        self.counted -= self.pos;
        self.pos = 0;
        let held = self.raw.len();
        let want = self.block.max(self.text.len());
        self.raw.resize(held + want, 0);
        let mut filled = held;
        while filled < self.raw.len() {
            match self.reader.read(&mut self.raw[filled..]) {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.raw.truncate(filled);
                    return Err(e);
                }
            }
        }
        self.raw.truncate(filled);
        let valid = match std::str::from_utf8(&self.raw) {
            Ok(text) => {
                self.text.push_str(text);
                self.raw.len()
            }
            Err(e) => {
                let valid = e.valid_up_to();
                self.invalid = e.error_len().is_some() || self.eof;
                self.text
                    .push_str(std::str::from_utf8(&self.raw[..valid]).unwrap_or_default());
                valid
            }
        };
        self.raw.drain(..valid);
        self.limit = if self.eof && !self.invalid {
            self.text.len()
        } else {
            self.text
                .as_bytes()
                .iter()
                .rposition(is_cut_point)
                .map_or(0, |i| i + 1)
        };
        // A byte order mark, which Windows editors put at the start of UTF-8 files, is no part
        // of the first value: passed over like the whitespace between values.
        if self.base == 0 && self.pos == 0 && self.text.starts_with(BOM) {
            self.pos = BOM.len();
            self.limit = self.limit.max(self.pos);
        }
        Ok(())
    }

    /// The error for the first byte that is not UTF-8, once every value before it is read.
    fn not_utf8(&mut self) -> InputError {
        let end = self.text.len();
        InputError::NotUtf8 {
            line: self.line_of(end),
            byte: self.base + end,
        }
    }
}

impl<R: Read> Iterator for EventReader<R> {
    type Item = Result<EventInput, InputError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        loop {
            let result = match self.step() {
                Ok(Step::Event(event)) => Ok(event),
                Err(e) => Err(e),
                Ok(Step::NeedMore) if self.invalid => Err(self.not_utf8()),
                Ok(Step::NeedMore) if self.at_end() => {
                    self.done = true;
                    return (!self.any).then_some(Err(InputError::Empty));
                }
                Ok(Step::NeedMore) if self.text.len() - self.pos > MAX_EVENT_TEXT => {
                    let start = self.pos + leading_whitespace(&self.text[self.pos..]);
                    Err(InputError::TooLong {
                        line: self.line_of(start),
                    })
                }
                Ok(Step::NeedMore) => match self.fill() {
                    Ok(()) => continue,
                    Err(source) => Err(InputError::Read { source }),
                },
            };
            self.any = true;
            self.done = result.is_err();
            return Some(result);
        }
    }
}

/// The type and exact `data` bytes of an envelope, or what is wrong with its shape.
fn shape(raw: &RawValue) -> Result<(String, Vec<u8>), String> {
    let envelope: Envelope = serde_json::from_str(raw.get()).map_err(|e| {
        format!(
            "expected an object {{\"type\": \"...\", \"data\": {{...}}}}: {}",
            strip_position(&e)
        )
    })?;
    if !envelope.data.get().trim_start().starts_with('{') {
        return Err("`data` must be a JSON object".into());
    }
    Ok((envelope.event_type, envelope.data.get().as_bytes().to_vec()))
}

/// Where in `text` the byte lies that a serde_json error over it names. serde_json gives a line
/// counted in LFs alone and the byte's 1-based place in it; the offset lets [`LineCounter`]
/// name the line whatever the line ends.
fn error_offset(text: &str, e: &serde_json::Error) -> usize {
    let line_start = match e.line().checked_sub(2) {
        None => 0,
        Some(lfs_before) => text
            .bytes()
            .enumerate()
            .filter(|&(_, b)| b == b'\n')
            .nth(lfs_before)
            .map_or(text.len(), |(i, _)| i + 1),
    };
    (line_start + e.column().saturating_sub(1)).min(text.len())
}

/// serde_json appends " at line L column C"; the line is reported separately.
fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ndjson_lines_are_numbered_and_data_bytes_kept_exactly() {
        let text =
            b"{\"type\":\"a\",\"data\":{\"x\": 1}}\n\n{\"type\":\"b\",\"data\":{ \"y\":2 }}\n";
        let events = parse_events(text).unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!((events[0].line, events[1].line), (Some(1), Some(3)));
        assert_eq!(events[1].payload, b"{ \"y\":2 }");
    }

    #[test]
    fn malformed_json_names_its_line() {
        let err = parse_events(b"{\"type\":\"a\",\"data\":{}}\n{\"type\": oops}\n").unwrap_err();
        assert!(matches!(err, InputError::Json { line: 2, .. }), "{err:?}");
    }

    #[test]
    fn lines_are_the_files_whatever_its_line_ends() {
        for end in ["\n", "\r\n", "\r"] {
            let event = "{\"type\":\"a\",\"data\":{}}";
            let text = [event, "", event, "{\"type\":", "oops}"].join(end);
            let mut events = read_events(text.as_bytes());
            assert_eq!(events.next().unwrap().unwrap().line, Some(1));
            assert_eq!(events.next().unwrap().unwrap().line, Some(3));
            let err = events.next().unwrap().unwrap_err();
            assert!(
                matches!(err, InputError::Json { line: 5, .. }),
                "{end:?}: {err:?}"
            );
        }
    }

    #[test]
    fn an_object_cut_off_at_the_end_names_the_line_it_started_on() {
        let err = parse_events(b"{\"type\":\"a\",\"data\":{}}\n{\"type\":\"a\",\"data\":{\n")
            .unwrap_err();
        assert!(matches!(err, InputError::Json { line: 2, .. }), "{err:?}");
    }

    #[test]
    fn a_byte_order_mark_before_the_first_value_is_passed_over_whatever_the_reads() {
        let input = "\u{feff}{\"type\":\"a\",\"data\":{}}\n{\"type\":\"b\",\"data\":{}}\n";
        for block in 1..8 {
            let events = streamed(input.as_bytes(), block).unwrap();
            let lines: Vec<Option<usize>> = events.iter().map(|e| e.line).collect();
            assert_eq!(lines, [Some(1), Some(2)], "block {block}");
        }
        // Anywhere else it is no whitespace.
        let later = "{\"type\":\"a\",\"data\":{}}\n\u{feff}{\"type\":\"b\",\"data\":{}}\n";
        assert!(streamed(later.as_bytes(), 4).is_err());
    }

    #[test]
    fn an_event_that_never_ends_is_refused_at_its_limit_naming_its_line() {
        let first = "{\"type\":\"a\",\"data\":{}}\n\n".as_bytes();
        let endless = first
            .chain("{\"type\":\"a\",\"data\":{\"x\":\"".as_bytes())
            .chain(std::io::repeat(b'x'));
        let mut events = read_events(endless);
        assert!(events.next().unwrap().is_ok());
        let err = events.next().unwrap().unwrap_err();
        assert!(matches!(err, InputError::TooLong { line: 3 }), "{err:?}");
        assert!(events.next().is_none());
        // An event just within the limit, spaces and all, is read.
        let padded = format!(
            "{{\"type\":\"a\",\"data\":{{}}{}}}",
            " ".repeat(MAX_EVENT_TEXT - 30)
        );
        assert_eq!(parse_events(padded.as_bytes()).unwrap().len(), 1);
    }

    #[test]
    fn unknown_envelope_field_is_rejected() {
        let err = parse_events(b"{\"type\":\"a\",\"data\":{},\"extra\":1}").unwrap_err();
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
    }

    #[test]
    fn events_before_a_byte_that_is_not_utf8_are_read_and_the_byte_is_named() {
        let input = b"{\"type\":\"a\",\"data\":{}}\n{\"type\":\"a\",\"data\":{\"x\":\"\xff\"}}\n";
        let mut events = read_events(&input[..]);
        assert!(matches!(events.next(), Some(Ok(_))));
        let err = events.next().unwrap().unwrap_err();
        assert!(
            matches!(err, InputError::NotUtf8 { line: 2, byte: 48 }),
            "{err:?}"
        );
        assert!(events.next().is_none());
    }

    /// A reader that fails after its bytes run out.
    struct Failing<'a>(&'a [u8]);

    impl Read for Failing<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            if self.0.is_empty() {
                return Err(std::io::Error::other("the disk went away"));
            }
            self.0.read(buf)
        }
    }

    #[test]
    fn a_failed_read_ends_the_events_with_its_cause() {
        let input = b"{\"type\":\"a\",\"data\":{}}\n{\"type\":\"a\",";
        let mut events = EventReader::with_block(Failing(input), 8);
        assert!(matches!(events.next(), Some(Ok(_))));
        let err = events.next().unwrap().unwrap_err();
        let InputError::Read { source } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(source.to_string(), "the disk went away");
        assert!(events.next().is_none());
    }

    #[test]
    fn memory_is_bounded_by_the_block_and_the_longest_event_not_the_input() {
        let line = "{\"type\":\"incident.reported\",\"data\":{\"note\":\"é€😀 ...\"}}\n";
        let input = line.repeat(20_000);
        let mut events = EventReader::with_block(input.as_bytes(), 256);
        let mut read = 0;
        for event in events.by_ref() {
            event.unwrap();
            read += 1;
        }
        assert_eq!(read, 20_000);
        assert!(
            events.text.capacity() <= 4 * (256 + line.len()),
            "{} bytes held for a {}-byte input",
            events.text.capacity(),
            input.len()
        );
    }

    /// `parse_events` as it was before reading was streamed: the whole input checked as UTF-8
    /// first, then one serde_json stream over all of it. The streaming reader must agree with it.
    fn whole_input(bytes: &[u8]) -> Result<Vec<EventInput>, InputError> {
        let line_of = |at: usize| {
            let mut lines = LineCounter::default();
            lines.count(&bytes[..at]);
            usize::try_from(lines.line()).unwrap()
        };
        let text = std::str::from_utf8(bytes).map_err(|e| {
            let byte = e.valid_up_to();
            InputError::NotUtf8 {
                line: line_of(byte),
                byte,
            }
        })?;
        let mut events = Vec::new();
        let mut stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
        loop {
            let start = stream.byte_offset();
            let value_start = start + leading_whitespace(&text[start..]);
            let raw = match stream.next() {
                None => break,
                Some(Ok(raw)) => raw,
                Some(Err(e)) => {
                    let line = if e.is_eof() {
                        line_of(value_start)
                    } else {
                        line_of(error_offset(text, &e))
                    };
                    return Err(InputError::Json {
                        line,
                        message: strip_position(&e),
                    });
                }
            };
            let line = line_of(value_start);
            let (event_type, payload) =
                shape(raw).map_err(|message| InputError::Shape { line, message })?;
            events.push(EventInput {
                line: Some(line),
                event_type,
                payload,
            });
        }
        if events.is_empty() {
            return Err(InputError::Empty);
        }
        Ok(events)
    }

    fn streamed(bytes: &[u8], block: usize) -> Result<Vec<EventInput>, String> {
        EventReader::with_block(bytes, block)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("{e:?}"))
    }

    fn scalar() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            (-1e6f64..1e6).prop_map(serde_json::Value::from),
            "[a-z é€😀\"\\\\\n\t\u{1}]{0,8}".prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
        ]
    }

    fn value() -> impl Strategy<Value = serde_json::Value> {
        scalar().prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-zé]{1,3}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// One value of the stream: mostly envelopes, some of the wrong shape, and bare tokens
    /// whose end is ambiguous when cut (numbers, literals, escapes).
    fn piece() -> impl Strategy<Value = String> {
        let envelope = (
            "[a-z.é€😀]{0,8}",
            prop::collection::btree_map("[a-zé]{1,4}", value(), 0..4),
            any::<bool>(),
        )
            .prop_map(|(event_type, data, pretty)| {
                let envelope = serde_json::json!({
                    "type": event_type,
                    "data": serde_json::Value::Object(data.into_iter().collect()),
                });
                if pretty {
                    serde_json::to_string_pretty(&envelope).unwrap()
                } else {
                    envelope.to_string()
                }
            });
        prop_oneof![
            6 => envelope,
            1 => value().prop_map(|v| v.to_string()),
            1 => prop::sample::select(vec![
                "12", "-1.5e3", "1.", "-", "1e", "true", "nul", "\"\\u12", "\"\\", "é", "😀",
                "{\"type\":\"a\",\"data\":{},\"extra\":1}", "{\"type\":\"a\",\"data\":[]}",
                "{\"type\":\"a\",\"data\":{\"x\":",
            ])
            .prop_map(String::from),
        ]
    }

    fn separator() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            "\n", "\r\n", "\r", " ", "", "\n\n", "\t\r\n  ", "\r\r\n",
        ])
    }

    /// A byte-level change that can break the JSON, the UTF-8, or both.
    #[derive(Debug, Clone)]
    enum Mutation {
        Insert(prop::sample::Index, u8),
        Delete(prop::sample::Index),
        Truncate(prop::sample::Index),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let byte = prop::sample::select(vec![
            0xff, 0xc3, 0x80, 0xe2, 0xf0, b'"', b'{', b'}', b'\n', b'1', b'-', b'\\', b' ',
        ]);
        prop_oneof![
            (any::<prop::sample::Index>(), byte).prop_map(|(at, b)| Mutation::Insert(at, b)),
            any::<prop::sample::Index>().prop_map(Mutation::Delete),
            any::<prop::sample::Index>().prop_map(Mutation::Truncate),
        ]
    }

    fn input() -> impl Strategy<Value = Vec<u8>> {
        (
            prop::collection::vec((separator(), piece()), 0..6),
            separator(),
            prop::collection::vec(mutation(), 0..3),
        )
            .prop_map(|(pieces, tail, mutations)| {
                let mut bytes = Vec::new();
                for (separator, piece) in pieces {
                    bytes.extend_from_slice(separator.as_bytes());
                    bytes.extend_from_slice(piece.as_bytes());
                }
                bytes.extend_from_slice(tail.as_bytes());
                for mutation in mutations {
                    match mutation {
                        Mutation::Insert(at, b) => bytes.insert(at.index(bytes.len() + 1), b),
                        Mutation::Delete(at) if !bytes.is_empty() => {
                            bytes.remove(at.index(bytes.len()));
                        }
                        Mutation::Truncate(at) => bytes.truncate(at.index(bytes.len() + 1)),
                        Mutation::Delete(_) => {}
                    }
                }
                bytes
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn streaming_in_any_block_size_reads_what_reading_it_whole_reads(
            bytes in input(),
            block in 1usize..48,
        ) {
            let whole = streamed(&bytes, bytes.len() + 1);
            prop_assert_eq!(streamed(&bytes, block), whole.clone());
            match (std::str::from_utf8(&bytes), whole_input(&bytes)) {
                // Valid text reads exactly as the whole-input parser read it.
                (Ok(_), reference) => {
                    prop_assert_eq!(whole, reference.map_err(|e| format!("{e:?}")));
                }
                // Text that is not UTF-8 gives the same error, unless the input is wrong
                // earlier: errors come in the input's order.
                (Err(_), Err(InputError::NotUtf8 { line: bad_line, byte })) => match whole {
                    Err(_) => {
                        let err = EventReader::with_block(&bytes[..], bytes.len() + 1)
                            .find_map(Result::err)
                            .unwrap();
                        let line = match err {
                            InputError::NotUtf8 { line, byte: at } => {
                                prop_assert_eq!(at, byte);
                                line
                            }
                            InputError::Json { line, .. } | InputError::Shape { line, .. } => line,
                            other => return Err(TestCaseError::fail(format!("{other:?}"))),
                        };
                        prop_assert!(line <= bad_line, "{} after line {}", line, bad_line);
                    }
                    Ok(_) => prop_assert!(false, "input that is not UTF-8 was read"),
                },
                (Err(_), other) => prop_assert!(false, "{:?}", other),
            }
        }
    }
}
