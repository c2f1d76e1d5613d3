//! The directory in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`), driven over WebDriver by fantoccini, as a colleague would use it —
//! search, narrow by a facet, open a record, its publisher and its network; sign in with a
//! link, publish through the form (warned of similar work first), say "we're interested too",
//! sign out. Each page type is checked by axe-core in the same browser against WCAG 2.0, 2.1 and
//! 2.2 A and AA, and screenshots are kept in `target/browser-artefacts/`.
//!
//! Needs `/usr/bin/chromedriver`, `/usr/bin/chromium` and `tests/browser/node_modules/axe-core`
//! (`npm ci --prefix tests/browser`); `.ci/run` installs all three. Without them the test says
//! so and passes, unless `CI` or `CONVENE_BROWSER_TESTS` is set: then it fails.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::util::{Home, NodeProcess, create_network, publish_into, repo, status, turn};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// What the browser test needs, if it is all on this machine.
struct Tools {
    axe: String,
}

fn tools() -> Option<Tools> {
    let axe = repo().join("tests/browser/node_modules/axe-core/axe.min.js");
    let missing: Vec<String> = [
        PathBuf::from(CHROMEDRIVER),
        PathBuf::from(CHROMIUM),
        axe.clone(),
    ]
    .into_iter()
    .filter(|path| !path.exists())
    .map(|path| path.display().to_string())
    .collect();
    if missing.is_empty() {
        return Some(Tools {
            axe: std::fs::read_to_string(axe).unwrap(),
        });
    }
    let required =
        std::env::var_os("CI").is_some() || std::env::var_os("CONVENE_BROWSER_TESTS").is_some();
    let message = format!(
        "the browser test needs {} (apt-get install chromium chromium-driver; npm ci --prefix \
         tests/browser)",
        missing.join(", ")
    );
    assert!(!required, "{message}");
    eprintln!("SKIPPED: {message}");
    None
}

/// A chromedriver process on a free loopback port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(driver: &Driver, profile: &std::path::Path) -> Client {
    let options = serde_json::json!({
        "binary": CHROMIUM,
        "args": [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--window-size=1280,1000",
            format!("--user-data-dir={}", profile.display()),
        ],
    });
    let mut capabilities = fantoccini::wd::Capabilities::new();
    capabilities.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&driver.url)
        .await
        .expect("a WebDriver session in headless Chromium")
}

/// The page as a colleague sees it, checked by axe-core: no WCAG 2.x A or AA violation. A
/// screenshot of it is kept as `target/browser-artefacts/NAME.png`.
async fn check_page(client: &Client, tools: &Tools, name: &str) {
    let shot = client.screenshot().await.unwrap();
    let dir = repo().join("target/browser-artefacts");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), shot).unwrap();
    let loaded = client
        .execute("return typeof window.axe !== 'undefined';", vec![])
        .await
        .unwrap();
    if loaded != serde_json::Value::Bool(true) {
        client.execute(&tools.axe, vec![]).await.unwrap();
    }
    let violations = client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values:
                 ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] } })
               .then(result => done(result.violations.map(v => ({
                   id: v.id, impact: v.impact, help: v.help,
                   nodes: v.nodes.map(n => n.html) }))))
               .catch(error => done([{ id: 'axe-error', help: String(error), nodes: [] }]));",
            vec![],
        )
        .await
        .unwrap();
    let violations = violations.as_array().cloned().unwrap_or_default();
    assert!(
        violations.is_empty(),
        "{name}: WCAG violations found by axe-core:\n{}",
        serde_json::to_string_pretty(&violations).unwrap()
    );
}

