//! The user's own dataset as CSV text (RFC 4180, read by the `csv` crate): a header row of
//! column names, then one row per sample. One column is the target (the last by default, or
//! the one named); every other column is a numeric feature.
//!
//! - Fields are separated by commas; a field in double quotes may hold commas, line breaks and
//!   `""` for a quote (RFC 4180). Lines end with `\n` or `\r\n`. Spaces around every field and
//!   column name are trimmed (inside quotes too); a byte-order mark before the header is ignored.
//! - Line numbers count `\n` from 1, the header being line 1; a row spanning several lines (a
//!   quoted line break) is reported at its first line.
//! - Nothing is skipped silently: an empty line before the header or between rows is an error;
//!   empty lines are allowed only after the last row (e.g. a trailing newline).
//! - Features must be finite numbers (as Rust's `f32` parser reads them: `1`, `-2.5`, `3e-2`);
//!   the inputs are `rows × features` row-major f32, in the columns' order.
//! - The kind is classification when every target value is a whole number ≥ 0 or not a number
//!   at all, regression otherwise (or as chosen). Classes: when every target value is a whole
//!   number ≥ 0, the class is that number and the class names are `"0"` to the largest;
//!   otherwise the class names are the distinct values sorted (by Unicode code points) and a
//!   row's class is its value's position. Regression targets must be finite numbers.
//! - Limits: `MAX_DATA_ROWS` rows, `MAX_DATA_COLUMNS` columns, `MAX_ELEMENTS` feature values,
//!   `MAX_CLASSES` classes ([`crate::tensor::limits`]).
//!
//! Every error names its line and, for a field, its column.

use super::{DataKind, Targets};
use crate::error::{Error, Result};
use crate::tensor::limits;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Display;

/// Options of [`parse_csv`].
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct CsvOptions {
    /// The target column's name. Default: the last column.
    pub target: Option<String>,
    /// Classification or regression. Default: classification when every target value is a
    /// whole number ≥ 0 or not a number at all, else regression.
    pub kind: Option<DataKind>,
}

/// A dataset read from CSV.
#[derive(Debug, Clone, PartialEq)]
pub struct CsvDataset {
    /// Every column name, in the header's order.
    pub columns: Vec<String>,
    /// The feature columns (every column but the target), in order.
    pub features: Vec<String>,
    /// The target column.
    pub target: String,
    /// The data rows.
    pub rows: usize,
    /// `rows × features.len()` row-major feature values.
    pub inputs: Vec<f32>,
    /// One class or value per row.
    pub targets: Targets,
    /// The name of each class (classification only).
    pub class_names: Option<Vec<String>>,
}

impl CsvDataset {
    /// Whether the targets are classes or values.
    pub fn kind(&self) -> DataKind {
        self.targets.kind()
    }
}

/// An error about the CSV text.
fn csv_error(message: impl Display) -> Error {
    Error::invalid("CSV", message)
}

/// An error about one field.
fn field_error(line: u64, column: &str, message: impl Display) -> Error {
    csv_error(format!("line {line}, column '{column}': {message}"))
}

/// A target value that is a whole number ≥ 0 (and fits `u32`), as that number.
fn whole_number(value: &str) -> Option<u32> {
    let number: f64 = value.parse().ok()?;
    let whole = number.is_finite() && number >= 0.0 && number.fract() == 0.0;
    (whole && number <= f64::from(u32::MAX)).then_some(number as u32)
}

/// Whether a target value reads as a finite number.
fn is_number(value: &str) -> bool {
    value.parse::<f64>().is_ok_and(f64::is_finite)
}

/// A feature or regression value: a finite f32.
fn finite(value: &str, line: u64, column: &str) -> Result<f32> {
    match value.parse::<f32>() {
        Ok(number) if number.is_finite() => Ok(number),
        Ok(_) => Err(field_error(
            line,
            column,
            format!("'{value}' is not a finite number"),
        )),
        Err(_) => Err(field_error(
            line,
            column,
            format!("'{value}' is not a number"),
        )),
    }
}

