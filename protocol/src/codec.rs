//! The body encoding: a sequence of fields `(number: u16, length: u32, value)`, big-endian,
//! in ascending field number. List fields repeat their number once per entry, in list order.
//! Field numbers per kind are listed in `docs/protocol.md`; numbers this node does not know are
//! skipped on decode (the record's bytes, which are what is stored and forwarded, keep them).

use std::collections::BTreeMap;

use crate::network::{
    Binding, Charter, ContactCard, Delegation, Featured, Interest, NetworkId, NetworkPolicy,
};
use crate::{
    Address, AuthorKey, Content, Date, Experiment, Kind, Lesson, Organisation, Practitioner,
    RecordError, RecordId, Slug, Vouch,
};

/// Appends fields to a body, in the order the caller writes them.
struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    fn field(&mut self, number: u16, value: &[u8]) {
        self.buf.extend_from_slice(&number.to_be_bytes());
        let len = u32::try_from(value.len()).expect("field values are far below 4 GiB");
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(value);
    }

    fn text(&mut self, number: u16, value: &str) {
        self.field(number, value.as_bytes());
    }

    fn opt(&mut self, number: u16, value: &Option<String>) {
        if let Some(value) = value {
            self.text(number, value);
        }
    }

    fn list(&mut self, number: u16, values: &[String]) {
        for value in values {
            self.text(number, value);
        }
    }

    fn date(&mut self, number: u16, value: Option<Date>) {
        if let Some(date) = value {
            self.text(number, &date.to_string());
        }
    }

    fn address(&mut self, number: u16, address: &Address) {
        self.field(number, &address.to_key());
    }

    fn addresses(&mut self, number: u16, addresses: &[Address]) {
        for address in addresses {
            self.address(number, address);
        }
    }

    fn networks(&mut self, number: u16, networks: &[NetworkId]) {
        for network in networks {
            self.field(number, &network.to_key());
        }
    }

    fn keys(&mut self, number: u16, keys: &[AuthorKey]) {
        for key in keys {
            self.field(number, key.as_bytes());
        }
    }

    fn entries(&mut self, number: u16, map: &BTreeMap<String, String>) {
        for (key, value) in map {
            let mut entry = Vec::with_capacity(2 + key.len() + value.len());
            let key_len = u16::try_from(key.len()).expect("validated keys are short");
            entry.extend_from_slice(&key_len.to_be_bytes());
            entry.extend_from_slice(key.as_bytes());
            entry.extend_from_slice(value.as_bytes());
            self.field(number, &entry);
        }
    }
}

