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
/// The words of [`TEXT_ANALYZER`], each repeated as many times as its field weighs (see
/// [`WeightedWords`]): what unquoted words are searched in.
pub(crate) const WEIGHTED_WORDS_ANALYZER: &str = "convene_weighted_words";

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
    /// The words of title, topics, summary and body together, each counted as many times as
    /// its field weighs ([`WeightedWords`]): one posting list per word for
    /// unquoted words to be ranked by, where the four fields make four.
    pub words: Field,
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
    // Ranked by term frequency only: phrases use the fields' own positions.
    let weighted_words = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(WEIGHTED_WORDS_ANALYZER)
            .set_index_option(IndexRecordOption::WithFreqs),
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
        words: builder.add_text_field("words", weighted_words),
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
        .filter(RememberedStems)
        .build()
}

/// Words whose stems are remembered; past this they are all forgotten and it starts again.
const REMEMBERED_STEMS: usize = 50_000;

/// English stemming (tantivy's [`Stemmer`]) that remembers the stems of the words it has seen,
/// in one memory for the whole process. Text repeats its words, and indexing reads each text
/// twice (its field, then `words`): stemming was a third of the work of tantivy's indexing
/// thread, the slowest stage of an import. One memory rather than one per analyzer because
/// tantivy clones an analyzer for every field of every segment it writes and every snippet it
/// makes, and a cold memory costs more than stemming.
#[derive(Clone, Copy)]
pub(crate) struct RememberedStems;

impl tantivy::tokenizer::TokenFilter for RememberedStems {
    type Tokenizer<T: Tokenizer> = RememberedStemsFilter<T>;

    fn transform<T: Tokenizer>(self, inner: T) -> RememberedStemsFilter<T> {
        RememberedStemsFilter { inner }
    }
}

/// A word to its stem, and the stemmer for the words not yet seen.
struct Stems {
    known: std::collections::HashMap<String, String>,
    stemmer: TextAnalyzer,
}

static STEMS: std::sync::LazyLock<std::sync::Mutex<Stems>> = std::sync::LazyLock::new(|| {
    std::sync::Mutex::new(Stems {
        known: std::collections::HashMap::new(),
        stemmer: TextAnalyzer::builder(RawTokenizer::default())
            .filter(Stemmer::new(Language::English))
            .build(),
    })
});

impl Stems {
    /// Replaces `word` with its stem.
    fn stem(word: &mut String) {
        // A panic elsewhere while it was held leaves the memory whole: take it anyway.
        let mut stems = STEMS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(stem) = stems.known.get(word.as_str()) {
            word.clone_from(stem);
            return;
        }
        let mut stream = stems.stemmer.token_stream(word);
        let stem = if stream.advance() {
            stream.token().text.clone()
        } else {
            word.clone()
        };
        drop(stream);
        if stems.known.len() >= REMEMBERED_STEMS {
            stems.known.clear();
        }
        let unstemmed = std::mem::replace(word, stem.clone());
        stems.known.insert(unstemmed, stem);
    }
}

#[derive(Clone)]
pub(crate) struct RememberedStemsFilter<T> {
    inner: T,
}

impl<T: Tokenizer> Tokenizer for RememberedStemsFilter<T> {
    type TokenStream<'a> = RememberedStemsStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        RememberedStemsStream {
            tail: self.inner.token_stream(text),
        }
    }
}

pub(crate) struct RememberedStemsStream<T> {
    tail: T,
}

impl<T: TokenStream> TokenStream for RememberedStemsStream<T> {
    fn advance(&mut self) -> bool {
        if !self.tail.advance() {
            return false;
        }
        Stems::stem(&mut self.tail.token_mut().text);
        true
    }

    fn token(&self) -> &Token {
        self.tail.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.tail.token_mut()
    }
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

/// `text` marked to count `weight` times (1 to 9) in the `words` field (see [`WeightedWords`]).
pub(crate) fn weighted(weight: u8, text: &str) -> String {
    debug_assert!((1..=9).contains(&weight));
    let mut marked = String::with_capacity(text.len() + 1);
    marked.push(char::from(b'0' + weight));
    marked.push_str(text);
    marked
}

/// Reads a value made by [`weighted`]: its first character is the weight, the rest is text read
/// as [`text_analyzer`] does, each word given that many times. A word in a title (weight 3)
/// then counts as three occurrences, so one posting list ranks like the four fields' lists
/// with their boosts, saturated together as BM25F does rather than field by field. A value
/// without a weight counts once.
#[derive(Clone)]
pub(crate) struct WeightedWords {
    words: TextAnalyzer,
}

impl Default for WeightedWords {
    fn default() -> WeightedWords {
        WeightedWords {
            words: text_analyzer(),
        }
    }
}

impl Tokenizer for WeightedWords {
    type TokenStream<'a> = WeightedWordsStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> WeightedWordsStream<'a> {
        let (weight, text) = match text.as_bytes().first() {
            Some(digit @ b'1'..=b'9') => (u32::from(digit - b'0'), &text[1..]),
            _ => (1, text),
        };
        WeightedWordsStream {
            words: self.words.token_stream(text),
            weight,
            left: 0,
        }
    }
}

pub(crate) struct WeightedWordsStream<'a> {
    words: BoxTokenStream<'a>,
    weight: u32,
    /// Times the current word is still to be given.
    left: u32,
}

impl TokenStream for WeightedWordsStream<'_> {
    fn advance(&mut self) -> bool {
        if self.left > 0 {
            self.left -= 1;
            return true;
        }
        if !self.words.advance() {
            return false;
        }
        self.left = self.weight - 1;
        true
    }

    fn token(&self) -> &Token {
        self.words.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.words.token_mut()
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
    index.tokenizers().register(
        WEIGHTED_WORDS_ANALYZER,
        TextAnalyzer::from(WeightedWords::default()),
    );
    index
        .fast_field_tokenizer()
        .register(KEYWORD_ANALYZER, keyword());
}

/// The tokens `analyzer` makes of `text`, for tests.
#[cfg(test)]
pub(crate) fn words(analyzer: &mut TextAnalyzer, text: &str) -> Vec<String> {
    let mut stream = analyzer.token_stream(text);
    let mut words = Vec::new();
    while stream.advance() {
        words.push(stream.token().text.clone());
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembered_stems_are_the_stemmers_own_seen_or_not() {
        let mut plain = TextAnalyzer::builder(SimpleTokenizer::default())
            .filter(RemoveLongFilter::limit(40))
            .filter(LowerCaser)
            .filter(AsciiFoldingFilter)
            .filter(StopWordFilter::new(Language::English).unwrap())
            .filter(Stemmer::new(Language::English))
            .build();
        let mut remembering = text_analyzer();
        let text = "Councils running allotments: running, grown, growing and Café meetings";
        let expected = words(&mut plain, text);
        assert_eq!(expected[..3], ["council", "run", "allot"]);
        // The second time every stem is remembered.
        assert_eq!(words(&mut remembering, text), expected);
        assert_eq!(words(&mut remembering, text), expected);
        // Past its bound it forgets and goes on giving the same stems.
        for n in 0..REMEMBERED_STEMS + 10 {
            words(&mut remembering, &format!("word{n}"));
        }
        assert_eq!(words(&mut remembering, text), expected);
    }
}
