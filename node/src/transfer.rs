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
use convene_protocol::{Kind, Record, RecordId};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::admission::Source;
use crate::limits::IMPORT_LINE_BYTES;
use crate::{Draft, Node, NodeError, Outcome, Pending, Progress, Publisher};

/// Lines verified together (in parallel) and stored in one transaction.
const IMPORT_CHUNK: usize = 1_024;
/// Verified chunks waiting for the store; bounds memory while verification runs ahead.
const VERIFIED_CHUNKS_IN_FLIGHT: usize = 2;
/// CSV rows published per transaction.
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
    /// CSV rows that made a new record much like one already held: a renamed project in the
    /// spreadsheet, perhaps (the old record stays; retract it if so).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub similar: Vec<SimilarRow>,
}

/// A CSV row whose new record is like one already held.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimilarRow {
    pub line: u64,
    /// The record the row made.
    pub address: convene_protocol::Address,
    /// The record it is like, its title, and how alike (0 to 1).
    pub like: convene_protocol::Address,
    pub title: String,
    pub similarity: f32,
}

impl ImportReport {
    /// Adds the counts and rejections of a later part of the same import.
    pub fn add(&mut self, part: ImportReport) {
        self.read += part.read;
        self.stored += part.stored;
        self.unchanged += part.unchanged;
        self.rejected.extend(part.rejected);
        self.similar.extend(part.similar);
    }
}

/// New CSV records compared with what is held, at most, per import chunk: the check is a
/// search per row, and a first import of a big sheet has nothing to be renamed from.
const SIMILAR_CHECKS_PER_CHUNK: usize = 200;

/// The line (1-based) of a CSV row whose position the csv crate gives as `byte`, from the
/// offsets of every `\n` before it. (The crate's own line numbers are one short in CRLF files:
/// a row "starts" at the `\n` of the CRLF before it, so that newline counts too.)
fn row_line(newlines: &[u64], byte: u64) -> u64 {
    newlines.partition_point(|&at| at <= byte) as u64 + 1
}

/// Passes bytes through, noting the offset of every `\n`.
struct NewlineCounter<'a> {
    inner: &'a mut dyn std::io::Read,
    read: u64,
    newlines: std::rc::Rc<std::cell::RefCell<Vec<u64>>>,
}

impl std::io::Read for NewlineCounter<'_> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buffer)?;
        let mut newlines = self.newlines.borrow_mut();
        for (at, _) in buffer[..n].iter().enumerate().filter(|(_, b)| **b == b'\n') {
            newlines.push(self.read + at as u64);
        }
        self.read += n as u64;
        Ok(n)
    }
}

/// A CSV header and whole rows, cut from a larger CSV to send in one request.
#[derive(Debug)]
pub struct CsvChunk {
    /// The header's bytes, then the rows' bytes, exactly as in the file.
    pub bytes: Vec<u8>,
    /// The line number in the whole file that the chunk's first line counts as, so that line
    /// `n` of the chunk is line `n + first_line - 1` of the file.
    pub first_line: u64,
    /// Bytes of the file's rows in this chunk (for progress).
    pub rows_bytes: u64,
}

