//! Open data: a node serves its open records to anyone who can reach its web listener, as JSON
//! Lines, CSV and schema.org JSON-LD, with each record's trust path and licence and its signed
//! bytes — and never a members-only network's records.

use std::io::{Read, Write};

use crate::util::{Home, NodeProcess, create_network, publish_into, status, turn};

/// A plain HTTP/1.1 request; returns the status line, the headers and the body.
fn http(addr: &str, method: &str, path: &str) -> (String, String, String) {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://example.org\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let (status_line, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    // The body may come chunked: keep only the chunks' data.
    let body = if headers
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut data = String::new();
        let mut rest = body;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            data.push_str(&tail[..size]);
            rest = &tail[size + 2..];
        }
        data
    } else {
        body.to_string()
    };
    (status_line.to_string(), headers.to_string(), body)
}

#[test]
fn open_data_serves_open_records_with_their_trust_path_and_never_a_members_only_one() {
    let _turn = turn();
    let council = Home::init("Leicester City Council");
    let pilots = create_network(&council, "East Midlands Pilots", true);
    let open = council.publish(
        "fridges.toml",
        "kind = \"experiment\"\ntitle = \"Community fridges\"\nsummary = \"Shared fridges, open to all\"\nstatus = \"running\"\ntags = [\"food\"]\n",
    );
    publish_into(
        &council,
        "secret.toml",
        "kind = \"experiment\"\ntitle = \"Quiet pilot\"\nsummary = \"Only for the network's members\"\nstatus = \"running\"\n",
        &[&pilots],
    );
    council.publish(
        "sam.toml",
        "kind = \"practitioner\"\nname = \"Sam Patel\"\nrole = \"Digital Lead\"\ncontact = \"sam@example.org\"\nexpertise = [\"LoRaWAN\"]\n",
    );
    council.set_node_config(
        "web = \"127.0.0.1:0\"\nopen_data_licence = \"https://example.org/licence\"",
    );
    let node = NodeProcess::start(&council);
    let web = status(&council)["web"].as_str().unwrap().to_string();

    let (line, headers, body) = http(&web, "GET", "/open/records.jsonl");
    assert!(line.contains("200"), "{line}");
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("access-control-allow-origin: *"),
        "{headers}"
    );
    let rows: Vec<serde_json::Value> = body
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let titles: Vec<&str> = rows.iter().map(|r| r["title"].as_str().unwrap()).collect();
    assert!(titles.contains(&"Community fridges"), "{titles:?}");
    assert!(titles.contains(&"Sam Patel"), "{titles:?}");
    assert!(titles.contains(&"Leicester City Council"), "{titles:?}");
    assert!(
        !body.contains("Quiet pilot"),
        "a members-only record is in the open data"
    );
    let fridges = rows.iter().find(|r| r["address"] == open.as_str()).unwrap();
    assert_eq!(fridges["organisation"], "Leicester City Council");
    assert_eq!(
        fridges["trust_path"],
        "Leicester City Council — this node's own identity"
    );
    assert_eq!(fridges["licence"], "https://example.org/licence");
    // The signed record comes with it, and verifies.
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(fridges["record"].as_str().unwrap())
        .unwrap();
    let record = convene_protocol::Record::from_bytes(bytes, i64::MAX / 2).unwrap();
    assert_eq!(record.address().to_string(), open);
    let sam = rows.iter().find(|r| r["title"] == "Sam Patel").unwrap();
    assert_eq!(sam["contact"], "sam@example.org");
    assert_eq!(sam["tags"][0], "LoRaWAN");

    let (line, headers, body) = http(&web, "GET", "/open/records.csv");
    assert!(
        line.contains("200") && headers.contains("text/csv"),
        "{line} {headers}"
    );
    let mut lines = body.lines();
    assert_eq!(
        lines.next().unwrap(),
        "address,kind,title,summary,status,tags,sector,region,contact,organisation,trust_path,updated,licence"
    );
    assert_eq!(lines.count(), rows.len());
    assert!(!body.contains("Quiet pilot"));

    let (line, _, body) = http(&web, "GET", "/open/records.jsonld");
    assert!(line.contains("200"), "{line}");
    let graph: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(graph["@context"], "https://schema.org");
    let nodes = graph["@graph"].as_array().unwrap();
    let project = nodes.iter().find(|n| n["@id"] == open.as_str()).unwrap();
    assert_eq!(project["@type"], "Project");
    assert_eq!(project["sponsor"]["name"], "Leicester City Council");
    assert_eq!(project["license"], "https://example.org/licence");
    assert!(
        nodes
            .iter()
            .any(|n| n["@type"] == "Person" && n["jobTitle"] == "Digital Lead")
    );
    assert!(!body.contains("Quiet pilot"));

    // Only reading: anything else is refused, and unknown paths say what is there.
    let (line, _, _) = http(&web, "POST", "/open/records.jsonl");
    assert!(line.contains("405"), "{line}");
    let (line, _, body) = http(&web, "GET", "/no-such-page");
    assert!(
        line.contains("404") && body.contains("/open/records.jsonl"),
        "{line}"
    );
    node.stop();
}

