//! # documents
//!
//! What Passerelle prints or hands over: the visit sheet, a person's summary sheet, a
//! person's own data for an access request, the information notice, a person's CV, and
//! the papers a person takes home (their copy of a visit and an appointment slip, in
//! French beside Romanian or Bulgarian) as PDF; a kind as CSV and a period as an XLSX
//! workbook; the documents and photos of an access export as a zip.
//!
//! Plain typed inputs in, bytes out: each renderer takes what `casefile` reads
//! (`casefile::export`: every value already printed as text, the French labels, the
//! period, what an access export withholds) and lays it out. No storage, no network, no
//! domain rule here, so the documents change without rebuilding the case file.
//!
//! The PDFs are A4, in DejaVu Sans embedded in the binary (every letter of French,
//! Romanian and Bulgarian), with text that can be searched and extracted.

#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod access;
mod archive;
mod csv;
mod cv;
mod error;
mod notice;
mod pdf;
mod person_sheet;
mod visit_copy;
mod visit_sheet;
mod xlsx;

pub use access::access_pdf;
pub use archive::zip_of;
pub use csv::{csv, sheet_csv};
pub use cv::cv_pdf;
pub use error::{Error, Result};
pub use notice::notice_pdf;
pub use person_sheet::person_sheet_pdf;
pub use visit_copy::{step_slip_pdf, visit_copy_pdf};
pub use visit_sheet::visit_sheet_pdf;
pub use xlsx::xlsx;
