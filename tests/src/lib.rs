//! Cross-crate tests live in `tests/tests/`. This library holds no code: it compiles (and, where
//! they are not `no_run`, runs) every Rust block of the project's READMEs as doctests, with the
//! dev-dependencies a reader would add, so `cargo test --workspace` fails when an example stops
//! compiling. Blocks that need a network or credentials are `no_run`; text that is not Rust is
//! fenced as `sh`, `toml` or `text`. The test below requires every crate's README to be listed.

#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
mod readme {}

#[cfg(doctest)]
#[doc = include_str!("../../crates/kyc-adapter/README.md")]
mod kyc_adapter_readme {}

#[cfg(doctest)]
#[doc = include_str!("../../crates/kyc-axum/README.md")]
mod kyc_axum_readme {}

#[cfg(doctest)]
#[doc = include_str!("../../crates/kyc-cli/README.md")]
mod kyc_cli_readme {}

#[cfg(doctest)]
#[doc = include_str!("../../crates/kyc-core/README.md")]
mod kyc_core_readme {}

#[cfg(doctest)]
#[doc = include_str!("../../crates/kyc-mock/README.md")]
mod kyc_mock_readme {}

#[cfg(doctest)]
#[doc = include_str!("../../crates/kyc-reqwest/README.md")]
mod kyc_reqwest_readme {}

#[cfg(doctest)]
#[doc = include_str!("../../crates/kyc-track/README.md")]
mod kyc_track_readme {}

#[cfg(doctest)]
#[doc = include_str!("../../crates/kyc-ureq/README.md")]
mod kyc_ureq_readme {}

#[cfg(test)]
mod tests {
    // A panic in a test is a failed test.
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    #[test]
    fn every_readme_is_compiled_as_doctests() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let this = std::fs::read_to_string(root.join("tests/src/lib.rs")).unwrap();
        let mut readmes = vec!["../../README.md".to_owned()];
        for entry in std::fs::read_dir(root.join("crates")).unwrap() {
            let crate_dir = entry.unwrap().path();
            if crate_dir.join("README.md").is_file() {
                let name = crate_dir.file_name().unwrap().to_str().unwrap().to_owned();
                readmes.push(format!("../../crates/{name}/README.md"));
            }
        }
        for readme in readmes {
            let line = format!("#[doc = include_str!(\"{readme}\")]");
            assert!(
                this.contains(&line),
                "{readme} is not compiled: add `{line}`"
            );
        }
    }
}