#[test]
fn the_directory_page_searches_open_records_with_facets_and_never_shows_a_members_only_one() {
    let _turn = turn();
    let council = Home::init("Leicester City Council");
    let pilots = create_network(&council, "East Midlands Pilots", true);
    let fridges = council.publish(
        "fridges.toml",
        "kind = \"experiment\"\ntitle = \"Community fridges\"\nsummary = \"Shared fridges in libraries\"\nstatus = \"running\"\ntags = [\"food\"]\nregion = \"East Midlands\"\n",
    );
    let hidden = publish_into(
        &council,
        "secret.toml",
        "kind = \"experiment\"\ntitle = \"Quiet fridges pilot\"\nsummary = \"Only for members\"\nstatus = \"running\"\n",
        &[&pilots],
    );
    council.publish(
        "lesson.toml",
        &format!(
            "kind = \"lesson\"\ntitle = \"Fridges need a named volunteer\"\nsummary = \"Someone must own the cleaning rota\"\nabout = \"{fridges}\"\n"
        ),
    );
    council.publish(
        "odd.toml",
        "kind = \"experiment\"\ntitle = \"<script>alert(1)</script> fridges\"\nsummary = \"A title with markup\"\nstatus = \"idea\"\n",
    );
    let open_network = create_network(&council, "Fridge Friends", false);
    publish_into(
        &council,
        "bins.toml",
        "kind = \"experiment\"\ntitle = \"Shared compost bins\"\nsummary = \"Bins beside the library\"\nstatus = \"planned\"\n",
        &[&open_network],
    );
    council.set_node_config("web = \"127.0.0.1:0\"");
    let node = NodeProcess::start(&council);
    let web = status(&council)["web"].as_str().unwrap().to_string();

    let (line, headers, body) = http(&web, "GET", "/?q=fridges");
    assert!(
        line.contains("200") && headers.contains("text/html"),
        "{line} {headers}"
    );
    assert!(body.contains("<html lang=\"en\">") && body.contains("href=\"#main\""));
    assert!(body.contains("Community fridges"), "{body}");
    assert!(
        !body.contains("Quiet fridges pilot"),
        "a members-only record on the page"
    );
    assert!(
        body.contains("this node&#39;s own identity") || body.contains("this node's own identity")
    );
    // Markup in a title is shown as text, never run.
    assert!(!body.contains("<script>"), "{body}");
    assert!(body.contains("&lt;script&gt;"), "{body}");
    // Facets count open records only, and a facet link narrows the search.
    assert!(body.contains("east midlands</a> (1)"), "{body}");
    // Two open experiments match; the members-only one is not even counted.
    assert!(body.contains("experiment</a> (2)"), "{body}");
    assert!(body.contains("status=running"), "{body}");
    let (_, _, narrowed) = http(&web, "GET", "/?q=fridges&status=idea");
    assert!(narrowed.contains("alert(1)") && !narrowed.contains("Community fridges"));
    assert!(narrowed.contains("remove the filter status idea"));
    // A bad filter is a clear error, not a crash.
    let (line, _, body) = http(&web, "GET", "/?q=fridges&status=livid");
    assert!(
        line.contains("400") && body.contains("status"),
        "{line} {body}"
    );
    // An open network's records are open too.
    let (_, _, body) = http(&web, "GET", "/?q=compost");
    assert!(body.contains("Shared compost bins"), "{body}");
    // An empty search helps.
    let (_, _, body) = http(&web, "GET", "/?q=zeppelins");
    assert!(body.contains("No one has published on this yet"), "{body}");

    // The record page: its fields, who published it, its lessons.
    let page = |address: &str| {
        http(
            &web,
            "GET",
            &format!(
                "/record?address={}",
                address.replace(':', "%3A").replace('/', "%2F")
            ),
        )
    };
    let (line, _, body) = page(&fridges);
    assert!(line.contains("200"), "{line}");
    assert!(body.contains("<h1>Community fridges</h1>"), "{body}");
    assert!(body.contains("Published by"));
    assert!(body.contains("Fridges need a named volunteer"), "{body}");
    // A members-only record has no page for visitors.
    let (line, _, body) = page(&hidden);
    assert!(
        line.contains("404") && !body.contains("Quiet"),
        "{line} {body}"
    );

    // The organisation's page: who it is, and what it published that visitors may see.
    let key = crate::util::key_of(&fridges);
    assert!(
        page(&fridges)
            .2
            .contains(&format!("/organisation?key={key}"))
    );
    let (line, _, body) = http(&web, "GET", &format!("/organisation?key={key}"));
    assert!(line.contains("200"), "{line}");
    assert!(body.contains("<h1>Leicester City Council</h1>"), "{body}");
    assert!(body.contains("Community fridges") && body.contains("Fridges need a named volunteer"));
    assert!(
        !body.contains("Quiet fridges pilot"),
        "a members-only record on the organisation page"
    );
    let (line, _, _) = http(&web, "GET", "/organisation?key=not-a-key");
    assert!(line.contains("400"), "{line}");

    // An open network's page: its name, who convenes it and what is published in it; a
    // members-only network has none for visitors.
    let network_page = |id: &str| {
        http(
            &web,
            "GET",
            &format!("/network?id={}", id.replace(':', "%3A").replace('/', "%2F")),
        )
    };
    let (line, _, body) = network_page(&open_network);
    assert!(line.contains("200"), "{line} {body}");
    assert!(body.contains("<h1>Fridge Friends</h1>") && body.contains("Shared compost bins"));
    assert!(body.contains("Leicester City Council"), "{body}");
    // Its news: what was published in it over the last 30 days.
    assert!(body.contains("<h2>Since "), "{body}");
    assert_eq!(body.matches("Shared compost bins").count(), 2, "{body}");
    let (line, _, body) = network_page(&pilots);
    assert!(
        line.contains("404") && !body.contains("Quiet"),
        "{line} {body}"
    );
    node.stop();
}
