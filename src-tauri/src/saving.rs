//! Where exports are saved: the user's Downloads folder, else Documents, else an
//! `exports` folder in the app's data folder (`PASSERELLE_EXPORT_DIR` overrides all
//! three). A file never replaces another: a taken name gets `-2`, `-3`…

use std::io::Write;
use std::path::{Path, PathBuf};

use tauri::{AppHandle, Manager};

use crate::error::{AppError, AppResult};

/// Names tried at most before giving up.
const MAX_TRIES: u32 = 1000;

/// The folder exports go to.
pub fn export_dir(app: &AppHandle) -> AppResult<PathBuf> {
    if let Some(dir) = std::env::var_os("PASSERELLE_EXPORT_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let paths = app.path();
    for dir in [paths.download_dir(), paths.document_dir()]
        .into_iter()
        .flatten()
    {
        if dir.is_dir() {
            return Ok(dir);
        }
    }
    paths
        .app_data_dir()
        .map(|dir| dir.join("exports"))
        .map_err(|e| AppError::SaveFailed {
            path: String::new(),
            message: format!("no folder to save exports in: {e}"),
        })
}

/// Writes `bytes` to a new file `stem.extension` in `dir` (created if need be); answers
/// its path.
pub fn save(dir: &Path, stem: &str, extension: &str, bytes: &[u8]) -> AppResult<String> {
    let failed = |path: &Path, e: std::io::Error| AppError::SaveFailed {
        path: path.display().to_string(),
        message: format!("could not write {}: {e}", path.display()),
    };
    std::fs::create_dir_all(dir).map_err(|e| failed(dir, e))?;
    for n in 1..=MAX_TRIES {
        let name = match n {
            1 => format!("{stem}.{extension}"),
            n => format!("{stem}-{n}.{extension}"),
        };
        let path = dir.join(name);
        match std::fs::File::create_new(&path) {
            Ok(mut file) => {
                file.write_all(bytes).map_err(|e| failed(&path, e))?;
                return Ok(path.display().to_string());
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(failed(&path, e)),
        }
    }
    Err(failed(
        &dir.join(stem),
        std::io::Error::other("every name is taken"),
    ))
}

/// The first 8 characters of a record's id, to tell files apart without naming anyone.
pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_export_never_replaces_another() {
        let dir = tempfile::tempdir().unwrap();
        let into = dir.path().join("exports");
        let first = save(&into, "fiche-visite-1234abcd", "pdf", b"one").unwrap();
        let second = save(&into, "fiche-visite-1234abcd", "pdf", b"two").unwrap();
        assert!(first.ends_with("fiche-visite-1234abcd.pdf"), "{first}");
        assert!(second.ends_with("fiche-visite-1234abcd-2.pdf"), "{second}");
        assert_eq!(
            std::fs::read(&first).unwrap(),
            b"one",
            "the first file stays"
        );
        assert_eq!(std::fs::read(&second).unwrap(), b"two");
        assert_eq!(short_id("0123456789abcdef"), "01234567");
    }
}
