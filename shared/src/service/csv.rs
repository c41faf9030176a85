//! CSV exports for accountants (RFC 4180): a documented header row, every field quoted when it
//! needs to be, and cells that a spreadsheet would read as a formula neutralised (OWASP's CSV
//! injection advice: a leading `=`, `+`, `-` or `@` gets a `'` in front).

use super::pagination::ListParams;
use crate::error::ApiError;

/// Whether a list answers CSV: `format=csv` or `Accept: text/csv` (`format=json` forces JSON).
pub fn wants_csv(params: &ListParams<'_>, accept: Option<&str>) -> Result<bool, ApiError> {
    match params.get("format") {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(ApiError::invalid_parameter("format", format!("Unknown format {other:?}: use csv or json."))),
        None => Ok(accept
            .is_some_and(|accept| accept.split(',').any(|range| range.split(';').next().is_some_and(|media| media.trim().eq_ignore_ascii_case("text/csv"))))),
    }
}

/// Builds a CSV document row by row.
pub struct CsvWriter {
    out: String,
}

impl CsvWriter {
    pub fn new(header: &[&str]) -> CsvWriter {
        let mut writer = CsvWriter { out: String::new() };
        writer.row(header);
        writer
    }

    pub fn row<S: AsRef<str>>(&mut self, cells: &[S]) {
        for (position, cell) in cells.iter().enumerate() {
            if position > 0 {
                self.out.push(',');
            }
            self.out.push_str(&field(cell.as_ref()));
        }
        self.out.push_str("\r\n");
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// One field: neutralised if it could start a formula, quoted if it holds a comma, a quote, a
/// line break or the neutralising quote.
///
/// A negative amount (`-0.05`) is a number, not a formula: it is written as is, so a spreadsheet
/// still adds it up. Anything else starting with `-` is neutralised.
fn field(text: &str) -> String {
    let is_number = text.parse::<rust_decimal::Decimal>().is_ok();
    let risky = !is_number && text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let text = if risky { format!("'{text}") } else { text.to_owned() };
    if text.contains([',', '"', '\n', '\r']) || risky { format!("\"{}\"", text.replace('"', "\"\"")) } else { text }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_neutralised() {
        let mut writer = CsvWriter::new(&["a", "b", "c", "d", "e"]);
        writer.row(&["plain", "with, comma", "say \"hi\"", "=HYPERLINK(\"x\")", "-0.05"]);
        writer.row(&["@SUM(A1)", "+1+2", "-cmd", "line\nbreak", "499.95"]);
        assert_eq!(
            writer.finish(),
            "a,b,c,d,e\r\nplain,\"with, comma\",\"say \"\"hi\"\"\",\"'=HYPERLINK(\"\"x\"\")\",-0.05\r\n\"'@SUM(A1)\",\"'+1+2\",\"'-cmd\",\"line\nbreak\",499.95\r\n"
        );
    }
}
