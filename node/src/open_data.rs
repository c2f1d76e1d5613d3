//! Open data: the node's open records for anyone to build on, as JSON Lines, CSV and
//! schema.org JSON-LD, each with its author as this node knows it (the trust path) and the
//! licence the operator publishes them under.
//!
//! Open means: an experiment, practitioner, lesson or organisation profile, live, in the commons
//! or an open network (never a members-only network's, never a contact card), counted where it
//! is published (not a removed member's), and not stood in for by a successor key's record.
//! Each row carries the signed record itself (base64), so a reader can check it was not
//! altered. Writers stream from a snapshot of the store: memory stays flat at any size.

use std::io::Write;
use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use convene_protocol::keys::Successions;
use convene_protocol::{Address, Content, Date, Kind, Record};
use serde::Serialize;

use crate::networks::{self, Networks};
use crate::trust::Names;
use crate::{NodeError, Store};

/// What the open data is read from: a snapshot of the store and the views it was read with.
#[derive(Clone)]
pub struct OpenData {
    pub store: Store,
    pub names: Arc<Names>,
    pub networks: Arc<Networks>,
    pub successions: Arc<Successions>,
    /// The licence the operator publishes the open records under (a URL).
    pub licence: String,
}

impl std::fmt::Debug for OpenData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenData")
    }
}

/// One open record, as every format shows it.
#[derive(Clone, Debug, Serialize)]
pub struct OpenRecord {
    pub address: String,
    pub kind: &'static str,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// How a practitioner chose to be reached, when they made it public.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
    /// The author's organisation as this node knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    pub trust_path: String,
    /// The date the author signed this version.
    pub updated: String,
    pub licence: String,
    /// The signed record, base64: verify it with the author's key in its address.
    pub record: String,
}

impl OpenData {
    /// Calls `visit` with every open record, in store order; stops when it returns `false`.
    pub fn for_each(
        &self,
        mut visit: impl FnMut(OpenRecord) -> Result<bool, NodeError>,
    ) -> Result<(), NodeError> {
        let mut failure = None;
        self.store.for_each(None, |record| {
            let Some(open) = self.open(&record) else {
                return true;
            };
            match visit(open) {
                Ok(more) => more,
                Err(error) => {
                    failure = Some(error);
                    false
                }
            }
        })?;
        failure.map_or(Ok(()), Err)
    }

    /// The open form of `record`, if it is open (see the module documentation).
    pub fn open(&self, record: &Record) -> Option<OpenRecord> {
        let content = record.content()?;
        let author = record.header().author;
        if !matches!(
            content.kind(),
            Kind::Experiment | Kind::Practitioner | Kind::Lesson | Kind::Organisation
        ) {
            return None;
        }
        if let Some(named) = networks::named_networks(record)
            && (!self.networks.is_open(named) || !self.networks.visible(&author, named))
        {
            return None;
        }
        let current = self.successions.current(&author);
        if current != author {
            let moved = Address {
                author: current,
                ..record.address()
            };
            if self.store.get(&moved).ok().flatten().is_some() {
                return None;
            }
        }
        let trust = self.names.assess(&author);
        let mut open = OpenRecord {
            address: record.address().to_string(),
            kind: content.kind().as_str(),
            title: content.title().to_string(),
            summary: None,
            status: None,
            tags: Vec::new(),
            sector: None,
            region: None,
            contact: None,
            organisation: trust.name,
            trust_path: trust.path,
            updated: Date::from_unix(record.header().created_at).to_string(),
            licence: self.licence.clone(),
            record: BASE64.encode(record.bytes()),
        };
        match content {
            Content::Experiment(e) => {
                open.summary = Some(e.summary.clone());
                open.status = Some(e.status.as_str());
                open.tags = e.tags.clone();
                open.sector = e.sector.clone();
                open.region = e.region.clone();
            }
            Content::Practitioner(p) => {
                open.summary = p.role.clone();
                open.tags = p.expertise.clone();
                open.region = p.region.clone();
                open.contact = p.contact.clone();
            }
            Content::Lesson(l) => {
                open.summary = Some(l.summary.clone());
                open.tags = l.tags.clone();
            }
            Content::Organisation(o) => {
                open.summary = o.description.clone();
                open.region = o.region.clone();
            }
            _ => return None,
        }
        Some(open)
    }

    /// Writes the open records as JSON Lines, one [`OpenRecord`] per line. Returns how many.
    pub fn write_jsonl(&self, out: &mut dyn Write) -> Result<u64, NodeError> {
        let mut count = 0;
        self.for_each(|open| {
            let line = serde_json::to_string(&open).expect("plain data");
            writeln!(out, "{line}").map_err(io)?;
            count += 1;
            Ok(true)
        })?;
        out.flush().map_err(io)?;
        Ok(count)
    }

