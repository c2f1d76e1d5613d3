//! Moving records between nodes and in from other tools: JSON Lines export and import, and CSV
//! import of existing case studies.
//!
//! An export line carries the record's exact signed bytes, so the importing node verifies the
//! original author's signature; nothing in an export has to be trusted. A CSV import, by
//! contrast, makes new records signed by the local identity.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::mpsc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use convene_protocol::{Identity, Kind, Record, RecordId};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::{Batch, Draft, Node, NodeError, Outcome, Progress};

/// Lines verified together (in parallel) and stored in one transaction.
const IMPORT_CHUNK: usize = 1_024;
/// Verified chunks waiting for the store; bounds memory while verification runs ahead.
const VERIFIED_CHUNKS_IN_FLIGHT: usize = 2;
/// CSV rows stored per transaction.
const CSV_CHUNK: usize = 1_000;

/// One line of an export.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportLine {
    /// The record id, hex; checked against the bytes on import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The record's address, for people reading the file; not trusted on import.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The record's exact bytes, base64 (standard alphabet, padded).
    pub record: String,
}

impl ExportLine {
    pub fn of(record: &Record) -> ExportLine {
        ExportLine {
            id: Some(record.id().to_hex()),
            address: Some(record.address().to_string()),
            record: BASE64.encode(record.bytes()),
        }
    }
}

/// A line or row that was not imported, and why.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rejection {
    /// 1-based line number in the input.
    pub line: u64,
    pub reason: String,
}

/// What an import did (or, in a dry run, would do).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ImportReport {
    /// Lines or rows read, blank lines excluded.
    pub read: u64,
    /// Stored as a new record or a newer version.
    pub stored: u64,
    /// Already present (same record, or for CSV, same content).
    pub unchanged: u64,
    pub rejected: Vec<Rejection>,
    pub dry_run: bool,
}

/// Writes every record in `store` as JSON Lines, from one read snapshot. Returns the count.
pub(crate) fn export_store(store: &crate::Store, out: &mut dyn Write) -> Result<u64, NodeError> {
    let mut count = 0;
    let mut failure = None;
    store.for_each(None, |record| {
        let line = serde_json::to_string(&ExportLine::of(&record)).expect("plain data");
        if let Err(error) = writeln!(out, "{line}") {
            failure = Some(error);
            return false;
        }
        count += 1;
        true
    })?;
    if let Some(source) = failure {
        return Err(NodeError::Io {
            path: "export output".into(),
            source,
        });
    }
    out.flush().map_err(|source| NodeError::Io {
        path: "export output".into(),
        source,
    })?;
    Ok(count)
}

/// How a CSV's columns become record fields: a TOML file.
///
/// ```toml
/// kind = "experiment"          # the kind every row becomes
/// list_separator = ";"         # splits list fields (tags, links, contacts, expertise, ...)
/// [columns]                    # record field = CSV column header
/// title = "Project name"
/// summary = "Short description"
/// tags = "Keywords"
/// "context.budget" = "Budget band"
/// [defaults]                   # fixed values for fields the CSV lacks
/// region = "Greater Manchester"
/// ```
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    pub kind: String,
    #[serde(default = "default_separator")]
    pub list_separator: String,
    pub columns: BTreeMap<String, String>,
    #[serde(default)]
    pub defaults: BTreeMap<String, toml::Value>,
}

fn default_separator() -> String {
    ";".to_string()
}

/// A CSV import: how rows map to records, who signs them, and whether to write anything.
#[derive(Clone, Copy, Debug)]
pub struct CsvImport<'a> {
    pub mapping: &'a CsvMapping,
    /// Signs every record made from a row.
    pub identity: &'a Identity,
    /// Filled into rows that name no organisation.
    pub organisation: Option<&'a str>,
    pub dry_run: bool,
    /// Unix seconds: the records' `created_at`.
    pub now: i64,
}

const LIST_FIELDS: &[&str] = &[
    "tags",
    "links",
    "contacts",
    "expertise",
    "interests",
    "open_to",
];

impl CsvMapping {
    pub fn parse(text: &str) -> Result<CsvMapping, String> {
        let mapping: CsvMapping = toml::from_str(text).map_err(|e| e.message().to_string())?;
        mapping.kind.parse::<Kind>()?;
        if mapping.list_separator.is_empty() {
            return Err("list_separator may not be empty".into());
        }
        Ok(mapping)
    }