/// Reads records with their true first line. The `csv` crate skips empty lines, places a record
/// after them at the first skipped line, and ends a record at the `\r` of a `\r\n`, so a
/// record's text may start with line breaks: the `\n` completing the previous record's `\r\n`,
/// then one per empty line, which is an error here.
struct Records<'a> {
    text: &'a str,
    reader: ::csv::Reader<&'a [u8]>,
    record: ::csv::StringRecord,
}

impl<'a> Records<'a> {
    fn new(text: &'a str) -> Self {
        let reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .trim(::csv::Trim::All)
            .from_reader(text.as_bytes());
        Records {
            text,
            reader,
            record: ::csv::StringRecord::new(),
        }
    }

    /// The next record and its first line, `None` after the last.
    fn next(&mut self) -> Result<Option<u64>> {
        let start = self.reader.position().clone();
        if !self
            .reader
            .read_record(&mut self.record)
            .map_err(csv_error)?
        {
            return Ok(None);
        }
        let (byte, mut line) = (start.byte() as usize, start.line());
        let bytes = self.text.as_bytes();
        let mut breaks = bytes[byte..]
            .iter()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .peekable();
        if byte > 0 && bytes[byte - 1] == b'\r' && breaks.next_if(|&&b| b == b'\n').is_some() {
            line += 1;
        }
        if breaks.next().is_some() {
            return Err(csv_error(format!(
                "line {line} is empty; empty lines are allowed only after the last row"
            )));
        }
        Ok(Some(line))
    }
}

/// The header's column names, checked: at least 2, at most `MAX_DATA_COLUMNS`, none empty,
/// no two equal.
fn columns(record: &::csv::StringRecord) -> Result<Vec<String>> {
    let columns: Vec<String> = record.iter().map(str::to_string).collect();
    if columns.len() < 2 {
        return Err(csv_error(format!(
            "line 1: the header has {} column ('{}'); expected at least 2 (features and a target)",
            columns.len(),
            columns.join(", ")
        )));
    }
    if columns.len() > limits::MAX_DATA_COLUMNS {
        return Err(csv_error(format!(
            "line 1: the header has {} columns, more than the limit of {}",
            columns.len(),
            limits::MAX_DATA_COLUMNS
        )));
    }
    let mut seen = HashMap::new();
    for (index, name) in columns.iter().enumerate() {
        if name.is_empty() {
            return Err(csv_error(format!(
                "line 1, column {}: the column name is empty",
                index + 1
            )));
        }
        if let Some(first) = seen.insert(name.as_str(), index) {
            return Err(csv_error(format!(
                "line 1, column {}: the column name '{name}' is also column {}",
                index + 1,
                first + 1
            )));
        }
    }
    Ok(columns)
}