/// Field numbers. They are part of the signed format: never renumber, only add.
mod field {
    pub mod experiment {
        pub const TITLE: u16 = 1;
        pub const SUMMARY: u16 = 2;
        pub const DESCRIPTION: u16 = 3;
        pub const STATUS: u16 = 4;
        pub const STARTED: u16 = 5;
        pub const ENDED: u16 = 6;
        pub const ORGANISATION: u16 = 7;
        pub const CONTACTS: u16 = 8;
        pub const TAGS: u16 = 9;
        pub const SECTOR: u16 = 10;
        pub const REGION: u16 = 11;
        pub const CONTEXT: u16 = 12;
        pub const OUTCOMES: u16 = 13;
        pub const LINKS: u16 = 14;
        pub const ADOPTED_FROM: u16 = 15;
        pub const REVIEW_BY: u16 = 16;
        pub const NETWORKS: u16 = 17;
        pub const LISTS: &[u16] = &[CONTACTS, TAGS, CONTEXT, LINKS, NETWORKS];
        pub const LAST: u16 = NETWORKS;
    }
    pub mod practitioner {
        pub const NAME: u16 = 1;
        pub const ROLE: u16 = 2;
        pub const ORGANISATION: u16 = 3;
        pub const BIO: u16 = 4;
        pub const EXPERTISE: u16 = 5;
        pub const INTERESTS: u16 = 6;
        pub const OPEN_TO: u16 = 7;
        pub const CONTACT: u16 = 8;
        pub const REGION: u16 = 9;
        pub const NETWORKS: u16 = 10;
        pub const CONTACT_VISIBILITY: u16 = 11;
        pub const LISTS: &[u16] = &[EXPERTISE, INTERESTS, OPEN_TO, NETWORKS];
        pub const LAST: u16 = CONTACT_VISIBILITY;
    }
    pub mod lesson {
        pub const TITLE: u16 = 1;
        pub const SUMMARY: u16 = 2;
        pub const BODY: u16 = 3;
        pub const ABOUT: u16 = 4;
        pub const WORKED: u16 = 5;
        pub const DIDNT_WORK: u16 = 6;
        pub const RECOMMENDATION: u16 = 7;
        pub const TAGS: u16 = 8;
        pub const LINKS: u16 = 9;
        pub const CONTACTS: u16 = 10;
        pub const NETWORKS: u16 = 11;
        pub const LISTS: &[u16] = &[TAGS, LINKS, CONTACTS, NETWORKS];
        pub const LAST: u16 = NETWORKS;
    }
    pub mod organisation {
        pub const NAME: u16 = 1;
        pub const TYPE: u16 = 2;
        pub const REGION: u16 = 3;
        pub const WEBSITE: u16 = 4;
        pub const DESCRIPTION: u16 = 5;
        pub const DOMAIN: u16 = 6;
        pub const RECOVERY: u16 = 7;
        pub const LISTS: &[u16] = &[RECOVERY];
        pub const LAST: u16 = RECOVERY;
    }
    pub mod vouch {
        pub const SUBJECT: u16 = 1;
        pub const NAME: u16 = 2;
        pub const EXPIRES: u16 = 3;
        pub const NOTE: u16 = 4;
        pub const LISTS: &[u16] = &[];
        pub const LAST: u16 = NOTE;
    }
    pub mod charter {
        pub const FOUNDER: u16 = 1;
        pub const NETWORK: u16 = 2;
        pub const VERSION: u16 = 3;
        pub const PREVIOUS: u16 = 4;
        pub const NAME: u16 = 5;
        pub const PURPOSE: u16 = 6;
        pub const POLICY: u16 = 7;
        pub const CONVENORS: u16 = 8;
        pub const MEMBERS: u16 = 9;
        pub const FEDERATES: u16 = 10;
        pub const LISTS: &[u16] = &[CONVENORS, MEMBERS, FEDERATES];
        pub const LAST: u16 = FEDERATES;
    }
    pub mod binding {
        pub const NODES: u16 = 1;
        pub const LISTS: &[u16] = &[NODES];
        pub const LAST: u16 = NODES;
    }
    pub mod contact {
        pub const CONTACT: u16 = 1;
        pub const NETWORKS: u16 = 2;
        pub const LISTS: &[u16] = &[NETWORKS];
        pub const LAST: u16 = NETWORKS;
    }
    pub mod delegation {
        pub const DELEGATE: u16 = 1;
        pub const ROLE: u16 = 2;
        pub const KINDS: u16 = 3;
        pub const EXPIRES: u16 = 4;
        pub const CONSENT: u16 = 5;
        pub const PERSON: u16 = 6;
        pub const LISTS: &[u16] = &[KINDS];
        pub const LAST: u16 = PERSON;
    }
    pub mod succession {
        pub const SUBJECT: u16 = 1;
        pub const SUCCESSOR: u16 = 2;
        pub const ACCEPTED: u16 = 3;
        pub const DECLARATION: u16 = 4;
        pub const KEPT: u16 = 5;
        pub const REASON: u16 = 6;
        pub const LISTS: &[u16] = &[KEPT];
        pub const LAST: u16 = REASON;
    }
    pub mod interest {
        pub const EXPERIMENT: u16 = 1;
        pub const NOTE: u16 = 2;
        pub const LISTS: &[u16] = &[];
        pub const LAST: u16 = NOTE;
    }
    pub mod featured {
        pub const NETWORK: u16 = 1;
        pub const RECORDS: u16 = 2;
        pub const LISTS: &[u16] = &[RECORDS];
        pub const LAST: u16 = RECORDS;
    }
}

