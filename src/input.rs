//! Reading events from text: one JSON object `{"type": ..., "data": {...}}`, or NDJSON with one
//! such object per line. Each event keeps the exact bytes of its `data` (what will be validated
//! and signed) and the line it started on, so that every later error can name it.
//!
//! It only splits and shapes input; schemas and rules are checked elsewhere.

use serde::Deserialize;
use serde_json::value::RawValue;

/// One event as given, before validation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventInput {
    /// 1-based line where the event starts; `None` for events the CLI builds itself.
    pub line: Option<usize>,
    pub event_type: String,
    /// The exact bytes of `data`.
    pub payload: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("the input is not valid UTF-8 (line {line}, byte {byte}); save it as UTF-8")]
    NotUtf8 { line: usize, byte: usize },
    #[error("line {line}: not valid JSON: {message}")]
    Json { line: usize, message: String },
    #[error("line {line}: {message}")]
    Shape { line: usize, message: String },
    #[error("the input holds no events")]
    Empty,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    event_type: String,
    #[serde(borrow)]
    data: &'a RawValue,
}

fn leading_whitespace(text: &str) -> usize {
    text.len() - text.trim_start().len()
}

/// Line numbers of byte offsets that only move forward, counted incrementally so that numbering
/// a large input stays linear.
struct LineCounter<'a> {
    text: &'a str,
    offset: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a str) -> Self {
        LineCounter {
            text,
            offset: 0,
            line: 1,
        }
    }

    /// The 1-based line of `byte`, which is at or after every byte asked about before.
    fn line_of(&mut self, byte: usize) -> usize {
        let byte = byte.clamp(self.offset, self.text.len());
        self.line += self.text.as_bytes()[self.offset..byte]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.offset = byte;
        self.line
    }
}

/// Splits input into events. Both a single (possibly pretty-printed) object and NDJSON are read
/// as a stream of JSON values; each must be an envelope object.
pub fn parse_events(bytes: &[u8]) -> Result<Vec<EventInput>, InputError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let byte = e.valid_up_to();
        InputError::NotUtf8 {
            line: 1 + bytes[..byte].iter().filter(|&&b| b == b'\n').count(),
            byte,
        }
    })?;
    let mut events = Vec::new();
    let mut lines = LineCounter::new(text);
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<&RawValue>();
    loop {
        let start = stream.byte_offset();
        let raw = match stream.next() {
            None => break,
            Some(Ok(raw)) => raw,
            Some(Err(e)) => {
                // At end of input the parser's position is past the last line; the object that
                // was left open is the one to name.
                let line = if e.is_eof() {
                    lines.line_of(start + leading_whitespace(&text[start..]))
                } else {
                    e.line()
                };
                return Err(InputError::Json {
                    line,
                    message: strip_position(&e),
                });
            }
        };
        // The offset before the value includes leading whitespace; count from the value itself.
        let line = lines.line_of(start + leading_whitespace(&text[start..]));
        let envelope: Envelope =
            serde_json::from_str(raw.get()).map_err(|e| InputError::Shape {
                line,
                message: format!(
                    "expected an object {{\"type\": \"...\", \"data\": {{...}}}}: {}",
                    strip_position(&e)
                ),
            })?;
        if !envelope.data.get().trim_start().starts_with('{') {
            return Err(InputError::Shape {
                line,
                message: "`data` must be a JSON object".into(),
            });
        }
        events.push(EventInput {
            line: Some(line),
            event_type: envelope.event_type,
            payload: envelope.data.get().as_bytes().to_vec(),
        });
    }
    if events.is_empty() {
        return Err(InputError::Empty);
    }
    Ok(events)
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
    fn an_object_cut_off_at_the_end_names_the_line_it_started_on() {
        let err = parse_events(b"{\"type\":\"a\",\"data\":{}}\n{\"type\":\"a\",\"data\":{\n")
            .unwrap_err();
        assert!(matches!(err, InputError::Json { line: 2, .. }), "{err:?}");
    }

    #[test]
    fn unknown_envelope_field_is_rejected() {
        let err = parse_events(b"{\"type\":\"a\",\"data\":{},\"extra\":1}").unwrap_err();
        assert!(err.to_string().contains("unknown field `extra`"), "{err}");
    }
}
