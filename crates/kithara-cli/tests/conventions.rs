//! The command-line conventions (issue 18): exit statuses, clap's own
//! messages, `KITHARA_CACHE_DIR`, -q/-v, `--json`, per-run `--max-bytes`,
//! no binary to a terminal, umask permissions, completions, the man page,
//! and the README's command list. All through the real binary.

mod common;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command as StdCommand;
use std::time::Duration;

use assert_cmd::Command;
use kithara_test_utils::{HlsOrigin, OriginConfig};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kithara");

fn kithara(dir: &Path) -> Command {
    let mut cmd = Command::from_std(common::kithara(dir));
    cmd.timeout(Duration::from_secs(60));
    cmd
}

/// The binary with no arguments added and no inherited cache dir.
fn bare() -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env_remove("KITHARA_CACHE_DIR")
        .env_remove("RUST_LOG")
        .timeout(Duration::from_secs(120));
    cmd
}

fn origin() -> HlsOrigin {
    HlsOrigin::start(OriginConfig::default().variants(1).segments(3)).unwrap()
}

/// One JSON document on stdout, exit 0.
fn json_of(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("not one JSON document ({e}): {text}"))
}

#[test]
fn no_subcommand_prints_help_and_exits_2() {
    let out = bare().output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("Usage: kithara [OPTIONS] <COMMAND>"), "{err}");
    assert!(err.contains("Commands:"), "{err}");
    assert!(out.stdout.is_empty());
}

#[test]
fn clap_errors_are_shown_whole_and_exit_2() {
    let out = bare().arg("stat").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.starts_with("error: unrecognized subcommand 'stat'"),
        "{err}"
    );
    assert!(
        err.contains("a similar subcommand exists: 'stats'"),
        "{err}"
    );
    assert!(err.contains("Usage: kithara"), "{err}");
}

