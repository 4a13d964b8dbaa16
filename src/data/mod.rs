//! Training data: the built-in 2-D tasks of TensorFlow Playground, its feature inputs, and the
//! user's own CSV.
//!
//! - [`playground`]: `circle`, `xor`, `gaussian`, `spiral` (classification) and
//!   `regressionPlane`, `regressionGaussian` (regression), generated as Playground's
//!   `src/dataset.ts` does (github.com/tensorflow/playground), seeded, shuffled and split.
//! - [`features`]: the inputs Playground offers for a point `(x1, x2)`: `x1`, `x2`, `x1²`, `x2²`,
//!   `x1·x2`, `sin x1`, `sin x2`.
//! - [`csv`]: a CSV file with a header row, numeric feature columns and one label or target
//!   column, every bad field reported by its line number.
//!
//! A dataset's rows are samples; inputs are row-major f32 (`rows × features`), labels are class
//! indices (`u32`) and regression targets f32 ([`Targets`]).

pub mod csv;
pub mod features;
pub mod playground;

use crate::names::named_enum;

named_enum! {
    /// What a dataset's targets are: class labels or real values.
    pub enum DataKind: "dataset kind" {
        /// Class labels `0..classes`.
        Classification = "classification",
        /// Real-valued targets.
        Regression = "regression",
    }
}

/// The targets of a dataset's rows, one per row.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Class indices (classification).
    Classes(Vec<u32>),
    /// Real values (regression).
    Values(Vec<f32>),
}

impl Targets {
    /// The kind of dataset these targets make.
    pub fn kind(&self) -> DataKind {
        match self {
            Targets::Classes(_) => DataKind::Classification,
            Targets::Values(_) => DataKind::Regression,
        }
    }

    /// The number of rows.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(labels) => labels.len(),
            Targets::Values(values) => values.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The class labels, `None` for regression.
    pub fn classes(&self) -> Option<&[u32]> {
        match self {
            Targets::Classes(labels) => Some(labels),
            Targets::Values(_) => None,
        }
    }

    /// The regression targets, `None` for classification.
    pub fn values(&self) -> Option<&[f32]> {
        match self {
            Targets::Classes(_) => None,
            Targets::Values(values) => Some(values),
        }
    }
}
