//! The index schema and its analyzers. Changing either makes old indexes incompatible: `open`
//! refuses them and the user runs `convene reindex`.

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, STORED, STRING, Schema, TextFieldIndexing, TextOptions,
};
use tantivy::tokenizer::{
    AsciiFoldingFilter, BoxTokenStream, Language, LowerCaser, RawTokenizer, RemoveLongFilter,
    SimpleTokenizer, Stemmer, StopWordFilter, TextAnalyzer, Token, TokenStream, Tokenizer,
};

/// English words, accents folded, stop words dropped, stemmed.
pub(crate) const TEXT_ANALYZER: &str = "convene_text";
/// The words of [`TEXT_ANALYZER`], each followed by the bucket of the pair it makes with the
/// word before (see [`WordsAndPairs`]): what free text is searched in, phrases included.
pub(crate) const WORDS_AND_PAIRS_ANALYZER: &str = "convene_words_and_pairs";
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
    // The fields free text is searched in hold the buckets of word pairs beside the words.
    let text = |stored: bool| {
        let options = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(WORDS_AND_PAIRS_ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        if stored {
            options.set_stored()
        } else {
            options
        }
    };
    // A practitioner's expertise is matched word by word only.
    let words_only = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(TEXT_ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
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
        expertise: builder.add_text_field("expertise", words_only),
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

/// Buckets that word pairs are counted in (see [`pair_into`]).
pub(crate) const PAIR_BUCKETS: u64 = 1 << 14;

/// Writes into `out` the term for two words that follow each other, `first` and `second` as the
/// analyzer leaves them: a leading space, which no word has, and the number of the pair's
/// bucket. Pairs are hashed into [`PAIR_BUCKETS`] buckets rather than kept whole: a million
/// records hold tens of millions of distinct pairs, and indexing each as its own term tripled
/// the cost of indexing. A bucket holds other pairs too, so it only narrows a phrase down to the
/// few documents whose word positions are then checked.
pub(crate) fn pair_into(out: &mut String, first: &str, second: &str) {
    use std::fmt::Write;
    // FNV-1a: small, and the same on every platform and version, as an index needs.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in first.bytes().chain([0xff]).chain(second.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    out.clear();
    write!(out, " {:x}", hash % PAIR_BUCKETS).expect("writing to a String");
}

/// [`pair_into`] a new string.
pub(crate) fn pair(first: &str, second: &str) -> String {
    let mut out = String::new();
    pair_into(&mut out, first, second);
    out
}

/// Reads text as [`text_analyzer`] does and gives each word, then the bucket of the pair it
/// makes with the word before it as one more token at the same position (see [`pair_into`]).
/// A pair is two words left next to each other once stop words are dropped, on both sides: the
/// phrase query then checks the gaps.
#[derive(Clone)]
pub(crate) struct WordsAndPairs {
    words: TextAnalyzer,
}

impl Default for WordsAndPairs {
    fn default() -> WordsAndPairs {
        WordsAndPairs {
            words: text_analyzer(),
        }
    }
}

impl Tokenizer for WordsAndPairs {
    type TokenStream<'a> = WordsAndPairsStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WordsAndPairsStream<'a> {
        WordsAndPairsStream {
            words: self.words.token_stream(text),
            previous: None,
            pair_next: false,
            token: Token::default(),
        }
    }
}

pub(crate) struct WordsAndPairsStream<'a> {
    words: BoxTokenStream<'a>,
    /// The word before the current one.
    previous: Option<String>,
    /// The current token is a word that follows another: their pair comes next.
    pair_next: bool,
    token: Token,
}

impl TokenStream for WordsAndPairsStream<'_> {
    fn advance(&mut self) -> bool {
        if self.pair_next {
            self.pair_next = false;
            let previous = self.previous.as_mut().expect("a pair follows two words");
            let word = std::mem::take(&mut self.token.text);
            pair_into(&mut self.token.text, previous, &word);
            // This word is the first of the next pair.
            *previous = word;
            return true;
        }
        if !self.words.advance() {
            return false;
        }
        self.token.clone_from(self.words.token());
        match &self.previous {
            Some(_) => self.pair_next = true,
            None => self.previous = Some(self.token.text.clone()),
        }
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

pub(crate) fn register_analyzers(index: &tantivy::Index) {
    let keyword = || {
        TextAnalyzer::builder(RawTokenizer::default())
            .filter(LowerCaser)
            .build()
    };
    index.tokenizers().register(TEXT_ANALYZER, text_analyzer());
    index.tokenizers().register(KEYWORD_ANALYZER, keyword());
    index.tokenizers().register(
        WORDS_AND_PAIRS_ANALYZER,
        TextAnalyzer::from(WordsAndPairs::default()),
    );
    index
        .fast_field_tokenizer()
        .register(KEYWORD_ANALYZER, keyword());
}
