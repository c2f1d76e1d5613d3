//! How a command reaches the records of a home: through the running node's API if a node runs
//! on it ([`Client`]), or by opening the store itself ([`Local`]). Either way the same
//! operations, with the same results: both implement [`Directory`].

use std::io::{BufRead, Write};

use convene_protocol::{Address, Record};
use convene_search::{Facet, Hit, Query, SimilarQuery};

use crate::limits::{IMPORT_CHUNK_BYTES, IMPORT_LINE_BYTES};
use crate::transfer::{LineRead, read_line_bounded};
use crate::{
    Client, CsvImport, CsvMapping, Draft, Home, ImportReport, ListFilter, Node, NodeError, Person,
    Progress, PublishOutcome, Publisher, Rejection, SimilarCheck,
};

/// Lines sent to a running node per import request (fewer if they reach the byte limit).
const IMPORT_LINES_PER_REQUEST: usize = 2_000;

/// The operations on one home's records that commands offer.
pub trait Directory: std::fmt::Debug {
    fn search(&self, query: &Query) -> Result<Vec<Hit>, NodeError>;
    fn facets(&self, query: &Query) -> Result<Vec<Facet>, NodeError>;
    fn people(&self, topic: &str, limit: usize) -> Result<Vec<Person>, NodeError>;
    fn similar(&self, query: &SimilarQuery) -> Result<Vec<(f32, Hit)>, NodeError>;
    fn get(&self, address: &Address) -> Result<Record, NodeError>;
    fn list(&self, filter: &ListFilter) -> Result<Vec<Record>, NodeError>;
    /// Publishes `draft` as the home's identity (see [`Node::publish`]); a running node also
    /// gossips it at once.
    fn publish(&mut self, draft: Draft, check: SimilarCheck) -> Result<PublishOutcome, NodeError>;
    fn retract(&mut self, address: &Address) -> Result<Record, NodeError>;
    /// Writes every record as JSON Lines; returns the count.
    fn export(&self, out: &mut dyn Write) -> Result<u64, NodeError>;
    fn import_jsonl(
        &mut self,
        input: &mut (dyn BufRead + Send),
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError>;
    /// Imports CSV rows as records of the home's identity; `mapping_text` is `mapping`'s TOML.
    fn import_csv(
        &mut self,
        input: &mut dyn std::io::Read,
        mapping: &CsvMapping,
        mapping_text: &str,
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError>;
    /// Rebuilds the search index; returns how many records it holds.
    fn reindex(&mut self, progress: &dyn Progress) -> Result<u64, NodeError>;
    /// Finishes local index work; nothing to do for a running node.
    fn close(self: Box<Self>) -> Result<(), NodeError>;
}

/// Uses the home's running node if there is one, else opens the store (rebuilding a damaged
/// index, with `progress`).
pub fn open_directory(
    home: &Home,
    progress: &dyn Progress,
) -> Result<Box<dyn Directory>, NodeError> {
    if let Some(client) = Client::find(home.dir())? {
        tracing::debug!(api = client.address(), "using the running node");
        return Ok(Box::new(client));
    }
    Ok(Box::new(Local {
        node: Node::open_with(&home.data_dir(), false, progress)?,
        publisher: Publisher::of(home)?,
    }))
}

/// A home's store opened by this process, and who publishes into it.
#[derive(Debug)]
pub struct Local {
    pub node: Node,
    pub publisher: Publisher,
}

impl Directory for Local {
    fn search(&self, query: &Query) -> Result<Vec<Hit>, NodeError> {
        self.node.search(query)
    }

    fn facets(&self, query: &Query) -> Result<Vec<Facet>, NodeError> {
        Ok(self.node.index().facets(query)?)
    }

    fn people(&self, topic: &str, limit: usize) -> Result<Vec<Person>, NodeError> {
        self.node.people(topic, limit)
    }

    fn similar(&self, query: &SimilarQuery) -> Result<Vec<(f32, Hit)>, NodeError> {
        self.node.similar(query)
    }

    fn get(&self, address: &Address) -> Result<Record, NodeError> {
        self.node.get(address)
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<Record>, NodeError> {
        self.node.list(filter)
    }

    fn publish(&mut self, draft: Draft, check: SimilarCheck) -> Result<PublishOutcome, NodeError> {
        self.node
            .publish(&self.publisher, draft, check, crate::now())
    }

    fn retract(&mut self, address: &Address) -> Result<Record, NodeError> {
        self.node.retract(&self.publisher, address, crate::now())
    }

    fn export(&self, out: &mut dyn Write) -> Result<u64, NodeError> {
        self.node.export(out)
    }

    fn import_jsonl(
        &mut self,
        input: &mut (dyn BufRead + Send),
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        self.node
            .import_jsonl(input, dry_run, crate::now(), progress)
    }

    fn import_csv(
        &mut self,
        input: &mut dyn std::io::Read,
        mapping: &CsvMapping,
        _mapping_text: &str,
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        let job = CsvImport {
            mapping,
            publisher: &self.publisher,
            dry_run,
            now: crate::now(),
        };
        self.node.import_csv(input, &job, progress)
    }

    fn reindex(&mut self, progress: &dyn Progress) -> Result<u64, NodeError> {
        self.node.reindex(progress)?;
        Ok(self.node.index().num_docs())
    }

    fn close(self: Box<Self>) -> Result<(), NodeError> {
        self.node.close()
    }
}

impl Directory for Client {
    fn search(&self, query: &Query) -> Result<Vec<Hit>, NodeError> {
        Client::search(self, query)
    }

    fn facets(&self, query: &Query) -> Result<Vec<Facet>, NodeError> {
        Client::facets(self, query)
    }

    fn people(&self, topic: &str, limit: usize) -> Result<Vec<Person>, NodeError> {
        Client::people(self, topic, limit)
    }

    fn similar(&self, query: &SimilarQuery) -> Result<Vec<(f32, Hit)>, NodeError> {
        Client::similar(self, query)
    }

    fn get(&self, address: &Address) -> Result<Record, NodeError> {
        self.get_record(address)
    }

    fn list(&self, filter: &ListFilter) -> Result<Vec<Record>, NodeError> {
        Client::list(self, filter)
    }

    fn publish(&mut self, draft: Draft, check: SimilarCheck) -> Result<PublishOutcome, NodeError> {
        Client::publish(self, draft, check)
    }

    fn retract(&mut self, address: &Address) -> Result<Record, NodeError> {
        Client::retract(self, address)
    }

    fn export(&self, out: &mut dyn Write) -> Result<u64, NodeError> {
        Client::export(self, out)
    }

    /// The lines go in requests of at most [`IMPORT_CHUNK_BYTES`]; a line over the limit is
    /// reported here and not sent.
    fn import_jsonl(
        &mut self,
        input: &mut (dyn BufRead + Send),
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
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
            let report = self.import_jsonl_chunk(chunk, first_line, dry_run)?;
            total.add(report);
            progress.advance(bytes);
        }
        total.rejected.sort_by_key(|r| r.line);
        Ok(total)
    }

    /// The rows go in requests of at most [`IMPORT_CHUNK_BYTES`], each with the header.
    fn import_csv(
        &mut self,
        input: &mut dyn std::io::Read,
        _mapping: &CsvMapping,
        mapping_text: &str,
        dry_run: bool,
        progress: &dyn Progress,
    ) -> Result<ImportReport, NodeError> {
        let mut total = ImportReport {
            dry_run,
            ..ImportReport::default()
        };
        for chunk in crate::transfer::csv_chunks(input, IMPORT_CHUNK_BYTES)? {
            let report =
                self.import_csv_chunk(chunk.bytes, chunk.first_line, mapping_text, dry_run)?;
            total.add(report);
            progress.advance(chunk.rows_bytes);
        }
        Ok(total)
    }

    fn reindex(&mut self, _progress: &dyn Progress) -> Result<u64, NodeError> {
        Client::reindex(self)
    }

    fn close(self: Box<Self>) -> Result<(), NodeError> {
        Ok(())
    }
}
