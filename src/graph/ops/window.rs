//! Sliding-window arithmetic along one spatial axis, shared by convolution and pooling.
//!
//! A window spanning `extent` cells (`d·(k − 1) + 1` for kernel size `k` and dilation `d`)
//! moves by `stride` over an axis of length `input` padded by `pad_begin` and `pad_end`. There
//! are `⌊(input + pad_begin + pad_end − extent) / stride⌋ + 1` positions ([`output_len`];
//! PyTorch `Conv2d`/`MaxPool2d` documentation, ONNX `Conv`/`MaxPool`), or the ceiling with
//! `ceil_mode`, where a last window starting in the end padding is dropped. Output position
//! `o` and kernel tap `t` read input index `o·stride + t·d − pad_begin` ([`AxisWindow`]).
//! Every hyper-parameter is at most [`MAX_WINDOW_PARAM`] ([`check_window_param`]), which keeps
//! these index computations exact in `i64`.

use crate::error::{Error, Result};
use crate::tensor::limits;
use std::ops::Range;

/// Largest kernel size, stride, dilation or padding accepted on any axis. Bounding them keeps
/// every index computation of convolution and pooling exact in `i64`.
pub(super) const MAX_WINDOW_PARAM: usize = limits::MAX_ELEMENTS;

/// Fails unless every value of `values` lies in `min..=MAX_WINDOW_PARAM`. `what` names the
/// hyper-parameter, e.g. `"conv2d stride"`.
pub(super) fn check_window_param(what: &str, values: &[usize], min: usize) -> Result<()> {
    if values.iter().any(|&v| v < min || v > MAX_WINDOW_PARAM) {
        return Err(Error::invalid(
            what,
            format!("expected every value between {min} and {MAX_WINDOW_PARAM}, got {values:?}"),
        ));
    }
    Ok(())
}

/// The number of window positions along one axis of length `input` padded by `pad_begin` and
/// `pad_end`, for a window spanning `extent` cells moved by `stride`; `None` when the window is
/// longer than the padded axis. Rounds down, or up with `ceil_mode`, in which case a last window
/// that would start in the end padding is dropped (PyTorch's rule, which ONNX adopted in
/// opset 19). Arguments must be at most [`MAX_WINDOW_PARAM`] (`extent` at most its square).
pub(super) fn output_len(
    input: usize,
    extent: u64,
    stride: usize,
    pad_begin: usize,
    pad_end: usize,
    ceil_mode: bool,
) -> Option<usize> {
    let padded = input as u64 + pad_begin as u64 + pad_end as u64;
    let span = padded.checked_sub(extent)?;
    let stride = stride as u64;
    let mut len = if ceil_mode {
        span.div_ceil(stride) + 1
    } else {
        span / stride + 1
    };
    if ceil_mode && (len - 1) * stride >= input as u64 + pad_begin as u64 {
        len -= 1;
    }
    usize::try_from(len).ok()
}

/// The sliding window of a convolution along one spatial axis: output position `o` and kernel
/// tap `t` read input index `o·stride + t·dilation − pad_begin`.
#[derive(Debug, Clone, Copy)]
pub(super) struct AxisWindow {
    pub(super) input: usize,
    pub(super) output: usize,
    pub(super) stride: usize,
    pub(super) dilation: usize,
    pub(super) pad_begin: usize,
}

impl AxisWindow {
    /// The input index tap `tap` reads at output position 0 (negative inside the padding).
    pub(super) fn offset(&self, tap: usize) -> i64 {
        tap as i64 * self.dilation as i64 - self.pad_begin as i64
    }

    /// The output positions at which tap `tap` reads inside the input, a contiguous range.
    pub(super) fn valid_outputs(&self, tap: usize) -> Range<usize> {
        let offset = self.offset(tap);
        let stride = self.stride as i64;
        // o·stride + offset >= 0  and  o·stride + offset <= input − 1.
        let first = if offset < 0 {
            (-offset + stride - 1) / stride
        } else {
            0
        };
        let last_index = self.input as i64 - 1 - offset;
        if last_index < 0 {
            return 0..0;
        }
        let end = (last_index / stride + 1).min(self.output as i64);
        let first = first.min(end);
        first as usize..end as usize
    }

    /// The input index tap `tap` reads at output position `o` (inside [`Self::valid_outputs`]).
    pub(super) fn input_index(&self, o: usize, tap: usize) -> usize {
        (o as i64 * self.stride as i64 + self.offset(tap)) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_len_follows_floor_and_ceil_rules() {
        // floor((5 - 2) / 2) + 1 = 2; ceil gives 3, the last window starting inside the input.
        assert_eq!(output_len(5, 2, 2, 0, 0, false), Some(2));
        assert_eq!(output_len(5, 2, 2, 0, 0, true), Some(3));
        // Input 6 padded 1 + 1, kernel 3, stride 2: floor(5 / 2) + 1 = 3; ceil gives 4, and the
        // last window starts at 3·2 − 1 = 5, inside the input, so it is kept.
        assert_eq!(output_len(6, 3, 2, 1, 1, false), Some(3));
        assert_eq!(output_len(6, 3, 2, 1, 1, true), Some(4));
        // Input 4, pads 1 + 1, kernel 2, stride 3: ceil(4 / 3) + 1 = 3, but window 2 would start
        // at 2·3 − 1 = 5 = input + pad_begin, in the end padding, so it is dropped.
        assert_eq!(output_len(4, 2, 3, 1, 1, true), Some(2));
        assert_eq!(output_len(3, 4, 1, 0, 0, false), None);
    }

    /// Every tap's valid outputs are exactly the positions whose input index lies inside the
    /// input, and `input_index` is that index (brute force over small axes).
    #[test]
    fn axis_window_reads_inside_the_input_exactly_where_the_definition_does() {
        for input in 1..7 {
            for stride in 1..4 {
                for dilation in 1..4 {
                    for pad_begin in 0..3 {
                        let extent = 2 * dilation as u64 + 1; // kernel size 3
                        let Some(output) = output_len(input, extent, stride, pad_begin, 1, false)
                        else {
                            continue;
                        };
                        let axis = AxisWindow {
                            input,
                            output,
                            stride,
                            dilation,
                            pad_begin,
                        };
                        for tap in 0..3 {
                            let index =
                                |o: usize| (o * stride + tap * dilation) as i64 - pad_begin as i64;
                            let inside: Vec<usize> = (0..output)
                                .filter(|&o| (0..input as i64).contains(&index(o)))
                                .collect();
                            let valid: Vec<usize> = axis.valid_outputs(tap).collect();
                            assert_eq!(valid, inside, "{axis:?} tap {tap}");
                            for o in valid {
                                assert_eq!(axis.input_index(o, tap) as i64, index(o));
                            }
                        }
                    }
                }
            }
        }
    }
}
