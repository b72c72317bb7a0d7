//! The binary's error messages: clear, one line, naming what to change.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a failure should panic

mod common;

use common::weft;

#[test]
fn a_port_in_use_names_the_listener_and_the_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = weft()
        .args([
            "serve",
            "--kafka",
            "off",
            "--mqtt",
            "off",
            "--http",
            &address,
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let error_line = stderr
        .lines()
        .find(|line| line.starts_with("weft:"))
        .unwrap();
    assert!(
        error_line.contains("http") && error_line.contains(&address),
        "{stderr}"
    );
    assert!(
        error_line.contains("already in use") && error_line.contains("--http"),
        "{stderr}"
    );
}

#[test]
fn a_kafka_port_in_use_names_the_kafka_flag() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = weft()
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--kafka",
            &address,
            "--data-dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("kafka") && stderr.contains(&address) && stderr.contains("--kafka"),
        "{stderr}"
    );
}

#[test]
fn clients_say_which_url_they_tried_and_how_to_start_a_node() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{free}");
    for args in [vec!["pub", "t", "x"], vec!["sub", "t"]] {
        let output = weft()
            .args(&args)
            .args(["--server", &url])
            .output()
            .unwrap();
        assert!(!output.status.success());
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.contains(&url) && stderr.contains("weft serve"),
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn the_server_url_comes_from_weft_server_too() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("http://{free}");
    let output = weft()
        .args(["pub", "t", "x"])
        .env("WEFT_SERVER", &url)
        .output()
        .unwrap();
    assert!(String::from_utf8(output.stderr).unwrap().contains(&url));
}

#[test]
fn every_configuration_error_is_reported_at_once_with_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weft.yaml");
    std::fs::write(
        &config,
        "node_name: ok\nhtpp: {listen: off}\nlog:\n  format: xml\n",
    )
    .unwrap();
    let output = weft()
        .args(["serve", "--config"])
        .arg(&config)
        .env("WEFT_HTTP", "not-an-address")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8(output.stderr).unwrap();
    let file = config.display().to_string();
    assert!(stderr.contains(&format!("{file}:2:1")), "{stderr}");
    assert!(stderr.contains(&format!("{file}:4:11")), "{stderr}");
    assert!(stderr.contains("WEFT_HTTP"), "{stderr}");
}

#[test]
fn help_lists_every_command_and_version_prints_it() {
    let help = weft().arg("--help").output().unwrap();
    let text = String::from_utf8(help.stdout).unwrap();
    for command in ["serve", "pub", "sub", "version"] {
        assert!(text.contains(command), "{text}");
    }
    let version = weft().arg("version").output().unwrap();
    assert_eq!(
        String::from_utf8(version.stdout).unwrap().trim(),
        format!("weft {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_closed_output_pipe_ends_the_command_quietly() {
    // `weft … | head`: the reader is gone before weft writes.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = weft()
        .args(["cesql", "eval", "1 + 1"])
        .stdout(writer)
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        output.status.success(),
        "status {:?}: {stderr}",
        output.status
    );
    assert_eq!(stderr, "", "no panic, no error message");
}
