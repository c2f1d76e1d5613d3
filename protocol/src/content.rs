//! What a record says: experiments, practitioners, lessons and organisations.
//!
//! These types are also the draft format (`convene publish` reads them from TOML or JSON through
//! serde, with a `kind` field naming the variant) and the JSON shown by `convene show --json`.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::network::{
    Binding, Charter, ContactCard, ContactVisibility, Delegation, Featured, Interest, NetworkId,
    check_networks,
};
use crate::{Address, AuthorKey, Kind, RecordError, Slug};

/// Limits that validation enforces on every record, local or received.
pub mod limits {
    /// Titles and names, in characters.
    pub const TITLE: usize = 200;
    /// Summaries, in characters.
    pub const SUMMARY: usize = 1_000;
    /// Short single-line fields (role, organisation, sector, region, contact, website...).
    pub const SHORT: usize = 200;
    /// Entries in one list of tags (tags, expertise, interests, open_to).
    pub const TAGS: usize = 32;
    /// Characters in one tag.
    pub const TAG: usize = 64;
    /// Entries in a list of links or of contacts.
    pub const LINKS: usize = 32;
    /// Characters in one link.
    pub const LINK: usize = 2_048;
    /// Entries in an experiment's context.
    pub const CONTEXT: usize = 32;
    /// Characters in a context key.
    pub const CONTEXT_KEY: usize = 64;
    /// Characters in a context value.
    pub const CONTEXT_VALUE: usize = 500;
}

/// The content of a record. Serialised with a `kind` tag, e.g. `kind = "experiment"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Content {
    Experiment(Experiment),
    Practitioner(Practitioner),
    Lesson(Lesson),
    #[serde(alias = "organization")]
    Organisation(Organisation),
    Vouch(Vouch),
    Charter(Charter),
    Binding(Binding),
    Featured(Featured),
    #[serde(rename = "contact")]
    ContactCard(ContactCard),
    Delegation(Delegation),
    Interest(Interest),
    Succession(crate::keys::Succession),
}

/// A pilot or project: what was tried, where, by whom and how it went.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    pub title: String,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub status: Status,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<Date>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// Addresses of practitioner records: the people to ask about this experiment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Address>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sector: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Free key/values a reader needs to judge whether this would transfer to them.
    #[serde(
        default,
        skip_serializing_if = "BTreeMap::is_empty",
        deserialize_with = "scalar_map"
    )]
    pub context: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcomes: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// The experiment this one reuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adopted_from: Option<Address>,
    /// After this date the record counts as stale unless updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_by: Option<Date>,
    /// The networks it is published into; none means the public commons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkId>,
}

/// A person: what they know, what they want to learn and how to reach them.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Practitioner {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bio: Option<String>,
    /// What they can help with.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expertise: Vec<String>,
    /// What they want to learn.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interests: Vec<String>,
    /// e.g. mentoring, collaboration, talks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open_to: Vec<String>,
    /// How they choose to be reached; absent means "through their organisation".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The networks it is published into; none means the public commons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkId>,
    /// Who may see `contact`: everyone (the default), the members of `networks` (the contact
    /// then goes in a separate contact card, not in this record), or nobody.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_visibility: Option<ContactVisibility>,
}

/// What was learned, optionally about one experiment.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lesson {
    pub title: String,
    pub summary: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worked: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub didnt_work: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recommendation: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
    /// Addresses of practitioner records: who learned this and can talk about it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<Address>,
    /// The networks it is published into; none means the public commons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkId>,
}

/// The publishing organisation's own profile.
#[derive(Clone, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Organisation {
    pub name: String,
    /// council, police, charity, company, network, ...
    #[serde(
        default,
        rename = "type",
        alias = "org_kind",
        skip_serializing_if = "Option::is_none"
    )]
    pub org_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub website: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// A web domain the organisation controls (`example.gov.uk`), proven by the document it
    /// serves at `https://DOMAIN/.well-known/convene.json` (see [`crate::domain`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// Keys the organisation declared able to recover it if its own key is lost or stolen
    /// (informative: a recovery carries the declaration itself; see [`crate::keys`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recovery: Vec<AuthorKey>,
}

