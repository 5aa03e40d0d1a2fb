//! The layout the `# Layout` doc of `src/lib.rs` describes, checked: layers as folders with one-way dependencies, no import circles, no file over 600 lines, every file opening with a `//!` line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Layers (top folders of `src/`) and the layers each may use besides itself.
const MAY_USE: [(&str, &[&str]); 6] = [
    ("grafana", &["nats", "model", "metrics", "faults", "sync"]),
    ("nats", &["model", "metrics", "faults", "sync"]),
    ("model", &["metrics", "faults", "sync"]),
    ("metrics", &["sync"]),
    ("faults", &["sync"]),
    ("sync", &[]),
];
const MAX_LINES: usize = 600;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn files(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "node_modules" && n != "dist") {
                files(&p, exts, out);
            }
        } else if p
            .extension()
            .and_then(|x| x.to_str())
            .is_some_and(|x| exts.contains(&x))
        {
            out.push(p);
        }
    }
}

/// `src/model/live.rs` → `model::live`; `src/nats/discovery/mod.rs` → `nats::discovery`.
fn module_of(path: &Path) -> String {
    let rel = path.strip_prefix(root().join("src")).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|l| l == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// Code without comments (doc links are not dependencies).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Modules named by `crate::…` paths: a layer's module (`model::live`) or the leaf (`metrics`).
/// Group imports (`crate::model::{shapes, timeseries}`) name each member.
fn referenced(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let layer: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
        let after = &rest[layer.len()..];
        if !after.starts_with("::") {
            out.insert(layer);
            continue;
        }
        let after = &after[2..];
        if let Some(group) = after.strip_prefix('{') {
            // Split the group at its top-level commas; each item's first name is a module.
            let mut depth = 0;
            let mut items = vec![String::new()];
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => items.push(String::new()),
                    _ => {}
                }
                if let Some(item) = items.last_mut() {
                    item.push(c);
                }
            }
            for item in items {
                let name: String = item
                    .trim_start_matches([',', ' ', '\n'])
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    out.insert(if name == "self" {
                        layer.clone()
                    } else {
                        format!("{layer}::{name}")
                    });
                }
            }
        } else {
            let module: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            out.insert(if module.is_empty() || module == "self" {
                layer
            } else {
                format!("{layer}::{module}")
            });
        }
    }
    out
}

fn layer(module: &str) -> &str {
    module.split("::").next().unwrap_or(module)
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut paths = Vec::new();
    files(&root().join("src"), &["rs"], &mut paths);
    let mut g = BTreeMap::new();
    for p in paths {
        let m = module_of(&p);
        if m == "main" || m == "lib" {
            continue;
        }
        let text = std::fs::read_to_string(&p).unwrap();
        // `super::x` inside a folder names a sibling module.
        let parent = m.rsplit_once("::").map_or("", |(a, _)| a).to_string();
        let mut deps = referenced(&code(&text));
        let is_mod_file = p.file_name().is_some_and(|n| n == "mod.rs");
        for cap in code(&text).split("super::").skip(1) {
            let name: String = cap.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            let base = if is_mod_file {
                m.rsplit_once("::").map_or("", |(a, _)| a)
            } else {
                &parent
            };
            if !name.is_empty() && !base.is_empty() && name != "super" {
                deps.insert(format!("{base}::{name}"));
            }
        }
        deps.remove(&m);
        // A module's own children (`crate::nats::discovery::registry` from `nats::discovery`) and
        // its parent folder (`crate::model` from `model::x`) are not dependencies between modules.
        deps.retain(|d| !d.starts_with(&format!("{m}::")) && !m.starts_with(&format!("{d}::")));
        g.insert(m, deps);
    }
    g
}

