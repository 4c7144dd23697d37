//! What can go wrong while a document is written. No value of the document reaches an
//! error: they say what failed, never what it held.

/// A document could not be written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A PDF could not be laid out or written.
    #[error("the PDF could not be written: {0}")]
    Pdf(String),
    /// The XLSX workbook could not be written.
    #[error("the workbook could not be written")]
    Xlsx,
    /// The CSV could not be written (not its output: see [`Error::Io`]).
    #[error("the CSV could not be written")]
    Csv,
    /// The zip of an access export's documents could not be written.
    #[error("the zip of documents could not be written: {0}")]
    Zip(String),
    /// The output the document was written to failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// This crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;