#[test]
fn values_are_parsed_by_clap_and_bad_ones_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://127.0.0.1:9/x.m3u8";
    let cases: [(&[&str], &str); 5] = [
        (
            &["fetch", url, "--variant", "best"],
            "expected an index, all, highest or lowest",
        ),
        (
            &["read", url, "--variant", "all"],
            "expected an index, highest or lowest",
        ),
        (
            &["fetch", url, "--key-header", "no-colon"],
            "expected 'Name: value'",
        ),
        (&["fetch", url, "--key-query", "no-equals"], "expected k=v"),
        (&["gc", "--max-bytes", "12XB"], "unknown unit"),
    ];
    for (args, want) in cases {
        let out = kithara(dir.path()).args(args).output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("invalid value"), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // Refused before anything ran: no cache was created.
    assert!(!dir.path().join("state.json").exists());
    // A usage error found by a command itself exits 2 as well.
    let out = kithara(dir.path()).args(["rm", "xyz"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn runtime_errors_exit_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = kithara(dir.path())
        .args(["read", "http://127.0.0.1:9/x.m3u8", "--offline", "-o", "-"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err, "error: offline miss: http://127.0.0.1:9/x.m3u8\n");
}

#[test]
fn kithara_cache_dir_is_honoured_by_every_command_including_demo() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin();
    let url = o.master_url().to_string();
    let env_cmd = |args: &[&str]| {
        let mut cmd = bare();
        cmd.env("KITHARA_CACHE_DIR", dir.path()).args(args);
        cmd
    };
    let fetched = json_of(&mut env_cmd(&["fetch", &url, "--json"]));
    let id = fetched["id"].as_str().unwrap().to_owned();
    let listed = json_of(&mut env_cmd(&["ls", "--json"]));
    assert_eq!(listed[0]["id"], id.as_str());
    let stats = json_of(&mut env_cmd(&["stats", "--json"]));
    assert_eq!(stats["cache_dir"], dir.path().to_str().unwrap());
    env_cmd(&["verify"]).assert().success();
    // --cache-dir wins over the variable.
    let other = tempfile::tempdir().unwrap();
    let mut cmd = env_cmd(&["ls", "--json"]);
    cmd.arg("--cache-dir").arg(other.path());
    assert_eq!(json_of(&mut cmd), Value::Array(vec![]));

    let demo_dir = tempfile::tempdir().unwrap();
    let out = bare()
        .env("KITHARA_CACHE_DIR", demo_dir.path())
        .arg("demo")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains(&format!("cache dir     {}", demo_dir.path().display())),
        "{text}"
    );
    assert!(
        demo_dir.path().join("state.json").exists(),
        "the demo cached into it"
    );
}

#[test]
fn warnings_show_by_default_and_quiet_hides_them() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin();
    kithara(dir.path())
        .args(["fetch", o.master_url().as_str()])
        .assert()
        .success();
    let state = dir.path().join("state.json");

    std::fs::write(&state, b"{ not json").unwrap();
    let out = kithara(dir.path()).args(["gc"]).output().unwrap();
    assert!(out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("WARN") && err.contains("cache index damaged"),
        "{err}"
    );

    std::fs::write(&state, b"{ not json").unwrap();
    let out = kithara(dir.path()).args(["gc", "-q"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "",
        "-q: errors only"
    );

    // -v adds info (here: the open evicted to fit), which the default hides.
    let out = kithara(dir.path())
        .args(["gc", "--max-bytes", "1"])
        .output()
        .unwrap();
    assert!(!String::from_utf8(out.stderr).unwrap().contains("INFO"));
    kithara(dir.path())
        .args(["fetch", o.master_url().as_str()])
        .assert()
        .success();
    let out = kithara(dir.path())
        .args(["-v", "gc", "--max-bytes", "1"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("INFO") && err.contains("evicted to fit"),
        "{err}"
    );
}

#[test]
fn fetch_gc_and_rm_print_one_json_document() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (origin(), origin());
    let fa = json_of(kithara(dir.path()).args(["fetch", a.master_url().as_str(), "--json"]));
    assert_eq!(fa["url"], a.master_url().as_str());
    assert_eq!(fa["skipped"], 0);
    let downloaded = fa["downloaded"].as_u64().unwrap();
    assert!(downloaded >= 3, "the 3 segments at least: {fa}");
    assert!(fa["bytes"].as_u64().unwrap() > 0);
    let again = json_of(kithara(dir.path()).args(["fetch", a.master_url().as_str(), "--json"]));
    assert_eq!(again["downloaded"], 0);
    assert_eq!(again["skipped"], downloaded);
    let fb = json_of(kithara(dir.path()).args(["fetch", b.master_url().as_str(), "--json"]));

    let rm = json_of(kithara(dir.path()).args(["rm", fb["id"].as_str().unwrap(), "--json"]));
    assert_eq!(rm["removed"], fb["id"]);
    assert_eq!(rm["source_url"], b.master_url().as_str());
    assert!(rm["bytes"].as_u64().unwrap() > 0);

    let gc = json_of(kithara(dir.path()).args(["gc", "--json", "--max-bytes", "1"]));
    let removed = gc["removed"].as_array().unwrap();
    assert_eq!(removed.len(), 1, "{gc}");
    assert_eq!(removed[0]["id"], fa["id"]);
    assert_eq!(gc["total_bytes"], 0);
    assert_eq!(gc["max_bytes"], 1);
}

#[test]
fn max_bytes_applies_to_one_run_and_only_config_stores_it() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin();
    let url = o.master_url().to_string();
    kithara(dir.path())
        .args(["fetch", &url, "--max-bytes", "100MiB"])
        .assert()
        .success();
    let stats = json_of(kithara(dir.path()).args(["stats", "--json"]));
    assert_eq!(stats["max_bytes"], 1u64 << 30, "not stored by fetch");

    let out = kithara(dir.path())
        .args(["config", "--max-bytes", "2MiB"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "max-bytes = 2097152 (2.0 MiB)\nmax-kept-bytes = unlimited\n"
    );
    kithara(dir.path())
        .args([
            "read",
            &url,
            "--offline",
            "--max-bytes",
            "100MiB",
            "-o",
            "-",
        ])
        .assert()
        .success();
    let stats = json_of(kithara(dir.path()).args(["stats", "--json"]));
    assert_eq!(
        stats["max_bytes"],
        2u64 << 20,
        "the stored limit, not read's"
    );
    let out = kithara(dir.path()).args(["config"]).output().unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "max-bytes = 2097152 (2.0 MiB)\nmax-kept-bytes = unlimited\n"
    );
}