/// Cuts a CSV into chunks of whole rows of about `max_bytes` each, every chunk starting with
/// the header, so that a row's errors are reported with its line in the whole file.
pub fn csv_chunks(
    input: &mut dyn std::io::Read,
    max_bytes: usize,
) -> Result<Vec<CsvChunk>, NodeError> {
    let mut text = Vec::new();
    input
        .read_to_end(&mut text)
        .map_err(|source| NodeError::Io {
            path: "CSV input".into(),
            source,
        })?;
    // Where each row starts: its byte offset and its line (counted as the node counts them).
    let newlines: Vec<u64> = (0..text.len() as u64)
        .filter(|&at| text[at as usize] == b'\n')
        .collect();
    let mut starts: Vec<(usize, u64)> = Vec::new();
    {
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(&text[..]);
        let mut row = csv::ByteRecord::new();
        reader
            .byte_headers()
            .map_err(|e| NodeError::Import(format!("cannot read the CSV header: {e}")))?;
        loop {
            match reader.read_byte_record(&mut row) {
                Ok(false) => break,
                Ok(true) => {
                    if let Some(position) = row.position() {
                        let byte = position.byte();
                        starts.push((byte as usize, row_line(&newlines, byte)));
                    }
                }
                // Unreadable rows are for the node to report; stop cutting here and send the
                // rest as it is.
                Err(_) => break,
            }
        }
    }
    let Some(&(first_row, first_row_line)) = starts.first() else {
        let chunk = CsvChunk {
            first_line: 1,
            rows_bytes: 0,
            bytes: text,
        };
        return Ok(vec![chunk]);
    };
    let header = &text[..first_row];
    let header_lines = first_row_line - 1;
    let mut chunks = Vec::new();
    let mut at = 0;
    while at < starts.len() {
        let (start, line) = starts[at];
        let mut next = at + 1;
        while next < starts.len() && starts[next].0 - start < max_bytes {
            next += 1;
        }
        let end = starts.get(next).map_or(text.len(), |&(byte, _)| byte);
        let mut bytes = Vec::with_capacity(header.len() + end - start);
        bytes.extend_from_slice(header);
        bytes.extend_from_slice(&text[start..end]);
        chunks.push(CsvChunk {
            bytes,
            first_line: line - header_lines,
            rows_bytes: (end - start) as u64,
        });
        at = next;
    }
    Ok(chunks)
}

/// Writes every record in `store` as JSON Lines, from one read snapshot. Returns the count.
pub fn export_store(store: &crate::Store, out: &mut dyn Write) -> Result<u64, NodeError> {
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
/// [values.status]              # the spreadsheet's words for a field's values (any case)
/// Live = "running"
/// "On hold" = "paused"
/// ```
///
/// Values of enumerations (`status`) are matched whatever their case: `Completed` is
/// `completed`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    pub kind: String,
    #[serde(default = "default_separator")]
    pub list_separator: String,
    pub columns: BTreeMap<String, String>,
    #[serde(default)]
    pub defaults: BTreeMap<String, toml::Value>,
    /// Field → the spreadsheet's word (matched whatever its case) → the value to store.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
}

/// Fields whose values are a fixed set of lower-case words.
const ENUMERATION_FIELDS: &[&str] = &["status"];

fn default_separator() -> String {
    ";".to_string()
}

/// A CSV import: how rows map to records, who publishes them, and whether to write anything.
#[derive(Clone, Copy, Debug)]
pub struct CsvImport<'a> {
    pub mapping: &'a CsvMapping,
    /// Signs every record made from a row, and fills in its organisation.
    pub publisher: &'a Publisher,
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

/// Refuses a mapping field that no record of `kind` has, before any row is read (otherwise
/// every row would fail with the same error). The record type's own field list decides: a
/// draft holding only this field is refused as having an unknown field, or it is not.
fn check_field(kind: Kind, field: &str) -> Result<(), String> {
    if field == "slug"
        || field
            .strip_prefix("context.")
            .is_some_and(|key| !key.is_empty())
    {
        return Ok(());
    }
    let probe = serde_json::json!({ "kind": kind.as_str(), field: null });
    match serde_json::from_value::<convene_protocol::Content>(probe) {
        Err(error) if error.to_string().contains("unknown field") => Err(format!(
            "the mapping names field `{field}`, which a{} {kind} does not have: {error}",
            if kind.as_str().starts_with(['a', 'e', 'i', 'o', 'u']) {
                "n"
            } else {
                ""
            },
            kind = kind.as_str()
        )),
        _ => Ok(()),
    }
}

