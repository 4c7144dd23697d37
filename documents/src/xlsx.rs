//! A workbook as an XLSX file: each sheet its header row in bold, then its rows, numbers
//! and booleans kept as such.

use casefile::export::{Cell, Workbook};
use rust_xlsxwriter::{Format, XlsxError};
use tracing::info_span;

use crate::error::{Error, Result};

fn fail(_: XlsxError) -> Error {
    Error::Xlsx
}

/// The bytes of the `.xlsx` file of `book`.
///
/// Errors: [`Error::Xlsx`] when the workbook cannot be written.
pub fn xlsx(book: &Workbook) -> Result<Vec<u8>> {
    let _span = info_span!("documents.xlsx").entered();
    let mut out = rust_xlsxwriter::Workbook::new();
    let bold = Format::new().set_bold();
    for sheet in &book.sheets {
        let page = out.add_worksheet();
        page.set_name(&sheet.name).map_err(fail)?;
        for (col, header) in sheet.header.iter().enumerate() {
            page.write_string_with_format(0, col as u16, header, &bold)
                .map_err(fail)?;
        }
        for (i, cells) in sheet.rows.iter().enumerate() {
            let row = i as u32 + 1;
            for (col, cell) in cells.iter().enumerate() {
                let col = col as u16;
                match cell {
                    Cell::Empty => {}
                    Cell::Text(text) => {
                        page.write_string(row, col, text).map_err(fail)?;
                    }
                    Cell::Number(n) => {
                        page.write_number(row, col, *n).map_err(fail)?;
                    }
                    Cell::Bool(b) => {
                        page.write_boolean(row, col, *b).map_err(fail)?;
                    }
                }
            }
        }
        for (col, width) in &sheet.widths {
            page.set_column_width(*col, *width).map_err(fail)?;
        }
        if sheet.freeze_header {
            page.set_freeze_panes(1, 0).map_err(fail)?;
        }
    }
    out.save_to_buffer().map_err(fail)
}
