//! Where exports are saved: by default the app's own exports folder, beside the case file
//! ([`casefile::EXPORTS_FOLDER`]), which `CaseFile::destroy` removes with the case file
//! and the settings can empty; elsewhere only when the person chose a folder, after the
//! page warned that the file will not be encrypted there. A file never replaces another:
//! a taken name gets `-2`, `-3`…
//!
//! A saved file can then be opened in the system's viewer, to print it: only a file this
//! run of the app saved, so the page can never have the system open another path or an
//! address.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{AppError, AppResult};

/// Names tried at most before giving up.
const MAX_TRIES: u32 = 1000;

/// The files this run of the app saved: the only ones [`open_saved`] opens.
static SAVED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

/// The app's exports folder for the case file at `case_file`.
pub fn exports_dir(case_file: &Path) -> PathBuf {
    case_file
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join(casefile::EXPORTS_FOLDER)
}

/// Where the app writes the documents it opens in the system's viewer (PDF attachments):
/// a folder of the exports folder, emptied at every lock and at start, so a decrypted
/// document lasts no longer than the session that opened it.
pub fn opened_dir(case_file: &Path) -> PathBuf {
    exports_dir(case_file).join("opened")
}

/// Empties [`opened_dir`]: at a lock and at start. A failure is logged, never fatal.
pub fn forget_opened(case_file: &Path) {
    if let Err(error) = empty_dir(&opened_dir(case_file)) {
        tracing::warn!(%error, "the documents opened for viewing could not all be removed");
    }
}

