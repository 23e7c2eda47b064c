//! Where records come from: NDJSON or CSV read on a blocking thread (so parsing uses
//! another core), or records already in memory. Each yields `(line or row, record)`.

use std::io::BufRead;

use serde_json::Value;
use tokio::sync::mpsc;

/// A record, or why its line could not be read.
pub type Item = Result<Value, String>;

/// Records of an import, in order.
pub type RecordStream = mpsc::Receiver<Item>;

const BUFFER: usize = 4096;

/// The format of a record file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON record per line.
    Ndjson,
    /// A header row with record field names, then one record per row.
    Csv,
}

impl Format {
    /// Guesses the format from a file name (`.csv` is CSV, anything else NDJSON).
    pub fn of_path(path: &std::path::Path) -> Self {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Self::Csv,
            _ => Self::Ndjson,
        }
    }
}

/// Reads `reader` in `format` on a blocking thread.
pub fn read(reader: impl BufRead + Send + 'static, format: Format) -> RecordStream {
    let (tx, rx) = mpsc::channel(BUFFER);
    std::thread::spawn(move || match format {
        Format::Ndjson => ndjson(reader, &tx),
        Format::Csv => csv(reader, &tx),
    });
    rx
}

fn ndjson(mut reader: impl BufRead, tx: &mpsc::Sender<Item>) {
    let mut line = String::new();
    loop {
        line.clear();
        let (item, stop) = match reader.read_line(&mut line) {
            Ok(0) => return,
            Ok(_) if line.trim().is_empty() => continue,
            Ok(_) => {
                (serde_json::from_str::<Value>(line.trim()).map_err(|e| format!("the line is not JSON: {e}")), false)
            }
            // The line's bytes were consumed: the next line can still be read.
            Err(e) if e.kind() == std::io::ErrorKind::InvalidData => (Err("the line is not UTF-8".to_owned()), false),
            Err(e) => (Err(format!("reading failed: {e}")), true),
        };
        if tx.blocking_send(item).is_err() || stop {
            return;
        }
    }
}

fn csv(reader: impl BufRead, tx: &mpsc::Sender<Item>) {
    let mut r = ::csv::ReaderBuilder::new().flexible(false).from_reader(reader);
    let headers: Vec<String> = match r.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_owned()).collect(),
        Err(e) => {
            let _ = tx.blocking_send(Err(format!("the CSV header row cannot be read: {e}")));
            return;
        }
    };
    for row in r.records() {
        let item = match row {
            Ok(row) => {
                let cells: Vec<String> = row.iter().map(str::to_owned).collect();
                super::record::csv_row(&headers, &cells)
            }
            Err(e) => Err(format!("the CSV row cannot be read: {e}")),
        };
        if tx.blocking_send(item).is_err() {
            return;
        }
    }
}

/// Records already in memory (a JSON request's `records`).
pub fn values(records: Vec<Value>) -> RecordStream {
    let (tx, rx) = mpsc::channel(BUFFER);
    tokio::spawn(async move {
        for r in records {
            if tx.send(Ok(r)).await.is_err() {
                return;
            }
        }
    });
    rx
}
