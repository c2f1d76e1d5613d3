//! Convene's full-text index: a tantivy index over the latest version of every live record.
//!
//! The index is derived state. The record store is the source of truth; the index can always be
//! thrown away and rebuilt from it. Each commit carries, as its payload, the store log position it
//! has indexed up to, so a node that stopped between a store commit and an index commit catches up
//! on the next open instead of rebuilding.
//!
//! This crate owns the schema and the analyzers; nothing outside it touches tantivy types.

mod document;
mod facets;
mod query;
mod schema;
mod similar;
mod top;

use std::future::Future;
use std::ops::{Bound, Range};
use std::path::Path;
use std::time::Instant;

use convene_protocol::{Address, AuthorKey, Date, Kind, Record, Status};
use tantivy::collector::TopDocs;
use tantivy::query::{
    AllQuery, BooleanQuery, ConstScoreQuery, EmptyQuery, Occur, Query as TantivyQuery, RangeQuery,
    TermQuery,
};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::snippet::SnippetGenerator;
use tantivy::{DocAddress, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

pub use crate::facets::{FACET_FIELDS, Facet};
use crate::schema::Fields;
pub use crate::similar::{SimilarQuery, SimilarityThreshold};

/// Memory the single index writer may use before it flushes a segment.
const WRITER_MEMORY_BYTES: usize = 64 * 1024 * 1024;
/// Indexing threads. Two cores on the reference machine: one indexes while the other verifies.
const WRITER_THREADS: usize = 1;
/// Characters in a result snippet.
const SNIPPET_CHARS: usize = 180;

/// Errors from the index.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index error: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("the search index is locked by another process: {0}")]
    Locked(String),
    #[error("search index at {path} was written by an incompatible version; run `convene reindex`")]
    Incompatible { path: String },
    /// The request asks for more than [`limits`] allow; nothing was searched.
    #[error("{0}")]
    OverLimit(String),
}

/// What one search may ask for. Every number and length in a [`Query`] (and in a `similar` or
/// `people` request) is checked against these before any work is done, so no request, however
/// it arrives, can make the index allocate without bound.
pub mod limits {
    /// Results one request may ask for (`limit`, `-n`).
    pub const RESULTS: usize = 1_000;
    /// Characters of search text.
    pub const TEXT_CHARS: usize = 1_000;
    /// Tags in one filter.
    pub const FILTER_TAGS: usize = 32;
    /// Characters in one filter value (tag, sector, region, organisation).
    pub const FILTER_CHARS: usize = 200;
    /// Addresses in one `among` filter.
    pub const AMONG: usize = 10_000;

    /// Checks a requested number of results.
    pub fn results(limit: usize) -> Result<(), crate::IndexError> {
        if limit > RESULTS {
            return Err(crate::IndexError::OverLimit(format!(
                "limit {limit} is over the maximum of {RESULTS} results per request"
            )));
        }
        Ok(())
    }

    /// Checks search text.
    pub fn text(text: &str) -> Result<(), crate::IndexError> {
        let chars = text.chars().count();
        if chars > TEXT_CHARS {
            return Err(crate::IndexError::OverLimit(format!(
                "search text of {chars} characters is over the maximum of {TEXT_CHARS}"
            )));
        }
        Ok(())
    }
}

/// A search: free text plus exact filters. Filters compare case-insensitively.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct Query {
    /// Words to look for. Empty means every record that passes the filters.
    pub text: String,
    /// experiment, practitioner, lesson, organisation, …
    #[schema(value_type = Option<String>)]
    pub kind: Option<Kind>,
    /// Every tag listed must be present (for practitioners, tags include their expertise).
    pub tags: Vec<String>,
    /// idea, planned, running, paused, completed or stopped.
    #[schema(value_type = Option<String>)]
    pub status: Option<Status>,
    pub sector: Option<String>,
    pub region: Option<String>,
    pub organisation: Option<String>,
    /// An author's key (52 characters of base32).
    #[schema(value_type = Option<String>)]
    pub author: Option<AuthorKey>,
    /// Only records published (or last changed) on or after this day, UTC.
    #[schema(value_type = Option<String>, format = Date)]
    pub since: Option<Date>,
    /// Only experiments started on or after this day.
    #[schema(value_type = Option<String>, format = Date)]
    pub started_after: Option<Date>,
    /// Only experiments started on or before this day.
    #[schema(value_type = Option<String>, format = Date)]
    pub started_before: Option<Date>,
    /// Only experiments adopted from this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub adopted_from: Option<convene_protocol::Address>,
    /// Only lessons about this experiment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub about: Option<convene_protocol::Address>,
    /// Only experiments and lessons that name this practitioner as a contact.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub contact: Option<convene_protocol::Address>,
    /// Only records published into this network (the commons: those that name none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub network: Option<convene_protocol::NetworkId>,
    /// Only experiments, practitioners and lessons published into at least one of these
    /// networks (the commons among them: those that name none). Empty: no such filter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub any_network: Vec<convene_protocol::NetworkId>,
    /// Only the records at these addresses (at most [`limits::AMONG`]). Empty: no such filter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<String>)]
    pub among: Vec<convene_protocol::Address>,
    /// Maximum number of hits; 0 means 10, at most [`limits::RESULTS`].
    pub limit: usize,
}

impl Query {
    /// Checks every number and length against [`limits`].
    pub fn check(&self) -> Result<(), IndexError> {
        limits::results(self.limit)?;
        limits::text(&self.text)?;
        if self.among.len() > limits::AMONG {
            return Err(IndexError::OverLimit(format!(
                "{} addresses in `among` are over the maximum of {}",
                self.among.len(),
                limits::AMONG
            )));
        }
        if self.tags.len() > limits::FILTER_TAGS {
            return Err(IndexError::OverLimit(format!(
                "{} tag filters are over the maximum of {}",
                self.tags.len(),
                limits::FILTER_TAGS
            )));
        }
        let values = self.tags.iter().chain(
            [&self.sector, &self.region, &self.organisation]
                .into_iter()
                .flatten(),
        );
        for value in values {
            let chars = value.chars().count();
            if chars > limits::FILTER_CHARS {
                return Err(IndexError::OverLimit(format!(
                    "a filter value of {chars} characters is over the maximum of {}",
                    limits::FILTER_CHARS
                )));
            }
        }
        Ok(())
    }
}