    /// Writes the open records as CSV with a header row (lists joined with `; `). The signed
    /// record is left out of the CSV: use the JSON Lines to verify.
    pub fn write_csv(&self, out: &mut dyn Write) -> Result<u64, NodeError> {
        let mut writer = csv::Writer::from_writer(out);
        writer.write_record(CSV_COLUMNS).map_err(|e| io(e.into()))?;
        let mut count = 0;
        self.for_each(|open| {
            let tags = open.tags.join("; ");
            writer
                .write_record([
                    open.address.as_str(),
                    open.kind,
                    &open.title,
                    open.summary.as_deref().unwrap_or(""),
                    open.status.unwrap_or(""),
                    &tags,
                    open.sector.as_deref().unwrap_or(""),
                    open.region.as_deref().unwrap_or(""),
                    open.contact.as_deref().unwrap_or(""),
                    open.organisation.as_deref().unwrap_or(""),
                    &open.trust_path,
                    &open.updated,
                    &open.licence,
                ])
                .map_err(|e| io(e.into()))?;
            count += 1;
            Ok(true)
        })?;
        writer.flush().map_err(io)?;
        Ok(count)
    }

    /// Writes the open records as one schema.org JSON-LD document: experiments as `Project`,
    /// practitioners as `Person`, lessons as `CreativeWork`, profiles as `Organization`, each
    /// with its licence and its trust path.
    pub fn write_jsonld(&self, out: &mut dyn Write) -> Result<u64, NodeError> {
        write!(
            out,
            "{{\"@context\":\"https://schema.org\",\"license\":{},\"@graph\":[",
            serde_json::to_string(&self.licence).expect("a string")
        )
        .map_err(io)?;
        let mut count = 0u64;
        self.for_each(|open| {
            if count > 0 {
                out.write_all(b",\n").map_err(io)?;
            }
            let node = json_ld(&open);
            out.write_all(serde_json::to_string(&node).expect("plain data").as_bytes())
                .map_err(io)?;
            count += 1;
            Ok(true)
        })?;
        out.write_all(b"]}\n").map_err(io)?;
        out.flush().map_err(io)?;
        Ok(count)
    }
}

/// The CSV's columns, in order.
pub const CSV_COLUMNS: [&str; 13] = [
    "address",
    "kind",
    "title",
    "summary",
    "status",
    "tags",
    "sector",
    "region",
    "contact",
    "organisation",
    "trust_path",
    "updated",
    "licence",
];

fn json_ld(open: &OpenRecord) -> serde_json::Value {
    let kind = match open.kind {
        "experiment" => "Project",
        "practitioner" => "Person",
        "organisation" => "Organization",
        _ => "CreativeWork",
    };
    let name_field = if kind == "CreativeWork" {
        "headline"
    } else {
        "name"
    };
    let mut node = serde_json::json!({
        "@type": kind,
        "@id": open.address,
        "identifier": open.address,
        name_field: open.title,
        "license": open.licence,
        "dateModified": open.updated,
        "additionalProperty": [{
            "@type": "PropertyValue",
            "name": "trust path",
            "description": "how the node serving this knows who published it",
            "value": open.trust_path,
        }],
    });
    let object = node.as_object_mut().expect("an object");
    if let Some(summary) = &open.summary {
        let field = if kind == "Person" {
            "jobTitle"
        } else {
            "description"
        };
        object.insert(field.into(), summary.clone().into());
    }
    if !open.tags.is_empty() {
        let field = if kind == "Person" {
            "knowsAbout"
        } else {
            "keywords"
        };
        object.insert(field.into(), open.tags.clone().into());
    }
    if let Some(region) = &open.region {
        object.insert(
            "areaServed".into(),
            serde_json::json!({ "@type": "Place", "name": region }),
        );
    }
    if let Some(contact) = &open.contact {
        object.insert(
            "contactPoint".into(),
            serde_json::json!({ "@type": "ContactPoint", "description": contact }),
        );
    }
    if let (Some(organisation), true) = (&open.organisation, kind != "Organization") {
        let by = serde_json::json!({ "@type": "Organization", "name": organisation });
        let field = match kind {
            "Person" => "worksFor",
            "Project" => "sponsor",
            _ => "publisher",
        };
        object.insert(field.into(), by);
    }
    node
}

fn io(source: std::io::Error) -> NodeError {
    NodeError::Io {
        path: "open data output".into(),
        source,
    }
}

impl crate::Node {
    /// A snapshot to write the open data from, published under `licence`.
    pub fn open_data(&self, licence: &str) -> Result<OpenData, NodeError> {
        Ok(OpenData {
            store: self.store().clone(),
            names: self.names()?,
            networks: self.networks()?,
            successions: self.successions()?,
            licence: licence.to_string(),
        })
    }
}
