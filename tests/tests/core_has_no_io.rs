//! kyc-core must stay sans-IO: no HTTP client or async runtime in its dependency tree, and no
//! socket, file, process, environment, clock or randomness in its source.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};
use std::process::Command;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[test]
fn the_dependency_tree_holds_no_http_client_runtime_or_rng() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let out = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "tree",
            "--offline",
            "-p",
            "kyc-core",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--format",
            "{p}",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    let crates: Vec<&str> = tree
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(
        crates.contains(&"kyc-core") && crates.contains(&"http"),
        "unexpected tree:\n{tree}"
    );
    let banned = [
        "tokio",
        "hyper",
        "hyper-util",
        "reqwest",
        "ureq",
        "async-std",
        "smol",
        "mio",
        "socket2",
        "rand",
        "rand_core",
        "getrandom",
        "rustls",
        "native-tls",
        "openssl",
        "curl",
    ];
    for name in banned {
        assert!(
            !crates.contains(&name),
            "kyc-core depends on {name}:\n{tree}"
        );
    }
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn the_source_uses_no_io_clock_or_randomness() {
    let src = workspace_root().join("crates/kyc-core/src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(
        files.len() >= 10,
        "kyc-core sources not found in {}",
        src.display()
    );
    let banned = [
        "std::net",
        "std::fs",
        "std::process",
        "std::env",
        "std::thread",
        "TcpStream",
        "UdpSocket",
        "File::",
        "SystemTime::now",
        "Instant::now",
        "thread_rng",
        "rand::",
        "getrandom",
        "OsRng",
        "println!",
        "eprintln!",
    ];
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            for word in banned {
                assert!(
                    !code.contains(word),
                    "{}:{}: kyc-core must not use {word}: {line}",
                    file.display(),
                    n + 1
                );
            }
        }
    }
}