/// Encodes content into its body bytes. Deterministic: equal content gives equal bytes.
pub(crate) fn encode(content: &Content) -> Vec<u8> {
    let mut w = Writer { buf: Vec::new() };
    match content {
        Content::Experiment(e) => {
            use field::experiment::*;
            w.text(TITLE, &e.title);
            w.text(SUMMARY, &e.summary);
            w.opt(DESCRIPTION, &e.description);
            w.text(STATUS, e.status.as_str());
            w.date(STARTED, e.started);
            w.date(ENDED, e.ended);
            w.opt(ORGANISATION, &e.organisation);
            w.addresses(CONTACTS, &e.contacts);
            w.list(TAGS, &e.tags);
            w.opt(SECTOR, &e.sector);
            w.opt(REGION, &e.region);
            w.entries(CONTEXT, &e.context);
            w.opt(OUTCOMES, &e.outcomes);
            w.list(LINKS, &e.links);
            if let Some(from) = &e.adopted_from {
                w.address(ADOPTED_FROM, from);
            }
            w.date(REVIEW_BY, e.review_by);
            w.networks(NETWORKS, &e.networks);
        }
        Content::Practitioner(p) => {
            use field::practitioner::*;
            w.text(NAME, &p.name);
            w.opt(ROLE, &p.role);
            w.opt(ORGANISATION, &p.organisation);
            w.opt(BIO, &p.bio);
            w.list(EXPERTISE, &p.expertise);
            w.list(INTERESTS, &p.interests);
            w.list(OPEN_TO, &p.open_to);
            w.opt(CONTACT, &p.contact);
            w.opt(REGION, &p.region);
            w.networks(NETWORKS, &p.networks);
            if let Some(visibility) = p.contact_visibility {
                w.text(CONTACT_VISIBILITY, visibility.as_str());
            }
        }
        Content::Lesson(l) => {
            use field::lesson::*;
            w.text(TITLE, &l.title);
            w.text(SUMMARY, &l.summary);
            w.opt(BODY, &l.body);
            if let Some(about) = &l.about {
                w.address(ABOUT, about);
            }
            w.opt(WORKED, &l.worked);
            w.opt(DIDNT_WORK, &l.didnt_work);
            w.opt(RECOMMENDATION, &l.recommendation);
            w.list(TAGS, &l.tags);
            w.list(LINKS, &l.links);
            w.addresses(CONTACTS, &l.contacts);
            w.networks(NETWORKS, &l.networks);
        }
        Content::Organisation(o) => {
            use field::organisation::*;
            w.text(NAME, &o.name);
            w.opt(TYPE, &o.org_type);
            w.opt(REGION, &o.region);
            w.opt(WEBSITE, &o.website);
            w.opt(DESCRIPTION, &o.description);
            w.opt(DOMAIN, &o.domain);
            w.keys(RECOVERY, &o.recovery);
        }
        Content::Vouch(v) => {
            use field::vouch::*;
            w.field(SUBJECT, v.subject.as_bytes());
            w.text(NAME, &v.name);
            w.date(EXPIRES, Some(v.expires));
            w.opt(NOTE, &v.note);
        }
        Content::Charter(c) => {
            use field::charter::*;
            w.field(FOUNDER, c.founder.as_bytes());
            w.text(NETWORK, c.network.as_str());
            w.field(VERSION, &c.version.to_be_bytes());
            if let Some(previous) = &c.previous {
                w.field(PREVIOUS, previous.as_bytes());
            }
            w.text(NAME, &c.name);
            w.opt(PURPOSE, &c.purpose);
            w.text(POLICY, c.policy.as_str());
            w.keys(CONVENORS, &c.convenors);
            w.keys(MEMBERS, &c.members);
            w.networks(FEDERATES, &c.federates);
        }
        Content::Binding(b) => {
            use field::binding::*;
            w.list(NODES, &b.nodes);
        }
        Content::Interest(i) => {
            use field::interest::*;
            w.address(EXPERIMENT, &i.experiment);
            w.opt(NOTE, &i.note);
        }
        Content::Delegation(d) => {
            use field::delegation::*;
            w.field(DELEGATE, d.delegate.as_bytes());
            w.text(ROLE, &d.role);
            for kind in &d.kinds {
                w.field(KINDS, &[*kind as u8]);
            }
            w.date(EXPIRES, Some(d.expires));
            if let Some(consent) = &d.consent {
                w.field(CONSENT, &consent.0);
            }
            w.opt(PERSON, &d.person);
        }
        Content::Succession(s) => {
            use field::succession::*;
            w.field(SUBJECT, s.subject.as_bytes());
            if let Some(successor) = &s.successor {
                w.field(SUCCESSOR, successor.as_bytes());
            }
            if let Some(accepted) = &s.accepted {
                w.field(ACCEPTED, &accepted.0);
            }
            if let Some(declaration) = &s.declaration {
                w.field(DECLARATION, &declaration.0);
            }
            for id in &s.kept {
                w.field(KEPT, &id.0);
            }
            w.opt(REASON, &s.reason);
        }
        Content::ContactCard(c) => {
            use field::contact::*;
            w.text(CONTACT, &c.contact);
            w.networks(NETWORKS, &c.networks);
        }
        Content::Featured(f) => {
            use field::featured::*;
            w.field(NETWORK, &f.network.to_key());
            w.addresses(RECORDS, &f.records);
        }
    }
    w.buf
}

