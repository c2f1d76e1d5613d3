//! Turning what a person typed into a tantivy query.
//!
//! Words are analysed like indexed text and each becomes one term per searched field, all in a
//! single flat disjunction. Flat matters: tantivy prunes a union of plain term clauses with
//! Block-WAND, skipping documents that cannot reach the top hits, which a query parser's nested
//! per-word disjunctions prevent. A `"quoted phrase"` becomes a phrase query per field.

use tantivy::Term;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, TermQuery};
use tantivy::schema::{Field, IndexRecordOption};

use crate::schema::{Fields, text_analyzer};

/// The fields free text is matched against, with their weights.
pub(crate) fn weighted_fields(f: &Fields) -> [(Field, f32); 4] {
    [
        (f.title, 3.0),
        (f.topics, 2.0),
        (f.summary, 1.5),
        (f.body, 1.0),
    ]
}

/// The query for `text`, or `None` when it holds no searchable word (only stop words, say).
pub(crate) fn parse(fields: &Fields, text: &str) -> Option<Box<dyn Query>> {
    let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    for (quoted, part) in split_phrases(text) {
        let words = analyse(part);
        if quoted && words.len() > 1 {
            for (field, weight) in weighted_fields(fields) {
                let terms = words
                    .iter()
                    .map(|w| Term::from_field_text(field, w))
                    .collect();
                let phrase = PhraseQuery::new(terms);
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(phrase), weight)),
                ));
            }
            continue;
        }
        for word in words {
            for (field, weight) in weighted_fields(fields) {
                let term = TermQuery::new(
                    Term::from_field_text(field, &word),
                    IndexRecordOption::WithFreqs,
                );
                clauses.push((
                    Occur::Should,
                    Box::new(BoostQuery::new(Box::new(term), weight)),
                ));
            }
        }
    }
    if clauses.is_empty() {
        return None;
    }
    Some(Box::new(BooleanQuery::new(clauses)))
}

/// Splits text into (quoted?, part) pieces on double quotes. An unclosed quote runs to the end.
fn split_phrases(text: &str) -> impl Iterator<Item = (bool, &str)> {
    text.split('"')
        .enumerate()
        .map(|(at, part)| (at % 2 == 1, part))
        .filter(|(_, part)| !part.trim().is_empty())
}

/// The terms of `text` as the index stores them, in order, repeats removed for bare words.
fn analyse(text: &str) -> Vec<String> {
    let mut analyzer = text_analyzer();
    let mut stream = analyzer.token_stream(text);
    let mut words = Vec::new();
    while let Some(token) = tantivy::tokenizer::TokenStream::next(&mut stream) {
        words.push(token.text.clone());
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
