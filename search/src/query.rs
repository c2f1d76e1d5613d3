//! Turning what a person typed into a tantivy query.
//!
//! Words are analysed like indexed text and each becomes one term of the `words` field, where
//! title, topics, summary and body are counted together, each as often as it weighs (see
//! [`crate::schema::WeightedWords`]), all in a single flat disjunction. Flat matters: tantivy
//! prunes a union of plain term clauses with Block-WAND, skipping documents that cannot reach
//! the top hits, which a query parser's nested per-word disjunctions prevent. One term per word
//! rather than one per word and field matters too: three common words were twelve posting
//! lists to walk, and at a million records their median search went from 3.1 to 1.3 ms as three.
//!
//! A `"quoted phrase"` is a phrase query on the words' positions, narrowed first to the
//! documents holding the buckets of each pair of its neighbouring words (see
//! [`crate::schema::pair_into`]). Positions alone read every position of both words in every
//! document holding both, which for common words at a million records took a hundred
//! milliseconds; the buckets leave far fewer to check. A query that is one two-word phrase and
//! nothing else is ranked by the pair's bucket and pruned (see [`lone_phrase`]).

use tantivy::Term;
use tantivy::query::{
    BooleanQuery, BoostQuery, ConstScoreQuery, Occur, PhraseQuery, Query, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption};

use crate::schema::{Fields, pair, text_analyzer};

/// The fields free text is matched against, with their weights: the times a word in each
/// counts in the `words` field, and the boost of a phrase found in each.
pub(crate) fn word_weights(f: &Fields) -> [(Field, u8); 4] {
    [(f.title, 3), (f.topics, 2), (f.summary, 2), (f.body, 1)]
}

/// [`word_weights`] as boosts.
pub(crate) fn weighted_fields(f: &Fields) -> [(Field, f32); 4] {
    word_weights(f).map(|(field, weight)| (field, f32::from(weight)))
}

/// The query for `text`, or `None` when it holds no searchable word (only stop words, say).
pub(crate) fn parse(fields: &Fields, text: &str) -> Option<Box<dyn Query>> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (quoted, part) in split_phrases(text) {
        let words = analyse(part);
        if quoted && words.len() > 1 {
            for (field, weight) in weighted_fields(fields) {
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(phrase(field, &words), weight)),
                ));
            }
            continue;
        }
        for (_, word) in words {
            // One clause per word, in `words`, where each field's weight is already counted.
            clauses.push((
                Occur::Should,
                Box::new(TermQuery::new(
                    Term::from_field_text(fields.words, &word),
                    IndexRecordOption::WithFreqs,
                )),
            ));
        }
    }
    if clauses.is_empty() {
        return None;
    }
    Some(Box::new(BooleanQuery::new(clauses)))
}

/// The query for a phrase of two or more `words` (with their positions) in `field`: the words
/// at the same distances from each other, in documents that hold the bucket of every pair.
fn phrase(field: Field, words: &[(usize, String)]) -> Box<dyn Query> {
    let first = words[0].0;
    let positions = PhraseQuery::new_with_offset(
        words
            .iter()
            .map(|(position, word)| (position - first, Term::from_field_text(field, word)))
            .collect(),
    );
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![(Occur::Must, Box::new(positions))];
    for two in words.windows(2) {
        let bucket = TermQuery::new(
            Term::from_field_text(field, &pair(&two[0].1, &two[1].1)),
            IndexRecordOption::Basic,
        );
        // Buckets decide which documents are checked; the score is the phrase's.
        clauses.push((
            Occur::Must,
            Box::new(ConstScoreQuery::new(Box::new(bucket), 0.0)),
        ));
    }
    Box::new(BooleanQuery::new(clauses))
}

/// A search for one quoted two-word phrase and nothing else, run as a pruned search (see
/// [`crate::top`]): ranked by the pair's bucket, boosted per field like a word, and kept only
/// where one of the fields holds the words at their distance.
pub(crate) struct LonePhrase {
    pub scored: Box<dyn Query>,
    pub places: Vec<Box<dyn Query>>,
}

/// [`LonePhrase`] for `text`, if it is one quoted phrase of two words.
///
/// A phrase of two common words can be in half the documents at a million records; ranking
/// them all took 90 ms. The bucket of the pair is a term like any word, so tantivy can prune
/// by it, and the words' positions are checked only for the documents it offers.
pub(crate) fn lone_phrase(fields: &Fields, text: &str) -> Option<LonePhrase> {
    let mut parts = split_phrases(text);
    let (quoted, part) = parts.next()?;
    if !quoted || parts.next().is_some() {
        return None;
    }
    let words = analyse(part);
    let [(first_at, first), (second_at, second)] = &words[..] else {
        return None;
    };
    let bucket = pair(first, second);
    let mut scored: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    let mut places: Vec<Box<dyn Query>> = Vec::new();
    for (field, weight) in weighted_fields(fields) {
        let term = TermQuery::new(
            Term::from_field_text(field, &bucket),
            IndexRecordOption::WithFreqs,
        );
        scored.push((
            Occur::Should,
            Box::new(BoostQuery::new(Box::new(term), weight)),
        ));
        places.push(Box::new(PhraseQuery::new_with_offset(vec![
            (0, Term::from_field_text(field, first)),
            (second_at - first_at, Term::from_field_text(field, second)),
        ])));
    }
    Some(LonePhrase {
        scored: Box::new(BooleanQuery::new(scored)),
        places,
    })
}

/// Every word of `text`, phrases included, as a disjunction over the searched fields: what
/// snippets highlight, since a phrase's own terms are pairs that no stored text holds.
pub(crate) fn words(fields: &Fields, text: &str) -> Option<Box<dyn Query>> {
    let clauses: Vec<(Occur, Box<dyn Query>)> = analyse(text)
        .into_iter()
        .flat_map(|(_, word)| {
            weighted_fields(fields)
                .into_iter()
                .map(move |(field, _)| -> (Occur, Box<dyn Query>) {
                    (
                        Occur::Should,
                        Box::new(TermQuery::new(
                            Term::from_field_text(field, &word),
                            IndexRecordOption::WithFreqs,
                        )),
                    )
                })
        })
        .collect();
    (!clauses.is_empty()).then(|| Box::new(BooleanQuery::new(clauses)) as Box<dyn Query>)
}

/// Splits text into (quoted?, part) pieces on double quotes. An unclosed quote runs to the end.
fn split_phrases(text: &str) -> impl Iterator<Item = (bool, &str)> {
    text.split('"')
        .enumerate()
        .map(|(at, part)| (at % 2 == 1, part))
        .filter(|(_, part)| !part.trim().is_empty())
}

/// The words of `text` as the index stores them, in order, with their positions (a stop word
/// dropped leaves a gap).
fn analyse(text: &str) -> Vec<(usize, String)> {
    let mut analyzer = text_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut words = Vec::new();
    while let Some(token) = tantivy::tokenizer::TokenStream::next(&mut stream) {
        words.push((token.position, token.text.clone()));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_split_phrases_from_words() {
        let parts: Vec<(bool, &str)> =
            split_phrases(r#"bikes "town hall" repair "unclosed"#).collect();
        assert_eq!(
            parts,
            [
                (false, "bikes "),
                (true, "town hall"),
                (false, " repair "),
                (true, "unclosed")
            ]
        );
    }

    #[test]
    fn only_stop_words_make_no_query() {
        let (_, fields) = crate::schema::build();
        assert!(parse(&fields, "the and of").is_none());
        assert!(parse(&fields, "the libraries").is_some());
    }
}