/// `kithara` under `script`, so that its stdout is a pseudo-terminal.
fn on_a_terminal(dir: &Path, args: &str) -> (Option<i32>, String) {
    let line = format!("{BIN} --cache-dir {} {args}", dir.display());
    let out = StdCommand::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("KITHARA_CACHE_DIR")
        .env_remove("RUST_LOG")
        .output()
        .expect("script(1) from util-linux");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn read_refuses_a_terminal_unless_dash_o_dash() {
    let dir = tempfile::tempdir().unwrap();
    let url = "http://127.0.0.1:9/x.m3u8";
    let (code, text) = on_a_terminal(dir.path(), &format!("read {url} --offline"));
    assert_eq!(code, Some(2), "{text}");
    assert!(
        text.contains("refusing to write binary media to a terminal"),
        "{text}"
    );
    assert!(
        !dir.path().join("state.json").exists(),
        "refused before opening the cache"
    );
    // With -o - it goes on (and here misses, offline on a cold cache).
    let (code, text) = on_a_terminal(dir.path(), &format!("read {url} --offline -o -"));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("offline miss"), "{text}");
}

#[test]
fn read_to_a_file_follows_the_umask() {
    let dir = tempfile::tempdir().unwrap();
    let o = origin();
    for (umask, mode) in [("022", 0o644), ("027", 0o640)] {
        let file = dir.path().join(format!("track-{umask}.ts"));
        let status = StdCommand::new("sh")
            .arg("-c")
            .arg(format!("umask {umask}; exec \"$@\""))
            .arg("sh")
            .arg(BIN)
            .arg("--cache-dir")
            .arg(dir.path().join("cache"))
            .args(["read", o.master_url().as_str(), "-o"])
            .arg(&file)
            .env_remove("KITHARA_CACHE_DIR")
            .status()
            .unwrap();
        assert!(status.success());
        let got = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
        assert_eq!(got, mode, "umask {umask}: {got:o}");
        assert_eq!(std::fs::read(&file).unwrap(), o.expected_stream(0));
    }
}

#[test]
fn completions_and_the_man_page() {
    for shell in ["bash", "zsh", "fish"] {
        let out = bare().args(["completions", shell]).output().unwrap();
        assert!(out.status.success(), "{shell}");
        let text = String::from_utf8(out.stdout).unwrap();
        // Every subcommand is offered.
        for sub in ["fetch", "read", "verify", "completions"] {
            assert!(text.contains(sub), "{shell} lacks {sub}");
        }
    }
    let out = bare().args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = bare().arg("man").output().unwrap();
    assert!(out.status.success());
    let roff = String::from_utf8(out.stdout).unwrap();
    assert!(roff.contains(".TH kithara 1"), "{roff}");
    assert!(
        roff.contains("KITHARA_CACHE_DIR"),
        "the env var is documented"
    );
}

/// The subcommands `kithara --help` lists.
fn help_commands() -> Vec<String> {
    let out = bare().arg("--help").output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect()
}

#[test]
fn the_readme_lists_exactly_the_commands_of_help() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme
        .split("## The `kithara` command")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("README section");
    let block = section
        .split("```sh")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap();
    let mut in_readme: Vec<String> = block
        .lines()
        .filter_map(|l| l.strip_prefix("kithara "))
        .filter_map(|l| l.split_whitespace().find(|w| !w.starts_with('-')))
        .map(str::to_owned)
        .collect();
    in_readme.dedup();
    let mut sorted_readme = in_readme.clone();
    sorted_readme.sort();
    sorted_readme.dedup();
    let mut help = help_commands();
    assert!(help.len() >= 10, "{help:?}");
    help.sort();
    assert_eq!(sorted_readme, help, "README command list vs kithara --help");
}
