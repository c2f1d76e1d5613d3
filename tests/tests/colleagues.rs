//! Colleagues on the web page: the operator's one-time sign-in links, sessions held by a
//! cookie, members-only records shown only to those signed in, publishing through a form that
//! warns of similar records first, "we're interested too", and every form guarded against
//! posts from another site.

use crate::util::{Answer, Home, NodeProcess, create_network, http, publish_into, status, turn};

/// `application/x-www-form-urlencoded`, every byte but letters and digits escaped.
pub(crate) fn form(pairs: &[(&str, &str)]) -> String {
    let escape = |text: &str| -> String {
        text.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", escape(k), escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// A browser's requests to the web page: its origin, and its session cookie once signed in.
pub(crate) struct Browser {
    web: String,
    origin: String,
    cookie: Option<String>,
}

impl Browser {
    pub(crate) fn new(web: &str) -> Browser {
        Browser {
            web: web.to_string(),
            origin: format!("http://{web}"),
            cookie: None,
        }
    }

    fn cookie_line(&self) -> String {
        self.cookie
            .as_ref()
            .map(|c| format!("\r\nCookie: {c}"))
            .unwrap_or_default()
    }

    pub(crate) fn get(&self, path: &str) -> Answer {
        http(
            &self.web,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: {}{}",
                self.web,
                self.cookie_line()
            ),
            b"",
        )
    }

    pub(crate) fn post(&self, path: &str, body: &str) -> Answer {
        http(
            &self.web,
            &format!(
                "POST {path} HTTP/1.1\r\nHost: {}\r\nOrigin: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}{}",
                self.web,
                self.origin,
                body.len(),
                self.cookie_line()
            ),
            body.as_bytes(),
        )
    }
}

/// A browser signed in to `home`'s web page (at `web`) as a new account `name`, and its
/// session's form token.
pub(crate) fn signed_in(home: &Home, web: &str, name: &str) -> (Browser, String) {
    let link = home.run(&["web", "user", "add", name]).ok().stdout;
    let token = link.trim().rsplit_once("token=").unwrap().1.to_string();
    let mut browser = Browser::new(web);
    let signed = browser.post("/sign-in", &form(&[("token", &token)]));
    assert_eq!(signed.status, 303, "{}", signed.body);
    let cookie = signed.header("set-cookie").unwrap();
    browser.cookie = Some(cookie.split(';').next().unwrap().to_string());
    let csrf = csrf_of(&browser.get("/").body);
    (browser, csrf)
}

/// The session's form token, as the page's forms carry it.
fn csrf_of(page: &str) -> String {
    let start = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a token")
        + 19;
    page[start..start + 64].to_string()
}

fn experiments(home: &Home) -> usize {
    home.run(&["list", "--kind", "experiment"])
        .stdout
        .lines()
        .count()
}

#[test]
fn a_colleague_signs_in_once_sees_members_only_records_and_publishes_after_a_warning() {
    let _turn = turn();
    let council = Home::init("Leicester City Council");
    let pilots = create_network(&council, "East Midlands Pilots", true);
    let jo = council.publish(
        "jo.toml",
        "kind = \"practitioner\"\nname = \"Jo Smith\"\nrole = \"Food projects lead\"\n",
    );
    let fridges = council.publish(
        "fridges.toml",
        &format!("kind = \"experiment\"\ntitle = \"Community fridges in libraries\"\nsummary = \"Shared fridges in libraries where residents leave and take surplus food\"\nstatus = \"running\"\ntags = [\"food\"]\ncontacts = [\"{jo}\"]\n"),
    );
    publish_into(
        &council,
        "quiet.toml",
        &format!(
            "kind = \"experiment\"\ntitle = \"Quiet fridges pilot\"\nsummary = \"Only for the network's members\"\nstatus = \"running\"\ncontacts = [\"{jo}\"]\n"
        ),
        &[&pilots],
    );
    council.set_node_config("web = \"127.0.0.1:0\"");
    let node = NodeProcess::start(&council);
    let web = status(&council)["web"].as_str().unwrap().to_string();

    let link = council
        .run(&["web", "user", "add", "Sam Patel"])
        .ok()
        .stderr_has("signs in once")
        .stdout
        .trim()
        .to_string();
    assert!(
        link.starts_with(&format!("http://{web}/sign-in?token=")),
        "{link}"
    );
    let token = link.rsplit_once("token=").unwrap().1.to_string();
    council
        .run(&["web", "user", "add", "Sam Patel"])
        .code(2)
        .stderr_has("already has an account");

    let mut browser = Browser::new(&web);
    // Following the link shows a button; it does not sign in by itself, nor leak the token.
    let page = browser.get(&format!("/sign-in?token={token}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Sign in</button>"), "{}", page.body);
    assert_eq!(page.header("referrer-policy"), Some("same-origin"));
    assert!(page.header("set-cookie").is_none());

    // A post from another site is refused before the token is looked at.
    let mut evil = Browser::new(&web);
    evil.origin = "https://evil.example".into();
    assert_eq!(
        evil.post("/sign-in", &form(&[("token", &token)])).status,
        403
    );
    let signed = browser.post("/sign-in", &form(&[("token", &token)]));
    assert_eq!(signed.status, 303, "{}", signed.body);
    let cookie = signed.header("set-cookie").unwrap().to_string();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    // Once only.
    let again = browser.post("/sign-in", &form(&[("token", &token)]));
    assert!(
        again.status == 400 && again.body.contains("has been used"),
        "{}",
        again.body
    );
    browser.cookie = Some(cookie.split(';').next().unwrap().to_string());

    // Visitors see open records only; a colleague also the members-only network's.
    let visitor = Browser::new(&web).get("/?q=fridges");
    assert!(visitor.body.contains("Community fridges in libraries"));
    assert!(!visitor.body.contains("Quiet fridges pilot"));
    let colleague = browser.get("/?q=fridges");
    assert!(
        colleague.body.contains("Quiet fridges pilot"),
        "{}",
        colleague.body
    );
    assert!(colleague.body.contains("Signed in as Sam Patel"));
    assert_eq!(colleague.header("cache-control"), Some("no-store"));
    let csrf = csrf_of(&colleague.body);
    // People to learn from: a visitor sees what Jo ran in the open, never the members-only
    // pilot; a colleague sees both.
    let people = Browser::new(&web).get("/people?topic=fridges");
    assert!(people.body.contains("Jo Smith"), "{}", people.body);
    assert!(people.body.contains("Community fridges in libraries"));
    assert!(
        !people.body.contains("Quiet fridges pilot"),
        "{}",
        people.body
    );
    let people = browser.get("/people?topic=fridges");
    assert!(
        people.body.contains("Quiet fridges pilot"),
        "{}",
        people.body
    );
    // Jo's own page lists what they ran, as far as the viewer may see.
    let jos_page = format!(
        "/record?address={}",
        jo.replace(':', "%3A").replace('/', "%2F")
    );
    let visitors = Browser::new(&web).get(&jos_page);
    assert!(
        visitors.body.contains("Experiments they ran"),
        "{}",
        visitors.body
    );
    assert!(visitors.body.contains("Community fridges in libraries"));
    assert!(
        !visitors.body.contains("Quiet fridges pilot"),
        "{}",
        visitors.body
    );
    assert!(browser.get(&jos_page).body.contains("Quiet fridges pilot"));

    // Every form needs the session's token, and to come from this page.
    let draft = [
        ("title", "Community fridges at libraries"),
        (
            "summary",
            "Shared fridges in libraries where residents leave and take surplus food",
        ),
        ("status", "planned"),
        ("tags", "food, libraries"),
        ("network", "commons"),
    ];
    let before = experiments(&council);
    let forged = browser.post("/publish", &form(&draft));
    assert_eq!(forged.status, 403, "{}", forged.body);
    let with_token: Vec<(&str, &str)> =
        [("csrf", csrf.as_str())].into_iter().chain(draft).collect();
    let mut elsewhere = Browser::new(&web);
    elsewhere.cookie = browser.cookie.clone();
    elsewhere.origin = "https://evil.example".into();
    assert_eq!(elsewhere.post("/publish", &form(&with_token)).status, 403);
    assert_eq!(experiments(&council), before, "nothing was published");

    // A similar record is shown first; nothing is published until "publish anyway".
    let warned = browser.post("/publish", &form(&with_token));
    assert_eq!(warned.status, 200);
    assert!(
        warned
            .body
            .contains("Similar work is already in the directory"),
        "{}",
        warned.body
    );
    assert!(warned.body.contains("Community fridges in libraries"));
    assert!(warned.body.contains("Publish anyway"));
    assert_eq!(experiments(&council), before);
    let confirmed: Vec<(&str, &str)> = with_token
        .iter()
        .copied()
        .chain([("confirm", "yes")])
        .collect();
    let published = browser.post("/publish", &form(&confirmed));
    assert_eq!(published.status, 303, "{}", published.body);
    let location = published.header("location").unwrap().to_string();
    assert!(location.ends_with("&done=published"), "{location}");
    assert_eq!(experiments(&council), before + 1);
    let mine = council.search_addresses(&["--kind", "experiment", "at", "libraries"]);
    assert!(!mine.is_empty());
    let shown = browser.get(&location);
    assert!(
        shown.body.contains("Published for your organisation"),
        "{}",
        shown.body
    );
    assert!(shown.body.contains("Leicester City Council"));

    // A bad form says what is wrong with each field, and keeps what was typed.
    let bad = browser.post(
        "/publish",
        &form(&[
            ("csrf", &csrf),
            ("title", ""),
            ("summary", "Kept as typed"),
            ("status", "livid"),
        ]),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("Give the experiment a title"));
    assert!(bad.body.contains("Choose a status from the list"));
    assert!(bad.body.contains("Kept as typed"));
    // A network this organisation cannot publish into is refused.
    let outside = browser.post(
        "/publish",
        &form(&[
            ("csrf", &csrf),
            ("title", "t"),
            ("summary", "s"),
            ("status", "idea"),
            ("network", "convene://aaaa/network/elsewhere"),
        ]),
    );
    assert_eq!(outside.status, 400);
    assert!(outside.body.contains("cannot publish into that network"));

    // "We're interested too", on a record's page.
    let record = browser.get(&format!(
        "/record?address={}",
        fridges.replace(':', "%3A").replace('/', "%2F")
    ));
    assert!(
        record.body.contains("We&#39;re interested too")
            || record.body.contains("We're interested too")
    );
    let interested = browser.post(
        "/interest",
        &form(&[
            ("csrf", &csrf),
            ("address", &fridges),
            ("note", "piloting in 2027"),
        ]),
    );
    assert_eq!(interested.status, 303, "{}", interested.body);
    let cohort = council.run(&["cohort", &fridges, "--json"]).ok().json();
    assert_eq!(
        cohort["interested"][0]["note"], "piloting in 2027",
        "{cohort}"
    );
    // A visitor has no such button.
    let visitors_record = Browser::new(&web).get(&format!(
        "/record?address={}",
        fridges.replace(':', "%3A").replace('/', "%2F")
    ));
    assert!(!visitors_record.body.contains("interested too"));
    // The record's page shows who else is interested, and similar work.
    assert!(
        visitors_record.body.contains("Also interested (1)")
            && visitors_record.body.contains("piloting in 2027"),
        "{}",
        visitors_record.body
    );
    assert!(visitors_record.body.contains("Similar work elsewhere"));
    assert!(
        visitors_record
            .body
            .contains("Community fridges at libraries")
    );

    // Following a search: what arrives and matches it afterwards is news, once.
    let followed = browser.post("/follow", &form(&[("csrf", &csrf), ("q", "fridges")]));
    assert_eq!(followed.status, 303, "{}", followed.body);
    assert_eq!(followed.header("location"), Some("/following"));
    let page = browser.get("/following");
    assert!(
        page.body.contains("“fridges”") && page.body.contains("Nothing new since you last looked"),
        "{}",
        page.body
    );
    council.publish(
        "schools.toml",
        "kind = \"experiment\"\ntitle = \"Fridges in schools\"\nsummary = \"Surplus food fridges at school gates\"\nstatus = \"idea\"\n",
    );
    let page = browser.get("/following");
    assert!(
        page.body.contains("1 new or changed since you last looked"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Fridges in schools"));
    assert!(
        browser
            .get("/following")
            .body
            .contains("Nothing new since you last looked")
    );
    let unfollowed = browser.post("/unfollow", &form(&[("csrf", &csrf), ("id", "fridges")]));
    assert_eq!(unfollowed.status, 303);
    assert!(
        browser
            .get("/following")
            .body
            .contains("You follow no topics yet")
    );

    // Signing out ends the session; removing the account ends every session.
    council
        .run(&["web", "user", "list"])
        .ok()
        .stdout_has("Sam Patel\tlast signed in")
        .stdout_has("1 browser(s) signed in");
    let out = browser.post("/sign-out", &form(&[("csrf", &csrf)]));
    assert_eq!(out.status, 303);
    assert!(browser.get("/").body.contains(">Sign in<"));
    let link = council
        .run(&["web", "user", "link", "Sam Patel"])
        .ok()
        .stdout;
    let token = link.trim().rsplit_once("token=").unwrap().1.to_string();
    let signed = browser.post("/sign-in", &form(&[("token", &token)]));
    browser.cookie = Some(
        signed
            .header("set-cookie")
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string(),
    );
    assert!(browser.get("/").body.contains("Signed in as Sam Patel"));
    council
        .run(&["web", "user", "remove", "Sam Patel"])
        .ok()
        .stderr_has("signed out 1 browser(s)");
    assert!(
        !browser
            .get("/?q=fridges")
            .body
            .contains("Quiet fridges pilot")
    );

    // Guessing at sign-in links is slowed down: ten tries a minute from one address.
    let refused = (0..12)
        .map(|_| {
            Browser::new(&web)
                .post("/sign-in", &form(&[("token", &"0".repeat(64))]))
                .status
        })
        .filter(|status| *status == 429)
        .count();
    assert!(refused >= 2, "{refused} attempts refused");
    node.stop();
}
