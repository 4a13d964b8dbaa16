//! How one layer's output for one sample is pictured, whatever its shape.
//!
//! - `[C, H, W]` with `H x W > 1` (convolutional feature maps): a grid of `C` channel maps
//!   sharing one colour scale, so channels can be compared.
//! - `[H, W]`: a single `H x W` map.
//! - anything else (dense layers, `[C, 1, 1]` pooled features, flattened vectors): a strip of
//!   one cell per unit, wrapped into rows of at most [`STRIP_ROW`] cells.
//!
//! The view keeps its layout so a pointer position maps back to the value under it.

use super::colormap::Colormap;
use super::raster::{channel_grid, strip, GridLayout, GridRange, Image, StripLayout};
use crate::error::{Error, Result};

/// Longest row of a strip, in cells.
pub const STRIP_ROW: usize = 64;

/// Where the cells of a view are.
#[derive(Debug, Clone, PartialEq)]
pub enum ViewLayout {
    /// Channel maps in a grid.
    Grid(GridLayout),
    /// Units in rows.
    Strip(StripLayout),
}

/// The value cell under a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    /// Channel (0 for strips and single maps).
    pub channel: usize,
    /// Row within the channel map (0 for strips).
    pub y: usize,
    /// Column within the channel map (the unit for strips).
    pub x: usize,
    /// Flat index of the value within the sample.
    pub index: usize,
}

/// A pictured layer output.
#[derive(Debug, Clone, PartialEq)]
pub struct View {
    /// RGBA pixels, one per value cell (plus gaps in grids).
    pub image: Image,
    /// Where each value is drawn.
    pub layout: ViewLayout,
    /// The value range the colours span.
    pub range: (f32, f32),
}

impl View {
    /// The cell drawn at pixel `(px, py)`, if any.
    pub fn locate(&self, px: usize, py: usize) -> Option<Cell> {
        match &self.layout {
            ViewLayout::Grid(grid) => grid.locate(px, py).map(|(channel, y, x)| Cell {
                channel,
                y,
                x,
                index: (channel * grid.tile_height() + y) * grid.tile_width() + x,
            }),
            ViewLayout::Strip(strip) => strip.locate(px, py).map(|unit| Cell {
                channel: 0,
                y: 0,
                x: unit,
                index: unit,
            }),
        }
    }
}

/// The colour range a caller gives as optional `min` and `max`: neither (`None`, the data's
/// own range), or both, finite, with `min <= max`.
pub fn fixed_range(min: Option<f32>, max: Option<f32>) -> Result<Option<(f32, f32)>> {
    match (min, max) {
        (None, None) => Ok(None),
        (Some(lo), Some(hi)) if lo.is_finite() && hi.is_finite() && lo <= hi => Ok(Some((lo, hi))),
        (lo, hi) => Err(Error::invalid(
            "heatmap range",
            format!("min and max must be given together, finite, with min <= max; got min {lo:?}, max {hi:?}"),
        )),
    }
}

/// Pictures `values`, one sample of per-sample shape `shape`, with `colormap` over `range`
/// (the data's own range when `None`; symmetric around zero for diverging colormaps).
///
/// ```
/// use nnlens::render::{view::{view, ViewLayout}, Colormap};
/// let v = view(&[0.0; 2 * 3 * 3], &[2, 3, 3], Colormap::Viridis, None).unwrap();
/// assert!(matches!(v.layout, ViewLayout::Grid(_)));
/// assert_eq!(v.locate(4, 1).unwrap().channel, 1);
/// ```
pub fn view(
    values: &[f32],
    shape: &[usize],
    colormap: Colormap,
    range: Option<(f32, f32)>,
) -> Result<View> {
    let len: usize = shape.iter().product();
    if len != values.len() || len == 0 {
        return Err(Error::shape(format!(
            "{} values cannot be pictured with shape {shape:?} ({len} values expected, at least one)",
            values.len()
        )));
    }
    let grid = |channels, height, width| -> Result<View> {
        let g = channel_grid(
            values,
            channels,
            height,
            width,
            colormap,
            GridRange::Shared(range),
        )?;
        Ok(View {
            image: g.image,
            layout: ViewLayout::Grid(g.layout),
            range: g.scales[0].range(),
        })
    };
    match *shape {
        [c, h, w] if h * w > 1 => grid(c, h, w),
        [h, w] if h > 1 && w > 1 => grid(1, h, w),
        _ => {
            let s = strip(values, len.min(STRIP_ROW), colormap, range)?;
            Ok(View {
                image: s.image,
                layout: ViewLayout::Strip(s.layout),
                range: s.scale.range(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fixed_range_is_both_ends_or_none() {
        assert_eq!(fixed_range(None, None).unwrap(), None);
        assert_eq!(
            fixed_range(Some(-1.0), Some(1.0)).unwrap(),
            Some((-1.0, 1.0))
        );
        assert_eq!(fixed_range(Some(2.0), Some(2.0)).unwrap(), Some((2.0, 2.0)));
        for (lo, hi) in [
            (Some(0.0), None),
            (None, Some(1.0)),
            (Some(1.0), Some(0.0)),
            (Some(f32::NAN), Some(1.0)),
            (Some(0.0), Some(f32::INFINITY)),
        ] {
            let err = fixed_range(lo, hi).unwrap_err().to_string();
            assert!(err.contains("min and max must be given together"), "{err}");
        }
    }

    #[test]
    fn shapes_choose_grid_or_strip() {
        let maps = view(&vec![1.0; 8 * 4 * 4], &[8, 4, 4], Colormap::Magma, None).unwrap();
        assert!(matches!(maps.layout, ViewLayout::Grid(_)));
        let pooled = view(&[1.0, 2.0, 3.0], &[3, 1, 1], Colormap::Magma, None).unwrap();
        assert!(matches!(pooled.layout, ViewLayout::Strip(_)));
        let long = view(&vec![0.5; 200], &[200], Colormap::Magma, None).unwrap();
        assert_eq!((long.image.width, long.image.height), (STRIP_ROW, 4));
        assert!(view(&[1.0; 5], &[2, 3], Colormap::Magma, None).is_err());
    }

    #[test]
    fn locate_maps_pixels_to_flat_indices() {
        let values: Vec<f32> = (0..2 * 3 * 4).map(|v| v as f32).collect();
        let v = view(&values, &[2, 3, 4], Colormap::Viridis, None).unwrap();
        let ViewLayout::Grid(grid) = &v.layout else {
            panic!("grid expected")
        };
        let (ox, oy) = grid.tile_origin(1).unwrap();
        let cell = v.locate(ox + 3, oy + 2).unwrap();
        assert_eq!((cell.channel, cell.y, cell.x), (1, 2, 3));
        assert_eq!(values[cell.index], 23.0);
        let s = view(&values, &[24], Colormap::Viridis, None).unwrap();
        assert_eq!(s.locate(5, 0).unwrap().index, 5);
        assert_eq!(s.range, (0.0, 23.0));
    }
}
