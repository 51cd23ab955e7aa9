//! What comments and documentation cite must exist: every "decision N" is defined in
//! `docs/wire-conventions.md`, and every file of the project a comment or a document names (a
//! relative path with a `/`, or a Rust file's name) is there. A renamed file or a new decision
//! cannot leave a dangling reference behind.

// A panic in a test is a failed test: helpers may unwrap and index freely.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// The project's text files: sources, scripts and documents, outside build output.
fn files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "corpus" {
                    walk(&path, out);
                }
            } else if ["rs", "md", "py", "sh", "toml"]
                .iter()
                .any(|ext| name.ends_with(&format!(".{ext}")))
            {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&root(), &mut out);
    out
}

/// The text of `file` that is comment or prose: every line of a document, the comment part of a
/// line of code (`//` in Rust, `#` in TOML, shell and Python).
fn prose(file: &Path, text: &str) -> Vec<String> {
    let marker = match file.extension().and_then(|e| e.to_str()) {
        Some("md") => None,
        Some("rs") => Some("//"),
        _ => Some("#"),
    };
    text.lines()
        .filter_map(|line| match marker {
            None => Some(line.to_owned()),
            Some(marker) => line.find(marker).map(|at| line[at..].to_owned()),
        })
        .collect()
}

#[test]
fn every_cited_decision_is_defined_in_the_wire_conventions() {
    let conventions = std::fs::read_to_string(root().join("docs/wire-conventions.md")).unwrap();
    let defined: BTreeSet<u32> = (1..=99)
        .filter(|n| conventions.contains(&format!("**Decision {n},")))
        .collect();
    assert!(!defined.is_empty(), "no decision defined");
    let mut dangling = Vec::new();
    for file in files() {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        for line in prose(&file, &text) {
            let lower = line.to_lowercase();
            let mut rest = lower.as_str();
            while let Some(at) = rest.find("decision ") {
                rest = &rest[at + "decision ".len()..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                if let Ok(n) = digits.parse::<u32>() {
                    if !defined.contains(&n) {
                        dangling.push(format!("{}: decision {n}", file.display()));
                    }
                }
            }
        }
    }
    assert!(
        dangling.is_empty(),
        "undefined decisions cited:\n{}",
        dangling.join("\n")
    );
}

/// Candidate file names in `line`: relative paths with a `/` and a known extension, and Rust
/// files' names.
fn named_files(line: &str) -> Vec<String> {
    const EXTENSIONS: [&str; 9] = ["rs", "md", "json", "toml", "sh", "py", "html", "js", "css"];
    line.split(|c: char| !(c.is_ascii_alphanumeric() || "_./-".contains(c)))
        .map(|word| word.trim_end_matches('.'))
        .filter(|word| {
            let Some((_, ext)) = word.rsplit_once('.') else {
                return false;
            };
            EXTENSIONS.contains(&ext)
                && (word.contains('/') || ext == "rs")
                && !word.starts_with('/')
                && !word.starts_with('.')
                && !word.contains("..")
                && !word.contains('*')
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_file_a_comment_or_document_names_exists() {
    let root = root();
    let all = files();
    let names: BTreeSet<String> = all
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    // Every file's path, to find one named by the end of its path (`kyc-core/src/lib.rs`).
    let paths: Vec<String> = walk_all(&root)
        .iter()
        .map(|f| f.to_string_lossy().into_owned())
        .collect();
    let mut missing = Vec::new();
    for file in &all {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        // Where a relative path may start: the file's folder, its crate, the crate's `src` and
        // `tests`, the workspace root.
        let crate_root = file
            .ancestors()
            .find(|a| a.join("Cargo.toml").exists())
            .unwrap_or(&root)
            .to_owned();
        let bases = [
            file.parent().unwrap().to_owned(),
            crate_root.clone(),
            crate_root.join("src"),
            crate_root.join("tests"),
            root.clone(),
        ];
        for line in prose(file, &text) {
            if line.contains("://") {
                continue;
            }
            for name in named_files(&line) {
                let exists = if name.contains('/') {
                    bases.iter().any(|b| b.join(&name).exists())
                        || paths.iter().any(|p| p.ends_with(&format!("/{name}")))
                } else {
                    names.contains(&name)
                };
                if !exists {
                    missing.push(format!(
                        "{}: {name}",
                        file.strip_prefix(&root).unwrap().display()
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "files named but not found:\n{}",
        missing.join("\n")
    );
}

/// Every file of the project, of any kind, outside build output.
fn walk_all(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !name.starts_with('.') && name != "target" {
                out.extend(walk_all(&path));
            }
        } else {
            out.push(path);
        }
    }
    out
}