async fn body_text(client: &Client) -> String {
    client
        .find(Locator::Css("body"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Clicks `element`, which leads to another page, and waits until that page has loaded.
async fn click_and_wait(client: &Client, element: fantoccini::elements::Element) {
    client
        .execute("window.__leaving = true;", vec![])
        .await
        .unwrap();
    element.click().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let loaded = client
            .execute(
                "return window.__leaving === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await;
        if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
            return;
        }
        assert!(Instant::now() < deadline, "the next page did not load");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn click_link(client: &Client, text: &str) {
    let link = client
        .find(Locator::LinkText(text))
        .await
        .unwrap_or_else(|e| panic!("no link {text:?}: {e}"));
    click_and_wait(client, link).await;
}

async fn click_button(client: &Client, text: &str) {
    let xpath = format!("//button[normalize-space()=\"{text}\"]");
    let button = client
        .find(Locator::XPath(&xpath))
        .await
        .unwrap_or_else(|e| panic!("no button {text:?}: {e}"));
    click_and_wait(client, button).await;
}

async fn fill(client: &Client, id: &str, text: &str) {
    let field = client.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

#[test]
fn a_colleague_uses_the_directory_in_a_browser_and_every_page_passes_an_accessibility_check() {
    let Some(tools) = tools() else {
        return;
    };
    let _turn = turn();
    let council = Home::init("Leicester City Council");
    let pilots = create_network(&council, "East Midlands Pilots", true);
    let friends = create_network(&council, "Fridge Friends", false);
    let sam = council.publish(
        "sam.toml",
        "kind = \"practitioner\"\nname = \"Sam Patel\"\nrole = \"Digital Lead\"\ncontact = \"sam@example.org\"\nexpertise = [\"community food\"]\n",
    );
    let fridges = council.publish(
        "fridges.toml",
        &format!("kind = \"experiment\"\ntitle = \"Community fridges in libraries\"\nsummary = \"Shared fridges in libraries where residents leave and take surplus food\"\nstatus = \"running\"\ntags = [\"food\", \"libraries\"]\nregion = \"East Midlands\"\ncontacts = [\"{sam}\"]\n"),
    );
    council.publish(
        "lesson.toml",
        &format!("kind = \"lesson\"\ntitle = \"Fridges need a named volunteer\"\nsummary = \"Someone must own the cleaning rota\"\nabout = \"{fridges}\"\n"),
    );
    publish_into(
        &council,
        "bins.toml",
        "kind = \"experiment\"\ntitle = \"Shared compost bins\"\nsummary = \"Bins beside the library, for food waste\"\nstatus = \"planned\"\n",
        &[&friends],
    );
    publish_into(
        &council,
        "quiet.toml",
        "kind = \"experiment\"\ntitle = \"Quiet fridges pilot\"\nsummary = \"Fridges for the network's members only\"\nstatus = \"idea\"\n",
        &[&pilots],
    );
    council.set_node_config("web = \"127.0.0.1:0\"");
    let node = NodeProcess::start(&council);
    let web = format!("http://{}", status(&council)["web"].as_str().unwrap());
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver::start();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = connect(&driver, profile.path()).await;

        // A visitor searches, narrows by a facet, and opens a record.
        client.goto(&format!("{web}/")).await.unwrap();
        check_page(&client, &tools, "01-search-empty").await;
        fill(&client, "q", "fridges").await;
        click_button(&client, "Search").await;
        let text = body_text(&client).await;
        assert!(text.contains("Community fridges in libraries"), "{text}");
        assert!(
            !text.contains("Quiet fridges pilot"),
            "a members-only record shown to a visitor"
        );
        check_page(&client, &tools, "02-search-results").await;
        click_link(&client, "running").await;
        let url = client.current_url().await.unwrap();
        assert!(url.as_str().contains("status=running"), "{url}");
        let text = body_text(&client).await;
        assert!(
            text.contains("Filters in use") && text.contains("1 result"),
            "{text}"
        );
        check_page(&client, &tools, "03-search-filtered").await;
        click_link(&client, "Community fridges in libraries").await;
        let text = body_text(&client).await;
        assert!(text.contains("Fridges need a named volunteer"), "{text}");
        assert!(text.contains("Sam Patel"), "{text}");
        assert!(!text.contains("interested too"), "a visitor cannot say so");
        check_page(&client, &tools, "04-record").await;
        click_link(&client, "more from this publisher").await;
        assert!(body_text(&client).await.contains("Published by it"));
        check_page(&client, &tools, "05-organisation").await;
        client
            .goto(&format!(
                "{web}/network?id={}",
                friends.replace(':', "%3A").replace('/', "%2F")
            ))
            .await
            .unwrap();
        assert!(body_text(&client).await.contains("Shared compost bins"));
        check_page(&client, &tools, "06-network").await;
        client.goto(&format!("{web}/?q=fridges")).await.unwrap();
        click_link(&client, "People to learn from about “fridges”").await;
        let text = body_text(&client).await;
        assert!(
            text.contains("Sam Patel") && text.contains("Ran Community fridges in libraries"),
            "{text}"
        );
        check_page(&client, &tools, "06b-people").await;

        // A colleague signs in with the link the operator gave them.
        client.goto(&format!("{web}/sign-in")).await.unwrap();
        check_page(&client, &tools, "07-sign-in-without-link").await;
        let link = council
            .run(&["web", "user", "add", "Priya Shah"])
            .ok()
            .stdout;
        client.goto(link.trim()).await.unwrap();
        check_page(&client, &tools, "08-sign-in").await;
        click_button(&client, "Sign in").await;
        let text = body_text(&client).await;
        assert!(text.contains("Signed in as Priya Shah"), "{text}");
        fill(&client, "q", "fridges").await;
        click_button(&client, "Search").await;
        let text = body_text(&client).await;
        assert!(
            text.contains("Quiet fridges pilot"),
            "members-only record hidden from a colleague: {text}"
        );
        check_page(&client, &tools, "09-search-signed-in").await;
        click_button(&client, "Follow this search").await;
        assert!(
            body_text(&client)
                .await
                .contains("Nothing new since you last looked")
        );
        check_page(&client, &tools, "09b-following").await;

        // They publish through the form: first an empty one, then one like existing work.
        click_link(&client, "Publish an experiment").await;
        check_page(&client, &tools, "10-publish-form").await;
        click_button(&client, "Publish").await;
        let text = body_text(&client).await;
        assert!(text.contains("Give the experiment a title"), "{text}");
        check_page(&client, &tools, "11-publish-errors").await;
        fill(&client, "title", "Community fridges at libraries").await;
        fill(
            &client,
            "summary",
            "Shared fridges in libraries where residents leave and take surplus food",
        )
        .await;
        fill(&client, "tags", "food, libraries").await;
        client
            .find(Locator::Id("status"))
            .await
            .unwrap()
            .select_by_value("planned")
            .await
            .unwrap();
        click_button(&client, "Publish").await;
        let text = body_text(&client).await;
        assert!(
            text.contains("Similar work is already in the directory"),
            "{text}"
        );
        assert!(text.contains("Community fridges in libraries"), "{text}");
        check_page(&client, &tools, "12-publish-similar-warning").await;
        click_button(&client, "Publish anyway").await;
        let text = body_text(&client).await;
        assert!(text.contains("Published for your organisation"), "{text}");
        assert!(text.contains("Community fridges at libraries"), "{text}");
        check_page(&client, &tools, "13-published").await;

        // "We're interested too", on the original.
        client
            .goto(&format!(
                "{web}/record?address={}",
                fridges.replace(':', "%3A").replace('/', "%2F")
            ))
            .await
            .unwrap();
        check_page(&client, &tools, "14-record-signed-in").await;
        fill(&client, "note", "piloting in 2027").await;
        click_button(&client, "We're interested too").await;
        let text = body_text(&client).await;
        assert!(text.contains("interested in this too"), "{text}");
        check_page(&client, &tools, "15-interested").await;

        click_button(&client, "Sign out").await;
        assert!(body_text(&client).await.contains("Sign in"));
        client.close().await.unwrap();
    });

    let cohort = council.run(&["cohort", &fridges, "--json"]).ok().json();
    assert_eq!(
        cohort["interested"][0]["note"], "piloting in 2027",
        "{cohort}"
    );
    assert_eq!(
        council
            .search_addresses(&["--kind", "experiment", "fridges"])
            .len(),
        3,
        "the form published one experiment"
    );
    node.stop();
}