/// Splits a body into its fields, checking their order. `is_list` says which numbers may repeat;
/// numbers past the last known one may, since a newer version may have made them lists.
fn fields(
    mut body: &[u8],
    is_list: impl Fn(u16) -> bool,
) -> Result<Vec<(u16, &[u8])>, RecordError> {
    let mut out = Vec::new();
    let mut previous: Option<u16> = None;
    while !body.is_empty() {
        let (head, rest) = body.split_at_checked(6).ok_or(RecordError::Truncated {
            what: "a field header",
        })?;
        let number = u16::from_be_bytes([head[0], head[1]]);
        let len = u32::from_be_bytes([head[2], head[3], head[4], head[5]]) as usize;
        let (value, rest) = rest.split_at_checked(len).ok_or(RecordError::Truncated {
            what: "a field value",
        })?;
        if let Some(previous) = previous
            && (number < previous || (number == previous && !is_list(number)))
        {
            return Err(RecordError::FieldOrder {
                previous,
                field: number,
            });
        }
        previous = Some(number);
        out.push((number, value));
        body = rest;
    }
    Ok(out)
}

fn text(field: &'static str, value: &[u8]) -> Result<String, RecordError> {
    String::from_utf8(value.to_vec()).map_err(|_| RecordError::InvalidUtf8 { field })
}

fn parsed<T: std::str::FromStr<Err = String>>(
    field: &'static str,
    value: &[u8],
) -> Result<T, RecordError> {
    text(field, value)?
        .parse()
        .map_err(|reason| RecordError::Invalid { field, reason })
}

fn address(field: &'static str, value: &[u8]) -> Result<Address, RecordError> {
    Address::from_key(value).ok_or(RecordError::Invalid {
        field,
        reason: "not a valid address".into(),
    })
}

fn network(field: &'static str, value: &[u8]) -> Result<NetworkId, RecordError> {
    NetworkId::from_key(value).ok_or(RecordError::Invalid {
        field,
        reason: "not a valid network id".into(),
    })
}

fn key(field: &'static str, value: &[u8]) -> Result<AuthorKey, RecordError> {
    let key: [u8; 32] = value.try_into().map_err(|_| RecordError::Invalid {
        field,
        reason: format!("a key is 32 bytes, not {}", value.len()),
    })?;
    Ok(AuthorKey(key))
}

fn entry(value: &[u8]) -> Result<(String, String), RecordError> {
    const FIELD: &str = "context";
    let (len, rest) = value.split_at_checked(2).ok_or(RecordError::Truncated {
        what: "a context entry",
    })?;
    let (key, value) = rest
        .split_at_checked(usize::from(u16::from_be_bytes([len[0], len[1]])))
        .ok_or(RecordError::Truncated {
            what: "a context key",
        })?;
    Ok((text(FIELD, key)?, text(FIELD, value)?))
}

fn signature(field: &'static str, value: &[u8]) -> Result<crate::keys::Sig, RecordError> {
    Ok(crate::keys::Sig(value.try_into().map_err(|_| {
        RecordError::Invalid {
            field,
            reason: "a signature is 64 bytes".into(),
        }
    })?))
}

