//! Finding records like a given one, so people join existing work instead of repeating it.
//!
//! Candidates come from the index (any shared word of the title, summary or tags, same kind);
//! each is then scored by the overlap of its words with the given record's (the Dice
//! coefficient of the two word sets after stemming and stop-word removal), which, unlike a
//! BM25 score, means the same thing whatever the size of the corpus.

use std::collections::BTreeSet;

use convene_protocol::{Address, Content};
use tantivy::collector::TopDocs;
use tantivy::query::{BooleanQuery, Occur, Query, TermQuery};
use tantivy::schema::{IndexRecordOption, Value};
use tantivy::{TantivyDocument, Term};

use crate::{Hit, Index, IndexError, schema};

/// How much two records must overlap (0 to 1) to count as similar.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SimilarityThreshold(pub f32);

/// What [`Index::similar`] looks for: records like `content` (leaving out `exclude`, the record
/// itself), at least `threshold` similar, at most `limit` of them.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SimilarQuery {
    pub content: Content,
    pub exclude: Option<Address>,
    pub threshold: SimilarityThreshold,
    pub limit: usize,
}

impl SimilarityThreshold {
    /// Worth a question before publishing: about a third of the words in common.
    pub const PUBLISH: SimilarityThreshold = SimilarityThreshold(0.3);
    /// Anything with some overlap, for `convene similar`.
    pub const ANY: SimilarityThreshold = SimilarityThreshold(0.05);
}

/// Candidates scored per result asked for: enough that a good match ranked low by BM25 is
/// still looked at.
const CANDIDATES_PER_RESULT: usize = 5;

pub(crate) fn find(index: &Index, query: &SimilarQuery) -> Result<Vec<(f32, Hit)>, IndexError> {
    let SimilarQuery {
        content,
        exclude,
        threshold,
        limit,
    } = query;
    let (exclude, threshold, limit) = (exclude.as_ref(), *threshold, *limit);
    crate::limits::results(limit)?;
    let fields = index.fields();
    let wanted = words(&profile_of_content(content));
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let mut any_word: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for word in &wanted {
        for field in [fields.title, fields.summary, fields.topics] {
            let term = Term::from_field_text(field, word);
            any_word.push((
                Occur::Should,
                Box::new(TermQuery::new(term, IndexRecordOption::WithFreqs)),
            ));
        }
    }
    let kind = Term::from_field_text(fields.kind, content.kind().as_str());
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
        (Occur::Must, Box::new(BooleanQuery::new(any_word))),
        (
            Occur::Must,
            Box::new(TermQuery::new(kind, IndexRecordOption::Basic)),
        ),
    ];
    if let Some(exclude) = exclude {
        let term = Term::from_field_text(fields.address, &exclude.to_string());
        clauses.push((
            Occur::MustNot,
            Box::new(TermQuery::new(term, IndexRecordOption::Basic)),
        ));
    }
    let searcher = index.searcher();
    let limit = limit.max(1);
    let candidates = searcher.search(
        &BooleanQuery::new(clauses),
        &TopDocs::with_limit(limit * CANDIDATES_PER_RESULT).order_by_score(),
    )?;
    let mut scored = Vec::new();
    for (score, doc_address) in candidates {
        let (doc, hit) = index.load_hit(&searcher, doc_address, score)?;
        let similarity = dice(&wanted, &words(&profile_of_doc(index, &doc)));
        if similarity >= threshold.0 {
            scored.push((similarity, hit));
        }
    }
    scored.sort_by(|a, b| {
        b.0.total_cmp(&a.0)
            .then_with(|| b.1.score.total_cmp(&a.1.score))
    });
    scored.truncate(limit);
    Ok(scored)
}

/// The text that identifies what a record is about: title, summary and tags.
fn profile_of_content(content: &Content) -> String {
    let (summary, tags): (Option<&str>, &[String]) = match content {
        Content::Experiment(e) => (Some(&e.summary), &e.tags),
        Content::Practitioner(p) => (p.role.as_deref(), &p.expertise),
        Content::Lesson(l) => (Some(&l.summary), &l.tags),
        Content::Organisation(o) => (o.org_type.as_deref(), &[]),
        Content::Vouch(v) => (v.note.as_deref(), &[]),
        Content::Charter(c) => (c.purpose.as_deref(), &[]),
        Content::Binding(_)
        | Content::Featured(_)
        | Content::ContactCard(_)
        | Content::Delegation(_)
        | Content::Succession(_)
        | Content::Interest(_) => (None, &[]),
    };
    let mut text = content.title().to_string();
    for part in summary.into_iter().chain(tags.iter().map(String::as_str)) {
        text.push('\n');
        text.push_str(part);
    }
    text
}

fn profile_of_doc(index: &Index, doc: &TantivyDocument) -> String {
    let f = index.fields();
    let mut text = String::new();
    for field in [f.title, f.summary, f.tags] {
        for value in doc.get_all(field) {
            if let Some(value) = value.as_str() {
                text.push('\n');
                text.push_str(value);
            }
        }
    }
    text
}

fn words(text: &str) -> BTreeSet<String> {
    let mut analyzer = schema::text_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut words = BTreeSet::new();
    while let Some(token) = tantivy::tokenizer::TokenStream::next(&mut stream) {
        words.insert(token.text.clone());
    }
    words
}

fn dice(a: &BTreeSet<String>, b: &BTreeSet<String>) -> f32 {
    if a.is_empty() || b.is_empty() {
        return 0.0;
    }
    let shared = a.intersection(b).count();
    (2 * shared) as f32 / (a.len() + b.len()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_sets_ignore_stop_words_case_and_inflection() {
        let words = words("The Virtual Town Halls of Leeds");
        assert_eq!(
            words.into_iter().collect::<Vec<_>>(),
            ["hall", "leed", "town", "virtual"]
        );
    }

    #[test]
    fn dice_is_one_for_equal_sets_and_zero_for_disjoint_ones() {
        let a = words("digital inclusion pilot");
        let b = words("pilots for digital inclusion");
        assert_eq!(dice(&a, &b), 1.0);
        assert_eq!(dice(&a, &words("parking permits")), 0.0);
    }
}