/// Reads CSV text into a dataset (see the module documentation for the format and the rules).
pub fn parse_csv(text: &str, options: &CsvOptions) -> Result<CsvDataset> {
    let mut records = Records::new(text);
    if records.next()?.is_none() {
        return Err(csv_error(
            "the text is empty; expected a header row of column names",
        ));
    }
    let columns = columns(&records.record)?;
    let target_index = match &options.target {
        None => columns.len() - 1,
        Some(name) => columns.iter().position(|c| c == name).ok_or_else(|| {
            csv_error(format!(
                "line 1: there is no column '{name}'; the columns are: {}",
                columns.join(", ")
            ))
        })?,
    };
    let target = columns[target_index].clone();
    let features: Vec<String> = columns
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != target_index)
        .map(|(_, c)| c.clone())
        .collect();

    let mut inputs = Vec::new();
    let mut target_values: Vec<(u64, String)> = Vec::new();
    while let Some(line) = records.next()? {
        let record = &records.record;
        if record.len() != columns.len() {
            return Err(csv_error(format!(
                "line {line}: {} fields, expected {} (the header's columns: {})",
                record.len(),
                columns.len(),
                columns.join(", ")
            )));
        }
        if target_values.len() == limits::MAX_DATA_ROWS {
            return Err(csv_error(format!(
                "line {line}: more than {} data rows, the limit",
                limits::MAX_DATA_ROWS
            )));
        }
        if inputs.len() + features.len() > limits::MAX_ELEMENTS {
            return Err(csv_error(format!(
                "line {line}: more than {} feature values, the limit",
                limits::MAX_ELEMENTS
            )));
        }
        for (index, (value, column)) in record.iter().zip(&columns).enumerate() {
            if index == target_index {
                target_values.push((line, value.to_string()));
            } else {
                inputs.push(finite(value, line, column)?);
            }
        }
    }
    if target_values.is_empty() {
        return Err(csv_error(
            "no data rows: the text has only the header (line 1)",
        ));
    }

    let kind = options.kind.unwrap_or_else(|| {
        let classes = target_values
            .iter()
            .all(|(_, v)| whole_number(v).is_some() || !is_number(v));
        if classes {
            DataKind::Classification
        } else {
            DataKind::Regression
        }
    });
    let (targets, class_names) = match kind {
        DataKind::Regression => {
            let values = target_values
                .iter()
                .map(|(line, value)| finite(value, *line, &target))
                .collect::<Result<Vec<f32>>>()?;
            (Targets::Values(values), None)
        }
        DataKind::Classification => {
            let (labels, names) = classes(&target_values, &target)?;
            (Targets::Classes(labels), Some(names))
        }
    };
    Ok(CsvDataset {
        columns,
        features,
        target,
        rows: target_values.len(),
        inputs,
        targets,
        class_names,
    })
}

