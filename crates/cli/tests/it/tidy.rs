//! Architecture invariants and house rules, checked on the source tree.

use std::path::{Path, PathBuf};

use super::commands::files_under;
use super::repo;

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir).into_iter().filter(|p| p.extension().is_some_and(|e| e == "rs")).collect()
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

/// The module path of a source file under `src` (`lib.rs`/`main.rs` → root, `a/mod.rs` → `a`).
fn module_of(src: &Path, file: &Path) -> Option<Vec<String>> {
    let relative = file.strip_prefix(src).ok()?.with_extension("");
    let mut parts: Vec<String> =
        relative.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    Some(parts)
}

/// Expands one `use` tree (`a::{b, c::{d, e}}`) into its paths.
fn expand_use(tree: &str) -> Vec<String> {
    let tree = tree.trim();
    let Some(open) = tree.find('{') else {
        let path = tree.split(" as ").next().unwrap_or_default().trim();
        return vec![path.to_owned()];
    };
    let prefix = &tree[..open];
    let inner = tree[open + 1..].trim_end().strip_suffix('}').unwrap_or(&tree[open + 1..]);
    let (mut depth, mut start, mut items) = (0usize, 0usize, Vec::new());
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    items
        .into_iter()
        .filter(|item| !item.trim().is_empty())
        .flat_map(|item| expand_use(item).into_iter().map(|p| format!("{prefix}{p}")))
        .collect()
}

/// Every `crate::`, `super::` or `self::` path a source file names (in `use` trees and in code),
/// comment lines left out.
fn paths_named(source: &str) -> Vec<String> {
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut paths = Vec::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("use ") {
        let before_ok = rest[..at].chars().last().is_none_or(|c| !c.is_alphanumeric() && c != '_');
        let after = &rest[at + 4..];
        let end = after.find(';').unwrap_or(after.len());
        if before_ok {
            paths.extend(expand_use(&after[..end]));
        }
        rest = &after[end.min(after.len())..];
    }
    let bytes = code.as_bytes();
    for root in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(found) = code[from..].find(root) {
            let start = from + found;
            from = start + root.len();
            if start > 0 && (bytes[start - 1].is_ascii_alphanumeric() || bytes[start - 1] == b'_') {
                continue;
            }
            let mut end = start;
            while end < bytes.len()
                && (bytes[end].is_ascii_alphanumeric() || b"_:".contains(&bytes[end]))
            {
                end += 1;
            }
            paths.push(code[start..end].trim_end_matches(':').to_owned());
        }
    }
    paths
}

/// The module a path names, relative to the module `from`: the longest prefix that is a module.
fn target_module(from: &[String], path: &str, modules: &[Vec<String>]) -> Option<Vec<String>> {
    let segments: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let (mut base, mut rest) = match *segments.first()? {
        "crate" => (Vec::new(), &segments[1..]),
        "self" => (from.to_vec(), &segments[1..]),
        "super" => {
            let mut base = from.to_vec();
            let mut rest = &segments[..];
            while rest.first() == Some(&"super") {
                base.pop();
                rest = &rest[1..];
            }
            (base, rest)
        }
        _ => return None,
    };
    while let Some(next) = rest.first() {
        let mut candidate = base.clone();
        candidate.push((*next).to_owned());
        if !modules.contains(&candidate) {
            break;
        }
        base = candidate;
        rest = &rest[1..];
    }
    Some(base)
}

/// The import cycles between sibling modules of the crate whose sources are under `src`: each
/// edge `a::x → b::y` counts between the children of their common ancestor (`a → b`), and a
/// module using its own ancestor or descendant is not an edge.
fn module_cycles(src: &Path) -> Vec<Vec<String>> {
    use std::collections::{BTreeMap, BTreeSet};
    let files = rust_files(src);
    let modules: Vec<Vec<String>> = files.iter().filter_map(|f| module_of(src, f)).collect();
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for file in &files {
        let Some(from) = module_of(src, file) else { continue };
        let source = std::fs::read_to_string(file).unwrap_or_default();
        for path in paths_named(&source) {
            let Some(to) = target_module(&from, &path, &modules) else { continue };
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == from.len() || common == to.len() {
                continue;
            }
            edges.entry(from[..=common].to_vec()).or_default().insert(to[..=common].to_vec());
        }
    }
    // Depth-first search for back edges; each cycle reported once, as its path.
    let mut cycles = Vec::new();
    let mut done: BTreeSet<Vec<String>> = BTreeSet::new();
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
        cycles: &mut Vec<Vec<String>>,
    ) {
        if let Some(at) = stack.iter().position(|n| n == node) {
            cycles.push(stack[at..].iter().chain([node]).map(|m| m.join("::")).collect());
            return;
        }
        if done.contains(node) {
            return;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, stack, done, cycles);
        }
        stack.pop();
        done.insert(node.clone());
    }
    for node in edges.keys() {
        visit(node, &edges, &mut Vec::new(), &mut done, &mut cycles);
    }
    cycles
}

