//! The index schema and its analyzers. Changing either makes old indexes incompatible: `open`
//! refuses them and the user runs `convene reindex`.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, Language, LowerCaser, RawTokenizer, RemoveLongFilter, SimpleTokenizer,
    Stemmer, StopWordFilter, TextAnalyzer,
};

/// English words, accents folded, stop words dropped, stemmed.
pub(crate) const TEXT_ANALYZER: &str = "convene_text";
/// The whole value as one token, lower case: for exact filters on tags, region and the like.
pub(crate) const KEYWORD_ANALYZER: &str = "convene_keyword";

#[derive(Clone, Copy, Debug)]
pub(crate) struct Fields {
    /// The record's address; the key that replaces and deletes documents.
    pub address: Field,
    pub kind: Field,
    pub author: Field,
    /// Title of an experiment or lesson, name of a practitioner or organisation.
    pub title: Field,
    pub summary: Field,
    /// Long text: description, outcomes, body, bio, what worked and did not.
    pub body: Field,
    /// Words of the tags (and a practitioner's expertise), searchable as text.
    pub topics: Field,
    /// Tags as exact values (and a practitioner's expertise).
    pub tags: Field,
    /// What a practitioner wants to learn, as exact values.
    pub interests: Field,
    /// A practitioner's expertise alone, as text: what `people` ranks on.
    pub expertise: Field,
    pub status: Field,
    pub sector: Field,
    pub region: Field,
    pub organisation: Field,
    pub contacts: Field,
    pub about: Field,
    /// Unix seconds.
    pub created_at: Field,
    /// Days since 1970-01-01.
    pub started: Field,
    pub ended: Field,
    pub review_by: Field,
    /// The networks an experiment, practitioner or lesson is published into, as text
    /// (`commons` when it names none).
    pub network: Field,
    /// The experiment an experiment was adopted from (its address).
    pub adopted_from: Field,
}

pub(crate) fn build() -> (Schema, Fields) {
    let mut builder = Schema::builder();
    let text = |stored: bool| {
        let options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(TEXT_ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    let keyword = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(KEYWORD_ANALYZER)
                .set_index_option(IndexRecordOption::Basic),
        )
        .set_stored();
    // Fields counted by facets also keep a lower-case column of their values.
    let facet = keyword.clone().set_fast(KEYWORD_ANALYZER);
    let fields = Fields {
        address: builder.add_text_field("address", STRING | STORED),
        kind: builder.add_text_field("kind", STRING | STORED | FAST),
        author: builder.add_text_field("author", STRING),
        title: builder.add_text_field("title", text(true)),
        summary: builder.add_text_field("summary", text(true)),
        body: builder.add_text_field("body", text(true)),
        topics: builder.add_text_field("topics", text(false)),
        tags: builder.add_text_field("tags", keyword.clone()),
        interests: builder.add_text_field("interests", keyword.clone()),
        expertise: builder.add_text_field("expertise", text(false)),
        status: builder.add_text_field("status", facet.clone()),
        sector: builder.add_text_field("sector", facet.clone()),
        region: builder.add_text_field("region", facet.clone()),
        organisation: builder.add_text_field("organisation", facet),
        contacts: builder.add_text_field("contacts", STRING | STORED),
        about: builder.add_text_field("about", STRING | STORED),
        created_at: builder.add_i64_field("created_at", INDEXED | FAST | STORED),
        started: builder.add_i64_field("started", INDEXED | FAST),
        ended: builder.add_i64_field("ended", INDEXED | FAST),
        review_by: builder.add_i64_field("review_by", INDEXED | FAST),
        network: builder.add_text_field("network", STRING),
        adopted_from: builder.add_text_field("adopted_from", STRING),
    };
    (builder.build(), fields)
}

pub(crate) fn text_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(40))
        .filter(LowerCaser)
        .filter(AsciiFoldingFilter)
        .filter(StopWordFilter::new(Language::English).expect("tantivy ships English stop words"))
        .filter(Stemmer::new(Language::English))
        .build()
}

pub(crate) fn register_analyzers(index: &tantivy::Index) {
    let keyword = || {
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build()
    };
    index.tokenizers().register(TEXT_ANALYZER, text_analyzer());
    index.tokenizers().register(KEYWORD_ANALYZER, keyword());
    index
        .fast_field_tokenizer()
        .register(KEYWORD_ANALYZER, keyword());
}