/// The class of each target value and the class names (see the module documentation).
fn classes(values: &[(u64, String)], column: &str) -> Result<(Vec<u32>, Vec<String>)> {
    if let Some((line, _)) = values.iter().find(|(_, v)| v.is_empty()) {
        return Err(field_error(*line, column, "the target is empty"));
    }
    let numbers: Option<Vec<u32>> = values.iter().map(|(_, v)| whole_number(v)).collect();
    if let Some(numbers) = numbers {
        let too_large = numbers
            .iter()
            .zip(values)
            .find(|(&n, _)| n as usize >= limits::MAX_CLASSES);
        if let Some((&class, (line, _))) = too_large {
            return Err(field_error(
                *line,
                column,
                format!(
                    "class {class} is beyond the limit of {} classes (0..={})",
                    limits::MAX_CLASSES,
                    limits::MAX_CLASSES - 1
                ),
            ));
        }
        let count = numbers.iter().max().map_or(0, |&m| m + 1);
        let names = (0..count).map(|c| c.to_string()).collect();
        return Ok((numbers, names));
    }
    // Each distinct value with the rows holding it, in sorted order.
    let mut rows_of: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (row, (line, value)) in values.iter().enumerate() {
        let classes = rows_of.len() + usize::from(!rows_of.contains_key(value.as_str()));
        if classes > limits::MAX_CLASSES {
            return Err(field_error(
                *line,
                column,
                format!(
                    "'{value}' is class {}, beyond the limit of {} classes",
                    classes,
                    limits::MAX_CLASSES
                ),
            ));
        }
        rows_of.entry(value).or_default().push(row);
    }
    let mut labels = vec![0; values.len()];
    for (class, rows) in rows_of.values().enumerate() {
        for &row in rows {
            labels[row] = class as u32;
        }
    }
    let names = rows_of.keys().map(|name| name.to_string()).collect();
    Ok((labels, names))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CsvDataset> {
        parse_csv(text, &CsvOptions::default())
    }

    fn with(text: &str, target: Option<&str>, kind: Option<DataKind>) -> Result<CsvDataset> {
        let options = CsvOptions {
            target: target.map(str::to_string),
            kind,
        };
        parse_csv(text, &options)
    }

    fn error(result: Result<CsvDataset>) -> String {
        result.unwrap_err().to_string()
    }

    #[test]
    fn whole_number_targets_are_classes_by_number() {
        let data = parse("x1,x2,label\n1,2,0\n-3.5,4e1,2\n0.25, 7 ,1\n").unwrap();
        assert_eq!(data.columns, ["x1", "x2", "label"]);
        assert_eq!(data.features, ["x1", "x2"]);
        assert_eq!(data.target, "label");
        assert_eq!(data.rows, 3);
        assert_eq!(data.kind(), DataKind::Classification);
        assert_eq!(data.inputs, [1.0, 2.0, -3.5, 40.0, 0.25, 7.0]);
        assert_eq!(data.targets, Targets::Classes(vec![0, 2, 1]));
        assert_eq!(data.class_names.unwrap(), ["0", "1", "2"]);
        // Classes absent from the file still have names up to the largest.
        let data = parse("a,b\n1,3\n2,1.0").unwrap();
        assert_eq!(data.targets, Targets::Classes(vec![3, 1]));
        assert_eq!(data.class_names.unwrap(), ["0", "1", "2", "3"]);
    }

    #[test]
    fn string_targets_are_classes_in_sorted_order() {
        let data =
            parse("w,h,species\n1,2,versicolor\n3,4,\" setosa \"\n5,6,versicolor\n7,8,7").unwrap();
        assert_eq!(data.targets, Targets::Classes(vec![2, 1, 2, 0]));
        assert_eq!(data.class_names.unwrap(), ["7", "setosa", "versicolor"]);
    }

    #[test]
    fn fractional_or_negative_targets_are_regression() {
        let data = parse("x,y\n1,0.5\n2,-1\n3,2").unwrap();
        assert_eq!(data.kind(), DataKind::Regression);
        assert_eq!(data.targets, Targets::Values(vec![0.5, -1.0, 2.0]));
        assert_eq!(data.class_names, None);
        // Chosen explicitly, whole numbers are regression targets and numbers strings of classes.
        let data = with("x,y\n1,1\n2,3", None, Some(DataKind::Regression)).unwrap();
        assert_eq!(data.targets, Targets::Values(vec![1.0, 3.0]));
        let data = with("x,y\n1,-1\n2,1\n3,-1", None, Some(DataKind::Classification)).unwrap();
        assert_eq!(data.targets, Targets::Classes(vec![0, 1, 0]));
        assert_eq!(data.class_names.unwrap(), ["-1", "1"]);
    }

    #[test]
    fn the_target_can_be_any_column() {
        let data = with("label,x1,x2\ncat,1,2\ndog,3,4", Some("label"), None).unwrap();
        assert_eq!(data.features, ["x1", "x2"]);
        assert_eq!(data.inputs, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(data.targets, Targets::Classes(vec![0, 1]));
        let data = with("a,b,c\n1,2,3", Some("b"), None).unwrap();
        assert_eq!(data.features, ["a", "c"]);
        assert_eq!(data.inputs, [1.0, 3.0]);
        assert_eq!(data.targets, Targets::Classes(vec![2]));
    }

    #[test]
    fn quoted_fields_crlf_and_trailing_empty_lines_are_read() {
        let text =
            "\"x, first\",\"y\"\"\",\"class\"\r\n\"1\",2,\"a,\r\nb\"\r\n 3 , 4 , c \r\n\r\n\n";
        let data = parse(text).unwrap();
        assert_eq!(data.columns, ["x, first", "y\"", "class"]);
        assert_eq!(data.inputs, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(data.class_names.unwrap(), ["a,\r\nb", "c"]);
        let data = parse("\u{feff}x,y\n1,2").unwrap();
        assert_eq!(data.columns, ["x", "y"]);
        // A quoted line break moves the following lines on: the error is at line 4.
        let err = error(parse("x,y\n1,\"a\nb\"\n2,c\nz,d"));
        assert_eq!(err, "invalid CSV: line 5, column 'x': 'z' is not a number");
    }

    #[test]
    fn every_bad_file_is_an_error_naming_its_line() {
        let cases = [
            ("", "invalid CSV: the text is empty; expected a header row of column names"),
            ("\n\n", "invalid CSV: the text is empty; expected a header row of column names"),
            ("\nx,y\n1,2", "invalid CSV: line 1 is empty; empty lines are allowed only after the last row"),
            ("x,y\r\n1,2\r\nq,4\r\n", "invalid CSV: line 3, column 'x': 'q' is not a number"),
            ("x,y\n1,2\n\n3,4", "invalid CSV: line 3 is empty; empty lines are allowed only after the last row"),
            ("x,y\r\n1,2\r\n\r\n3,4\r\n", "invalid CSV: line 3 is empty; empty lines are allowed only after the last row"),
            ("x\n1\n", "invalid CSV: line 1: the header has 1 column ('x'); expected at least 2 (features and a target)"),
            ("x,,y\n1,2,3", "invalid CSV: line 1, column 2: the column name is empty"),
            ("x,y, x\n1,2,3", "invalid CSV: line 1, column 3: the column name 'x' is also column 1"),
            ("x,y\n", "invalid CSV: no data rows: the text has only the header (line 1)"),
            ("x,y\n1,2\n3\n", "invalid CSV: line 3: 1 fields, expected 2 (the header's columns: x, y)"),
            ("x,y\n1,2\n3,4,5\n", "invalid CSV: line 3: 3 fields, expected 2 (the header's columns: x, y)"),
            ("x,y\n1,2\n  \n", "invalid CSV: line 3: 1 fields, expected 2 (the header's columns: x, y)"),
            ("x1,x2,c\n1,2,0\n1,2,0\n1,2,0\n1,2,0\n1,2,0\n1,abc,0", "invalid CSV: line 7, column 'x2': 'abc' is not a number"),
            ("x,y\n,1", "invalid CSV: line 2, column 'x': '' is not a number"),
            ("x,y\nNaN,1", "invalid CSV: line 2, column 'x': 'NaN' is not a finite number"),
            ("x,y\n1e39,1", "invalid CSV: line 2, column 'x': '1e39' is not a finite number"),
            ("x,y\n1,0.5\n2,big", "invalid CSV: line 3, column 'y': 'big' is not a number"),
            ("x,y\n1,cat\n2,", "invalid CSV: line 3, column 'y': the target is empty"),
            ("x,y\n1,0\n2,1024", "invalid CSV: line 3, column 'y': class 1024 is beyond the limit of 1024 classes (0..=1023)"),
        ];
        for (text, message) in cases {
            assert_eq!(error(parse(text)), message, "{text:?}");
        }
        let err = error(with("a,b\n1,2", Some("c"), None));
        assert_eq!(
            err,
            "invalid CSV: line 1: there is no column 'c'; the columns are: a, b"
        );
        let err = error(with("a,b\n1,2\n3,x", None, Some(DataKind::Regression)));
        assert_eq!(err, "invalid CSV: line 3, column 'b': 'x' is not a number");
    }

    #[test]
    fn the_size_limits_are_errors() {
        let header: Vec<String> = (0..=limits::MAX_DATA_COLUMNS)
            .map(|i| format!("c{i}"))
            .collect();
        let err = error(parse(&header.join(",")));
        assert_eq!(
            err,
            format!(
                "invalid CSV: line 1: the header has {} columns, more than the limit of {}",
                limits::MAX_DATA_COLUMNS + 1,
                limits::MAX_DATA_COLUMNS
            )
        );
        let mut text = String::from("x,y\n");
        for i in 0..=limits::MAX_CLASSES {
            text.push_str(&format!("1,class{i}\n"));
        }
        let err = error(parse(&text));
        assert_eq!(err, format!("invalid CSV: line {}, column 'y': 'class{}' is class {}, beyond the limit of {} classes", limits::MAX_CLASSES + 2, limits::MAX_CLASSES, limits::MAX_CLASSES + 1, limits::MAX_CLASSES));
        let mut text = String::from("x,y\n");
        text.push_str(&"1,0\n".repeat(limits::MAX_DATA_ROWS + 1));
        let err = error(parse(&text));
        assert_eq!(
            err,
            format!(
                "invalid CSV: line {}: more than {} data rows, the limit",
                limits::MAX_DATA_ROWS + 2,
                limits::MAX_DATA_ROWS
            )
        );
    }
}