#[test]
fn dependencies_point_one_way_between_layers() {
    let g = graph();
    assert!(g.len() > 20, "found only {} modules: is the scan broken?", g.len());
    let mut wrong = Vec::new();
    for (m, deps) in &g {
        let from = layer(m);
        let allowed = MAY_USE.iter().find(|(l, _)| *l == from).map(|(_, a)| *a);
        let Some(allowed) = allowed else {
            wrong.push(format!("{m} is in no layer of the `# Layout` doc"));
            continue;
        };
        for d in deps {
            let to = layer(d);
            if to != from && !allowed.contains(&to) {
                wrong.push(format!("{m} uses {d}: {from} may use only {allowed:?}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "dependencies against the layers:\n{}",
        wrong.join("\n")
    );
}

/// Every cycle found by a depth-first search, as the path that closes it.
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
        out: &mut Vec<Vec<String>>,
    ) {
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            match state.get(d.as_str()).copied().unwrap_or(0) {
                0 => visit(d, g, state, stack, out),
                1 => {
                    let start = stack.iter().position(|s| s == d).unwrap_or(0);
                    let mut c = stack[start..].to_vec();
                    c.push(d.clone());
                    out.push(c);
                }
                _ => {}
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
    }
    let mut state = BTreeMap::new();
    let mut out = Vec::new();
    for n in g.keys() {
        if state.get(n.as_str()).copied().unwrap_or(0) == 0 {
            visit(n, g, &mut state, &mut Vec::new(), &mut out);
        }
    }
    out
}

#[test]
fn the_layout_doc_names_every_module_of_every_layer() {
    let doc = std::fs::read_to_string(root().join("src/lib.rs")).unwrap();
    let doc: String = doc
        .lines()
        .filter(|l| l.starts_with("//!"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut missing = Vec::new();
    for m in graph().keys() {
        // Layers and their direct modules; deeper files are their module's own business.
        if m.matches("::").count() <= 1 && !doc.contains(&format!("[`{m}`]")) {
            missing.push(m.clone());
        }
    }
    assert!(
        missing.is_empty(),
        "modules the `# Layout` doc of src/lib.rs does not name: {missing:?}"
    );
}

#[test]
fn no_import_circles_between_modules() {
    let g = graph();
    let found = cycles(&g);
    let text: Vec<String> = found.iter().map(|c| c.join(" → ")).collect();
    assert!(text.is_empty(), "import circles:\n{}", text.join("\n"));
}

#[test]
fn the_circle_check_finds_a_circle() {
    let mut g = BTreeMap::new();
    g.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    g.insert("b".to_string(), BTreeSet::from(["c".to_string()]));
    g.insert("c".to_string(), BTreeSet::from(["a".to_string()]));
    assert_eq!(cycles(&g), vec![vec!["a", "b", "c", "a"]]);
    assert_eq!(
        referenced("use crate::model::{shapes, timeseries::{self, Source}};\nuse crate::metrics;\nx(crate::nats::sampler::now_ms())"),
        BTreeSet::from(["model::shapes", "model::timeseries", "metrics", "nats::sampler"].map(String::from))
    );
}

#[test]
fn files_stay_small_and_say_what_they_are_for() {
    let mut paths = Vec::new();
    for (dir, exts) in [
        ("src", &["rs"][..]),
        ("tests", &["rs"][..]),
        ("examples", &["rs"][..]),
        ("frontend/src", &["ts", "tsx"][..]),
    ] {
        files(&root().join(dir), exts, &mut paths);
    }
    assert!(paths.len() > 50, "found only {} files", paths.len());
    let mut wrong = Vec::new();
    for p in &paths {
        let text = std::fs::read_to_string(p).unwrap();
        let rel = p.strip_prefix(root()).unwrap().display().to_string();
        let lines = text.lines().count();
        if lines > MAX_LINES {
            wrong.push(format!("{rel}: {lines} lines (at most {MAX_LINES})"));
        }
        let first = text.lines().next().unwrap_or("");
        if !first.starts_with("//!") && !rel.starts_with("tests/fixtures") {
            wrong.push(format!(
                "{rel}: the first line is not a `//!` line saying what the file is for"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
