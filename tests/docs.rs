//! Docs a newcomer can trust: every command the README and docs/ name exists, every relative link and picture they use is in the repository, and nothing cites files users do not have.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every Markdown file under docs/.
fn doc_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "md") {
                out.push(p);
            }
        }
    }
    let mut out = vec![repo().join("README.md"), repo().join("frontend/PANEL.md")];
    walk(&repo().join("docs"), &mut out);
    out
}

/// The words after `prefix` up to the end of a command (a backtick, a quote, a newline, `;`, `&&`, `)` or `|`).
fn commands<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let end = rest
                .find(['`', '"', '\n', ';', ')', '|', '&', '<', ','])
                .unwrap_or(rest.len());
            rest[..end].trim()
        })
        .collect()
}

#[test]
fn every_command_the_docs_name_exists() {
    let package: Value =
        serde_json::from_str(&fs::read_to_string(repo().join("frontend/package.json")).unwrap()).unwrap();
    let scripts = package["scripts"].as_object().unwrap();
    let mut checked = BTreeSet::new();
    let mut missing = Vec::new();
    for file in doc_files() {
        let text = fs::read_to_string(&file).unwrap();
        let name = file.strip_prefix(repo()).unwrap().display().to_string();
        for cmd in commands(&text, "bash scripts/") {
            let script = cmd.split_whitespace().next().unwrap_or_default();
            checked.insert(format!("scripts/{script}"));
            if !repo().join("scripts").join(script).is_file() {
                missing.push(format!("{name}: bash scripts/{cmd}"));
            }
        }
        for cmd in commands(&text, "node scripts/") {
            let script = cmd.split_whitespace().next().unwrap_or_default();
            checked.insert(format!("frontend/scripts/{script}"));
            if !repo().join("frontend/scripts").join(script).is_file() {
                missing.push(format!("{name}: node scripts/{cmd}"));
            }
        }
        for cmd in commands(&text, "npm run ") {
            let script = cmd.split_whitespace().find(|w| !w.starts_with('-')).unwrap_or_default();
            checked.insert(format!("npm run {script}"));
            if !scripts.contains_key(script) {
                missing.push(format!("{name}: npm run {cmd} (not in frontend/package.json scripts)"));
            }
        }
        for cmd in commands(&text, "cargo test --test ") {
            let test = cmd.split_whitespace().next().unwrap_or_default();
            checked.insert(format!("tests/{test}.rs"));
            if !repo().join("tests").join(format!("{test}.rs")).is_file() {
                missing.push(format!("{name}: cargo test --test {cmd}"));
            }
        }
        for cmd in commands(&text, "cargo run --release --example ")
            .into_iter()
            .chain(commands(&text, "cargo run --example "))
        {
            let example = cmd.split_whitespace().next().unwrap_or_default();
            checked.insert(format!("examples/{example}"));
            let e = repo().join("examples");
            if !e.join(format!("{example}.rs")).is_file() && !e.join(example).join("main.rs").is_file() {
                missing.push(format!("{name}: cargo run --example {cmd}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "commands the docs name that do not exist: {missing:#?}"
    );
    // The two commands the README starts with are among those checked.
    for first in ["scripts/demo.sh", "scripts/test.sh"] {
        assert!(checked.contains(first), "{first} not found in the docs: {checked:?}");
    }
}

#[test]
fn every_relative_link_and_picture_exists() {
    let mut broken = Vec::new();
    let mut links = 0;
    for file in doc_files() {
        let text = fs::read_to_string(&file).unwrap();
        let dir = file.parent().unwrap();
        for (i, _) in text.match_indices("](") {
            let rest = &text[i + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = rest[..end].split('#').next().unwrap_or_default().trim();
            if target.is_empty() || target.contains("://") || target.starts_with("mailto:") || target.contains(' ') {
                continue;
            }
            links += 1;
            if !dir.join(target).exists() {
                broken.push(format!("{}: {target}", file.strip_prefix(repo()).unwrap().display()));
            }
        }
    }
    assert!(links > 10, "found only {links} relative links: is the scan broken?");
    assert!(broken.is_empty(), "links to files that do not exist: {broken:#?}");
}

#[test]
fn nothing_cites_files_users_do_not_have() {
    // Written in two parts so this file does not cite them either.
    let needles = [format!("shared/{}", "notes"), format!("../{}/", "shared")];
    let mut hits = Vec::new();
    let mut scanned = 0;
    let skip = [
        "target",
        "node_modules",
        ".git",
        ".venv",
        "build",
        "dist",
        "test-results",
    ];
    fn walk(dir: &Path, skip: &[&str], f: &mut dyn FnMut(&Path)) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().to_string();
            if p.is_dir() {
                if !skip.contains(&name.as_str()) {
                    walk(&p, skip, f);
                }
            } else {
                f(&p);
            }
        }
    }
    walk(&repo(), &skip, &mut |p| {
        let Ok(text) = fs::read_to_string(p) else { return };
        scanned += 1;
        for n in &needles {
            if text.contains(n.as_str()) {
                hits.push(format!("{} cites {n}", p.strip_prefix(repo()).unwrap().display()));
            }
        }
    });
    assert!(scanned > 100, "scanned only {scanned} files");
    assert!(hits.is_empty(), "{hits:#?}");
}
