//! The best hits of a text query among the documents a filter keeps (and, for a lone phrase,
//! where its words stand at their distance), found with the text query's pruning intact.
//!
//! A filter joined to the text query as one more required clause turns the text query's union
//! into an intersection, which tantivy scores document by document: every document that holds a
//! query word and passes the filters. Here the text query runs alone, pruned with Block-WAND,
//! and the filter is asked only about the documents it offers, in increasing order, so a filter
//! is one forward walk over its own postings. The ranking is the same: filters add nothing to
//! a score.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{EnableScoring, Query, Scorer, Weight};
use tantivy::{DocAddress, DocId, DocSet, Score, Searcher, SegmentOrdinal, SegmentReader};

/// The `limit` best-scoring documents that `filter` keeps and at least one of `any` matches
/// (when it names any), best first.
pub(crate) struct FilteredTop {
    limit: usize,
    filter: Option<Box<dyn Weight>>,
    any: Vec<Box<dyn Weight>>,
}

impl FilteredTop {
    pub(crate) fn new(
        searcher: &Searcher,
        filter: Option<&dyn Query>,
        any: &[Box<dyn Query>],
        limit: usize,
    ) -> tantivy::Result<FilteredTop> {
        let weight =
            |query: &dyn Query| query.weight(EnableScoring::disabled_from_searcher(searcher));
        Ok(FilteredTop {
            limit,
            filter: filter.map(weight).transpose()?,
            any: any
                .iter()
                .map(|query| weight(&**query))
                .collect::<tantivy::Result<_>>()?,
        })
    }
}

impl Collector for FilteredTop {
    type Fruit = Vec<(Score, DocAddress)>;
    type Child = FilteredSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<FilteredSegment> {
        Ok(FilteredSegment {
            segment,
            filter: self
                .filter
                .as_ref()
                .map(|filter| filter.scorer(reader, 1.0))
                .transpose()?,
            any: self
                .any
                .iter()
                .map(|weight| weight.scorer(reader, 1.0))
                .collect::<tantivy::Result<_>>()?,
            best: Best::new(self.limit),
        })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(
        &self,
        segments: Vec<Vec<(Score, DocAddress)>>,
    ) -> tantivy::Result<Vec<(Score, DocAddress)>> {
        let mut all: Vec<(Score, DocAddress)> = segments.into_iter().flatten().collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        all.truncate(self.limit);
        Ok(all)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Vec<(Score, DocAddress)>> {
        let mut child = self.for_segment(segment, reader)?;
        let alive = reader.alive_bitset();
        weight.for_each_pruning(Score::MIN, reader, &mut |doc, score| {
            if alive.is_none_or(|alive| alive.is_alive(doc)) {
                child.collect(doc, score);
            }
            child.best.threshold()
        })?;
        Ok(child.harvest())
    }
}

pub(crate) struct FilteredSegment {
    segment: SegmentOrdinal,
    filter: Option<Box<dyn Scorer>>,
    any: Vec<Box<dyn Scorer>>,
    best: Best,
}

impl FilteredSegment {
    /// Whether `doc` is kept. Documents must come in increasing order.
    fn keeps(&mut self, doc: DocId) -> bool {
        self.filter
            .as_mut()
            .is_none_or(|filter| reaches(filter, doc))
            && (self.any.is_empty() || self.any.iter_mut().any(|scorer| reaches(scorer, doc)))
    }
}

/// Whether `scorer` matches `doc`, moving it forward to there if it is behind.
fn reaches(scorer: &mut Box<dyn Scorer>, doc: DocId) -> bool {
    if scorer.doc() < doc {
        scorer.seek(doc);
    }
    scorer.doc() == doc
}

impl SegmentCollector for FilteredSegment {
    type Fruit = Vec<(Score, DocAddress)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if self.keeps(doc) {
            self.best.offer(score, doc);
        }
    }

    fn harvest(self) -> Vec<(Score, DocAddress)> {
        let segment = self.segment;
        self.best
            .into_sorted()
            .into_iter()
            .map(|(score, doc)| (score, DocAddress::new(segment, doc)))
            .collect()
    }
}

/// One candidate: higher scores are better, and of equal scores the earlier document.
#[derive(PartialEq)]
struct Candidate {
    score: Score,
    doc: DocId,
}

impl Eq for Candidate {}

impl Ord for Candidate {
    fn cmp(&self, other: &Candidate) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(other.doc.cmp(&self.doc))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Candidate) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The best `limit` candidates offered so far; the worst of them on top of the heap.
struct Best {
    limit: usize,
    heap: BinaryHeap<Reverse<Candidate>>,
}

impl Best {
    fn new(limit: usize) -> Best {
        Best {
            limit,
            heap: BinaryHeap::with_capacity(limit + 1),
        }
    }

    fn offer(&mut self, score: Score, doc: DocId) {
        if self.limit == 0 {
            return;
        }
        let candidate = Candidate { score, doc };
        if self.heap.len() < self.limit {
            self.heap.push(Reverse(candidate));
        } else if self
            .heap
            .peek()
            .is_some_and(|Reverse(worst)| candidate > *worst)
        {
            self.heap.pop();
            self.heap.push(Reverse(candidate));
        }
    }

    /// The score a document must beat to be offered: the worst kept once `limit` are kept.
    fn threshold(&self) -> Score {
        match self.heap.peek() {
            Some(Reverse(worst)) if self.heap.len() == self.limit => worst.score,
            _ => Score::MIN,
        }
    }

    fn into_sorted(self) -> Vec<(Score, DocId)> {
        self.heap
            .into_sorted_vec()
            .into_iter()
            .map(|Reverse(c)| (c.score, c.doc))
            .collect()
    }
}