    fn row_to_json(
        &self,
        headers: &csv::StringRecord,
        row: &csv::StringRecord,
    ) -> serde_json::Value {
        let mut object = serde_json::Map::new();
        object.insert("kind".into(), self.kind.clone().into());
        let mut context = serde_json::Map::new();
        let mut put = |field: &str, value: serde_json::Value| match field.strip_prefix("context.") {
            Some(key) => {
                context.insert(key.to_string(), value);
            }
            None => {
                object.insert(field.to_string(), value);
            }
        };
        for (field, value) in &self.defaults {
            put(field, serde_json::to_value(value).unwrap_or_default());
        }
        for (field, column) in &self.columns {
            let Some(cell) = headers
                .iter()
                .position(|header| header.trim() == column.trim())
                .and_then(|at| row.get(at))
            else {
                continue;
            };
            let cell = cell.trim();
            if cell.is_empty() {
                continue;
            }
            let value = if LIST_FIELDS.contains(&field.as_str()) {
                cell.split(self.list_separator.as_str())
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(|item| serde_json::Value::from(item.to_string()))
                    .collect()
            } else {
                serde_json::Value::from(cell.to_string())
            };
            put(field, value);
        }
        if !context.is_empty() {
            object.insert("context".into(), context.into());
        }
        serde_json::Value::Object(object)
    }
}

impl Node {
    /// Writes every stored record, retractions included, as JSON Lines. Returns the count.
    pub fn export(&self, out: &mut dyn Write) -> Result<u64, NodeError> {
        export_store(self.store(), out)
    }

    /// Imports a JSON Lines export, verifying every record as if it came from the network.
    ///
    /// Reading and verification run on other threads (using every core), ahead of storing:
    /// each chunk of lines is stored in one transaction, and the index is committed once at the
    /// end. In a dry run nothing is written.
    pub fn import_jsonl(
        &mut self,
        input: &mut (dyn BufRead + Send),
        dry_run: bool,
        now: i64,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        let mut report = ImportReport {
            dry_run,
            ..ImportReport::default()
        };
        let mut dry_batch = if dry_run {
            Some(self.store().batch()?)
        } else {
            None
        };
        std::thread::scope(|scope| -> Result<(), NodeError> {
            let (sender, receiver) = mpsc::sync_channel(VERIFIED_CHUNKS_IN_FLIGHT);
            scope.spawn(move || read_and_verify(input, now, sender));
            for chunk in receiver {
                let chunk = chunk?;
                report.read += chunk.lines.len() as u64;
                let mut records = Vec::with_capacity(chunk.lines.len());
                let mut numbers = Vec::with_capacity(chunk.lines.len());
                for (number, verified) in chunk.lines {
                    match verified {
                        Ok(record) => {
                            records.push(record);
                            numbers.push(number);
                        }
                        Err(reason) => report.rejected.push(Rejection {
                            line: number,
                            reason,
                        }),
                    }
                }
                let outcomes = match &mut dry_batch {
                    Some(batch) => batch.apply_all(&records)?,
                    None => self.store_and_index(&records)?,
                };
                for ((record, outcome), line) in records.iter().zip(outcomes).zip(numbers) {
                    tally(&mut report, record, outcome, line);
                }
                progress.advance(chunk.bytes);
            }
            Ok(())
        })?;
        // Dropping the dry-run batch discards it.
        drop(dry_batch);
        if !dry_run {
            self.commit_index()?;
        }
        report.rejected.sort_by_key(|r| r.line);
        Ok(report)
    }

    /// Imports CSV rows as new records signed by `identity`, one per row, following `mapping`.
    /// A row whose record already exists with the same content is left alone, so importing the
    /// same file twice changes nothing.
    pub fn import_csv(
        &mut self,
        input: &mut dyn std::io::Read,
        job: &CsvImport<'_>,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        let CsvImport {
            mapping, dry_run, ..
        } = *job;
        let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(input);
        let headers = reader
            .headers()
            .map_err(|e| NodeError::Import(format!("cannot read the CSV header: {e}")))?
            .clone();
        for column in mapping.columns.values() {
            if !headers.iter().any(|h| h.trim() == column.trim()) {
                return Err(NodeError::Import(format!(
                    "the mapping names column {column:?}, which the CSV does not have (it has: {})",
                    headers.iter().collect::<Vec<_>>().join(", ")
                )));
            }
        }
        let mut report = ImportReport {
            dry_run,
            ..ImportReport::default()
        };
        let mut batch = self.store().batch()?;
        let mut pending: Vec<Record> = Vec::new();
        let mut last_offset = 0;
        for row in reader.records() {
            let row = match row {
                Ok(row) => row,
                Err(error) => {
                    let line = error.position().map_or(0, |p| p.line());
                    report.read += 1;
                    report.rejected.push(Rejection {
                        line,
                        reason: format!("unreadable CSV row: {error}"),
                    });
                    continue;
                }
            };
            let line = row.position().map_or(0, |p| p.line());
            let offset = row.position().map_or(0, |p| p.byte());
            progress.advance(offset.saturating_sub(last_offset));
            last_offset = offset;
            report.read += 1;
            match csv_row_record(&mut batch, job, &headers, &row, line) {
                Ok(Some(record)) => {
                    let outcome = batch.apply(&record)?;
                    tally(&mut report, &record, outcome, line);
                    pending.push(record);
                }
                Ok(None) => report.unchanged += 1,
                Err(reason) => report.rejected.push(Rejection { line, reason }),
            }
            if !dry_run && pending.len() >= CSV_CHUNK {
                batch = self.commit_csv_batch(batch, &mut pending)?;
            }
        }
        if !dry_run {
            self.commit_csv_batch(batch, &mut pending)?;
            self.commit_index()?;
        }
        Ok(report)
    }

    fn commit_csv_batch(
        &mut self,
        batch: Batch,
        pending: &mut Vec<Record>,
    ) -> Result<Batch, NodeError> {
        batch.commit()?;
        for record in pending.drain(..) {
            self.index.apply(&record)?;
        }
        Ok(self.store().batch()?)
    }
}