/// Writes `bytes` to `dir/name` (created if need be, the file replaced if it is there),
/// its owner's only, for [`open_saved`]; answers its path.
pub fn replace(dir: &Path, name: &str, bytes: &[u8]) -> AppResult<String> {
    create_private_dir(dir)?;
    let path = dir.join(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(&path)
        .and_then(|mut file| file.write_all(bytes))
        .map_err(|e| failed(&path, e))?;
    let shown = path.display().to_string();
    SAVED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(path);
    Ok(shown)
}

/// The folder an export goes to: the app's exports folder, or `elsewhere` (the full path
/// of an existing folder) when the person chose one.
pub fn target_dir(case_file: &Path, elsewhere: Option<&str>) -> AppResult<PathBuf> {
    let Some(text) = elsewhere.map(str::trim) else {
        return Ok(exports_dir(case_file));
    };
    let dir = PathBuf::from(text);
    if text.is_empty() || !dir.is_absolute() || !dir.is_dir() {
        return Err(AppError::invalid(
            "folder",
            "the full path of an existing folder",
        ));
    }
    Ok(dir)
}

/// Writes `bytes` to a new file `stem.extension` in `dir` (created if need be); answers
/// its path.
pub fn save(dir: &Path, stem: &str, extension: &str, bytes: &[u8]) -> AppResult<String> {
    create_private_dir(dir)?;
    for n in 1..=MAX_TRIES {
        let name = match n {
            1 => format!("{stem}.{extension}"),
            n => format!("{stem}-{n}.{extension}"),
        };
        let path = dir.join(name);
        match private_file_options().open(&path) {
            Ok(mut file) => {
                file.write_all(bytes).map_err(|e| failed(&path, e))?;
                let shown = path.display().to_string();
                SAVED
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(path);
                return Ok(shown);
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

/// Opens `path`, a file this run of the app saved, in the system's default application
/// for its type (the PDF viewer, from which the person prints). The launcher is detached:
/// closing the app leaves the viewer open. Any other path is refused, and a file deleted
/// since (the exports folder emptied) is said to be gone.
pub fn open_saved(path: &str) -> AppResult<()> {
    let path = PathBuf::from(path);
    let known = SAVED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .contains(&path);
    if !known {
        return Err(AppError::invalid("path", "a file this app saved"));
    }
    if !path.is_file() {
        return Err(not_opened(&path, "the file is no longer there"));
    }
    open::that_detached(&path).map_err(|e| not_opened(&path, &e.to_string()))
}

fn not_opened(path: &Path, why: &str) -> AppError {
    AppError::OpenFailed {
        path: path.display().to_string(),
        message: format!("could not open {}: {why}", path.display()),
    }
}

/// Creates `dir` if need be; a folder this function creates is its owner's only (0700 on
/// Unix): exports are not encrypted, other accounts of the machine must not read them.
fn create_private_dir(dir: &Path) -> AppResult<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|e| failed(dir, e))
}

/// A new file, never one already there, its owner's only (0600 on Unix).
fn private_file_options() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// How many files `dir` holds, in it and its subfolders (none when it does not exist).
pub fn count_files(dir: &Path) -> AppResult<u32> {
    let mut count = 0u32;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(failed(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| failed(dir, e))?;
        let kind = entry.file_type().map_err(|e| failed(&entry.path(), e))?;
        count = count.saturating_add(if kind.is_dir() {
            count_files(&entry.path())?
        } else {
            1
        });
    }
    Ok(count)
}

/// Deletes everything `dir` holds, and keeps the folder; answers how many files it held.
pub fn empty_dir(dir: &Path) -> AppResult<u32> {
    let count = count_files(dir)?;
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(failed(dir, e)),
    };
    for entry in entries {
        let entry = entry.map_err(|e| failed(dir, e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| failed(&path, e))?;
        let removed = if kind.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        removed.map_err(|e| failed(&path, e))?;
    }
    Ok(count)
}

fn failed(path: &Path, e: std::io::Error) -> AppError {
    AppError::SaveFailed {
        path: path.display().to_string(),
        message: format!("could not write {}: {e}", path.display()),
    }
}

/// The last 8 characters of a record's id, to tell files apart without naming anyone:
/// random in a UUID v7, whose first characters are its time (two records made within a
/// minute share them).
pub fn short_id(id: &str) -> &str {
    id.get(id.len().saturating_sub(8)..).unwrap_or(id)
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
        assert_eq!(short_id("0123456789abcdef"), "89abcdef");
        assert_ne!(
            short_id("019ad3f2-7c41-7000-8000-00000000abcd"),
            short_id("019ad3f2-7c41-7000-8000-00000000dcba"),
            "ids made in the same minute name files apart"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&into), 0o700, "the exports folder is its owner's only");
            assert_eq!(
                mode(Path::new(&first)),
                0o600,
                "an export is its owner's only"
            );
        }
    }

    #[test]
    fn only_a_file_this_run_saved_opens_and_a_deleted_one_is_said_gone() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("other.pdf");
        std::fs::write(&other, b"%PDF").unwrap();
        for refused in [
            other.display().to_string(),
            "https://example.org/".to_owned(),
            String::new(),
        ] {
            let answer = open_saved(&refused);
            assert!(
                matches!(&answer, Err(AppError::Invalid { field, .. }) if field == "path"),
                "{refused:?}: {answer:?}"
            );
        }
        let saved = save(&dir.path().join("exports"), "cv-1234abcd", "pdf", b"%PDF").unwrap();
        std::fs::remove_file(&saved).unwrap();
        let gone = open_saved(&saved);
        assert!(
            matches!(&gone, Err(AppError::OpenFailed { path, .. }) if *path == saved),
            "{gone:?}"
        );
    }

    #[test]
    fn exports_go_to_the_folder_beside_the_case_file_unless_another_is_chosen() {
        let dir = tempfile::tempdir().unwrap();
        let case_file = dir.path().join("passerelle.casefile");
        let default = target_dir(&case_file, None).unwrap();
        assert_eq!(default, dir.path().join("exports"));
        assert_eq!(
            default.file_name().and_then(|n| n.to_str()),
            Some(casefile::EXPORTS_FOLDER),
            "the folder CaseFile::destroy removes"
        );

        let elsewhere = tempfile::tempdir().unwrap();
        let chosen = elsewhere.path().display().to_string();
        assert_eq!(
            target_dir(&case_file, Some(&format!(" {chosen} "))).unwrap(),
            elsewhere.path()
        );
        for bad in ["", "relative/folder", "/no/such/folder/anywhere"] {
            let refused = target_dir(&case_file, Some(bad));
            assert!(
                matches!(&refused, Err(AppError::Invalid { field, .. }) if field == "folder"),
                "{bad:?}: {refused:?}"
            );
        }
        let file = elsewhere.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        assert!(
            target_dir(&case_file, Some(&file.display().to_string())).is_err(),
            "a file is not a folder"
        );
    }

    #[test]
    fn emptying_the_exports_folder_deletes_every_file_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let exports = dir.path().join("exports");
        assert_eq!(count_files(&exports).unwrap(), 0, "no folder yet");
        assert_eq!(empty_dir(&exports).unwrap(), 0);
        save(&exports, "a", "pdf", b"1").unwrap();
        save(&exports, "a", "pdf", b"2").unwrap();
        save(&exports.join("sub"), "b", "json", b"3").unwrap();
        let beside = dir.path().join("passerelle.casefile");
        std::fs::write(&beside, b"the case file").unwrap();
        assert_eq!(count_files(&exports).unwrap(), 3);
        assert_eq!(empty_dir(&exports).unwrap(), 3);
        assert!(exports.is_dir(), "the folder stays");
        assert_eq!(std::fs::read_dir(&exports).unwrap().count(), 0);
        assert_eq!(count_files(&exports).unwrap(), 0);
        assert!(beside.is_file(), "nothing outside the folder is touched");
    }
}
