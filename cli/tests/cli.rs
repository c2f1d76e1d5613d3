//! Argument handling of the `convene` binary. (Whole-program behaviour is tested end to end in
//! the workspace's `tests/` crate; having this test also makes `cargo test` build the binary
//! those tests run.)

use std::process::Command;

fn convene(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_convene"))
        .args(args)
        .env_remove("CONVENE_HOME")
        .output()
        .unwrap()
}

#[test]
fn help_documents_the_exit_codes() {
    let output = convene(&["--help"]);
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    for line in ["1  nothing found", "3  import finished", "4  not published"] {
        assert!(text.contains(line), "--help lacks {line:?}:\n{text}");
    }
}

#[test]
fn an_unknown_kind_is_a_usage_error_that_lists_the_kinds() {
    let output = convene(&["--home", "/nonexistent", "search", "x", "--kind", "meetup"]);
    assert_eq!(output.status.code(), Some(2));
    let text = String::from_utf8(output.stderr).unwrap();
    for kind in convene_protocol::Kind::ALL {
        assert!(text.contains(kind.as_str()), "{kind} missing from:\n{text}");
    }
    assert!(text.contains("unknown kind \"meetup\": expected"), "{text}");
}

#[test]
fn a_malformed_address_is_refused_with_the_expected_form() {
    for malformed in ["convene://not-an-address", "Not An Address!"] {
        let output = convene(&["--home", "/nonexistent", "show", malformed]);
        assert_eq!(output.status.code(), Some(2));
        let text = String::from_utf8(output.stderr).unwrap();
        assert!(text.contains("convene://<author>/<kind>/<slug>"), "{text}");
    }
}

#[test]
fn completions_and_the_manual_page_come_from_the_command_definitions() {
    for shell in ["bash", "zsh", "fish"] {
        let output = convene(&["completions", shell]);
        assert!(output.status.success(), "{shell}");
        let text = String::from_utf8(output.stdout).unwrap();
        assert!(
            text.contains("publish") && text.contains("vouch"),
            "{shell}:\n{text}"
        );
    }
    let output = convene(&["man"]);
    assert!(output.status.success());
    let page = String::from_utf8(output.stdout).unwrap();
    assert!(
        page.starts_with(".ie") || page.contains(".TH convene 1"),
        "{page}"
    );
    assert!(page.contains("publish"), "{page}");
    // Unknown shells are a usage error naming the choices.
    let output = convene(&["completions", "cmd"]);
    assert_eq!(output.status.code(), Some(2));
}