/// A text fragment with the ranges (byte offsets into `text`) that matched the query.
#[derive(
    Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
pub struct Snippet {
    pub text: String,
    /// `{"start": …, "end": …}` byte ranges.
    #[schema(value_type = Vec<Object>)]
    pub highlights: Vec<Range<usize>>,
}

/// One search result, with enough of the record to display it without a store look-up.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Hit {
    #[schema(value_type = String)]
    pub address: Address,
    #[schema(value_type = String)]
    pub kind: Kind,
    pub title: String,
    pub summary: String,
    pub score: f32,
    pub snippet: Snippet,
    pub tags: Vec<String>,
    pub status: Option<String>,
    pub sector: Option<String>,
    pub region: Option<String>,
    pub organisation: Option<String>,
    /// Practitioner addresses this record names as contacts.
    #[schema(value_type = Vec<String>)]
    pub contacts: Vec<Address>,
    /// The experiment a lesson is about.
    #[schema(value_type = Option<String>)]
    pub about: Option<Address>,
}

/// The index: one reader, and a writer taken only when something is written.
pub struct Index {
    index: tantivy::Index,
    reader: IndexReader,
    writer: Option<IndexWriter>,
    fields: Fields,
    /// Changes applied since the last commit or discard, if any.
    uncommitted: Option<Uncommitted>,
    /// The latest change, committed or not.
    last_change: Option<Instant>,
    /// A merge of every segment into one, under way in tantivy's merge thread
    /// ([`Index::start_merging`]).
    merging: Option<tantivy::FutureResult<Option<tantivy::SegmentMeta>>>,
}

/// `text` and `filter` as one query, ranked by the text alone.
fn joined(text: Box<dyn TantivyQuery>, filter: Box<dyn TantivyQuery>) -> Box<dyn TantivyQuery> {
    Box::new(BooleanQuery::new(vec![
        (Occur::Must, text),
        // Filters decide membership only; the ranking comes from the text.
        (Occur::Must, Box::new(ConstScoreQuery::new(filter, 0.0))),
    ]))
}

/// When the changes not yet committed were made: what a caller that commits on its own
/// schedule (the node's store actor) decides by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uncommitted {
    /// The first change since the last commit.
    pub first: Instant,
    /// The latest change.
    pub last: Instant,
}

impl std::fmt::Debug for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Index")
            .field("docs", &self.num_docs())
            .field("writer", &self.writer.is_some())
            .finish()
    }
}

