//! Reshape targets: the sizes a reshape asks for, resolved against the sizes of its input.
//!
//! The rule is ONNX `Reshape`'s (<https://onnx.ai/onnx/operators/onnx__Reshape.html>): one
//! size may be `-1`, inferred so that the element count is kept; a `0` copies the input's size
//! at the same index, or is a size of 0 when `allowzero` is set; other negative sizes are
//! refused; and the result must hold as many elements as the input.
//!
//! The ONNX importer resolves reshapes of constants with it, and of run-time values around its
//! rule that the batch stays first (the target after the batch, against one sample); the nnlens
//! JSON `reshape` layer resolves its per-sample `shape` with it. The resolved shape is what
//! [`super::shape::Reshape`] holds.

use crate::error::{Error, Result};

/// Resolves `target` against an input of shape `input`: the shape with `-1` inferred and each
/// `0` copied from `input` (unless `allowzero`).
///
/// Fails with [`Error::Shape`], naming both shapes and the element count, when `-1` appears
/// twice, a size is negative otherwise, a `0` has no input size to copy, the sizes overflow, or
/// the element counts cannot match.
pub fn resolve(input: &[usize], target: &[i64], allowzero: bool) -> Result<Vec<usize>> {
    let count: usize = input.iter().product();
    let fail = |why: String| {
        Error::shape(format!(
            "cannot reshape {input:?} ({count} values) to {target:?}: {why}"
        ))
    };
    let mut out = Vec::with_capacity(target.len());
    let mut inferred = None;
    for (i, &size) in target.iter().enumerate() {
        let resolved = match size {
            -1 => {
                if inferred.replace(i).is_some() {
                    return Err(fail("more than one dimension is -1".into()));
                }
                1
            }
            0 if !allowzero => *input.get(i).ok_or_else(|| {
                fail(format!(
                    "dimension {i} is 0 (copy) but the input has no such dimension"
                ))
            })?,
            v if v < 0 => {
                return Err(fail(format!(
                    "dimension {i} is {v}; the only negative size is -1 (inferred)"
                )))
            }
            v => {
                usize::try_from(v).map_err(|_| fail(format!("dimension {i} ({v}) is too large")))?
            }
        };
        out.push(resolved);
    }
    let known = out
        .iter()
        .enumerate()
        .filter(|&(i, _)| Some(i) != inferred)
        .try_fold(1usize, |acc, (_, &d)| acc.checked_mul(d))
        .ok_or_else(|| fail("the dimensions overflow".into()))?;
    match inferred {
        Some(i) => {
            if known == 0 || count % known != 0 {
                return Err(fail(format!(
                    "{count} values do not divide into dimensions of {known}, so -1 cannot be \
                     inferred"
                )));
            }
            out[i] = count / known;
        }
        None if known != count => {
            return Err(fail(format!(
                "the target holds {known} values; the element counts must match"
            )))
        }
        None => {}
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(input: &[usize], target: &[i64], allowzero: bool) -> String {
        resolve(input, target, allowzero).unwrap_err().to_string()
    }

    #[test]
    fn infers_minus_one_and_copies_zeros() {
        assert_eq!(resolve(&[2, 3, 4], &[-1, 4], false).unwrap(), [6, 4]);
        assert_eq!(resolve(&[2, 3, 4], &[0, -1], false).unwrap(), [2, 12]);
        assert_eq!(
            resolve(&[2, 3], &[0, 0, -1, 1], false).unwrap(),
            [2, 3, 1, 1]
        );
        assert_eq!(resolve(&[6], &[2, 3], false).unwrap(), [2, 3]);
        assert_eq!(resolve(&[1, 1], &[], false).unwrap(), Vec::<usize>::new());
    }

    #[test]
    fn allowzero_makes_zero_a_size() {
        let e = message(&[6], &[0, 6], true);
        assert!(e.contains("cannot reshape [6] (6 values) to [0, 6]"), "{e}");
        assert!(e.contains("the target holds 0 values"), "{e}");
        let e = message(&[6], &[0, -1], true);
        assert!(e.contains("-1 cannot be inferred"), "{e}");
    }

    #[test]
    fn refusals_name_the_shapes_and_the_reason() {
        let cases: [(&[usize], &[i64], &str); 6] = [
            (&[2, 3], &[-1, -1], "more than one dimension is -1"),
            (&[2, 3], &[-2, 3], "dimension 0 is -2"),
            (
                &[6],
                &[2, 0],
                "dimension 1 is 0 (copy) but the input has no such dimension",
            ),
            (
                &[6],
                &[4, -1],
                "6 values do not divide into dimensions of 4",
            ),
            (&[6], &[4], "the target holds 4 values"),
            (&[6], &[i64::MAX, i64::MAX], "overflow"),
        ];
        for (input, target, expect) in cases {
            let e = message(input, target, false);
            assert!(
                e.contains(&format!("cannot reshape {input:?}")) && e.contains(expect),
                "expected '{expect}' in: {e}"
            );
        }
    }
}
