//! What a projection yields: rows of [`Cell`]s under named columns, made one at a time
//! ([`Rows`]) so that a large view is written out without its rows held beside its state, or
//! gathered into a [`Table`] when a view is small. How rows are written out (CSV, JSON, text) is
//! `export`'s and the CLI's business, never this module's.

/// One cell of a projection's output.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    Real(f64),
}

impl Cell {
    pub fn text(value: impl Into<String>) -> Cell {
        Cell::Text(value.into())
    }

    /// Text, or an empty cell for the empty string.
    pub fn non_empty(value: &str) -> Cell {
        if value.is_empty() {
            Cell::Empty
        } else {
            Cell::text(value)
        }
    }

    pub fn optional_text(value: Option<&str>) -> Cell {
        value.map_or(Cell::Empty, Cell::text)
    }

    pub fn count(value: usize) -> Cell {
        Cell::Int(i64::try_from(value).unwrap_or(i64::MAX))
    }

    pub fn seq(value: u64) -> Cell {
        Cell::Int(i64::try_from(value).unwrap_or(i64::MAX))
    }

    pub fn optional_seq(value: Option<u64>) -> Cell {
        value.map_or(Cell::Empty, Cell::seq)
    }
}

pub type Row = Vec<Cell>;

/// A view's rows in order, each made as it is asked for from the view's state.
pub type Rows<'a> = Box<dyn Iterator<Item = Row> + 'a>;

/// A view's rows to write: made afresh each time they are asked for, since the aligned text
/// format reads them twice (widths, then lines) rather than holding them.
pub type RowSource<'a> = dyn Fn() -> Rows<'a> + 'a;

/// A projection's output: its columns (part of the contract) and rows.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub name: &'static str,
    pub columns: &'static [&'static str],
    pub rows: Vec<Row>,
}
