//! Turning a record into the document the index holds for its address.

use convene_protocol::{Content, Date, NetworkId, Record};
use tantivy::TantivyDocument;
use tantivy::schema::Value;

use crate::schema::Fields;

/// `author` is the organisation the node knows the record's author as (see `Index::apply`); a
/// record's own `organisation` text is a claim, not an identity, and is not indexed as one.
pub(crate) fn build(
    f: &Fields,
    record: &Record,
    content: &Content,
    author: Option<&str>,
) -> Option<TantivyDocument> {
    if matches!(
        content,
        Content::Binding(_)
            | Content::Featured(_)
            | Content::ContactCard(_)
            | Content::Delegation(_)
            | Content::Succession(_)
            | Content::Interest(_)
    ) {
        // Lists of node ids or of other records, and contact details that only some may
        // see: nothing anyone searches for.
        return None;
    }
    let mut doc = TantivyDocument::default();
    if let Some(name) = author {
        doc.add_text(f.organisation, name);
    }
    let header = record.header();
    doc.add_text(f.address, record.address().to_string());
    doc.add_text(f.kind, header.kind.as_str());
    doc.add_text(f.author, header.author.to_base32());
    doc.add_i64(f.created_at, header.created_at);
    doc.add_text(f.title, content.title());
    if matches!(
        content,
        Content::Experiment(_) | Content::Practitioner(_) | Content::Lesson(_)
    ) {
        match content.networks() {
            [] => doc.add_text(f.network, NetworkId::Commons.to_string()),
            networks => {
                for network in networks {
                    doc.add_text(f.network, network.to_string());
                }
            }
        }
    }
    match content {
        Content::Experiment(e) => {
            add_opt(&mut doc, f.body, &e.description);
            add_opt(&mut doc, f.body, &e.outcomes);
            add_opt(&mut doc, f.sector, &e.sector);
            add_opt(&mut doc, f.region, &e.region);
            doc.add_text(f.summary, &e.summary);
            doc.add_text(f.status, e.status.as_str());
            for (key, value) in &e.context {
                doc.add_text(f.body, format!("{key}: {value}"));
            }
            add_tags(&mut doc, f, &e.tags);
            add_addresses(&mut doc, f.contacts, &e.contacts);
            add_date(&mut doc, f.started, e.started);
            add_date(&mut doc, f.ended, e.ended);
            add_date(&mut doc, f.review_by, e.review_by);
            if let Some(from) = &e.adopted_from {
                doc.add_text(f.adopted_from, from.to_string());
            }
        }
        Content::Practitioner(p) => {
            add_opt(&mut doc, f.summary, &p.role);
            add_opt(&mut doc, f.body, &p.bio);
            add_opt(&mut doc, f.region, &p.region);
            add_tags(&mut doc, f, &p.expertise);
            for topic in &p.expertise {
                doc.add_text(f.expertise, topic);
            }
            for interest in &p.interests {
                doc.add_text(f.interests, interest);
            }
        }
        Content::Lesson(l) => {
            for value in [&l.body, &l.worked, &l.didnt_work, &l.recommendation] {
                add_opt(&mut doc, f.body, value);
            }
            doc.add_text(f.summary, &l.summary);
            if let Some(about) = &l.about {
                doc.add_text(f.about, about.to_string());
            }
            add_tags(&mut doc, f, &l.tags);
            add_addresses(&mut doc, f.contacts, &l.contacts);
        }
        Content::Organisation(o) => {
            add_opt(&mut doc, f.summary, &o.org_type);
            add_opt(&mut doc, f.body, &o.description);
            add_opt(&mut doc, f.region, &o.region);
        }
        Content::Vouch(v) => {
            // Findable as a statement about its subject: the name given and the subject's key.
            add_opt(&mut doc, f.body, &v.note);
            doc.add_text(
                f.summary,
                format!("vouches for key {}", v.subject.to_base32()),
            );
        }
        Content::Charter(c) => {
            add_opt(&mut doc, f.summary, &c.purpose);
            doc.add_text(f.body, format!("{} network", c.policy));
        }
        Content::Binding(_)
        | Content::Featured(_)
        | Content::ContactCard(_)
        | Content::Delegation(_)
        | Content::Succession(_)
        | Content::Interest(_) => {}
    }
    add_weighted_words(&mut doc, f);
    Some(doc)
}

/// Copies the text of the searched fields into `words`, each value marked with its field's
/// weight ([`crate::query::word_weights`]) for [`crate::schema::WeightedWords`] to read.
///
/// Tried and dropped: giving `words` as tokens analysed here (a pre-tokenized value). tantivy
/// encodes such a value into the document, and indexing took 40% longer than analysing the
/// text again in its indexing thread.
fn add_weighted_words(doc: &mut TantivyDocument, f: &Fields) {
    let mut weighted = Vec::new();
    for (field, weight) in crate::query::word_weights(f) {
        for value in doc.get_all(field) {
            if let Some(text) = value.as_str() {
                weighted.push(crate::schema::weighted(weight, text));
            }
        }
    }
    for text in weighted {
        doc.add_text(f.words, text);
    }
}

fn add_opt(doc: &mut TantivyDocument, field: tantivy::schema::Field, value: &Option<String>) {
    if let Some(value) = value {
        doc.add_text(field, value);
    }
}

fn add_tags(doc: &mut TantivyDocument, f: &Fields, tags: &[String]) {
    for tag in tags {
        doc.add_text(f.tags, tag);
        doc.add_text(f.topics, tag);
    }
}

fn add_addresses(
    doc: &mut TantivyDocument,
    field: tantivy::schema::Field,
    addresses: &[convene_protocol::Address],
) {
    for address in addresses {
        doc.add_text(field, address.to_string());
    }
}

fn add_date(doc: &mut TantivyDocument, field: tantivy::schema::Field, date: Option<Date>) {
    if let Some(date) = date {
        doc.add_i64(field, date.unix_days());
    }
}

#[cfg(test)]
mod tests {
    use convene_protocol::{Content, Experiment, Identity, Slug};

    use super::*;
    use crate::schema::words;

    #[test]
    fn each_word_counts_in_words_as_many_times_as_its_field_weighs() {
        let content = Content::Experiment(Experiment {
            title: "The allotments".into(),
            summary: "Compost".into(),
            description: Some("Rota".into()),
            tags: vec!["Growing".into()],
            ..Experiment::default()
        });
        let record = Record::sign(
            &Identity::from_secret([5; 32]),
            Slug::new("a").unwrap(),
            1,
            0,
            content.clone(),
        )
        .unwrap();
        let (_, f) = crate::schema::build();
        let doc = build(&f, &record, &content, None).unwrap();
        let mut tokenizer =
            tantivy::tokenizer::TextAnalyzer::from(crate::schema::WeightedWords::default());
        let mut given: Vec<String> = doc
            .get_all(f.words)
            .flat_map(|value| words(&mut tokenizer, value.as_str().unwrap()))
            .collect();
        given.sort();
        // Title 3, tags 2, summary 2, body 1; "the" is a stop word.
        assert_eq!(
            given,
            [
                "allot", "allot", "allot", "compost", "compost", "grow", "grow", "rota"
            ]
        );
        // A value without a weight counts once, a leading 0 and all.
        assert_eq!(words(&mut tokenizer, "0 waste"), ["0", "wast"]);
    }
}