fn csv_row_record(
    batch: &mut Batch,
    job: &CsvImport<'_>,
    headers: &csv::StringRecord,
    row: &csv::StringRecord,
    line: u64,
) -> Result<Option<Record>, String> {
    let CsvImport {
        mapping,
        identity,
        organisation,
        now,
        ..
    } = *job;
    let json = mapping.row_to_json(headers, row);
    let mut draft = Draft::from_json(json, &format!("row on line {line}"), &identity.author())
        .map_err(|e| e.to_string())?;
    draft.fill_organisation(organisation);
    let address = convene_protocol::Address {
        author: identity.author(),
        kind: draft.content.kind(),
        slug: draft.slug(),
    };
    let existing = batch.get(&address).map_err(|e| e.to_string())?;
    if existing.as_ref().and_then(Record::content) == Some(&draft.content) {
        return Ok(None);
    }
    let seq = existing.map_or(1, |record| record.header().seq + 1);
    Record::sign(identity, address.slug, seq, now, draft.content)
        .map(Some)
        .map_err(|e| e.to_string())
}

fn tally(report: &mut ImportReport, record: &Record, outcome: Outcome, line: u64) {
    match outcome {
        Outcome::Stored { .. } => report.stored += 1,
        Outcome::Duplicate => report.unchanged += 1,
        Outcome::Stale { stored, retracted } => report.rejected.push(Rejection {
            line,
            reason: format!(
                "{}: seq {} is not above the stored {}seq {}",
                record.address(),
                record.header().seq,
                if retracted { "retraction's " } else { "" },
                stored.seq
            ),
        }),
    }
}

/// A chunk of input lines with each line's verification result.
struct VerifiedChunk {
    lines: Vec<(u64, Result<Record, String>)>,
    bytes: u64,
}

fn read_and_verify(
    input: &mut (dyn BufRead + Send),
    now: i64,
    sender: mpsc::SyncSender<Result<VerifiedChunk, NodeError>>,
) {
    let mut number = 0u64;
    loop {
        let mut lines = Vec::with_capacity(IMPORT_CHUNK);
        let mut bytes = 0u64;
        while lines.len() < IMPORT_CHUNK {
            let mut line = String::new();
            match input.read_line(&mut line) {
                Ok(0) => break,
                Ok(read) => {
                    number += 1;
                    bytes += read as u64;
                    if !line.trim().is_empty() {
                        lines.push((number, line));
                    }
                }
                Err(source) => {
                    let error = NodeError::Io {
                        path: format!("import input, line {}", number + 1),
                        source,
                    };
                    let _ = sender.send(Err(error));
                    return;
                }
            }
        }
        if lines.is_empty() && bytes == 0 {
            return;
        }
        let lines = lines
            .into_par_iter()
            .map(|(number, line)| (number, verify_line(&line, now)))
            .collect();
        if sender.send(Ok(VerifiedChunk { lines, bytes })).is_err() {
            return;
        }
    }
}

/// Decodes and verifies one export line.
pub(crate) fn verify_line(line: &str, now: i64) -> Result<Record, String> {
    let line: ExportLine =
        serde_json::from_str(line).map_err(|e| format!("not a Convene export line: {e}"))?;
    let bytes = BASE64
        .decode(line.record.trim())
        .map_err(|e| format!("`record` is not valid base64: {e}"))?;
    let record = Record::from_bytes(bytes, now).map_err(|e| e.to_string())?;
    if let Some(id) = &line.id
        && RecordId::from_hex(id) != Some(record.id())
    {
        return Err(format!(
            "`id` {id} does not match the record's bytes (their id is {})",
            record.id()
        ));
    }
    Ok(record)
}
