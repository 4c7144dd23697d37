//! The documents of an access export, as one zip: each file stored as it is (photos and
//! PDFs are compressed already), under the name given.

use std::io::{Cursor, Write};

use zip::CompressionMethod;
use zip::write::{SimpleFileOptions, ZipWriter};

use crate::error::{Error, Result};

/// A zip holding `files` (name, bytes), in that order. Names are used as given: the
/// caller makes them unique and safe (no `/`, no `..`).
pub fn zip_of(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut zip = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(false);
    for (name, bytes) in files {
        zip.start_file(name.as_str(), options)
            .map_err(|e| Error::Zip(e.to_string()))?;
        zip.write_all(bytes)?;
    }
    let cursor = zip.finish().map_err(|e| Error::Zip(e.to_string()))?;
    Ok(cursor.into_inner())
}