impl CsvMapping {
    pub fn parse(text: &str) -> Result<CsvMapping, String> {
        if text.len() > crate::limits::CSV_MAPPING_BYTES {
            return Err(format!(
                "the mapping is {} bytes, over the limit of {}",
                text.len(),
                crate::limits::CSV_MAPPING_BYTES
            ));
        }
        let mapping: CsvMapping =
            toml::from_str(text).map_err(|e| crate::limits::quote(e.message()))?;
        let kind = mapping.kind.parse::<Kind>()?;
        if mapping.list_separator.is_empty() {
            return Err("list_separator may not be empty".into());
        }
        for field in mapping
            .columns
            .keys()
            .chain(mapping.defaults.keys())
            .chain(mapping.values.keys())
        {
            check_field(kind, field)?;
        }
        Ok(mapping)
    }

    /// A cell's value for `field`: mapped by `[values.FIELD]` (the word matched whatever its
    /// case), and in lower case for an enumeration.
    fn value_of(&self, field: &str, cell: &str) -> String {
        let mapped = self.values.get(field).and_then(|words| {
            words
                .iter()
                .find(|(word, _)| word.trim().eq_ignore_ascii_case(cell))
                .map(|(_, value)| value.clone())
        });
        let value = mapped.unwrap_or_else(|| cell.to_string());
        if ENUMERATION_FIELDS.contains(&field) {
            value.to_lowercase()
        } else {
            value
        }
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
                    .map(|item| serde_json::Value::from(self.value_of(field, item)))
                    .collect()
            } else {
                serde_json::Value::from(self.value_of(field, cell))
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
    /// each chunk of lines goes through the write path in one transaction, and the index is
    /// committed after each durable store commit and at the end (see
    /// [`Node::unsynced_import`]). In a dry run nothing is written. Merging the index after a
    /// large import is the caller's step ([`Node::merge_index_after_bulk`]).
    pub fn import_jsonl(
        &mut self,
        input: &mut (dyn BufRead + Send),
        dry_run: bool,
        now: i64,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        if dry_run {
            let mut pending = self.begin()?;
            // Dropping the dry run's write discards it.
            return import_jsonl_into(input, dry_run, now, progress, &mut |records| {
                let outcomes = pending.admit(&records, Source::Import)?;
                Ok(Admitted::list(&records, outcomes))
            });
        }
        let report = self.unsynced_import(|node| {
            import_jsonl_into(input, dry_run, now, progress, &mut |records| {
                let outcomes = node.admit_uncommitted(&records, Source::Import)?;
                // The index can follow each durable commit, which keeps its memory bounded.
                node.commit_index_if_synced()?;
                Ok(Admitted::list(&records, outcomes))
            })
        })?;
        self.commit_index()?;
        Ok(report)
    }

    /// Imports CSV rows as new records published by the job's publisher, one per row,
    /// following its mapping. A row whose record already exists with the same content is left
    /// alone, so importing the same file twice changes nothing.
    pub fn import_csv(
        &mut self,
        input: &mut dyn std::io::Read,
        job: &CsvImport<'_>,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        let author = job.publisher.author();
        let report = import_csv_into(
            input,
            job.mapping,
            &author,
            job.dry_run,
            progress,
            &mut |rows| self.publish_rows(job.publisher, rows, job.now, job.dry_run),
        )?;
        if !job.dry_run {
            self.commit_index()?;
        }
        Ok(report)
    }

    /// Publishes drafts made from CSV rows by the publishing rules, in one transaction (none
    /// in a dry run); the stored records go to the index writer, uncommitted.
    pub(crate) fn publish_rows(
        &mut self,
        publisher: &Publisher,
        rows: Vec<Draft>,
        now: i64,
        dry_run: bool,
    ) -> Result<Vec<RowResult>, NodeError> {
        let mut pending = self.begin()?;
        let mut results = Vec::with_capacity(rows.len());
        let mut checks = 0;
        for mut draft in rows {
            if let Err(reason) = self.resolve_contacts(&pending, publisher, &mut draft) {
                results.push(RowResult::Invalid(reason));
                continue;
            }
            let result = match row_record(&pending, publisher, draft, now) {
                Ok(Some(record)) => {
                    let outcome = pending.admit(std::slice::from_ref(&record), Source::Own)?;
                    let admitted = Admitted::of(&record, outcome.into_iter().next());
                    // A new address (not a new version) may be a renamed row.
                    let new = admitted.outcome == Outcome::Stored { replaced: None };
                    let like = if new && checks < SIMILAR_CHECKS_PER_CHUNK {
                        checks += 1;
                        self.like_held(&record)?
                    } else {
                        None
                    };
                    RowResult::Admitted(admitted, like)
                }
                Ok(None) => RowResult::Unchanged,
                Err(reason) => RowResult::Invalid(reason),
            };
            results.push(result);
        }
        if !dry_run {
            let stored = self.commit(pending)?;
            self.index_records(&stored)?;
        }
        Ok(results)
    }
}

impl Node {
    /// Contacts given by name in a row: a contact at one of the publisher's own slugs that is
    /// not held here is looked up by name among the practitioners held (`sam-patel` → "Sam
    /// Patel"): one match is used, several are an error naming them; none leaves the contact
    /// as written (its record may come later), reported as not held when the row publishes.
    fn resolve_contacts(
        &self,
        pending: &crate::Pending,
        publisher: &Publisher,
        draft: &mut Draft,
    ) -> Result<(), String> {
        let contacts = match &mut draft.content {
            convene_protocol::Content::Experiment(e) => &mut e.contacts,
            convene_protocol::Content::Lesson(l) => &mut l.contacts,
            _ => return Ok(()),
        };
        for contact in contacts.iter_mut() {
            if contact.author != publisher.author()
                || pending.held(contact).map_err(|e| e.to_string())?.is_some()
            {
                continue;
            }
            let name = contact.slug.as_str().replace('-', " ");
            let hits = self
                .search(&convene_search::Query {
                    text: format!("\"{name}\""),
                    kind: Some(Kind::Practitioner),
                    limit: 20,
                    ..convene_search::Query::default()
                })
                .map_err(|e| e.to_string())?;
            let wanted = crate::trust::fold(&name);
            let named: Vec<&convene_search::Hit> = hits
                .iter()
                .filter(|hit| crate::trust::fold(&hit.title) == wanted)
                .collect();
            match named.as_slice() {
                [] => {}
                [one] => *contact = one.address.clone(),
                several => {
                    return Err(format!(
                        "contacts: {} practitioners are called {name:?} ({}); give the address of \
                         the one you mean (tried {contact} first)",
                        several.len(),
                        several
                            .iter()
                            .map(|hit| hit.address.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        Ok(())
    }

    /// The held experiment or lesson most like `record`'s content, if one is at least
    /// [`convene_search::SimilarityThreshold::PUBLISH`] similar.
    fn like_held(
        &self,
        record: &Record,
    ) -> Result<Option<(f32, convene_protocol::Address, String)>, NodeError> {
        let Some(content) = record.content() else {
            return Ok(None);
        };
        if !matches!(content.kind(), Kind::Experiment | Kind::Lesson) {
            return Ok(None);
        }
        let similar = self.similar(&convene_search::SimilarQuery {
            content: content.clone(),
            exclude: Some(record.address()),
            threshold: convene_search::SimilarityThreshold::PUBLISH,
            limit: 1,
        })?;
        Ok(similar
            .into_iter()
            .next()
            .map(|(similarity, hit)| (similarity, hit.address, hit.title)))
    }
}

/// The record a CSV row's draft publishes, by the publishing rules; `None` if the held
/// version at its address already has this content.
fn row_record(
    pending: &Pending,
    publisher: &Publisher,
    draft: Draft,
    now: i64,
) -> Result<Option<Record>, String> {
    let draft = publisher.complete(draft);
    let held = pending
        .held(&publisher.address(&draft))
        .map_err(|e| e.to_string())?;
    if held.as_ref().and_then(Record::content) == Some(&draft.content) {
        return Ok(None);
    }
    let held_seq = held.map(|record| record.header().seq);
    publisher
        .sign(&draft, held_seq, now)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// What the write path did with one imported record, with what a report needs to say so.
#[derive(Clone, Debug)]
pub struct Admitted {
    pub address: convene_protocol::Address,
    pub seq: u64,
    pub outcome: Outcome,
}

impl Admitted {
    fn of(record: &Record, outcome: Option<Outcome>) -> Admitted {
        Admitted {
            address: record.address(),
            seq: record.header().seq,
            outcome: outcome.expect("one outcome per record"),
        }
    }

    /// Pairs records with their outcomes.
    pub(crate) fn list(records: &[Record], outcomes: Vec<Outcome>) -> Vec<Admitted> {
        records
            .iter()
            .zip(outcomes)
            .map(|(record, outcome)| Admitted::of(record, Some(outcome)))
            .collect()
    }
}

/// What became of one CSV row.
#[derive(Clone, Debug)]
pub enum RowResult {
    /// Its record is held with this content already.
    Unchanged,
    /// What the write path did with its record; for a new record much like one already held,
    /// that one (similarity, address, title).
    Admitted(Admitted, Option<(f32, convene_protocol::Address, String)>),
    /// It does not make a valid record.
    Invalid(String),
}

/// Where an import's verified records go, a chunk at a time: the node's write path directly,
/// or a running node's store actor.
pub(crate) type AdmitChunk<'a> =
    dyn FnMut(Vec<Record>) -> Result<Vec<Admitted>, NodeError> + Send + 'a;

/// Where a CSV import's drafts go, a chunk at a time (see [`Node::publish_rows`]).
pub(crate) type PublishChunk<'a> = dyn FnMut(Vec<Draft>) -> Result<Vec<RowResult>, NodeError> + 'a;

/// Reads, verifies and admits a JSON Lines export, a chunk at a time.
pub(crate) fn import_jsonl_into(
    input: &mut (dyn BufRead + Send),
    dry_run: bool,
    now: i64,
    progress: &dyn Progress,
    admit: &mut AdmitChunk<'_>,
) -> Result<ImportReport, NodeError> {
    let mut report = ImportReport {
        dry_run,
        ..ImportReport::default()
    };
    std::thread::scope(|scope| -> Result<(), NodeError> {
        let (sender, receiver) = mpsc::sync_channel(VERIFIED_CHUNKS_IN_FLIGHT);
        scope.spawn(move || {
            lower_this_threads_priority();
            let pool = rayon::ThreadPoolBuilder::new()
                .thread_name(|n| format!("convene-verify-{n}"))
                .start_handler(|_| lower_this_threads_priority())
                .build();
            match pool {
                Ok(pool) => pool.install(|| read_and_verify(input, now, sender)),
                Err(_) => read_and_verify(input, now, sender),
            }
        });
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
            if !records.is_empty() {
                for (admitted, line) in admit(records)?.iter().zip(numbers) {
                    tally(&mut report, admitted, line);
                }
            }
            progress.advance(chunk.bytes);
        }
        Ok(())
    })?;
    report.rejected.sort_by_key(|r| r.line);
    Ok(report)
}

/// Reads CSV rows into drafts by `mapping` and publishes them a chunk at a time.
pub(crate) fn import_csv_into(
    input: &mut dyn std::io::Read,
    mapping: &CsvMapping,
    author: &convene_protocol::AuthorKey,
    dry_run: bool,
    progress: &dyn Progress,
    publish: &mut PublishChunk<'_>,
) -> Result<ImportReport, NodeError> {
    // The csv crate's own line numbers are one short in CRLF files: count newlines here.
    let newlines = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let input = NewlineCounter {
        inner: input,
        read: 0,
        newlines: newlines.clone(),
    };
    let line_at = |byte: u64| row_line(&newlines.borrow(), byte);
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
    let mut drafts = Vec::new();
    let mut lines = Vec::new();
    let mut flush = |drafts: &mut Vec<Draft>, lines: &mut Vec<u64>, report: &mut ImportReport| {
        if drafts.is_empty() {
            return Ok(());
        }
        for (result, line) in publish(std::mem::take(drafts))?.iter().zip(lines.drain(..)) {
            match result {
                RowResult::Unchanged => report.unchanged += 1,
                RowResult::Admitted(admitted, like) => {
                    tally(report, admitted, line);
                    if let Some((similarity, address, title)) = like {
                        report.similar.push(SimilarRow {
                            line,
                            address: admitted.address.clone(),
                            like: address.clone(),
                            title: title.clone(),
                            similarity: *similarity,
                        });
                    }
                }
                RowResult::Invalid(reason) => report.rejected.push(Rejection {
                    line,
                    reason: reason.clone(),
                }),
            }
        }
        Ok::<_, NodeError>(())
    };
    let mut last_offset = 0;
    for row in reader.records() {
        let row = match row {
            Ok(row) => row,
            Err(error) => {
                let line = error.position().map_or(0, |p| line_at(p.byte()));
                report.read += 1;
                let reason = match error.kind() {
                    csv::ErrorKind::Utf8 { err, .. } => format!(
                        "column {} ({:?}) is not valid UTF-8",
                        err.field() + 1,
                        headers.get(err.field()).unwrap_or("?")
                    ),
                    _ => format!("unreadable CSV row: {error}"),
                };
                report.rejected.push(Rejection { line, reason });
                continue;
            }
        };
        let offset = row.position().map_or(0, |p| p.byte());
        let line = line_at(offset);
        report.read += 1;
        if row.as_byte_record().as_slice().len() > crate::limits::CSV_ROW_BYTES {
            report.rejected.push(Rejection {
                line,
                reason: format!(
                    "the row is over the limit of {} bytes",
                    crate::limits::CSV_ROW_BYTES
                ),
            });
            continue;
        }
        progress.advance(offset.saturating_sub(last_offset));
        last_offset = offset;
        let json = mapping.row_to_json(&headers, &row);
        match Draft::from_json(json, "row", author) {
            Ok(draft) => {
                drafts.push(draft);
                lines.push(line);
            }
            Err(error) => report.rejected.push(Rejection {
                line,
                reason: error.to_string(),
            }),
        }
        if drafts.len() >= CSV_CHUNK {
            flush(&mut drafts, &mut lines, &mut report)?;
        }
    }
    flush(&mut drafts, &mut lines, &mut report)?;
    report.rejected.sort_by_key(|r| r.line);
    Ok(report)
}

fn tally(report: &mut ImportReport, admitted: &Admitted, line: u64) {
    let Admitted {
        address,
        seq,
        outcome,
    } = admitted;
    match outcome {
        Outcome::Stored { .. } => report.stored += 1,
        Outcome::Duplicate => report.unchanged += 1,
        Outcome::Stale { stored, retracted } => report.rejected.push(Rejection {
            line,
            reason: format!(
                "{address}: seq {seq} is not above the stored {}seq {}",
                if *retracted { "retraction's " } else { "" },
                stored.seq
            ),
        }),
        Outcome::Refused(reason) => report.rejected.push(Rejection {
            line,
            reason: format!("{address}: refused by this node's admission policy: {reason}"),
        }),
        Outcome::Elsewhere(reason) => report.rejected.push(Rejection {
            line,
            reason: format!("{address}: not imported: {reason}"),
        }),
    }
}

/// A chunk of input lines with each line's verification result.
struct VerifiedChunk {
    lines: Vec<(u64, Result<Record, String>)>,
    bytes: u64,
}

/// One line read by [`read_line_bounded`].
#[derive(Debug, PartialEq, Eq)]
pub enum LineRead {
    /// The input is at its end.
    End,
    /// A line (in the buffer, without its end of line) of this many bytes of input.
    Line(u64),
    /// A line longer than the limit, skipped up to its end: this many bytes of input.
    TooLong(u64),
}

/// Reads one line of at most `max` bytes into `line` (cleared first; the `\n` or `\r\n` is
/// left out). A longer line is consumed to its end but not kept, so memory stays bounded
/// whatever the input holds.
pub fn read_line_bounded(
    input: &mut dyn BufRead,
    line: &mut Vec<u8>,
    max: usize,
) -> std::io::Result<LineRead> {
    line.clear();
    let mut consumed = 0u64;
    let mut too_long = false;
    loop {
        let available = match input.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        };
        if available.is_empty() {
            if consumed == 0 {
                return Ok(LineRead::End);
            }
            break;
        }
        let (part, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (&available[..at], at + 1),
            None => (available, available.len()),
        };
        if !too_long {
            if line.len() + part.len() > max {
                too_long = true;
                line.clear();
            } else {
                line.extend_from_slice(part);
            }
        }
        let ended = done > part.len();
        input.consume(done);
        consumed += done as u64;
        if ended {
            break;
        }
    }
    if too_long {
        return Ok(LineRead::TooLong(consumed));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(LineRead::Line(consumed))
}

/// The byte-order mark some editors put at the start of a UTF-8 file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One line of input as text, or why it cannot be one: over [`IMPORT_LINE_BYTES`], not UTF-8.
/// Line 1 may start with a byte-order mark, which is dropped.
fn line_text(number: u64, read: &LineRead, bytes: &[u8]) -> Result<String, String> {
    if let LineRead::TooLong(length) = read {
        return Err(format!(
            "the line is {length} bytes long, over the limit of {IMPORT_LINE_BYTES} bytes \
             (a record is at most {} bytes)",
            crate::limits::MAX_RECORD_BYTES
        ));
    }
    let bytes = if number == 1 {
        bytes.strip_prefix(BOM).unwrap_or(bytes)
    } else {
        bytes
    };
    String::from_utf8(bytes.to_vec()).map_err(|error| {
        format!(
            "the line is not valid UTF-8 (at byte {})",
            error.utf8_error().valid_up_to() + 1
        )
    })
}

/// Verification runs behind the store and the index. On two cores the index writer's one
/// thread is an import's slowest stage, and each moment it waits for a core slows the whole
/// import; reading and verifying run at a lower priority (nice 10), so they take the time the
/// writer and the store leave. Best effort: where it cannot be lowered, nothing changes.
fn lower_this_threads_priority() {
    // On Linux the priority is each thread's own.
    #[cfg(target_os = "linux")]
    let _ = rustix::process::setpriority_process(None, 10);
}

fn read_and_verify(
    input: &mut (dyn BufRead + Send),
    now: i64,
    sender: mpsc::SyncSender<Result<VerifiedChunk, NodeError>>,
) {
    let mut number = 0u64;
    let mut buffer = Vec::new();
    loop {
        let mut lines = Vec::with_capacity(IMPORT_CHUNK);
        let mut bytes = 0u64;
        while lines.len() < IMPORT_CHUNK {
            let read = match read_line_bounded(input, &mut buffer, IMPORT_LINE_BYTES) {
                Ok(LineRead::End) => break,
                Ok(read) => read,
                Err(source) => {
                    let error = NodeError::Io {
                        path: format!("import input, line {}", number + 1),
                        source,
                    };
                    let _ = sender.send(Err(error));
                    return;
                }
            };
            number += 1;
            if let LineRead::Line(n) | LineRead::TooLong(n) = read {
                bytes += n;
            }
            match line_text(number, &read, &buffer) {
                Ok(text) if text.trim().is_empty() => {}
                Ok(text) => lines.push((number, Ok(text))),
                Err(reason) => lines.push((number, Err(reason))),
            }
        }
        if lines.is_empty() && bytes == 0 {
            return;
        }
        let lines = lines
            .into_par_iter()
            .map(|(number, line)| (number, line.and_then(|line| verify_line(&line, now))))
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
