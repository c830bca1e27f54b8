//! The page's scripts parse: each module of `static/js` is checked by Node as
//! an ES module (`node --check`), so a syntax error (a `const` declared twice)
//! is named with its file and line here, not seen only as a browser test
//! waiting for a page that never comes alive.

use std::path::Path;

#[test]
fn every_page_script_parses_as_a_module() {
    crate::needs!(Codex);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("static/js");
    let copies = tempfile::tempdir().unwrap();
    let mut checked = 0;
    let mut broken = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("js") {
            continue;
        }
        // `.mjs`: Node reads it as a module whatever package.json says.
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        let copy = copies.path().join(format!("{name}.mjs"));
        std::fs::copy(&path, &copy).unwrap();
        let out = std::process::Command::new("node")
            .arg("--check")
            .arg(&copy)
            .output()
            .expect("node (tools/test.sh installs it)");
        if !out.status.success() {
            let said = String::from_utf8_lossy(&out.stderr)
                .replace(&format!("{name}.mjs"), &format!("{name}.js"));
            broken.push(format!("static/js/{name}.js: {said}"));
        }
        checked += 1;
    }
    assert!(
        checked > 20,
        "only {checked} scripts found in {}",
        dir.display()
    );
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}