fn required(value: Option<String>, field: &'static str) -> Result<String, RecordError> {
    value.ok_or(RecordError::Missing(field))
}

/// Decodes body bytes of the given kind. Returns the content and the numbers of any fields this
/// version of the protocol does not know.
pub(crate) fn decode(kind: Kind, body: &[u8]) -> Result<(Content, Vec<u16>), RecordError> {
    let mut unknown = Vec::new();
    let content = match kind {
        Kind::Experiment => {
            use field::experiment::*;
            let mut e = Experiment::default();
            let (mut title, mut summary, mut status) = (None, None, None);
            for (number, value) in fields(body, |n| LISTS.contains(&n) || n > LAST)? {
                match number {
                    TITLE => title = Some(text("title", value)?),
                    SUMMARY => summary = Some(text("summary", value)?),
                    DESCRIPTION => e.description = Some(text("description", value)?),
                    STATUS => status = Some(parsed("status", value)?),
                    STARTED => e.started = Some(parsed("started", value)?),
                    ENDED => e.ended = Some(parsed("ended", value)?),
                    ORGANISATION => e.organisation = Some(text("organisation", value)?),
                    CONTACTS => e.contacts.push(address("contacts", value)?),
                    TAGS => e.tags.push(text("tags", value)?),
                    SECTOR => e.sector = Some(text("sector", value)?),
                    REGION => e.region = Some(text("region", value)?),
                    CONTEXT => {
                        let (key, value) = entry(value)?;
                        if e.context.insert(key, value).is_some() {
                            return Err(RecordError::RepeatedField {
                                field: "context key",
                            });
                        }
                    }
                    OUTCOMES => e.outcomes = Some(text("outcomes", value)?),
                    LINKS => e.links.push(text("links", value)?),
                    ADOPTED_FROM => e.adopted_from = Some(address("adopted_from", value)?),
                    REVIEW_BY => e.review_by = Some(parsed("review_by", value)?),
                    NETWORKS => e.networks.push(network("networks", value)?),
                    other => unknown.push(other),
                }
            }
            e.title = required(title, "title")?;
            e.summary = required(summary, "summary")?;
            e.status = status.ok_or(RecordError::Missing("status"))?;
            Content::Experiment(e)
        }
        Kind::Practitioner => {
            use field::practitioner::*;
            let mut p = Practitioner::default();
            let mut name = None;
            for (number, value) in fields(body, |n| LISTS.contains(&n) || n > LAST)? {
                match number {
                    NAME => name = Some(text("name", value)?),
                    ROLE => p.role = Some(text("role", value)?),
                    ORGANISATION => p.organisation = Some(text("organisation", value)?),
                    BIO => p.bio = Some(text("bio", value)?),
                    EXPERTISE => p.expertise.push(text("expertise", value)?),
                    INTERESTS => p.interests.push(text("interests", value)?),
                    OPEN_TO => p.open_to.push(text("open_to", value)?),
                    CONTACT => p.contact = Some(text("contact", value)?),
                    REGION => p.region = Some(text("region", value)?),
                    NETWORKS => p.networks.push(network("networks", value)?),
                    CONTACT_VISIBILITY => {
                        p.contact_visibility = Some(parsed("contact_visibility", value)?)
                    }
                    other => unknown.push(other),
                }
            }
            p.name = required(name, "name")?;
            Content::Practitioner(p)
        }
        Kind::Lesson => {
            use field::lesson::*;
            let mut l = Lesson::default();
            let (mut title, mut summary) = (None, None);
            for (number, value) in fields(body, |n| LISTS.contains(&n) || n > LAST)? {
                match number {
                    TITLE => title = Some(text("title", value)?),
                    SUMMARY => summary = Some(text("summary", value)?),
                    BODY => l.body = Some(text("body", value)?),
                    ABOUT => l.about = Some(address("about", value)?),
                    WORKED => l.worked = Some(text("worked", value)?),
                    DIDNT_WORK => l.didnt_work = Some(text("didnt_work", value)?),
                    RECOMMENDATION => l.recommendation = Some(text("recommendation", value)?),
                    TAGS => l.tags.push(text("tags", value)?),
                    LINKS => l.links.push(text("links", value)?),
                    CONTACTS => l.contacts.push(address("contacts", value)?),
                    NETWORKS => l.networks.push(network("networks", value)?),
                    other => unknown.push(other),
                }
            }
            l.title = required(title, "title")?;
            l.summary = required(summary, "summary")?;
            Content::Lesson(l)
        }
        Kind::Organisation => {
            use field::organisation::*;
            let mut o = Organisation::default();
            let mut name = None;
            for (number, value) in fields(body, |n| LISTS.contains(&n) || n > LAST)? {
                match number {
                    NAME => name = Some(text("name", value)?),
                    TYPE => o.org_type = Some(text("type", value)?),
                    REGION => o.region = Some(text("region", value)?),
                    WEBSITE => o.website = Some(text("website", value)?),
                    DESCRIPTION => o.description = Some(text("description", value)?),
                    DOMAIN => o.domain = Some(text("domain", value)?),
                    RECOVERY => o.recovery.push(key("recovery", value)?),
                    other => unknown.push(other),
                }
            }
            o.name = required(name, "name")?;
            Content::Organisation(o)
        }
        Kind::Vouch => {
            use field::vouch::*;
            let (mut subject, mut name, mut expires, mut note) = (None, None, None, None);
            for (number, value) in fields(body, |n| LISTS.contains(&n) || n > LAST)? {
                match number {
                    SUBJECT => subject = Some(key("subject", value)?),
                    NAME => name = Some(text("name", value)?),
                    EXPIRES => expires = Some(parsed::<Date>("expires", value)?),
                    NOTE => note = Some(text("note", value)?),
                    other => unknown.push(other),
                }
            }
            Content::Vouch(Vouch {
                subject: subject.ok_or(RecordError::Missing("subject"))?,
                name: required(name, "name")?,
                expires: expires.ok_or(RecordError::Missing("expires"))?,
                note,
            })
        }
        Kind::Charter => {
            use field::charter::*;
            let (mut founder, mut network_slug, mut version, mut name, mut policy) =
                (None, None, None, None, None);
            let mut c = Charter {
                founder: AuthorKey([0; 32]),
                network: Slug::new("x").expect("a valid slug"),
                version: 0,
                previous: None,
                name: String::new(),
                purpose: None,
                policy: NetworkPolicy::Open,
                convenors: Vec::new(),
                members: Vec::new(),
                federates: Vec::new(),
            };
            for (number, value) in fields(body, |n| LISTS.contains(&n) || n > LAST)? {
                match number {
                    FOUNDER => founder = Some(key("founder", value)?),
                    NETWORK => {
                        network_slug =
                            Some(Slug::new(&text("network", value)?).map_err(|error| {
                                RecordError::Invalid {
                                    field: "network",
                                    reason: error.to_string(),
                                }
                            })?)
                    }
                    VERSION => {
                        let bytes: [u8; 8] =
                            value.try_into().map_err(|_| RecordError::Invalid {
                                field: "version",
                                reason: format!("a version is 8 bytes, not {}", value.len()),
                            })?;
                        version = Some(u64::from_be_bytes(bytes));
                    }
                    PREVIOUS => {
                        let bytes: [u8; 32] =
                            value.try_into().map_err(|_| RecordError::Invalid {
                                field: "previous",
                                reason: format!("a record id is 32 bytes, not {}", value.len()),
                            })?;
                        c.previous = Some(RecordId(bytes));
                    }
                    NAME => name = Some(text("name", value)?),
                    PURPOSE => c.purpose = Some(text("purpose", value)?),
                    POLICY => policy = Some(parsed("policy", value)?),
                    CONVENORS => c.convenors.push(key("convenors", value)?),
                    MEMBERS => c.members.push(key("members", value)?),
                    FEDERATES => c.federates.push(network("federates", value)?),
                    other => unknown.push(other),
                }
            }
            c.founder = founder.ok_or(RecordError::Missing("founder"))?;
            c.network = network_slug.ok_or(RecordError::Missing("network"))?;
            c.version = version.ok_or(RecordError::Missing("version"))?;
            c.name = required(name, "name")?;
            c.policy = policy.ok_or(RecordError::Missing("policy"))?;
            Content::Charter(c)
        }
        Kind::Binding => {
            use field::binding::*;
            let mut b = Binding::default();
            for (number, value) in fields(body, |n| LISTS.contains(&n) || n > LAST)? {
                match number {
                    NODES => b.nodes.push(text("nodes", value)?),
                    other => unknown.push(other),
                }
            }
            Content::Binding(b)
        }
        Kind::Interest => {
            use field::interest::*;
            let (mut experiment, mut note) = (None, None);
            for (number, value) in fields(body, |n| LISTS.contains(&n) || n > LAST)? {
                match number {
                    EXPERIMENT => experiment = Some(address("experiment", value)?),
                    NOTE => note = Some(text("note", value)?),
                    other => unknown.push(other),
                }
            }
            Content::Interest(Interest {
                experiment: experiment.ok_or(RecordError::Missing("experiment"))?,
                note,
            })
        }
        Kind::Delegation => {
            use field::delegation::*;
            let (mut delegate, mut role, mut expires, mut consent, mut person) =
                (None, None, None, None, None);
            let mut kinds = Vec::new();
            for (number, value) in fields(body, |n| LISTS.contains(&n) || n > LAST)? {
                match number {
                    DELEGATE => delegate = Some(key("delegate", value)?),
                    ROLE => role = Some(text("role", value)?),
                    KINDS => {
                        let [byte] = value else {
                            return Err(RecordError::Invalid {
                                field: "kinds",
                                reason: "a kind is one byte".into(),
                            });
                        };
                        kinds.push(Kind::from_byte(*byte)?);
                    }
                    EXPIRES => expires = Some(parsed::<Date>("expires", value)?),
                    CONSENT => consent = Some(signature("consent", value)?),
                    PERSON => person = Some(text("person", value)?),
                    other => unknown.push(other),
                }
            }
            Content::Delegation(Delegation {
                delegate: delegate.ok_or(RecordError::Missing("delegate"))?,
                role: required(role, "role")?,
                kinds,
                expires: expires.ok_or(RecordError::Missing("expires"))?,
                consent,
                person,
            })
        }
        Kind::Succession => {
            use field::succession::*;
            let (mut subject, mut successor, mut accepted, mut declaration, mut reason) =
                (None, None, None, None, None);
            let mut kept = Vec::new();
            for (number, value) in fields(body, |n| LISTS.contains(&n) || n > LAST)? {
                match number {
                    SUBJECT => subject = Some(key("subject", value)?),
                    SUCCESSOR => successor = Some(key("successor", value)?),
                    ACCEPTED => accepted = Some(signature("accepted", value)?),
                    DECLARATION => declaration = Some(signature("declaration", value)?),
                    KEPT => kept.push(RecordId(value.try_into().map_err(|_| {
                        RecordError::Invalid {
                            field: "kept",
                            reason: "a record id is 32 bytes".into(),
                        }
                    })?)),
                    REASON => reason = Some(text("reason", value)?),
                    other => unknown.push(other),
                }
            }
            Content::Succession(crate::keys::Succession {
                subject: subject.ok_or(RecordError::Missing("subject"))?,
                successor,
                accepted,
                declaration,
                kept,
                reason,
            })
        }
        Kind::Contact => {
            use field::contact::*;
            let mut contact = None;
            let mut networks = Vec::new();
            for (number, value) in fields(body, |n| LISTS.contains(&n) || n > LAST)? {
                match number {
                    CONTACT => contact = Some(text("contact", value)?),
                    NETWORKS => networks.push(network("networks", value)?),
                    other => unknown.push(other),
                }
            }
            Content::ContactCard(ContactCard {
                contact: required(contact, "contact")?,
                networks,
            })
        }
        Kind::Featured => {
            use field::featured::*;
            let mut featured_network = None;
            let mut records = Vec::new();
            for (number, value) in fields(body, |n| LISTS.contains(&n) || n > LAST)? {
                match number {
                    NETWORK => featured_network = Some(network("network", value)?),
                    RECORDS => records.push(address("records", value)?),
                    other => unknown.push(other),
                }
            }
            Content::Featured(Featured {
                network: featured_network.ok_or(RecordError::Missing("network"))?,
                records,
            })
        }
    };
    Ok((content, unknown))
}