/// An organisation's signed word about another key: "this key is NAME; we work with them",
/// until `expires`. A reader's node counts it only if it trusts the voucher (see the trust
/// rules in `docs/trust.md`). Published at the slug `for-<subject key>`, so a newer vouch about
/// the same key replaces the older, and a retraction takes it back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vouch {
    /// The key vouched for, as in its addresses.
    pub subject: AuthorKey,
    /// Who the subject is, in the voucher's words.
    pub name: String,
    /// The last day the vouch holds.
    pub expires: Date,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Vouch {
    /// The slug a vouch about `subject` is published at.
    pub fn slug_for(subject: &AuthorKey) -> Slug {
        Slug::new(&format!("for-{}", subject.to_base32())).expect("base32 is slug-safe")
    }
}

/// Where an experiment stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    #[default]
    Idea,
    Planned,
    Running,
    Paused,
    Completed,
    Stopped,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Idea,
        Status::Planned,
        Status::Running,
        Status::Paused,
        Status::Completed,
        Status::Stopped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Idea => "idea",
            Status::Planned => "planned",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Completed => "completed",
            Status::Stopped => "stopped",
        }
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(text: &str) -> Result<Status, String> {
        let lower = text.trim().to_ascii_lowercase();
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == lower)
            .ok_or_else(|| {
                format!(
                    "unknown status {text:?}: expected idea, planned, running, paused, completed or stopped"
                )
            })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A calendar date, written `YYYY-MM-DD`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub time::Date);

const DATE_FORMAT: &[time::format_description::BorrowedFormatItem<'_>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl Date {
    /// The date (UTC) at a unix time in seconds.
    pub fn from_unix(secs: i64) -> Date {
        let datetime = time::OffsetDateTime::from_unix_timestamp(secs)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Date(datetime.date())
    }

    /// Days since 1970-01-01, for indexing.
    pub fn unix_days(self) -> i64 {
        i64::from(self.0.to_julian_day()) - 2_440_588
    }
}

impl FromStr for Date {
    type Err = String;