impl Index {
    /// Opens the index in `dir`, creating it if the folder is empty or missing.
    pub fn open(dir: &Path) -> Result<Index, IndexError> {
        std::fs::create_dir_all(dir).map_err(|e| IndexError::Tantivy(e.into()))?;
        let (schema, fields) = schema::build();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| IndexError::Tantivy(e.into()))?;
        let index =
            tantivy::Index::open_or_create(directory, schema).map_err(|error| match error {
                tantivy::TantivyError::SchemaError(_) => IndexError::Incompatible {
                    path: dir.display().to_string(),
                },
                other => IndexError::Tantivy(other),
            })?;
        schema::register_analyzers(&index);
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        Ok(Index {
            index,
            reader,
            writer: None,
            fields,
            uncommitted: None,
            last_change: None,
            merging: None,
        })
    }

    /// The store log position this index has indexed up to (0 for a new index).
    pub fn position(&self) -> Result<u64, IndexError> {
        let metas = self.index.load_metas()?;
        Ok(metas
            .payload
            .as_deref()
            .and_then(|payload| payload.parse().ok())
            .unwrap_or(0))
    }

    /// Live records in the index.
    pub fn num_docs(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// When the changes not yet visible to searches were made; `None` when there are none.
    pub fn uncommitted(&self) -> Option<Uncommitted> {
        self.uncommitted
    }

    /// The writer, for a change: the change counts as uncommitted from now.
    fn change(&mut self) -> Result<&mut IndexWriter, IndexError> {
        let now = Instant::now();
        let first = self.uncommitted.map_or(now, |changes| changes.first);
        self.uncommitted = Some(Uncommitted { first, last: now });
        self.last_change = Some(now);
        self.writer()
    }

    /// When the index was last changed, committed or not; `None` if not since it was opened.
    pub fn last_change(&self) -> Option<Instant> {
        self.last_change
    }

    fn writer(&mut self) -> Result<&mut IndexWriter, IndexError> {
        if self.writer.is_none() {
            let writer = self
                .index
                .writer_with_num_threads(WRITER_THREADS, WRITER_MEMORY_BYTES)
                .map_err(|error| match error {
                    tantivy::TantivyError::LockFailure(..) => IndexError::Locked(error.to_string()),
                    other => IndexError::Tantivy(other),
                })?;
            self.writer = Some(writer);
        }
        Ok(self.writer.as_mut().expect("just set"))
    }

    /// Makes the index show `record` as the latest version at its address: replaces whatever
    /// was there, or, for a retraction, removes it. Visible after the next [`Index::commit`].
    /// `author` is the name of the organisation the node knows the author as: what results show
    /// as the record's organisation, and what organisation filters and facets match.
    pub fn apply(&mut self, record: &Record, author: Option<&str>) -> Result<(), IndexError> {
        let address = record.address().to_string();
        let doc = record
            .content()
            .and_then(|content| document::build(&self.fields, record, content, author));
        let term = Term::from_field_text(self.fields.address, &address);
        let writer = self.change()?;
        writer.delete_term(term);
        if let Some(doc) = doc {
            writer.add_document(doc)?;
        }
        Ok(())
    }

    /// Removes the document at `address`, if there is one. Visible after the next commit.
    pub fn remove(&mut self, address: &Address) -> Result<(), IndexError> {
        let term = Term::from_field_text(self.fields.address, &address.to_string());
        self.change()?.delete_term(term);
        Ok(())
    }

    /// Removes every document (for a rebuild). Visible after the next commit.
    pub fn clear(&mut self) -> Result<(), IndexError> {
        self.change()?.delete_all_documents()?;
        Ok(())
    }

    /// Makes everything applied so far durable and searchable, recording that the index is now
    /// up to date with store log `position`.
    pub fn commit(&mut self, position: u64) -> Result<(), IndexError> {
        let writer = self.writer()?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&position.to_string());
        prepared.commit()?;
        self.uncommitted = None;
        self.reader.reload()?;
        Ok(())
    }

    /// Forgets everything applied since the last commit (after a failed write, before catching
    /// up again from the store). The next write opens a fresh writer.
    pub fn discard_uncommitted(&mut self) -> Result<(), IndexError> {
        if let Some(mut writer) = self.writer.take() {
            // A writer that a failed write killed cannot roll back; dropping it is enough.
            let _ = writer.rollback();
        }
        self.uncommitted = None;
        self.reader.reload()?;
        Ok(())
    }

    /// Releases the writer after letting background segment merges finish. Dropping an index
    /// with a writer abandons merges in progress; a process that writes and then exits should
    /// call this, or segments pile up over many short runs and searches slow down.
    pub fn close(mut self) -> Result<(), IndexError> {
        if let Some(writer) = self.writer.take() {
            writer.wait_merging_threads()?;
        }
        Ok(())
    }

    /// Merges every segment into one, and drops the deleted documents they still hold: a
    /// search visits each segment, so fewer make searches faster. Changes not yet committed
    /// stay so; the position the index is up to is kept. Returns the segments before and after.
    /// It reads and rewrites the whole index and waits for it, so it belongs where nothing else
    /// waits on the index: compaction, the end of a bulk write on a stopped node, a node's
    /// start. A running node merges with [`Index::start_merging`] instead.
    pub fn merge_into_one(&mut self) -> Result<(usize, usize), IndexError> {
        if let Some(merging) = self.merging.take() {
            // Its segments cannot be merged twice; whatever it did, merge what is there now.
            let _ = merging.wait();
            self.reader.reload()?;
        }
        let segments = self.index.searchable_segment_ids()?;
        if segments.len() > 1 {
            self.writer()?.merge(&segments).wait()?;
        }
        self.reader.reload()?;
        Ok((segments.len(), self.segment_count()))
    }

    /// Starts merging every segment into one in tantivy's merge thread, as
    /// [`Index::merge_into_one`] does but without waiting: searches go on meanwhile, on the
    /// segments as they were. [`Index::merge_ended`] says when it is done. Returns whether a
    /// merge started (not when one is under way already, or there is one segment).
    pub fn start_merging(&mut self) -> Result<bool, IndexError> {
        if self.merging.is_some() {
            return Ok(false);
        }
        let segments = self.index.searchable_segment_ids()?;
        if segments.len() < 2 {
            return Ok(false);
        }
        self.merging = Some(self.writer()?.merge(&segments));
        Ok(true)
    }

    /// Whether a merge [`Index::start_merging`] started has ended since the last call; if so,
    /// searches now see the merged segment. A merge that failed or was cancelled (a rollback, a
    /// rebuild) returns its error, once; the segments stay as they were.
    pub fn merge_ended(&mut self) -> Result<bool, IndexError> {
        let Some(merging) = &mut self.merging else {
            return Ok(false);
        };
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        let std::task::Poll::Ready(merged) = std::pin::Pin::new(merging).poll(&mut context) else {
            return Ok(false);
        };
        self.merging = None;
        merged?;
        self.reader.reload()?;
        Ok(true)
    }

    /// Documents in each segment, deleted ones left out, the largest first.
    pub fn segment_sizes(&self) -> Vec<u64> {
        let mut sizes: Vec<u64> = self
            .reader
            .searcher()
            .segment_readers()
            .iter()
            .map(|segment| u64::from(segment.num_docs()))
            .collect();
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        sizes
    }

    /// The tantivy query `search` runs for `text`, for benchmarks that time the engine alone.
    #[doc(hidden)]
    pub fn raw_text_query(&self, text: &str) -> Box<dyn TantivyQuery> {
        self.text_query(text)
    }

    /// Segments in the index: each search visits every one.
    pub fn segment_count(&self) -> usize {
        self.reader.searcher().segment_readers().len()
    }

    /// Runs a search. Hits come best first, each with a snippet.
    pub fn search(&self, query: &Query) -> Result<Vec<Hit>, IndexError> {
        query.check()?;
        let searcher = self.reader.searcher();
        let top = self.top(&searcher, query)?;
        self.hits(&searcher, Some(&query.text), top)
    }

    /// [`Index::search`] without snippets (each hit's is empty), for callers that show none:
    /// making one tokenizes a hit's summary or body.
    pub fn search_without_snippets(&self, query: &Query) -> Result<Vec<Hit>, IndexError> {
        query.check()?;
        let searcher = self.reader.searcher();
        let top = self.top(&searcher, query)?;
        self.hits(&searcher, None, top)
    }

    /// The best documents for `query`, best first.
    fn top(
        &self,
        searcher: &tantivy::Searcher,
        query: &Query,
    ) -> Result<Vec<(f32, DocAddress)>, IndexError> {
        let limit = if query.limit == 0 { 10 } else { query.limit };
        let top_of = |scored: &dyn TantivyQuery, filter: Option<&dyn TantivyQuery>, any| {
            searcher.search(
                scored,
                &top::FilteredTop::new(searcher, filter, any, limit)?,
            )
        };
        if let Some(phrase) = query::lone_phrase(&self.fields, &query.text) {
            let filter = self.filter_query(query);
            return Ok(top_of(&*phrase.scored, filter.as_deref(), &phrase.places)?);
        }
        let text = self.text_query(&query.text);
        let top = match self.filter_query(query) {
            None => searcher.search(&*text, &TopDocs::with_limit(limit).order_by_score())?,
            // Without text every kept document scores alike: the filter alone leads.
            Some(filter) if query.text.trim().is_empty() => searcher.search(
                &*joined(text, filter),
                &TopDocs::with_limit(limit).order_by_score(),
            )?,
            Some(filter) => top_of(&*text, Some(&*filter), &[])?,
        };
        Ok(top)
    }

    /// [`Index::search`] and [`Index::facets`] of the same query, in one pass over the matches.
    pub fn search_with_facets(&self, query: &Query) -> Result<(Vec<Hit>, Vec<Facet>), IndexError> {
        query.check()?;
        let searcher = self.reader.searcher();
        let limit = if query.limit == 0 { 10 } else { query.limit };
        let combined = self.with_filters(self.text_query(&query.text), query);
        let (top, counts) = searcher.search(
            &combined,
            &(
                TopDocs::with_limit(limit).order_by_score(),
                facets::collector(self)?,
            ),
        )?;
        Ok((
            self.hits(&searcher, Some(&query.text), top)?,
            facets::read(counts)?,
        ))
    }

    /// The hits for the top documents, with snippets showing the words of `text` if given.
    fn hits(
        &self,
        searcher: &tantivy::Searcher,
        text: Option<&str>,
        top: Vec<(f32, tantivy::DocAddress)>,
    ) -> Result<Vec<Hit>, IndexError> {
        if top.is_empty() {
            return Ok(Vec::new());
        }
        let snippets = text.map(|text| {
            let words = query::words(&self.fields, text).unwrap_or_else(|| Box::new(EmptyQuery));
            Snippets::new(searcher, &*words, [self.fields.summary, self.fields.body])
        });
        top.into_iter()
            .map(|(score, doc_address)| {
                let doc: TantivyDocument = searcher.doc(doc_address)?;
                let mut hit = self.hit(&doc, score)?;
                if let Some(snippets) = &snippets {
                    hit.snippet = snippets.best(doc_address, &doc, &hit.summary)?;
                }
                Ok(hit)
            })
            .collect()
    }

    /// How every record matching `query` (its limit aside) divides by kind, status, sector,
    /// region and organisation.
    pub fn facets(&self, query: &Query) -> Result<Vec<Facet>, IndexError> {
        query.check()?;
        let combined = self.with_filters(self.text_query(&query.text), query);
        facets::count(self, &*combined)
    }

    /// Records like `content`: same kind, sharing words of their title, summary and tags.
    /// Ranked by similarity (0 to 1); those below `threshold` are left out.
    pub fn similar(&self, query: &SimilarQuery) -> Result<Vec<(f32, Hit)>, IndexError> {
        similar::find(self, query)
    }

    fn text_query(&self, text: &str) -> Box<dyn TantivyQuery> {
        if text.trim().is_empty() {
            return Box::new(AllQuery);
        }
        // Words that are all stop words match nothing rather than everything.
        query::parse(&self.fields, text).unwrap_or_else(|| Box::new(EmptyQuery))
    }

    /// `text` restricted to what the query's filters keep.
    fn with_filters(&self, text: Box<dyn TantivyQuery>, query: &Query) -> Box<dyn TantivyQuery> {
        match self.filter_query(query) {
            None => text,
            Some(filter) => joined(text, filter),
        }
    }

    /// What the query's filters keep, as one query; `None` when it has no filter.
    fn filter_query(&self, query: &Query) -> Option<Box<dyn TantivyQuery>> {
        let f = &self.fields;
        let mut filters: Vec<(Field, String)> = Vec::new();
        if let Some(kind) = query.kind {
            filters.push((f.kind, kind.as_str().to_string()));
        }
        for tag in &query.tags {
            filters.push((f.tags, convene_protocol::fold_tag(tag)));
        }
        if let Some(status) = query.status {
            filters.push((f.status, status.as_str().to_string()));
        }
        for (field, value) in [
            (f.sector, &query.sector),
            (f.region, &query.region),
            (f.organisation, &query.organisation),
        ] {
            if let Some(value) = value {
                filters.push((field, convene_protocol::fold_tag(value)));
            }
        }
        if let Some(author) = query.author {
            filters.push((f.author, author.to_base32()));
        }
        if let Some(network) = &query.network {
            filters.push((f.network, network.to_string()));
        }
        if let Some(about) = &query.about {
            filters.push((f.about, about.to_string()));
        }
        if let Some(contact) = &query.contact {
            filters.push((f.contacts, contact.to_string()));
        }
        if let Some(from) = &query.adopted_from {
            filters.push((f.adopted_from, from.to_string()));
        }
        let mut ranges: Vec<Box<dyn TantivyQuery>> = Vec::new();
        let i64_term = |field, value| Term::from_field_i64(field, value);
        if let Some(since) = query.since {
            let start = Bound::Included(i64_term(f.created_at, since.unix_days() * 86_400));
            ranges.push(Box::new(RangeQuery::new(start, Bound::Unbounded)));
        }
        if query.started_after.is_some() || query.started_before.is_some() {
            let bound = |date: Option<Date>| {
                date.map_or(Bound::Unbounded, |d| {
                    Bound::Included(i64_term(f.started, d.unix_days()))
                })
            };
            ranges.push(Box::new(RangeQuery::new(
                bound(query.started_after),
                bound(query.started_before),
            )));
        }
        if !query.any_network.is_empty() {
            let any: Vec<(Occur, Box<dyn TantivyQuery>)> = query
                .any_network
                .iter()
                .map(|network| -> (Occur, Box<dyn TantivyQuery>) {
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_text(f.network, &network.to_string()),
                            IndexRecordOption::Basic,
                        )),
                    )
                })
                .collect();
            ranges.push(Box::new(BooleanQuery::new(any)));
        }
        if !query.among.is_empty() {
            let terms = query
                .among
                .iter()
                .map(|address| Term::from_field_text(f.address, &address.to_string()));
            ranges.push(Box::new(tantivy::query::TermSetQuery::new(terms)));
        }
        if filters.is_empty() && ranges.is_empty() {
            return None;
        }
        let terms = filters
            .into_iter()
            .map(|(field, value)| -> Box<dyn TantivyQuery> {
                Box::new(TermQuery::new(
                    Term::from_field_text(field, &value),
                    IndexRecordOption::Basic,
                ))
            });
        let clauses: Vec<(Occur, Box<dyn TantivyQuery>)> = terms
            .chain(ranges)
            .map(|filter| (Occur::Must, filter))
            .collect();
        Some(Box::new(BooleanQuery::new(clauses)))
    }

    fn hit(&self, doc: &TantivyDocument, score: f32) -> Result<Hit, IndexError> {
        let f = &self.fields;
        let text = |field| {
            doc.get_first(field)
                .and_then(|value| value.as_str().map(str::to_string))
        };
        let all = |field| -> Vec<String> {
            doc.get_all(field)
                .filter_map(|value| value.as_str().map(str::to_string))
                .collect()
        };
        let corrupt = |what: &str| {
            IndexError::Tantivy(tantivy::TantivyError::InternalError(format!(
                "indexed document has no valid {what}; run `convene reindex`"
            )))
        };
        let address: Address = text(f.address)
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| corrupt("address"))?;
        Ok(Hit {
            kind: address.kind,
            address,
            title: text(f.title).unwrap_or_default(),
            summary: text(f.summary).unwrap_or_default(),
            score,
            snippet: Snippet::default(),
            tags: all(f.tags),
            status: text(f.status),
            sector: text(f.sector),
            region: text(f.region),
            organisation: text(f.organisation),
            contacts: all(f.contacts)
                .iter()
                .filter_map(|a| a.parse().ok())
                .collect(),
            about: text(f.about).and_then(|a| a.parse().ok()),
        })
    }

    pub(crate) fn searcher(&self) -> tantivy::Searcher {
        self.reader.searcher()
    }

    pub(crate) fn fields(&self) -> &Fields {
        &self.fields
    }

    pub(crate) fn tantivy(&self) -> &tantivy::Index {
        &self.index
    }

    /// The underlying tantivy index and its reader, for benchmarks that compare this API with
    /// bare tantivy on the same data. Not part of the stable API.
    #[doc(hidden)]
    pub fn raw_tantivy(&self) -> (&tantivy::Index, &IndexReader) {
        (&self.index, &self.reader)
    }

    pub(crate) fn load_hit(
        &self,
        searcher: &tantivy::Searcher,
        doc: DocAddress,
        score: f32,
    ) -> Result<(TantivyDocument, Hit), IndexError> {
        let doc: TantivyDocument = searcher.doc(doc)?;
        let hit = self.hit(&doc, score)?;
        Ok((doc, hit))
    }
}

