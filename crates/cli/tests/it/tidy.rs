//! Architecture invariants and house rules, checked on the source tree.

use std::path::{Path, PathBuf};

use super::repo;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let missing: Vec<String> = rust_files(&repo().join("crates"))
        .into_iter()
        .filter(|p| !std::fs::read_to_string(p).unwrap_or_default().trim_start().starts_with("//!"))
        .map(|p| p.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a //! module doc: {missing:?}");
}

fn dependencies(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap_or_default();
    let mut in_deps = false;
    let mut deps = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps && let Some((name, _)) = line.split_once('=') {
            deps.push(name.trim().trim_end_matches(".workspace").to_owned());
        }
    }
    deps
}

#[test]
fn core_and_transform_know_nothing_of_aws_lambda_or_tokio() {
    for krate in ["core", "transform"] {
        let deps = dependencies(&repo().join("crates").join(krate).join("Cargo.toml"));
        assert!(!deps.is_empty(), "{krate} has no dependencies parsed");
        let forbidden: Vec<&String> = deps
            .iter()
            .filter(|d| {
                d.starts_with("aws-")
                    || d.starts_with("lambda")
                    || d.starts_with("tokio")
                    || *d == "graphetl-storage"
            })
            .collect();
        assert!(forbidden.is_empty(), "crates/{krate} depends on {forbidden:?}");
        for file in rust_files(&repo().join("crates").join(krate).join("src")) {
            let source = std::fs::read_to_string(&file).unwrap_or_default();
            assert!(!source.contains("std::env::var"), "{} reads the environment", file.display());
        }
    }
}

#[test]
fn no_ignored_tests() {
    let marker = ["#[", "ignore]"].concat();
    for file in rust_files(&repo().join("crates")) {
        let source = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(!source.contains(&marker), "{} has an ignored test", file.display());
    }
}
