//! Tauri's build step: reads tauri.conf.json and the capabilities, embeds the icon and the
//! built UI (`ui/dist`).
//!
//! On a clean clone the UI is not built yet (`ui/dist` is not committed), and Tauri refuses
//! to compile without it: a placeholder page takes its place, saying how to build the UI,
//! so `cargo build --workspace` and the tests work without Node. `scripts/run-app` and
//! `scripts/e2e-app` build the UI first, and Vite replaces the placeholder.

use std::path::Path;

const PLACEHOLDER: &str = r#"<!doctype html>
<html lang="fr"><meta charset="utf-8"><title>Passerelle</title>
<body style="font-family: sans-serif; margin: 3rem">
<h1>L'interface n'est pas construite</h1>
<p>Lancez <code>scripts/run-app</code>, ou <code>npm --prefix ui ci &amp;&amp; npm --prefix ui run build</code> puis reconstruisez l'application.</p>
<p lang="en">The interface is not built: run <code>scripts/run-app</code>, or build <code>ui/</code> and rebuild the app.</p>
</body></html>
"#;

fn main() {
    let dist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/dist");
    if !dist.join("index.html").is_file() {
        let written = std::fs::create_dir_all(&dist)
            .and_then(|()| std::fs::write(dist.join("index.html"), PLACEHOLDER));
        match written {
            Ok(()) => println!(
                "cargo:warning=ui/dist was missing: the app embeds a placeholder page until the UI is built (npm --prefix ui run build)"
            ),
            Err(e) => println!("cargo:warning=could not write a placeholder ui/dist: {e}"),
        }
    }
    tauri_build::build();
}