#[test]
fn no_crate_has_an_import_cycle_between_its_modules() {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(repo().join("crates")).into_iter().flatten().flatten() {
        let src = entry.path().join("src");
        if src.is_dir() {
            for cycle in module_cycles(&src) {
                found.push(format!(
                    "{}: {}",
                    entry.file_name().to_string_lossy(),
                    cycle.join(" → ")
                ));
            }
        }
    }
    assert!(found.is_empty(), "import cycles between modules: {found:#?}");
}

#[test]
fn the_cycle_check_finds_a_cycle_through_a_use_group_and_a_path_in_code() -> std::io::Result<()> {
    let dir = tempfile::tempdir()?;
    let src = dir.path();
    std::fs::create_dir_all(src.join("commands"))?;
    std::fs::write(src.join("main.rs"), "//! m\nmod commands;\nuse crate::commands::run;\n")?;
    std::fs::write(src.join("commands/mod.rs"), "//! c\npub mod aws;\npub mod run;\n")?;
    std::fs::write(
        src.join("commands/aws.rs"),
        "//! a\nuse super::{local::X, run::{repo_root, Y as Z}};\n",
    )?;
    std::fs::write(
        src.join("commands/run.rs"),
        "//! r\n// super::aws::comment_only\nfn f() { super::aws::start(); }\n",
    )?;
    // Using an ancestor's item is not an edge.
    std::fs::write(src.join("commands/local.rs"), "//! l\nuse crate::commands::Shared;\n")?;
    let cycles = module_cycles(src);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    let cycle = cycles[0].join(" → ");
    assert!(cycle.contains("commands::aws") && cycle.contains("commands::run"), "{cycle}");
    assert!(!cycle.contains("local"), "{cycle}");
    // Without the call in code there is no cycle (the comment does not count).
    std::fs::write(src.join("commands/run.rs"), "//! r\n// super::aws::comment_only\n")?;
    assert!(module_cycles(src).is_empty());
    Ok(())
}

/// A file that only tests compile: `tests.rs`, `*_tests.rs`, anything under a `tests/` folder,
/// and the interpreter's conformance suite.
fn is_test_file(path: &Path) -> bool {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    name == "tests.rs"
        || name.ends_with("_tests.rs")
        || name == "conformance.rs"
        || path.components().any(|c| c.as_os_str() == "tests")
}