use tantivy::schema::Field;

/// Snippets for the hits of one query, from the first field (summary, then body) in which a hit
/// contains a query term.
///
/// Tokenizing a field to find the fragment is the expensive part, so a field is only tokenized
/// for a hit when its postings say the hit has a query term there.
struct Snippets<'a> {
    searcher: &'a tantivy::Searcher,
    fields: Vec<(SnippetGenerator, Vec<Term>)>,
}

/// Characters of a field looked at for a snippet: long texts are cut rather than tokenized whole.
const SNIPPET_SOURCE_CHARS: usize = 4_000;

impl<'a> Snippets<'a> {
    fn new(
        searcher: &'a tantivy::Searcher,
        query: &dyn TantivyQuery,
        fields: [Field; 2],
    ) -> Snippets<'a> {
        let fields = fields
            .into_iter()
            .filter_map(|field| {
                let mut terms = Vec::new();
                query.query_terms(&mut |term, _| {
                    if term.field() == field {
                        terms.push(term.clone());
                    }
                });
                if terms.is_empty() {
                    return None;
                }
                let mut generator = SnippetGenerator::create(searcher, query, field).ok()?;
                generator.set_max_num_chars(SNIPPET_CHARS);
                Some((generator, terms))
            })
            .collect();
        Snippets { searcher, fields }
    }

    fn best(
        &self,
        address: DocAddress,
        doc: &TantivyDocument,
        summary: &str,
    ) -> Result<Snippet, IndexError> {
        for (generator, terms) in &self.fields {
            if !self.contains_any(address, terms)? {
                continue;
            }
            let field = terms[0].field();
            let text: String = doc
                .get_all(field)
                .filter_map(|value| value.as_str())
                .collect::<Vec<_>>()
                .join("\n");
            let text = match text.char_indices().nth(SNIPPET_SOURCE_CHARS) {
                Some((cut, _)) => &text[..cut],
                None => &text,
            };
            let snippet = generator.snippet(text);
            if !snippet.highlighted().is_empty() {
                return Ok(Snippet {
                    text: snippet.fragment().to_string(),
                    highlights: snippet.highlighted().to_vec(),
                });
            }
        }
        let mut text: String = summary.chars().take(SNIPPET_CHARS).collect();
        if text.len() < summary.len() {
            text.push('…');
        }
        Ok(Snippet {
            text,
            highlights: Vec::new(),
        })
    }

    fn contains_any(&self, address: DocAddress, terms: &[Term]) -> Result<bool, IndexError> {
        use tantivy::DocSet;
        let segment = self.searcher.segment_reader(address.segment_ord);
        let inverted = segment.inverted_index(terms[0].field())?;
        for term in terms {
            if let Some(mut postings) = inverted
                .read_postings(term, IndexRecordOption::Basic)
                .map_err(|e| IndexError::Tantivy(e.into()))?
            {
                // `seek` only moves forward: a list may already start past the hit.
                let at = if postings.doc() < address.doc_id {
                    postings.seek(address.doc_id)
                } else {
                    postings.doc()
                };
                if at == address.doc_id {
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use convene_protocol::{Content, Experiment, Identity, Record, Slug};

    use super::*;

    fn record(slug: &str, summary: &str, description: &str, region: &str) -> Record {
        let content = Content::Experiment(Experiment {
            title: format!("Pilot {slug}"),
            summary: summary.into(),
            description: Some(description.into()),
            region: Some(region.into()),
            ..Experiment::default()
        });
        Record::sign(
            &Identity::from_secret([5; 32]),
            Slug::new(slug).unwrap(),
            1,
            0,
            content,
        )
        .unwrap()
    }

    fn index_of(records: &[Record]) -> (tempfile::TempDir, Index) {
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::open(dir.path()).unwrap();
        for record in records {
            index.apply(record, None).unwrap();
        }
        index.commit(records.len() as u64).unwrap();
        (dir, index)
    }

    fn highlighted(snippet: &Snippet) -> Vec<&str> {
        snippet
            .highlights
            .iter()
            .map(|r| &snippet.text[r.clone()])
            .collect()
    }

    #[test]
    fn the_snippet_comes_from_the_summary_or_else_the_body_where_the_words_are() {
        let (_dir, index) = index_of(&[
            record(
                "a",
                "Residents grow food together",
                "Council allotments reopened for families.",
                "Yorkshire",
            ),
            record(
                "b",
                "Allotment waiting lists cut",
                "Plots shared between neighbours.",
                "Wales",
            ),
        ]);
        let hits = index
            .search(&Query {
                text: "allotment".into(),
                ..Query::default()
            })
            .unwrap();
        assert_eq!(hits.len(), 2);
        for hit in &hits {
            let words = highlighted(&hit.snippet);
            assert!(
                words == ["allotments"] || words == ["Allotment"],
                "{:?} highlights {words:?} in {:?}",
                hit.address.slug,
                hit.snippet.text
            );
        }
    }

    fn slugs_found(index: &Index, text: &str) -> Vec<String> {
        slugs_of(
            index,
            &Query {
                text: text.into(),
                ..Query::default()
            },
        )
    }

    /// The slugs `query` finds, in alphabetical order.
    fn slugs_of(index: &Index, query: &Query) -> Vec<String> {
        let mut slugs: Vec<String> = index
            .search(query)
            .unwrap()
            .into_iter()
            .map(|hit| hit.address.slug.to_string())
            .collect();
        slugs.sort();
        slugs
    }

    #[test]
    fn a_phrase_finds_its_words_next_to_each_other_in_one_field_and_nowhere_else() {
        let (_dir, index) = index_of(&[
            record("next", "Virtual town hall meetings", "Online.", "Leeds"),
            record("apart", "Town meetings", "In the old hall.", "York"),
            record("split", "Our town", "Hall of fame.", "Hull"),
            record("stopword", "The head of service", "Reports.", "Wales"),
            record("other-stopword", "Head for service", "Reports.", "Wales"),
            record("joined", "Head service desk", "Calls.", "Wales"),
        ]);
        assert_eq!(slugs_found(&index, r#""town hall""#), ["next"]);
        assert_eq!(slugs_found(&index, r#""Town Halls""#), ["next"], "analysed");
        // A stop word is dropped on both sides, and leaves the same gap.
        assert_eq!(
            slugs_found(&index, r#""head of service""#),
            ["other-stopword", "stopword"]
        );
        assert_eq!(slugs_found(&index, r#""head service""#), ["joined"]);
        // Longer phrases need every pair of neighbours.
        assert_eq!(slugs_found(&index, r#""virtual town hall""#), ["next"]);
        assert!(slugs_found(&index, r#""virtual hall town""#).is_empty());
        // The value of one field is not continued by the next.
        assert!(slugs_found(&index, r#""town hall of fame""#).is_empty());
    }

    #[test]
    fn a_pair_sharing_a_phrases_bucket_is_not_taken_for_the_phrase() {
        // Find a made-up word whose pair with "town" lands in the bucket of "town hall".
        let bucket = schema::pair("town", "hall");
        let twin = (0..10 * schema::PAIR_BUCKETS)
            .map(|n| format!("zq{n}"))
            .find(|word| schema::pair("town", word) == bucket)
            .expect("every bucket is reached within ten times their number");
        let (_dir, index) = index_of(&[
            record(
                "twin",
                &format!("Town {twin} and a hall"),
                "Online.",
                "Leeds",
            ),
            record("real", "Town hall meetings", "Online.", "Leeds"),
        ]);
        assert_eq!(slugs_found(&index, r#""town hall""#), ["real"]);
        assert_eq!(slugs_found(&index, &format!("\"town {twin}\"")), ["twin"]);
    }

    /// Issue 13: a filter joined to the text query as a required clause stopped tantivy from
    /// pruning, so a filtered search scored every match (6 ms median at 1M). The filter now
    /// only vets what the pruned text query offers; the hits must be the same.
    #[test]
    fn a_filtered_search_finds_what_the_text_and_filter_joined_would_find() {
        let words = [
            "allotment",
            "bus",
            "library",
            "food",
            "repair",
            "digital",
            "housing",
            "care",
        ];
        let regions = ["Leeds", "York", "Hull"];
        let mut state = 7u64;
        let mut next = move |n: usize| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as usize % n
        };
        let records: Vec<Record> = (0..400)
            .map(|i| {
                let text: Vec<&str> = (0..2 + next(12))
                    .map(|_| words[next(words.len())])
                    .collect();
                let body: Vec<&str> = (0..next(30)).map(|_| words[next(words.len())]).collect();
                record(
                    &format!("r{i}"),
                    &text.join(" "),
                    &body.join(" "),
                    regions[next(regions.len())],
                )
            })
            .collect();
        let (_dir, index) = index_of(&records);
        // A lone phrase is ranked by its pair's bucket rather than by the phrase query (see
        // `query::lone_phrase`): asked for every match, it must find the same documents.
        for (text, limit) in [
            ("allotment", 15),
            ("bus repair", 15),
            ("digital care housing", 15),
            (r#""food repair""#, limits::RESULTS),
        ] {
            for region in regions {
                let query = Query {
                    text: text.into(),
                    region: Some(region.into()),
                    limit,
                    ..Query::default()
                };
                let joined = index.with_filters(index.text_query(text), &query);
                let mut expected: Vec<(String, f32)> = index
                    .searcher()
                    .search(&*joined, &TopDocs::with_limit(limit).order_by_score())
                    .unwrap()
                    .into_iter()
                    .map(|(score, doc)| {
                        let doc: TantivyDocument = index.searcher().doc(doc).unwrap();
                        (index.hit(&doc, score).unwrap().address.to_string(), score)
                    })
                    .collect();
                let mut found: Vec<(String, f32)> = index
                    .search(&query)
                    .unwrap()
                    .into_iter()
                    .map(|hit| (hit.address.to_string(), hit.score))
                    .collect();
                assert!(!expected.is_empty(), "{text} in {region} finds something");
                let addresses = |hits: &[(String, f32)]| -> Vec<String> {
                    hits.iter().map(|(address, _)| address.clone()).collect()
                };
                if limit == limits::RESULTS {
                    assert!(expected.len() < limit, "every match was returned");
                    expected.sort_by(|a, b| a.0.cmp(&b.0));
                    found.sort_by(|a, b| a.0.cmp(&b.0));
                    assert_eq!(
                        addresses(&found),
                        addresses(&expected),
                        "{text} in {region}"
                    );
                    continue;
                }
                // The same hits in the same order; scores summed in another order may differ
                // in their last bits.
                assert_eq!(
                    addresses(&found),
                    addresses(&expected),
                    "{text} in {region}"
                );
                for ((_, a), (_, b)) in found.iter().zip(&expected) {
                    assert!(
                        (a - b).abs() <= 1e-4 * b.abs(),
                        "{text} in {region}: {a} ≠ {b}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_search_without_snippets_finds_the_same_hits_and_makes_no_snippet() {
        let (_dir, index) = index_of(&[
            record("a", "Food hubs", "Community food in halls.", "Yorkshire"),
            record("b", "Food banks online", "Food vouchers by text.", "Wales"),
        ]);
        let query = Query {
            text: "food".into(),
            ..Query::default()
        };
        let with = index.search(&query).unwrap();
        let without = index.search_without_snippets(&query).unwrap();
        assert_eq!(with.len(), 2);
        assert!(with.iter().all(|hit| !hit.snippet.highlights.is_empty()));
        let plain = |hits: &[Hit]| -> Vec<(String, f32)> {
            hits.iter()
                .map(|hit| (hit.address.to_string(), hit.score))
                .collect()
        };
        assert_eq!(plain(&without), plain(&with));
        assert!(without.iter().all(|hit| hit.snippet.text.is_empty()));
    }

    #[test]
    fn a_phrase_hit_highlights_the_words_of_the_phrase() {
        let (_dir, index) = index_of(&[record(
            "a",
            "Virtual town hall meetings",
            "Online.",
            "Leeds",
        )]);
        let hits = index
            .search(&Query {
                text: r#"online "town hall""#.into(),
                ..Query::default()
            })
            .unwrap();
        assert_eq!(highlighted(&hits[0].snippet), ["town", "hall"]);
    }

    #[test]
    fn one_pass_gives_the_same_hits_and_counts_as_two() {
        let (_dir, index) = index_of(&[
            record("a", "Food hubs", "Community food in halls.", "Yorkshire"),
            record("b", "Food banks online", "Food vouchers by text.", "Wales"),
            record("c", "Food waste", "Collections.", "Wales"),
            record("d", "Bus routes", "Rural buses.", "Wales"),
        ]);
        let query = Query {
            text: "food".into(),
            limit: 2,
            ..Query::default()
        };
        let (hits, facets) = index.search_with_facets(&query).unwrap();
        let apart = index.search(&query).unwrap();
        let addresses = |hits: &[Hit]| hits.iter().map(|h| h.address.clone()).collect::<Vec<_>>();
        assert_eq!(addresses(&hits), addresses(&apart));
        assert_eq!(facets, index.facets(&query).unwrap());
        // Counted over every match, not the two hits shown.
        let region = facets.iter().find(|f| f.field == "region").unwrap();
        assert_eq!(
            region.values,
            [("wales".to_string(), 2), ("yorkshire".to_string(), 1)]
        );
    }

    #[test]
    fn a_hit_without_the_words_in_its_text_shows_its_summary() {
        let (_dir, index) = index_of(&[record(
            "title-only",
            "Something else entirely",
            "Nothing here.",
            "Wales",
        )]);
        let hits = index
            .search(&Query {
                text: "pilot".into(),
                ..Query::default()
            })
            .unwrap();
        assert_eq!(
            hits[0].snippet,
            Snippet {
                text: "Something else entirely".into(),
                highlights: vec![]
            }
        );
    }

    #[test]
    fn filters_match_whole_values_ignoring_case() {
        let (_dir, index) = index_of(&[
            record("a", "one", "x", "North West"),
            record("b", "two", "x", "North East"),
        ]);
        let search = |region: &str| {
            index
                .search(&Query {
                    region: Some(region.into()),
                    ..Query::default()
                })
                .unwrap()
                .len()
        };
        assert_eq!(
            (search("north west"), search("NORTH WEST"), search("north")),
            (1, 1, 0)
        );
    }

    #[test]
    fn date_filters_bound_the_start_and_the_last_change() {
        let identity = Identity::from_secret([5; 32]);
        let started = |slug: &str, date: &str, created_at: i64| {
            let content = Content::Experiment(Experiment {
                title: format!("Pilot {slug}"),
                summary: "s".into(),
                started: Some(date.parse().unwrap()),
                ..Experiment::default()
            });
            Record::sign(&identity, Slug::new(slug).unwrap(), 1, created_at, content).unwrap()
        };
        let day = 86_400;
        let (_dir, index) = index_of(&[
            started("early", "2023-01-09", 19_000 * day),
            started("spring", "2024-03-01", 20_000 * day + 3_600),
            started("summer", "2024-06-03", 20_001 * day),
        ]);
        let slugs = |query: Query| -> Vec<String> {
            let mut slugs: Vec<String> = index
                .search(&query)
                .unwrap()
                .into_iter()
                .map(|hit| hit.address.slug.to_string())
                .collect();
            slugs.sort();
            slugs
        };
        let date = |text: &str| Some(text.parse::<Date>().unwrap());
        assert_eq!(
            slugs(Query {
                started_after: date("2024-01-01"),
                ..Query::default()
            }),
            ["spring", "summer"]
        );
        assert_eq!(
            slugs(Query {
                started_after: date("2024-03-01"),
                started_before: date("2024-03-01"),
                ..Query::default()
            }),
            ["spring"],
            "both bounds are inclusive"
        );
        // Day 20,000 is 2024-10-04: `since` includes the whole day.
        assert_eq!(
            slugs(Query {
                since: date("2024-10-04"),
                ..Query::default()
            }),
            ["spring", "summer"]
        );
        assert_eq!(
            slugs(Query {
                since: date("2024-10-05"),
                ..Query::default()
            }),
            ["summer"]
        );
    }

    #[test]
    fn any_network_keeps_records_in_at_least_one_of_the_networks_named() {
        let founder = Identity::from_secret([6; 32]).author();
        let network = |slug: &str| convene_protocol::NetworkId::Convened {
            founder,
            slug: Slug::new(slug).unwrap(),
        };
        let in_networks = |slug: &str, networks: Vec<convene_protocol::NetworkId>| {
            Record::sign(
                &Identity::from_secret([5; 32]),
                Slug::new(slug).unwrap(),
                1,
                0,
                Content::Experiment(Experiment {
                    title: format!("Pilot {slug}"),
                    summary: "shared words".into(),
                    networks,
                    ..Experiment::default()
                }),
            )
            .unwrap()
        };
        let (_dir, index) = index_of(&[
            in_networks("commons", Vec::new()),
            in_networks("open", vec![network("open")]),
            in_networks("closed", vec![network("closed")]),
            in_networks("both", vec![network("closed"), network("open")]),
        ]);
        let slugs = slugs_of(
            &index,
            &Query {
                text: "shared".into(),
                any_network: vec![convene_protocol::NetworkId::Commons, network("open")],
                ..Query::default()
            },
        );
        assert_eq!(slugs, ["both", "commons", "open"]);
    }

    #[test]
    fn a_word_in_a_title_outranks_the_same_word_in_a_summary_or_body() {
        let (_dir, index) = index_of(&[
            record(
                "in-body",
                "Residents meet weekly",
                "A compost rota.",
                "Wales",
            ),
            record(
                "in-summary",
                "A compost rota",
                "Residents meet weekly.",
                "Wales",
            ),
            // Titles are "Pilot <slug>".
            record("compost", "Residents meet weekly", "A rota.", "Wales"),
        ]);
        let order: Vec<String> = index
            .search(&Query {
                text: "compost".into(),
                ..Query::default()
            })
            .unwrap()
            .into_iter()
            .map(|hit| hit.address.slug.to_string())
            .collect();
        assert_eq!(order, ["compost", "in-summary", "in-body"]);
    }

    #[test]
    fn merging_into_one_segment_keeps_every_hit_and_the_position_and_drops_replaced_documents() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::open(dir.path()).unwrap();
        let regions = ["Wales", "Kent", "Fife", "Powys"];
        // Each commit writes its own segment.
        for (position, region) in regions.iter().enumerate() {
            for n in 0..5 {
                let slug = format!("{region}-{n}").to_lowercase();
                index
                    .apply(
                        &record(&slug, "shared allotments", "compost rota", region),
                        None,
                    )
                    .unwrap();
            }
            index.commit(position as u64 + 1).unwrap();
        }
        // A new version of a record in the first segment leaves a deleted document there.
        let replaced = record("wales-0", "allotments replaced", "compost rota", "Kent");
        index.apply(&replaced, None).unwrap();
        index.commit(9).unwrap();
        let query = Query {
            text: "allotments compost".into(),
            limit: 50,
            ..Query::default()
        };
        let before = slugs_of(&index, &query);
        let segments = index.segment_count();
        assert!(segments >= 4, "{segments} segments before the merge");

        assert_eq!(index.merge_into_one().unwrap(), (segments, 1));

        assert_eq!(slugs_of(&index, &query), before);
        assert_eq!(before.len(), 20);
        assert_eq!(index.num_docs(), 20);
        assert_eq!(index.position().unwrap(), 9);
        let (_, reader) = index.raw_tantivy();
        let searcher = reader.searcher();
        assert_eq!(searcher.segment_reader(0).num_deleted_docs(), 0);
        assert_eq!(searcher.segment_reader(0).max_doc(), 20);
        // A merged index takes new writes as before.
        index
            .apply(&record("new", "allotments", "compost", "Fife"), None)
            .unwrap();
        index.commit(10).unwrap();
        assert_eq!(slugs_of(&index, &query).len(), 21);
        assert_eq!(index.merge_into_one().unwrap(), (2, 1));
    }

    #[test]
    fn a_background_merge_leaves_searches_going_and_ends_in_one_segment() {
        let dir = tempfile::tempdir().unwrap();
        let mut index = Index::open(dir.path()).unwrap();
        for position in 0..4u64 {
            for n in 0..5 {
                let slug = format!("pilot-{position}-{n}");
                index
                    .apply(&record(&slug, "shared allotments", "rota", "Kent"), None)
                    .unwrap();
            }
            index.commit(position + 1).unwrap();
        }
        let query = Query {
            text: "allotments".into(),
            limit: 50,
            ..Query::default()
        };
        let before = slugs_of(&index, &query);
        assert!(index.segment_count() >= 4);
        assert!(!index.merge_ended().unwrap(), "no merge started yet");

        assert!(index.start_merging().unwrap());
        assert!(!index.start_merging().unwrap(), "one merge at a time");
        assert_eq!(slugs_of(&index, &query), before);
        let deadline = Instant::now() + std::time::Duration::from_secs(30);
        while !index.merge_ended().unwrap() {
            assert!(Instant::now() < deadline, "the merge did not end");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }

        assert_eq!(index.segment_count(), 1);
        assert_eq!(index.segment_sizes(), [20]);
        assert_eq!(slugs_of(&index, &query), before);
        assert_eq!(index.position().unwrap(), 4);
        assert!(
            !index.start_merging().unwrap(),
            "one segment: nothing to merge"
        );
    }

    #[test]
    fn a_retraction_removes_the_document_and_a_new_version_replaces_it() {
        let first = record("a", "first words", "x", "Wales");
        let (_dir, mut index) = index_of(std::slice::from_ref(&first));
        let identity = Identity::from_secret([5; 32]);
        let second = Record::sign(
            &identity,
            Slug::new("a").unwrap(),
            2,
            0,
            Content::Experiment(Experiment {
                title: "Pilot a".into(),
                summary: "second words".into(),
                ..Experiment::default()
            }),
        )
        .unwrap();
        index.apply(&second, None).unwrap();
        index.commit(2).unwrap();
        assert!(
            index
                .search(&Query {
                    text: "first".into(),
                    ..Query::default()
                })
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            index
                .search(&Query {
                    text: "second".into(),
                    ..Query::default()
                })
                .unwrap()
                .len(),
            1
        );
        let retraction = Record::sign_retraction(&identity, &second.address(), 3, 0).unwrap();
        index.apply(&retraction, None).unwrap();
        index.commit(3).unwrap();
        assert_eq!(index.num_docs(), 0);
        assert_eq!(index.position().unwrap(), 3);
    }
}
