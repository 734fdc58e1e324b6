//! Printing shared by the commands: the `--format` option, records streamed as text lines under
//! a header, one JSON array or one JSON object per line, tables, counted nouns, and the
//! destination of `-o`/`--output` (`-` is standard output).

use anyhow::{Context, Result};
use clap::ValueEnum;
use ledger::export::{self, TableFormat};
use ledger::projection::Table;
use serde::Serialize;
use std::borrow::Cow;
use std::io::{self, Write};
use std::path::Path;

/// How a command prints its records.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Ndjson,
}

/// The `--format` option of commands that print records.
#[derive(clap::Args)]
pub struct FormatArg {
    /// Output format: text for people, json for one JSON document, ndjson for one JSON object
    /// per line.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// "1 entry", "2 entries".
pub fn count(n: impl Into<u64>, one: &str, many: &str) -> String {
    let n = n.into();
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Records written one at a time, so that a long listing needs no memory: text lines (the
/// caller writes the header), a JSON array with one record per line, or NDJSON.
pub struct Records<'a> {
    out: &'a mut dyn Write,
    format: Format,
    written: usize,
}

impl<'a> Records<'a> {
    /// Starts a listing; `header` is the text format's first line.
    pub fn start(out: &'a mut dyn Write, format: Format, header: &str) -> io::Result<Self> {
        if format == Format::Text {
            writeln!(out, "{header}")?;
        }
        Ok(Records {
            out,
            format,
            written: 0,
        })
    }

    /// Writes `record` as JSON, or `text` as its line.
    pub fn push(&mut self, record: &impl Serialize, text: impl FnOnce() -> String) -> Result<()> {
        match self.format {
            Format::Text => writeln!(self.out, "{}", for_person(&text()))?,
            Format::Json => {
                self.out
                    .write_all(if self.written == 0 { b"[\n" } else { b",\n" })?;
                serde_json::to_writer(&mut *self.out, record)?;
            }
            Format::Ndjson => {
                serde_json::to_writer(&mut *self.out, record)?;
                writeln!(self.out)?;
            }
        }
        self.written += 1;
        Ok(())
    }

    pub fn finish(self) -> io::Result<()> {
        match (self.format, self.written) {
            (Format::Json, 0) => writeln!(self.out, "[]"),
            (Format::Json, _) => writeln!(self.out, "\n]"),
            _ => Ok(()),
        }
    }
}

/// One record: pretty JSON, one NDJSON line, or `text`.
pub fn write_one(
    out: &mut dyn Write,
    format: Format,
    record: &impl Serialize,
    text: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    match format {
        Format::Text => {
            let mut person = ForPerson::new(out);
            text(&mut person)?;
            person.finish()?;
        }
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, record)?;
            writeln!(out)?;
        }
        Format::Ndjson => {
            serde_json::to_writer(&mut *out, record)?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// A table in `format`: aligned columns under a header for text.
pub fn write_table(out: &mut dyn Write, format: Format, table: &Table) -> io::Result<()> {
    match format {
        Format::Text => {
            let mut person = ForPerson::new(out);
            export::write_table(table, TableFormat::Table, &mut person)?;
            person.finish()
        }
        Format::Json => export::write_table(table, TableFormat::Json, out),
        Format::Ndjson => export::write_table(table, TableFormat::Ndjson, out),
    }
}

/// Text as it may be shown to a person: every control character (C0 but the line feed, DEL,
/// C1) and every bidirectional override or isolate (U+202A to U+202E, U+2066 to U+2069) as
/// `\u{..}`. Free text keeps such characters as signed; printed raw, they could move the cursor,
/// rewrite a line or reorder it, so that a person reads something the log does not say. JSON
/// and CSV output keep them, as data.
pub fn for_person(text: &str) -> Cow<'_, str> {
    // The line feed ends lines of text output; every line is escaped on its own.
    let fights = |c: char| c != '\n' && ledger::payload::acts_on_display(c);
    if !text.contains(fights) {
        return Cow::Borrowed(text);
    }
    let mut shown = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if fights(c) {
            shown.extend(c.escape_unicode());
        } else {
            shown.push(c);
        }
    }
    Cow::Owned(shown)
}

/// A writer that passes text on line by line through [`for_person`], for output meant to be
/// read by a person (`--format text`, tables). A line is whole UTF-8 when its `\n` arrives, so
/// no character is split; [`ForPerson::finish`] writes an unterminated last line.
pub struct ForPerson<'a> {
    out: &'a mut dyn Write,
    line: Vec<u8>,
}

impl<'a> ForPerson<'a> {
    pub fn new(out: &'a mut dyn Write) -> Self {
        ForPerson {
            out,
            line: Vec::new(),
        }
    }

    fn pass_on(&mut self) -> io::Result<()> {
        let text = String::from_utf8_lossy(&self.line);
        self.out.write_all(for_person(&text).as_bytes())?;
        self.line.clear();
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.pass_on()?;
        self.out.flush()
    }
}

impl Write for ForPerson<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        for part in bytes.split_inclusive(|b| *b == b'\n') {
            self.line.extend_from_slice(part);
            if part.ends_with(b"\n") {
                self.pass_on()?;
            }
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Runs `write` on standard output when `path` is `None` or `-`, else on a new file at `path`.
pub fn to_path_or_stdout(
    path: Option<&Path>,
    stdout: &mut dyn Write,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    match path {
        None => Ok(write(stdout)?),
        Some(p) if p == Path::new("-") => Ok(write(stdout)?),
        Some(path) => write_file(path, write),
    }
}

/// Writes a file a command was asked for (`-o FILE`, `--out FILE`) whole or not at all: into a
/// new file beside it, made durable, then renamed over it, so that a full disk or a kill leaves
/// the old file (or none) and no part of the new one. A FIFO or a device (`/dev/stdout`) cannot
/// be renamed over and is written directly.
pub fn write_file(path: &Path, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    use std::os::unix::fs::FileTypeExt;
    let failed = || format!("cannot write {}", path.display());
    let special = std::fs::metadata(path).is_ok_and(|m| {
        let kind = m.file_type();
        kind.is_fifo() || kind.is_char_device() || kind.is_block_device() || kind.is_socket()
    });
    if special {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .with_context(failed)?;
        return write(&mut file).with_context(failed);
    }
    let Some(name) = path.file_name() else {
        anyhow::bail!("{} names no file", path.display());
    };
    let mut temp_name = std::ffi::OsString::from(".ledger-");
    temp_name.push(name);
    temp_name.push(format!(".{}", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = (|| {
        let mut out = io::BufWriter::new(
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temp)?,
        );
        write(&mut out)?;
        out.into_inner()
            .map_err(io::IntoInnerError::into_error)?
            .sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.with_context(failed)
}

/// A note for people on standard error (progress, where a file went). A closed standard error
/// is no reason to fail a command that did its work.
pub fn note(text: &str) {
    let _ = writeln!(io::stderr(), "{}", for_person(text));
}