/// Non-comment lines of the non-test sources under `dir` (inline test modules left out), with
/// their file.
fn source_lines(dir: &Path) -> Vec<(PathBuf, String)> {
    rust_files(dir)
        .into_iter()
        .filter(|p| !is_test_file(p))
        .flat_map(|p| {
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            // Inline test modules come last in a file: stop at the first `#[cfg(test)]` that
            // opens one (`#[cfg(test)] mod tests;`, a file of its own, does not).
            let lines: Vec<&str> = text.lines().collect();
            let end = lines
                .windows(2)
                .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_end().ends_with('{'))
                .unwrap_or(lines.len());
            lines[..end]
                .iter()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| (p.clone(), (*l).to_owned()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn states_knows_nothing_of_graphetl() {
    let states = repo().join("crates/states");
    let deps = dependencies(&states.join("Cargo.toml"));
    assert!(deps.iter().any(|d| d == "serde_json"), "no dependencies parsed: {deps:?}");
    let ours: Vec<&String> = deps.iter().filter(|d| d.starts_with("graphetl")).collect();
    assert!(ours.is_empty(), "crates/states depends on {ours:?}");
    let named: Vec<String> = source_lines(&states.join("src"))
        .into_iter()
        .filter(|(_, l)| l.contains("graphetl_") || l.contains("GraphEtl."))
        .map(|(p, l)| format!("{}: {}", p.display(), l.trim()))
        .collect();
    assert!(named.is_empty(), "the interpreter names graphetl's crates or errors: {named:#?}");
}

#[test]
fn configuration_is_read_only_in_the_kit_and_the_cli() {
    // LocalSecrets resolves a spec's `env:NAME` header references: data the spec asks for,
    // under the extract's rules, not the function's configuration.
    let allowed = ["crates/lambda/src/kit.rs", "crates/extract/src/secrets.rs"];
    let mut found = Vec::new();
    for entry in std::fs::read_dir(repo().join("crates")).into_iter().flatten().flatten() {
        let krate = entry.file_name().to_string_lossy().into_owned();
        if krate == "cli" {
            continue;
        }
        for (path, line) in source_lines(&entry.path().join("src")) {
            let reads = line.contains("env::var") || line.contains("aws_config::defaults(");
            let relative = path.strip_prefix(repo()).unwrap_or(&path).display().to_string();
            if reads && !allowed.iter().any(|a| relative.ends_with(a)) {
                found.push(format!("{relative}: {}", line.trim()));
            }
        }
    }
    // S3Store::from_env is the CLI's way to the standard configuration (one place in storage).
    found.retain(|f| !f.starts_with("crates/storage/src/s3.rs"));
    assert!(found.is_empty(), "configuration read outside the kit and the CLI: {found:#?}");
}

#[test]
fn every_s3_key_of_the_pipeline_comes_from_core_layout() {
    // The interpreter (generic, its own test keys) and the two synthetic commands (retry
    // simulation and the interpreter benchmark, whose keys name no real object) are left out.
    let skipped = ["crates/core/src/layout.rs", "commands/simulate.rs", "commands/states.rs"];
    let prefixes =
        ["\"raw/", "\"curated/", "\"quarantine/", "\"aggregates/", "\"runs/", "\"datasets/"];
    let mut found = Vec::new();
    for entry in std::fs::read_dir(repo().join("crates")).into_iter().flatten().flatten() {
        if entry.file_name() == "states" {
            continue;
        }
        for (path, line) in source_lines(&entry.path().join("src")) {
            let relative = path.strip_prefix(repo()).unwrap_or(&path).display().to_string();
            if skipped.iter().any(|s| relative.ends_with(s)) {
                continue;
            }
            if prefixes.iter().any(|p| line.contains(p)) {
                found.push(format!("{relative}: {}", line.trim()));
            }
        }
    }
    // The bundled example's path is a file in the repository, not an S3 key.
    found.retain(|f| !f.contains("const EXAMPLE_DATASET"));
    assert!(found.is_empty(), "S3 keys built outside core::layout: {found:#?}");
}

#[test]
fn no_crate_depends_on_one_it_does_not_use() {
    // The Lambdas do not link the interpreter (only the CLI runs it), and the aggregate step
    // does not link the Neptune client for its row types (they are in core::contract).
    for (krate, forbidden) in [("lambda", "graphetl-states"), ("athena", "graphetl-neptune")] {
        let deps = dependencies(&repo().join("crates").join(krate).join("Cargo.toml"));
        assert!(deps.iter().any(|d| d == "graphetl-core"), "{krate}: no dependencies parsed");
        assert!(!deps.iter().any(|d| d == forbidden), "crates/{krate} depends on {forbidden}");
    }
    // Every workspace crate a crate depends on is named in its non-test source.
    let mut unused = Vec::new();
    let mut checked = 0;
    for entry in std::fs::read_dir(repo().join("crates")).into_iter().flatten().flatten() {
        let dir = entry.path();
        let lines = source_lines(&dir.join("src"));
        for dep in
            dependencies(&dir.join("Cargo.toml")).iter().filter(|d| d.starts_with("graphetl-"))
        {
            checked += 1;
            let name = dep.replace('-', "_");
            if !lines.iter().any(|(_, l)| l.contains(&name)) {
                unused.push(format!("{}: {dep}", dir.display()));
            }
        }
    }
    assert!(checked > 10, "only {checked} workspace dependencies parsed");
    assert!(unused.is_empty(), "dependencies named nowhere in the crate's source: {unused:#?}");
}

#[test]
fn the_graph_crate_has_no_async_runtime_http_or_aws() {
    // The fuzz target and the local graph need only the pure graph side (graphetl-graph); the
    // network side is graphetl-neptune.
    let deps = dependencies(&repo().join("crates/graph/Cargo.toml"));
    assert!(deps.iter().any(|d| d == "graphetl-core"), "graph: no dependencies parsed");
    let forbidden: Vec<&String> = deps
        .iter()
        .filter(|d| {
            d.starts_with("aws-")
                || d.starts_with("tokio")
                || d.starts_with("graphetl-neptune")
                || ["reqwest", "rustls", "futures", "hyper"].contains(&d.as_str())
        })
        .collect();
    assert!(forbidden.is_empty(), "crates/graph depends on {forbidden:?}");
}