    fn from_str(text: &str) -> Result<Date, String> {
        time::Date::parse(text.trim(), DATE_FORMAT)
            .map(Date)
            .map_err(|_| format!("{text:?} is not a date of the form YYYY-MM-DD"))
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0.format(DATE_FORMAT).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Date, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Address {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Address {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Address, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Context values are text, but a draft may write `budget = 5000` or `pilot = true`.
fn scalar_map<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Int(i64),
        Float(f64),
        Bool(bool),
    }
    let map = BTreeMap::<String, Scalar>::deserialize(deserializer)?;
    Ok(map
        .into_iter()
        .map(|(key, value)| {
            let value = match value {
                Scalar::Text(text) => text,
                Scalar::Int(n) => n.to_string(),
                Scalar::Float(x) => x.to_string(),
                Scalar::Bool(b) => b.to_string(),
            };
            (key, value)
        })
        .collect())
}

impl Content {
    pub fn kind(&self) -> Kind {
        match self {
            Content::Experiment(_) => Kind::Experiment,
            Content::Practitioner(_) => Kind::Practitioner,
            Content::Lesson(_) => Kind::Lesson,
            Content::Organisation(_) => Kind::Organisation,
            Content::Vouch(_) => Kind::Vouch,
            Content::Charter(_) => Kind::Charter,
            Content::Binding(_) => Kind::Binding,
            Content::Featured(_) => Kind::Featured,
            Content::ContactCard(_) => Kind::Contact,
            Content::Delegation(_) => Kind::Delegation,
            Content::Interest(_) => Kind::Interest,
            Content::Succession(_) => Kind::Succession,
        }
    }

    /// The networks an experiment, practitioner or lesson is published into (none: the
    /// commons). Profiles, vouches, charters and bindings are in no network: every node may
    /// hold and pass them on.
    pub fn networks(&self) -> &[NetworkId] {
        match self {
            Content::Experiment(e) => &e.networks,
            Content::Practitioner(p) => &p.networks,
            Content::Lesson(l) => &l.networks,
            Content::Featured(f) => std::slice::from_ref(&f.network),
            Content::ContactCard(c) => &c.networks,
            Content::Organisation(_)
            | Content::Vouch(_)
            | Content::Charter(_)
            | Content::Binding(_)
            | Content::Delegation(_)
            | Content::Interest(_)
            | Content::Succession(_) => &[],
        }
    }

    /// The networks list of an experiment, practitioner or lesson, to change it; `None` for the
    /// kinds that are in no network.
    pub fn networks_mut(&mut self) -> Option<&mut Vec<NetworkId>> {
        match self {
            Content::Experiment(e) => Some(&mut e.networks),
            Content::Practitioner(p) => Some(&mut p.networks),
            Content::Lesson(l) => Some(&mut l.networks),
            Content::Organisation(_)
            | Content::Vouch(_)
            | Content::Charter(_)
            | Content::Binding(_)
            | Content::Featured(_)
            | Content::ContactCard(_)
            | Content::Delegation(_)
            | Content::Interest(_)
            | Content::Succession(_) => None,
        }
    }

    /// The records this content refers to, with the field that names each.
    pub fn references(&self) -> Vec<(&'static str, &Address)> {
        let mut out = Vec::new();
        match self {
            Content::Experiment(e) => {
                out.extend(e.contacts.iter().map(|a| ("contacts", a)));
                out.extend(e.adopted_from.iter().map(|a| ("adopted_from", a)));
            }
            Content::Lesson(l) => {
                out.extend(l.about.iter().map(|a| ("about", a)));
                out.extend(l.contacts.iter().map(|a| ("contacts", a)));
            }
            Content::Practitioner(_)
            | Content::Organisation(_)
            | Content::Vouch(_)
            | Content::Charter(_)
            | Content::Binding(_) => {}
            Content::Featured(f) => out.extend(f.records.iter().map(|a| ("records", a))),
            Content::ContactCard(_) | Content::Delegation(_) | Content::Succession(_) => {}
            Content::Interest(i) => out.push(("experiment", &i.experiment)),
        }
        out
    }

    /// The title of an experiment or lesson, the name of a practitioner or organisation.
    pub fn title(&self) -> &str {
        match self {
            Content::Experiment(e) => &e.title,
            Content::Practitioner(p) => &p.name,
            Content::Lesson(l) => &l.title,
            Content::Organisation(o) => &o.name,
            Content::Vouch(v) => &v.name,
            Content::Charter(c) => &c.name,
            Content::Binding(_) => "nodes",
            Content::Featured(_) => "featured",
            Content::ContactCard(_) => "contact",
            Content::Delegation(d) => &d.role,
            Content::Interest(_) => "interest",
            Content::Succession(_) => "succession",
        }
    }

    /// Tidies a draft the way every record is stored: surrounding white space trimmed, tags
    /// de-duplicated ignoring case (the author's spelling kept), empty optional fields removed.
    pub fn normalize(&mut self) {
        fn text(field: &mut String) {
            *field = field.trim().to_string();
        }
        fn opt(field: &mut Option<String>) {
            if let Some(value) = field {
                *value = value.trim().to_string();
                if value.is_empty() {
                    *field = None;
                }
            }
        }
        fn tags(list: &mut Vec<String>) {
            let mut seen = std::collections::HashSet::new();
            // The author's spelling is kept; `LoRaWAN` and `lorawan` are one tag.
            list.retain_mut(|tag| {
                *tag = crate::normalize_tag(tag);
                !tag.is_empty() && seen.insert(crate::fold_tag(tag))
            });
        }
        fn links(list: &mut Vec<String>) {
            list.retain_mut(|link| {
                *link = link.trim().to_string();
                !link.is_empty()
            });
        }
        match self {
            Content::Experiment(e) => {
                text(&mut e.title);
                text(&mut e.summary);
                for field in [
                    &mut e.description,
                    &mut e.organisation,
                    &mut e.sector,
                    &mut e.region,
                    &mut e.outcomes,
                ] {
                    opt(field);
                }
                tags(&mut e.tags);
                links(&mut e.links);
                e.context = std::mem::take(&mut e.context)
                    .into_iter()
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect();
            }
            Content::Practitioner(p) => {
                text(&mut p.name);
                for field in [
                    &mut p.role,
                    &mut p.organisation,
                    &mut p.bio,
                    &mut p.contact,
                    &mut p.region,
                ] {
                    opt(field);
                }
                tags(&mut p.expertise);
                tags(&mut p.interests);
                tags(&mut p.open_to);
            }
            Content::Lesson(l) => {
                text(&mut l.title);
                text(&mut l.summary);
                for field in [
                    &mut l.body,
                    &mut l.worked,
                    &mut l.didnt_work,
                    &mut l.recommendation,
                ] {
                    opt(field);
                }
                tags(&mut l.tags);
                links(&mut l.links);
            }
            Content::Organisation(o) => {
                text(&mut o.name);
                for field in [
                    &mut o.org_type,
                    &mut o.region,
                    &mut o.website,
                    &mut o.description,
                ] {
                    opt(field);
                }
                opt(&mut o.domain);
                if let Some(domain) = &mut o.domain {
                    *domain = crate::domain::normalize_domain(domain);
                }
            }
            Content::Vouch(v) => {
                text(&mut v.name);
                opt(&mut v.note);
            }
            Content::Charter(c) => {
                text(&mut c.name);
                opt(&mut c.purpose);
            }
            Content::Featured(_) => {}
            Content::ContactCard(c) => c.contact = c.contact.trim().to_string(),
            Content::Delegation(d) => {
                text(&mut d.role);
                opt(&mut d.person);
            }
            Content::Interest(i) => opt(&mut i.note),
            Content::Succession(s) => opt(&mut s.reason),
            Content::Binding(b) => {
                for node in &mut b.nodes {
                    *node = node.trim().to_string();
                }
            }
        }
    }

    /// Checks required fields, lengths and counts. The record size limit is checked on the
    /// encoded bytes, not here. The first problem found; [`Content::problems`] lists them all.
    pub fn validate(&self) -> Result<(), RecordError> {
        match self.problems().into_iter().next() {
            Some(problem) => Err(problem),
            None => Ok(()),
        }
    }

    /// Every problem [`Content::validate`] would find, in field order, so that an author
    /// can mend them in one round. Empty when the content is valid.
    pub fn problems(&self) -> Vec<RecordError> {
        use limits::*;
        let mut found = Vec::new();
        let mut note = |checked: Result<(), RecordError>| {
            if let Err(problem) = checked {
                found.push(problem);
            }
        };
        match self {
            Content::Experiment(e) => {
                note(check::required("title", &e.title, TITLE));
                note(check::required("summary", &e.summary, SUMMARY));
                note(check::long_opt("description", &e.description));
                note(check::short_opt("organisation", &e.organisation));
                note(check::addresses(
                    "contacts",
                    &e.contacts,
                    Some(Kind::Practitioner),
                ));
                note(check::tags("tags", &e.tags));
                note(check::short_opt("sector", &e.sector));
                note(check::short_opt("region", &e.region));
                note(check::count("context", e.context.len(), CONTEXT));
                for (key, value) in &e.context {
                    note(check::required("context key", key, CONTEXT_KEY));
                    note(check::line("context value", value, CONTEXT_VALUE));
                }
                note(check::long_opt("outcomes", &e.outcomes));
                note(check::links("links", &e.links));
                if let Some(from) = &e.adopted_from {
                    note(check::address("adopted_from", from, Some(Kind::Experiment)));
                }
                note(check_networks("networks", &e.networks));
                if let (Some(started), Some(ended)) = (e.started, e.ended)
                    && ended < started
                {
                    note(Err(RecordError::Invalid {
                        field: "ended",
                        reason: format!("{ended} is before started ({started})"),
                    }));
                }
            }
            Content::Practitioner(p) => {
                note(check::required("name", &p.name, TITLE));
                note(check::short_opt("role", &p.role));
                note(check::short_opt("organisation", &p.organisation));
                note(check::long_opt("bio", &p.bio));
                note(check::tags("expertise", &p.expertise));
                note(check::tags("interests", &p.interests));
                note(check::tags("open_to", &p.open_to));
                note(check::short_opt("contact", &p.contact));
                note(check::short_opt("region", &p.region));
                note(check_networks("networks", &p.networks));
                let visibility = p.contact_visibility.unwrap_or_default();
                if visibility != ContactVisibility::Everyone && p.contact.is_some() {
                    note(Err(RecordError::Invalid {
                        field: "contact",
                        reason: format!(
                            "a contact visible to {} is not written in the record itself, which \
                             everyone may read",
                            if visibility == ContactVisibility::Nobody {
                                "nobody"
                            } else {
                                "the networks' members"
                            }
                        ),
                    }));
                }
            }
            Content::Lesson(l) => {
                note(check::required("title", &l.title, TITLE));
                note(check::required("summary", &l.summary, SUMMARY));
                for (field, value) in [
                    ("body", &l.body),
                    ("worked", &l.worked),
                    ("didnt_work", &l.didnt_work),
                    ("recommendation", &l.recommendation),
                ] {
                    note(check::long_opt(field, value));
                }
                if let Some(about) = &l.about {
                    note(check::address("about", about, Some(Kind::Experiment)));
                }
                note(check::tags("tags", &l.tags));
                note(check::links("links", &l.links));
                note(check::addresses(
                    "contacts",
                    &l.contacts,
                    Some(Kind::Practitioner),
                ));
                note(check_networks("networks", &l.networks));
            }
            Content::Organisation(o) => {
                note(check::required("name", &o.name, TITLE));
                note(check::short_opt("type", &o.org_type));
                note(check::short_opt("region", &o.region));
                note(check::short_opt("website", &o.website));
                note(check::long_opt("description", &o.description));
                if let Some(domain) = &o.domain {
                    note(check::domain(domain));
                }
            }
            Content::Vouch(v) => {
                note(check::required("name", &v.name, TITLE));
                note(check::long_opt("note", &v.note));
            }
            Content::Charter(c) => {
                note(check::required("name", &c.name, TITLE));
                note(check::long_opt("purpose", &c.purpose));
                note(c.validate());
            }
            Content::Binding(b) => note(b.validate()),
            Content::Featured(f) => note(f.validate()),
            Content::ContactCard(c) => note(c.validate()),
            Content::Delegation(d) => note(d.validate()),
            Content::Interest(i) => note(i.validate()),
            Content::Succession(s) => note(s.validate()),
        }
        found
    }
}

/// Validation checks, each naming the field it checks.
mod check {
    use super::*;

    /// A host name (letters, digits, `-` and `.`), with an optional `:port`, at most 253
    /// characters, in lower case.
    pub fn domain(domain: &str) -> Result<(), RecordError> {
        let invalid = |reason: &str| RecordError::Invalid {
            field: "domain",
            reason: reason.to_string(),
        };
        let (host, port) = domain.split_once(':').unwrap_or((domain, ""));
        if host.is_empty() || host.len() > 253 {
            return Err(invalid(
                "a domain is 1 to 253 characters, like example.gov.uk",
            ));
        }
        let host_ok = host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
        if !host_ok {
            return Err(invalid(
                "a domain is lower-case letters, digits and hyphens between dots, like example.gov.uk",
            ));
        }
        if !port.is_empty() && port.parse::<u16>().is_err() {
            return Err(invalid("the port after ':' must be a number"));
        }
        Ok(())
    }

    pub(super) fn line(field: &'static str, value: &str, max: usize) -> Result<(), RecordError> {
        let len = value.chars().count();
        if len > max {
            return Err(RecordError::TooLong { field, len, max });
        }
        if value.chars().any(char::is_control) {
            return Err(RecordError::ControlCharacter { field });
        }
        Ok(())
    }

    pub(super) fn required(
        field: &'static str,
        value: &str,
        max: usize,
    ) -> Result<(), RecordError> {
        if value.trim().is_empty() {
            return Err(RecordError::Missing(field));
        }
        line(field, value, max)
    }

    pub(super) fn short_opt(
        field: &'static str,
        value: &Option<String>,
    ) -> Result<(), RecordError> {
        match value {
            Some(value) if value.trim().is_empty() => Err(RecordError::Empty { field }),
            Some(value) => line(field, value, limits::SHORT),
            None => Ok(()),
        }
    }

    /// Multi-line text: any length the record size allows, no control characters but line
    /// breaks and tabs.
    pub(super) fn long_opt(field: &'static str, value: &Option<String>) -> Result<(), RecordError> {
        if let Some(value) = value
            && value
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return Err(RecordError::ControlCharacter { field });
        }
        Ok(())
    }

    pub(super) fn count(field: &'static str, count: usize, max: usize) -> Result<(), RecordError> {
        if count > max {
            return Err(RecordError::TooMany { field, count, max });
        }
        Ok(())
    }

    pub(super) fn tags(field: &'static str, tags: &[String]) -> Result<(), RecordError> {
        count(field, tags.len(), limits::TAGS)?;
        for tag in tags {
            if tag.trim().is_empty() {
                return Err(RecordError::Empty { field });
            }
            line(field, tag, limits::TAG)?;
        }
        Ok(())
    }

    pub(super) fn links(field: &'static str, links: &[String]) -> Result<(), RecordError> {
        count(field, links.len(), limits::LINKS)?;
        for link in links {
            if link.trim().is_empty() {
                return Err(RecordError::Empty { field });
            }
            line(field, link, limits::LINK)?;
        }
        Ok(())
    }

    pub(super) fn address(
        field: &'static str,
        address: &Address,
        kind: Option<Kind>,
    ) -> Result<(), RecordError> {
        match kind {
            Some(kind) if address.kind != kind => Err(RecordError::Invalid {
                field,
                reason: format!(
                    "{address} is the address of a {}, not of a {kind}",
                    address.kind
                ),
            }),
            _ => Ok(()),
        }
    }

    pub(super) fn addresses(
        field: &'static str,
        addresses: &[Address],
        kind: Option<Kind>,
    ) -> Result<(), RecordError> {
        count(field, addresses.len(), limits::LINKS)?;
        addresses
            .iter()
            .try_for_each(|each| address(field, each, kind))
    }
}
