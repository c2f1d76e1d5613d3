//! How a command reaches the records: through the running node's API if a node runs on the
//! home, or by opening the store itself. Either way the same operations, the same results.

use std::io::{BufRead, Write};

use convene_protocol::{Address, Content, Identity, Record};
use convene_search::{Facet, Hit, Query, SimilarityThreshold};

use crate::limits::{IMPORT_CHUNK_BYTES, IMPORT_LINE_BYTES};
use crate::transfer::{LineRead, read_line_bounded};
use crate::{
    Client, CsvImport, Draft, Home, ImportReport, ListFilter, Node, NodeError, Person, Progress,
    Published, Rejection,
};

/// Lines sent to a running node per import request (fewer if they reach the byte limit).
const IMPORT_LINES_PER_REQUEST: usize = 2_000;

/// The records of one home, local or through its node.
#[derive(Debug)]
pub enum Access {
    /// This process opened the store.
    Local(Box<Node>),
    /// A node runs on the home; this process talks to its API.
    Daemon(Client),
}

impl Access {
    /// Uses the home's running node if there is one, else opens the store (rebuilding a
    /// damaged index, with `progress`).
    pub fn open(home: &Home, progress: &dyn Progress) -> Result<Access, NodeError> {
        if let Some(client) = Client::find(home.dir())? {
            tracing::debug!(api = client.address(), "using the running node");
            return Ok(Access::Daemon(client));
        }
        Ok(Access::Local(Box::new(Node::open_with(
            &home.data_dir(),
            false,
            progress,
        )?)))
    }

    /// Finishes local index work; nothing to do for a node.
    pub fn close(self) -> Result<(), NodeError> {
        match self {
            Access::Local(node) => (*node).close(),
            Access::Daemon(_) => Ok(()),
        }
    }

    pub fn search(&self, query: &Query) -> Result<Vec<Hit>, NodeError> {
        match self {
            Access::Local(node) => node.search(query),
            Access::Daemon(client) => client.search(query),
        }
    }

    pub fn facets(&self, query: &Query) -> Result<Vec<Facet>, NodeError> {
        match self {
            Access::Local(node) => Ok(node.index().facets(query)?),
            Access::Daemon(client) => client.facets(query),
        }
    }

    pub fn people(&self, topic: &str, limit: usize) -> Result<Vec<Person>, NodeError> {
        match self {
            Access::Local(node) => node.people(topic, limit),
            Access::Daemon(client) => client.people(topic, limit),
        }
    }

    pub fn similar(
        &self,
        content: &Content,
        exclude: Option<&Address>,
        threshold: SimilarityThreshold,
        limit: usize,
    ) -> Result<Vec<(f32, Hit)>, NodeError> {
        match self {
            Access::Local(node) => node.similar(content, exclude, threshold, limit),
            Access::Daemon(client) => client.similar(content, exclude, threshold, limit),
        }
    }

    pub fn get(&self, address: &Address) -> Result<Record, NodeError> {
        match self {
            Access::Local(node) => node.get(address),
            Access::Daemon(client) => client.get_record(address),
        }
    }

    pub fn list(&self, filter: &ListFilter) -> Result<Vec<Record>, NodeError> {
        match self {
            Access::Local(node) => node.list(filter),
            Access::Daemon(client) => client.list(filter),
        }
    }

    /// Signs and stores `draft`. A running node signs with the same home's identity and
    /// gossips the record at once.
    pub fn publish(
        &mut self,
        identity: &Identity,
        draft: &Draft,
        now: i64,
    ) -> Result<Published, NodeError> {
        match self {
            Access::Local(node) => node.publish(identity, draft, now),
            Access::Daemon(client) => client.publish(draft),
        }
    }

    pub fn retract(
        &mut self,
        identity: &Identity,
        address: &Address,
        now: i64,
    ) -> Result<Record, NodeError> {
        match self {
            Access::Local(node) => node.retract(identity, address, now),
            Access::Daemon(client) => client.retract(address),
        }
    }

    pub fn export(&self, out: &mut dyn Write) -> Result<u64, NodeError> {
        match self {
            Access::Local(node) => node.export(out),
            Access::Daemon(client) => client.export(out),
        }
    }

    /// Imports a JSON Lines export. Through a node, the lines go in requests of at most
    /// [`IMPORT_CHUNK_BYTES`]; a line over the limit is reported here and not sent.
    pub fn import_jsonl(
        &mut self,
        input: &mut (dyn BufRead + Send),
        dry_run: bool,
        now: i64,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        let client = match self {
            Access::Local(node) => return node.import_jsonl(input, dry_run, now, progress),
            Access::Daemon(client) => client,
        };
        let mut total = ImportReport {
            dry_run,
            ..ImportReport::default()
        };
        let mut number = 0u64;
        let mut line = Vec::new();
        let mut ended = false;
        while !ended {
            let first_line = number + 1;
            let mut chunk = Vec::new();
            let mut lines = 0;
            let mut bytes = 0;
            while lines < IMPORT_LINES_PER_REQUEST && chunk.len() < IMPORT_CHUNK_BYTES {
                let read =
                    read_line_bounded(input, &mut line, IMPORT_LINE_BYTES).map_err(|source| {
                        NodeError::Io {
                            path: format!("import input, line {}", number + 1),
                            source,
                        }
                    })?;
                number += 1;
                lines += 1;
                match read {
                    LineRead::End => {
                        number -= 1;
                        lines -= 1;
                        ended = true;
                        break;
                    }
                    LineRead::Line(n) => {
                        bytes += n;
                        chunk.extend_from_slice(&line);
                    }
                    LineRead::TooLong(n) => {
                        bytes += n;
                        total.read += 1;
                        total.rejected.push(Rejection {
                            line: number,
                            reason: format!(
                                "the line is {n} bytes long, over the limit of \
                                 {IMPORT_LINE_BYTES} bytes"
                            ),
                        });
                    }
                }
                // An empty line keeps the numbering of the lines after a skipped one.
                chunk.push(b'\n');
            }
            if lines == 0 {
                break;
            }
            let report = client.import_jsonl_chunk(chunk, first_line, dry_run)?;
            total.add(report);
            progress.advance(bytes);
        }
        total.rejected.sort_by_key(|r| r.line);
        Ok(total)
    }

    /// Imports CSV rows as records signed by the home's identity. Through a node, the rows go
    /// in requests of at most [`IMPORT_CHUNK_BYTES`], each with the header.
    pub fn import_csv(
        &mut self,
        input: &mut dyn std::io::Read,
        job: &CsvImport<'_>,
        mapping_text: &str,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        let client = match self {
            Access::Local(node) => return node.import_csv(input, job, progress),
            Access::Daemon(client) => client,
        };
        let mut total = ImportReport {
            dry_run: job.dry_run,
            ..ImportReport::default()
        };
        for chunk in crate::transfer::csv_chunks(input, IMPORT_CHUNK_BYTES)? {
            let report = client.import_csv_chunk(
                chunk.bytes,
                chunk.first_line,
                mapping_text,
                job.dry_run,
            )?;
            total.add(report);
            progress.advance(chunk.rows_bytes);
        }
        Ok(total)
    }

    /// Rebuilds the search index; returns how many records it holds.
    pub fn reindex(&mut self, progress: &dyn Progress) -> Result<u64, NodeError> {
        match self {
            Access::Local(node) => {
                node.reindex(progress)?;
                Ok(node.index().num_docs())
            }
            Access::Daemon(client) => client.reindex(),
        }
    }
}
